// Shared pieces of the benchmarks: a real PostgreSQL database, a local Temporal, Stageplane as a
// child process, percentiles and result files.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { startLocalTemporal, type LocalTemporal } from '../server/temporal.ts';
import { createTestDatabase } from '../test/support/database.ts';
import { spawnStageplane, type StageplaneProcess } from '../test/support/process.ts';
import { gqlAt, jwtFor } from '../test/support/client.ts';

export const JWT_SECRET = 'bench-secret-0123456789-0123456789-abcdef';
export { gqlAt, jwtFor };

export interface Rig {
  temporal: LocalTemporal;
  db: { url: string; drop(): Promise<void> };
  api: StageplaneProcess;
  admin: string;
  close(): Promise<void>;
}

/** PostgreSQL database + local Temporal + `tsx server/main.ts all` as a child process. */
export async function startRig(extraEnv: Record<string, string> = {}, adminUrl?: string): Promise<Rig> {
  const dataDir = mkdtempSync(join(tmpdir(), 'stageplane-bench-'));
  const temporal = await startLocalTemporal({ dataDir, namespace: 'default', log: pino({ level: 'warn' }) });
  const db = await createTestDatabase(adminUrl);
  const api = await spawnStageplane('all', {
    DATABASE_URL: db.url,
    DATA_DIR: dataDir,
    JWT_SECRET,
    TEMPORAL_ADDRESS: temporal.address,
    LOG_LEVEL: 'warn',
    ...extraEnv,
  });
  const admin = await jwtFor(JWT_SECRET, 'bench', ['ADMIN', 'DEVELOPER', 'QA']);
  return {
    temporal,
    db,
    api,
    admin,
    async close() {
      await api.stop();
      await temporal.stop();
      await db.drop();
    },
  };
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

/** The median of unsorted numbers (the mean of the middle two for an even count). */
export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export function writeResult(name: string, result: unknown) {
  const dir = join(import.meta.dirname, 'results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${name}.json`);
  writeFileSync(file, JSON.stringify({ at: new Date().toISOString(), ...(result as object) }, null, 2) + '\n');
  console.log(`\nwrote ${file}`);
}

/** The value of one Prometheus counter from a /metrics text. */
export async function counter(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  return line ? Number(line.split(' ').pop()) : 0;
}

export interface Verdict {
  target: string;
  /** What was measured, next to the target (a ratio, a count, seconds). */
  measured: string;
  /** null: shown for information, no target. */
  met: boolean | null;
}

/** Prints each target with what was measured and met/missed (the table `npm run bench` ends each script with). */
export function printVerdicts(bench: string, verdicts: Verdict[]) {
  console.log(`\n${bench}: targets`);
  for (const v of verdicts)
    console.log(`  ${v.met === null ? 'info  ' : v.met ? 'met   ' : 'MISSED'}  ${v.target.padEnd(52)} measured ${v.measured}`);
}
