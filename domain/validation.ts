// Schemas of every mutation input of the contract, and parseInput() that turns the first
// problems into one BAD_USER_INPUT naming the field by its full path. Pure: no I/O; the only
// clock read is Date.now() for "expiresAt in the future".
//
// null: GraphQL lets a client send null for any optional field. It means "not given" (the key is
// dropped before validation, so defaults apply) except where the contract gives null a meaning:
// - UpdateEnvironmentInput.promotesFrom: null = promote from nothing (first stage).
// - UpdateEnvironmentInput.region: null = no region.
// - UpdateEnvironmentInput.expiresAt: null = no longer ephemeral.
// - DeployPolicyInput.branchPattern: null = no pattern (as mergePolicy in defaults.ts reads it).
// - EnvironmentSettingsPatch.backupSchedule, .runbookUrl: null = clear.
// - RateLimitInput.requestsPerMinute: null = clear (as applySettingsPatch reads it); refused
//   when enabled is true.
// There the output keeps null; everywhere else a null never reaches the caller.
//
// Values that could be secret (SetSecretValueInput.value) never appear in a message: messages
// name the field and the rule, never the input.
//
// Text: every string field is built on storableString(), the one rule of domain/text.ts (no NUL,
// no unpaired surrogate), so text PostgreSQL would refuse is BAD_USER_INPUT naming the field.
// SetSecretValueInput.value alone may hold a NUL (it is stored encrypted), not a lone surrogate.
import { z } from 'zod';
import { isValidCron } from './cron.ts';
import { issuerUrlProblem } from './identity.ts';
import { PREVIEW_COPY_SETTINGS_FROM_DEFAULT, PREVIEW_TTL_HOURS } from './previews.ts';
import { checkFreezeWindow, FreezeRuleError } from './freeze.ts';
import { badInput } from './errors.ts';
import { insightRangeProblem } from './insights.ts';
import { channelUrlProblem } from './notifications.ts';
import type { Action } from './permissions.ts';
import { textProblem, unpairedSurrogateProblem } from './text.ts';
import type { DeployTarget } from './types.ts';
import { VERIFICATION_BOUNDS as VB, VERIFICATION_DEFAULTS as VD } from './verification.ts';
import {
  DATA_POLICIES,
  DATABASE_TYPES,
  DEPLOY_PROVIDERS,
  DEPLOY_TRIGGERS,
  ENVIRONMENT_PURPOSES,
  ENVIRONMENT_TYPES,
  LOG_LEVELS,
  PROJECT_VISIBILITIES,
  NOTIFICATION_EVENTS,
  NOTIFICATION_KINDS,
  ROLES,
  STEP_STATUSES,
} from './values.ts';

// ---------------------------------------------------------------- enums

export const RoleSchema = z.enum(ROLES);
export const EnvironmentTypeSchema = z.enum(ENVIRONMENT_TYPES);
export const EnvironmentPurposeSchema = z.enum(ENVIRONMENT_PURPOSES);
export const DeployTriggerSchema = z.enum(DEPLOY_TRIGGERS);
export const LogLevelSchema = z.enum(LOG_LEVELS);
export const DataPolicySchema = z.enum(DATA_POLICIES);
export const DeployProviderSchema = z.enum(DEPLOY_PROVIDERS);
export const DatabaseTypeSchema = z.enum(DATABASE_TYPES);
export const StepStatusSchema = z.enum(STEP_STATUSES);

// ---------------------------------------------------------------- building blocks

const between = (min: number, max: number) => `must be between ${min} and ${max}`;

/**
 * The base of every string input: text PostgreSQL can store (domain/text.ts: no NUL, no unpaired
 * surrogate). It runs first and stops that field's other checks, so the message names this rule
 * rather than a pattern the bad character happens to break.
 */
export const storableString = () =>
  z.string().check((ctx) => {
    const problem = textProblem(ctx.value);
    if (problem) ctx.issues.push({ code: 'custom', message: problem, input: ctx.value, continue: false });
  });

const intBetween = (min: number, max: number) =>
  z.number().int(`must be a whole number between ${min} and ${max}`).min(min, between(min, max)).max(max, between(min, max));

/** Trimmed, non-blank, at most `max` characters (after trimming). */
const text = (max: number) => storableString().trim().min(1, 'must not be blank').max(max, `must be at most ${max} characters`);

/** Free text kept as typed (comments, messages); may be empty. */
const longText = (max: number) => storableString().max(max, `must be at most ${max} characters`);

/** Drops null-valued keys except `keep`: GraphQL's null means "not given" unless documented. */
const nullMeansAbsent = <S extends z.ZodType>(schema: S, keep: readonly string[] = []) =>
  z.preprocess((value) => {
    if (value === null || typeof value !== 'object' || Array.isArray(value) || value instanceof Date) return value;
    return Object.fromEntries(Object.entries(value).filter(([k, v]) => v !== null || keep.includes(k)));
  }, schema);

/** A list whose items (by `key`) appear once; the duplicate is named by its index. */
const uniqueList = <T extends z.ZodType>(item: T, what: string, key: (v: z.output<T>) => string) =>
  z.array(item).superRefine((list, ctx) => {
    const seen = new Set<string>();
    list.forEach((v, i) => {
      const k = key(v);
      if (seen.has(k)) ctx.addIssue({ code: 'custom', path: [i], message: `duplicate ${what} ${k}` });
      seen.add(k);
    });
  });

