import { sql } from 'drizzle-orm';
import { boolean, check, customType, integer, pgTable, text, unique, uuid } from 'drizzle-orm/pg-core';
import { createdAt, timestamptz } from './common.ts';
import { environments } from './environments.ts';
import { projects } from './projects.ts';

const bytea = customType<{ data: Buffer; driverData: Buffer | Uint8Array }>({
  dataType: () => 'bytea',
  fromDriver: (v) => Buffer.from(v),
});

export const secrets = pgTable(
  'secrets',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    projectId: uuid('project_id')
      .notNull()
      .references(() => projects.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    description: text('description').notNull().default(''),
    rotationEnabled: boolean('rotation_enabled').notNull().default(false),
    rotationDays: integer('rotation_days'),
    createdAt: createdAt(),
  },
  (t) => [
    unique('secrets_project_name_unique').on(t.projectId, t.name),
    check('secrets_name_format', sql`${t.name} ~ '^[A-Z][A-Z0-9_]{0,127}$'`),
    check('secrets_rotation_days_range', sql`${t.rotationDays} is null or ${t.rotationDays} between 1 and 3650`),
    check('secrets_rotation_needs_days', sql`not ${t.rotationEnabled} or ${t.rotationDays} is not null`),
  ],
);

// Metadata of a secret's value in one environment; the API reads only this table.
export const secretValues = pgTable(
  'secret_values',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    secretId: uuid('secret_id')
      .notNull()
      .references(() => secrets.id, { onDelete: 'cascade' }),
    environmentId: uuid('environment_id')
      .notNull()
      .references(() => environments.id, { onDelete: 'cascade' }),
    versionId: text('version_id').notNull(),
    updatedAt: timestamptz('updated_at').notNull().defaultNow(),
    updatedBy: text('updated_by').notNull(),
    lastRotatedAt: timestamptz('last_rotated_at'),
    nextRotationAt: timestamptz('next_rotation_at'),
  },
  (t) => [unique('secret_values_secret_env_unique').on(t.secretId, t.environmentId)],
);

// The `local` secrets backend: every version's ciphertext (AES-256-GCM), never read by resolvers.
export const secretValueVersions = pgTable(
  'secret_value_versions',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    secretId: uuid('secret_id')
      .notNull()
      .references(() => secrets.id, { onDelete: 'cascade' }),
    environmentId: uuid('environment_id')
      .notNull()
      .references(() => environments.id, { onDelete: 'cascade' }),
    versionId: text('version_id').notNull(),
    keyId: text('key_id').notNull(),
    nonce: bytea('nonce').notNull(),
    ciphertext: bytea('ciphertext').notNull(),
    createdAt: createdAt(),
  },
  (t) => [unique('secret_value_versions_version_unique').on(t.secretId, t.environmentId, t.versionId)],
);

export type SecretRow = typeof secrets.$inferSelect;
export type SecretValueRow = typeof secretValues.$inferSelect;
