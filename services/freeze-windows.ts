// Freeze windows (v2): creating and deleting them, and the one question every deploy decision
// asks — which window is in force for this environment now (domain/freeze.ts has the rules).
import { and, eq, isNull } from 'drizzle-orm';
import type { AuditEntry } from '../db/audit.ts';
import type { Queryable, Transaction } from '../db/client.ts';
import { appendDeploymentEvent } from '../db/event-log.ts';
import { type EnvironmentRow, environments, type FreezeWindowRow, freezeOverrides, freezeWindows } from '../db/schema/index.ts';
import { forbidden, notFound, preconditionFailed } from '../domain/errors.ts';
import { type ActiveFreeze, activeFreezeFor, type FreezeWindowRule, frozenMessage } from '../domain/freeze.ts';
import { publicId } from '../domain/ids.ts';
import { assertAuthorized, authorizeFreezeOverride } from '../domain/permissions.ts';
import type { DeploymentStatus, EnvironmentType } from '../domain/types.ts';
import type { CreateFreezeWindowInput } from '../domain/validation.ts';
import { actorInProject } from './project-access.ts';
import type { Scope } from './scope.ts';
import { transact, type ReadBack } from './transaction.ts';

export type FreezeWindow = FreezeWindowRule & { row: FreezeWindowRow };

/** A stored window as the rules read it. */
export const freezeRuleOf = (row: FreezeWindowRow): FreezeWindow => ({
  id: row.id,
  name: row.name,
  reason: row.reason,
  environmentSlugs: row.environmentSlugs,
  environmentTypes: row.environmentTypes as EnvironmentType[],
  startsAt: row.startsAt,
  endsAt: row.endsAt,
  recurrence: row.recurrence,
  durationMinutes: row.durationMinutes,
  timeZone: row.timeZone,
  allowRollback: row.allowRollback,
  row,
});

/** The project's windows that are not deleted (one read, whatever number of environments asks). */
export async function liveFreezeWindows(db: Queryable, projectId: string): Promise<FreezeWindow[]> {
  const rows = await db
    .select()
    .from(freezeWindows)
    .where(and(eq(freezeWindows.projectId, projectId), isNull(freezeWindows.deletedAt)));
  return rows.map(freezeRuleOf);
}

/**
 * The freeze that holds a deployment of `deployment.kind` into `env` at `at`, or null: a break-glass
 * deployment is not held by the window it overrode; a rollback not by windows that allow rollbacks.
 */
export async function freezeHolding(
  db: Queryable,
  env: { projectId: string; slug: string; type: EnvironmentType },
  deployment: { id?: string; kind: string },
  at = new Date(),
): Promise<ActiveFreeze<FreezeWindow> | null> {
  const windows = await liveFreezeWindows(db, env.projectId);
  if (windows.length === 0) return null;
  const [override] = deployment.id
    ? await db.select({ windowId: freezeOverrides.windowId }).from(freezeOverrides).where(eq(freezeOverrides.deploymentId, deployment.id))
    : [];
  return activeFreezeFor(windows, env, at, { rollback: deployment.kind === 'ROLLBACK', except: override?.windowId ?? null });
}

/** A break-glass request that was allowed: the window it overrides, why, and who. */
export interface GrantedOverride {
  freeze: ActiveFreeze<FreezeWindow>;
  reason: string;
  by: string;
}

/**
 * deploy/promote (and rollback, with `rollback`): refused inside a window in force, unless
 * `overrideFreeze` breaks its glass and the actor holds a role of the target's
 * policy.freezeOverrideRoles (FORBIDDEN otherwise). An override asked for where no window is in
 * force changes nothing: the deployment is an ordinary one.
 */
export async function freezeGate(
  tx: Queryable,
  scope: Scope,
  env: EnvironmentRow,
  request: { rollback?: boolean; overrideFreeze?: { reason: string } | undefined },
): Promise<GrantedOverride | null> {
  const freeze = await freezeHolding(tx, env, { kind: request.rollback ? 'ROLLBACK' : 'MANUAL' });
  if (!freeze) return null;
  if (!request.overrideFreeze) refuseFrozen(env.slug, freeze);
  const decision = authorizeFreezeOverride(await actorInProject(scope, env.projectId, { db: tx }), env);
  if (!decision.allowed) throw forbidden(decision.reason);
  return { freeze, reason: request.overrideFreeze.reason, by: scope.actor.subject };
}

