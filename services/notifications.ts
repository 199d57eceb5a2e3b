// Notification channels of a project (create, delete, test) and what a delivery's workflow asks
// of the database (the attempt's inputs, its record, giving up). The channel URL is a credential:
// sealed before it is written (secrets/credentials.ts), opened only to send, and never put in an
// answer, a log line, an audit detail or an error — those carry `urlHost` only.
import { randomUUID } from 'node:crypto';
import { and, eq, inArray, isNull, sql } from 'drizzle-orm';
import type { Queryable } from '../db/client.ts';
import { enqueueNotifications } from '../db/notification-outbox.ts';
import { environments, notificationChannels, notificationDeliveries, projects } from '../db/schema/index.ts';
import type { NotificationChannelRow, NotificationDeliveryRow } from '../db/schema/notifications.ts';
import { notFound, preconditionFailed } from '../domain/errors.ts';
import { publicId } from '../domain/ids.ts';
import { isDelivered, type NotificationFacts, urlHostOf } from '../domain/notifications.ts';
import { assertAuthorized, type Action } from '../domain/permissions.ts';
import type { Role } from '../domain/types.ts';
import type { CreateNotificationChannelInput } from '../domain/validation.ts';
import { startNotificationWorkflow } from '../workflows/client.ts';
import { notificationWorkflowId } from '../workflows/definitions.ts';
import { assertOutboundUrl } from './outbound.ts';
import { actorInProject } from './project-access.ts';
import type { Scope, ServiceDeps } from './scope.ts';
import { transact, type AfterCommit, type ReadBack } from './transaction.ts';

/** What the ciphertext of a channel's URL is bound to. */
export const channelUrlOwner = (channelId: string) => `notification-channel:${channelId}`;

/** Development defaults where a harness builds services without configuration. */
const DEFAULT_NOTIFY = {
  publicUrl: 'http://127.0.0.1:4000',
  notify: { retryWindowMs: 24 * 3_600_000, initialBackoffMs: 1000, maxBackoffMs: 3_600_000, timeoutMs: 10_000 },
};
export const notifySettings = (services: ServiceDeps) => services.notify ?? DEFAULT_NOTIFY;

/** Authorizes a channel action: a role in any environment's deployerRoles of the project, or ADMIN. */
async function authorizeInProject(scope: Scope, tx: Queryable, action: Action, projectId: string): Promise<void> {
  // Archived environments deploy nothing: their deployerRoles no longer count.
  const envs = await tx
    .select({ policy: environments.policy })
    .from(environments)
    .where(and(eq(environments.projectId, projectId), isNull(environments.archivedAt)));
  const projectDeployerRoles = [...new Set<Role>(envs.flatMap((e) => e.policy.deployerRoles))];
  assertAuthorized(action, await actorInProject({ ...scope, db: tx }, projectId), { projectDeployerRoles });
}

const channelNotFound = (id: string) => notFound(`No NotificationChannel with id ${JSON.stringify(publicId('NotificationChannel', id))}`);

export function createNotificationChannel<R = string>(
  scope: Scope,
  projectId: string,
  input: CreateNotificationChannelInput,
  readBack?: ReadBack<string, R>,
): Promise<R> {
  return transact(
    scope,
    async (tx) => {
      const [project] = await tx.select({ id: projects.id }).from(projects).where(eq(projects.id, projectId));
      if (!project) throw notFound(`No Project with id ${JSON.stringify(publicId('Project', projectId))}`);
      await authorizeInProject(scope, tx, 'createNotificationChannel', projectId);
      // The outbound rule at set time (private and link-local receivers in production); the
      // worker checks the resolved address again at each attempt.
      assertOutboundUrl(scope.services, input.url, 'input.url');
      const sealer = scope.services.credentials;
      if (!sealer) throw preconditionFailed('Notification channels need ENCRYPTION_KEY (channel URLs are stored encrypted with it)');
      const id = randomUUID();
      const sealed = sealer.seal(channelUrlOwner(id), input.url);
      const urlHost = urlHostOf(input.url);
      await tx.insert(notificationChannels).values({
        id,
        projectId,
        name: input.name,
        kind: input.kind,
        urlHost,
        urlKeyId: sealed.keyId,
        urlNonce: sealed.nonce,
        urlCiphertext: sealed.ciphertext,
        events: input.events,
        environmentSlugs: input.environmentSlugs,
        createdBy: scope.actor.subject,
      });
      return {
        result: id,
        audit: {
          projectId,
          action: 'notification.channel.create',
          targetId: id,
          detail: { name: input.name, kind: input.kind, urlHost, events: input.events, environmentSlugs: input.environmentSlugs },
        },
      };
    },
    readBack,
  ) as Promise<R>;
}

/**
 * Deletes a channel with its deliveries (cascade). A delivery still retrying stops: its workflow
 * is cancelled after the commit (best effort), and in any case its next attempt finds no row
 * and ends without sending.
 */
