// The deployment event log: the one way events are written. Each append takes the next seq of
// its deployment in the same transaction as the status change it records, and NOTIFYs listeners
// (delivered by PostgreSQL only if that transaction commits).
import { and, eq, getColumns, inArray, type SQL, sql } from 'drizzle-orm';
import { notificationEventOf } from '../domain/notifications.ts';
import { INSIGHT_DECISION_EVENTS, INSIGHT_OUTCOME_EVENTS, isOneOf } from '../domain/values.ts';
import type { Queryable } from './client.ts';
import { enqueueNotifications } from './notification-outbox.ts';
import { deploymentEvents, deployments, releases, type DeploymentEventRow, type DeploymentRow } from './schema/index.ts';

/** The NOTIFY channel; the payload is a JSON `EventNotification`. */
export const EVENTS_CHANNEL = 'stageplane_deployment_events';

export interface EventNotification {
  /** deployment_events.id of the new row */
  id: number;
  deploymentId: string;
  projectId: string;
  seq: number;
  /** The row itself (`at` as ISO text) when it fits in a notification: listeners need not load it. */
  row?: Omit<DeploymentEventRow, 'at'> & { at: string };
}

/** PostgreSQL refuses a NOTIFY payload of 8000 bytes or more (its default build). */
const NOTIFY_PAYLOAD_LIMIT = 8000;

/**
 * The NOTIFY payload of an appended row: the row rides along when its JSON fits, so that a hub
 * does not query it back (one round trip less between the commit and the subscribers). A row
 * whose progress JSON cannot carry (NaN, an infinity) or that is too long is only named.
 */
export function notificationOf(row: DeploymentEventRow): string {
  const note: EventNotification = { id: row.id, deploymentId: row.deploymentId, projectId: row.projectId, seq: row.seq };
  if (row.progress === null || Number.isFinite(row.progress)) {
    const full = JSON.stringify({ ...note, row: { ...row, at: row.at.toISOString() } });
    if (Buffer.byteLength(full) < NOTIFY_PAYLOAD_LIMIT) return full;
  }
  return JSON.stringify(note);
}

/** The row a notification carries, or null when the listener is to load it. */
export function notifiedRow(note: EventNotification): DeploymentEventRow | null {
  const row = note.row;
  if (typeof row !== 'object' || row === null || row.id !== note.id || row.seq !== note.seq || typeof row.at !== 'string') return null;
  const at = new Date(row.at);
  if (Number.isNaN(at.getTime())) return null;
  return { ...row, at };
}

/**
 * notificationOf's payload made by the database, for an insert's RETURNING (the NOTIFY rides on
 * the insert: one statement less per event). The row's id and `at` are the database's (now(), the
 * transaction's start), so the database measures the payload too: the row rides along when the
 * whole is under the limit, as notificationOf decides.
 */
function notificationSql(values: ReturnType<typeof eventRow>): SQL {
  const e = deploymentEvents;
  const note = sql`json_build_object('id', ${e.id}, 'deploymentId', ${e.deploymentId}, 'projectId', ${e.projectId}, 'seq', ${e.seq})::text`;
  // Known to be too long, or a progress JSON cannot carry (NaN, an infinity): only named.
  const known = JSON.stringify(values);
  if ((values.progress !== null && !Number.isFinite(values.progress)) || Buffer.byteLength(known) >= NOTIFY_PAYLOAD_LIMIT) return note;
  const row = sql.join(
    (Object.keys(getColumns(e)) as (keyof typeof e.$inferSelect)[]).map((key) => sql`${sql.raw(`'${key}'`)}, ${e[key]}`),
    sql`, `,
  );
  const full = sql`json_build_object('id', ${e.id}, 'deploymentId', ${e.deploymentId}, 'projectId', ${e.projectId}, 'seq', ${e.seq}, 'row', json_build_object(${row}))::text`;
  return sql`(select case when octet_length(p.full) < ${NOTIFY_PAYLOAD_LIMIT} then p.full else ${note} end from (select ${full} as full) p)`;
}

export type NewDeploymentEvent = Pick<DeploymentEventRow, 'type' | 'status'> &
  Partial<Pick<DeploymentEventRow, 'step' | 'progress' | 'message'>> & {
    /** Same key twice for one deployment appends once (a retried activity). */
    idempotencyKey?: string;
  };

