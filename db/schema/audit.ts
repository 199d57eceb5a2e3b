import { index, jsonb, pgTable, text, uuid } from 'drizzle-orm/pg-core';
import { createdAt } from './common.ts';
import { projects } from './projects.ts';

export const auditEvents = pgTable(
  'audit_events',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    // Null for actions outside any project (API tokens).
    projectId: uuid('project_id').references(() => projects.id, { onDelete: 'cascade' }),
    actor: text('actor').notNull(),
    action: text('action').notNull(),
    targetId: text('target_id'),
    detail: jsonb('detail'),
    at: createdAt(),
  },
  (t) => [index('audit_events_project_at_idx').on(t.projectId, t.at)],
);

export type AuditEventRow = typeof auditEvents.$inferSelect;
