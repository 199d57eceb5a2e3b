// Scheduled secret rotation: one tick of the rotation schedule (workflows/rotation.workflow.ts
// runs it on every tick through the activity workflows/activities/rotation.ts, which adds only
// Temporal's part: a heartbeat after each value).
//
// One tick: every value whose secret has rotationEnabled and whose nextRotationAt has passed
// (environment not archived) is, each in its own transaction,
// - rotated when its environment allows it (secrets/rotation.ts rotateSecretValue): a new random
//   version, lastRotatedAt, nextRotationAt = now + rotationDays, audit 'secret.rotate' by 'system';
// - otherwise (frozen, or a deployment RUNNING) left due, with one audit 'secret.rotation.deferred'
//   per due period and reason: a tick writes it only when the latest deferral of this due period
//   (same version, same nextRotationAt) has another reason, or there is none. The tick after the
//   environment allows it again rotates the value.
// Values are never returned, logged or put in Temporal's history: the result holds counts and the
// workflow ids of deployments to tell that their target's configuration changed.
import { and, asc, desc, eq, gt, inArray, isNull, lte, or, sql } from 'drizzle-orm';
import type { Logger } from 'pino';
import { recordAudit } from '../db/audit.ts';
import type { Database, Transaction } from '../db/client.ts';
import { sqlStateOf } from '../db/errors.ts';
import { auditEvents, deployments, environments, secrets, secretValues } from '../db/schema/index.ts';
import {
  lockSecretValueTarget,
  rotateSecretValue,
  SYSTEM_ACTOR,
  type RotationBlocker,
  type SecretValueTarget,
} from '../secrets/rotation.ts';
import { SecretStoreError, type SecretStore } from '../secrets/store.ts';
import { workflowIdFor } from '../workflows/definitions.ts';

export interface SecretRotationDeps {
  db: Database;
  log: Logger;
  store: SecretStore;
  /** The clock (tests). */
  now?: () => Date;
}

export interface RotationTickResult {
  due: number;
  rotated: number;
  deferred: number;
  failed: number;
  /** Workflow ids of deployments awaiting approval in environments whose secrets changed. */
  notify: string[];
}

const PAGE = 200;
export const DEFERRED_ACTION = 'secret.rotation.deferred';

const clockOf = (deps: SecretRotationDeps) => deps.now ?? (() => new Date());

/** Audits a deferral unless this due period already has one with the same reason. */
async function deferOnce(tx: Transaction, target: SecretValueTarget, blocker: RotationBlocker): Promise<boolean> {
  const current = target.current!;
  const dueSince = current.nextRotationAt!.toISOString();
  const [last] = await tx
    .select({ detail: auditEvents.detail })
    .from(auditEvents)
    .where(
      and(
        eq(auditEvents.projectId, target.secret.projectId),
        eq(auditEvents.action, DEFERRED_ACTION),
        eq(auditEvents.targetId, target.secret.id),
        // The due period: this version, due since this time (a new value, a rotation or a
        // new schedule starts another one). No clock comparison, so no skew between hosts.
        sql`${auditEvents.detail}->>'environmentId' = ${target.environment.id}`,
        sql`${auditEvents.detail}->>'versionId' = ${current.versionId}`,
        sql`${auditEvents.detail}->>'dueSince' = ${dueSince}`,
      ),
    )
    .orderBy(desc(auditEvents.at), desc(auditEvents.id))
    .limit(1);
  if ((last?.detail as { reason?: string } | null | undefined)?.reason === blocker.reason) return false;
  await recordAudit(tx, SYSTEM_ACTOR, {
    projectId: target.secret.projectId,
    action: DEFERRED_ACTION,
    targetId: target.secret.id,
    detail: {
      name: target.secret.name,
      environment: target.environment.slug,
      environmentId: target.environment.id,
      reason: blocker.reason,
      message: `Rotation of ${target.secret.name} in ${target.environment.slug} waits: ${blocker.message}`,
      ...(blocker.reason === 'deployment-running' ? { deploymentId: blocker.deploymentId } : {}),
      versionId: current.versionId,
      dueSince,
    },
  });
  return true;
}

