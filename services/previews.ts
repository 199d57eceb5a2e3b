// Preview environments (v2): the project's preview policy, the preview a push makes or renews,
// its archiving when its branch is deleted, and its expiry (run by its Temporal workflow,
// workflows/preview.workflow.ts, a durable timer per preview). The rules are domain/previews.ts.
import { and, eq, isNull, sql } from 'drizzle-orm';
import type { AuditEntry } from '../db/audit.ts';
import type { Database, Transaction } from '../db/client.ts';
import { environments, previewPolicies, projects, type EnvironmentRow } from '../db/schema/index.ts';
import { AppError, badInput, notFound } from '../domain/errors.ts';
import { publicId } from '../domain/ids.ts';
import { assertAuthorized, type Principal } from '../domain/permissions.ts';
import { previewExpiry, previewName, previewPolicyFrom, uniquePreviewSlug } from '../domain/previews.ts';
import { branchMatches } from '../domain/releases.ts';
import type { SetPreviewPolicyInput } from '../domain/validation.ts';
import { checkPreviewNow, schedulePreviewExpiry, temporalUnavailable } from '../workflows/client.ts';
import { archiveLocked, insertEnvironment, lockEnvironment } from './environments.ts';
import { actorInProject } from './project-access.ts';
import type { Scope, ServiceDeps } from './scope.ts';
import { transact, type ReadBack } from './transaction.ts';

/** Who expiry acts as in the audit log. */
export const PREVIEW_EXPIRY_ACTOR: Principal = Object.freeze({ subject: 'system:preview-expiry', roles: [], kind: 'api-token' as const });

/** setPreviewPolicy: creates or replaces the project's preview policy. Answers the project's id. */
export function setPreviewPolicy<R = string>(
  scope: Scope,
  projectId: string,
  input: SetPreviewPolicyInput,
  readBack?: ReadBack<string, R>,
): Promise<R> {
  return transact(
    scope,
    async (tx) => {
      const [project] = await tx.select().from(projects).where(eq(projects.id, projectId));
      if (!project) throw notFound(`No Project with id ${JSON.stringify(publicId('Project', projectId))}`);
      assertAuthorized('setPreviewPolicy', await actorInProject({ ...scope, db: tx }, projectId));
      // Checked now so that a typo is refused at once; re-checked on every first push (it may be archived later).
      const [source] = await tx
        .select({ id: environments.id, previewBranch: environments.previewBranch })
        .from(environments)
        .where(and(eq(environments.projectId, projectId), eq(environments.slug, input.copySettingsFrom), isNull(environments.archivedAt)));
      if (!source) {
        throw badInput(
          `input.copySettingsFrom: no active environment ${JSON.stringify(input.copySettingsFrom)} in this project`,
          'input.copySettingsFrom',
        );
      }
      if (source.previewBranch !== null) {
        throw badInput('input.copySettingsFrom: must not be a preview environment (it expires)', 'input.copySettingsFrom');
      }
      const values = {
        enabled: input.enabled,
        branchPattern: input.branchPattern,
        copySettingsFrom: input.copySettingsFrom,
        ttlHours: input.ttlHours,
        updatedBy: scope.actor.subject,
        updatedAt: new Date(),
      };
      await tx
        .insert(previewPolicies)
        .values({ projectId, ...values })
        .onConflictDoUpdate({ target: previewPolicies.projectId, set: values });
      return {
        result: projectId,
        audit: {
          projectId,
          action: 'preview.policy.set',
          targetId: projectId,
          detail: {
            enabled: input.enabled,
            branchPattern: input.branchPattern,
            copySettingsFrom: input.copySettingsFrom,
            ttlHours: input.ttlHours,
          },
        },
      };
    },
    readBack,
  ) as Promise<R>;
}

/** An hour in ms: PREVIEW_HOUR_SECONDS shortens it in tests. */
const hourMs = (services: ServiceDeps) => (services.previewHourSeconds ?? 3600) * 1000;

