import { describe, it, expect } from 'vitest';
import {
  DEFAULT_ENVIRONMENTS,
  applySettingsPatch,
  defaultDeployTarget,
  defaultPolicy,
  defaultSettings,
  mergePolicy,
} from '../../domain/defaults.ts';
import { AppError } from '../../domain/errors.ts';
import type { EnvironmentSettings } from '../../domain/types.ts';

describe('DEFAULT_ENVIRONMENTS', () => {
  it('lists development, staging, production with type, position and promotesFrom', () => {
    expect(DEFAULT_ENVIRONMENTS).toEqual([
      { slug: 'development', name: 'Development', type: 'DEVELOPMENT', position: 0, promotesFrom: null },
      { slug: 'staging', name: 'Staging', type: 'STAGING', position: 1, promotesFrom: 'development' },
      { slug: 'production', name: 'Production', type: 'PRODUCTION', position: 2, promotesFrom: 'staging' },
    ]);
  });

  it('has slugs matching the contract pattern', () => {
    for (const env of DEFAULT_ENVIRONMENTS) expect(env.slug).toMatch(/^[a-z][a-z0-9-]{1,38}$/);
  });
});

describe('defaultPolicy', () => {
  it('development: AUTO_ON_PUSH on main, no approvals, developers deploy', () => {
    expect(defaultPolicy('DEVELOPMENT')).toEqual({
      trigger: 'AUTO_ON_PUSH',
      branchPattern: 'main',
      requiredApprovals: 0,
      approverRoles: [],
      deployerRoles: ['DEVELOPER', 'QA', 'APPROVER'],
      preventSelfApproval: true,
      waitTimerSeconds: 0,
      approvalTimeoutSeconds: 259200,
      freezeOverrideRoles: ['ADMIN'],
    });
  });

  it('staging: MANUAL_PROMOTE, no branch pattern', () => {
    expect(defaultPolicy('STAGING')).toEqual({
      trigger: 'MANUAL_PROMOTE',
      branchPattern: null,
      requiredApprovals: 0,
      approverRoles: [],
      deployerRoles: ['DEVELOPER', 'QA', 'APPROVER'],
      preventSelfApproval: true,
      waitTimerSeconds: 0,
      approvalTimeoutSeconds: 259200,
      freezeOverrideRoles: ['ADMIN'],
    });
  });

  it('production: APPROVAL_REQUIRED with one APPROVER, QA and APPROVER deploy', () => {
    expect(defaultPolicy('PRODUCTION')).toEqual({
      trigger: 'APPROVAL_REQUIRED',
      branchPattern: null,
      requiredApprovals: 1,
      approverRoles: ['APPROVER'],
      deployerRoles: ['QA', 'APPROVER'],
      preventSelfApproval: true,
      waitTimerSeconds: 0,
      approvalTimeoutSeconds: 259200,
      freezeOverrideRoles: ['ADMIN'],
    });
  });

  it("custom: development's policy with MANUAL_PROMOTE and no branch pattern", () => {
    expect(defaultPolicy('CUSTOM')).toEqual({
      ...defaultPolicy('DEVELOPMENT'),
      trigger: 'MANUAL_PROMOTE',
      branchPattern: null,
    });
  });

  it('returns fresh arrays on every call', () => {
    const a = defaultPolicy('PRODUCTION');
    a.approverRoles.push('ADMIN');
    a.deployerRoles.length = 0;
    expect(defaultPolicy('PRODUCTION').approverRoles).toEqual(['APPROVER']);
    expect(defaultPolicy('PRODUCTION').deployerRoles).toEqual(['QA', 'APPROVER']);
  });
});

describe('defaultSettings', () => {
  it('development', () => {
    expect(defaultSettings('DEVELOPMENT')).toEqual({
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
    });
  });

  it('staging', () => {
    expect(defaultSettings('STAGING')).toEqual({
      logLevel: 'INFO',
      featureFlags: [],
      rateLimit: { enabled: true, requestsPerMinute: 600 },
      corsOrigins: [],
      dataPolicy: 'ANONYMIZED_PRODUCTION',
      performanceMonitoring: true,
      alerting: true,
      backupSchedule: null,
      readReplicas: 0,
      runbookUrl: null,
      securityHardening: true,
    });
  });

  it('production', () => {
    expect(defaultSettings('PRODUCTION')).toEqual({
      logLevel: 'WARN',
      featureFlags: [],
      rateLimit: { enabled: true, requestsPerMinute: 600 },
      corsOrigins: [],
      dataPolicy: 'PRODUCTION',
      performanceMonitoring: true,
      alerting: true,
      backupSchedule: '0 3 * * *',
      readReplicas: 1,
      runbookUrl: null,
      securityHardening: true,
    });
  });

  it("custom starts from development's settings", () => {
    expect(defaultSettings('CUSTOM')).toEqual(defaultSettings('DEVELOPMENT'));
  });

  it('returns fresh objects on every call', () => {
    const s = defaultSettings('DEVELOPMENT');
    s.corsOrigins.push('https://evil.example');
    s.featureFlags.push({ key: 'x', enabled: true });
    s.rateLimit.enabled = true;
    expect(defaultSettings('DEVELOPMENT').corsOrigins).toEqual(['http://localhost:3000']);
    expect(defaultSettings('DEVELOPMENT').featureFlags).toEqual([]);
    expect(defaultSettings('DEVELOPMENT').rateLimit.enabled).toBe(false);
  });
});