/** One value, in its own transaction. */
export async function rotateDueSecret(
  deps: SecretRotationDeps,
  key: { secretId: string; environmentId: string },
): Promise<'rotated' | 'deferred' | 'skipped'> {
  const { db, log, store } = deps;
  const clock = clockOf(deps);
  return db.transaction(async (tx) => {
    const target = await lockSecretValueTarget(tx, key);
    if ('missing' in target || !target.current) return 'skipped'; // deleted since the scan
    const now = clock();
    const due = target.current.nextRotationAt;
    // Another tick, worker or rotateSecret got there first, or rotation was switched off.
    if (!target.secret.rotationEnabled || !due || due > now || target.environment.archivedAt) return 'skipped';
    const result = await rotateSecretValue(tx, store, target, { actor: SYSTEM_ACTOR, now, scheduled: true });
    if (result.outcome === 'blocked') {
      const audited = await deferOnce(tx, target, result.blocker);
      if (audited) {
        log.info(
          { secretName: target.secret.name, environment: target.environment.slug, reason: result.blocker.reason },
          'secret rotation deferred',
        );
      }
      return 'deferred';
    }
    await recordAudit(tx, SYSTEM_ACTOR, result.audit);
    log.info(
      { secretName: target.secret.name, environment: target.environment.slug, versionId: result.row.versionId },
      'secret rotated on schedule',
    );
    return 'rotated';
  });
}

/**
 * One tick of the rotation schedule. `afterEach` is called after each due value, whatever its
 * outcome (the activity heartbeats there).
 */
export async function rotateDueSecrets(deps: SecretRotationDeps, options: { afterEach?: () => void } = {}): Promise<RotationTickResult> {
  const { db, log } = deps;
  const result: RotationTickResult = { due: 0, rotated: 0, deferred: 0, failed: 0, notify: [] };
  const changed = new Set<string>();
  const now = clockOf(deps)();
  // Keyset pages over (nextRotationAt, id): values that stay deferred never hide later ones.
  let after: { at: Date; id: string } | null = null;
  for (;;) {
    const page: { id: string; secretId: string; environmentId: string; at: Date | null }[] = await db
      .select({
        id: secretValues.id,
        secretId: secretValues.secretId,
        environmentId: secretValues.environmentId,
        at: secretValues.nextRotationAt,
      })
      .from(secretValues)
      .innerJoin(secrets, eq(secrets.id, secretValues.secretId))
      .innerJoin(environments, eq(environments.id, secretValues.environmentId))
      .where(
        and(
          eq(secrets.rotationEnabled, true),
          lte(secretValues.nextRotationAt, now),
          isNull(environments.archivedAt),
          after
            ? or(gt(secretValues.nextRotationAt, after.at), and(eq(secretValues.nextRotationAt, after.at), gt(secretValues.id, after.id)))
            : undefined,
        ),
      )
      .orderBy(asc(secretValues.nextRotationAt), asc(secretValues.id))
      .limit(PAGE);
    for (const due of page) {
      result.due += 1;
      try {
        const outcome = await rotateDueSecret(deps, due);
        if (outcome === 'rotated') {
          result.rotated += 1;
          changed.add(due.environmentId);
        } else if (outcome === 'deferred') {
          result.deferred += 1;
        }
      } catch (error) {
        // Names and codes only: a store error never holds a value, but a driver error might
        // quote parameters, so only its class and SQLSTATE are logged.
        result.failed += 1;
        log.warn(
          {
            secretId: due.secretId,
            environmentId: due.environmentId,
            ...(error instanceof SecretStoreError
              ? { code: error.code, retryable: error.retryable, reason: error.message }
              : { error: (error as Error)?.name ?? 'Error', sqlState: sqlStateOf(error) ?? undefined }),
          },
          'scheduled secret rotation failed; the next tick tries again',
        );
      }
      options.afterEach?.();
    }
    if (page.length < PAGE) break;
    const last = page.at(-1)!;
    after = { at: last.at!, id: last.id };
  }
  if (changed.size > 0) {
    const pending = await db
      .select({ id: deployments.id })
      .from(deployments)
      .where(and(inArray(deployments.environmentId, [...changed]), inArray(deployments.status, ['PENDING_APPROVAL', 'QUEUED'])));
    result.notify = pending.map((d) => workflowIdFor(d.id));
  }
  return result;
}
