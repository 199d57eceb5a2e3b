import { describe, it, expect } from 'vitest';
import type { z } from 'zod';
import { AppError } from '../../domain/errors.ts';
import { ACTIONS } from '../../domain/permissions.ts';
import {
  CreateApiTokenInputSchema,
  CreateDatabaseConnectionInputSchema,
  CreateEnvironmentInputSchema,
  CreateProjectInputSchema,
  CreateSecretInputSchema,
  DecisionInputSchema,
  DeployInputSchema,
  DeployPolicyInputSchema,
  DeployPolicySchema,
  DeployTargetInputSchema,
  EnvironmentSettingsPatchSchema,
  IdSchema,
  MUTATION_INPUTS,
  PromoteInputSchema,
  RecordPushInputSchema,
  ReportDeploymentStatusInputSchema,
  RollbackInputSchema,
  SecretValueRefSchema,
  SetDatabaseConnectionValueInputSchema,
  SetSecretValueInputSchema,
  UpdateEnvironmentInputSchema,
  UpdateEnvironmentSettingsInputSchema,
  UpdateSecretInputSchema,
  formatPath,
  parseInput,
} from '../../domain/validation.ts';

const FUTURE = '2999-01-01T00:00:00Z';
const PAST = '2000-01-01T00:00:00Z';
const chars = (n: number, c = 'a') => c.repeat(n);

/** Parses at path `input`; fails the test on a refusal, showing its message. */
function ok<S extends z.ZodType>(schema: S, value: unknown, path = 'input'): z.output<S> {
  return parseInput(schema, value, path);
}

/** Expects BAD_USER_INPUT whose field is `field` (full path) and whose message has `text`. */
function bad(schema: z.ZodType, value: unknown, field: string, text?: string, path = 'input'): AppError {
  let caught: unknown;
  try {
    parseInput(schema, value, path);
  } catch (e) {
    caught = e;
  }
  expect(caught, `expected ${field} to be refused`).toBeInstanceOf(AppError);
  const err = caught as AppError;
  expect(err.code).toBe('BAD_USER_INPUT');
  expect(err.extensions.field).toBe(field);
  expect(err.message.startsWith(`${field}: `), err.message).toBe(true);
  if (text) expect(err.message).toContain(text);
  return err;
}

type Case = [label: string, value: unknown];

/** good/bad tables for one field of one schema, over a valid base input. */
function field(schema: z.ZodType, base: Record<string, unknown>, key: string, good: Case[], badCases: Case[], text?: string) {
  describe(key, () => {
    for (const [label, value] of good) {
      it(`accepts ${label}`, () => {
        expect(() => ok(schema, { ...base, [key]: value })).not.toThrow();
      });
    }
    for (const [label, value] of badCases) {
      it(`refuses ${label}`, () => {
        bad(schema, { ...base, [key]: value }, `input.${key}`, text);
      });
    }
  });
}

describe('MUTATION_INPUTS', () => {
  it('has a schema for every mutation of the contract', () => {
    expect(Object.keys(MUTATION_INPUTS).sort()).toEqual(ACTIONS.filter((a) => a !== 'read').sort());
  });

  it('uses `id` for the mutations that take an id and `input` for the others', () => {
    const idArgs = Object.entries(MUTATION_INPUTS)
      .filter(([, v]) => v.arg === 'id')
      .map(([k]) => k)
      .sort();
    expect(idArgs).toEqual([
      'archiveEnvironment',
      'cancelDeployment',
      'deleteFreezeWindow',
      'deleteNotificationChannel',
      'deleteSecret',
      'deleteTrustPolicy',
      'revokeApiToken',
      'testNotificationChannel',
    ]);
  });
});

describe('parseInput', () => {
  it('names the full path and the rule', () => {
    const err = bad(
      UpdateEnvironmentSettingsInputSchema,
      { environmentId: 'e1', patch: { rateLimit: { enabled: true, requestsPerMinute: 0 } } },
      'input.patch.rateLimit.requestsPerMinute',
    );
    expect(err.message).toBe('input.patch.rateLimit.requestsPerMinute: must be between 1 and 1000000');
  });

  it('joins several problems with "; " and names the first as field', () => {
    const err = bad(CreateProjectInputSchema, { slug: 'A', name: ' ' }, 'input.slug');
    expect(err.message).toMatch(/^input\.slug: must match .*; input\.name: must not be blank$/);
  });

  it('reports at most five problems, then a count', () => {
    const err = bad(
      EnvironmentSettingsPatchSchema,
      { corsOrigins: ['a', 'b', 'c', 'd', 'e', 'f', 'g'] },
      'patch.corsOrigins[0]',
      undefined,
      'patch',
    );
    expect(err.message.split('; ')).toHaveLength(6);
    expect(err.message).toMatch(/; and 2 more$/);
  });

  it('says a missing required field is required', () => {
    bad(CreateProjectInputSchema, { name: 'Shop' }, 'input.slug', 'is required');
  });

  it('reads null in a required field as not given', () => {
    bad(CreateProjectInputSchema, { slug: null, name: 'Shop' }, 'input.slug', 'is required');
  });

  it('says a null list item must not be null', () => {
    bad(CreateApiTokenInputSchema, { name: 'ci', roles: ['QA', null] }, 'input.roles[1]', 'must not be null');
  });

  it('names wrong types', () => {
    bad(CreateProjectInputSchema, { slug: 'shop', name: 5 }, 'input.name', 'must be a string');
    bad(
      CreateProjectInputSchema,
      { slug: 'shop', name: 'Shop', withDefaultEnvironments: 'yes' },
      'input.withDefaultEnvironments',
      'true or false',
    );
  });

  it('lists the values of an enum', () => {
    bad(
      CreateEnvironmentInputSchema,
      { projectId: 'p', slug: 'qa', name: 'QA', type: 'TEST' },
      'input.type',
      'must be one of DEVELOPMENT, STAGING, PRODUCTION, CUSTOM',
    );
  });

  it('uses the base path for a top-level value', () => {
    bad(IdSchema, '', 'id', 'must not be empty', 'id');
  });

  it('refuses a non-object input', () => {
    bad(CreateProjectInputSchema, 'shop', 'input', 'must be an object');
  });

  it('returns the parsed value', () => {
    expect(ok(CreateProjectInputSchema, { slug: 'shop', name: ' Shop ' })).toEqual({
      slug: 'shop',
      name: 'Shop',
      withDefaultEnvironments: true,
    });
  });
});

