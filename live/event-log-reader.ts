// The seam between the event hub and the deployment event log (db/event-log.ts writes it): every
// read the hub and its deployment feeds make, behind one small interface, so that the fan-out
// logic can be tested over an in-memory log. The queries are the hub's (one per notification
// batch, paged replays, the read-back after a lost LISTEN); their plans are checked by
// test/integration/history-plans.test.ts.
import { and, asc, eq, gt, gte, inArray, lt, notInArray, or, type SQL } from 'drizzle-orm';
import type { Database } from '../db/client.ts';
import { deploymentEvents, type DeploymentEventRow } from '../db/schema/index.ts';

export type EventRow = DeploymentEventRow;

/** Events of one deployment strictly between two seqs: a gap behind a notification. */
export interface SeqGap {
  deploymentId: string;
  afterSeq: number;
  beforeSeq: number;
}

export interface EventLogReader {
  /** Events of one deployment with seq > afterSeq, in order, at most `limit`. */
  readDeployment(deploymentId: string, afterSeq: number, limit: number): Promise<EventRow[]>;
  /** In ONE query: the notified rows by id, and the rows of every gap; in id order (at least one of the two given). */
  loadNotified(ids: number[], gaps: SeqGap[]): Promise<EventRow[]>;
  /** After a lost LISTEN: per deployment, its events with seq > from; in id order (per query). */
  readDeploymentsAfter(known: { deploymentId: string; from: number }[]): Promise<EventRow[]>;
  /** After a lost LISTEN: events of these projects with id > afterId, except of the given deployments; in id order. */
  readProjectsAfter(projectIds: string[], afterId: number, exceptDeploymentIds: string[]): Promise<EventRow[]>;
}

/** Deployments per recovery query (keeps the statement's size bounded). */
const CHUNK = 2000;

/** The event log in the database. */
export function createEventLogReader(db: Database): EventLogReader {
  return {
    readDeployment(deploymentId, afterSeq, limit) {
      return db
        .select()
        .from(deploymentEvents)
        .where(and(eq(deploymentEvents.deploymentId, deploymentId), gt(deploymentEvents.seq, afterSeq)))
        .orderBy(asc(deploymentEvents.seq))
        .limit(limit);
    },

    loadNotified(ids, gaps) {
      const conditions: SQL[] = ids.length > 0 ? [inArray(deploymentEvents.id, ids)] : [];
      for (const gap of gaps) {
        conditions.push(
          and(
            eq(deploymentEvents.deploymentId, gap.deploymentId),
            gt(deploymentEvents.seq, gap.afterSeq),
            lt(deploymentEvents.seq, gap.beforeSeq),
          )!,
        );
      }
      return db
        .select()
        .from(deploymentEvents)
        .where(conditions.length === 1 ? conditions[0] : or(...conditions))
        .orderBy(asc(deploymentEvents.id));
    },

    async readDeploymentsAfter(known) {
      const rows: EventRow[] = [];
      for (let i = 0; i < known.length; i += CHUNK) {
        const chunk = known.slice(i, i + CHUNK);
        rows.push(
          ...(await db
            .select()
            .from(deploymentEvents)
            .where(or(...chunk.map((k) => and(eq(deploymentEvents.deploymentId, k.deploymentId), gt(deploymentEvents.seq, k.from))!)))
            .orderBy(asc(deploymentEvents.id))),
        );
      }
      return rows;
    },

    readProjectsAfter(projectIds, afterId, exceptDeploymentIds) {
      return db
        .select()
        .from(deploymentEvents)
        .where(
          and(
            inArray(deploymentEvents.projectId, projectIds),
            gte(deploymentEvents.id, afterId + 1),
            exceptDeploymentIds.length > 0 ? notInArray(deploymentEvents.deploymentId, exceptDeploymentIds) : undefined,
          ),
        )
        .orderBy(asc(deploymentEvents.id));
    },
  };
}
