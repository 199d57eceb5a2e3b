// Environments: the Environment node with its policy, settings, deploy target and policy report;
// createEnvironment, updateEnvironment, updateEnvironmentSettings, archiveEnvironment;
// Project.environments/environment/compareEnvironments.
import { loadProjectConfiguration, policyReportFor, type ProjectConfiguration } from '../db/configuration.ts';
import type { EnvironmentRow } from '../db/schema/index.ts';
import { compareConfigurations } from '../domain/compare.ts';
import { notFound } from '../domain/errors.ts';
import type { DeployPolicy, DeployTarget, EnvironmentSettings, VerificationConfig } from '../domain/types.ts';
import {
  CreateEnvironmentInputSchema,
  parseInput,
  UpdateEnvironmentInputSchema,
  UpdateEnvironmentSettingsInputSchema,
} from '../domain/validation.ts';
import { archiveEnvironment, createEnvironment, updateEnvironment, updateEnvironmentSettings } from '../services/environments.ts';
import { cached, scopeOf, type Context } from './context.ts';
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
    autoRollback: t.boolean({
      description: 'on failed verification, roll back to the last verified release',
      resolve: (p) => p.autoRollback ?? false,
    }),
    freezeOverrideRoles: t.field({
      type: [RoleEnum],
      description: "who may break a freeze window's glass (default [ADMIN])",
      resolve: (p) => p.freezeOverrideRoles ?? (['ADMIN'] as const),
    }),
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

export const VerificationRef = builder.objectRef<VerificationConfig>('Verification').implement({
  fields: (t) => ({
    url: t.exposeString('url', { description: 'http(s); the worker GETs it after the deploy steps' }),
    expectStatus: t.exposeInt('expectStatus'),
    intervalSeconds: t.exposeFloat('intervalSeconds', { description: 'between probes' }),
    successThreshold: t.exposeInt('successThreshold', { description: 'consecutive passes needed' }),
    failureThreshold: t.exposeInt('failureThreshold', { description: 'consecutive failures that fail it' }),
    timeoutSeconds: t.exposeInt('timeoutSeconds', { description: 'the whole verification' }),
  }),
});

const DeployTargetRef = builder.objectRef<DeployTarget>('DeployTarget').implement({
  fields: (t) => ({
    provider: t.expose('provider', { type: DeployProviderEnum }),
    url: t.exposeString('url', { nullable: true }),
    stepSeconds: t.exposeFloat('stepSeconds', { nullable: true }),
    verification: t.field({ type: VerificationRef, nullable: true, resolve: (d) => d.verification ?? null }),
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
export const PolicyReportRef = builder.objectRef<{ passed: boolean; checks: PolicyCheckShape[] }>('PolicyReport').implement({
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

const ValueDifferenceRef = builder.objectRef<{ path: string; base: unknown; target: unknown }>('ValueDifference').implement({
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
    autoRollback: t.boolean({ description: 'default false' }),
    freezeOverrideRoles: t.field({ type: [RoleEnum] }),
  }),
});
const VerificationInput = builder.inputType('VerificationInput', {
  description: 'Defaults: expectStatus 200, intervalSeconds 5, successThreshold 3, failureThreshold 3, timeoutSeconds 300.',
  fields: (t) => ({
    url: t.string({ required: true }),
    expectStatus: t.int(),
    intervalSeconds: t.float(),
    successThreshold: t.int(),
    failureThreshold: t.int(),
    timeoutSeconds: t.int(),
  }),
});
const DeployTargetInput = builder.inputType('DeployTargetInput', {
  fields: (t) => ({
    provider: t.field({ type: DeployProviderEnum, required: true }),
    url: t.string(),
    stepSeconds: t.float(),
    verification: t.field({ type: VerificationInput, description: 'for either provider; left out: none' }),
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

builder.mutationFields((t) => ({
  createEnvironment: t.drizzleField({
    type: 'environments',
    args: { input: t.arg({ type: CreateEnvironmentInput, required: true }) },
    resolve: (query, _root, args, ctx) => {
      const input = parseInput(CreateEnvironmentInputSchema, args.input, 'input');
      return createEnvironment(scopeOf(ctx), localId(args.input.projectId, 'Project'), input, (tx, id) =>
        tx.query.environments.findFirst(query({ where: { id } })),
      );
    },
  }),

  updateEnvironment: t.drizzleField({
    type: 'environments',
    args: { input: t.arg({ type: UpdateEnvironmentInput, required: true }) },
    resolve: (query, _root, args, ctx) => {
      const input = parseInput(UpdateEnvironmentInputSchema, args.input, 'input');
      return updateEnvironment(scopeOf(ctx), localId(args.input.id, 'Environment'), input, (tx, id) =>
        tx.query.environments.findFirst(query({ where: { id } })),
      );
    },
  }),

  updateEnvironmentSettings: t.drizzleField({
    type: 'environments',
    args: { input: t.arg({ type: UpdateEnvironmentSettingsInput, required: true }) },
    resolve: (query, _root, args, ctx) => {
      const input = parseInput(UpdateEnvironmentSettingsInputSchema, args.input, 'input');
      return updateEnvironmentSettings(scopeOf(ctx), localId(args.input.environmentId, 'Environment'), input, (tx, id) =>
        tx.query.environments.findFirst(query({ where: { id } })),
      );
    },
  }),

  archiveEnvironment: t.drizzleField({
    type: 'environments',
    args: { id: t.arg.id({ required: true }) },
    resolve: (query, _root, args, ctx) =>
      archiveEnvironment(scopeOf(ctx), localId(args.id, 'Environment'), (tx, id) =>
        tx.query.environments.findFirst(query({ where: { id } })),
      ),
  }),
}));
