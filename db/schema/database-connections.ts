// A project's database connections and, per environment, where each one points. The password is
// a reference to one of the project's secrets, never a value.
import { sql } from 'drizzle-orm';
import { boolean, check, integer, pgEnum, pgTable, text, unique, uuid } from 'drizzle-orm/pg-core';
import { DATABASE_TYPES } from '../../domain/values.ts';
import { createdAt } from './common.ts';
import { environments } from './environments.ts';
import { projects } from './projects.ts';
import { secrets } from './secrets.ts';

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

export type DatabaseConnectionValueRow = typeof databaseConnectionValues.$inferSelect;