export function deleteNotificationChannel(scope: Scope, channelId: string): Promise<string> {
  return transact(scope, async (tx, after) => {
    const [channel] = await tx.select().from(notificationChannels).where(eq(notificationChannels.id, channelId)).for('update');
    if (!channel) throw channelNotFound(channelId);
    await authorizeInProject(scope, tx, 'deleteNotificationChannel', channel.projectId);
    const open = await tx
      .select({ id: notificationDeliveries.id })
      .from(notificationDeliveries)
      .where(and(eq(notificationDeliveries.channelId, channelId), inArray(notificationDeliveries.status, ['PENDING', 'RETRYING'])));
    await tx.delete(notificationChannels).where(eq(notificationChannels.id, channelId));
    const gw = scope.services.workflows;
    if (gw && open.length > 0) {
      after.add('cancel the deliveries of a deleted notification channel', () =>
        Promise.allSettled(open.map((d) => gw.client.workflow.getHandle(notificationWorkflowId(d.id)).cancel())),
      );
    }
    return {
      result: publicId('NotificationChannel', channelId),
      audit: {
        projectId: channel.projectId,
        action: 'notification.channel.delete',
        targetId: channelId,
        detail: { name: channel.name, kind: channel.kind, urlHost: channel.urlHost, stoppedDeliveries: open.length },
      },
    };
  });
}

/** Sends one TEST delivery to the channel (whatever its filters) and answers it (PENDING). */
export function testNotificationChannel<R = string>(scope: Scope, channelId: string, readBack?: ReadBack<string, R>): Promise<R> {
  return transact(
    scope,
    async (tx, after) => {
      const [channel] = await tx.select().from(notificationChannels).where(eq(notificationChannels.id, channelId));
      if (!channel) throw channelNotFound(channelId);
      await authorizeInProject(scope, tx, 'testNotificationChannel', channel.projectId);
      const [id] = await enqueueNotifications(tx, {
        projectId: channel.projectId,
        channelId,
        event: 'TEST',
        environmentId: null,
        message: `Test notification for channel ${channel.name}, sent by ${scope.actor.subject}`,
        actor: scope.actor.subject,
      });
      startAfterCommit(scope, after, id!);
      return {
        result: id!,
        audit: { projectId: channel.projectId, action: 'notification.channel.test', targetId: channelId, detail: { deliveryId: id } },
      };
    },
    readBack,
  ) as Promise<R>;
}

/** Starts a delivery's workflow at once after the commit (the relay would, within its poll). */
function startAfterCommit(scope: Scope, after: AfterCommit, deliveryId: string): void {
  const gw = scope.services.workflows;
  if (!gw) return;
  const settings = notifySettings(scope.services);
  after.add(
    'start a notification delivery',
    async () => {
      const [row] = await scope.db
        .select({ createdAt: notificationDeliveries.createdAt })
        .from(notificationDeliveries)
        .where(eq(notificationDeliveries.id, deliveryId));
      if (!row) return;
      await startNotificationWorkflow(gw, deliveryId, row.createdAt.getTime() + settings.notify.retryWindowMs, settings.notify);
      await markDispatched(scope.db, [deliveryId]);
    },
    { deliveryId },
  );
}

export async function markDispatched(db: Queryable, ids: string[]): Promise<void> {
  if (ids.length === 0) return;
  await db
    .update(notificationDeliveries)
    .set({ dispatchedAt: sql`now()` })
    .where(and(inArray(notificationDeliveries.id, ids), sql`${notificationDeliveries.dispatchedAt} is null`));
}

// ---------------------------------------------------------------- what a delivery's workflow asks

export type AttemptInput =
  | { state: 'gone' }
  | { state: 'done'; status: NotificationDeliveryRow['status'] }
  | {
      state: 'send';
      kind: NotificationChannelRow['kind'];
      url: string;
      urlHost: string;
      facts: NotificationFacts;
      attempts: number;
    };

/**
 * What the next attempt sends: nothing when the row is gone (the channel was deleted) or already
 * DELIVERED or FAILED (a retried activity, a duplicate workflow: never a second send after a 2xx).
 */
export async function attemptInput(db: Queryable, services: Pick<ServiceDeps, 'credentials'>, deliveryId: string): Promise<AttemptInput> {
  const [row] = await db
    .select({ d: notificationDeliveries, c: notificationChannels })
    .from(notificationDeliveries)
    .innerJoin(notificationChannels, eq(notificationChannels.id, notificationDeliveries.channelId))
    .where(eq(notificationDeliveries.id, deliveryId));
  if (!row) return { state: 'gone' };
  if (row.d.status === 'DELIVERED' || row.d.status === 'FAILED') return { state: 'done', status: row.d.status };
  const url = services.credentials?.open(channelUrlOwner(row.c.id), {
    keyId: row.c.urlKeyId,
    nonce: row.c.urlNonce,
    ciphertext: row.c.urlCiphertext,
  });
  if (!url) {
    await recordAttempt(db, deliveryId, {
      statusCode: null,
      error: 'the channel URL cannot be decrypted (ENCRYPTION_KEY changed?)',
      final: true,
    });
    return { state: 'done', status: 'FAILED' };
  }
  return { state: 'send', kind: row.c.kind, url, urlHost: row.c.urlHost, facts: row.d.facts, attempts: row.d.attempts };
}