describe('formatPath', () => {
  it('joins keys with dots and indexes with brackets', () => {
    expect(formatPath('input', ['patch', 'featureFlags', 3, 'key'])).toBe('input.patch.featureFlags[3].key');
    expect(formatPath('input', [])).toBe('input');
    expect(formatPath('', ['a', 0])).toBe('a[0]');
  });
});

// ---------------------------------------------------------------- projects

describe('CreateProjectInput', () => {
  const base = { slug: 'shop', name: 'Shop' };
  field(
    CreateProjectInputSchema,
    base,
    'slug',
    [
      ['2 characters', 'ab'],
      ['39 characters', `a${chars(38, 'b')}`],
      ['digits and hyphens', 'web-shop-2'],
    ],
    [
      ['1 character', 'a'],
      ['40 characters', `a${chars(39, 'b')}`],
      ['a leading digit', '1shop'],
      ['upper case', 'Shop'],
      ['an underscore', 'web_shop'],
      ['a leading hyphen', '-shop'],
      ['the empty string', ''],
    ],
    '^[a-z][a-z0-9-]{1,38}$',
  );
  field(
    CreateProjectInputSchema,
    base,
    'name',
    [
      ['1 character', 'S'],
      ['200 characters', chars(200)],
      ['200 characters plus surrounding spaces', `  ${chars(200)}  `],
    ],
    [
      ['the empty string', ''],
      ['blanks only', '   '],
      ['201 characters', chars(201)],
    ],
  );

  it('trims the name', () => {
    expect(ok(CreateProjectInputSchema, { ...base, name: '  Web Shop \n' }).name).toBe('Web Shop');
  });

  it('defaults withDefaultEnvironments to true, also for null', () => {
    expect(ok(CreateProjectInputSchema, base).withDefaultEnvironments).toBe(true);
    expect(ok(CreateProjectInputSchema, { ...base, withDefaultEnvironments: null }).withDefaultEnvironments).toBe(true);
    expect(ok(CreateProjectInputSchema, { ...base, withDefaultEnvironments: false }).withDefaultEnvironments).toBe(false);
  });
});

// ---------------------------------------------------------------- policy and target

describe('DeployPolicyInput', () => {
  const base = {};
  field(
    DeployPolicyInputSchema,
    base,
    'requiredApprovals',
    [
      ['0', 0],
      ['10', 10],
    ],
    [
      ['-1', -1],
      ['11', 11],
      ['1.5', 1.5],
    ],
    'between 0 and 10',
  );
  field(
    DeployPolicyInputSchema,
    base,
    'waitTimerSeconds',
    [
      ['0', 0],
      ['604800', 604_800],
    ],
    [
      ['-1', -1],
      ['604801', 604_801],
    ],
    'between 0 and 604800',
  );
  field(
    DeployPolicyInputSchema,
    base,
    'approvalTimeoutSeconds',
    [
      ['1', 1],
      ['2592000', 2_592_000],
    ],
    [
      ['2592001', 2_592_001],
      ['0', 0],
      ['-5', -5],
    ],
    'between 1 and 2592000',
  );
  field(
    DeployPolicyInputSchema,
    base,
    'branchPattern',
    [
      ['main', 'main'],
      ['feature/*', 'feature/*'],
      ['release-1.x_y', 'release-1.x_y'],
      ['200 characters', chars(200)],
    ],
    [
      ['the empty string', ''],
      ['201 characters', chars(201)],
      ['a space', 'feature x'],
      ['a question mark', 'feature?'],
      ['brackets', 'feature/[ab]'],
    ],
  );
  field(
    DeployPolicyInputSchema,
    base,
    'trigger',
    [
      ['AUTO_ON_PUSH', 'AUTO_ON_PUSH'],
      ['APPROVAL_REQUIRED', 'APPROVAL_REQUIRED'],
    ],
    [['an unknown trigger', 'ON_TAG']],
    'must be one of',
  );
  field(DeployPolicyInputSchema, base, 'preventSelfApproval', [['false', false]], [['a string', 'no']]);

  for (const key of ['approverRoles', 'deployerRoles']) {
    describe(key, () => {
      it('accepts an empty list and distinct roles', () => {
        expect(ok(DeployPolicyInputSchema, { [key]: [] })).toEqual({ [key]: [] });
        expect(ok(DeployPolicyInputSchema, { [key]: ['QA', 'ADMIN'] })).toEqual({ [key]: ['QA', 'ADMIN'] });
      });
      it('refuses a duplicate, naming its index', () => {
        bad(DeployPolicyInputSchema, { [key]: ['QA', 'APPROVER', 'QA'] }, `input.${key}[2]`, 'duplicate role QA');
      });
      it('refuses an unknown role', () => {
        bad(DeployPolicyInputSchema, { [key]: ['OWNER'] }, `input.${key}[0]`, 'must be one of');
      });
    });
  }

  it('keeps a null branchPattern (clears it) and drops other nulls', () => {
    expect(ok(DeployPolicyInputSchema, { branchPattern: null, requiredApprovals: null, trigger: null })).toEqual({ branchPattern: null });
  });

  it('refuses AUTO_ON_PUSH with a cleared branchPattern', () => {
    bad(
      DeployPolicyInputSchema,
      { trigger: 'AUTO_ON_PUSH', branchPattern: null },
      'input.branchPattern',
      'required when trigger is AUTO_ON_PUSH',
    );
  });

  it('accepts AUTO_ON_PUSH with the pattern left out (merged later)', () => {
    expect(ok(DeployPolicyInputSchema, { trigger: 'AUTO_ON_PUSH' })).toEqual({ trigger: 'AUTO_ON_PUSH' });
  });
});

describe('DeployPolicy (merged)', () => {
  const policy = {
    trigger: 'MANUAL_PROMOTE',
    branchPattern: null,
    requiredApprovals: 0,
    approverRoles: [],
    deployerRoles: ['DEVELOPER', 'QA', 'APPROVER'],
    preventSelfApproval: true,
    waitTimerSeconds: 0,
    approvalTimeoutSeconds: 259_200,
  };
  it('accepts a complete policy', () => {
    expect(ok(DeployPolicySchema, policy, 'policy')).toEqual(policy);
  });
  it('refuses AUTO_ON_PUSH without a branchPattern', () => {
    bad(DeployPolicySchema, { ...policy, trigger: 'AUTO_ON_PUSH' }, 'policy.branchPattern', 'required', 'policy');
  });
  it('refuses a missing field', () => {
    bad(DeployPolicySchema, { ...policy, deployerRoles: undefined }, 'policy.deployerRoles', 'is required', 'policy');
  });
});

