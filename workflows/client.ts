// The API's side of deployment workflows: start them, and send them decisions, cancellations and
// notices. Refusals from a workflow's validators become contract errors.
// Only the client's type here: the module itself is loaded by whoever made the Client
// (server/temporal.ts, lazily), so `refusal` imports it from the module cache.
import type { Client } from '@temporalio/client';
import { ApplicationFailure, WorkflowExecutionAlreadyStartedError, WorkflowIdReusePolicy, WorkflowNotFoundError } from '@temporalio/common';
import { and, eq, inArray } from 'drizzle-orm';
import type { Queryable } from '../db/client.ts';
import { deployments } from '../db/schema/index.ts';
import { AppError, badInput, preconditionFailed } from '../domain/errors.ts';
import type { DeploymentStatus } from '../domain/types.ts';
import { UNFINISHED_STATUSES } from '../domain/values.ts';
import {
  approveUpdate,
  cancelUpdate,
  configChangedSignal,
  DEPLOYMENT_WORKFLOW,
  PREVIEW_EXPIRY_WORKFLOW,
  previewCheckSignal,
  previewWorkflowIdFor,
  type PreviewExpiryInput,
  NOTIFICATION_WORKFLOW,
  notificationTaskQueue,
  notificationWorkflowId,
  type NotificationWorkflowInput,
  REFUSAL,
  rejectUpdate,
  webhookOutcomeSignal,
  workflowIdFor,
  type DecisionRequest,
  type DeploymentFacts,
  type DeploymentWorkflowInput,
} from './definitions.ts';

export interface WorkflowGateway {
  client: Client;
  taskQueue: string;
}

export async function startDeploymentWorkflow(gw: WorkflowGateway, deploymentId: string, initial: DeploymentFacts): Promise<void> {
  await gw.client.workflow.start(DEPLOYMENT_WORKFLOW, {
    taskQueue: gw.taskQueue,
    workflowId: workflowIdFor(deploymentId),
    args: [{ deploymentId, initial } satisfies DeploymentWorkflowInput],
  });
}

/**
 * Every way Temporal can turn a decision or a cancellation down, as a contract error: a client
 * never sees an internal error for a request the contract allows.
 */
async function refusal(error: unknown): Promise<never> {
  if (error instanceof AppError) throw error;
  const { ServiceError, WorkflowUpdateFailedError, WorkflowUpdateRPCTimeoutOrCancelledError } = await import('@temporalio/client');
  if (error instanceof WorkflowUpdateFailedError) {
    let innermost: unknown = error;
    for (let e: unknown = error.cause; e; e = (e as { cause?: unknown }).cause) {
      innermost = e;
      if (e instanceof ApplicationFailure && e.type === REFUSAL.forbidden) throw new AppError('FORBIDDEN', e.message);
      if (e instanceof ApplicationFailure && e.type === REFUSAL.badInput) {
        const field = (e.details?.[0] as { field?: unknown } | undefined)?.field;
        throw badInput(e.message, typeof field === 'string' ? field : undefined);
      }
      if (e instanceof ApplicationFailure && (e.type === REFUSAL.precondition || e.type === 'IllegalTransition')) {
        throw new AppError('PRECONDITION_FAILED', e.message);
      }
    }
    // A workflow started before its handlers were registered from the first activation (an
    // older deployment), or one that ended while the update waited.
    const message = innermost instanceof Error ? innermost.message : '';
    if (/No registered handler/.test(message)) throw preconditionFailed('The deployment is starting; try again in a moment');
    throw preconditionFailed('The deployment is no longer in a state that accepts this request');
  }
  // The workflow has completed (Temporal answers NOT_FOUND for updates to closed workflows).
  if (error instanceof WorkflowNotFoundError) throw preconditionFailed('The deployment has already ended');
  // Temporal unreachable, or the call timed out before the workflow answered.
  if (error instanceof ServiceError || error instanceof WorkflowUpdateRPCTimeoutOrCancelledError) throw temporalUnavailable();
  throw error;
}

export async function decide(
  gw: WorkflowGateway,
  deploymentId: string,
  decision: 'APPROVE' | 'REJECT',
  request: DecisionRequest,
): Promise<DeploymentStatus> {
  const handle = gw.client.workflow.getHandle(workflowIdFor(deploymentId));
  try {
    return await handle.executeUpdate(decision === 'APPROVE' ? approveUpdate : rejectUpdate, { args: [request] });
  } catch (error) {
    return refusal(error);
  }
}

export async function cancel(gw: WorkflowGateway, deploymentId: string, subject: string): Promise<DeploymentStatus> {
  const handle = gw.client.workflow.getHandle(workflowIdFor(deploymentId));
  try {
    return await handle.executeUpdate(cancelUpdate, { args: [{ subject }] });
  } catch (error) {
    return refusal(error);
  }
}

