// Environments: the Environment node with its policy, settings, deploy target and policy report;
// createEnvironment, updateEnvironment, updateEnvironmentSettings, archiveEnvironment;
// Project.environments/environment/compareEnvironments.
import { and, eq, isNull, max, sql } from 'drizzle-orm';
import type { Transaction } from '../db/client.ts';
import { loadProjectConfiguration, policyReportFor, type ProjectConfiguration } from '../db/configuration.ts';
import { environments, environmentSettingsVersions, projects, type EnvironmentRow } from '../db/schema/index.ts';
import { compareConfigurations } from '../domain/compare.ts';
import { applySettingsPatch, defaultDeployTarget, defaultPolicy, defaultSettings, mergePolicy } from '../domain/defaults.ts';
import { conflict, notFound, preconditionFailed } from '../domain/errors.ts';
import { assertAuthorized } from '../domain/permissions.ts';
import type { DeployPolicy, DeployTarget, EnvironmentSettings } from '../domain/types.ts';
import {
  CreateEnvironmentInputSchema,
  parseInput,
  UpdateEnvironmentInputSchema,
  UpdateEnvironmentSettingsInputSchema,
} from '../domain/validation.ts';
import { cached, type Context } from '../server/context.ts';
import { mutate, recordAudit } from './audit.ts';
import { signalConfigChanged } from '../workflows/client.ts';
import { builder, enumValues, localId, RoleEnum } from './builder.ts';
import { DATA_POLICIES, DEPLOY_PROVIDERS, DEPLOY_TRIGGERS, ENVIRONMENT_PURPOSES, ENVIRONMENT_TYPES, LOG_LEVELS } from '../domain/values.ts';
import { ProjectRef } from './projects.ts';

export const EnvironmentTypeEnum = builder.enumType('EnvironmentType', { values: ENVIRONMENT_TYPES });
export const EnvironmentPurposeEnum = builder.enumType('EnvironmentPurpose', { values: ENVIRONMENT_PURPOSES });
const DeployTriggerEnum = builder.enumType('DeployTrigger', {
  description: 'How a release reaches the environment.',
  values: enumValues(DEPLOY_TRIGGERS, {
    AUTO_ON_PUSH: 'a push to a branch matching branchPattern deploys at once',
    MANUAL_PROMOTE: 'someone promotes a release that succeeded upstream',
    APPROVAL_REQUIRED: 'a promotion waits for requiredApprovals approvals',
  }),
});
const LogLevelEnum = builder.enumType('LogLevel', { values: LOG_LEVELS });
const DataPolicyEnum = builder.enumType('DataPolicy', { values: DATA_POLICIES });
const DeployProviderEnum = builder.enumType('DeployProvider', {
  values: enumValues(DEPLOY_PROVIDERS, {
    SIMULATED: 'built-in steps that take stepSeconds each; for demos and tests',
    WEBHOOK: 'POST a signed payload to url; the receiver reports back with reportDeploymentStatus',
  }),
});

const DeployPolicyRef = builder.objectRef<DeployPolicy>('DeployPolicy').implement({
  fields: (t) => ({
    trigger: t.expose('trigger', { type: DeployTriggerEnum }),
    branchPattern: t.exposeString('branchPattern', { nullable: true }),
    requiredApprovals: t.exposeInt('requiredApprovals'),
    approverRoles: t.expose('approverRoles', { type: [RoleEnum] }),
    deployerRoles: t.expose('deployerRoles', { type: [RoleEnum] }),
    preventSelfApproval: t.exposeBoolean('preventSelfApproval'),
    waitTimerSeconds: t.exposeInt('waitTimerSeconds'),
    approvalTimeoutSeconds: t.exposeInt('approvalTimeoutSeconds'),
  }),
});

const FeatureFlagRef = builder.objectRef<{ key: string; enabled: boolean }>('FeatureFlag').implement({
  fields: (t) => ({ key: t.exposeString('key'), enabled: t.exposeBoolean('enabled') }),
});
const RateLimitRef = builder.objectRef<EnvironmentSettings['rateLimit']>('RateLimit').implement({
  fields: (t) => ({
    enabled: t.exposeBoolean('enabled'),
    requestsPerMinute: t.exposeInt('requestsPerMinute', { nullable: true }),
  }),
});

