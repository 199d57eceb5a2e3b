// Defaults of new environments (contract README, "Default environments") and the merge rules of
// partial policy and settings inputs. Pure: every call returns fresh objects, so callers may mutate.
import { badInput } from './errors.ts';
import type { DataPolicy, DeployPolicy, DeployTarget, EnvironmentSettings, EnvironmentType, FeatureFlag, LogLevel, Role } from './types.ts';

const APPROVAL_TIMEOUT_SECONDS = 259_200; // three days
const DEFAULT_RATE_LIMIT_PER_MINUTE = 600;

/** The settings a new environment of `type` starts with. CUSTOM starts from development's. */
export function defaultSettings(type: EnvironmentType): EnvironmentSettings {
  switch (type) {
    case 'DEVELOPMENT':
    case 'CUSTOM':
      return {
        logLevel: 'DEBUG',
        featureFlags: [],
        rateLimit: { enabled: false, requestsPerMinute: null },
        corsOrigins: ['http://localhost:3000'],
        dataPolicy: 'TEST_DATA',
        performanceMonitoring: false,
        alerting: false,
        backupSchedule: null,
        readReplicas: 0,
        runbookUrl: null,
        securityHardening: false,
      };
    case 'STAGING':
      return {
        logLevel: 'INFO',
        featureFlags: [],
        rateLimit: { enabled: true, requestsPerMinute: DEFAULT_RATE_LIMIT_PER_MINUTE },
        corsOrigins: [],
        dataPolicy: 'ANONYMIZED_PRODUCTION',
        performanceMonitoring: true,
        alerting: true,
        backupSchedule: null,
        readReplicas: 0,
        runbookUrl: null,
        securityHardening: true,
      };
    case 'PRODUCTION':
      return {
        logLevel: 'WARN',
        featureFlags: [],
        rateLimit: { enabled: true, requestsPerMinute: DEFAULT_RATE_LIMIT_PER_MINUTE },
        corsOrigins: [],
        dataPolicy: 'PRODUCTION',
        performanceMonitoring: true,
        alerting: true,
        backupSchedule: '0 3 * * *',
        readReplicas: 1,
        runbookUrl: null,
        securityHardening: true,
      };
  }
}

/** The deploy policy a new environment of `type` starts with. */
export function defaultPolicy(type: EnvironmentType): DeployPolicy {
  const common = {
    requiredApprovals: 0,
    approverRoles: [] as Role[],
    deployerRoles: ['DEVELOPER', 'QA', 'APPROVER'] as Role[],
    preventSelfApproval: true,
    waitTimerSeconds: 0,
    approvalTimeoutSeconds: APPROVAL_TIMEOUT_SECONDS,
    freezeOverrideRoles: ['ADMIN'] as Role[],
  };
  switch (type) {
    case 'DEVELOPMENT':
      return { trigger: 'AUTO_ON_PUSH', branchPattern: 'main', ...common };
    case 'CUSTOM':
      // Development's policy, but nothing deploys on push until someone says so.
      return { trigger: 'MANUAL_PROMOTE', branchPattern: null, ...common };
    case 'STAGING':
      return { trigger: 'MANUAL_PROMOTE', branchPattern: null, ...common };
    case 'PRODUCTION':
      return {
        ...common,
        trigger: 'APPROVAL_REQUIRED',
        branchPattern: null,
        requiredApprovals: 1,
        approverRoles: ['APPROVER'],
        deployerRoles: ['QA', 'APPROVER'],
      };
  }
}

export function defaultDeployTarget(): DeployTarget {
  return { provider: 'SIMULATED', url: null, stepSeconds: 1 };
}

export interface DefaultEnvironment {
  slug: string;
  name: string;
  type: EnvironmentType;
  position: number;
  /** Slug of the upstream environment, null for the first. */
  promotesFrom: string | null;
}

/** What `createProject(withDefaultEnvironments: true)` creates, in pipeline order. */
export const DEFAULT_ENVIRONMENTS: readonly Readonly<DefaultEnvironment>[] = Object.freeze([
  Object.freeze({ slug: 'development', name: 'Development', type: 'DEVELOPMENT', position: 0, promotesFrom: null }),
  Object.freeze({ slug: 'staging', name: 'Staging', type: 'STAGING', position: 1, promotesFrom: 'development' }),
  Object.freeze({ slug: 'production', name: 'Production', type: 'PRODUCTION', position: 2, promotesFrom: 'staging' }),
] as const);

/** DeployPolicyInput as GraphQL hands it over: any field may be left out or null. */
export type DeployPolicyPatch = { [K in keyof DeployPolicy]?: DeployPolicy[K] | null };

/**
 * A policy input over an existing policy. A field left out or null keeps its value, because in
 * GraphQL `null` is the usual way of "not giving" a non-nullable field. The exception is
 * branchPattern, which is nullable in DeployPolicy: there an explicit null clears the pattern
 * (the only way to do so) and only a left-out field keeps it.
 */
