// Freeze windows (v2): when deployments into a project's environments may not start, and the
// break-glass overrides of them. A deleted window is kept (deleted_at) because the overrides made
// against it still name it (Deployment.freezeOverride.window); nothing else reads it.
import { sql } from 'drizzle-orm';
import { boolean, check, index, integer, pgTable, text, uuid } from 'drizzle-orm/pg-core';
import { ENVIRONMENT_TYPES } from '../../domain/values.ts';
import { createdAt, timestamptz } from './common.ts';
import { deployments } from './deployments.ts';
import { projects } from './projects.ts';

export const freezeWindows = pgTable(
  'freeze_windows',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    projectId: uuid('project_id')
      .notNull()
      .references(() => projects.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    reason: text('reason').notNull(),
    // Slug globs and environment types; both empty: every environment of the project.
    environmentSlugs: text('environment_slugs').array().notNull().default(sql`'{}'::text[]`),
    environmentTypes: text('environment_types').array().notNull().default(sql`'{}'::text[]`),
    startsAt: timestamptz('starts_at').notNull(),
    endsAt: timestamptz('ends_at'),
    recurrence: text('recurrence'),
    durationMinutes: integer('duration_minutes'),
    timeZone: text('time_zone').notNull().default('UTC'),
    allowRollback: boolean('allow_rollback').notNull().default(true),
    createdBy: text('created_by').notNull(),
    createdAt: createdAt(),
    deletedAt: timestamptz('deleted_at'),
  },
  (t) => [
    // One-off (ends_at) or recurring (recurrence + duration_minutes), never both: domain/freeze.ts.
    check(
      'freeze_windows_one_kind',
      sql`(${t.endsAt} is not null and ${t.recurrence} is null and ${t.durationMinutes} is null) or (${t.endsAt} is null and ${t.recurrence} is not null and ${t.durationMinutes} is not null)`,
    ),
    check('freeze_windows_ends_after_start', sql`${t.endsAt} is null or ${t.endsAt} > ${t.startsAt}`),
    check('freeze_windows_duration', sql`${t.durationMinutes} is null or ${t.durationMinutes} between 1 and 44640`),
    check(
      'freeze_windows_types_valid',
      sql`${t.environmentTypes} <@ array[${sql.raw(ENVIRONMENT_TYPES.map((v) => `'${v}'`).join(','))}]::text[]`,
    ),
    // Every deploy decision reads a project's live windows.
    index('freeze_windows_project_idx').on(t.projectId).where(sql`${t.deletedAt} is null`),
  ],
);

/** A break-glass deployment: which window it overrode, why, and who asked. One per deployment. */
export const freezeOverrides = pgTable('freeze_overrides', {
  deploymentId: uuid('deployment_id')
    .primaryKey()
    .references(() => deployments.id, { onDelete: 'cascade' }),
  windowId: uuid('window_id')
    .notNull()
    .references(() => freezeWindows.id, { onDelete: 'cascade' }),
  reason: text('reason').notNull(),
  by: text('by').notNull(),
  createdAt: createdAt(),
});

export type FreezeWindowRow = typeof freezeWindows.$inferSelect;
export type FreezeOverrideRow = typeof freezeOverrides.$inferSelect;