export async function reportWebhookOutcome(
  gw: WorkflowGateway,
  deploymentId: string,
  outcome: { status: 'SUCCEEDED' | 'FAILED'; message: string | null },
) {
  await gw.client.workflow.getHandle(workflowIdFor(deploymentId)).signal(webhookOutcomeSignal, outcome);
}

/**
 * Tells the deployments waiting for approval in an environment that its configuration changed.
 * Best effort: the workflow also re-checks the snapshot when approval completes, so a lost
 * signal cannot let stale approvals through.
 */
export async function signalConfigChanged(gw: WorkflowGateway | undefined, db: Queryable, environmentId: string): Promise<void> {
  if (!gw) return;
  const pending = await db
    .select({ id: deployments.id })
    .from(deployments)
    .where(and(eq(deployments.environmentId, environmentId), inArray(deployments.status, ['PENDING_APPROVAL', 'QUEUED'])));
  await Promise.allSettled(pending.map((d) => gw.client.workflow.getHandle(workflowIdFor(d.id)).signal(configChangedSignal)));
}

/**
 * Cancels every unfinished deployment of an (archived) environment, each answered once it has
 * ended. One that ended meanwhile is no failure; any other refusal (Temporal unreachable) is
 * thrown after trying them all, so the caller's retry covers it.
 */
export async function cancelUnfinishedDeployments(client: Client, db: Queryable, environmentId: string): Promise<number> {
  const unfinished = await db
    .select({ id: deployments.id })
    .from(deployments)
    .where(and(eq(deployments.environmentId, environmentId), inArray(deployments.status, [...UNFINISHED_STATUSES])));
  const results = await Promise.allSettled(unfinished.map((d) => cancel({ client, taskQueue: '' }, d.id, ARCHIVE_CANCELLER)));
  const failed = results.filter(
    (r): r is PromiseRejectedResult =>
      r.status === 'rejected' && !(r.reason instanceof AppError && r.reason.code === 'PRECONDITION_FAILED'),
  );
  if (failed.length > 0) throw failed[0]!.reason;
  return unfinished.length;
}
/** Who the deployments' CANCELLED events name when an archive cancels them. */
export const ARCHIVE_CANCELLER = 'system:archive';

/**
 * Starts a preview's expiry workflow, or tells the running one when the preview now expires
 * (signal-with-start: one call, whether it runs or not).
 */
export async function schedulePreviewExpiry(gw: WorkflowGateway, environmentId: string, expiresAt: Date): Promise<void> {
  await gw.client.workflow.signalWithStart(PREVIEW_EXPIRY_WORKFLOW, {
    taskQueue: gw.taskQueue,
    workflowId: previewWorkflowIdFor(environmentId),
    args: [{ environmentId, expiresAt: expiresAt.getTime() } satisfies PreviewExpiryInput],
    signal: previewCheckSignal,
    signalArgs: [{ checkAt: expiresAt.getTime() }],
  });
}

/** Asks a preview's expiry workflow to look at its preview now (it was archived); none running: nothing to do. */
export async function checkPreviewNow(client: Client, environmentId: string): Promise<void> {
  try {
    await client.workflow.getHandle(previewWorkflowIdFor(environmentId)).signal(previewCheckSignal, { checkAt: 0 });
  } catch (error) {
    if (!(error instanceof WorkflowNotFoundError)) throw error;
  }
}

export const temporalUnavailable = () => preconditionFailed('The workflow service (Temporal) is not reachable; try again shortly');

/**
 * Starts a notification delivery's workflow; a second start of the same delivery (the relay and
 * testNotificationChannel, two relays, a relay after a lost mark) is refused by Temporal and
 * harmless, even after the first run closed (REJECT_DUPLICATE).
 */
export async function startNotificationWorkflow(
  gw: WorkflowGateway,
  deliveryId: string,
  deadlineMs: number,
  backoff: { initialBackoffMs: number; maxBackoffMs: number },
  attempted = 0,
): Promise<'started' | 'already'> {
  const input: NotificationWorkflowInput = {
    deliveryId,
    deadlineMs,
    initialBackoffMs: backoff.initialBackoffMs,
    maxBackoffMs: backoff.maxBackoffMs,
    ...(attempted > 0 ? { attempted } : {}),
  };
  try {
    await gw.client.workflow.start(NOTIFICATION_WORKFLOW, {
      taskQueue: notificationTaskQueue(gw.taskQueue),
      workflowId: notificationWorkflowId(deliveryId),
      workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
      args: [input],
    });
    return 'started';
  } catch (error) {
    if (error instanceof WorkflowExecutionAlreadyStartedError) return 'already';
    throw error;
  }
}