describe('DeployTargetInput', () => {
  it('completes SIMULATED with the default step and no url', () => {
    expect(ok(DeployTargetInputSchema, { provider: 'SIMULATED' })).toEqual({ provider: 'SIMULATED', url: null, stepSeconds: 1 });
    expect(ok(DeployTargetInputSchema, { provider: 'SIMULATED', url: null, stepSeconds: null })).toEqual({
      provider: 'SIMULATED',
      url: null,
      stepSeconds: 1,
    });
  });

  it('keeps SIMULATED stepSeconds from 0 to 3600, fractions too', () => {
    expect(ok(DeployTargetInputSchema, { provider: 'SIMULATED', stepSeconds: 0 }).stepSeconds).toBe(0);
    expect(ok(DeployTargetInputSchema, { provider: 'SIMULATED', stepSeconds: 0.25 }).stepSeconds).toBe(0.25);
    expect(ok(DeployTargetInputSchema, { provider: 'SIMULATED', stepSeconds: 3600 }).stepSeconds).toBe(3600);
  });

  it('refuses stepSeconds outside 0..3600', () => {
    bad(DeployTargetInputSchema, { provider: 'SIMULATED', stepSeconds: -0.1 }, 'input.stepSeconds', 'between 0 and 3600');
    bad(DeployTargetInputSchema, { provider: 'SIMULATED', stepSeconds: 3600.5 }, 'input.stepSeconds', 'between 0 and 3600');
  });

  it('refuses a url on SIMULATED', () => {
    bad(
      DeployTargetInputSchema,
      { provider: 'SIMULATED', url: 'https://deploy.example.com/hook' },
      'input.url',
      'only for provider WEBHOOK',
    );
  });

  it('completes WEBHOOK with its url and no step', () => {
    expect(ok(DeployTargetInputSchema, { provider: 'WEBHOOK', url: 'https://deploy.example.com/hook?x=1' })).toEqual({
      provider: 'WEBHOOK',
      url: 'https://deploy.example.com/hook?x=1',
      stepSeconds: null,
    });
    expect(ok(DeployTargetInputSchema, { provider: 'WEBHOOK', url: 'http://127.0.0.1:9000/deploy' }).url).toBe(
      'http://127.0.0.1:9000/deploy',
    );
  });

  it('refuses WEBHOOK without a url, or with null', () => {
    bad(DeployTargetInputSchema, { provider: 'WEBHOOK' }, 'input.url', 'required when provider is WEBHOOK');
    bad(DeployTargetInputSchema, { provider: 'WEBHOOK', url: null }, 'input.url', 'required when provider is WEBHOOK');
  });

  it('refuses a WEBHOOK url that is not http(s), or carries credentials', () => {
    bad(DeployTargetInputSchema, { provider: 'WEBHOOK', url: 'ftp://deploy.example.com' }, 'input.url', 'http');
    bad(DeployTargetInputSchema, { provider: 'WEBHOOK', url: 'deploy.example.com/hook' }, 'input.url', 'http');
    bad(DeployTargetInputSchema, { provider: 'WEBHOOK', url: 'https://' }, 'input.url');
    bad(DeployTargetInputSchema, { provider: 'WEBHOOK', url: 'https://user:pw@deploy.example.com' }, 'input.url', 'user name or password');
  });

  it('refuses stepSeconds on WEBHOOK', () => {
    bad(
      DeployTargetInputSchema,
      { provider: 'WEBHOOK', url: 'https://x.example.com', stepSeconds: 2 },
      'input.stepSeconds',
      'only for provider SIMULATED',
    );
  });

  it('needs a provider', () => {
    bad(DeployTargetInputSchema, {}, 'input.provider', 'is required');
    bad(DeployTargetInputSchema, { provider: 'SSH' }, 'input.provider', 'must be one of SIMULATED, WEBHOOK');
  });
});

// ---------------------------------------------------------------- environments

describe('CreateEnvironmentInput', () => {
  const base = { projectId: 'p1', slug: 'load-test', name: 'Load test', type: 'CUSTOM' };

  it('accepts the minimum and drops nulls', () => {
    expect(
      ok(CreateEnvironmentInputSchema, {
        ...base,
        purpose: null,
        promotesFrom: null,
        region: null,
        policy: null,
        deployTarget: null,
        copySettingsFrom: null,
        expiresAt: null,
      }),
    ).toEqual(base);
  });

  it('accepts every field', () => {
    const parsed = ok(CreateEnvironmentInputSchema, {
      ...base,
      purpose: 'LOAD_TESTING',
      promotesFrom: 'staging',
      region: 'eu-west-1',
      policy: { requiredApprovals: 2 },
      deployTarget: { provider: 'SIMULATED', stepSeconds: 0 },
      copySettingsFrom: 'production',
      expiresAt: FUTURE,
    });
    expect(parsed.policy).toEqual({ requiredApprovals: 2 });
    expect(parsed.deployTarget).toEqual({ provider: 'SIMULATED', url: null, stepSeconds: 0 });
    expect(parsed.expiresAt).toEqual(new Date(FUTURE));
  });

  field(
    CreateEnvironmentInputSchema,
    base,
    'slug',
    [['2 characters', 'qa']],
    [
      ['upper case', 'QA'],
      ['1 character', 'q'],
    ],
  );
  field(
    CreateEnvironmentInputSchema,
    base,
    'name',
    [['200 characters', chars(200)]],
    [
      ['blanks', '  '],
      ['201 characters', chars(201)],
    ],
  );
  field(CreateEnvironmentInputSchema, base, 'type', [['PRODUCTION', 'PRODUCTION']], [['lower case', 'custom']], 'must be one of');
  field(CreateEnvironmentInputSchema, base, 'purpose', [['REGIONAL', 'REGIONAL']], [['unknown', 'DEMO']], 'must be one of');
  field(
    CreateEnvironmentInputSchema,
    base,
    'promotesFrom',
    [['a slug', 'staging']],
    [
      ['not a slug', 'Staging'],
      ['itself', 'load-test'],
    ],
  );
  field(CreateEnvironmentInputSchema, base, 'copySettingsFrom', [['a slug', 'production']], [['not a slug', 'prod_1']]);
  field(
    CreateEnvironmentInputSchema,
    base,
    'region',
    [
      ['64 characters', chars(64)],
      ['eu-west-1', 'eu-west-1'],
    ],
    [
      ['65 characters', chars(65)],
      ['blanks', ' '],
    ],
  );
  field(
    CreateEnvironmentInputSchema,
    base,
    'expiresAt',
    [
      ['a future UTC time', FUTURE],
      ['a future time with offset', '2999-06-01T12:30:00.123+02:00'],
      ['a future Date', new Date(FUTURE)],
    ],
    [
      ['a past time', PAST],
      ['a date without time', '2999-01-01'],
      ['a time without zone', '2999-01-01T00:00:00'],
      ['an impossible day', '2999-02-30T00:00:00Z'],
      ['text', 'tomorrow'],
    ],
  );

  it('says a past expiresAt must be in the future', () => {
    bad(CreateEnvironmentInputSchema, { ...base, expiresAt: PAST }, 'input.expiresAt', 'must be in the future');
  });

  it('names nested fields by their full path', () => {
    bad(CreateEnvironmentInputSchema, { ...base, policy: { requiredApprovals: 11 } }, 'input.policy.requiredApprovals');
    bad(CreateEnvironmentInputSchema, { ...base, deployTarget: { provider: 'WEBHOOK' } }, 'input.deployTarget.url');
  });
});

