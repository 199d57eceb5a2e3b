import { describe, it, expect } from 'vitest';
import { defaultSettings } from '../../domain/defaults.ts';
import { POLICY_CHECK_IDS, failedErrorChecks, policyReport, type PolicyCheck, type PolicyInput } from '../../domain/policy.ts';
import type { EnvironmentSettings, EnvironmentType } from '../../domain/types.ts';

const CONTRACT_TABLE: [string, 'error' | 'warning'][] = [
  ['development.debug-logging', 'warning'],
  ['development.rate-limiting-off', 'warning'],
  ['development.test-data', 'error'],
  ['development.cors-localhost', 'warning'],
  ['development.all-flags-on', 'warning'],
  ['staging.mirrors-production', 'warning'],
  ['staging.anonymized-data', 'error'],
  ['staging.performance-monitoring', 'warning'],
  ['production.security-hardening', 'error'],
  ['production.log-level', 'error'],
  ['production.monitoring-alerts', 'error'],
  ['production.rate-limiting', 'error'],
  ['production.backups', 'error'],
  ['production.read-replicas', 'warning'],
  ['production.runbook', 'warning'],
  ['production.database-ssl', 'error'],
  ['secrets.all-set', 'error'],
];

/** Production settings that pass every check. */
const goodProduction = (): EnvironmentSettings => ({
  ...defaultSettings('PRODUCTION'),
  runbookUrl: 'https://runbooks.example/prod',
  featureFlags: [{ key: 'checkout', enabled: true }],
});

const goodSettings = (type: EnvironmentType): EnvironmentSettings => {
  switch (type) {
    case 'PRODUCTION':
      return goodProduction();
    case 'STAGING':
      return { ...defaultSettings('STAGING'), featureFlags: [{ key: 'checkout', enabled: true }] };
    default:
      return { ...defaultSettings(type), featureFlags: [{ key: 'checkout', enabled: true }] };
  }
};

function input(type: EnvironmentType, settings: Partial<EnvironmentSettings> = {}, over: Partial<PolicyInput> = {}): PolicyInput {
  return {
    environment: { type, settings: { ...goodSettings(type), ...settings } },
    productionSettings: goodProduction(),
    projectFlagKeys: ['checkout'],
    databaseValues: [{ connectionName: 'Primary Database', ssl: true }],
    secrets: [{ name: 'DB_PASSWORD', isSet: true }],
    ...over,
  };
}

function check(report: { checks: PolicyCheck[] }, id: string): PolicyCheck {
  const found = report.checks.find((c) => c.id === id);
  if (!found) throw new Error(`no check ${id} in ${report.checks.map((c) => c.id).join(', ')}`);
  return found;
}

describe('POLICY_CHECK_IDS', () => {
  it("is the contract's table, in order", () => {
    expect(POLICY_CHECK_IDS).toEqual(CONTRACT_TABLE.map(([id]) => id));
  });
});

