// Every closed set of values, once. The TypeScript types (domain/types.ts), the database enums
// (db/schema), the zod input enums (domain/validation.ts), the GraphQL enums (schema/) and SQL
// filters are all derived from these arrays; their order is the order clients see.

export const ROLES = ['VIEWER', 'DEVELOPER', 'QA', 'APPROVER', 'ADMIN'] as const;

/** Project visibility (v2): INTERNAL is read by any authenticated principal, PRIVATE only by its members and ADMINs. */
export const PROJECT_VISIBILITIES = ['INTERNAL', 'PRIVATE'] as const;
export const ENVIRONMENT_TYPES = ['DEVELOPMENT', 'STAGING', 'PRODUCTION', 'CUSTOM'] as const;
export const ENVIRONMENT_PURPOSES = ['FEATURE_BRANCH', 'CLIENT_DEMO', 'LOAD_TESTING', 'SECURITY_AUDIT', 'REGIONAL', 'OTHER'] as const;
export const DEPLOY_TRIGGERS = ['AUTO_ON_PUSH', 'MANUAL_PROMOTE', 'APPROVAL_REQUIRED'] as const;
export const LOG_LEVELS = ['DEBUG', 'INFO', 'WARN', 'ERROR'] as const;
export const DATA_POLICIES = ['TEST_DATA', 'ANONYMIZED_PRODUCTION', 'PRODUCTION'] as const;
export const DEPLOY_PROVIDERS = ['SIMULATED', 'WEBHOOK'] as const;
export const DATABASE_TYPES = ['POSTGRES'] as const;

export const DEPLOYMENT_STATUSES = [
  'QUEUED',
  'PENDING_APPROVAL',
  'WAITING',
  'RUNNING',
  'SUCCEEDED',
  'FAILED',
  'CANCELLED',
  'REJECTED',
  'EXPIRED',
] as const;
/** The statuses a deployment never leaves. */
export const TERMINAL_STATUSES = ['SUCCEEDED', 'FAILED', 'CANCELLED', 'REJECTED', 'EXPIRED'] as const;
/** The statuses of a deployment that is not finished: the complement of TERMINAL_STATUSES. */
export const UNFINISHED_STATUSES = ['QUEUED', 'PENDING_APPROVAL', 'WAITING', 'RUNNING'] as const;

export const DEPLOYMENT_KINDS = ['PUSH', 'PROMOTION', 'ROLLBACK', 'MANUAL'] as const;
export const APPROVAL_DECISIONS = ['APPROVE', 'REJECT'] as const;
export const STEP_STATUSES = ['PENDING', 'RUNNING', 'SUCCEEDED', 'FAILED', 'SKIPPED'] as const;
/** Step statuses after which a step does not change again. */
export const FINISHED_STEP_STATUSES = ['SUCCEEDED', 'FAILED', 'SKIPPED'] as const;

export const DEPLOYMENT_EVENT_TYPES = [
  'CREATED',
  'APPROVAL_REQUESTED',
  'APPROVED',
  'APPROVALS_INVALIDATED',
  'REJECTED',
  'EXPIRED',
  'WAITING',
  'STARTED',
  'STEP_STARTED',
  'STEP_PROGRESS',
  'STEP_SUCCEEDED',
  'STEP_FAILED',
  'LOG',
  'SUCCEEDED',
  'FAILED',
  'CANCELLED',
  // v2: verification and automatic rollback (domain/verification.ts)
  'VERIFICATION_STARTED',
  'VERIFICATION_PASSED',
  'VERIFICATION_FAILED',
  'ROLLBACK_STARTED',
  // v2, freeze windows
  'FREEZE_OVERRIDDEN',
  'FROZEN_WAIT',
] as const;

/**
 * Insights: the events that end a deployment (counted, timed) and those that decide an approval
 * (with a status other than PENDING_APPROVAL); their instants are kept on the deployment's row.
 */
export const INSIGHT_OUTCOME_EVENTS = ['SUCCEEDED', 'FAILED'] as const satisfies readonly (typeof DEPLOYMENT_EVENT_TYPES)[number][];
export const INSIGHT_DECISION_EVENTS = ['APPROVED', 'REJECTED'] as const satisfies readonly (typeof DEPLOYMENT_EVENT_TYPES)[number][];
/** Post-deploy verification (v2): SKIPPED when the deploy target has none. */
export const VERIFICATION_STATUSES = ['PENDING', 'RUNNING', 'PASSED', 'FAILED', 'SKIPPED'] as const;
// Notifications (v2): channel kinds, the events a channel subscribes to, a delivery's status.
export const NOTIFICATION_KINDS = ['WEBHOOK', 'SLACK'] as const;
export const NOTIFICATION_EVENTS = [
  'APPROVAL_REQUESTED',
  'DEPLOYMENT_SUCCEEDED',
  'DEPLOYMENT_FAILED',
  'DEPLOYMENT_REJECTED',
  'DEPLOYMENT_EXPIRED',
  'DEPLOYMENT_ROLLED_BACK',
  'FREEZE_OVERRIDDEN',
  'SECRET_ROTATED',
  'TEST',
] as const;
export const DELIVERY_STATUSES = ['PENDING', 'DELIVERED', 'RETRYING', 'FAILED'] as const;

/** Whether `value` is one of `values`, narrowing it. */
export const isOneOf = <T extends string>(values: readonly T[], value: string): value is T => (values as readonly string[]).includes(value);

// Compile-time checks that the derived sets partition what they should.
type Exact<A, B> = [A] extends [B] ? ([B] extends [A] ? true : never) : never;
const _partition: Exact<(typeof TERMINAL_STATUSES)[number] | (typeof UNFINISHED_STATUSES)[number], (typeof DEPLOYMENT_STATUSES)[number]> =
  true;
void _partition;