describe('UpdateEnvironmentInput', () => {
  const base = { id: 'env1' };

  it('accepts the id alone', () => {
    expect(ok(UpdateEnvironmentInputSchema, base)).toEqual(base);
  });

  it('keeps null where it clears (promotesFrom, region, expiresAt) and drops it elsewhere', () => {
    expect(
      ok(UpdateEnvironmentInputSchema, {
        ...base,
        name: null,
        promotesFrom: null,
        region: null,
        policy: null,
        deployTarget: null,
        frozen: null,
        expiresAt: null,
      }),
    ).toEqual({ ...base, promotesFrom: null, region: null, expiresAt: null });
  });

  it('accepts every field given', () => {
    const parsed = ok(UpdateEnvironmentInputSchema, {
      ...base,
      name: ' Staging EU ',
      promotesFrom: 'development',
      region: 'eu',
      policy: { branchPattern: null, trigger: 'MANUAL_PROMOTE' },
      deployTarget: { provider: 'WEBHOOK', url: 'https://hooks.example.com/x' },
      frozen: true,
      expiresAt: FUTURE,
    });
    expect(parsed.name).toBe('Staging EU');
    expect(parsed.policy).toEqual({ branchPattern: null, trigger: 'MANUAL_PROMOTE' });
    expect(parsed.frozen).toBe(true);
  });

  field(UpdateEnvironmentInputSchema, base, 'id', [['an id', 'RW52OjE=']], [['the empty string', '']]);
  field(
    UpdateEnvironmentInputSchema,
    base,
    'name',
    [['a name', 'Prod']],
    [
      ['blanks', ' '],
      ['201 characters', chars(201)],
    ],
  );
  field(UpdateEnvironmentInputSchema, base, 'promotesFrom', [['a slug', 'qa']], [['not a slug', 'QA!']]);
  field(UpdateEnvironmentInputSchema, base, 'region', [['64 characters', chars(64)]], [['65 characters', chars(65)]]);
  field(UpdateEnvironmentInputSchema, base, 'expiresAt', [['the future', FUTURE]], [['the past', PAST]]);
  field(UpdateEnvironmentInputSchema, base, 'frozen', [['false', false]], [['a number', 1]]);
});

// ---------------------------------------------------------------- settings