describe('policyReport: which checks run', () => {
  const idsFor = (type: EnvironmentType) => policyReport(input(type)).checks.map((c) => c.id);

  it('DEVELOPMENT runs the development checks and secrets.all-set, in table order', () => {
    expect(idsFor('DEVELOPMENT')).toEqual([
      'development.debug-logging',
      'development.rate-limiting-off',
      'development.test-data',
      'development.cors-localhost',
      'development.all-flags-on',
      'secrets.all-set',
    ]);
  });

  it('STAGING runs the staging checks and secrets.all-set', () => {
    expect(idsFor('STAGING')).toEqual([
      'staging.mirrors-production',
      'staging.anonymized-data',
      'staging.performance-monitoring',
      'secrets.all-set',
    ]);
  });

  it('PRODUCTION runs the production checks and secrets.all-set', () => {
    expect(idsFor('PRODUCTION')).toEqual([
      'production.security-hardening',
      'production.log-level',
      'production.monitoring-alerts',
      'production.rate-limiting',
      'production.backups',
      'production.read-replicas',
      'production.runbook',
      'production.database-ssl',
      'secrets.all-set',
    ]);
  });

  it('CUSTOM runs only secrets.all-set', () => {
    expect(idsFor('CUSTOM')).toEqual(['secrets.all-set']);
  });

  it('CUSTOM is not judged by its settings, however production-unlike', () => {
    const report = policyReport(
      input('CUSTOM', {
        dataPolicy: 'PRODUCTION',
        logLevel: 'DEBUG',
        securityHardening: false,
        rateLimit: { enabled: false, requestsPerMinute: null },
      }),
    );
    expect(report.passed).toBe(true);
  });

  it('CUSTOM still fails secrets.all-set', () => {
    const report = policyReport(input('CUSTOM', {}, { secrets: [{ name: 'API_KEY', isSet: false }] }));
    expect(report.passed).toBe(false);
    expect(failedErrorChecks(report)).toEqual(['secrets.all-set']);
  });

  it('gives every check the severity of the contract and a title', () => {
    const severity = new Map(CONTRACT_TABLE);
    for (const type of ['DEVELOPMENT', 'STAGING', 'PRODUCTION'] as const) {
      for (const c of policyReport(input(type)).checks) {
        expect(c.severity).toBe(severity.get(c.id));
        expect(c.title.length).toBeGreaterThan(0);
      }
    }
  });

  it('passes every check for good settings, with no detail', () => {
    for (const type of ['DEVELOPMENT', 'STAGING', 'PRODUCTION', 'CUSTOM'] as const) {
      const report = policyReport(input(type));
      expect(report.checks.filter((c) => !c.passed)).toEqual([]);
      expect(report.checks.every((c) => c.detail === null)).toBe(true);
      expect(report.passed).toBe(true);
    }
  });

  it('passes the default environments on their error checks (warnings aside)', () => {
    for (const type of ['DEVELOPMENT', 'STAGING', 'PRODUCTION'] as const) {
      const report = policyReport({
        environment: { type, settings: defaultSettings(type) },
        productionSettings: defaultSettings('PRODUCTION'),
        projectFlagKeys: [],
        databaseValues: [],
        secrets: [],
      });
      expect(report.passed).toBe(true);
    }
    // Production's default has no runbook: a warning only.
    const prod = policyReport({
      environment: { type: 'PRODUCTION', settings: defaultSettings('PRODUCTION') },
      productionSettings: null,
      projectFlagKeys: [],
      databaseValues: [],
      secrets: [],
    });
    expect(prod.checks.filter((c) => !c.passed).map((c) => c.id)).toEqual(['production.runbook']);
  });
});

