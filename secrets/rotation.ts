// Writing a secret's value in one environment: set by someone (setSecretValue) or rotated, now
// (rotateSecret) or on schedule (services/secret-rotation.ts). Both paths go through the
// functions here, so the rules live once:
// - the metadata row `secret_values` and the store's new version are written in one transaction
//   (the local store's ciphertext commits or rolls back with it; an AWS version written by a
//   transaction that rolls back is never referred to);
// - a rotation never happens in a frozen environment or while one of its deployments is RUNNING;
// - nextRotationAt is the write time plus rotationDays while rotation is enabled, else null.
// Nothing here logs, audits or returns a value: audit details carry names and version ids only.
import { and, eq } from 'drizzle-orm';
import type { AuditEntry } from '../db/audit.ts';
import type { Transaction } from '../db/client.ts';
import { enqueueNotifications } from '../db/notification-outbox.ts';
import {
  deployments,
  environments,
  projects,
  secrets,
  secretValues,
  type EnvironmentRow,
  type SecretRow,
  type SecretValueRow,
} from '../db/schema/index.ts';
import { generateSecretValue, type SecretRef, type SecretStore } from './store.ts';

/** The actor of scheduled rotations in the audit log and in `updatedBy`. */
export const SYSTEM_ACTOR = 'system';

const DAY_MS = 86_400_000;

/** One secret in one environment, locked for a write (see lockSecretValueTarget). */
export interface SecretValueTarget {
  secret: SecretRow;
  environment: EnvironmentRow;
  projectSlug: string;
  /** The current metadata, or null when no value is set there. */
  current: SecretValueRow | null;
}

export function secretRefOf(target: Pick<SecretValueTarget, 'secret' | 'environment' | 'projectSlug'>): SecretRef {
  return {
    projectId: target.secret.projectId,
    projectSlug: target.projectSlug,
    environmentId: target.environment.id,
    environmentSlug: target.environment.slug,
    secretId: target.secret.id,
    secretName: target.secret.name,
  };
}

/**
 * Loads and locks what a write needs, in this order: the secret row FOR SHARE (a concurrent
 * deleteSecret or updateSecret waits for this write, and this write sees settled rotation
 * settings), the environment row FOR UPDATE (the row deployments lock to become RUNNING, so "no
 * deployment is RUNNING" stays true until commit), then the metadata row FOR UPDATE. Returns
 * which part is missing instead when the secret, or the environment in its project, does not exist.
 */
export async function lockSecretValueTarget(
  tx: Transaction,
  where: { secretId: string; environmentSlug: string } | { secretId: string; environmentId: string },
): Promise<SecretValueTarget | { missing: 'secret' } | { missing: 'environment'; projectId: string }> {
  const [found] = await tx
    .select({ secret: secrets, projectSlug: projects.slug })
    .from(secrets)
    .innerJoin(projects, eq(projects.id, secrets.projectId))
    .where(eq(secrets.id, where.secretId))
    .for('share', { of: secrets });
  if (!found) return { missing: 'secret' };
  const [environment] = await tx
    .select()
    .from(environments)
    .where(
      and(
        eq(environments.projectId, found.secret.projectId),
        'environmentSlug' in where ? eq(environments.slug, where.environmentSlug) : eq(environments.id, where.environmentId),
      ),
    )
    .for('update');
  if (!environment) return { missing: 'environment', projectId: found.secret.projectId };
  const [current] = await tx
    .select()
    .from(secretValues)
    .where(and(eq(secretValues.secretId, found.secret.id), eq(secretValues.environmentId, environment.id)))
    .for('update');
  return { secret: found.secret, environment, projectSlug: found.projectSlug, current: current ?? null };
}

/** When a value written at `from` is next due, or null while the secret does not rotate. */
export function nextRotationFrom(secret: Pick<SecretRow, 'rotationEnabled' | 'rotationDays'>, from: Date): Date | null {
  return secret.rotationEnabled && secret.rotationDays ? new Date(from.getTime() + secret.rotationDays * DAY_MS) : null;
}