type SettingsShape = EnvironmentSettings & { version: number };
const EnvironmentSettingsRef = builder.objectRef<SettingsShape>('EnvironmentSettings').implement({
  fields: (t) => ({
    version: t.exposeInt('version', { description: 'increases by one on every change' }),
    logLevel: t.expose('logLevel', { type: LogLevelEnum }),
    featureFlags: t.expose('featureFlags', { type: [FeatureFlagRef] }),
    rateLimit: t.expose('rateLimit', { type: RateLimitRef }),
    corsOrigins: t.exposeStringList('corsOrigins'),
    dataPolicy: t.expose('dataPolicy', { type: DataPolicyEnum }),
    performanceMonitoring: t.exposeBoolean('performanceMonitoring'),
    alerting: t.exposeBoolean('alerting'),
    backupSchedule: t.exposeString('backupSchedule', { nullable: true, description: 'cron expression' }),
    readReplicas: t.exposeInt('readReplicas'),
    runbookUrl: t.exposeString('runbookUrl', { nullable: true }),
    securityHardening: t.exposeBoolean('securityHardening'),
  }),
});

const DeployTargetRef = builder.objectRef<DeployTarget>('DeployTarget').implement({
  fields: (t) => ({
    provider: t.expose('provider', { type: DeployProviderEnum }),
    url: t.exposeString('url', { nullable: true }),
    stepSeconds: t.exposeFloat('stepSeconds', { nullable: true }),
  }),
});

interface PolicyCheckShape {
  id: string;
  title: string;
  passed: boolean;
  severity: string;
  detail: string | null;
}
const PolicyCheckRef = builder.objectRef<PolicyCheckShape>('PolicyCheck').implement({
  fields: (t) => ({
    id: t.exposeString('id', { description: 'stable, e.g. "production.rate-limiting"' }),
    title: t.exposeString('title'),
    passed: t.exposeBoolean('passed'),
    severity: t.exposeString('severity', { description: '"error" blocks promotion into the environment, "warning" does not' }),
    detail: t.exposeString('detail', { nullable: true }),
  }),
});
export const PolicyReportRef = builder
  .objectRef<{ passed: boolean; checks: PolicyCheckShape[] }>('PolicyReport')
  .implement({
    fields: (t) => ({
      passed: t.exposeBoolean('passed', { description: 'no failed check of severity "error"' }),
      checks: t.expose('checks', { type: [PolicyCheckRef] }),
    }),
  });

/** The project's configuration, read once per request however many fields need it. */
export function projectConfiguration(ctx: Context, projectId: string): Promise<ProjectConfiguration> {
  return cached(ctx, `project-config:${projectId}`, () => loadProjectConfiguration(ctx.db, projectId));
}