describe('development checks', () => {
  it('debug-logging', () => {
    expect(check(policyReport(input('DEVELOPMENT')), 'development.debug-logging').passed).toBe(true);
    const failed = check(policyReport(input('DEVELOPMENT', { logLevel: 'INFO' })), 'development.debug-logging');
    expect(failed).toMatchObject({ passed: false, severity: 'warning' });
    expect(failed.detail).toContain('INFO');
  });

  it('rate-limiting-off', () => {
    expect(check(policyReport(input('DEVELOPMENT')), 'development.rate-limiting-off').passed).toBe(true);
    const failed = check(
      policyReport(input('DEVELOPMENT', { rateLimit: { enabled: true, requestsPerMinute: 100 } })),
      'development.rate-limiting-off',
    );
    expect(failed).toMatchObject({ passed: false, severity: 'warning' });
    expect(failed.detail).toMatch(/enabled.*100/);
  });

  it('test-data (error)', () => {
    expect(check(policyReport(input('DEVELOPMENT')), 'development.test-data').passed).toBe(true);
    for (const dataPolicy of ['ANONYMIZED_PRODUCTION', 'PRODUCTION'] as const) {
      const report = policyReport(input('DEVELOPMENT', { dataPolicy }));
      const failed = check(report, 'development.test-data');
      expect(failed).toMatchObject({ passed: false, severity: 'error' });
      expect(failed.detail).toContain(dataPolicy);
      expect(report.passed).toBe(false);
    }
  });

  it('cors-localhost passes for localhost or 127.0.0.1 origins in any form', () => {
    for (const origins of [
      ['http://localhost:3000'],
      ['https://app.example', 'http://127.0.0.1:8080'],
      ['http://LOCALHOST'],
      ['localhost:3000'],
      ['https://localhost'],
    ]) {
      expect(check(policyReport(input('DEVELOPMENT', { corsOrigins: origins })), 'development.cors-localhost').passed).toBe(true);
    }
  });

  it('cors-localhost fails without a local origin, naming the origins', () => {
    for (const origins of [[], ['https://app.example'], ['http://localhost.evil.example'], ['http://mylocalhost:3000'], ['*']]) {
      const failed = check(policyReport(input('DEVELOPMENT', { corsOrigins: origins })), 'development.cors-localhost');
      expect(failed).toMatchObject({ passed: false, severity: 'warning' });
      expect(failed.detail).toContain(origins.length === 0 ? 'none' : origins[0]);
    }
  });

  it('all-flags-on passes when every project flag is on here (and with no flags at all)', () => {
    const settings = {
      featureFlags: [
        { key: 'a', enabled: true },
        { key: 'b', enabled: true },
      ],
    };
    expect(
      check(policyReport(input('DEVELOPMENT', settings, { projectFlagKeys: ['b', 'a', 'a'] })), 'development.all-flags-on').passed,
    ).toBe(true);
    expect(
      check(policyReport(input('DEVELOPMENT', { featureFlags: [] }, { projectFlagKeys: [] })), 'development.all-flags-on').passed,
    ).toBe(true);
  });

  it('all-flags-on fails for a flag off or missing here, naming them', () => {
    const report = policyReport(
      input(
        'DEVELOPMENT',
        {
          featureFlags: [
            { key: 'a', enabled: true },
            { key: 'b', enabled: false },
          ],
        },
        { projectFlagKeys: ['a', 'b', 'c'] },
      ),
    );
    const failed = check(report, 'development.all-flags-on');
    expect(failed).toMatchObject({ passed: false, severity: 'warning' });
    expect(failed.detail).toBe('Feature flags not enabled here: b, c');
    expect(report.passed).toBe(true); // a warning does not fail the report
  });
});

describe('staging checks', () => {
  it('mirrors-production passes when only the allowed settings differ', () => {
    const report = policyReport(
      input('STAGING', {
        logLevel: 'DEBUG',
        dataPolicy: 'TEST_DATA',
        corsOrigins: ['https://staging.example'],
        backupSchedule: '0 1 * * *',
        readReplicas: 0,
        runbookUrl: null,
      }),
    );
    expect(check(report, 'staging.mirrors-production')).toMatchObject({ passed: true, detail: null });
  });

  it('mirrors-production compares flags as a set of key -> enabled', () => {
    const prod = {
      ...goodProduction(),
      featureFlags: [
        { key: 'a', enabled: true },
        { key: 'b', enabled: false },
      ],
    };
    const same = policyReport(
      input(
        'STAGING',
        {
          featureFlags: [
            { key: 'b', enabled: false },
            { key: 'a', enabled: true },
          ],
        },
        { productionSettings: prod },
      ),
    );
    expect(check(same, 'staging.mirrors-production').passed).toBe(true);
    const different = policyReport(
      input(
        'STAGING',
        {
          featureFlags: [
            { key: 'a', enabled: false },
            { key: 'c', enabled: true },
          ],
        },
        { productionSettings: prod },
      ),
    );
    const failed = check(different, 'staging.mirrors-production');
    expect(failed.passed).toBe(false);
    expect(failed.detail).toBe('Differs from production in: featureFlags.a, featureFlags.b, featureFlags.c');
  });

  it('mirrors-production fails for every compared setting, naming the keys', () => {
    const report = policyReport(
      input('STAGING', {
        rateLimit: { enabled: false, requestsPerMinute: 600 },
        performanceMonitoring: true,
        alerting: false,
        securityHardening: false,
      }),
    );
    const failed = check(report, 'staging.mirrors-production');
    expect(failed).toMatchObject({ passed: false, severity: 'warning' });
    expect(failed.detail).toBe('Differs from production in: alerting, rateLimit.enabled, securityHardening');
    const rpm = policyReport(input('STAGING', { rateLimit: { enabled: true, requestsPerMinute: 100 } }));
    expect(check(rpm, 'staging.mirrors-production').detail).toBe('Differs from production in: rateLimit.requestsPerMinute');
    const monitoring = policyReport(input('STAGING', { performanceMonitoring: false }));
    expect(check(monitoring, 'staging.mirrors-production').detail).toContain('performanceMonitoring');
  });

  it('mirrors-production passes with a detail when there is no production environment', () => {
    const report = policyReport(input('STAGING', { securityHardening: false }, { productionSettings: null }));
    const passed = check(report, 'staging.mirrors-production');
    expect(passed.passed).toBe(true);
    expect(passed.detail).toMatch(/no production environment/i);
  });

  it('anonymized-data (error)', () => {
    expect(check(policyReport(input('STAGING')), 'staging.anonymized-data').passed).toBe(true);
    expect(check(policyReport(input('STAGING', { dataPolicy: 'TEST_DATA' })), 'staging.anonymized-data').passed).toBe(true);
    const report = policyReport(input('STAGING', { dataPolicy: 'PRODUCTION' }));
    const failed = check(report, 'staging.anonymized-data');
    expect(failed).toMatchObject({ passed: false, severity: 'error' });
    expect(failed.detail).toContain('PRODUCTION');
    expect(report.passed).toBe(false);
    expect(failedErrorChecks(report)).toEqual(['staging.anonymized-data']);
  });

  it('performance-monitoring', () => {
    expect(check(policyReport(input('STAGING')), 'staging.performance-monitoring').passed).toBe(true);
    const report = policyReport(input('STAGING', { performanceMonitoring: false }));
    const failed = check(report, 'staging.performance-monitoring');
    expect(failed).toMatchObject({ passed: false, severity: 'warning' });
    expect(failed.detail).toContain('performanceMonitoring');
    expect(report.passed).toBe(true);
  });
});