describe('EnvironmentSettingsPatch', () => {
  const S = UpdateEnvironmentSettingsInputSchema;
  const patch = (p: Record<string, unknown>) => ({ environmentId: 'env1', patch: p });

  it('accepts an empty patch', () => {
    expect(ok(S, patch({}))).toEqual(patch({}));
  });

  it('drops null except for backupSchedule and runbookUrl, which it keeps to clear them', () => {
    expect(
      ok(
        S,
        patch({
          logLevel: null,
          featureFlags: null,
          rateLimit: null,
          corsOrigins: null,
          dataPolicy: null,
          performanceMonitoring: null,
          alerting: null,
          backupSchedule: null,
          readReplicas: null,
          runbookUrl: null,
          securityHardening: null,
        }),
      ),
    ).toEqual(patch({ backupSchedule: null, runbookUrl: null }));
  });

  it('accepts every field', () => {
    const full = {
      logLevel: 'WARN',
      featureFlags: [{ key: 'checkout', enabled: true }],
      rateLimit: { enabled: true, requestsPerMinute: 600 },
      corsOrigins: ['https://shop.example.com'],
      dataPolicy: 'PRODUCTION',
      performanceMonitoring: true,
      alerting: true,
      backupSchedule: '0 3 * * *',
      readReplicas: 1,
      runbookUrl: 'https://wiki.example.com/runbook',
      securityHardening: true,
    };
    expect(ok(S, patch(full))).toEqual(patch(full));
  });

  it('refuses unknown enum values', () => {
    bad(S, patch({ logLevel: 'TRACE' }), 'input.patch.logLevel', 'must be one of DEBUG, INFO, WARN, ERROR');
    bad(S, patch({ dataPolicy: 'REAL' }), 'input.patch.dataPolicy', 'must be one of');
  });

  describe('featureFlags', () => {
    const flags = (n: number) => Array.from({ length: n }, (_, i) => ({ key: `flag${i}`, enabled: i % 2 === 0 }));
    it('accepts up to 200 flags', () => {
      expect(ok(S, patch({ featureFlags: flags(200) })).patch.featureFlags).toHaveLength(200);
      expect(ok(S, patch({ featureFlags: [] })).patch.featureFlags).toEqual([]);
    });
    it('refuses 201 flags', () => {
      bad(S, patch({ featureFlags: flags(201) }), 'input.patch.featureFlags', 'at most 200 flags');
    });
    it('accepts keys of 1 and 64 characters with . _ -', () => {
      expect(() =>
        ok(
          S,
          patch({
            featureFlags: [
              { key: 'a', enabled: true },
              { key: `A${chars(63, 'b')}`, enabled: false },
              { key: 'new.checkout_v2-beta', enabled: true },
            ],
          }),
        ),
      ).not.toThrow();
    });
    for (const [label, key] of [
      ['65 characters', `a${chars(64)}`],
      ['a leading digit', '2fa'],
      ['a leading dot', '.x'],
      ['a space', 'new checkout'],
      ['the empty string', ''],
    ] as const) {
      it(`refuses a key with ${label}`, () => {
        bad(
          S,
          patch({
            featureFlags: [
              { key: 'ok', enabled: true },
              { key, enabled: true },
            ],
          }),
          'input.patch.featureFlags[1].key',
          '^[a-zA-Z]',
        );
      });
    }
    it('refuses a repeated key', () => {
      bad(
        S,
        patch({
          featureFlags: [
            { key: 'a', enabled: true },
            { key: 'b', enabled: true },
            { key: 'a', enabled: false },
          ],
        }),
        'input.patch.featureFlags[2]',
        'duplicate flag key a',
      );
    });
    it('refuses a flag without enabled', () => {
      bad(S, patch({ featureFlags: [{ key: 'a' }] }), 'input.patch.featureFlags[0].enabled', 'is required');
    });
  });

  describe('rateLimit', () => {
    it('accepts 1 and 1000000 requests per minute', () => {
      expect(ok(S, patch({ rateLimit: { enabled: true, requestsPerMinute: 1 } })).patch.rateLimit).toEqual({
        enabled: true,
        requestsPerMinute: 1,
      });
      expect(ok(S, patch({ rateLimit: { enabled: true, requestsPerMinute: 1_000_000 } })).patch.rateLimit).toEqual({
        enabled: true,
        requestsPerMinute: 1_000_000,
      });
    });
    it('refuses 0, 1000001 and fractions', () => {
      bad(
        S,
        patch({ rateLimit: { enabled: true, requestsPerMinute: 0 } }),
        'input.patch.rateLimit.requestsPerMinute',
        'between 1 and 1000000',
      );
      bad(
        S,
        patch({ rateLimit: { enabled: true, requestsPerMinute: 1_000_001 } }),
        'input.patch.rateLimit.requestsPerMinute',
        'between 1 and 1000000',
      );
      bad(S, patch({ rateLimit: { enabled: false, requestsPerMinute: 2.5 } }), 'input.patch.rateLimit.requestsPerMinute', 'whole number');
    });
    it('needs requestsPerMinute when enabled', () => {
      bad(S, patch({ rateLimit: { enabled: true } }), 'input.patch.rateLimit.requestsPerMinute', 'required when enabled');
      bad(
        S,
        patch({ rateLimit: { enabled: true, requestsPerMinute: null } }),
        'input.patch.rateLimit.requestsPerMinute',
        'required when enabled',
      );
    });
    it('needs no requestsPerMinute when disabled; null clears it', () => {
      expect(ok(S, patch({ rateLimit: { enabled: false } })).patch.rateLimit).toEqual({ enabled: false });
      expect(ok(S, patch({ rateLimit: { enabled: false, requestsPerMinute: null } })).patch.rateLimit).toEqual({
        enabled: false,
        requestsPerMinute: null,
      });
    });
    it('needs enabled', () => {
      bad(S, patch({ rateLimit: { requestsPerMinute: 10 } }), 'input.patch.rateLimit.enabled', 'is required');
    });
  });

  describe('corsOrigins', () => {
    for (const origin of [
      'http://localhost:3000',
      'https://shop.example.com',
      'http://127.0.0.1:8080',
      'http://[::1]:3000',
      'capacitor://localhost',
      'https://a.b.example.com:65535',
    ]) {
      it(`accepts ${origin}`, () => {
        expect(ok(S, patch({ corsOrigins: [origin] })).patch.corsOrigins).toEqual([origin]);
      });
    }
    it('lower-cases scheme and host', () => {
      expect(ok(S, patch({ corsOrigins: ['HTTPS://Shop.Example.COM:8443'] })).patch.corsOrigins).toEqual(['https://shop.example.com:8443']);
    });
    for (const origin of [
      'http://localhost:3000/',
      'https://shop.example.com/path',
      'https://shop.example.com?x=1',
      'localhost:3000',
      '*',
      'http://localhost:0',
      'http://localhost:65536',
      'http://user@localhost',
      'http://-bad-.example.com',
      'http://[zz]:80',
      '',
    ]) {
      it(`refuses ${JSON.stringify(origin)}`, () => {
        bad(S, patch({ corsOrigins: ['http://ok.example.com', origin] }), 'input.patch.corsOrigins[1]', 'origin scheme://host[:port]');
      });
    }
    it('accepts 50 origins and refuses 51', () => {
      const origins = (n: number) => Array.from({ length: n }, (_, i) => `https://app${i}.example.com`);
      expect(ok(S, patch({ corsOrigins: origins(50) })).patch.corsOrigins).toHaveLength(50);
      bad(S, patch({ corsOrigins: origins(51) }), 'input.patch.corsOrigins', 'at most 50 origins');
    });
    it('refuses the same origin twice (after normalising)', () => {
      bad(
        S,
        patch({ corsOrigins: ['https://a.example.com', 'HTTPS://A.example.com'] }),
        'input.patch.corsOrigins[1]',
        'duplicate origin https://a.example.com',
      );
    });
  });

  describe('readReplicas', () => {
    it('accepts 0 and 15', () => {
      expect(ok(S, patch({ readReplicas: 0 })).patch.readReplicas).toBe(0);
      expect(ok(S, patch({ readReplicas: 15 })).patch.readReplicas).toBe(15);
    });
    it('refuses -1, 16 and 1.5', () => {
      bad(S, patch({ readReplicas: -1 }), 'input.patch.readReplicas', 'between 0 and 15');
      bad(S, patch({ readReplicas: 16 }), 'input.patch.readReplicas', 'between 0 and 15');
      bad(S, patch({ readReplicas: 1.5 }), 'input.patch.readReplicas', 'whole number');
    });
  });

  describe('backupSchedule', () => {
    for (const cron of ['0 3 * * *', '*/15 * * * 1-5', '30 2 1 JAN,JUL *']) {
      it(`accepts ${cron}`, () => {
        expect(ok(S, patch({ backupSchedule: cron })).patch.backupSchedule).toBe(cron);
      });
    }
    for (const cron of ['every night', '0 3 * *', '61 3 * * *', '0 3 * * * *', '']) {
      it(`refuses ${JSON.stringify(cron)}`, () => {
        bad(S, patch({ backupSchedule: cron }), 'input.patch.backupSchedule', 'cron');
      });
    }
  });

  describe('runbookUrl', () => {
    it('accepts http(s) URLs', () => {
      expect(ok(S, patch({ runbookUrl: 'https://wiki.example.com/ops/runbook#db' })).patch.runbookUrl).toBe(
        'https://wiki.example.com/ops/runbook#db',
      );
      expect(ok(S, patch({ runbookUrl: 'http://intranet/runbook' })).patch.runbookUrl).toBe('http://intranet/runbook');
    });
    for (const url of [
      'wiki.example.com/runbook',
      'ftp://wiki.example.com/runbook',
      'mailto:ops@example.com',
      'https://',
      ' ',
      `https://example.com/${chars(2048)}`,
    ]) {
      it(`refuses ${JSON.stringify(url.slice(0, 40))}`, () => {
        bad(S, patch({ runbookUrl: url }), 'input.patch.runbookUrl');
      });
    }
  });

  it('refuses a non-boolean switch', () => {
    bad(S, patch({ securityHardening: 'on' }), 'input.patch.securityHardening', 'true or false');
  });

  it('validates a bare patch at its own path', () => {
    bad(EnvironmentSettingsPatchSchema, { readReplicas: 99 }, 'patch.readReplicas', 'between 0 and 15', 'patch');
  });
});

