import { sql } from 'drizzle-orm';
import { customType, index, pgTable, primaryKey, uuid } from 'drizzle-orm/pg-core';
import { timestamptz } from './common.ts';

// PostgreSQL's 64-bit transaction id (pg_current_xact_id()); as text in JavaScript.
const xid8 = customType<{ data: string; driverData: string }>({ dataType: () => 'xid8' });

/**
 * Which transactions wrote to which project: one row per (transaction, project), inserted by
 * statement triggers on every table that holds a project's data (migration project_writes), so no
 * write path can forget it. The response cache (server/response-cache.ts, db/project-writes.ts)
 * asks it whether a transaction its snapshot did not see has since committed a write to the
 * project. Rows are pruned after PROJECT_WRITES_KEEP_MINUTES; no cached answer outlives that.
 */
export const projectWrites = pgTable(
  'project_writes',
  {
    projectId: uuid('project_id').notNull(),
    xid: xid8('xid').notNull(),
    at: timestamptz('at').notNull().default(sql`now()`),
  },
  (t) => [primaryKey({ columns: [t.projectId, t.xid] }), index('project_writes_at_idx').on(t.at)],
);
