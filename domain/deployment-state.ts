// The deployment state machine: which status each happening leads to and which event it records.
// Pure and deterministic, so the workflow (which must be deterministic), the activities and the
// tests all share one definition.
import type { DeploymentEventType, DeploymentStatus } from './types.ts';
import { isOneOf, TERMINAL_STATUSES } from './values.ts';

export type { DeploymentEventType };

/** What can happen to a deployment. */
export type Happening =
  | { kind: 'request-approval' }
  | { kind: 'approve'; approvalsAfter: number; required: number }
  | { kind: 'invalidate-approvals' }
  | { kind: 'reject' }
  | { kind: 'expire' }
  | { kind: 'wait' }
  | { kind: 'freeze-wait' }
  | { kind: 'freeze-override' }
  | { kind: 'start' }
  | { kind: 'step-started' }
  | { kind: 'step-progress' }
  | { kind: 'step-succeeded' }
  | { kind: 'step-failed' }
  | { kind: 'log' }
  | { kind: 'verification-started' }
  | { kind: 'verification-passed' }
  | { kind: 'verification-failed' }
  | { kind: 'rollback-started' }
  | { kind: 'succeed' }
  | { kind: 'fail' }
  | { kind: 'cancel' };

export const isTerminal = (s: DeploymentStatus) => isOneOf(TERMINAL_STATUSES, s);

export interface Transition {
  status: DeploymentStatus;
  event: DeploymentEventType;
}

export class IllegalTransition extends Error {
  constructor(
    readonly from: DeploymentStatus,
    readonly happening: Happening['kind'],
  ) {
    super(`A deployment that is ${from} cannot ${happening.replace(/-/g, ' ')}`);
  }
}

const BEFORE_RUNNING: readonly DeploymentStatus[] = ['QUEUED', 'PENDING_APPROVAL', 'WAITING'];

/** The status and event that `happening` leads to from `from`, or IllegalTransition. */
export function transition(from: DeploymentStatus, happening: Happening): Transition {
  const illegal = () => {
    throw new IllegalTransition(from, happening.kind);
  };
  switch (happening.kind) {
    case 'request-approval':
      return from === 'QUEUED' ? { status: 'PENDING_APPROVAL', event: 'APPROVAL_REQUESTED' } : illegal();
    case 'approve':
      // The last needed approval ends PENDING_APPROVAL; the workflow then waits or starts.
      if (from !== 'PENDING_APPROVAL') return illegal();
      return { status: happening.approvalsAfter >= happening.required ? 'QUEUED' : 'PENDING_APPROVAL', event: 'APPROVED' };
    case 'invalidate-approvals':
      // Also right after the last approval (QUEUED): approvals approve exactly the pinned snapshot.
      return from === 'PENDING_APPROVAL' || from === 'QUEUED' ? { status: 'PENDING_APPROVAL', event: 'APPROVALS_INVALIDATED' } : illegal();
    case 'reject':
      return from === 'PENDING_APPROVAL' ? { status: 'REJECTED', event: 'REJECTED' } : illegal();
    case 'expire':
      return from === 'PENDING_APPROVAL' ? { status: 'EXPIRED', event: 'EXPIRED' } : illegal();
    case 'wait':
      return from === 'QUEUED' || from === 'WAITING' ? { status: 'WAITING', event: 'WAITING' } : illegal();
    case 'freeze-wait':
      // Held by a freeze window before it starts (v2): waiting, with the window's own event.
      return from === 'QUEUED' || from === 'WAITING' ? { status: 'WAITING', event: 'FROZEN_WAIT' } : illegal();
    case 'freeze-override':
      // Recorded as the break-glass deployment is made: it changes no status.
      return isTerminal(from) ? illegal() : { status: from, event: 'FREEZE_OVERRIDDEN' };
    case 'start':
      return from === 'QUEUED' || from === 'WAITING' ? { status: 'RUNNING', event: 'STARTED' } : illegal();
    case 'step-started':
      return from === 'RUNNING' ? { status: 'RUNNING', event: 'STEP_STARTED' } : illegal();
    case 'step-progress':
      return from === 'RUNNING' ? { status: 'RUNNING', event: 'STEP_PROGRESS' } : illegal();
    case 'step-succeeded':
      return from === 'RUNNING' ? { status: 'RUNNING', event: 'STEP_SUCCEEDED' } : illegal();
    case 'step-failed':
      return from === 'RUNNING' ? { status: 'RUNNING', event: 'STEP_FAILED' } : illegal();
    case 'log':
      return isTerminal(from) ? illegal() : { status: from, event: 'LOG' };
    // Verification runs after the deploy steps: the deployment stays RUNNING until it ends.
    case 'verification-started':
      return from === 'RUNNING' ? { status: 'RUNNING', event: 'VERIFICATION_STARTED' } : illegal();
    case 'verification-passed':
      return from === 'RUNNING' ? { status: 'RUNNING', event: 'VERIFICATION_PASSED' } : illegal();
    case 'verification-failed':
      return from === 'RUNNING' ? { status: 'RUNNING', event: 'VERIFICATION_FAILED' } : illegal();
    case 'rollback-started':
      return from === 'RUNNING' ? { status: 'RUNNING', event: 'ROLLBACK_STARTED' } : illegal();
    case 'succeed':
      return from === 'RUNNING' ? { status: 'SUCCEEDED', event: 'SUCCEEDED' } : illegal();
    case 'fail':
      // A deployment can fail before it runs too (the policy gate right before RUNNING).
      return from === 'RUNNING' || BEFORE_RUNNING.includes(from) ? { status: 'FAILED', event: 'FAILED' } : illegal();
    case 'cancel':
      return isTerminal(from) ? illegal() : { status: 'CANCELLED', event: 'CANCELLED' };
  }
}

/** Whether a decision (approve/reject) may still be taken. */
export const awaitsDecision = (s: DeploymentStatus) => s === 'PENDING_APPROVAL';

/** The built-in steps of the SIMULATED provider. */
export const SIMULATED_STEPS = ['prepare', 'deploy', 'verify'] as const;
/** Progress ticks per SIMULATED step (a STEP_PROGRESS event each). */
export const SIMULATED_TICKS = 4;