/**
 * Appends one event and returns it; with an idempotency key already used for this deployment it
 * returns the event recorded the first time and appends nothing.
 */
export async function appendDeploymentEvent(tx: Queryable, deploymentId: string, event: NewDeploymentEvent): Promise<DeploymentEventRow> {
  if (event.idempotencyKey) {
    const [existing] = await tx
      .select()
      .from(deploymentEvents)
      .where(and(eq(deploymentEvents.deploymentId, deploymentId), eq(deploymentEvents.idempotencyKey, event.idempotencyKey)));
    if (existing) return existing;
  }
  // Bumping last_seq locks the deployment row, so concurrent appends get consecutive seqs. The
  // same statement keeps the instants this event defines on the row.
  const [bumped] = await tx
    .update(deployments)
    .set({ lastSeq: sql`${deployments.lastSeq} + 1`, ...instantsOf(event) })
    .where(eq(deployments.id, deploymentId))
    .returning({ seq: deployments.lastSeq, projectId: deployments.projectId, environmentId: deployments.environmentId });
  if (!bumped) throw new Error(`deployment ${deploymentId} does not exist`);
  const row = await insertNotifying(tx, eventRow(deploymentId, bumped.projectId, bumped.seq, event));
  await enqueueDeliveries(tx, bumped, deploymentId, event, row.at);
  return row;
}

/**
 * A transition of the state machine: `set` on the deployment's row and its event, in two
 * statements — the update bumps last_seq (and keeps the event's instants) in the same statement,
 * the insert NOTIFYs in its RETURNING — where appendDeploymentEvent after an update of its own
 * takes five. Only for a caller that holds the row lock (FOR UPDATE earlier in `tx`, or the row is its insert) and checked
 * the event's idempotency key under it, as services/deployment-runs.ts does. Returns the row as
 * updated and the event.
 */
export async function appendTransition(
  tx: Queryable,
  deploymentId: string,
  set: Partial<typeof deployments.$inferInsert>,
  event: NewDeploymentEvent,
): Promise<{ deployment: DeploymentRow; event: DeploymentEventRow }> {
  const [deployment] = await tx
    .update(deployments)
    .set({ ...set, lastSeq: sql`${deployments.lastSeq} + 1`, ...instantsOf(event) })
    .where(eq(deployments.id, deploymentId))
    .returning();
  if (!deployment) throw new Error(`deployment ${deploymentId} does not exist`);
  const row = await insertNotifying(tx, eventRow(deploymentId, deployment.projectId, deployment.lastSeq, event));
  await enqueueDeliveries(tx, deployment, deploymentId, event, row.at);
  return { deployment, event: row };
}

/** Inserts one event and NOTIFYs its `EventNotification` in the same statement (RETURNING). */
async function insertNotifying(tx: Queryable, values: ReturnType<typeof eventRow>): Promise<DeploymentEventRow> {
  const e = deploymentEvents;
  const [row] = await tx
    .insert(e)
    .values(values)
    .returning({
      ...getColumns(e),
      notified: sql`pg_notify(${EVENTS_CHANNEL}, ${notificationSql(values)})`,
    });
  const { notified: _, ...event } = row!;
  return event;
}

/**
 * The columns of the deployment's row that `event` defines (db/schema/deployments.ts), as the
 * migration insights_deployment_instants derived them from the log. now() is the transaction's
 * start: the very instant the event's created_at defaults to, in the insert right after.
 */
function instantsOf(event: NewDeploymentEvent): Partial<Record<keyof typeof deployments.$inferInsert, SQL>> {
  const set: Partial<Record<keyof typeof deployments.$inferInsert, SQL>> = {};
  if (isOneOf(INSIGHT_OUTCOME_EVENTS, event.type)) {
    set.outcomeAt = sql`now()`;
    set.releaseCreatedAt = sql`(select ${releases.createdAt} from ${releases} where ${releases.id} = ${deployments.releaseId})`;
  }
  if (event.status === 'PENDING_APPROVAL') set.approvalRequestedAt = sql`coalesce(${deployments.approvalRequestedAt}, now())`;
  if (isOneOf(INSIGHT_DECISION_EVENTS, event.type) && event.status !== 'PENDING_APPROVAL') {
    // least/greatest, not "first/last appended": a transaction that began earlier (an earlier
    // now()) may take the row lock later.
    set.approvalFirstDecidedAt = sql`least(${deployments.approvalFirstDecidedAt}, now())`;
    set.approvalDecidedAt = sql`greatest(${deployments.approvalDecidedAt}, now())`;
  }
  return set;
}

