// The domain's value types, shared by the database schema, the GraphQL layer and the workflows.
// The closed sets come from domain/values.ts.
import type {
  APPROVAL_DECISIONS,
  DATA_POLICIES,
  DEPLOY_PROVIDERS,
  DEPLOY_TRIGGERS,
  DEPLOYMENT_EVENT_TYPES,
  DEPLOYMENT_KINDS,
  DEPLOYMENT_STATUSES,
  ENVIRONMENT_PURPOSES,
  ENVIRONMENT_TYPES,
  LOG_LEVELS,
  PROJECT_VISIBILITIES,
  ROLES,
  STEP_STATUSES,
  TERMINAL_STATUSES,
  VERIFICATION_STATUSES,
} from './values.ts';

export type Role = (typeof ROLES)[number];
export type ProjectVisibility = (typeof PROJECT_VISIBILITIES)[number];
export type EnvironmentType = (typeof ENVIRONMENT_TYPES)[number];
export type EnvironmentPurpose = (typeof ENVIRONMENT_PURPOSES)[number];
export type DeployTrigger = (typeof DEPLOY_TRIGGERS)[number];
export type LogLevel = (typeof LOG_LEVELS)[number];
export type DataPolicy = (typeof DATA_POLICIES)[number];
export type DeployProvider = (typeof DEPLOY_PROVIDERS)[number];
export type DeploymentKind = (typeof DEPLOYMENT_KINDS)[number];
export type ApprovalDecision = (typeof APPROVAL_DECISIONS)[number];
export type DeploymentEventType = (typeof DEPLOYMENT_EVENT_TYPES)[number];
export type TerminalStatus = (typeof TERMINAL_STATUSES)[number];

export interface DeployPolicy {
  trigger: DeployTrigger;
  branchPattern: string | null;
  requiredApprovals: number;
  approverRoles: Role[];
  deployerRoles: Role[];
  preventSelfApproval: boolean;
  waitTimerSeconds: number;
  approvalTimeoutSeconds: number;
  /** v2: on failed verification, quarantine, pause and roll back. Absent in rows written before: false. */
  autoRollback?: boolean;
  /** Who may break a freeze window's glass (v2); absent in policies stored before it: [ADMIN]. */
  freezeOverrideRoles?: Role[];
}

export interface DeployTarget {
  provider: DeployProvider;
  url: string | null;
  stepSeconds: number | null;
  /** v2: HTTP probes after the deploy steps; absent or null: none. */
  verification?: VerificationConfig | null;
}

/** A deploy target's verification, with its defaults applied (domain/validation.ts). */
export interface VerificationConfig {
  url: string;
  expectStatus: number;
  intervalSeconds: number;
  successThreshold: number;
  failureThreshold: number;
  timeoutSeconds: number;
}

export type VerificationStatus = (typeof VERIFICATION_STATUSES)[number];

/**
 * What a deployment verifies against (pinned when it is made, again when it starts) and how far
 * it got. Never a response body: it could hold secrets.
 */
export interface VerificationRecord {
  config: VerificationConfig | null;
  /** The environment's policy.autoRollback, pinned with the config. */
  autoRollback: boolean;
  status: VerificationStatus;
  probes: number;
  /** Consecutive passes and failures so far (the thresholds count these). */
  successes: number;
  failures: number;
  lastStatusCode: number | null;
  lastError: string | null;
  startedAt: string | null;
  finishedAt: string | null;
}

export interface FeatureFlag {
  key: string;
  enabled: boolean;
}

export interface EnvironmentSettings {
  logLevel: LogLevel;
  featureFlags: FeatureFlag[];
  rateLimit: { enabled: boolean; requestsPerMinute: number | null };
  corsOrigins: string[];
  dataPolicy: DataPolicy;
  performanceMonitoring: boolean;
  alerting: boolean;
  backupSchedule: string | null;
  readReplicas: number;
  runbookUrl: string | null;
  securityHardening: boolean;
}

export type DeploymentStatus = (typeof DEPLOYMENT_STATUSES)[number];
export type StepStatus = (typeof STEP_STATUSES)[number];

export interface DeploymentStep {
  name: string;
  status: StepStatus;
  progress: number;
  startedAt: string | null;
  finishedAt: string | null;
}

export interface DatabaseValueSnapshot {
  host: string;
  port: number;
  database: string;
  user: string | null;
  ssl: boolean;
  poolSize: number;
  passwordSecret: string | null;
}

export interface ConfigSnapshot {
  digest: string;
  settingsVersion: number;
  settings: EnvironmentSettings;
  databases: Record<string, DatabaseValueSnapshot>;
  secretVersions: Record<string, string | null>;
  takenAt: string;
}