describe('defaultDeployTarget', () => {
  it('is SIMULATED with one-second steps and no url', () => {
    expect(defaultDeployTarget()).toEqual({ provider: 'SIMULATED', url: null, stepSeconds: 1 });
  });
});

describe('mergePolicy', () => {
  const base = defaultPolicy('DEVELOPMENT');

  it('keeps everything for an empty, null or undefined patch', () => {
    expect(mergePolicy(base, {})).toEqual(base);
    expect(mergePolicy(base, null)).toEqual(base);
    expect(mergePolicy(base, undefined)).toEqual(base);
  });

  it('sets the fields given and keeps the others', () => {
    const merged = mergePolicy(base, { trigger: 'APPROVAL_REQUIRED', requiredApprovals: 2, approverRoles: ['APPROVER', 'QA'] });
    expect(merged).toEqual({ ...base, trigger: 'APPROVAL_REQUIRED', requiredApprovals: 2, approverRoles: ['APPROVER', 'QA'] });
  });

  it('reads a policy stored before freezeOverrideRoles existed as [ADMIN]', () => {
    const { freezeOverrideRoles: _dropped, ...old } = base;
    expect(mergePolicy(old, {}).freezeOverrideRoles).toEqual(['ADMIN']);
  });

  it('sets every field', () => {
    const patch = {
      trigger: 'MANUAL_PROMOTE',
      branchPattern: 'release/*',
      requiredApprovals: 3,
      approverRoles: ['ADMIN'],
      deployerRoles: ['ADMIN'],
      preventSelfApproval: false,
      waitTimerSeconds: 60,
      approvalTimeoutSeconds: 3600,
      freezeOverrideRoles: ['APPROVER'],
    } as const;
    expect(mergePolicy(base, { ...patch, approverRoles: ['ADMIN'], deployerRoles: ['ADMIN'], freezeOverrideRoles: ['APPROVER'] })).toEqual(
      patch,
    );
  });

  it('treats null on a non-nullable field as keep', () => {
    const merged = mergePolicy(base, {
      trigger: null,
      requiredApprovals: null,
      approverRoles: null,
      deployerRoles: null,
      preventSelfApproval: null,
      waitTimerSeconds: null,
      approvalTimeoutSeconds: null,
    });
    expect(merged).toEqual(base);
  });

  it('keeps falsy values that are given (0, false, [])', () => {
    const prod = defaultPolicy('PRODUCTION');
    const merged = mergePolicy(prod, { requiredApprovals: 0, preventSelfApproval: false, approverRoles: [] });
    expect(merged.requiredApprovals).toBe(0);
    expect(merged.preventSelfApproval).toBe(false);
    expect(merged.approverRoles).toEqual([]);
  });

  it('clears branchPattern on explicit null, keeps it when left out', () => {
    expect(mergePolicy(base, { branchPattern: null }).branchPattern).toBeNull();
    expect(mergePolicy(base, { trigger: 'AUTO_ON_PUSH' }).branchPattern).toBe('main');
    expect(mergePolicy(base, { branchPattern: 'feature/*' }).branchPattern).toBe('feature/*');
  });

  it('does not share arrays with its inputs', () => {
    const merged = mergePolicy(base, {});
    merged.deployerRoles.push('ADMIN');
    expect(base.deployerRoles).toEqual(['DEVELOPER', 'QA', 'APPROVER']);
  });
});