/**
 * Records one attempt: a 2xx makes it DELIVERED (for good: later records change nothing), any
 * other outcome RETRYING, or FAILED when `final`. `error` must never hold the URL.
 */
export async function recordAttempt(
  db: Queryable,
  deliveryId: string,
  outcome: { statusCode: number | null; error: string | null; final?: boolean },
): Promise<NotificationDeliveryRow['status'] | null> {
  const delivered = outcome.statusCode !== null && isDelivered(outcome.statusCode);
  const [row] = await db
    .update(notificationDeliveries)
    .set({
      attempts: sql`${notificationDeliveries.attempts} + 1`,
      lastStatusCode: outcome.statusCode,
      lastError: delivered ? null : outcome.error,
      status: delivered ? 'DELIVERED' : outcome.final ? 'FAILED' : 'RETRYING',
      deliveredAt: delivered ? sql`now()` : null,
      dispatchedAt: sql`coalesce(${notificationDeliveries.dispatchedAt}, now())`,
    })
    .where(and(eq(notificationDeliveries.id, deliveryId), inArray(notificationDeliveries.status, ['PENDING', 'RETRYING'])))
    .returning({ status: notificationDeliveries.status });
  return row?.status ?? null;
}

/** The retry window is over: FAILED (unless it was delivered meanwhile). */
export async function giveUpDelivery(db: Queryable, deliveryId: string): Promise<void> {
  await db
    .update(notificationDeliveries)
    .set({ status: 'FAILED' })
    .where(and(eq(notificationDeliveries.id, deliveryId), inArray(notificationDeliveries.status, ['PENDING', 'RETRYING'])));
}

/**
 * The relay's queue: claims up to `limit` rows nobody has claimed or handed to a workflow, oldest
 * first, in one statement. SKIP LOCKED: two relays polling at once never get the same row, so
 * a first attempt is made by one worker only.
 */
export async function claimDeliveries(
  db: Queryable,
  limit: number,
  leaseMs: number,
): Promise<{ id: string; createdAt: Date; attempts: number }[]> {
  if (limit <= 0) return [];
  const queue = db
    .select({ id: notificationDeliveries.id })
    .from(notificationDeliveries)
    // Spelled as notification_deliveries_undispatched_idx's predicate (literals, not parameters).
    .where(sql`${notificationDeliveries.dispatchedAt} is null and ${notificationDeliveries.status} in ('PENDING', 'RETRYING')`)
    .orderBy(notificationDeliveries.createdAt)
    .limit(limit)
    .for('update', { skipLocked: true });
  const rows = await db
    .update(notificationDeliveries)
    .set({ dispatchedAt: sql`now()`, claimedUntil: sql`now() + make_interval(secs => ${leaseMs / 1000})` })
    .where(inArray(notificationDeliveries.id, queue))
    .returning({ id: notificationDeliveries.id, createdAt: notificationDeliveries.createdAt, attempts: notificationDeliveries.attempts });
  return rows.sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime());
}

/**
 * Hands back rows whose claim ran out before they were handed to a workflow or delivered: the
 * worker that claimed them died (or lost its database) between the claim and the record of the
 * attempt, or before it could start the retries' workflow. Rows handed to a workflow hold no
 * claim, so the sweep never gives a relay a row a workflow will send.
 */
export async function releaseStaleClaims(db: Queryable): Promise<number> {
  const released = await db
    .update(notificationDeliveries)
    .set({ dispatchedAt: null, claimedUntil: null })
    .where(
      // notification_deliveries_claimed_idx
      sql`${notificationDeliveries.claimedUntil} is not null and ${notificationDeliveries.status} in ('PENDING', 'RETRYING') and ${notificationDeliveries.claimedUntil} < now()`,
    )
    .returning({ id: notificationDeliveries.id });
  return released.length;
}

/** The row is its workflow's now: no claim for the sweep to hand back. */
export async function handedToWorkflow(db: Queryable, id: string): Promise<void> {
  await db.update(notificationDeliveries).set({ claimedUntil: null }).where(eq(notificationDeliveries.id, id));
}

/** Hands rows back to the relays' queue (their workflow could not be started). */
export async function releaseClaims(db: Queryable, ids: string[]): Promise<void> {
  if (ids.length === 0) return;
  await db.update(notificationDeliveries).set({ dispatchedAt: null, claimedUntil: null }).where(inArray(notificationDeliveries.id, ids));
}