/** Records a break-glass deployment's override: its row and the FREEZE_OVERRIDDEN event. */
export async function recordFreezeOverride(
  tx: Transaction,
  deployment: { id: string; status: DeploymentStatus },
  o: GrantedOverride,
): Promise<void> {
  await tx.insert(freezeOverrides).values({ deploymentId: deployment.id, windowId: o.freeze.window.id, reason: o.reason, by: o.by });
  const until = o.freeze.occurrence.endsAt.toISOString();
  await appendDeploymentEvent(tx, deployment.id, {
    type: 'FREEZE_OVERRIDDEN',
    status: deployment.status,
    message: `${o.by} overrode the freeze window "${o.freeze.window.name}" (until ${until}): ${o.reason}`,
    idempotencyKey: 'freeze-overridden',
  });
}

/** The audit entry of a break-glass deployment, beside the deployment's own. */
export const freezeOverrideAudit = (deploymentId: string, projectId: string, o: GrantedOverride): AuditEntry => ({
  projectId,
  action: 'deployment.freeze_override',
  targetId: deploymentId,
  detail: { window: o.freeze.window.name, windowId: o.freeze.window.id, until: o.freeze.occurrence.endsAt.toISOString(), reason: o.reason },
});

/** deploy/promote/rollback into a window in force: PRECONDITION_FAILED naming the window and its end. */
export function refuseFrozen(envSlug: string, freeze: ActiveFreeze): never {
  throw preconditionFailed(frozenMessage(envSlug, freeze), {
    freezeWindowId: publicId('FreezeWindow', freeze.window.id),
    frozenUntil: freeze.occurrence.endsAt.toISOString(),
  });
}

/** createFreezeWindow: any role in the project but VIEWER. Answers the window's id. */
export function createFreezeWindow<R = string>(scope: Scope, input: CreateFreezeWindowInput, readBack?: ReadBack<string, R>): Promise<R> {
  return transact(
    scope,
    async (tx: Transaction) => {
      const actor = await actorInProject(scope, input.projectId, { db: tx });
      assertAuthorized('createFreezeWindow', actor);
      // The project's environment rows, locked as every deploy decision locks its own: a
      // deployment starting right now either started before this window exists, or sees it.
      await tx.select({ id: environments.id }).from(environments).where(eq(environments.projectId, input.projectId)).for('update');
      const [row] = await tx
        .insert(freezeWindows)
        .values({
          projectId: input.projectId,
          name: input.name,
          reason: input.reason,
          environmentSlugs: input.environmentSlugs,
          environmentTypes: input.environmentTypes,
          startsAt: input.startsAt,
          endsAt: input.endsAt ?? null,
          recurrence: input.recurrence?.trim().replace(/^RRULE:/i, '') ?? null,
          durationMinutes: input.durationMinutes ?? null,
          timeZone: input.timeZone,
          allowRollback: input.allowRollback,
          createdBy: scope.actor.subject,
        })
        .returning();
      return {
        result: row!.id,
        audit: {
          projectId: input.projectId,
          action: 'freeze_window.create',
          targetId: row!.id,
          detail: {
            name: row!.name,
            startsAt: row!.startsAt.toISOString(),
            endsAt: row!.endsAt?.toISOString() ?? null,
            recurrence: row!.recurrence,
            durationMinutes: row!.durationMinutes,
            timeZone: row!.timeZone,
            environmentSlugs: row!.environmentSlugs,
            environmentTypes: row!.environmentTypes,
            allowRollback: row!.allowRollback,
          },
        },
      };
    },
    readBack,
  ) as Promise<R>;
}

/**
 * deleteFreezeWindow: its creator or an ADMIN (of the project). The row stays, marked deleted,
 * for the overrides that name it. A deployment already holding for it waits out the occurrence
 * it was told of, then asks again (and finds no window).
 */
export function deleteFreezeWindow(scope: Scope, id: string): Promise<string> {
  return transact(scope, async (tx) => {
    const [row] = await tx
      .select()
      .from(freezeWindows)
      .where(and(eq(freezeWindows.id, id), isNull(freezeWindows.deletedAt)))
      .for('update');
    const missing = () => notFound(`No FreezeWindow with id ${JSON.stringify(publicId('FreezeWindow', id))}`);
    if (!row) throw missing();
    const actor = await actorInProject(scope, row.projectId, { db: tx, hidden: missing });
    assertAuthorized('deleteFreezeWindow', actor, { freezeWindow: { createdBy: row.createdBy } });
    await tx.update(freezeWindows).set({ deletedAt: new Date() }).where(eq(freezeWindows.id, id));
    return {
      result: id,
      audit: { projectId: row.projectId, action: 'freeze_window.delete', targetId: id, detail: { name: row.name } },
    };
  });
}
