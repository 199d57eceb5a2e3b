// Who may do what in one project (v2): role grants to subjects and OIDC groups, and the trust
// policies through which CI workloads sign in with their own OIDC tokens. A project's visibility
// is a column of projects (db/schema/projects.ts).
import { sql } from 'drizzle-orm';
import { check, index, pgTable, text, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { ROLES } from '../../domain/values.ts';
import { createdAt } from './common.ts';
import { projects } from './projects.ts';

const rolesValid = (column: unknown) =>
  sql`${column} <@ array[${sql.raw(ROLES.map((r) => `'${r}'`).join(','))}]::text[] and cardinality(${column}) >= 1`;

export const projectMembers = pgTable(
  'project_members',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    projectId: uuid('project_id')
      .notNull()
      .references(() => projects.id, { onDelete: 'cascade' }),
    // Exactly one of subject (a token's `sub`) and group (an OIDC group).
    subject: text('subject'),
    group: text('group'),
    roles: text('roles').array().notNull(),
    grantedBy: text('granted_by').notNull(),
    createdAt: createdAt(),
  },
  (t) => [
    check('project_members_one_grantee', sql`(${t.subject} is null) <> (${t.group} is null)`),
    check('project_members_roles_valid', rolesValid(t.roles)),
    // One row per grantee: granting again replaces its roles (an upsert on these).
    uniqueIndex('project_members_subject_unique').on(t.projectId, t.subject).where(sql`${t.subject} is not null`),
    uniqueIndex('project_members_group_unique').on(t.projectId, t.group).where(sql`${t.group} is not null`),
  ],
);

export const trustPolicies = pgTable(
  'trust_policies',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    projectId: uuid('project_id')
      .notNull()
      .references(() => projects.id, { onDelete: 'cascade' }),
    issuer: text('issuer').notNull(),
    audience: text('audience').notNull(),
    subjectPattern: text('subject_pattern').notNull(),
    roles: text('roles').array().notNull(),
    createdBy: text('created_by').notNull(),
    createdAt: createdAt(),
  },
  (t) => [
    check('trust_policies_roles_valid', rolesValid(t.roles)),
    // Authentication looks policies up by (issuer, audience) on every workload request.
    index('trust_policies_issuer_audience').on(t.issuer, t.audience),
  ],
);

export type ProjectMemberRow = typeof projectMembers.$inferSelect;
export type TrustPolicyRow = typeof trustPolicies.$inferSelect;
