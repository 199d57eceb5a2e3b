import { sql } from 'drizzle-orm';
import { boolean, check, foreignKey, index, integer, jsonb, pgEnum, pgTable, text, unique, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import type { DeployPolicy, DeployTarget, EnvironmentSettings } from '../../domain/types.ts';
import { ENVIRONMENT_PURPOSES, ENVIRONMENT_TYPES } from '../../domain/values.ts';
import { createdAt, SLUG_PATTERN_SQL, timestamptz } from './common.ts';
import { projects } from './projects.ts';

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
    // v2: set by an automatic rollback; pushes deploy nothing here until resumeAutoDeploy.
    autoDeployPaused: boolean('auto_deploy_paused').notNull().default(false),
    expiresAt: timestamptz('expires_at'),
    archivedAt: timestamptz('archived_at'),
    // Preview environments (v2): the branch it follows; null for every other environment.
    previewBranch: text('preview_branch'),
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
    // One active preview per branch: concurrent first pushes of a branch cannot make two.
    uniqueIndex('environments_active_preview_branch_unique')
      .on(t.projectId, t.previewBranch)
      .where(sql`${t.previewBranch} is not null and ${t.archivedAt} is null`),
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

export type EnvironmentRow = typeof environments.$inferSelect;
