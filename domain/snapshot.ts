// The configuration a deployment pins: canonical JSON and its sha256 digest.
import { createHash } from 'node:crypto';
import type { ConfigSnapshot, DatabaseValueSnapshot, EnvironmentSettings } from './types.ts';

/** JSON with object keys sorted at every level and no whitespace: one text per value. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value ?? null);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

export const sha256Hex = (text: string) => createHash('sha256').update(text).digest('hex');

export interface SnapshotContent {
  settingsVersion: number;
  settings: EnvironmentSettings;
  databases: Record<string, DatabaseValueSnapshot>;
  secretVersions: Record<string, string | null>;
}

/** The snapshot of `content` taken at `takenAt`; the digest covers every field but itself. */
export function buildSnapshot(content: SnapshotContent, takenAt: Date): ConfigSnapshot {
  const body = { ...content, takenAt: takenAt.toISOString() };
  return { digest: sha256Hex(canonicalJson(body)), ...body };
}

/** Whether two snapshots pin the same configuration (whenever each was taken). */
export function sameConfiguration(a: SnapshotContent, b: SnapshotContent): boolean {
  const strip = ({ settings, databases, secretVersions }: SnapshotContent) => canonicalJson({ settings, databases, secretVersions });
  return strip(a) === strip(b);
}
