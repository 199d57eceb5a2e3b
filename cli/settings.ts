// `config set key=value...`: values parsed by the type of the field they set, as the schema
// snapshot (schema/schema.graphql) declares it in EnvironmentSettingsPatch, and merged into the
// settings just read for the fields that are objects or keyed lists (rateLimit, featureFlags).
import { readFileSync } from 'node:fs';
import {
  buildSchema,
  getNamedType,
  getNullableType,
  isEnumType,
  isInputObjectType,
  isListType,
  isNonNullType,
  isScalarType,
  type GraphQLEnumType,
  type GraphQLInputObjectType,
  type GraphQLInputType,
  type GraphQLObjectType,
  type GraphQLSchema,
} from 'graphql';
import { UsageError } from './errors.ts';

let cached: GraphQLSchema | null = null;

/** The schema snapshot the CLI's operations are typed against. */
export function loadSchema(): GraphQLSchema {
  cached ??= buildSchema(readFileSync(new URL('../schema/schema.graphql', import.meta.url), 'utf8'));
  return cached;
}

export type Settings = Record<string, unknown>;
export type SettingsPatch = Record<string, unknown>;

const PATCH_TYPE = 'EnvironmentSettingsPatch';
const SETTINGS_TYPE = 'EnvironmentSettings';

function patchType(schema: GraphQLSchema): GraphQLInputObjectType {
  const type = schema.getType(PATCH_TYPE);
  if (!isInputObjectType(type)) throw new Error(`the schema has no input type ${PATCH_TYPE}`);
  return type;
}

/** Whether EnvironmentSettings may hold null for this field (then an empty value clears it). */
function settingNullable(schema: GraphQLSchema, key: string): boolean {
  const type = schema.getType(SETTINGS_TYPE) as GraphQLObjectType | undefined;
  const field = type?.getFields()[key];
  return field ? !isNonNullType(field.type) : false;
}

const TRUE = new Set(['true', 'yes', 'on', '1']);
const FALSE = new Set(['false', 'no', 'off', '0']);

/** A single (non-list) value of a scalar or enum type. */
export function parseScalarValue(type: GraphQLInputType, text: string, key: string): unknown {
  const named = getNullableType(type);
  if (isEnumType(named)) return parseEnum(named, text, key);
  if (!isScalarType(named)) throw new UsageError(`${key} cannot be set from a single value`);
  switch (named.name) {
    case 'Boolean': {
      const t = text.trim().toLowerCase();
      if (TRUE.has(t)) return true;
      if (FALSE.has(t)) return false;
      throw new UsageError(`${key} takes true or false, not ${JSON.stringify(text)}`);
    }
    case 'Int': {
      const t = text.trim();
      const n = Number(t);
      if (!/^-?\d+$/.test(t) || n > 2_147_483_647 || n < -2_147_483_648)
        throw new UsageError(`${key} takes an integer, not ${JSON.stringify(text)}`);
      return n;
    }
    case 'Float': {
      const t = text.trim();
      const n = Number(t);
      if (t === '' || !Number.isFinite(n)) throw new UsageError(`${key} takes a number, not ${JSON.stringify(text)}`);
      return n;
    }
    default:
      return text;
  }
}

function parseEnum(type: GraphQLEnumType, text: string, key: string): string {
  const values = type.getValues().map((v) => v.name);
  const wanted = text.trim().toUpperCase().replace(/-/g, '_');
  const found = values.find((v) => v === wanted);
  if (!found) throw new UsageError(`${key} takes one of ${values.join(', ')}, not ${JSON.stringify(text)}`);
  return found;
}

/** A value for a field: lists comma-separated, an empty value null where the setting may be null. */
function parseFieldValue(
  schema: GraphQLSchema,
  type: GraphQLInputType,
  text: string,
  key: string,
  topKey: string,
  nested: boolean,
): unknown {
  const nullable = getNullableType(type);
  if (isListType(nullable)) {
    const item = nullable.ofType as GraphQLInputType;
    if (isInputObjectType(getNamedType(item))) throw new UsageError(listOfObjectsHint(key, getNamedType(item) as GraphQLInputObjectType));
    const parts = text
      .split(',')
      .map((p) => p.trim())
      .filter((p) => p !== '');
    return parts.map((p) => parseScalarValue(item, p, key));
  }
  if (isInputObjectType(nullable)) {
    const fields = Object.keys(nullable.getFields());
    throw new UsageError(`${key} has fields: set ${fields.map((f) => `${key}.${f}=...`).join(' or ')}`);
  }
  if (text.trim() === '' || text.trim() === 'null') {
    const mayBeNull = nested ? !isNonNullType(type) : settingNullable(schema, topKey);
    if (mayBeNull) return null;
    if (text.trim() === '') throw new UsageError(`${key} needs a value`);
  }
  return parseScalarValue(type, text, key);
}

/** A list of input objects addressed by a `key` field, with one other field: featureFlags.<key>=<value>. */
function keyedListShape(type: GraphQLInputObjectType): { valueField: string } | null {
  const fields = Object.keys(type.getFields());
  if (!fields.includes('key') || fields.length !== 2) return null;
  return { valueField: fields.find((f) => f !== 'key')! };
}

