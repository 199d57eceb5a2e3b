// API tokens: long-lived bearer credentials with roles, created by createApiToken.
import { sql } from 'drizzle-orm';
import { check, pgTable, text, uuid } from 'drizzle-orm/pg-core';
import { ROLES } from '../../domain/values.ts';
import { createdAt, timestamptz } from './common.ts';
import { projects } from './projects.ts';

export const apiTokens = pgTable(
  'api_tokens',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    name: text('name').notNull(),
    roles: text('roles').array().notNull(),
    // sha256 of the token: the token itself is shown once and never stored.
    tokenHash: text('token_hash').notNull().unique('api_tokens_hash_unique'),
    createdBy: text('created_by').notNull(),
    createdAt: createdAt(),
    expiresAt: timestamptz('expires_at'),
    revokedAt: timestamptz('revoked_at'),
    // A project-scoped token acts in this project only (v2); null: a global token.
    projectId: uuid('project_id').references(() => projects.id, { onDelete: 'cascade' }),
  },
  (t) => [
    check(
      'api_tokens_roles_valid',
      sql`${t.roles} <@ array[${sql.raw(ROLES.map((r) => `'${r}'`).join(','))}]::text[] and cardinality(${t.roles}) >= 1`,
    ),
    check('api_tokens_name_not_blank', sql`length(btrim(${t.name})) between 1 and 100`),
  ],
);

export type ApiTokenRow = typeof apiTokens.$inferSelect;