describe('UpdateEnvironmentSettingsInput', () => {
  const base = { environmentId: 'env1', patch: {} };
  field(
    UpdateEnvironmentSettingsInputSchema,
    base,
    'expectedVersion',
    [
      ['1', 1],
      ['1000', 1000],
    ],
    [
      ['0', 0],
      ['-1', -1],
      ['1.5', 1.5],
    ],
  );
  it('drops a null expectedVersion', () => {
    expect(ok(UpdateEnvironmentSettingsInputSchema, { ...base, expectedVersion: null })).toEqual(base);
  });
  it('needs a patch', () => {
    bad(UpdateEnvironmentSettingsInputSchema, { environmentId: 'env1' }, 'input.patch', 'is required');
  });
  it('needs an environmentId', () => {
    bad(UpdateEnvironmentSettingsInputSchema, { patch: {} }, 'input.environmentId', 'is required');
  });
});

// ---------------------------------------------------------------- databases

describe('CreateDatabaseConnectionInput', () => {
  const base = { projectId: 'p1', name: 'Primary Database' };
  field(
    CreateDatabaseConnectionInputSchema,
    base,
    'name',
    [
      ['1 character', 'P'],
      ['100 characters', chars(100)],
    ],
    [
      ['blanks', '   '],
      ['101 characters', chars(101)],
    ],
  );
  field(CreateDatabaseConnectionInputSchema, base, 'type', [['POSTGRES', 'POSTGRES']], [['MYSQL', 'MYSQL']], 'must be one of POSTGRES');
  it('defaults type to POSTGRES, also for null', () => {
    expect(ok(CreateDatabaseConnectionInputSchema, base).type).toBe('POSTGRES');
    expect(ok(CreateDatabaseConnectionInputSchema, { ...base, type: null }).type).toBe('POSTGRES');
  });
});

describe('SetDatabaseConnectionValueInput', () => {
  const base = { connectionId: 'c1', environment: 'staging', host: 'db.internal', database: 'shop' };

  it('defaults the port to 5432 and drops nulls', () => {
    expect(
      ok(SetDatabaseConnectionValueInputSchema, { ...base, port: null, user: null, ssl: null, poolSize: null, passwordSecret: null }),
    ).toEqual({ ...base, port: 5432 });
  });

  field(
    SetDatabaseConnectionValueInputSchema,
    base,
    'host',
    [
      ['a single label', 'db'],
      ['a domain', 'db-1.eu.example.com'],
      ['an IPv4 address', '10.0.0.5'],
      ['an IPv6 address', '::1'],
      ['a full IPv6 address', '2001:db8::8a2e:370:7334'],
      ['an underscore (service names)', 'shop_db'],
      [
        '253 characters',
        Array.from({ length: 4 }, () => chars(63))
          .join('.')
          .slice(0, 253),
      ],
    ],
    [
      ['the empty string', ''],
      ['blanks', '   '],
      ['a space', 'db host'],
      ['a leading hyphen', '-db'],
      ['a label of 64 characters', `${chars(64)}.example.com`],
      ['254 characters', `${chars(63)}.${chars(63)}.${chars(63)}.${chars(62)}`],
      ['an impossible IPv4 address', '999.1.1.1'],
      ['a port', 'db:5432'],
      ['a URL', 'postgres://db'],
    ],
  );
  field(
    SetDatabaseConnectionValueInputSchema,
    base,
    'port',
    [
      ['1', 1],
      ['65535', 65_535],
    ],
    [
      ['0', 0],
      ['65536', 65_536],
      ['a string', '5432'],
    ],
  );
  field(
    SetDatabaseConnectionValueInputSchema,
    base,
    'database',
    [['63 characters', chars(63)]],
    [
      ['64 characters', chars(64)],
      ['blanks', ' '],
    ],
  );
  field(
    SetDatabaseConnectionValueInputSchema,
    base,
    'user',
    [
      ['63 characters', chars(63)],
      ['shop_app', 'shop_app'],
    ],
    [
      ['64 characters', chars(64)],
      ['blanks', ' '],
    ],
  );
  field(
    SetDatabaseConnectionValueInputSchema,
    base,
    'poolSize',
    [
      ['1', 1],
      ['1000', 1000],
    ],
    [
      ['0', 0],
      ['1001', 1001],
    ],
    'between 1 and 1000',
  );
  field(SetDatabaseConnectionValueInputSchema, base, 'ssl', [['true', true]], [['a string', 'require']]);
  field(
    SetDatabaseConnectionValueInputSchema,
    base,
    'passwordSecret',
    [['a secret name', 'DB_PASSWORD']],
    [
      ['lower case', 'db_password'],
      ['a hyphen', 'DB-PASSWORD'],
    ],
    '^[A-Z][A-Z0-9_]{0,127}$',
  );
  field(SetDatabaseConnectionValueInputSchema, base, 'environment', [['a slug', 'production']], [['not a slug', 'Production']]);
});

// ---------------------------------------------------------------- secrets

