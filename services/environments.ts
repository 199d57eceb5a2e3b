// Environments and their settings: create, update, settings changes (versioned, with optimistic
// concurrency), archive, and the expiry of ephemeral environments.
import { and, eq, isNull, max, sql } from 'drizzle-orm';
import { recordAudit } from '../db/audit.ts';
import type { Database, Transaction } from '../db/client.ts';
import { environments, environmentSettingsVersions, type EnvironmentRow } from '../db/schema/index.ts';
import { applySettingsPatch, defaultDeployTarget, defaultPolicy, defaultSettings, mergePolicy } from '../domain/defaults.ts';
import { conflict, notFound, preconditionFailed } from '../domain/errors.ts';
import { publicId } from '../domain/ids.ts';
import { assertAuthorized } from '../domain/permissions.ts';
import type { EnvironmentSettings } from '../domain/types.ts';
import type { CreateEnvironmentInput, UpdateEnvironmentInput, UpdateEnvironmentSettingsInput } from '../domain/validation.ts';
import { cancelUnfinishedDeployments, schedulePreviewExpiry, signalConfigChanged } from '../workflows/client.ts';
import { assertOutboundUrl } from './outbound.ts';
import { actorInProject } from './project-access.ts';
import type { Scope, ServiceDeps } from './scope.ts';
import { transact, type AfterCommit, type ReadBack } from './transaction.ts';

const environmentNotFound = (id: string) => notFound(`No Environment with id ${JSON.stringify(publicId('Environment', id))}`);

/** Loads an environment for a write, locking its row so concurrent writers (and the queue lease) wait. */
export async function lockEnvironment(tx: Transaction, id: string): Promise<EnvironmentRow> {
  const [env] = await tx.select().from(environments).where(eq(environments.id, id)).for('update');
  if (!env) throw environmentNotFound(id);
  return env;
}

/**
 * lockEnvironment, and the actor with its roles in the environment's project: what a write to
 * one environment authorizes with. An environment of a project the actor may not see: the same
 * NOT_FOUND as a missing one.
 */
export async function lockEnvironmentFor(scope: Scope, tx: Transaction, id: string) {
  const env = await lockEnvironment(tx, id);
  const actor = await actorInProject(scope, env.projectId, { db: tx, hidden: () => environmentNotFound(id) });
  return { env, actor };
}

/** An environment of the project by slug, not archived; `field` names the input in the refusal. */
export async function activeEnvironmentBySlug(tx: Transaction, projectId: string, slug: string, field: string) {
  const [env] = await tx
    .select()
    .from(environments)
    .where(and(eq(environments.projectId, projectId), eq(environments.slug, slug), isNull(environments.archivedAt)));
  if (!env) throw notFound(`${field}: no active environment ${JSON.stringify(slug)} in this project`);
  return env;
}

/** Refuses a promotesFrom chain that would loop back to the environment itself. */
async function assertNoCycle(tx: Transaction, env: EnvironmentRow, upstream: EnvironmentRow) {
  const all = await tx.select().from(environments).where(eq(environments.projectId, env.projectId));
  const byId = new Map(all.map((e) => [e.id, e]));
  for (let cur: EnvironmentRow | undefined = upstream; cur; cur = cur.promotesFromId ? byId.get(cur.promotesFromId) : undefined) {
    if (cur.id === env.id) throw preconditionFailed(`promotesFrom: ${upstream.slug} already promotes (indirectly) from ${env.slug}`);
  }
}

export function assertNotArchived(env: EnvironmentRow) {
  if (env.archivedAt) throw preconditionFailed(`Environment ${env.slug} is archived`);
}

/**
 * After commit: deployments waiting for approval in the environment pinned the old configuration;
 * their approvals may be void. The workflows re-check the snapshot when approval completes, so a
 * lost notice cannot let stale approvals through.
 */
export function afterConfigChange(after: AfterCommit, services: ServiceDeps, db: Database, environmentId: string) {
  after.add('tell deployments that the configuration changed', () => signalConfigChanged(services.workflows, db, environmentId), {
    environmentId,
  });
}

/**
 * Inserts an environment at the end of its project's pipeline with its settings' version 1 (every
 * environment has one: history and diffs start there). Shared by createEnvironment and previews.
 */
export async function insertEnvironment(
  tx: Transaction,
  changedBy: string,
  values: Omit<typeof environments.$inferInsert, 'position'>,
): Promise<EnvironmentRow> {
  const [{ next } = { next: 0 }] = await tx
    .select({ next: sql<number>`coalesce(${max(environments.position)} + 1, 0)`.mapWith(Number) })
    .from(environments)
    .where(and(eq(environments.projectId, values.projectId), isNull(environments.archivedAt)));
  const [row] = await tx
    .insert(environments)
    .values({ ...values, position: next })
    .returning();
  await tx.insert(environmentSettingsVersions).values({ environmentId: row!.id, version: 1, settings: row!.settings, changedBy });
  return row!;
}