function listOfObjectsHint(key: string, item: GraphQLInputObjectType): string {
  const shape = keyedListShape(item);
  return shape ? `${key} is set one entry at a time: ${key}.<key>=<${shape.valueField}>` : `${key} cannot be set from the command line`;
}

/** Copies of the fields of `value` that the input type has (output objects may have more). */
function asInput(type: GraphQLInputObjectType, value: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const source = (value ?? {}) as Record<string, unknown>;
  for (const name of Object.keys(type.getFields())) if (name in source) out[name] = source[name];
  return out;
}

/** The names `config set` takes, for messages. */
export function settingKeys(schema: GraphQLSchema): string[] {
  return Object.keys(patchType(schema).getFields());
}

/**
 * Turns `key=value` assignments into an EnvironmentSettingsPatch, given the settings just read
 * (objects and keyed lists are sent whole, with the assignment applied to what was read).
 */
export function buildSettingsPatch(schema: GraphQLSchema, current: Settings, assignments: string[]): SettingsPatch {
  const patchFields = patchType(schema).getFields();
  const patch: SettingsPatch = {};
  for (const assignment of assignments) {
    const at = assignment.indexOf('=');
    if (at <= 0) throw new UsageError(`expected key=value, not ${JSON.stringify(assignment)}`, 'config set');
    const key = assignment.slice(0, at).trim();
    const text = assignment.slice(at + 1);
    const [head, ...restPath] = key.split('.');
    const field = patchFields[head!];
    if (!field) {
      throw new UsageError(`unknown setting ${JSON.stringify(head)}; settings are ${Object.keys(patchFields).join(', ')}`, 'config set');
    }
    const type = getNullableType(field.type) as GraphQLInputType;
    if (restPath.length === 0) {
      patch[head!] = parseFieldValue(schema, field.type, text, key, head!, false);
      continue;
    }
    if (restPath.length !== 1) throw new UsageError(`unknown setting ${JSON.stringify(key)}`, 'config set');
    const sub = restPath[0]!;
    if (isInputObjectType(type)) {
      const subField = type.getFields()[sub];
      if (!subField) {
        throw new UsageError(
          `unknown setting ${JSON.stringify(key)}; ${head} has ${Object.keys(type.getFields()).join(', ')}`,
          'config set',
        );
      }
      const base = (patch[head!] as Record<string, unknown> | undefined) ?? asInput(type, current[head!]);
      patch[head!] = { ...base, [sub]: parseFieldValue(schema, subField.type, text, key, head!, true) };
      continue;
    }
    if (isListType(type) && isInputObjectType(getNamedType(type))) {
      const item = getNamedType(type) as GraphQLInputObjectType;
      const shape = keyedListShape(item);
      if (!shape) throw new UsageError(`${head} cannot be set from the command line`, 'config set');
      const valueField = item.getFields()[shape.valueField]!;
      const base =
        (patch[head!] as Record<string, unknown>[] | undefined) ?? ((current[head!] as unknown[]) ?? []).map((v) => asInput(item, v));
      const value = parseFieldValue(schema, valueField.type, text, key, head!, true);
      const index = base.findIndex((entry) => entry.key === sub);
      const entry = { key: sub, [shape.valueField]: value };
      patch[head!] = index >= 0 ? base.map((e, k) => (k === index ? entry : e)) : [...base, entry];
      continue;
    }
    throw new UsageError(`${head} has no field ${JSON.stringify(sub)}`, 'config set');
  }
  return patch;
}

/**
 * Settings as `key=value` lines in the syntax `config set` takes (`version` is read-only); a list
 * of objects (featureFlags) is one line per entry, `featureFlags.<key>=<enabled>`.
 */
export function flattenSettings(schema: GraphQLSchema, settings: Settings): [string, string][] {
  const settingsType = schema.getType(SETTINGS_TYPE) as GraphQLObjectType | undefined;
  const fields = settingsType?.getFields() ?? {};
  const rows: [string, string][] = [];
  for (const [key, value] of Object.entries(settings)) {
    if (key === '__typename') continue;
    const type = fields[key] ? getNullableType(fields[key].type) : null;
    const objectList = type !== null && isListType(type) && !isScalarType(getNamedType(type)) && !isEnumType(getNamedType(type));
    if (objectList && Array.isArray(value)) {
      for (const entry of value as Record<string, unknown>[]) {
        const other = Object.keys(entry).find((k) => k !== 'key' && k !== '__typename');
        rows.push([`${key}.${String(entry.key)}`, formatValue(other ? entry[other] : '')]);
      }
    } else if (value && typeof value === 'object' && !Array.isArray(value)) {
      for (const [sub, v] of Object.entries(value)) if (sub !== '__typename') rows.push([`${key}.${sub}`, formatValue(v)]);
    } else {
      rows.push([key, formatValue(value)]);
    }
  }
  return rows;
}

const formatValue = (value: unknown): string =>
  value === null || value === undefined ? '' : Array.isArray(value) ? value.join(',') : String(value);

/** The settings keys whose values differ between two readings, for the summary of `config set`. */
export function changedKeys(schema: GraphQLSchema, before: Settings, after: Settings): string[] {
  const a = new Map(flattenSettings(schema, before));
  const b = new Map(flattenSettings(schema, after));
  const keys = new Set([...a.keys(), ...b.keys()]);
  keys.delete('version');
  return [...keys].filter((k) => a.get(k) !== b.get(k)).sort();
}
