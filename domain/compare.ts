// What differs between two environments' configurations (compareEnvironments). Works on metadata
// only: which secrets are set, never their values (the input has none).
import type { DatabaseValueSnapshot, EnvironmentSettings, FeatureFlag } from './types.ts';

export interface ValueDifference {
  path: string;
  base: unknown;
  target: unknown;
}

export interface ComparableConfiguration {
  settings: EnvironmentSettings;
  /** Connection name -> this environment's value of it. */
  databases: Record<string, DatabaseValueSnapshot>;
  /** Secret name -> whether it has a value in this environment. */
  secrets: Record<string, { isSet: boolean }>;
}

const DATABASE_FIELDS = ['host', 'port', 'database', 'user', 'ssl', 'poolSize', 'passwordSecret'] as const;

/**
 * Every difference, sorted by path (code-unit order, so independent of locale). A key present
 * on one side only is reported with null on the missing side: a feature flag as
 * `settings.featureFlags.<key>`, a database connection value field by field
 * (`databases.<name>.<field>`, so every path has the same shape as the contract's example),
 * a secret as `secrets.<NAME>.isSet`.
 */
export function compareConfigurations(base: ComparableConfiguration, target: ComparableConfiguration): ValueDifference[] {
  return sortByPath([
    ...settingsDifferences(base.settings, target.settings),
    ...databaseDifferences(base.databases, target.databases),
    ...secretDifferences(base.secrets, target.secrets),
  ]);
}

/**
 * Differences of settings alone, paths prefixed `settings.`. corsOrigins is compared as a whole
 * list, order included (the values reported are the lists); featureFlags by key, order ignored.
 */
export function settingsDifferences(base: EnvironmentSettings, target: EnvironmentSettings): ValueDifference[] {
  const diffs: ValueDifference[] = [];
  const add = (name: string, a: unknown, b: unknown) => {
    if (!sameValue(a, b)) diffs.push({ path: `settings.${name}`, base: a, target: b });
  };
  add('logLevel', base.logLevel, target.logLevel);
  add('rateLimit.enabled', base.rateLimit.enabled, target.rateLimit.enabled);
  add('rateLimit.requestsPerMinute', base.rateLimit.requestsPerMinute, target.rateLimit.requestsPerMinute);
  add('corsOrigins', [...base.corsOrigins], [...target.corsOrigins]);
  add('dataPolicy', base.dataPolicy, target.dataPolicy);
  add('performanceMonitoring', base.performanceMonitoring, target.performanceMonitoring);
  add('alerting', base.alerting, target.alerting);
  add('backupSchedule', base.backupSchedule, target.backupSchedule);
  add('readReplicas', base.readReplicas, target.readReplicas);
  add('runbookUrl', base.runbookUrl, target.runbookUrl);
  add('securityHardening', base.securityHardening, target.securityHardening);

  const baseFlags = flagMap(base.featureFlags);
  const targetFlags = flagMap(target.featureFlags);
  for (const key of unionKeys(baseFlags, targetFlags)) {
    add(`featureFlags.${key}`, baseFlags.get(key) ?? null, targetFlags.get(key) ?? null);
  }
  return sortByPath(diffs);
}

function databaseDifferences(
  base: Record<string, DatabaseValueSnapshot>,
  target: Record<string, DatabaseValueSnapshot>,
): ValueDifference[] {
  const diffs: ValueDifference[] = [];
  for (const name of unionKeys(toMap(base), toMap(target))) {
    const a = Object.hasOwn(base, name) ? base[name] : undefined;
    const b = Object.hasOwn(target, name) ? target[name] : undefined;
    for (const field of DATABASE_FIELDS) {
      const av = a?.[field] ?? null;
      const bv = b?.[field] ?? null;
      if (!sameValue(av, bv)) diffs.push({ path: `databases.${name}.${field}`, base: av, target: bv });
    }
  }
  return diffs;
}

function secretDifferences(base: Record<string, { isSet: boolean }>, target: Record<string, { isSet: boolean }>): ValueDifference[] {
  const diffs: ValueDifference[] = [];
  for (const name of unionKeys(toMap(base), toMap(target))) {
    const a = Object.hasOwn(base, name) ? base[name]!.isSet : null;
    const b = Object.hasOwn(target, name) ? target[name]!.isSet : null;
    if (a !== b) diffs.push({ path: `secrets.${name}.isSet`, base: a, target: b });
  }
  return diffs;
}

/** Key -> enabled; a later duplicate key wins, as it would when applied in order. */
function flagMap(flags: FeatureFlag[]): Map<string, boolean> {
  return new Map(flags.map((f) => [f.key, f.enabled]));
}

function toMap<V>(record: Record<string, V>): Map<string, V> {
  return new Map(Object.entries(record));
}

function unionKeys(a: Map<string, unknown>, b: Map<string, unknown>): string[] {
  return [...new Set([...a.keys(), ...b.keys()])];
}

/** Equality of the JSON-like values found in settings: primitives, null and arrays of strings. */
function sameValue(a: unknown, b: unknown): boolean {
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => x === b[i]);
  return a === b;
}

function sortByPath(diffs: ValueDifference[]): ValueDifference[] {
  return diffs.sort((x, y) => (x.path < y.path ? -1 : x.path > y.path ? 1 : 0));
}
