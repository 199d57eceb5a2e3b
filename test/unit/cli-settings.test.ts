// `config set key=value…` (cli/settings.ts): values parsed by the type the schema snapshot gives
// the field in EnvironmentSettingsPatch; objects and keyed lists merged into what was read.
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../cli/errors.ts';
import { buildSettingsPatch, changedKeys, flattenSettings, loadSchema, settingKeys } from '../../cli/settings.ts';

const schema = loadSchema();

const current = {
  version: 4,
  logLevel: 'INFO',
  featureFlags: [
    { key: 'checkout', enabled: true },
    { key: 'search', enabled: false },
  ],
  rateLimit: { enabled: true, requestsPerMinute: 600 },
  corsOrigins: ['http://localhost:3000'],
  dataPolicy: 'ANONYMIZED_PRODUCTION',
  performanceMonitoring: true,
  alerting: true,
  backupSchedule: '0 3 * * *',
  readReplicas: 0,
  runbookUrl: null,
  securityHardening: true,
};

const patch = (...assignments: string[]) => buildSettingsPatch(schema, current, assignments);
const refused = (...assignments: string[]) => {
  try {
    patch(...assignments);
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    return (error as Error).message;
  }
  throw new Error(`${assignments.join(' ')} was accepted`);
};

describe('config set values', () => {
  it('knows the settings from the schema snapshot', () => {
    expect(settingKeys(schema)).toEqual(
      expect.arrayContaining([
        'logLevel',
        'featureFlags',
        'rateLimit',
        'corsOrigins',
        'dataPolicy',
        'readReplicas',
        'backupSchedule',
        'runbookUrl',
      ]),
    );
  });

  it('parses enums case-insensitively, booleans, integers and strings', () => {
    expect(
      patch(
        'logLevel=warn',
        'dataPolicy=test-data',
        'alerting=false',
        'performanceMonitoring=yes',
        'readReplicas=3',
        'backupSchedule=0 4 * * *',
      ),
    ).toEqual({
      logLevel: 'WARN',
      dataPolicy: 'TEST_DATA',
      alerting: false,
      performanceMonitoring: true,
      readReplicas: 3,
      backupSchedule: '0 4 * * *',
    });
    // Only the first "=" separates the key.
    expect(patch('runbookUrl=https://wiki.example/run?a=b')).toEqual({ runbookUrl: 'https://wiki.example/run?a=b' });
  });

  it('splits lists on commas, and an empty value is an empty list', () => {
    expect(patch('corsOrigins=https://a.example, https://b.example')).toEqual({ corsOrigins: ['https://a.example', 'https://b.example'] });
    expect(patch('corsOrigins=')).toEqual({ corsOrigins: [] });
  });

  it('clears optional settings with an empty value, and refuses that for required ones', () => {
    expect(patch('backupSchedule=', 'runbookUrl=null')).toEqual({ backupSchedule: null, runbookUrl: null });
    expect(refused('readReplicas=')).toMatch(/readReplicas needs a value/);
    expect(refused('logLevel=')).toMatch(/logLevel/);
  });

  it('sets nested fields into the object read (rateLimit), and keyed list entries (featureFlags)', () => {
    expect(patch('rateLimit.enabled=false')).toEqual({ rateLimit: { enabled: false, requestsPerMinute: 600 } });
    expect(patch('rateLimit.requestsPerMinute=100', 'rateLimit.enabled=on')).toEqual({
      rateLimit: { enabled: true, requestsPerMinute: 100 },
    });
    expect(patch('rateLimit.requestsPerMinute=')).toEqual({ rateLimit: { enabled: true, requestsPerMinute: null } });
    expect(patch('featureFlags.search=true', 'featureFlags.newNav=false')).toEqual({
      featureFlags: [
        { key: 'checkout', enabled: true },
        { key: 'search', enabled: true },
        { key: 'newNav', enabled: false },
      ],
    });
  });

  it('refuses unknown keys and values of the wrong type, naming what it takes', () => {
    expect(refused('loglevel=WARN')).toMatch(/unknown setting "loglevel"; settings are logLevel, /);
    expect(refused('version=5')).toMatch(/unknown setting "version"/);
    expect(refused('logLevel=LOUD')).toBe('logLevel takes one of DEBUG, INFO, WARN, ERROR, not "LOUD"');
    expect(refused('alerting=maybe')).toBe('alerting takes true or false, not "maybe"');
    expect(refused('readReplicas=2.5')).toBe('readReplicas takes an integer, not "2.5"');
    expect(refused('readReplicas=99999999999')).toMatch(/integer/);
    expect(refused('rateLimit=off')).toMatch(/rateLimit has fields: set rateLimit.enabled=... or rateLimit.requestsPerMinute=.../);
    expect(refused('rateLimit.burst=3')).toMatch(/unknown setting "rateLimit.burst"/);
    expect(refused('featureFlags=checkout')).toMatch(/featureFlags.<key>=<enabled>/);
    expect(refused('featureFlags.checkout=sure')).toMatch(/featureFlags.checkout takes true or false/);
    expect(refused('logLevel.x=1')).toMatch(/logLevel has no field "x"/);
    expect(refused('a.b.c=1')).toMatch(/unknown setting/);
    expect(refused('logLevel')).toMatch(/expected key=value/);
    expect(refused('=WARN')).toMatch(/expected key=value/);
  });

  it('prints settings as the key=value lines it takes, and names what changed', () => {
    const lines = flattenSettings(schema, current);
    expect(lines).toContainEqual(['featureFlags.checkout', 'true']);
    expect(lines).toContainEqual(['rateLimit.requestsPerMinute', '600']);
    expect(lines).toContainEqual(['corsOrigins', 'http://localhost:3000']);
    expect(lines).toContainEqual(['runbookUrl', '']);
    expect(lines[0]).toEqual(['version', '4']);
    // Every line but the version can be fed back unchanged.
    const again = buildSettingsPatch(
      schema,
      current,
      lines.filter(([k]) => k !== 'version').map(([k, v]) => `${k}=${v}`),
    );
    expect(again).toMatchObject({ logLevel: 'INFO', readReplicas: 0, corsOrigins: ['http://localhost:3000'], runbookUrl: null });
    expect(
      changedKeys(schema, current, { ...current, version: 5, logLevel: 'WARN', rateLimit: { enabled: false, requestsPerMinute: 600 } }),
    ).toEqual(['logLevel', 'rateLimit.enabled']);
  });
});
