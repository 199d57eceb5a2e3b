// The retries of one notification delivery (workflows/notification-relay.ts makes the first
// attempt and starts this when it failed; testNotificationChannel starts it for its first):
// attempt, and after a failure wait with exponential backoff and attempt again,
// until a 2xx or the deadline (NOTIFY_RETRY_HOURS after the row was written). The activity records
// every attempt and refuses to send once a 2xx is recorded, so a replay, a duplicate start or a
// retried activity never sends twice after delivery. Deterministic: the workflow's clock only.
import { proxyActivities, sleep } from '@temporalio/workflow';
import { retryDelayMs } from '../domain/notifications.ts';
import type { NotificationActivities } from './activities/notifications.ts';
import type { NotificationWorkflowInput } from './definitions.ts';

// One HTTP call per attempt: the activity itself is retried only for its own failures (the
// database away); the backoff between attempts at the receiver is the workflow's.
// It heartbeats while its request runs, so a worker killed mid-attempt is noticed in 10 s and the
// attempt retried elsewhere (not after the 5 minutes of its start-to-close timeout).
const acts = proxyActivities<NotificationActivities>({
  startToCloseTimeout: '5 minutes',
  heartbeatTimeout: '10 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds', backoffCoefficient: 2, maximumAttempts: 10 },
});

export type NotificationOutcome = 'DELIVERED' | 'FAILED' | 'GONE';

export async function notificationDeliveryWorkflow(input: NotificationWorkflowInput): Promise<NotificationOutcome> {
  // The input decides the path, so histories started without `attempted` replay unchanged.
  let attempt = input.attempted ?? 0;
  if (attempt > 0 && !(await waitBeforeAttempt(attempt))) return 'FAILED';
  for (;;) {
    attempt++;
    let result: Awaited<ReturnType<NotificationActivities['attemptDelivery']>>;
    try {
      result = await acts.attemptDelivery(input.deliveryId, input.deadlineMs);
    } catch {
      // The activity could not even record (its retries used up): count it as a failed attempt.
      result = { outcome: 'retry' };
    }
    if (result.outcome === 'delivered') return 'DELIVERED';
    if (result.outcome === 'gone') return 'GONE';
    if (result.outcome === 'failed') return 'FAILED';
    if (!(await waitBeforeAttempt(attempt))) return 'FAILED';
  }

  /** The backoff after attempt `n`; false (and the delivery FAILED) when it would pass the deadline. */
  async function waitBeforeAttempt(n: number): Promise<boolean> {
    const delay = retryDelayMs(n, input.initialBackoffMs, input.maxBackoffMs);
    if (Date.now() + delay > input.deadlineMs) {
      await acts.giveUp(input.deliveryId);
      return false;
    }
    await sleep(delay);
    return true;
  }
}