/**
 * Stores `value` as a new version and points the metadata at it. `rotated` also sets
 * lastRotatedAt (a value set by hand keeps the last rotation time it had). Throws what the store
 * throws (SecretStoreError; INVALID_VALUE for a value it refuses).
 */
export async function writeSecretValue(
  tx: Transaction,
  store: SecretStore,
  target: SecretValueTarget,
  value: string,
  options: { actor: string; now: Date; rotated: boolean },
): Promise<SecretValueRow> {
  const { versionId } = await store.put(tx, secretRefOf(target), value);
  const changes = {
    versionId,
    updatedAt: options.now,
    updatedBy: options.actor,
    nextRotationAt: nextRotationFrom(target.secret, options.now),
    ...(options.rotated ? { lastRotatedAt: options.now } : {}),
  };
  const [row] = await tx
    .insert(secretValues)
    .values({ secretId: target.secret.id, environmentId: target.environment.id, ...changes })
    .onConflictDoUpdate({ target: [secretValues.secretId, secretValues.environmentId], set: changes })
    .returning();
  return row!;
}

/** Why a value may not rotate now. */
export type RotationBlocker =
  | { reason: 'frozen'; message: string }
  | { reason: 'deployment-running'; message: string; deploymentId: string };

/** Null when the environment allows a rotation now (call with the environment row locked). */
export async function rotationBlocker(tx: Transaction, environment: EnvironmentRow): Promise<RotationBlocker | null> {
  if (environment.frozen) return { reason: 'frozen', message: `Environment ${environment.slug} is frozen` };
  const [running] = await tx
    .select({ id: deployments.id })
    .from(deployments)
    .where(and(eq(deployments.environmentId, environment.id), eq(deployments.status, 'RUNNING')))
    .limit(1);
  if (running) {
    return {
      reason: 'deployment-running',
      message: `A deployment of ${environment.slug} is RUNNING`,
      deploymentId: running.id,
    };
  }
  return null;
}

export type RotationOutcome =
  | { outcome: 'rotated'; row: SecretValueRow; previousVersionId: string | null; audit: AuditEntry }
  | { outcome: 'blocked'; blocker: RotationBlocker };

/**
 * Rotates one value: a fresh random value (generateSecretValue) as a new version, lastRotatedAt
 * and nextRotationAt from now; or, in a frozen environment or one with a RUNNING deployment,
 * nothing (the caller refuses, or waits). `target` must come from lockSecretValueTarget in `tx`.
 * The returned `audit` is the 'secret.rotate' entry for the caller to record under its actor.
 */
export async function rotateSecretValue(
  tx: Transaction,
  store: SecretStore,
  target: SecretValueTarget,
  options: { actor: string; now: Date; scheduled: boolean },
): Promise<RotationOutcome> {
  const blocker = await rotationBlocker(tx, target.environment);
  if (blocker) return { outcome: 'blocked', blocker };
  const previousVersionId = target.current?.versionId ?? null;
  const row = await writeSecretValue(tx, store, target, generateSecretValue(), { ...options, rotated: true });
  // SECRET_ROTATED: names the secret and the version, never the value.
  await enqueueNotifications(tx, {
    projectId: target.secret.projectId,
    environmentId: target.environment.id,
    event: 'SECRET_ROTATED',
    message: `${target.secret.name} rotated in ${target.environment.slug} (version ${row.versionId}${options.scheduled ? ', on schedule' : ''})`,
    actor: options.actor,
    at: options.now,
  });
  return {
    outcome: 'rotated',
    row,
    previousVersionId,
    audit: {
      projectId: target.secret.projectId,
      action: 'secret.rotate',
      targetId: target.secret.id,
      detail: {
        name: target.secret.name,
        environment: target.environment.slug,
        environmentId: target.environment.id,
        versionId: row.versionId,
        previousVersionId,
        scheduled: options.scheduled,
        nextRotationAt: row.nextRotationAt?.toISOString() ?? null,
      },
    },
  };
}
