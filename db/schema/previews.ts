// Preview environments (v2): a project's preview policy. The previews themselves are rows of
// environments with preview_branch set (db/schema/environments.ts).
import { sql } from 'drizzle-orm';
import { boolean, check, integer, pgTable, text, uuid } from 'drizzle-orm/pg-core';
import { PREVIEW_TTL_HOURS } from '../../domain/previews.ts';
import { timestamptz } from './common.ts';
import { projects } from './projects.ts';

/** One row per project once setPreviewPolicy has been called (Project.previewPolicy is null before). */
export const previewPolicies = pgTable(
  'preview_policies',
  {
    projectId: uuid('project_id')
      .primaryKey()
      .references(() => projects.id, { onDelete: 'cascade' }),
    enabled: boolean('enabled').notNull(),
    branchPattern: text('branch_pattern').notNull(),
    // A slug, not a foreign key: the contract names it by slug, and it is re-resolved (active
    // environments only) on every first push.
    copySettingsFrom: text('copy_settings_from').notNull(),
    ttlHours: integer('ttl_hours').notNull(),
    updatedBy: text('updated_by').notNull(),
    updatedAt: timestamptz('updated_at').notNull().defaultNow(),
  },
  (t) => [
    check('preview_policies_pattern_not_blank', sql`length(${t.branchPattern}) >= 1`),
    check(
      'preview_policies_ttl_range',
      sql`${t.ttlHours} between ${sql.raw(String(PREVIEW_TTL_HOURS.min))} and ${sql.raw(String(PREVIEW_TTL_HOURS.max))}`,
    ),
  ],
);

export type PreviewPolicyRow = typeof previewPolicies.$inferSelect;
