import { index, pgTable, primaryKey, uuid } from 'drizzle-orm/pg-core';
import { createdAt } from './common.ts';
import { deployments, releases } from './deployments.ts';
import { environments } from './environments.ts';

// v2: a release that failed verification in an environment, with automatic rollback on: it may
// not be deployed or promoted there again until releaseQuarantine removes the row.
export const releaseQuarantines = pgTable(
  'release_quarantines',
  {
    environmentId: uuid('environment_id')
      .notNull()
      .references(() => environments.id, { onDelete: 'cascade' }),
    releaseId: uuid('release_id')
      .notNull()
      .references(() => releases.id, { onDelete: 'cascade' }),
    // The deployment whose failed verification quarantined it.
    deploymentId: uuid('deployment_id').references(() => deployments.id, { onDelete: 'set null' }),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.environmentId, t.releaseId] }), index('release_quarantines_release_idx').on(t.releaseId)],
);

export type ReleaseQuarantineRow = typeof releaseQuarantines.$inferSelect;