export function createEnvironment<R = string>(
  scope: Scope,
  projectId: string,
  input: CreateEnvironmentInput,
  readBack?: ReadBack<string, R>,
): Promise<R> {
  return transact(
    scope,
    async (tx) => {
      assertAuthorized('createEnvironment', await actorInProject(scope, projectId, { db: tx }));
      if (input.deployTarget?.url) assertOutboundUrl(scope.services, input.deployTarget.url, 'input.deployTarget.url');
      if (input.deployTarget?.verification) {
        assertOutboundUrl(scope.services, input.deployTarget.verification.url, 'input.deployTarget.verification.url');
      }
      const upstream = input.promotesFrom ? await activeEnvironmentBySlug(tx, projectId, input.promotesFrom, 'input.promotesFrom') : null;
      const settings = input.copySettingsFrom
        ? (await activeEnvironmentBySlug(tx, projectId, input.copySettingsFrom, 'input.copySettingsFrom')).settings
        : defaultSettings(input.type);
      const policy = mergePolicy(defaultPolicy(input.type), input.policy ?? {});
      const row = await insertEnvironment(tx, scope.actor.subject, {
        projectId,
        slug: input.slug,
        name: input.name,
        type: input.type,
        purpose: input.purpose ?? null,
        promotesFromId: upstream?.id ?? null,
        region: input.region ?? null,
        policy,
        deployTarget: input.deployTarget ?? defaultDeployTarget(),
        settings,
        expiresAt: input.expiresAt ?? null,
      });
      return {
        result: row!.id,
        audit: {
          projectId,
          action: 'environment.create',
          targetId: row!.id,
          detail: {
            slug: input.slug,
            type: input.type,
            promotesFrom: upstream?.slug ?? null,
            copySettingsFrom: input.copySettingsFrom ?? null,
          },
        },
      };
    },
    readBack,
  ) as Promise<R>;
}

export function updateEnvironment<R = string>(
  scope: Scope,
  id: string,
  input: UpdateEnvironmentInput,
  readBack?: ReadBack<string, R>,
): Promise<R> {
  return transact(
    scope,
    async (tx, after) => {
      const { env, actor } = await lockEnvironmentFor(scope, tx, id);
      assertAuthorized('updateEnvironment', actor, { environment: env });
      assertNotArchived(env);
      const changes: Partial<typeof environments.$inferInsert> = {};
      if (input.name !== undefined) changes.name = input.name;
      if (input.region !== undefined) changes.region = input.region;
      if (input.frozen !== undefined) changes.frozen = input.frozen;
      if (input.expiresAt !== undefined) changes.expiresAt = input.expiresAt;
      if (input.policy !== undefined) changes.policy = mergePolicy(env.policy, input.policy);
      if (input.deployTarget !== undefined) {
        if (input.deployTarget.url) assertOutboundUrl(scope.services, input.deployTarget.url, 'input.deployTarget.url');
        if (input.deployTarget.verification) {
          assertOutboundUrl(scope.services, input.deployTarget.verification.url, 'input.deployTarget.verification.url');
        }
        changes.deployTarget = input.deployTarget;
      }
      if (input.promotesFrom !== undefined) {
        if (input.promotesFrom === null) changes.promotesFromId = null;
        else {
          const upstream = await activeEnvironmentBySlug(tx, env.projectId, input.promotesFrom, 'input.promotesFrom');
          await assertNoCycle(tx, env, upstream);
          changes.promotesFromId = upstream.id;
        }
      }
      if (Object.keys(changes).length > 0) await tx.update(environments).set(changes).where(eq(environments.id, env.id));
      // A preview's expiry timer learns of a new expiresAt at once (it re-reads it when it wakes anyway).
      const gw = scope.services.workflows;
      if (env.previewBranch && changes.expiresAt && gw) {
        const at = changes.expiresAt;
        after.add("move a preview's expiry timer", () => schedulePreviewExpiry(gw, env.id, at), { environmentId: env.id });
      }
      const action =
        Object.keys(changes).length === 1 && changes.frozen !== undefined
          ? changes.frozen
            ? 'environment.freeze'
            : 'environment.unfreeze'
          : 'environment.update';
      return {
        result: env.id,
        audit: { projectId: env.projectId, action, targetId: env.id, detail: { slug: env.slug, changed: Object.keys(changes).sort() } },
      };
    },
    readBack,
  ) as Promise<R>;
}

/**
 * Applies a settings patch as a new version (none when nothing changes). With expectedVersion
 * and another version current: CONFLICT naming who changed them, nothing written. The answer read
 * back is the version this write made, even when another write commits right after it (clients
 * send it back as expectedVersion).
 */