export const EnvironmentRef = builder.drizzleNode('environments', {
  name: 'Environment',
  id: { column: (e) => e.id },
  fields: (t) => ({
    slug: t.exposeString('slug'),
    name: t.exposeString('name'),
    type: t.expose('type', { type: EnvironmentTypeEnum }),
    purpose: t.expose('purpose', { type: EnvironmentPurposeEnum, nullable: true }),
    position: t.exposeInt('position'),
    project: t.relation('project'),
    promotesFrom: t.relation('promotesFrom', {
      nullable: true,
      description: 'The stage whose successful releases this one is promoted from; null for the first.',
    }),
    region: t.exposeString('region', { nullable: true }),
    policy: t.field({ type: DeployPolicyRef, resolve: (env) => env.policy }),
    settings: t.field({
      type: EnvironmentSettingsRef,
      resolve: (env) => ({ ...env.settings, version: env.settingsVersion }),
    }),
    deployTarget: t.field({ type: DeployTargetRef, resolve: (env) => env.deployTarget }),
    policyReport: t.field({
      type: PolicyReportRef,
      description: "Best-practice checks for this environment's type (see README.md).",
      resolve: async (env, _args, ctx) => policyReportFor(await projectConfiguration(ctx, env.projectId), env.id),
    }),
    frozen: t.exposeBoolean('frozen', { description: 'no deployment may start while true' }),
    expiresAt: t.expose('expiresAt', { type: 'DateTime', nullable: true }),
    archivedAt: t.expose('archivedAt', { type: 'DateTime', nullable: true }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

builder.drizzleObjectFields(ProjectRef, (t) => ({
  environments: t.relation('environments', {
    description: 'Not archived ones, in pipeline order (position ascending).',
    args: { includeArchived: t.arg.boolean({ defaultValue: false }) },
    query: (args) => ({
      where: args.includeArchived ? {} : { archivedAt: { isNull: true as const } },
      orderBy: { position: 'asc', createdAt: 'asc' },
    }),
  }),
  environment: t.drizzleField({
    type: 'environments',
    nullable: true,
    args: { slug: t.arg.string({ required: true }) },
    resolve: (query, project, args, ctx) =>
      ctx.db.query.environments.findFirst(query({ where: { projectId: project.id, slug: args.slug } })),
  }),
}));

// ---- comparison -------------------------------------------------------------------------------

const ValueDifferenceRef = builder
  .objectRef<{ path: string; base: unknown; target: unknown }>('ValueDifference')
  .implement({
    fields: (t) => ({
      path: t.exposeString('path'),
      base: t.expose('base', { type: 'JSON', nullable: true }),
      target: t.expose('target', { type: 'JSON', nullable: true }),
    }),
  });

const EnvironmentComparisonRef = builder
  .objectRef<{ base: EnvironmentRow; target: EnvironmentRow; differences: ReturnType<typeof compareConfigurations> }>(
    'EnvironmentComparison',
  )
  .implement({
    fields: (t) => ({
      base: t.field({ type: EnvironmentRef, resolve: (c) => c.base }),
      target: t.field({ type: EnvironmentRef, resolve: (c) => c.target }),
      identical: t.boolean({ resolve: (c) => c.differences.length === 0 }),
      differences: t.expose('differences', { type: [ValueDifferenceRef] }),
    }),
  });

builder.drizzleObjectField(ProjectRef, 'compareEnvironments', (t) =>
  t.field({
    type: EnvironmentComparisonRef,
    args: { base: t.arg.string({ required: true }), target: t.arg.string({ required: true }) },
    resolve: async (project, args, ctx) => {
      const config = await projectConfiguration(ctx, project.id);
      const find = (slug: string) => {
        const env = config.environments.find((e) => e.slug === slug);
        if (!env) throw notFound(`No environment ${JSON.stringify(slug)} in project ${project.slug}`);
        return config.of(env.id);
      };
      const [base, target] = [find(args.base), find(args.target)];
      const side = (c: typeof base) => ({
        settings: c.settings,
        databases: c.databases,
        secrets: Object.fromEntries(Object.entries(c.secrets).map(([k, v]) => [k, { isSet: v.isSet }])),
      });
      return { base: base.environment, target: target.environment, differences: compareConfigurations(side(base), side(target)) };
    },
  }),
);

// ---- mutations --------------------------------------------------------------------------------

const DeployPolicyInput = builder.inputType('DeployPolicyInput', {
  fields: (t) => ({
    trigger: t.field({ type: DeployTriggerEnum }),
    branchPattern: t.string(),
    requiredApprovals: t.int(),
    approverRoles: t.field({ type: [RoleEnum] }),
    deployerRoles: t.field({ type: [RoleEnum] }),
    preventSelfApproval: t.boolean(),
    waitTimerSeconds: t.int(),
    approvalTimeoutSeconds: t.int(),
  }),
});
const DeployTargetInput = builder.inputType('DeployTargetInput', {
  fields: (t) => ({
    provider: t.field({ type: DeployProviderEnum, required: true }),
    url: t.string(),
    stepSeconds: t.float(),
  }),
});
const CreateEnvironmentInput = builder.inputType('CreateEnvironmentInput', {
  fields: (t) => ({
    projectId: t.id({ required: true }),
    slug: t.string({ required: true }),
    name: t.string({ required: true }),
    type: t.field({ type: EnvironmentTypeEnum, required: true }),
    purpose: t.field({ type: EnvironmentPurposeEnum }),
    promotesFrom: t.string({ description: 'slug of the upstream environment' }),
    region: t.string(),
    policy: t.field({ type: DeployPolicyInput }),
    deployTarget: t.field({ type: DeployTargetInput }),
    copySettingsFrom: t.string({
      description: "Settings start from the defaults of `type`, or from this environment's settings.",
    }),
    expiresAt: t.field({ type: 'DateTime' }),
  }),
});
const UpdateEnvironmentInput = builder.inputType('UpdateEnvironmentInput', {
  fields: (t) => ({
    id: t.id({ required: true }),
    name: t.string(),
    promotesFrom: t.string(),
    region: t.string(),
    policy: t.field({ type: DeployPolicyInput }),
    deployTarget: t.field({ type: DeployTargetInput }),
    frozen: t.boolean(),
    expiresAt: t.field({ type: 'DateTime' }),
  }),
});
const FeatureFlagInput = builder.inputType('FeatureFlagInput', {
  fields: (t) => ({ key: t.string({ required: true }), enabled: t.boolean({ required: true }) }),
});
const RateLimitInput = builder.inputType('RateLimitInput', {
  fields: (t) => ({ enabled: t.boolean({ required: true }), requestsPerMinute: t.int() }),
});
const EnvironmentSettingsPatch = builder.inputType('EnvironmentSettingsPatch', {
  description: 'Fields left out keep their value.',
  fields: (t) => ({
    logLevel: t.field({ type: LogLevelEnum }),
    featureFlags: t.field({ type: [FeatureFlagInput] }),
    rateLimit: t.field({ type: RateLimitInput }),
    corsOrigins: t.stringList(),
    dataPolicy: t.field({ type: DataPolicyEnum }),
    performanceMonitoring: t.boolean(),
    alerting: t.boolean(),
    backupSchedule: t.string(),
    readReplicas: t.int(),
    runbookUrl: t.string(),
    securityHardening: t.boolean(),
  }),
});
const UpdateEnvironmentSettingsInput = builder.inputType('UpdateEnvironmentSettingsInput', {
  fields: (t) => ({
    environmentId: t.id({ required: true }),
    patch: t.field({ type: EnvironmentSettingsPatch, required: true }),
    expectedVersion: t.int({ description: 'if given and not the current version: CONFLICT, nothing written' }),
  }),
});

/** Loads an environment for a write, locking its row so concurrent writers queue up. */
export async function lockEnvironment(tx: Transaction, globalId: string): Promise<EnvironmentRow> {
  const id = localId(globalId, 'Environment');
  const [env] = await tx.select().from(environments).where(eq(environments.id, id)).for('update');
  if (!env) throw notFound(`No Environment with id ${JSON.stringify(globalId)}`);
  return env;
}

async function environmentBySlug(tx: Transaction, projectId: string, slug: string, field: string) {
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

builder.mutationFields((t) => ({
  createEnvironment: t.drizzleField({
    type: 'environments',
    args: { input: t.arg({ type: CreateEnvironmentInput, required: true }) },
    resolve: async (query, _root, args, ctx) => {
      const input = parseInput(CreateEnvironmentInputSchema, args.input, 'input');
      const projectId = localId(args.input.projectId, 'Project');
      return mutate(ctx, async (tx, actor) => {
        const [project] = await tx.select().from(projects).where(eq(projects.id, projectId));
        if (!project) throw notFound(`No Project with id ${JSON.stringify(args.input.projectId)}`);
        assertAuthorized('createEnvironment', actor);
        const upstream = input.promotesFrom
          ? await environmentBySlug(tx, projectId, input.promotesFrom, 'input.promotesFrom')
          : null;
        const settings = input.copySettingsFrom
          ? (await environmentBySlug(tx, projectId, input.copySettingsFrom, 'input.copySettingsFrom')).settings
          : defaultSettings(input.type);
        const policy = mergePolicy(defaultPolicy(input.type), input.policy ?? {});
        const [{ next } = { next: 0 }] = await tx
          .select({ next: sql<number>`coalesce(${max(environments.position)} + 1, 0)`.mapWith(Number) })
          .from(environments)
          .where(and(eq(environments.projectId, projectId), isNull(environments.archivedAt)));
        const [row] = await tx
          .insert(environments)
          .values({
            projectId,
            slug: input.slug,
            name: input.name,
            type: input.type,
            purpose: input.purpose ?? null,
            position: next,
            promotesFromId: upstream?.id ?? null,
            region: input.region ?? null,
            policy,
            deployTarget: input.deployTarget ?? defaultDeployTarget(),
            settings,
            expiresAt: input.expiresAt ?? null,
          })
          .returning();
        await tx.insert(environmentSettingsVersions).values({ environmentId: row!.id, version: 1, settings, changedBy: actor.subject });
        return {
          result: row!.id,
          audit: {
            projectId,
            action: 'environment.create',
            targetId: row!.id,
            detail: { slug: input.slug, type: input.type, promotesFrom: upstream?.slug ?? null, copySettingsFrom: input.copySettingsFrom ?? null },
          },
        };
      }, (tx, id) => tx.query.environments.findFirst(query({ where: { id } })));
    },
  }),

  updateEnvironment: t.drizzleField({
    type: 'environments',
    args: { input: t.arg({ type: UpdateEnvironmentInput, required: true }) },
    resolve: async (query, _root, args, ctx) => {
      const input = parseInput(UpdateEnvironmentInputSchema, args.input, 'input');
      return mutate(ctx, async (tx, actor) => {
        const env = await lockEnvironment(tx, args.input.id);
        assertAuthorized('updateEnvironment', actor, { environment: env });
        if (env.archivedAt) throw preconditionFailed(`Environment ${env.slug} is archived`);
        const changes: Partial<typeof environments.$inferInsert> = {};
        if (input.name !== undefined) changes.name = input.name;
        if (input.region !== undefined) changes.region = input.region;
        if (input.frozen !== undefined) changes.frozen = input.frozen;
        if (input.expiresAt !== undefined) changes.expiresAt = input.expiresAt;
        if (input.policy !== undefined) changes.policy = mergePolicy(env.policy, input.policy);
        if (input.deployTarget !== undefined) changes.deployTarget = input.deployTarget;
        if (input.promotesFrom !== undefined) {
          if (input.promotesFrom === null) changes.promotesFromId = null;
          else {
            const upstream = await environmentBySlug(tx, env.projectId, input.promotesFrom, 'input.promotesFrom');
            await assertNoCycle(tx, env, upstream);
            changes.promotesFromId = upstream.id;
          }
        }
        if (Object.keys(changes).length > 0) await tx.update(environments).set(changes).where(eq(environments.id, env.id));
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
      }, (tx, id) => tx.query.environments.findFirst(query({ where: { id } })));
    },
  }),

  updateEnvironmentSettings: t.drizzleField({
    type: 'environments',
    args: { input: t.arg({ type: UpdateEnvironmentSettingsInput, required: true }) },
    resolve: async (query, _root, args, ctx) => {
      const input = parseInput(UpdateEnvironmentSettingsInputSchema, args.input, 'input');
      const row = await mutate(ctx, async (tx, actor) => {
        const env = await lockEnvironment(tx, args.input.environmentId);
        assertAuthorized('updateEnvironmentSettings', actor, { environment: env });
        if (env.archivedAt) throw preconditionFailed(`Environment ${env.slug} is archived`);
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
          await tx.insert(environmentSettingsVersions).values({ environmentId: env.id, version, settings: next, changedBy: actor.subject });
        }
        // mutate reads the answer back inside this transaction: the version returned is the one this
        // write made, even when another write commits right after it (clients send it back as
        // expectedVersion).
        return {
          result: env.id,
          audit: {
            projectId: env.projectId,
            action: 'environment.settings.update',
            targetId: env.id,
            detail: { slug: env.slug, fromVersion: env.settingsVersion, toVersion: version, changed },
          },
        };
      }, (tx, id) => tx.query.environments.findFirst(query({ where: { id } })));
      // Deployments waiting for approval pinned the old configuration; their approvals may be void.
      await signalConfigChanged(ctx.services.workflows, ctx.db, localId(args.input.environmentId, 'Environment'));
      return row;
    },
  }),

  archiveEnvironment: t.drizzleField({
    type: 'environments',
    args: { id: t.arg.id({ required: true }) },
    resolve: async (query, _root, args, ctx) => {
      return mutate(ctx, async (tx, actor) => {
        const env = await lockEnvironment(tx, args.id);
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
        await tx.update(environments).set({ archivedAt: new Date() }).where(eq(environments.id, env.id));
        return { result: env.id, audit: { projectId: env.projectId, action: 'environment.archive', targetId: env.id, detail: { slug: env.slug } } };
      }, (tx, id) => tx.query.environments.findFirst(query({ where: { id } })));
    },
  }),
}));

/**
 * Ephemeral environments archive themselves when `expiresAt` passes. Runs periodically in every
 * API process; the row lock makes concurrent sweeps from several replicas harmless.
 */
export async function archiveExpiredEnvironments(db: Context['db']): Promise<string[]> {
  return db.transaction(async (tx) => {
    const expired = await tx
      .select()
      .from(environments)
      .where(and(isNull(environments.archivedAt), sql`${environments.expiresAt} <= now()`))
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