describe('production checks', () => {
  const failedOnly = (settings: Partial<EnvironmentSettings>, over: Partial<PolicyInput> = {}) =>
    policyReport(input('PRODUCTION', settings, over)).checks.filter((c) => !c.passed);

  it('security-hardening (error)', () => {
    const [failed, ...rest] = failedOnly({ securityHardening: false });
    expect(rest).toEqual([]);
    expect(failed).toMatchObject({ id: 'production.security-hardening', severity: 'error', detail: 'securityHardening is off' });
  });

  it('log-level (error) passes for WARN and ERROR, fails for DEBUG and INFO', () => {
    expect(failedOnly({ logLevel: 'WARN' })).toEqual([]);
    expect(failedOnly({ logLevel: 'ERROR' })).toEqual([]);
    for (const logLevel of ['DEBUG', 'INFO'] as const) {
      const [failed, ...rest] = failedOnly({ logLevel });
      expect(rest).toEqual([]);
      expect(failed).toMatchObject({ id: 'production.log-level', severity: 'error' });
      expect(failed!.detail).toContain(logLevel);
    }
  });

  it('monitoring-alerts (error) needs both, naming what is off', () => {
    expect(failedOnly({ performanceMonitoring: false })).toMatchObject([
      { id: 'production.monitoring-alerts', severity: 'error', detail: 'Off: performanceMonitoring' },
    ]);
    expect(failedOnly({ alerting: false })).toMatchObject([{ id: 'production.monitoring-alerts', detail: 'Off: alerting' }]);
    expect(failedOnly({ performanceMonitoring: false, alerting: false })).toMatchObject([
      { id: 'production.monitoring-alerts', detail: 'Off: performanceMonitoring, alerting' },
    ]);
  });

  it('rate-limiting (error)', () => {
    expect(failedOnly({ rateLimit: { enabled: false, requestsPerMinute: null } })).toMatchObject([
      { id: 'production.rate-limiting', severity: 'error', detail: 'Rate limiting is disabled' },
    ]);
  });

  it('backups (error) passes for a valid cron expression', () => {
    expect(failedOnly({ backupSchedule: '*/30 2-4 * * MON-FRI' })).toEqual([]);
  });

  it('backups fails when no schedule is set', () => {
    for (const backupSchedule of [null, '', '  ']) {
      expect(failedOnly({ backupSchedule })).toMatchObject([
        { id: 'production.backups', severity: 'error', detail: 'No backupSchedule is set' },
      ]);
    }
  });

  it('backups fails for an invalid cron expression, quoting it', () => {
    for (const backupSchedule of ['0 0 3 * * *', 'nightly', '61 * * * *']) {
      const [failed, ...rest] = failedOnly({ backupSchedule });
      expect(rest).toEqual([]);
      expect(failed).toMatchObject({ id: 'production.backups', severity: 'error' });
      expect(failed!.detail).toContain(JSON.stringify(backupSchedule));
    }
  });

  it('read-replicas (warning)', () => {
    expect(failedOnly({ readReplicas: 3 })).toEqual([]);
    const report = policyReport(input('PRODUCTION', { readReplicas: 0 }));
    expect(report.checks.filter((c) => !c.passed)).toMatchObject([
      { id: 'production.read-replicas', severity: 'warning', detail: 'readReplicas is 0, expected at least 1' },
    ]);
    expect(report.passed).toBe(true);
  });

  it('runbook (warning) fails when unset or blank', () => {
    for (const runbookUrl of [null, '', ' ']) {
      const report = policyReport(input('PRODUCTION', { runbookUrl }));
      expect(report.checks.filter((c) => !c.passed)).toMatchObject([
        { id: 'production.runbook', severity: 'warning', detail: 'No runbookUrl is set' },
      ]);
      expect(report.passed).toBe(true);
    }
  });

  it('database-ssl (error) names the connections without ssl', () => {
    expect(failedOnly({}, { databaseValues: [] })).toEqual([]);
    const databaseValues = [
      { connectionName: 'Primary Database', ssl: true },
      { connectionName: 'Reporting', ssl: false },
      { connectionName: 'Analytics', ssl: false },
    ];
    expect(failedOnly({}, { databaseValues })).toMatchObject([
      { id: 'production.database-ssl', severity: 'error', detail: 'Database connections without ssl: Analytics, Reporting' },
    ]);
  });

  it('reports several failures at once, and failedErrorChecks lists only the errors, in order', () => {
    const report = policyReport(
      input(
        'PRODUCTION',
        { logLevel: 'DEBUG', runbookUrl: null, rateLimit: { enabled: false, requestsPerMinute: null } },
        { secrets: [{ name: 'X', isSet: false }] },
      ),
    );
    expect(report.passed).toBe(false);
    expect(failedErrorChecks(report)).toEqual(['production.log-level', 'production.rate-limiting', 'secrets.all-set']);
  });
});

