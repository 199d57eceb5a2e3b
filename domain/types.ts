// The domain's value types, shared by the database schema, the GraphQL layer and the workflows.
import type { Role } from '../db/schema/common.ts';

export type { Role };
export type EnvironmentType = 'DEVELOPMENT' | 'STAGING' | 'PRODUCTION' | 'CUSTOM';
export type DeployTrigger = 'AUTO_ON_PUSH' | 'MANUAL_PROMOTE' | 'APPROVAL_REQUIRED';
export type LogLevel = 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';
export type DataPolicy = 'TEST_DATA' | 'ANONYMIZED_PRODUCTION' | 'PRODUCTION';
export type DeployProvider = 'SIMULATED' | 'WEBHOOK';

export interface DeployPolicy {
  trigger: DeployTrigger;
  branchPattern: string | null;
  requiredApprovals: number;
  approverRoles: Role[];
  deployerRoles: Role[];
  preventSelfApproval: boolean;
  waitTimerSeconds: number;
  approvalTimeoutSeconds: number;
}

export interface DeployTarget {
  provider: DeployProvider;
  url: string | null;
  stepSeconds: number | null;
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

export type DeploymentStatus =
  | 'QUEUED'
  | 'PENDING_APPROVAL'
  | 'WAITING'
  | 'RUNNING'
  | 'SUCCEEDED'
  | 'FAILED'
  | 'CANCELLED'
  | 'REJECTED'
  | 'EXPIRED';

export type StepStatus = 'PENDING' | 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'SKIPPED';

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