export const IdSchema = storableString().min(1, 'must not be empty').max(512, 'must be at most 512 characters');

const SLUG_RE = /^[a-z][a-z0-9-]{1,38}$/;
export const SlugSchema = storableString().regex(
  SLUG_RE,
  'must match ^[a-z][a-z0-9-]{1,38}$ (2 to 39 lower-case letters, digits or hyphens, starting with a letter)',
);

const SECRET_NAME_RE = /^[A-Z][A-Z0-9_]{0,127}$/;
export const SecretNameSchema = storableString().regex(
  SECRET_NAME_RE,
  'must match ^[A-Z][A-Z0-9_]{0,127}$ (UPPER_SNAKE_CASE, at most 128 characters)',
);

const uniqueRoles = uniqueList(RoleSchema, 'role', (r) => r);

// Dates: a DateTime scalar may hand over a Date or the ISO string; the output is always a Date.
const DATE_TIME_MESSAGE = 'must be an ISO-8601 date-time with a time zone, e.g. 2030-01-31T12:00:00Z';
export const DateTimeSchema = z
  .union([z.date(), z.iso.datetime({ offset: true })], { error: DATE_TIME_MESSAGE })
  .transform((v) => (typeof v === 'string' ? new Date(v) : v))
  .pipe(z.date({ error: DATE_TIME_MESSAGE }));
export const FutureDateTimeSchema = DateTimeSchema.refine((d) => d.getTime() > Date.now(), 'must be in the future');

// ---------------------------------------------------------------- hosts and URLs