/**
 * Appends several events of one deployment, in order, as `appendDeploymentEvent` would one by one
 * (consecutive seqs, a NOTIFY each, in seq order, their outbox rows), in a handful of statements
 * instead of five or six per event: a run of SIMULATED steps that take no time is 18 events. An
 * event whose idempotency key this deployment has used already is left out. Returns the events
 * appended now.
 */
export async function appendDeploymentEvents(
  tx: Queryable,
  deploymentId: string,
  events: NewDeploymentEvent[],
  options: {
    /** Columns of the deployment's row to set in the statement that bumps last_seq. */
    set?: Partial<typeof deployments.$inferInsert>;
    /** The caller holds the row lock and left out the keys recorded already (appendTransition says when). */
    keysChecked?: boolean;
  } = {},
): Promise<DeploymentEventRow[]> {
  const keys = events.flatMap((e) => (e.idempotencyKey ? [e.idempotencyKey] : []));
  const used = new Set(
    keys.length === 0 || options.keysChecked
      ? []
      : (
          await tx
            .select({ key: deploymentEvents.idempotencyKey })
            .from(deploymentEvents)
            .where(and(eq(deploymentEvents.deploymentId, deploymentId), inArray(deploymentEvents.idempotencyKey, keys)))
        ).map((r) => r.key),
  );
  const fresh = events.filter((e) => !e.idempotencyKey || !used.has(e.idempotencyKey));
  if (fresh.length === 0) return [];
  // Bumping last_seq by the count locks the deployment row, so the seqs are consecutive.
  const [bumped] = await tx
    .update(deployments)
    // The instants insights reads, as one event at a time would have set them.
    .set({ ...options.set, lastSeq: sql`${deployments.lastSeq} + ${fresh.length}`, ...Object.assign({}, ...fresh.map(instantsOf)) })
    .where(eq(deployments.id, deploymentId))
    .returning({ seq: deployments.lastSeq, projectId: deployments.projectId, environmentId: deployments.environmentId });
  if (!bumped) throw new Error(`deployment ${deploymentId} does not exist`);
  const first = bumped.seq - fresh.length + 1;
  const rows = (
    await tx
      .insert(deploymentEvents)
      .values(fresh.map((event, i) => eventRow(deploymentId, bumped.projectId, first + i, event)))
      .returning()
  ).sort((a, b) => a.seq - b.seq);
  // A select list is evaluated left to right, so the notifications go out in seq order; 100 a
  // statement keeps it far below PostgreSQL's limit of columns.
  const notes = rows.map((row) => sql`pg_notify(${EVENTS_CHANNEL}, ${notificationOf(row)})`);
  for (let i = 0; i < notes.length; i += 100) await tx.execute(sql`select ${sql.join(notes.slice(i, i + 100), sql`, `)}`);
  for (const [i, row] of rows.entries()) await enqueueDeliveries(tx, bumped, deploymentId, fresh[i]!, row.at);
  return rows;
}

/** The row of `event` at `seq`. */
function eventRow(deploymentId: string, projectId: string, seq: number, event: NewDeploymentEvent) {
  return {
    deploymentId,
    projectId,
    seq,
    type: event.type,
    status: event.status,
    step: event.step ?? null,
    progress: event.progress ?? null,
    message: event.message ?? null,
    idempotencyKey: event.idempotencyKey ?? null,
  };
}

/** The transactional outbox: deliveries commit (or roll back) with the event that causes them. */
async function enqueueDeliveries(
  tx: Queryable,
  deployment: { projectId: string; environmentId: string },
  deploymentId: string,
  event: NewDeploymentEvent,
  at: Date,
): Promise<void> {
  const notification = notificationEventOf(event.type);
  if (!notification) return;
  await enqueueNotifications(tx, {
    projectId: deployment.projectId,
    environmentId: deployment.environmentId,
    deploymentId,
    event: notification,
    status: event.status,
    message: event.message ?? defaultMessage(event.type, event.status),
    at,
  });
}

const defaultMessage = (type: string, status: string) => `${type.replace(/_/g, ' ').toLowerCase()} (${status})`;
