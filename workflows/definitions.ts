// Messages between the API and a deployment's workflow. Importable from both sides: it depends
// on nothing but @temporalio/workflow's definition helpers.
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { DeploymentStatus, Role } from '../domain/types.ts';

export const DEPLOYMENT_WORKFLOW = 'deploymentWorkflow';
export const workflowIdFor = (deploymentId: string) => `deployment-${deploymentId}`;

export interface DeploymentWorkflowInput {
  deploymentId: string;
  /**
   * What the creating transaction wrote, so that the workflow can judge decisions and
   * cancellations from its first activation, before its first activity has read the row: the
   * status a client sees in the mutation's answer is one the workflow is ready to act on.
   * Absent in workflows started before it existed (they read it all from the database).
   */
  initial?: DeploymentFacts;
}

/** The facts a decision's validator needs. */
export interface DeploymentFacts {
  status: DeploymentStatus;
  requestedBy: string;
  preventSelfApproval: boolean;
}

export interface DecisionRequest {
  subject: string;
  roles: Role[];
  comment: string | null;
}

/** An approval, answered once it is recorded (or refused by the validator). */
export const approveUpdate = defineUpdate<DeploymentStatus, [DecisionRequest]>('approve');
export const rejectUpdate = defineUpdate<DeploymentStatus, [DecisionRequest]>('reject');
/** Cancels; answered once the deployment has ended. */
export const cancelUpdate = defineUpdate<DeploymentStatus, [{ subject: string }]>('cancel');
/** The target's configuration changed: approvals given so far may be void. */
export const configChangedSignal = defineSignal<[]>('configChanged');
/** A WEBHOOK receiver reported the outcome through reportDeploymentStatus. */
export const webhookOutcomeSignal = defineSignal<[{ status: 'SUCCEEDED' | 'FAILED'; message: string | null }]>('webhookOutcome');
export const statusQuery = defineQuery<DeploymentStatus>('status');

/** Failure types the API maps to contract error codes. */
export const REFUSAL = {
  forbidden: 'FORBIDDEN',
  precondition: 'PRECONDITION_FAILED',
  /** Input the workflow (validator) or the database (activity, non-retryable) refuses. */
  badInput: 'BAD_USER_INPUT',
} as const;

// ---- preview environments (v2) -------------------------------------------------------------

/** One per preview: sleeps until the preview expires, then archives it (workflows/preview.workflow.ts). */
export const PREVIEW_EXPIRY_WORKFLOW = 'previewExpiryWorkflow';
export const previewWorkflowIdFor = (environmentId: string) => `preview-expiry-${environmentId}`;

export interface PreviewExpiryInput {
  environmentId: string;
  /** When it expires as the starting transaction wrote it (ms since the epoch): the first wake-up. */
  expiresAt: number;
}

/**
 * Look at the preview at `checkAt` (ms since the epoch; 0: now): a push moved its expiry on, or
 * it was archived. A hint only: the workflow acts on what the database says when it wakes.
 */
export const previewCheckSignal = defineSignal<[{ checkAt: number }]>('previewCheck');
// ---------------------------------------------------------------- notifications

export const NOTIFICATION_WORKFLOW = 'notificationDeliveryWorkflow';
/** One workflow per delivery row: a second start of the same id (relay, test, recovery) is refused harmlessly. */
export const notificationWorkflowId = (deliveryId: string) => `notification-${deliveryId}`;

/** Deliveries have a task queue of their own (workflows/worker.ts says why). */
export const notificationTaskQueue = (taskQueue: string) => `${taskQueue}-notifications`;

export interface NotificationWorkflowInput {
  deliveryId: string;
  /** Epoch ms after which no attempt starts: the delivery's creation + NOTIFY_RETRY_HOURS. */
  deadlineMs: number;
  initialBackoffMs: number;
  maxBackoffMs: number;
  /**
   * Attempts already made before the workflow started (the relay's first one): it waits the
   * backoff after the last of them first. Absent in workflows started before the relay attempted.
   */
  attempted?: number;
}