/** Serializes the first pushes of preview branches in one project (slug choice and the one-per-branch rule). */
const lockPreviewsOf = (tx: Transaction, projectId: string) =>
  tx.execute(sql`select pg_advisory_xact_lock(hashtextextended(${`stageplane:previews:${projectId}`}, 0))`);

const activePreview = async (tx: Transaction, projectId: string, branch: string) =>
  (
    await tx
      .select()
      .from(environments)
      .where(and(eq(environments.projectId, projectId), eq(environments.previewBranch, branch), isNull(environments.archivedAt)))
      .for('update')
  )[0];

export interface PushPreview {
  environment: EnvironmentRow;
  created: boolean;
  audit: AuditEntry[];
}

/**
 * Inside recordPush's transaction, before it picks the environments the push deploys to: the
 * branch's active preview gets a new expiresAt; without one, and with an enabled policy whose
 * pattern matches, the preview is made (once, however many pushes of the branch race: an
 * advisory lock per project, and a unique index on (project, preview_branch) of active rows).
 * Either way its expiry workflow is told before the commit (if Temporal refuses, the push writes
 * nothing; if the commit fails, the workflow finds the preview missing or unchanged and acts on that).
 * Answers null when the push has no preview.
 */
export async function previewForPush(scope: Scope, tx: Transaction, projectId: string, branch: string): Promise<PushPreview | null> {
  const [policy] = await tx.select().from(previewPolicies).where(eq(previewPolicies.projectId, projectId));
  if (!policy) return null;
  let env = await activePreview(tx, projectId, branch);
  const now = new Date();
  const expiresAt = previewExpiry(now, policy.ttlHours, hourMs(scope.services));
  const audit: AuditEntry[] = [];
  let created = false;
  if (env) {
    [env] = await tx.update(environments).set({ expiresAt }).where(eq(environments.id, env.id)).returning();
  } else {
    if (!policy.enabled || !branchMatches(policy.branchPattern, branch)) return null;
    await lockPreviewsOf(tx, projectId);
    // Another push of this branch may have made it while this one waited for the lock.
    env = await activePreview(tx, projectId, branch);
    if (env) {
      [env] = await tx.update(environments).set({ expiresAt }).where(eq(environments.id, env.id)).returning();
    } else {
      const made = await createPreview(tx, scope, projectId, branch, policy.copySettingsFrom, expiresAt);
      if (!made) return null;
      env = made.environment;
      audit.push(made.audit);
      created = true;
    }
  }
  try {
    if (!scope.services.workflows) throw temporalUnavailable();
    await schedulePreviewExpiry(scope.services.workflows, env!.id, expiresAt);
  } catch (error) {
    if (error instanceof AppError) throw error;
    scope.services.log.error({ err: error }, 'could not schedule a preview expiry');
    throw temporalUnavailable();
  }
  return { environment: env!, created, audit };
}

async function createPreview(
  tx: Transaction,
  scope: Scope,
  projectId: string,
  branch: string,
  copySettingsFrom: string,
  expiresAt: Date,
): Promise<{ environment: EnvironmentRow; audit: AuditEntry } | null> {
  const [source] = await tx
    .select()
    .from(environments)
    .where(and(eq(environments.projectId, projectId), eq(environments.slug, copySettingsFrom), isNull(environments.archivedAt)));
  if (!source) {
    // The push itself stands (its release, its other deployments); the log says why no preview.
    scope.services.log.warn({ projectId, copySettingsFrom }, 'preview not made: its copySettingsFrom environment is archived or gone');
    return null;
  }
  // Every slug the project ever used, archived ones too: an archived preview's slug is never reused.
  const taken = new Set(
    (await tx.select({ slug: environments.slug }).from(environments).where(eq(environments.projectId, projectId))).map((e) => e.slug),
  );
  const slug = uniquePreviewSlug(branch, taken);
  const row = await insertEnvironment(tx, scope.actor.subject, {
    projectId,
    slug,
    name: previewName(branch),
    type: 'CUSTOM',
    purpose: 'FEATURE_BRANCH',
    promotesFromId: null,
    region: source.region,
    policy: previewPolicyFrom(source.policy, branch),
    deployTarget: source.deployTarget,
    settings: source.settings,
    expiresAt,
    previewBranch: branch,
  });
  // Secrets are defined per project, so every secret of the project exists here already; their
  // values are per environment and are not copied (secrets.all-set names the missing ones).
  return {
    environment: row!,
    audit: {
      projectId,
      action: 'environment.create',
      targetId: row!.id,
      detail: { slug, type: 'CUSTOM', preview: true, branch, copySettingsFrom: source.slug, expiresAt: expiresAt.toISOString() },
    },
  };
}