describe('applySettingsPatch', () => {
  const base = (): EnvironmentSettings => ({
    ...defaultSettings('STAGING'),
    featureFlags: [
      { key: 'checkout', enabled: false },
      { key: 'search', enabled: true },
    ],
    backupSchedule: '0 1 * * *',
    runbookUrl: 'https://runbooks.example/staging',
  });

  it('keeps everything for an empty patch, and returns a copy', () => {
    const settings = base();
    const next = applySettingsPatch(settings, {});
    expect(next).toEqual(settings);
    expect(next).not.toBe(settings);
    next.featureFlags[0]!.enabled = true;
    next.corsOrigins.push('x');
    next.rateLimit.enabled = false;
    expect(settings).toEqual(base());
  });

  it('sets the scalar fields given and keeps the others', () => {
    const next = applySettingsPatch(base(), {
      logLevel: 'ERROR',
      dataPolicy: 'TEST_DATA',
      performanceMonitoring: false,
      alerting: false,
      readReplicas: 0,
      securityHardening: false,
    });
    expect(next).toEqual({
      ...base(),
      logLevel: 'ERROR',
      dataPolicy: 'TEST_DATA',
      performanceMonitoring: false,
      alerting: false,
      readReplicas: 0,
      securityHardening: false,
    });
  });

  it('does not modify its input', () => {
    const settings = base();
    applySettingsPatch(settings, { logLevel: 'ERROR', featureFlags: [{ key: 'checkout', enabled: true }], corsOrigins: ['a'] });
    expect(settings).toEqual(base());
  });

  it('merges featureFlags by key: sets given keys in place, appends new ones, keeps the rest', () => {
    const next = applySettingsPatch(base(), {
      featureFlags: [
        { key: 'new-ui', enabled: true },
        { key: 'checkout', enabled: true },
      ],
    });
    expect(next.featureFlags).toEqual([
      { key: 'checkout', enabled: true },
      { key: 'search', enabled: true },
      { key: 'new-ui', enabled: true },
    ]);
  });

  it('an empty featureFlags list changes nothing', () => {
    expect(applySettingsPatch(base(), { featureFlags: [] }).featureFlags).toEqual(base().featureFlags);
  });

  it('a repeated key in the patch ends with its last value', () => {
    const next = applySettingsPatch(base(), {
      featureFlags: [
        { key: 'beta', enabled: true },
        { key: 'beta', enabled: false },
      ],
    });
    expect(next.featureFlags.filter((f) => f.key === 'beta')).toEqual([{ key: 'beta', enabled: false }]);
  });

  it('replaces corsOrigins as a whole list', () => {
    const settings = { ...base(), corsOrigins: ['https://a.example', 'https://b.example'] };
    expect(applySettingsPatch(settings, { corsOrigins: ['https://c.example'] }).corsOrigins).toEqual(['https://c.example']);
    expect(applySettingsPatch(settings, { corsOrigins: [] }).corsOrigins).toEqual([]);
  });

  it('rateLimit: sets enabled; requestsPerMinute left out keeps, null clears, a number sets', () => {
    expect(applySettingsPatch(base(), { rateLimit: { enabled: false } }).rateLimit).toEqual({
      enabled: false,
      requestsPerMinute: 600,
    });
    expect(applySettingsPatch(base(), { rateLimit: { enabled: false, requestsPerMinute: null } }).rateLimit).toEqual({
      enabled: false,
      requestsPerMinute: null,
    });
    expect(applySettingsPatch(base(), { rateLimit: { enabled: true, requestsPerMinute: 120 } }).rateLimit).toEqual({
      enabled: true,
      requestsPerMinute: 120,
    });
  });

  it('clears backupSchedule and runbookUrl on explicit null, keeps them when left out', () => {
    const cleared = applySettingsPatch(base(), { backupSchedule: null, runbookUrl: null });
    expect(cleared.backupSchedule).toBeNull();
    expect(cleared.runbookUrl).toBeNull();
    const kept = applySettingsPatch(base(), { logLevel: 'WARN' });
    expect(kept.backupSchedule).toBe('0 1 * * *');
    expect(kept.runbookUrl).toBe('https://runbooks.example/staging');
    const set = applySettingsPatch(base(), { backupSchedule: '*/5 * * * *', runbookUrl: 'https://r.example' });
    expect(set.backupSchedule).toBe('*/5 * * * *');
    expect(set.runbookUrl).toBe('https://r.example');
  });

  it('stores an invalid cron expression as given (the policy check reports it)', () => {
    expect(applySettingsPatch(base(), { backupSchedule: 'every night' }).backupSchedule).toBe('every night');
  });

  const nonNullable = [
    'logLevel',
    'featureFlags',
    'rateLimit',
    'corsOrigins',
    'dataPolicy',
    'performanceMonitoring',
    'alerting',
    'readReplicas',
    'securityHardening',
  ] as const;

  for (const field of nonNullable) {
    it(`rejects explicit null for ${field} as BAD_USER_INPUT naming patch.${field}`, () => {
      expectBadInput(() => applySettingsPatch(base(), { [field]: null }), `patch.${field}`);
    });
  }

  it('rejects a null rateLimit.enabled and a null flag value, naming the field', () => {
    expectBadInput(() => applySettingsPatch(base(), { rateLimit: { enabled: null } }), 'patch.rateLimit.enabled');
    expectBadInput(
      () =>
        applySettingsPatch(base(), {
          featureFlags: [
            { key: 'a', enabled: true },
            { key: 'b', enabled: null },
          ],
        }),
      'patch.featureFlags[1].enabled',
    );
  });
});

function expectBadInput(fn: () => unknown, field: string) {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(AppError);
  const err = caught as AppError;
  expect(err.code).toBe('BAD_USER_INPUT');
  expect(err.extensions.code).toBe('BAD_USER_INPUT');
  expect(err.extensions.field).toBe(field);
}
