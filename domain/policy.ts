// Best-practice checks of an environment (contract README, "Policy checks"). Pure: the caller
// gathers the facts; no secret value is ever part of the input, so none can leak into a detail.
import { settingsDifferences } from './compare.ts';
import { isValidCron } from './cron.ts';
import type { EnvironmentSettings, EnvironmentType } from './types.ts';

export type PolicySeverity = 'error' | 'warning';

export interface PolicyCheck {
  id: string;
  title: string;
  passed: boolean;
  severity: PolicySeverity;
  detail: string | null;
}

export interface PolicyReport {
  passed: boolean;
  checks: PolicyCheck[];
}

export interface PolicyInput {
  environment: { type: EnvironmentType; settings: EnvironmentSettings };
  /** Settings of the project's first PRODUCTION environment by position, if any. */
  productionSettings: EnvironmentSettings | null;
  /** Every flag key known in any environment of the project. */
  projectFlagKeys: string[];
  /** This environment's database connection values. */
  databaseValues: { connectionName: string; ssl: boolean }[];
  /** Every secret of the project, and whether it has a value in this environment. */
  secrets: { name: string; isSet: boolean }[];
}

interface CheckDefinition {
  id: string;
  title: string;
  severity: PolicySeverity;
  /** Which types run it; null: every type. */
  appliesTo: EnvironmentType | null;
  /** null when the check passes, otherwise what is wrong. */
  problem: (input: PolicyInput) => string | null;
}

/** Settings that staging may keep apart from production (the contract's exceptions). */
const STAGING_MAY_DIFFER = ['logLevel', 'dataPolicy', 'corsOrigins', 'backupSchedule', 'readReplicas', 'runbookUrl'];

// The contract's table, in its order: reports list checks in this order.
const CHECKS: readonly CheckDefinition[] = [
  {
    id: 'development.debug-logging',
    title: 'Debug logging is on',
    severity: 'warning',
    appliesTo: 'DEVELOPMENT',
    problem: ({ environment: { settings } }) => (settings.logLevel === 'DEBUG' ? null : `logLevel is ${settings.logLevel}, expected DEBUG`),
  },
  {
    id: 'development.rate-limiting-off',
    title: 'Rate limiting is off',
    severity: 'warning',
    appliesTo: 'DEVELOPMENT',
    problem: ({ environment: { settings } }) => (settings.rateLimit.enabled ? `Rate limiting is enabled${perMinute(settings)}` : null),
  },
  {
    id: 'development.test-data',
    title: 'Uses test data',
    severity: 'error',
    appliesTo: 'DEVELOPMENT',
    problem: ({ environment: { settings } }) =>
      settings.dataPolicy === 'TEST_DATA' ? null : `dataPolicy is ${settings.dataPolicy}, expected TEST_DATA`,
  },
  {
    id: 'development.cors-localhost',
    title: 'CORS allows localhost',
    severity: 'warning',
    appliesTo: 'DEVELOPMENT',
    problem: ({ environment: { settings } }) =>
      settings.corsOrigins.some(isLocalOrigin)
        ? null
        : `No origin on localhost or 127.0.0.1 in corsOrigins (${listOrNone(settings.corsOrigins)})`,
  },
  {
    id: 'development.all-flags-on',
    title: 'Every feature flag is on',
    severity: 'warning',
    appliesTo: 'DEVELOPMENT',
    problem: ({ environment: { settings }, projectFlagKeys }) => {
      const on = new Set(settings.featureFlags.filter((f) => f.enabled).map((f) => f.key));
      const off = unique(projectFlagKeys).filter((key) => !on.has(key));
      return off.length === 0 ? null : `Feature flags not enabled here: ${off.join(', ')}`;
    },
  },
  {
    id: 'staging.mirrors-production',
    title: 'Settings mirror production',
    severity: 'warning',
    appliesTo: 'STAGING',
    problem: ({ environment: { settings }, productionSettings }) => {
      if (!productionSettings) return null; // reported as a passing detail, see policyReport
      const differing = settingsDifferences(productionSettings, settings)
        .map((d) => d.path.slice('settings.'.length))
        .filter((key) => !STAGING_MAY_DIFFER.includes(key));
      return differing.length === 0 ? null : `Differs from production in: ${differing.join(', ')}`;
    },
  },
  {
    id: 'staging.anonymized-data',
    title: 'No production data',
    severity: 'error',
    appliesTo: 'STAGING',
    problem: ({ environment: { settings } }) =>
      settings.dataPolicy === 'PRODUCTION' ? 'dataPolicy is PRODUCTION; use ANONYMIZED_PRODUCTION or TEST_DATA' : null,
  },
  {
    id: 'staging.performance-monitoring',
    title: 'Performance monitoring is on',
    severity: 'warning',
    appliesTo: 'STAGING',
    problem: ({ environment: { settings } }) => (settings.performanceMonitoring ? null : 'performanceMonitoring is off'),
  },
  {
    id: 'production.security-hardening',
    title: 'Security hardening is on',
    severity: 'error',
    appliesTo: 'PRODUCTION',
    problem: ({ environment: { settings } }) => (settings.securityHardening ? null : 'securityHardening is off'),
  },
  {
    id: 'production.log-level',
    title: 'Log level is WARN or ERROR',
    severity: 'error',
    appliesTo: 'PRODUCTION',
    problem: ({ environment: { settings } }) =>
      settings.logLevel === 'WARN' || settings.logLevel === 'ERROR' ? null : `logLevel is ${settings.logLevel}, expected WARN or ERROR`,
  },
  {
    id: 'production.monitoring-alerts',
    title: 'Monitoring and alerting are on',
    severity: 'error',
    appliesTo: 'PRODUCTION',
    problem: ({ environment: { settings } }) => {
      const off = [...(settings.performanceMonitoring ? [] : ['performanceMonitoring']), ...(settings.alerting ? [] : ['alerting'])];
      return off.length === 0 ? null : `Off: ${off.join(', ')}`;
    },
  },
  {
    id: 'production.rate-limiting',
    title: 'Rate limiting is on',
    severity: 'error',
    appliesTo: 'PRODUCTION',
    problem: ({ environment: { settings } }) => (settings.rateLimit.enabled ? null : 'Rate limiting is disabled'),
  },
  {
    id: 'production.backups',
    title: 'Backups are scheduled',
    severity: 'error',
    appliesTo: 'PRODUCTION',
    problem: ({ environment: { settings } }) => {
      const schedule = settings.backupSchedule;
      if (schedule === null || schedule.trim() === '') return 'No backupSchedule is set';
      return isValidCron(schedule) ? null : `backupSchedule ${JSON.stringify(schedule)} is not a valid cron expression`;
    },
  },
  {
    id: 'production.read-replicas',
    title: 'At least one read replica',
    severity: 'warning',
    appliesTo: 'PRODUCTION',
    problem: ({ environment: { settings } }) =>
      settings.readReplicas >= 1 ? null : `readReplicas is ${settings.readReplicas}, expected at least 1`,
  },
  {
    id: 'production.runbook',
    title: 'A runbook is linked',
    severity: 'warning',
    appliesTo: 'PRODUCTION',
    // A blank URL links nowhere, so it does not count as set.
    problem: ({ environment: { settings } }) => (settings.runbookUrl?.trim() ? null : 'No runbookUrl is set'),
  },
  {
    id: 'production.database-ssl',
    title: 'Database connections use SSL',
    severity: 'error',
    appliesTo: 'PRODUCTION',
    problem: ({ databaseValues }) => {
      const plain = unique(databaseValues.filter((d) => !d.ssl).map((d) => d.connectionName));
      return plain.length === 0 ? null : `Database connections without ssl: ${plain.join(', ')}`;
    },
  },
  {
    id: 'secrets.all-set',
    title: 'Every secret has a value',
    severity: 'error',
    appliesTo: null,
    problem: ({ secrets }) => {
      const missing = unique(secrets.filter((s) => !s.isSet).map((s) => s.name));
      return missing.length === 0 ? null : `Secrets without a value here: ${missing.join(', ')}`;
    },
  },
];