export function mergePolicy(base: DeployPolicy, patch: DeployPolicyPatch | null | undefined): DeployPolicy {
  const p = patch ?? {};
  return {
    trigger: p.trigger ?? base.trigger,
    branchPattern: p.branchPattern === undefined ? base.branchPattern : p.branchPattern,
    requiredApprovals: p.requiredApprovals ?? base.requiredApprovals,
    approverRoles: [...(p.approverRoles ?? base.approverRoles)],
    deployerRoles: [...(p.deployerRoles ?? base.deployerRoles)],
    preventSelfApproval: p.preventSelfApproval ?? base.preventSelfApproval,
    waitTimerSeconds: p.waitTimerSeconds ?? base.waitTimerSeconds,
    approvalTimeoutSeconds: p.approvalTimeoutSeconds ?? base.approvalTimeoutSeconds,
    // v2; absent from policies written before it (false).
    ...(p.autoRollback != null || base.autoRollback !== undefined ? { autoRollback: p.autoRollback ?? base.autoRollback ?? false } : {}),
    freezeOverrideRoles: [...(p.freezeOverrideRoles ?? base.freezeOverrideRoles ?? ['ADMIN'])],
  };
}

/** EnvironmentSettingsPatch as GraphQL hands it over (null where the client sent null). */
export interface EnvironmentSettingsPatch {
  logLevel?: LogLevel | null;
  featureFlags?: { key: string; enabled: boolean | null }[] | null;
  rateLimit?: { enabled: boolean | null; requestsPerMinute?: number | null } | null;
  corsOrigins?: string[] | null;
  dataPolicy?: DataPolicy | null;
  performanceMonitoring?: boolean | null;
  alerting?: boolean | null;
  backupSchedule?: string | null;
  readReplicas?: number | null;
  runbookUrl?: string | null;
  securityHardening?: boolean | null;
}

/** Non-nullable scalar fields: given, they replace; null is a client error. */
const REQUIRED_SCALARS = ['logLevel', 'dataPolicy', 'performanceMonitoring', 'alerting', 'readReplicas', 'securityHardening'] as const;

/**
 * The settings after a patch. Left-out fields keep their value (contract). Choices where the
 * contract is silent:
 * - featureFlags merge by key: keys in the patch are set (existing ones in place, new ones
 *   appended in patch order), flags not named keep their value. A patch cannot remove a flag;
 *   that keeps `featureFlags.checkout=true` on the CLI from wiping the other flags.
 * - corsOrigins replaces the whole list (a list of origins has no key to merge by).
 * - rateLimit: `enabled` is set; `requestsPerMinute` left out keeps its value, null clears it.
 * - backupSchedule and runbookUrl are nullable: explicit null clears them. Any other field
 *   given as null is BAD_USER_INPUT naming the field (e.g. `patch.logLevel`), since null cannot
 *   mean "clear" there and silently ignoring it would hide a client bug.
 * Values are not validated here beyond nullability: e.g. an invalid cron expression may be
 * stored, and the policy check `production.backups` reports it.
 */
export function applySettingsPatch(settings: EnvironmentSettings, patch: EnvironmentSettingsPatch): EnvironmentSettings {
  const next: EnvironmentSettings = {
    ...settings,
    featureFlags: settings.featureFlags.map((f) => ({ ...f })),
    rateLimit: { ...settings.rateLimit },
    corsOrigins: [...settings.corsOrigins],
  };

  for (const field of REQUIRED_SCALARS) {
    const value = patch[field];
    if (value === undefined) continue;
    if (value === null) throw nullNotAllowed(field);
    (next as unknown as Record<string, unknown>)[field] = value;
  }

  if (patch.featureFlags === null) throw nullNotAllowed('featureFlags');
  if (patch.featureFlags !== undefined) next.featureFlags = mergeFlags(next.featureFlags, patch.featureFlags);

  if (patch.rateLimit === null) throw nullNotAllowed('rateLimit');
  if (patch.rateLimit !== undefined) {
    const { enabled, requestsPerMinute } = patch.rateLimit;
    if (enabled === null || enabled === undefined) throw nullNotAllowed('rateLimit.enabled');
    next.rateLimit = {
      enabled,
      requestsPerMinute: requestsPerMinute === undefined ? next.rateLimit.requestsPerMinute : requestsPerMinute,
    };
  }

  if (patch.corsOrigins === null) throw nullNotAllowed('corsOrigins');
  if (patch.corsOrigins !== undefined) next.corsOrigins = [...patch.corsOrigins];

  if (patch.backupSchedule !== undefined) next.backupSchedule = patch.backupSchedule;
  if (patch.runbookUrl !== undefined) next.runbookUrl = patch.runbookUrl;
  return next;
}

function mergeFlags(current: FeatureFlag[], given: { key: string; enabled: boolean | null }[]): FeatureFlag[] {
  const result = current.map((f) => ({ ...f }));
  given.forEach((flag, i) => {
    if (flag.enabled === null || flag.enabled === undefined) throw nullNotAllowed(`featureFlags[${i}].enabled`);
    const existing = result.find((f) => f.key === flag.key);
    if (existing) existing.enabled = flag.enabled;
    else result.push({ key: flag.key, enabled: flag.enabled });
  });
  return result;
}

const nullNotAllowed = (field: string) => badInput(`${field} cannot be null`, `patch.${field}`);