describe('secrets.all-set', () => {
  it('passes with no secrets, or all set', () => {
    expect(check(policyReport(input('PRODUCTION', {}, { secrets: [] })), 'secrets.all-set').passed).toBe(true);
    const all = [
      { name: 'A', isSet: true },
      { name: 'B', isSet: true },
    ];
    expect(check(policyReport(input('STAGING', {}, { secrets: all })), 'secrets.all-set').passed).toBe(true);
  });

  it('fails as an error in every type, naming the secrets without a value', () => {
    const secrets = [
      { name: 'STRIPE_SECRET_KEY', isSet: false },
      { name: 'DB_PASSWORD', isSet: true },
      { name: 'API_KEY', isSet: false },
    ];
    for (const type of ['DEVELOPMENT', 'STAGING', 'PRODUCTION', 'CUSTOM'] as const) {
      const report = policyReport(input(type, {}, { secrets }));
      expect(check(report, 'secrets.all-set')).toEqual({
        id: 'secrets.all-set',
        title: expect.any(String),
        passed: false,
        severity: 'error',
        detail: 'Secrets without a value here: API_KEY, STRIPE_SECRET_KEY',
      });
      expect(report.passed).toBe(false);
      expect(failedErrorChecks(report)).toEqual(['secrets.all-set']);
    }
  });
});

describe('failedErrorChecks', () => {
  it('is empty for a report that passed, even with failed warnings', () => {
    const report = policyReport(input('DEVELOPMENT', { logLevel: 'WARN' }));
    expect(report.checks.some((c) => !c.passed)).toBe(true);
    expect(failedErrorChecks(report)).toEqual([]);
  });
});
