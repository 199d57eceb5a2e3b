// The API's side of deployment workflows: start them, and send them decisions, cancellations and
// notices. Refusals from a workflow's validators become contract errors.
import { WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { and, eq, inArray } from 'drizzle-orm';
import type { Queryable } from '../db/client.ts';
import { deployments } from '../db/schema/index.ts';
import { AppError, badInput, preconditionFailed } from '../domain/errors.ts';
import type { DeploymentStatus } from '../domain/types.ts';
import {
  approveUpdate,
  cancelUpdate,
  configChangedSignal,
  DEPLOYMENT_WORKFLOW,
  REFUSAL,
  rejectUpdate,
  webhookOutcomeSignal,
  workflowIdFor,
  type DecisionRequest,
} from './definitions.ts';

export interface WorkflowGateway {
  client: Client;
  taskQueue: string;
}

export async function startDeploymentWorkflow(gw: WorkflowGateway, deploymentId: string): Promise<void> {
  await gw.client.workflow.start(DEPLOYMENT_WORKFLOW, {
    taskQueue: gw.taskQueue,
    workflowId: workflowIdFor(deploymentId),
    args: [{ deploymentId }],
  });
}

/** A refusal by the workflow (validator, or a transition the state no longer allows). */
function refusal(error: unknown): never {
  if (error instanceof WorkflowUpdateFailedError) {
    for (let e: unknown = error.cause; e; e = (e as { cause?: unknown }).cause) {
      if (e instanceof ApplicationFailure && e.type === REFUSAL.forbidden) throw new AppError('FORBIDDEN', e.message);
      if (e instanceof ApplicationFailure && e.type === REFUSAL.badInput) {
        const field = (e.details?.[0] as { field?: unknown } | undefined)?.field;
        throw badInput(e.message, typeof field === 'string' ? field : undefined);
      }
      if (e instanceof ApplicationFailure && (e.type === REFUSAL.precondition || e.type === 'IllegalTransition')) {
        throw new AppError('PRECONDITION_FAILED', e.message);
      }
    }
  }
  throw error;
}

export async function decide(gw: WorkflowGateway, deploymentId: string, decision: 'APPROVE' | 'REJECT', request: DecisionRequest): Promise<DeploymentStatus> {
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

export async function reportWebhookOutcome(gw: WorkflowGateway, deploymentId: string, outcome: { status: 'SUCCEEDED' | 'FAILED'; message: string | null }) {
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

export const temporalUnavailable = () => preconditionFailed('The workflow service (Temporal) is not reachable; try again shortly');
