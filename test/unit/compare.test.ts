import { describe, it, expect } from 'vitest';
import { compareConfigurations, settingsDifferences, type ComparableConfiguration } from '../../domain/compare.ts';
import { defaultSettings } from '../../domain/defaults.ts';
import type { DatabaseValueSnapshot } from '../../domain/types.ts';

const db = (over: Partial<DatabaseValueSnapshot> = {}): DatabaseValueSnapshot => ({
  host: 'db.internal',
  port: 5432,
  database: 'app',
  user: 'app',
  ssl: true,
  poolSize: 10,
  passwordSecret: 'DB_PASSWORD',
  ...over,
});

const config = (over: Partial<ComparableConfiguration> = {}): ComparableConfiguration => ({
  settings: { ...defaultSettings('STAGING'), featureFlags: [{ key: 'checkout', enabled: true }] },
  databases: { 'Primary Database': db() },
  secrets: { DB_PASSWORD: { isSet: true }, STRIPE_SECRET_KEY: { isSet: false } },
  ...over,
});

describe('compareConfigurations', () => {
  it('finds nothing between identical configurations', () => {
    expect(compareConfigurations(config(), config())).toEqual([]);
  });

  it('finds nothing between empty configurations', () => {
    const empty = { settings: defaultSettings('DEVELOPMENT'), databases: {}, secrets: {} };
    expect(compareConfigurations(empty, { ...empty, settings: defaultSettings('DEVELOPMENT') })).toEqual([]);
  });

  it('ignores the order of feature flags', () => {
    const a = config({
      settings: {
        ...config().settings,
        featureFlags: [
          { key: 'a', enabled: true },
          { key: 'b', enabled: false },
        ],
      },
    });
    const b = config({
      settings: {
        ...config().settings,
        featureFlags: [
          { key: 'b', enabled: false },
          { key: 'a', enabled: true },
        ],
      },
    });
    expect(compareConfigurations(a, b)).toEqual([]);
  });

  it('reports every settings field with the contract path, sorted by path', () => {
    const base = config({ settings: defaultSettings('DEVELOPMENT') });
    const target = config({ settings: defaultSettings('PRODUCTION') });
    expect(compareConfigurations(base, target)).toEqual([
      { path: 'settings.alerting', base: false, target: true },
      { path: 'settings.backupSchedule', base: null, target: '0 3 * * *' },
      { path: 'settings.corsOrigins', base: ['http://localhost:3000'], target: [] },
      { path: 'settings.dataPolicy', base: 'TEST_DATA', target: 'PRODUCTION' },
      { path: 'settings.logLevel', base: 'DEBUG', target: 'WARN' },
      { path: 'settings.performanceMonitoring', base: false, target: true },
      { path: 'settings.rateLimit.enabled', base: false, target: true },
      { path: 'settings.rateLimit.requestsPerMinute', base: null, target: 600 },
      { path: 'settings.readReplicas', base: 0, target: 1 },
      { path: 'settings.securityHardening', base: false, target: true },
    ]);
  });

  it('reports runbookUrl', () => {
    const target = config({ settings: { ...config().settings, runbookUrl: 'https://r.example' } });
    expect(compareConfigurations(config(), target)).toEqual([{ path: 'settings.runbookUrl', base: null, target: 'https://r.example' }]);
  });

  it('compares corsOrigins as a whole list, order included', () => {
    const a = config({ settings: { ...config().settings, corsOrigins: ['https://a', 'https://b'] } });
    const b = config({ settings: { ...config().settings, corsOrigins: ['https://b', 'https://a'] } });
    expect(compareConfigurations(a, b)).toEqual([
      { path: 'settings.corsOrigins', base: ['https://a', 'https://b'], target: ['https://b', 'https://a'] },
    ]);
    const same = config({ settings: { ...config().settings, corsOrigins: ['https://a', 'https://b'] } });
    expect(compareConfigurations(a, same)).toEqual([]);
  });

  it('compares feature flags by key, null on the side that lacks one', () => {
    const base = config({
      settings: {
        ...config().settings,
        featureFlags: [
          { key: 'checkout', enabled: true },
          { key: 'legacy', enabled: false },
        ],
      },
    });
    const target = config({
      settings: {
        ...config().settings,
        featureFlags: [
          { key: 'checkout', enabled: false },
          { key: 'new-ui', enabled: true },
        ],
      },
    });
    expect(compareConfigurations(base, target)).toEqual([
      { path: 'settings.featureFlags.checkout', base: true, target: false },
      { path: 'settings.featureFlags.legacy', base: false, target: null },
      { path: 'settings.featureFlags.new-ui', base: null, target: true },
    ]);
  });

  it('reports database value fields with the connection name in the path', () => {
    const target = config({
      databases: { 'Primary Database': db({ poolSize: 20, ssl: false, user: null, passwordSecret: null }) },
    });
    expect(compareConfigurations(config(), target)).toEqual([
      { path: 'databases.Primary Database.passwordSecret', base: 'DB_PASSWORD', target: null },
      { path: 'databases.Primary Database.poolSize', base: 10, target: 20 },
      { path: 'databases.Primary Database.ssl', base: true, target: false },
      { path: 'databases.Primary Database.user', base: 'app', target: null },
    ]);
  });

  it('reports host, port and database', () => {
    const target = config({ databases: { 'Primary Database': db({ host: 'other', port: 6432, database: 'x' }) } });
    expect(compareConfigurations(config(), target).map((d) => d.path)).toEqual([
      'databases.Primary Database.database',
      'databases.Primary Database.host',
      'databases.Primary Database.port',
    ]);
  });

  it('reports a connection value present on one side only field by field, null on the missing side', () => {
    const target = config({ databases: { 'Primary Database': db(), Analytics: db({ user: null }) } });
    expect(compareConfigurations(config(), target)).toEqual([
      { path: 'databases.Analytics.database', base: null, target: 'app' },
      { path: 'databases.Analytics.host', base: null, target: 'db.internal' },
      { path: 'databases.Analytics.passwordSecret', base: null, target: 'DB_PASSWORD' },
      { path: 'databases.Analytics.poolSize', base: null, target: 10 },
      { path: 'databases.Analytics.port', base: null, target: 5432 },
      { path: 'databases.Analytics.ssl', base: null, target: true },
      // user is null on both sides: no difference to report
    ]);
    expect(compareConfigurations(target, config()).map((d) => [d.base !== null, d.target])).toEqual(Array(6).fill([true, null]));
  });

  it('reports which secrets are set, null where one side does not know the secret', () => {
    const target = config({ secrets: { DB_PASSWORD: { isSet: false }, STRIPE_SECRET_KEY: { isSet: true }, NEW: { isSet: true } } });
    expect(compareConfigurations(config(), target)).toEqual([
      { path: 'secrets.DB_PASSWORD.isSet', base: true, target: false },
      { path: 'secrets.NEW.isSet', base: null, target: true },
      { path: 'secrets.STRIPE_SECRET_KEY.isSet', base: false, target: true },
    ]);
  });

  it('orders settings, databases and secrets differences by path', () => {
    const target = config({
      settings: { ...config().settings, logLevel: 'ERROR' },
      databases: { 'Primary Database': db({ poolSize: 5 }) },
      secrets: { DB_PASSWORD: { isSet: false }, STRIPE_SECRET_KEY: { isSet: false } },
    });
    const paths = compareConfigurations(config(), target).map((d) => d.path);
    expect(paths).toEqual(['databases.Primary Database.poolSize', 'secrets.DB_PASSWORD.isSet', 'settings.logLevel']);
  });

  it('is symmetric: swapping sides swaps base and target', () => {
    const target = config({ settings: { ...config().settings, readReplicas: 3 }, secrets: {} });
    const forward = compareConfigurations(config(), target);
    const backward = compareConfigurations(target, config());
    expect(backward).toEqual(forward.map((d) => ({ path: d.path, base: d.target, target: d.base })));
  });

  it('does not alias the input lists', () => {
    const a = config({ settings: { ...config().settings, corsOrigins: ['https://a'] } });
    const [diff] = compareConfigurations(a, config());
    (diff!.base as string[]).push('mutated');
    expect(a.settings.corsOrigins).toEqual(['https://a']);
  });
});

describe('settingsDifferences', () => {
  it('reports settings only, prefixed settings.', () => {
    const diffs = settingsDifferences(defaultSettings('STAGING'), { ...defaultSettings('STAGING'), alerting: false });
    expect(diffs).toEqual([{ path: 'settings.alerting', base: true, target: false }]);
  });
});