const LABEL_RE = /^[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$/;
const isIPv4 = (s: string) => z.ipv4().safeParse(s).success;
const isIPv6 = (s: string) => z.ipv6().safeParse(s).success;

/**
 * RFC 1123 host names (labels of 1-63 letters, digits, hyphens, not starting or ending with a
 * hyphen; at most 253 characters). Underscores are accepted because container and service
 * names (docker compose, Kubernetes-internal DNS) use them. An all-numeric name must be an IPv4.
 */
export function isHostname(s: string): boolean {
  if (s.length < 1 || s.length > 253) return false;
  if (/^[0-9.]+$/.test(s)) return isIPv4(s);
  return s.split('.').every((label) => LABEL_RE.test(label));
}

/** A host name, an IPv4 address or an IPv6 address (without brackets). */
export const HostSchema = storableString()
  .trim()
  .min(1, 'must not be blank')
  .max(253, 'must be at most 253 characters')
  .refine((h) => isHostname(h) || isIPv6(h), 'must be a host name or an IP address');

function httpUrlProblem(value: string): string | null {
  if (!/^https?:\/\//i.test(value)) return 'must be an absolute http:// or https:// URL';
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return 'must be a valid http(s) URL';
  }
  if (!url.hostname) return 'must be a valid http(s) URL';
  // A URL is shown back in responses and logs: a password in it would leak (contract, Errors).
  if (url.username || url.password) return 'must not contain a user name or password';
  return null;
}

/** Absolute http(s) URL, at most 2048 characters, without credentials. */
export const HttpUrlSchema = storableString()
  .trim()
  .min(1, 'must not be blank')
  .max(2048, 'must be at most 2048 characters')
  .superRefine((v, ctx) => {
    const problem = httpUrlProblem(v);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });

const ORIGIN_RE = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/(\[[0-9A-Fa-f:.]+\]|[^/?#@\s:[\]]+)(?::(\d{1,5}))?$/;
const ORIGIN_MESSAGE = 'must be an origin scheme://host[:port] without path, e.g. https://app.example.com';

/**
 * A CORS origin: `scheme://host[:port]`, nothing after it (not even a trailing slash, which
 * browsers never send and which would make the origin never match). Any scheme, so that app
 * origins like `capacitor://localhost` work. Scheme and host are lower-cased: origins compare
 * case-insensitively there, and one spelling keeps comparisons and diffs exact.
 */
export const OriginSchema = storableString()
  .trim()
  .max(300, 'must be at most 300 characters')
  .transform((value, ctx) => {
    const m = ORIGIN_RE.exec(value);
    const host = m?.[2] ?? '';
    const port = m?.[3];
    const hostOk = host.startsWith('[') ? isIPv6(host.slice(1, -1)) : isHostname(host);
    const portOk = port === undefined || (Number(port) >= 1 && Number(port) <= 65535);
    if (!m || !hostOk || !portOk) {
      ctx.addIssue({ code: 'custom', message: ORIGIN_MESSAGE });
      return z.NEVER;
    }
    return `${m[1]!.toLowerCase()}://${host.toLowerCase()}${port === undefined ? '' : `:${port}`}`;
  });

// ---------------------------------------------------------------- git

/**
 * A branch name as `git check-ref-format --branch` accepts it: no space, control character,
 * `~ ^ : ? * [ \`, no `..` or `@{`, no component starting with `.` or ending with `.lock`, no
 * empty component, not `@`, not starting with `-`, not ending with `.`.
 */
export function gitBranchProblem(branch: string): string | null {
  if (/[\x00-\x20\x7f~^:?*[\\]/.test(branch)) return 'must not contain spaces, control characters or any of ~ ^ : ? * [ \\';
  if (branch.includes('..')) return "must not contain '..'";
  if (branch.includes('@{')) return "must not contain '@{'";
  if (branch === '@') return "must not be '@'";
  if (branch.startsWith('-')) return "must not start with '-'";
  if (branch.endsWith('.')) return "must not end with '.'";
  for (const part of branch.split('/')) {
    if (part === '') return "must not start or end with '/' nor contain '//'";
    if (part.startsWith('.')) return "must not have a path component starting with '.'";
    if (part.endsWith('.lock')) return "must not have a path component ending with '.lock'";
  }
  return null;
}

export const GitBranchSchema = storableString()
  .min(1, 'must not be empty')
  .max(255, 'must be at most 255 characters')
  .superRefine((b, ctx) => {
    const problem = gitBranchProblem(b);
    if (problem) ctx.addIssue({ code: 'custom', message: `${problem} (a git branch name)` });
  });

/** 7 to 40 hex digits, lower-cased: the same commit is one release whatever its case. */
export const CommitShaSchema = storableString()
  .trim()
  .regex(/^[0-9a-fA-F]{7,40}$/, 'must be 7 to 40 hexadecimal digits')
  .transform((s) => s.toLowerCase());

// ---------------------------------------------------------------- policy and target

/** Glob for branches: `*` is the only wildcard; the characters of the contract's examples. */
export const BranchPatternSchema = storableString()
  .min(1, 'must not be empty')
  .max(200, 'must be at most 200 characters')
  .regex(/^[A-Za-z0-9._/*-]+$/, 'must be a glob of letters, digits and . _ / * -');

/**
 * A partial policy, merged over the current or default one (mergePolicy in defaults.ts).
 * branchPattern: null clears it. Cross-field rule that this input alone can tell: AUTO_ON_PUSH
 * with an explicitly cleared branchPattern. The merged policy is checked by DeployPolicySchema.
 */
export const DeployPolicyInputSchema = nullMeansAbsent(
  z
    .object({
      trigger: DeployTriggerSchema.optional(),
      branchPattern: BranchPatternSchema.nullable().optional(),
      requiredApprovals: intBetween(0, 10).optional(),
      approverRoles: uniqueRoles.optional(),
      deployerRoles: uniqueRoles.optional(),
      preventSelfApproval: z.boolean().optional(),
      waitTimerSeconds: intBetween(0, 604_800).optional(),
      approvalTimeoutSeconds: intBetween(1, 2_592_000).optional(),
      autoRollback: z.boolean().optional(),
      freezeOverrideRoles: uniqueRoles.optional(),
    })
    .superRefine((p, ctx) => {
      if (p.trigger === 'AUTO_ON_PUSH' && p.branchPattern === null) {
        ctx.addIssue({ code: 'custom', path: ['branchPattern'], message: 'is required when trigger is AUTO_ON_PUSH' });
      }
    }),
  ['branchPattern'],
);

/** A complete policy (after merging an input): same bounds, and AUTO_ON_PUSH needs a branchPattern. */
export const DeployPolicySchema = z
  .object({
    trigger: DeployTriggerSchema,
    branchPattern: BranchPatternSchema.nullable(),
    requiredApprovals: intBetween(0, 10),
    approverRoles: uniqueRoles,
    deployerRoles: uniqueRoles,
    preventSelfApproval: z.boolean(),
    waitTimerSeconds: intBetween(0, 604_800),
    approvalTimeoutSeconds: intBetween(1, 2_592_000),
    autoRollback: z.boolean().optional(),
    freezeOverrideRoles: uniqueRoles.optional(),
  })
  .superRefine((p, ctx) => {
    if (p.trigger === 'AUTO_ON_PUSH' && p.branchPattern === null) {
      ctx.addIssue({ code: 'custom', path: ['branchPattern'], message: 'is required when trigger is AUTO_ON_PUSH' });
    }
  });

export const DEFAULT_STEP_SECONDS = 1;

const numberBetween = (min: number, max: number) => z.number().min(min, between(min, max)).max(max, between(min, max));

/** A deploy target's verification (v2): the URL the worker GETs, and the defaults of domain/verification.ts. */
export const VerificationInputSchema = nullMeansAbsent(
  z.object({
    url: HttpUrlSchema,
    expectStatus: intBetween(...VB.expectStatus).default(VD.expectStatus),
    intervalSeconds: numberBetween(...VB.intervalSeconds).default(VD.intervalSeconds),
    successThreshold: intBetween(...VB.successThreshold).default(VD.successThreshold),
    failureThreshold: intBetween(...VB.failureThreshold).default(VD.failureThreshold),
    timeoutSeconds: intBetween(...VB.timeoutSeconds).default(VD.timeoutSeconds),
  }),
);

/** A target without verification keeps its v1 shape (no key at all). */
const verificationOf = (t: { verification?: DeployTarget['verification'] }) => (t.verification ? { verification: t.verification } : {});

/**
 * A deploy target replaces the current one as a whole (provider is required). One rule: each
 * field belongs to one provider and must be left out (or null) for the other: `url` (required,
 * http(s)) only for WEBHOOK, `stepSeconds` (0-3600, default 1) only for SIMULATED. The output is
 * a complete DeployTarget, with null in the fields the provider does not use.
 */
export const DeployTargetInputSchema = nullMeansAbsent(
  z
    .object({
      provider: DeployProviderSchema,
      url: HttpUrlSchema.optional(),
      stepSeconds: z.number().min(0, between(0, 3600)).max(3600, between(0, 3600)).optional(),
      verification: VerificationInputSchema.optional(),
    })
    .superRefine((t, ctx) => {
      if (t.provider === 'WEBHOOK' && t.url === undefined) {
        ctx.addIssue({ code: 'custom', path: ['url'], message: 'is required when provider is WEBHOOK' });
      }
      if (t.provider === 'WEBHOOK' && t.stepSeconds !== undefined) {
        ctx.addIssue({ code: 'custom', path: ['stepSeconds'], message: 'is only for provider SIMULATED' });
      }
      if (t.provider === 'SIMULATED' && t.url !== undefined) {
        ctx.addIssue({ code: 'custom', path: ['url'], message: 'is only for provider WEBHOOK' });
      }
    })
    .transform(
      (t): DeployTarget =>
        t.provider === 'WEBHOOK'
          ? { provider: 'WEBHOOK', url: t.url!, stepSeconds: null, ...verificationOf(t) }
          : { provider: 'SIMULATED', url: null, stepSeconds: t.stepSeconds ?? DEFAULT_STEP_SECONDS, ...verificationOf(t) },
    ),
);

// ---------------------------------------------------------------- projects and environments

export const CreateProjectInputSchema = nullMeansAbsent(
  z.object({
    slug: SlugSchema,
    name: text(200),
    withDefaultEnvironments: z.boolean().default(true),
  }),
);

const RegionSchema = text(64);

export const CreateEnvironmentInputSchema = nullMeansAbsent(
  z
    .object({
      projectId: IdSchema,
      slug: SlugSchema,
      name: text(200),
      type: EnvironmentTypeSchema,
      purpose: EnvironmentPurposeSchema.optional(),
      promotesFrom: SlugSchema.optional(),
      region: RegionSchema.optional(),
      policy: DeployPolicyInputSchema.optional(),
      deployTarget: DeployTargetInputSchema.optional(),
      copySettingsFrom: SlugSchema.optional(),
      expiresAt: FutureDateTimeSchema.optional(),
    })
    .superRefine((e, ctx) => {
      if (e.promotesFrom !== undefined && e.promotesFrom === e.slug) {
        ctx.addIssue({ code: 'custom', path: ['promotesFrom'], message: 'must not be the environment itself' });
      }
    }),
);

/** Left-out fields keep their value; promotesFrom, region and expiresAt: null clears. */
export const UpdateEnvironmentInputSchema = nullMeansAbsent(
  z.object({
    id: IdSchema,
    name: text(200).optional(),
    promotesFrom: SlugSchema.nullable().optional(),
    region: RegionSchema.nullable().optional(),
    policy: DeployPolicyInputSchema.optional(),
    deployTarget: DeployTargetInputSchema.optional(),
    frozen: z.boolean().optional(),
    expiresAt: FutureDateTimeSchema.nullable().optional(),
  }),
  ['promotesFrom', 'region', 'expiresAt'],
);

// ---------------------------------------------------------------- settings

export const FeatureFlagInputSchema = z.object({
  key: storableString().regex(/^[a-zA-Z][a-zA-Z0-9_.-]{0,63}$/, 'must match ^[a-zA-Z][a-zA-Z0-9_.-]{0,63}$ (at most 64 characters)'),
  enabled: z.boolean(),
});

/** requestsPerMinute: required when enabled; null clears it (only while disabled). */
export const RateLimitInputSchema = nullMeansAbsent(
  z
    .object({
      enabled: z.boolean(),
      requestsPerMinute: intBetween(1, 1_000_000).nullable().optional(),
    })
    .superRefine((r, ctx) => {
      if (r.enabled && (r.requestsPerMinute === undefined || r.requestsPerMinute === null)) {
        ctx.addIssue({ code: 'custom', path: ['requestsPerMinute'], message: 'is required when enabled is true' });
      }
    }),
  ['requestsPerMinute'],
);

export const CronSchema = storableString()
  .trim()
  .max(200, 'must be at most 200 characters')
  .refine((v) => isValidCron(v), 'must be a valid 5-field cron expression (minute hour day-of-month month day-of-week)');

/**
 * Left-out fields keep their value; backupSchedule and runbookUrl: null clears. An empty patch
 * is valid (nothing to change). featureFlags keys and corsOrigins must not repeat.
 */
export const EnvironmentSettingsPatchSchema = nullMeansAbsent(
  z.object({
    logLevel: LogLevelSchema.optional(),
    featureFlags: uniqueList(FeatureFlagInputSchema, 'flag key', (f) => f.key)
      .max(200, 'must have at most 200 flags')
      .optional(),
    rateLimit: RateLimitInputSchema.optional(),
    corsOrigins: uniqueList(OriginSchema, 'origin', (o) => o)
      .max(50, 'must have at most 50 origins')
      .optional(),
    dataPolicy: DataPolicySchema.optional(),
    performanceMonitoring: z.boolean().optional(),
    alerting: z.boolean().optional(),
    backupSchedule: CronSchema.nullable().optional(),
    readReplicas: intBetween(0, 15).optional(),
    runbookUrl: HttpUrlSchema.nullable().optional(),
    securityHardening: z.boolean().optional(),
  }),
  ['backupSchedule', 'runbookUrl'],
);

export const UpdateEnvironmentSettingsInputSchema = nullMeansAbsent(
  z.object({
    environmentId: IdSchema,
    patch: EnvironmentSettingsPatchSchema,
    expectedVersion: z
      .number()
      .int('must be a whole number of at least 1')
      .min(1, 'must be at least 1')
      .max(2_147_483_647, 'must be at most 2147483647')
      .optional(),
  }),
);

// ---------------------------------------------------------------- databases

export const CreateDatabaseConnectionInputSchema = nullMeansAbsent(
  z.object({
    projectId: IdSchema,
    name: text(100),
    type: DatabaseTypeSchema.default('POSTGRES'),
  }),
);

export const DEFAULT_DATABASE_PORT = 5432;

/** Sets the whole value of a connection in one environment; port defaults to 5432 (contract). */
export const SetDatabaseConnectionValueInputSchema = nullMeansAbsent(
  z.object({
    connectionId: IdSchema,
    environment: SlugSchema,
    host: HostSchema,
    port: intBetween(1, 65_535).default(DEFAULT_DATABASE_PORT),
    database: text(63),
    user: text(63).optional(),
    ssl: z.boolean().optional(),
    poolSize: intBetween(1, 1000).optional(),
    passwordSecret: SecretNameSchema.optional(),
  }),
);

// ---------------------------------------------------------------- secrets

const DescriptionSchema = longText(1000);
const rotationDaysRequired = (s: { rotationEnabled?: boolean; rotationDays?: number }, ctx: z.RefinementCtx) => {
  if (s.rotationEnabled === true && s.rotationDays === undefined) {
    ctx.addIssue({ code: 'custom', path: ['rotationDays'], message: 'is required when rotationEnabled is true' });
  }
};

export const CreateSecretInputSchema = nullMeansAbsent(
  z
    .object({
      projectId: IdSchema,
      name: SecretNameSchema,
      description: DescriptionSchema.default(''),
      rotationEnabled: z.boolean().default(false),
      rotationDays: intBetween(1, 3650).optional(),
    })
    .superRefine(rotationDaysRequired),
);

/**
 * rotationDays is required whenever rotationEnabled: true is sent, even if the secret already
 * has days stored: the input alone then says what rotation will be, and no merge can end up
 * enabled without days.
 */
export const UpdateSecretInputSchema = nullMeansAbsent(
  z
    .object({
      id: IdSchema,
      description: DescriptionSchema.optional(),
      rotationEnabled: z.boolean().optional(),
      rotationDays: intBetween(1, 3650).optional(),
    })
    .superRefine(rotationDaysRequired),
);

export const MAX_SECRET_VALUE_BYTES = 64 * 1024;
const utf8 = new TextEncoder();

export const SetSecretValueInputSchema = nullMeansAbsent(
  z.object({
    secretId: IdSchema,
    environment: SlugSchema,
    // Kept byte for byte: no trimming, since whitespace may be part of a secret. Not free text:
    // only encrypted (or in the store) it may hold a NUL, but like all text it must be
    // well-formed Unicode (domain/text.ts), or it would not come back byte for byte.
    value: z.string().superRefine((v, ctx) => {
      const surrogate = unpairedSurrogateProblem(v);
      if (surrogate) {
        ctx.addIssue({ code: 'custom', message: surrogate });
        return;
      }
      const bytes = utf8.encode(v).length;
      if (bytes < 1) ctx.addIssue({ code: 'custom', message: 'must not be empty' });
      if (bytes > MAX_SECRET_VALUE_BYTES) {
        ctx.addIssue({ code: 'custom', message: `must be at most 64 KiB (${MAX_SECRET_VALUE_BYTES} bytes of UTF-8)` });
      }
    }),
  }),
);

export const SecretValueRefSchema = z.object({ secretId: IdSchema, environment: SlugSchema });

// ---------------------------------------------------------------- releases and deployments

/** version left out: the service defaults it to the short sha (contract). */
export const RecordPushInputSchema = nullMeansAbsent(
  z.object({
    projectId: IdSchema,
    branch: GitBranchSchema,
    commitSha: CommitShaSchema,
    message: longText(10_000).optional(),
    author: text(200).optional(),
    version: text(100).optional(),
  }),
);

/** Breaking a freeze window's glass: a reason is required (v2). */
export const FreezeOverrideInputSchema = z.object({ reason: text(1000) });
export const DeployInputSchema = nullMeansAbsent(
  z.object({ environmentId: IdSchema, releaseId: IdSchema, overrideFreeze: FreezeOverrideInputSchema.optional() }),
);
export const PromoteInputSchema = nullMeansAbsent(
  z.object({ environmentId: IdSchema, releaseId: IdSchema.optional(), overrideFreeze: FreezeOverrideInputSchema.optional() }),
);
export const RollbackInputSchema = nullMeansAbsent(z.object({ environmentId: IdSchema, releaseId: IdSchema.optional() }));

/** v2: lift a release's quarantine in one environment. */
export const ReleaseQuarantineInputSchema = z.object({ environmentId: IdSchema, releaseId: IdSchema });

export const DecisionInputSchema = nullMeansAbsent(z.object({ deploymentId: IdSchema, comment: longText(2000).optional() }));

/** step (a step name) and message bounds are ours: the contract is silent. */
export const ReportDeploymentStatusInputSchema = nullMeansAbsent(
  z.object({
    deploymentId: IdSchema,
    step: text(200).optional(),
    progress: z.number().min(0, between(0, 1)).max(1, between(0, 1)).optional(),
    status: StepStatusSchema,
    message: longText(10_000).optional(),
  }),
);

// ---------------------------------------------------------------- freeze windows

/** Slug globs: the slug alphabet plus `*` and `?`. */
const SlugGlobSchema = storableString()
  .min(1, 'must not be empty')
  .max(100, 'must be at most 100 characters')
  .regex(/^[a-z0-9*?-]+$/, 'must be a glob of lower-case letters, digits, - and the wildcards * and ?');

/**
 * A new freeze window. The field shapes here; the cross-field rules (one-off or recurring, the
 * RRULE, the time zone, the bounds of a duration) are domain/freeze.ts checkFreezeWindow, applied
 * by the refinement below so that both reach the client as one BAD_USER_INPUT naming the field.
 */
export const CreateFreezeWindowInputSchema = nullMeansAbsent(
  z
    .object({
      projectId: IdSchema,
      name: text(100),
      reason: text(1000),
      environmentSlugs: uniqueList(SlugGlobSchema, 'slug', (s) => s)
        .max(50, 'must have at most 50 slugs')
        .default([]),
      environmentTypes: uniqueList(EnvironmentTypeSchema, 'type', (t) => t).default([]),
      startsAt: DateTimeSchema,
      endsAt: DateTimeSchema.optional(),
      recurrence: storableString().max(500, 'must be at most 500 characters').optional(),
      durationMinutes: z.number().int('must be a whole number').optional(),
      timeZone: storableString().max(100, 'must be at most 100 characters').default('UTC'),
      allowRollback: z.boolean().default(true),
    })
    .superRefine((w, ctx) => {
      try {
        checkFreezeWindow({
          startsAt: w.startsAt,
          endsAt: w.endsAt ?? null,
          recurrence: w.recurrence ?? null,
          durationMinutes: w.durationMinutes ?? null,
          timeZone: w.timeZone,
        });
      } catch (error) {
        if (!(error instanceof FreezeRuleError)) throw error;
        ctx.addIssue({ code: 'custom', path: [error.field], message: error.message });
      }
    }),
);

// ---------------------------------------------------------------- tokens

export const CreateApiTokenInputSchema = nullMeansAbsent(
  z.object({
    name: text(100),
    roles: uniqueRoles.min(1, 'must name at least one role'),
    expiresAt: FutureDateTimeSchema.optional(),
    /** v2: a token scoped to this project (a Project id). */
    projectId: IdSchema.optional(),
  }),
);

// ---------------------------------------------------------------- project access (v2)

export const ProjectVisibilitySchema = z.enum(PROJECT_VISIBILITIES);

/**
 * A token's `sub` or an OIDC group, compared exactly as the token carries it: never trimmed, so
 * surrounding white space is refused rather than silently granting a name no token has.
 */
const GranteeSchema = storableString()
  .min(1, 'must not be empty')
  .max(500, 'must be at most 500 characters')
  .refine((s) => s.trim() === s, 'must not start or end with white space');

/** Exactly one of subject and group (null counts as absent). */
const oneGrantee = <T extends { subject?: string; group?: string }>(value: T, ctx: z.core.$RefinementCtx<T>) => {
  if ((value.subject === undefined) === (value.group === undefined)) {
    ctx.addIssue({
      code: 'custom',
      path: [value.subject === undefined ? 'subject' : 'group'],
      message: 'give exactly one of subject and group',
    });
  }
};

export const GrantProjectRolesInputSchema = nullMeansAbsent(
  z
    .object({
      projectId: IdSchema,
      subject: GranteeSchema.optional(),
      group: GranteeSchema.optional(),
      roles: uniqueRoles.min(1, 'must name at least one role'),
    })
    .superRefine(oneGrantee),
);

export const RevokeProjectRolesInputSchema = nullMeansAbsent(
  z.object({ projectId: IdSchema, subject: GranteeSchema.optional(), group: GranteeSchema.optional() }).superRefine(oneGrantee),
);

export const SetProjectVisibilityInputSchema = nullMeansAbsent(z.object({ projectId: IdSchema, visibility: ProjectVisibilitySchema }));
// ---------------------------------------------------------------- trust policies

/** Exact strings compared with a token's claims: no surrounding or only-blank text. */
const claimString = (max: number) =>
  storableString()
    .min(1, 'must not be empty')
    .max(max, `must be at most ${max} characters`)
    .refine((v) => v.trim() === v && v !== '', 'must not be blank or start or end with spaces');

/**
 * createTrustPolicy's input. `production` (NODE_ENV): the issuer must then be https; outside it
 * http on a loopback address is accepted too (the contract's issuer rule, domain/identity.ts).
 */
export const trustPolicyInputSchema = (production: boolean) =>
  nullMeansAbsent(
    z.object({
      projectId: IdSchema,
      issuer: claimString(2048).check((ctx) => {
        const problem = issuerUrlProblem(ctx.value, production);
        if (problem) ctx.issues.push({ code: 'custom', message: problem, input: ctx.value });
      }),
      audience: claimString(1024),
      // Only `*` is special (any run of characters). A pattern of nothing but `*` would trust every
      // workload of the issuer (for GitHub: every repository in the world), so it is refused.
      subjectPattern: claimString(1024).refine(
        (v) => /[^*]/.test(v),
        'must name more than `*` (it would match every subject of the issuer)',
      ),
      roles: uniqueRoles.min(1, 'must name at least one role'),
    }),
  );
export const CreateTrustPolicyInputSchema = trustPolicyInputSchema(false);

// ---------------------------------------------------------------- preview environments

/**
 * setPreviewPolicy. branchPattern: a glob as for a policy's branchPattern; copySettingsFrom
 * (default development) must also be an active environment of the project, which the service
 * checks; ttlHours between PREVIEW_TTL_HOURS.min and .max (default 72).
 */
export const SetPreviewPolicyInputSchema = nullMeansAbsent(
  z.object({
    projectId: IdSchema,
    enabled: z.boolean(),
    branchPattern: BranchPatternSchema,
    copySettingsFrom: SlugSchema.default(PREVIEW_COPY_SETTINGS_FROM_DEFAULT),
    ttlHours: intBetween(PREVIEW_TTL_HOURS.min, PREVIEW_TTL_HOURS.max).default(PREVIEW_TTL_HOURS.default),
  }),
);

// ---------------------------------------------------------------- notifications

export const NotificationKindSchema = z.enum(NOTIFICATION_KINDS);
export const NotificationEventSchema = z.enum(NOTIFICATION_EVENTS);

/** An environment filter: a slug, or a glob of one (`*` any run, `?` one character). */
const EnvironmentGlobSchema = storableString().regex(
  /^[a-z0-9*?-]{1,39}$/,
  'must be an environment slug or a glob of one (lower-case letters, digits, hyphens, * and ?; at most 39 characters)',
);

/** A channel URL is a credential: its problems are named, it is never quoted. */
const ChannelUrlSchema = storableString().check((ctx) => {
  const problem = channelUrlProblem(ctx.value);
  if (problem) ctx.issues.push({ code: 'custom', message: problem, input: '[redacted]', continue: false });
});

export const CreateNotificationChannelInputSchema = nullMeansAbsent(
  z.object({
    projectId: IdSchema,
    name: text(100),
    kind: NotificationKindSchema,
    url: ChannelUrlSchema,
    events: uniqueList(NotificationEventSchema, 'event', (e) => e).min(1, 'must name at least one event'),
    environmentSlugs: uniqueList(EnvironmentGlobSchema, 'environment', (e) => e)
      .max(50, 'must be at most 50 globs')
      .default([]),
  }),
);
export type CreateNotificationChannelInput = z.output<typeof CreateNotificationChannelInputSchema>;

// ---------------------------------------------------------------- per mutation

export type MutationName = Exclude<Action, 'read'>;

/** Each mutation's argument and its schema, so a resolver (or a test) cannot pick the wrong one. */
export const MUTATION_INPUTS = {
  createProject: { arg: 'input', schema: CreateProjectInputSchema },
  createEnvironment: { arg: 'input', schema: CreateEnvironmentInputSchema },
  updateEnvironment: { arg: 'input', schema: UpdateEnvironmentInputSchema },
  updateEnvironmentSettings: { arg: 'input', schema: UpdateEnvironmentSettingsInputSchema },
  archiveEnvironment: { arg: 'id', schema: IdSchema },
  createDatabaseConnection: { arg: 'input', schema: CreateDatabaseConnectionInputSchema },
  setDatabaseConnectionValue: { arg: 'input', schema: SetDatabaseConnectionValueInputSchema },
  createSecret: { arg: 'input', schema: CreateSecretInputSchema },
  updateSecret: { arg: 'input', schema: UpdateSecretInputSchema },
  deleteSecret: { arg: 'id', schema: IdSchema },
  setSecretValue: { arg: 'input', schema: SetSecretValueInputSchema },
  rotateSecret: { arg: 'input', schema: SecretValueRefSchema },
  revealSecretValue: { arg: 'input', schema: SecretValueRefSchema },
  recordPush: { arg: 'input', schema: RecordPushInputSchema },
  deploy: { arg: 'input', schema: DeployInputSchema },
  promote: { arg: 'input', schema: PromoteInputSchema },
  approveDeployment: { arg: 'input', schema: DecisionInputSchema },
  rejectDeployment: { arg: 'input', schema: DecisionInputSchema },
  cancelDeployment: { arg: 'id', schema: IdSchema },
  rollback: { arg: 'input', schema: RollbackInputSchema },
  reportDeploymentStatus: { arg: 'input', schema: ReportDeploymentStatusInputSchema },
  createApiToken: { arg: 'input', schema: CreateApiTokenInputSchema },
  revokeApiToken: { arg: 'id', schema: IdSchema },
  setProjectVisibility: { arg: 'input', schema: SetProjectVisibilityInputSchema },
  grantProjectRoles: { arg: 'input', schema: GrantProjectRolesInputSchema },
  revokeProjectRoles: { arg: 'input', schema: RevokeProjectRolesInputSchema },
  createTrustPolicy: { arg: 'input', schema: CreateTrustPolicyInputSchema },
  deleteTrustPolicy: { arg: 'id', schema: IdSchema },
  releaseQuarantine: { arg: 'input', schema: ReleaseQuarantineInputSchema },
  resumeAutoDeploy: { arg: 'environmentId', schema: IdSchema },
  setPreviewPolicy: { arg: 'input', schema: SetPreviewPolicyInputSchema },
  createNotificationChannel: { arg: 'input', schema: CreateNotificationChannelInputSchema },
  deleteNotificationChannel: { arg: 'id', schema: IdSchema },
  testNotificationChannel: { arg: 'id', schema: IdSchema },
  createFreezeWindow: { arg: 'input', schema: CreateFreezeWindowInputSchema },
  deleteFreezeWindow: { arg: 'id', schema: IdSchema },
} as const satisfies Record<MutationName, { arg: 'input' | 'id' | 'environmentId'; schema: z.ZodType }>;

export type CreateProjectInput = z.output<typeof CreateProjectInputSchema>;
export type DeployPolicyInput = z.output<typeof DeployPolicyInputSchema>;
export type DeployTargetInput = z.output<typeof DeployTargetInputSchema>;
export type CreateEnvironmentInput = z.output<typeof CreateEnvironmentInputSchema>;
export type UpdateEnvironmentInput = z.output<typeof UpdateEnvironmentInputSchema>;
export type EnvironmentSettingsPatchInput = z.output<typeof EnvironmentSettingsPatchSchema>;
export type UpdateEnvironmentSettingsInput = z.output<typeof UpdateEnvironmentSettingsInputSchema>;
export type CreateDatabaseConnectionInput = z.output<typeof CreateDatabaseConnectionInputSchema>;
export type SetDatabaseConnectionValueInput = z.output<typeof SetDatabaseConnectionValueInputSchema>;
export type CreateSecretInput = z.output<typeof CreateSecretInputSchema>;
export type UpdateSecretInput = z.output<typeof UpdateSecretInputSchema>;
export type SetSecretValueInput = z.output<typeof SetSecretValueInputSchema>;
export type SecretValueRef = z.output<typeof SecretValueRefSchema>;
export type RecordPushInput = z.output<typeof RecordPushInputSchema>;
export type DeployInput = z.output<typeof DeployInputSchema>;
export type PromoteInput = z.output<typeof PromoteInputSchema>;
export type RollbackInput = z.output<typeof RollbackInputSchema>;
export type DecisionInput = z.output<typeof DecisionInputSchema>;
export type ReportDeploymentStatusInput = z.output<typeof ReportDeploymentStatusInputSchema>;
export type CreateApiTokenInput = z.output<typeof CreateApiTokenInputSchema>;
export type GrantProjectRolesInput = z.output<typeof GrantProjectRolesInputSchema>;
export type RevokeProjectRolesInput = z.output<typeof RevokeProjectRolesInputSchema>;
export type SetProjectVisibilityInput = z.output<typeof SetProjectVisibilityInputSchema>;
export type CreateTrustPolicyInput = z.output<typeof CreateTrustPolicyInputSchema>;

/** Project.insights' arguments: a range [from, to) of at most MAX_INSIGHT_DAYS days. */
export const InsightsArgsSchema = z.object({ environment: storableString(), from: z.date(), to: z.date() }).superRefine((a, ctx) => {
  const problem = insightRangeProblem(a.from, a.to);
  if (problem) ctx.addIssue({ code: 'custom', path: ['to'], message: problem });
});
export type InsightsArgs = z.output<typeof InsightsArgsSchema>;
export type SetPreviewPolicyInput = z.output<typeof SetPreviewPolicyInputSchema>;
export type CreateFreezeWindowInput = z.output<typeof CreateFreezeWindowInputSchema>;

// ---------------------------------------------------------------- parsing

const EXPECTED: Record<string, string> = {
  string: 'must be a string',
  number: 'must be a number',
  int: 'must be a whole number',
  boolean: 'must be true or false',
  array: 'must be a list',
  object: 'must be an object',
  date: 'must be a date-time',
};

/** Wording for issues whose schema gave no message of its own. Never quotes the input. */
const describeIssue: z.core.$ZodErrorMap = (issue) => {
  switch (issue.code) {
    case 'invalid_type':
      if (issue.input === undefined) return 'is required';
      if (issue.input === null) return 'must not be null';
      return EXPECTED[issue.expected] ?? `must be of type ${issue.expected}`;
    case 'invalid_value':
      if (issue.input === undefined) return 'is required';
      if (issue.input === null) return 'must not be null';
      return `must be one of ${issue.values.map(String).join(', ')}`;
    case 'too_small':
      if (issue.origin === 'string') return `must be at least ${issue.minimum} characters`;
      if (issue.origin === 'array') return `must have at least ${issue.minimum} items`;
      return `must be at least ${issue.minimum}`;
    case 'too_big':
      if (issue.origin === 'string') return `must be at most ${issue.maximum} characters`;
      if (issue.origin === 'array') return `must have at most ${issue.maximum} items`;
      return `must be at most ${issue.maximum}`;
    case 'unrecognized_keys':
      return `unknown field ${issue.keys.join(', ')}`;
    default:
      return undefined;
  }
};

/** `input` + ['patch', 'corsOrigins', 2] -> `input.patch.corsOrigins[2]`. */
export function formatPath(base: string, path: readonly PropertyKey[]): string {
  let out = base;
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out === '' ? String(key) : `.${String(key)}`;
  }
  return out;
}

const MAX_REPORTED_ISSUES = 5;

/**
 * The parsed (normalised) value, or BAD_USER_INPUT: the message lists the problems as
 * `<full path>: <rule>` joined with "; " (at most five, then a count), and extensions.field is
 * the full path of the first one.
 */
export function parseInput<S extends z.ZodType>(schema: S, value: unknown, path: string): z.output<S> {
  const result = schema.safeParse(value, { error: describeIssue });
  if (result.success) return result.data;
  const lines: string[] = [];
  for (const issue of result.error.issues) {
    const line = `${formatPath(path, issue.path)}: ${issue.message}`;
    if (!lines.includes(line)) lines.push(line);
  }
  const shown = lines.slice(0, MAX_REPORTED_ISSUES);
  if (lines.length > shown.length) shown.push(`and ${lines.length - shown.length} more`);
  throw badInput(shown.join('; '), formatPath(path, result.error.issues[0]?.path ?? []));
}