describe('CreateSecretInput', () => {
  const base = { projectId: 'p1', name: 'STRIPE_SECRET_KEY' };

  it('defaults description to empty and rotation to off', () => {
    expect(ok(CreateSecretInputSchema, base)).toEqual({ ...base, description: '', rotationEnabled: false });
    expect(ok(CreateSecretInputSchema, { ...base, description: null, rotationEnabled: null, rotationDays: null })).toEqual({
      ...base,
      description: '',
      rotationEnabled: false,
    });
  });

  field(
    CreateSecretInputSchema,
    base,
    'name',
    [
      ['1 character', 'K'],
      ['128 characters', `A${chars(127, 'B')}`],
      ['digits and underscores', 'API_KEY_2'],
    ],
    [
      ['129 characters', `A${chars(128, 'B')}`],
      ['lower case', 'api_key'],
      ['a leading digit', '2FA_SECRET'],
      ['a leading underscore', '_KEY'],
      ['a hyphen', 'API-KEY'],
      ['the empty string', ''],
    ],
    '^[A-Z][A-Z0-9_]{0,127}$',
  );
  field(
    CreateSecretInputSchema,
    base,
    'description',
    [
      ['1000 characters', chars(1000)],
      ['the empty string', ''],
    ],
    [['1001 characters', chars(1001)]],
    'at most 1000',
  );

  it('accepts rotationDays 1 and 3650 with rotation on', () => {
    expect(ok(CreateSecretInputSchema, { ...base, rotationEnabled: true, rotationDays: 1 }).rotationDays).toBe(1);
    expect(ok(CreateSecretInputSchema, { ...base, rotationEnabled: true, rotationDays: 3650 }).rotationDays).toBe(3650);
  });
  it('refuses rotationDays 0 and 3651', () => {
    bad(CreateSecretInputSchema, { ...base, rotationEnabled: true, rotationDays: 0 }, 'input.rotationDays', 'between 1 and 3650');
    bad(CreateSecretInputSchema, { ...base, rotationDays: 3651 }, 'input.rotationDays', 'between 1 and 3650');
  });
  it('needs rotationDays when rotation is on', () => {
    bad(CreateSecretInputSchema, { ...base, rotationEnabled: true }, 'input.rotationDays', 'required when rotationEnabled');
    bad(
      CreateSecretInputSchema,
      { ...base, rotationEnabled: true, rotationDays: null },
      'input.rotationDays',
      'required when rotationEnabled',
    );
  });
  it('allows rotationDays with rotation off', () => {
    expect(ok(CreateSecretInputSchema, { ...base, rotationEnabled: false, rotationDays: 30 }).rotationDays).toBe(30);
  });
});

describe('UpdateSecretInput', () => {
  const base = { id: 's1' };
  it('accepts the id alone and drops nulls', () => {
    expect(ok(UpdateSecretInputSchema, { ...base, description: null, rotationEnabled: null, rotationDays: null })).toEqual(base);
  });
  field(UpdateSecretInputSchema, base, 'description', [['1000 characters', chars(1000)]], [['1001 characters', chars(1001)]]);
  field(
    UpdateSecretInputSchema,
    base,
    'rotationDays',
    [
      ['1', 1],
      ['3650', 3650],
    ],
    [
      ['0', 0],
      ['3651', 3651],
    ],
  );
  it('needs rotationDays when rotationEnabled: true is sent', () => {
    bad(UpdateSecretInputSchema, { ...base, rotationEnabled: true }, 'input.rotationDays', 'required when rotationEnabled');
    expect(ok(UpdateSecretInputSchema, { ...base, rotationEnabled: true, rotationDays: 90 })).toEqual({
      ...base,
      rotationEnabled: true,
      rotationDays: 90,
    });
    expect(ok(UpdateSecretInputSchema, { ...base, rotationEnabled: false })).toEqual({ ...base, rotationEnabled: false });
  });
});

describe('SetSecretValueInput', () => {
  const base = { secretId: 's1', environment: 'production' };

  it('accepts 1 byte and 64 KiB, byte for byte', () => {
    expect(ok(SetSecretValueInputSchema, { ...base, value: 'x' }).value).toBe('x');
    expect(ok(SetSecretValueInputSchema, { ...base, value: chars(65_536) }).value).toHaveLength(65_536);
    expect(ok(SetSecretValueInputSchema, { ...base, value: '  padded secret \n' }).value).toBe('  padded secret \n');
  });

  it('counts UTF-8 bytes, not characters', () => {
    expect(() => ok(SetSecretValueInputSchema, { ...base, value: 'é'.repeat(32_768) })).not.toThrow(); // 65536 bytes
    bad(SetSecretValueInputSchema, { ...base, value: 'é'.repeat(32_769) }, 'input.value', 'at most 64 KiB'); // 32769 characters
  });

  it('refuses the empty value and 64 KiB + 1', () => {
    bad(SetSecretValueInputSchema, { ...base, value: '' }, 'input.value', 'must not be empty');
    bad(SetSecretValueInputSchema, { ...base, value: chars(65_537) }, 'input.value', 'at most 64 KiB');
  });

  it('never quotes the value in the message', () => {
    const err = bad(SetSecretValueInputSchema, { ...base, value: `sk_live_${chars(65_536, 'Z')}` }, 'input.value');
    expect(err.message).not.toContain('sk_live_');
    expect(JSON.stringify(err.extensions)).not.toContain('sk_live_');
  });

  it('refuses a bad environment slug', () => {
    bad(SetSecretValueInputSchema, { ...base, environment: 'Prod', value: 'x' }, 'input.environment');
  });
});

describe('SecretValueRef', () => {
  it('needs a secretId and an environment slug', () => {
    expect(ok(SecretValueRefSchema, { secretId: 's1', environment: 'staging' })).toEqual({ secretId: 's1', environment: 'staging' });
    bad(SecretValueRefSchema, { secretId: 's1', environment: 'st' + '@' }, 'input.environment');
    bad(SecretValueRefSchema, { environment: 'staging' }, 'input.secretId', 'is required');
  });
});

// ---------------------------------------------------------------- releases and deployments