/** Every check id, in report order. */
export const POLICY_CHECK_IDS: readonly string[] = Object.freeze(CHECKS.map((c) => c.id));

export function policyReport(input: PolicyInput): PolicyReport {
  const type = input.environment.type;
  const checks = CHECKS.filter((c) => c.appliesTo === null || c.appliesTo === type).map((c): PolicyCheck => {
    const problem = c.problem(input);
    return { id: c.id, title: c.title, severity: c.severity, passed: problem === null, detail: problem ?? passDetail(c, input) };
  });
  return { passed: !checks.some((c) => !c.passed && c.severity === 'error'), checks };
}

/** Ids of the failed checks that block deploy, promote and rollback. */
export function failedErrorChecks(report: PolicyReport): string[] {
  return report.checks.filter((c) => !c.passed && c.severity === 'error').map((c) => c.id);
}

/** A passing check says nothing, except where it passed only for want of something to check. */
function passDetail(check: CheckDefinition, input: PolicyInput): string | null {
  if (check.id === 'staging.mirrors-production' && input.productionSettings === null) {
    return 'The project has no production environment to compare with';
  }
  return null;
}

function perMinute(settings: EnvironmentSettings): string {
  const rpm = settings.rateLimit.requestsPerMinute;
  return rpm === null ? '' : ` (${rpm} requests per minute)`;
}

function isLocalOrigin(origin: string): boolean {
  const host = hostOf(origin);
  return host === 'localhost' || host === '127.0.0.1';
}

/** Hostname of an origin; also for a bare "localhost:3000", which URL reads as a scheme. */
function hostOf(origin: string): string | null {
  for (const candidate of [origin, `http://${origin}`]) {
    try {
      const host = new URL(candidate).hostname;
      if (host) return host;
    } catch {
      // not a URL this way; try the next
    }
  }
  return null;
}

function listOrNone(values: string[]): string {
  return values.length === 0 ? 'none' : values.join(', ');
}

/** Deduplicated and sorted (code-unit order), so details do not depend on query order. */
function unique(values: string[]): string[] {
  return [...new Set(values)].sort();
}
