import { sql } from 'drizzle-orm';
import { check, pgEnum, pgTable, text, uuid } from 'drizzle-orm/pg-core';
import { PROJECT_VISIBILITIES } from '../../domain/values.ts';
import { createdAt, SLUG_PATTERN_SQL } from './common.ts';

export const projectVisibility = pgEnum('project_visibility', PROJECT_VISIBILITIES);

export const projects = pgTable(
  'projects',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    slug: text('slug').notNull().unique('projects_slug_unique'),
    name: text('name').notNull(),
    // INTERNAL: every authenticated principal reads it (v1); PRIVATE: members and ADMINs only.
    visibility: projectVisibility('visibility').notNull().default('INTERNAL'),
    createdAt: createdAt(),
  },
  (t) => [
    check('projects_slug_format', sql`${t.slug} ~ ${sql.raw(`'${SLUG_PATTERN_SQL}'`)}`),
    check('projects_name_not_blank', sql`length(btrim(${t.name})) between 1 and 200`),
  ],
);

export type ProjectRow = typeof projects.$inferSelect;
