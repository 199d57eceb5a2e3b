// The relay of the notification outbox: every worker process polls for delivery rows whose
// workflow has not been started (dispatched_at is null) and starts one per row, id
// `notification-<delivery id>`, then marks the row. The rows are the queue: a worker killed
// between the commit of an event and the start of its workflows leaves rows that the next poll of
// any worker (this one after its restart included) starts. Two relays starting the same row are
// harmless (REJECT_DUPLICATE). testNotificationChannel starts its delivery at once after its
// commit as well, so a test does not wait for the poll.
import type { Client } from '@temporalio/client';
import type { Logger } from 'pino';
import type { Database } from '../db/client.ts';
import { markDispatched, undispatchedDeliveries } from '../services/notifications.ts';
import { startNotificationWorkflow } from './client.ts';

export interface NotificationRelayOptions {
  db: Database;
  client: Client;
  taskQueue: string;
  log: Logger;
  notify: { retryWindowMs: number; initialBackoffMs: number; maxBackoffMs: number };
  /** Between polls. Default 500 ms. */
  intervalMs?: number;
}

/** Starts the workflows of every undispatched row once; returns how many rows it handled. */
export async function relayOnce(options: NotificationRelayOptions): Promise<number> {
  const gw = { client: options.client, taskQueue: options.taskQueue };
  const rows = await undispatchedDeliveries(options.db);
  const started: string[] = [];
  for (const row of rows) {
    try {
      await startNotificationWorkflow(gw, row.id, row.createdAt.getTime() + options.notify.retryWindowMs, options.notify);
      started.push(row.id);
    } catch (error) {
      // Temporal away: the row stays undispatched and the next poll tries again.
      options.log.warn({ deliveryId: row.id, err: (error as Error).name }, 'could not start a notification delivery');
      break;
    }
  }
  await markDispatched(options.db, started);
  return started.length;
}

/** Polls until stopped. */
export function startNotificationRelay(options: NotificationRelayOptions): { stop(): Promise<void> } {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<unknown> = Promise.resolve();
  const tick = () => {
    if (stopped) return;
    running = relayOnce(options)
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
      await running;
    },
  };
}