describe('RecordPushInput', () => {
  const base = { projectId: 'p1', branch: 'main', commitSha: 'a1b2c3d' };

  it('lower-cases the sha and drops nulls', () => {
    expect(ok(RecordPushInputSchema, { ...base, commitSha: 'A1B2C3D4E5', message: null, author: null, version: null })).toEqual({
      ...base,
      commitSha: 'a1b2c3d4e5',
    });
  });

  field(
    RecordPushInputSchema,
    base,
    'commitSha',
    [
      ['7 digits', 'abcdef0'],
      ['40 digits', chars(40, 'f')],
    ],
    [
      ['6 digits', 'abcdef'],
      ['41 digits', chars(41, 'f')],
      ['a non-hex letter', 'abcdefg'],
      ['the empty string', ''],
    ],
    '7 to 40 hexadecimal digits',
  );
  field(
    RecordPushInputSchema,
    base,
    'branch',
    [
      ['main', 'main'],
      ['feature/login-2', 'feature/login-2'],
      ['release/1.2.x', 'release/1.2.x'],
      ['user@host style', 'ops@fix'],
      ['255 characters', chars(255)],
    ],
    [
      ['the empty string', ''],
      ['256 characters', chars(256)],
      ['a space', 'my branch'],
      ['..', 'feature..x'],
      ['~', 'a~1'],
      ['^', 'a^1'],
      [':', 'a:b'],
      ['?', 'a?b'],
      ['*', 'feature/*'],
      ['[', 'a[b'],
      ['a backslash', 'a\\b'],
      ['a control character', 'a\tb'],
      ['a leading slash', '/main'],
      ['a trailing slash', 'main/'],
      ['a double slash', 'feature//x'],
      ['a component starting with a dot', 'feature/.x'],
      ['a leading dot', '.main'],
      ['a .lock component', 'main.lock'],
      ['a trailing dot', 'main.'],
      ['@{', 'main@{1}'],
      ['@ alone', '@'],
      ['a leading hyphen', '-main'],
    ],
  );
  field(
    RecordPushInputSchema,
    base,
    'message',
    [
      ['10000 characters', chars(10_000)],
      ['the empty string', ''],
    ],
    [['10001 characters', chars(10_001)]],
  );
  field(
    RecordPushInputSchema,
    base,
    'author',
    [['200 characters', chars(200)]],
    [
      ['201 characters', chars(201)],
      ['blanks', ' '],
    ],
  );
  field(
    RecordPushInputSchema,
    base,
    'version',
    [
      ['1 character', '1'],
      ['100 characters', chars(100)],
    ],
    [
      ['the empty string', ''],
      ['101 characters', chars(101)],
    ],
  );
});

describe('DeployInput, PromoteInput, RollbackInput', () => {
  it('deploy needs both ids', () => {
    expect(ok(DeployInputSchema, { environmentId: 'e', releaseId: 'r' })).toEqual({ environmentId: 'e', releaseId: 'r' });
    bad(DeployInputSchema, { environmentId: 'e' }, 'input.releaseId', 'is required');
  });
  for (const [name, schema] of [
    ['promote', PromoteInputSchema],
    ['rollback', RollbackInputSchema],
  ] as const) {
    it(`${name} takes an optional releaseId (null = not given)`, () => {
      expect(ok(schema, { environmentId: 'e', releaseId: null })).toEqual({ environmentId: 'e' });
      expect(ok(schema, { environmentId: 'e', releaseId: 'r' })).toEqual({ environmentId: 'e', releaseId: 'r' });
      bad(schema, { releaseId: 'r' }, 'input.environmentId', 'is required');
      bad(schema, { environmentId: '' }, 'input.environmentId', 'must not be empty');
    });
  }
});

describe('DecisionInput', () => {
  const base = { deploymentId: 'd1' };
  field(
    DecisionInputSchema,
    base,
    'comment',
    [
      ['2000 characters', chars(2000)],
      ['the empty string', ''],
    ],
    [['2001 characters', chars(2001)]],
    'at most 2000',
  );
  it('drops a null comment', () => {
    expect(ok(DecisionInputSchema, { ...base, comment: null })).toEqual(base);
  });
});

describe('ReportDeploymentStatusInput', () => {
  const base = { deploymentId: 'd1', status: 'RUNNING' };
  field(
    ReportDeploymentStatusInputSchema,
    base,
    'progress',
    [
      ['0', 0],
      ['0.5', 0.5],
      ['1', 1],
    ],
    [
      ['-0.01', -0.01],
      ['1.01', 1.01],
      ['a string', '50%'],
    ],
  );
  field(
    ReportDeploymentStatusInputSchema,
    base,
    'status',
    [
      ['SUCCEEDED', 'SUCCEEDED'],
      ['SKIPPED', 'SKIPPED'],
    ],
    [
      ['CANCELLED (not a step status)', 'CANCELLED'],
      ['missing', undefined],
    ],
  );
  field(
    ReportDeploymentStatusInputSchema,
    base,
    'step',
    [['200 characters', chars(200)]],
    [
      ['201 characters', chars(201)],
      ['blanks', ' '],
    ],
  );
  field(ReportDeploymentStatusInputSchema, base, 'message', [['10000 characters', chars(10_000)]], [['10001 characters', chars(10_001)]]);
  it('drops nulls', () => {
    expect(ok(ReportDeploymentStatusInputSchema, { ...base, step: null, progress: null, message: null })).toEqual(base);
  });
});

// ---------------------------------------------------------------- tokens

describe('CreateApiTokenInput', () => {
  const base = { name: 'ci', roles: ['DEVELOPER'] };
  field(
    CreateApiTokenInputSchema,
    base,
    'name',
    [['100 characters', chars(100)]],
    [
      ['blanks', '  '],
      ['101 characters', chars(101)],
    ],
  );
  field(
    CreateApiTokenInputSchema,
    base,
    'roles',
    [
      ['one role', ['QA']],
      ['every role', ['VIEWER', 'DEVELOPER', 'QA', 'APPROVER', 'ADMIN']],
    ],
    [['no role', []]],
    'at least one role',
  );
  field(CreateApiTokenInputSchema, base, 'expiresAt', [['the future', FUTURE]], [['the past', PAST]]);
  it('refuses a repeated role, naming it', () => {
    bad(CreateApiTokenInputSchema, { ...base, roles: ['QA', 'QA'] }, 'input.roles[1]', 'duplicate role QA');
  });
  it('refuses an unknown role', () => {
    bad(CreateApiTokenInputSchema, { ...base, roles: ['ROOT'] }, 'input.roles[0]', 'must be one of VIEWER, DEVELOPER, QA, APPROVER, ADMIN');
  });
  it('drops a null expiresAt (never expires)', () => {
    expect(ok(CreateApiTokenInputSchema, { ...base, expiresAt: null })).toEqual(base);
  });
  it('gives expiresAt as a Date', () => {
    expect(ok(CreateApiTokenInputSchema, { ...base, expiresAt: FUTURE }).expiresAt).toEqual(new Date(FUTURE));
  });
});
