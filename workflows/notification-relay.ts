// The relay of the notification outbox, on every worker process. It claims delivery rows nobody
// has claimed (dispatched_at is null; claimDeliveries, SKIP LOCKED, so one worker per row) and
// makes the first attempt itself, at once: the row is the durable record, and most receivers
// answer 2xx the first time, so most deliveries cost no Temporal work at all. Only a delivery
// that must be retried gets a workflow (`notification-<id>`, workflows/notification.workflow.ts),
// told how many attempts were made; it waits the backoff, then attempts again, durably.
// Approvals share Temporal (and, on a small machine, the CPU) with deliveries: ten channels
// hearing an event used to be ten workflows started in the instant an approver acts
// (bench/notifications.ts).
//
// Crashes: a worker killed between its claim and the record of the attempt leaves a PENDING row
// claimed (claimed_until; a row handed to a workflow holds none); after the lease (twice the HTTP timeout, and 5 s) any relay hands it back to the queue
// (releaseStaleClaims) and attempts it again, with the same Idempotency-Key. A row whose workflow
// could not be started (Temporal away) is handed back at once. testNotificationChannel still
// starts its delivery's workflow directly after its commit.
import type { Client } from '@temporalio/client';
import type { Logger } from 'pino';
import type { Database } from '../db/client.ts';
import { claimDeliveries, handedToWorkflow, releaseClaims, releaseStaleClaims } from '../services/notifications.ts';
import type { AttemptOutcome } from './activities/notifications.ts';
import { startNotificationWorkflow } from './client.ts';

export interface NotificationRelayOptions {
  db: Database;
  client: Client;
  taskQueue: string;
  log: Logger;
  notify: { retryWindowMs: number; initialBackoffMs: number; maxBackoffMs: number; timeoutMs: number };
  /** One attempt, recorded (the delivery activity's own function, called in this process). */
  attempt: (deliveryId: string, deadlineMs: number) => Promise<AttemptOutcome>;
  /** Between polls. Default 500 ms. */
  intervalMs?: number;
  /** First attempts in flight at once in this process. Default 8. */
  concurrency?: number;
  /** Between sweeps for stale claims. Default 10 s. */
  sweepIntervalMs?: number;
}

export interface NotificationRelay {
  stop(): Promise<void>;
}

/** Polls until stopped; stop() waits for the attempts in flight. */
export function startNotificationRelay(options: NotificationRelayOptions): NotificationRelay {
  const concurrency = options.concurrency ?? 8;
  const gw = { client: options.client, taskQueue: options.taskQueue };
  // A claim outlives any attempt made under it: the request's timeout, then time to record it.
  const leaseMs = 2 * options.notify.timeoutMs + 5_000;
  const inFlight = new Set<Promise<void>>();
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let polling: Promise<unknown> = Promise.resolve();
  let lastSweep = 0;

  const retryLater = async (id: string, createdAt: Date, attempted: number) => {
    const deadlineMs = createdAt.getTime() + options.notify.retryWindowMs;
    try {
      await startNotificationWorkflow(gw, id, deadlineMs, options.notify, attempted);
    } catch (error) {
      // Temporal away: the row goes back to the queue, and the next poll (of any worker) starts it.
      options.log.warn({ deliveryId: id, err: (error as Error).name }, 'could not start a notification delivery');
      await releaseClaims(options.db, [id]).catch(() => {}); // else the sweep hands it back
      return;
    }
    // Else the sweep would hand the row back at the lease's end, and a relay attempt it while its
    // workflow does too.
    await handedToWorkflow(options.db, id);
  };

  const deliver = async (row: { id: string; createdAt: Date; attempts: number }) => {
    // Attempted before (a retrying row whose workflow could not be started): its workflow, which
    // waits the backoff first.
    if (row.attempts > 0) return retryLater(row.id, row.createdAt, row.attempts);
    let outcome: AttemptOutcome;
    try {
      outcome = await options.attempt(row.id, row.createdAt.getTime() + options.notify.retryWindowMs);
    } catch (error) {
      // Not recorded (the database away): the workflow attempts it as its first.
      options.log.warn({ deliveryId: row.id, err: (error as Error).name }, 'notification attempt not recorded; its workflow takes over');
      return retryLater(row.id, row.createdAt, 0);
    }
    if (outcome.outcome === 'retry') await retryLater(row.id, row.createdAt, 1);
  };

  const poll = async () => {
    if (Date.now() - lastSweep >= (options.sweepIntervalMs ?? 10_000)) {
      lastSweep = Date.now();
      const released = await releaseStaleClaims(options.db);
      if (released > 0) options.log.warn({ released }, 'notification deliveries claimed by a lost worker were handed back');
    }
    for (const row of await claimDeliveries(options.db, concurrency - inFlight.size, leaseMs)) {
      const job: Promise<void> = deliver(row)
        .catch((error) => options.log.warn({ deliveryId: row.id, err: (error as Error).name }, 'notification delivery failed to run'))
        .finally(() => inFlight.delete(job));
      inFlight.add(job);
    }
  };
  const tick = () => {
    if (stopped) return;
    polling = poll()
      .catch((error) => options.log.warn({ err: (error as Error).name }, 'notification relay poll failed'))
      .finally(() => {
        if (!stopped) timer = setTimeout(tick, options.intervalMs ?? 500);
      });
  };
  tick();
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await polling;
      await Promise.all(inFlight);
    },
  };
}