export function updateEnvironmentSettings<R = string>(
  scope: Scope,
  environmentId: string,
  input: UpdateEnvironmentSettingsInput,
  readBack?: ReadBack<string, R>,
): Promise<R> {
  return transact(
    scope,
    async (tx, after) => {
      const { env, actor } = await lockEnvironmentFor(scope, tx, environmentId);
      assertAuthorized('updateEnvironmentSettings', actor, { environment: env });
      assertNotArchived(env);
      if (input.expectedVersion != null && input.expectedVersion !== env.settingsVersion) {
        const [latest] = await tx
          .select()
          .from(environmentSettingsVersions)
          .where(and(eq(environmentSettingsVersions.environmentId, env.id), eq(environmentSettingsVersions.version, env.settingsVersion)));
        throw conflict(
          `Settings of ${env.slug} are at version ${env.settingsVersion}, not ${input.expectedVersion}` +
            (latest ? ` (changed by ${latest.changedBy} at ${latest.createdAt.toISOString()})` : ''),
          { currentVersion: env.settingsVersion, changedBy: latest?.changedBy ?? null },
        );
      }
      const next = applySettingsPatch(env.settings, input.patch);
      const changed = (Object.keys(next) as (keyof EnvironmentSettings)[]).filter(
        (k) => JSON.stringify(next[k]) !== JSON.stringify(env.settings[k]),
      );
      let version = env.settingsVersion;
      if (changed.length > 0) {
        version += 1;
        await tx.update(environments).set({ settings: next, settingsVersion: version }).where(eq(environments.id, env.id));
        await tx
          .insert(environmentSettingsVersions)
          .values({ environmentId: env.id, version, settings: next, changedBy: scope.actor.subject });
      }
      afterConfigChange(after, scope.services, scope.db, env.id);
      return {
        result: env.id,
        audit: {
          projectId: env.projectId,
          action: 'environment.settings.update',
          targetId: env.id,
          detail: { slug: env.slug, fromVersion: env.settingsVersion, toVersion: version, changed },
        },
      };
    },
    readBack,
  ) as Promise<R>;
}

export function archiveEnvironment<R = string>(scope: Scope, id: string, readBack?: ReadBack<string, R>): Promise<R> {
  return transact(
    scope,
    async (tx, after) => {
      const { env, actor } = await lockEnvironmentFor(scope, tx, id);
      assertAuthorized('archiveEnvironment', actor, { environment: env });
      if (env.archivedAt) throw preconditionFailed(`Environment ${env.slug} is already archived`);
      const downstream = await tx
        .select({ slug: environments.slug })
        .from(environments)
        .where(and(eq(environments.promotesFromId, env.id), isNull(environments.archivedAt)));
      if (downstream.length > 0) {
        throw preconditionFailed(
          `${downstream.map((d) => d.slug).join(', ')} promote${downstream.length === 1 ? 's' : ''} from ${env.slug}; change that first`,
        );
      }
      await archiveLocked(tx, env, { after, services: scope.services, db: scope.db });
      return {
        result: env.id,
        audit: { projectId: env.projectId, action: 'environment.archive', targetId: env.id, detail: { slug: env.slug } },
      };
    },
    readBack,
  ) as Promise<R>;
}

/**
 * The one way an environment is archived (archiveEnvironment, a preview's branch deletion or
 * expiry), its row already locked: archivedAt set, and its unfinished deployments cancelled
 * after the commit. The cancellation is a notice: a preview's expiry workflow cancels them again,
 * retried until done (workflows/preview.workflow.ts); `after` absent: the caller cancels.
 */
export async function archiveLocked(
  tx: Transaction,
  env: EnvironmentRow,
  options: { at?: Date; after?: AfterCommit; services?: ServiceDeps; db?: Database } = {},
): Promise<void> {
  await tx
    .update(environments)
    .set({ archivedAt: options.at ?? new Date() })
    .where(eq(environments.id, env.id));
  const { after, services, db } = options;
  const client = services?.workflows?.client;
  if (after && client && db) {
    after.add('cancel the unfinished deployments of an archived environment', () => cancelUnfinishedDeployments(client, db, env.id), {
      environmentId: env.id,
    });
  }
}

/**
 * Ephemeral environments archive themselves when `expiresAt` passes. Runs periodically in every
 * API process; the row lock makes concurrent sweeps from several replicas harmless.
 */
export async function archiveExpiredEnvironments(db: Database): Promise<string[]> {
  return db.transaction(async (tx) => {
    const expired = await tx
      .select()
      .from(environments)
      // Previews expire through their durable Temporal timer (services/previews.ts), which also
      // cancels their deployments.
      .where(and(isNull(environments.archivedAt), isNull(environments.previewBranch), sql`${environments.expiresAt} <= now()`))
      .for('update', { skipLocked: true });
    for (const env of expired) {
      await tx.update(environments).set({ archivedAt: env.expiresAt }).where(eq(environments.id, env.id));
      await recordAudit(tx, 'system', {
        projectId: env.projectId,
        action: 'environment.expire',
        targetId: env.id,
        detail: { slug: env.slug, expiresAt: env.expiresAt?.toISOString() },
      });
    }
    return expired.map((e) => e.slug);
  });
}