/**
 * A GitHub push with `deleted: true`: archives the branch's active preview (and records no
 * release). Authorized as the push itself (recordPush). Answers the archived preview's slug, or
 * null when the branch had none.
 */
export function archiveBranchPreview(scope: Scope, projectId: string, branch: string): Promise<string | null> {
  return transact(scope, async (tx, after) => {
    assertAuthorized('recordPush', await actorInProject({ ...scope, db: tx }, projectId));
    const env = await activePreview(tx, projectId, branch);
    if (!env) return { result: null, audit: [] };
    await archiveLocked(tx, env, { after, services: scope.services, db: scope.db });
    const client = scope.services.workflows?.client;
    // The expiry workflow cancels the deployments again, retried until done, then ends.
    if (client)
      after.add("tell a preview's expiry workflow it was archived", () => checkPreviewNow(client, env.id), { environmentId: env.id });
    return {
      result: env.slug,
      audit: { projectId, action: 'environment.archive', targetId: env.id, detail: { slug: env.slug, reason: 'branch deleted', branch } },
    };
  });
}

export type PreviewExpiryOutcome =
  | { outcome: 'missing' } // never committed, or its project was deleted
  | { outcome: 'archived' } // archived already (by hand, or its branch was deleted)
  | { outcome: 'kept' } // someone cleared its expiresAt: no longer ephemeral
  | { outcome: 'pending'; expiresAt: number } // a push moved it on
  | { outcome: 'expired' }; // archived now

/**
 * The expiry workflow's check when its timer fires: archives the preview if its expiresAt has
 * passed, through the same archiving as archiveEnvironment. The
 * workflow then cancels its unfinished deployments (cancelPreviewDeployments).
 */
export async function expirePreviewIfDue(db: Database, services: ServiceDeps, environmentId: string): Promise<PreviewExpiryOutcome> {
  const scope: Scope = { db, actor: PREVIEW_EXPIRY_ACTOR, services };
  return transact<PreviewExpiryOutcome>(scope, async (tx) => {
    let env: EnvironmentRow;
    try {
      env = await lockEnvironment(tx, environmentId);
    } catch (error) {
      if (error instanceof AppError && error.code === 'NOT_FOUND') return { result: { outcome: 'missing' as const }, audit: [] };
      throw error;
    }
    if (env.archivedAt) return { result: { outcome: 'archived' as const }, audit: [] };
    if (!env.expiresAt) return { result: { outcome: 'kept' as const }, audit: [] };
    if (env.expiresAt.getTime() > Date.now())
      return { result: { outcome: 'pending' as const, expiresAt: env.expiresAt.getTime() }, audit: [] };
    await archiveLocked(tx, env, { at: env.expiresAt });
    return {
      result: { outcome: 'expired' as const },
      audit: {
        projectId: env.projectId,
        action: 'environment.expire',
        targetId: env.id,
        detail: { slug: env.slug, branch: env.previewBranch, expiresAt: env.expiresAt.toISOString() },
      },
    };
  });
}
