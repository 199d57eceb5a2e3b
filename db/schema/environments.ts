import { sql } from 'drizzle-orm';
import { boolean, check, foreignKey, index, integer, jsonb, pgEnum, pgTable, text, unique, uuid } from 'drizzle-orm/pg-core';
import type { DeployPolicy, DeployTarget, EnvironmentSettings } from '../../domain/types.ts';
import { DATABASE_TYPES, ENVIRONMENT_PURPOSES, ENVIRONMENT_TYPES } from '../../domain/values.ts';
import { createdAt, SLUG_PATTERN_SQL, timestamptz } from './common.ts';
import { projects } from './projects.ts';
import { secrets } from './secrets.ts';

export const environmentType = pgEnum('environment_type', ENVIRONMENT_TYPES);
export const environmentPurpose = pgEnum('environment_purpose', ENVIRONMENT_PURPOSES);

export const environments = pgTable(
  'environments',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    projectId: uuid('project_id')
      .notNull()
      .references(() => projects.id, { onDelete: 'cascade' }),
    slug: text('slug').notNull(),
    name: text('name').notNull(),
    type: environmentType('type').notNull(),
    purpose: environmentPurpose('purpose'),
    position: integer('position').notNull(),
    promotesFromId: uuid('promotes_from_id'),
    region: text('region'),
    // Policy and deploy target are small documents always read and written whole; their shape is
    // validated by zod at the API boundary (domain/validation.ts).
    policy: jsonb('policy').$type<DeployPolicy>().notNull(),
    deployTarget: jsonb('deploy_target').$type<DeployTarget>().notNull(),
    // The current settings and their version; every version is also kept in
    // environment_settings_versions (the history, and the optimistic-concurrency anchor).
    settings: jsonb('settings').$type<EnvironmentSettings>().notNull(),
    settingsVersion: integer('settings_version').notNull().default(1),
    frozen: boolean('frozen').notNull().default(false),
    expiresAt: timestamptz('expires_at'),
    archivedAt: timestamptz('archived_at'),
    createdAt: createdAt(),
  },
  (t) => [
    unique('environments_project_slug_unique').on(t.projectId, t.slug),
    // Lets promotes_from reference (project_id, id) so an environment can only promote from one of
    // its own project.
    unique('environments_project_id_id_unique').on(t.projectId, t.id),
    check('environments_slug_format', sql`${t.slug} ~ ${sql.raw(`'${SLUG_PATTERN_SQL}'`)}`),
    check('environments_name_not_blank', sql`length(btrim(${t.name})) between 1 and 200`),
    check('environments_position_non_negative', sql`${t.position} >= 0`),
    check('environments_settings_version_positive', sql`${t.settingsVersion} >= 1`),
    check('environments_not_promoting_from_itself', sql`${t.promotesFromId} is null or ${t.promotesFromId} <> ${t.id}`),
    index('environments_project_position_idx').on(t.projectId, t.position),
    foreignKey({
      name: 'environments_promotes_from_fk',
      columns: [t.projectId, t.promotesFromId],
      foreignColumns: [t.projectId, t.id],
    }),
  ],
);

export const environmentSettingsVersions = pgTable(
  'environment_settings_versions',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    environmentId: uuid('environment_id')
      .notNull()
      .references(() => environments.id, { onDelete: 'cascade' }),
    version: integer('version').notNull(),
    settings: jsonb('settings').$type<EnvironmentSettings>().notNull(),
    changedBy: text('changed_by').notNull(),
    createdAt: createdAt(),
  },
  (t) => [
    unique('environment_settings_versions_env_version_unique').on(t.environmentId, t.version),
    check('environment_settings_versions_version_positive', sql`${t.version} >= 1`),
  ],
);

export const databaseType = pgEnum('database_type', DATABASE_TYPES);

export const databaseConnections = pgTable(
  'database_connections',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    projectId: uuid('project_id')
      .notNull()
      .references(() => projects.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    type: databaseType('type').notNull().default('POSTGRES'),
    createdAt: createdAt(),
  },
  (t) => [
    unique('database_connections_project_name_unique').on(t.projectId, t.name),
    check('database_connections_name_not_blank', sql`length(btrim(${t.name})) between 1 and 100`),
  ],
);

export const databaseConnectionValues = pgTable(
  'database_connection_values',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    connectionId: uuid('connection_id')
      .notNull()
      .references(() => databaseConnections.id, { onDelete: 'cascade' }),
    environmentId: uuid('environment_id')
      .notNull()
      .references(() => environments.id, { onDelete: 'cascade' }),
    host: text('host').notNull(),
    port: integer('port').notNull().default(5432),
    database: text('database').notNull(),
    user: text('user'),
    ssl: boolean('ssl').notNull().default(true),
    poolSize: integer('pool_size').notNull().default(10),
    // Set null when the secret is deleted: the value stays, without its password reference.
    passwordSecretId: uuid('password_secret_id').references(() => secrets.id, { onDelete: 'set null' }),
    updatedAt: createdAt(),
  },
  (t) => [
    unique('database_connection_values_conn_env_unique').on(t.connectionId, t.environmentId),
    check('database_connection_values_port_range', sql`${t.port} between 1 and 65535`),
    check('database_connection_values_pool_size_range', sql`${t.poolSize} between 1 and 1000`),
    check('database_connection_values_host_not_blank', sql`length(btrim(${t.host})) between 1 and 253`),
    check('database_connection_values_database_not_blank', sql`length(btrim(${t.database})) between 1 and 63`),
  ],
);

export type EnvironmentRow = typeof environments.$inferSelect;
export type DatabaseConnectionValueRow = typeof databaseConnectionValues.$inferSelect;
