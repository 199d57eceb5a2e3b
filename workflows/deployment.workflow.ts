// One workflow per deployment. It decides when things happen (approvals, timers, the queue, the
// steps); activities do all I/O and record every transition in the event log. Deterministic: no
// clock, randomness or I/O here.
import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  condition,
  isCancellation,
  proxyActivities,
  setHandler,
  sleep,
} from '@temporalio/workflow';
import { textProblem, toStorableText } from '../domain/text.ts';
import type { DeploymentStatus } from '../domain/types.ts';
import type { DeploymentActivities } from './activities/deployment.ts';
import {
  approveUpdate,
  cancelUpdate,
  configChangedSignal,
  REFUSAL,
  rejectUpdate,
  statusQuery,
  webhookOutcomeSignal,
  type DecisionRequest,
  type DeploymentWorkflowInput,
} from './definitions.ts';
import { awaitsDecision, isTerminal } from './state-machine.ts';

const db = proxyActivities<DeploymentActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '500 ms', maximumInterval: '10 seconds', backoffCoefficient: 2 },
});
// Long-polls the environment's queue; heartbeats so cancellation and worker loss are seen fast.
const queue = proxyActivities<DeploymentActivities>({
  startToCloseTimeout: '2 minutes',
  heartbeatTimeout: '10 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '10 seconds' },
});
const provider = proxyActivities<DeploymentActivities>({
  startToCloseTimeout: '2 hours',
  heartbeatTimeout: '10 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds', backoffCoefficient: 2, maximumAttempts: 20 },
});

export async function deploymentWorkflow({ deploymentId }: DeploymentWorkflowInput): Promise<DeploymentStatus> {
  let plan;
  try {
    plan = await proxyActivities<DeploymentActivities>({
      startToCloseTimeout: '10 seconds',
      retry: { initialInterval: '1 second', maximumInterval: '5 seconds', maximumAttempts: 15 },
    }).loadDeployment(deploymentId);
  } catch (error) {
    // The creating transaction never committed: there is no deployment to run.
    if (error instanceof ActivityFailure) return 'CANCELLED';
    throw error;
  }
  let status: DeploymentStatus = plan.status;
  const deciders = new Set(plan.decidedBy);
  let approvals = plan.approvals;
  let cancelRequestedBy: string | null = null;
  let configChanged = false;
  let webhookOutcome: { status: 'SUCCEEDED' | 'FAILED'; message: string | null } | null = null;
  let busy = false; // one decision at a time: validators run before a handler's activity ends
  const running = new CancellationScope();

  setHandler(statusQuery, () => status);

  const validateDecision = ({ subject }: DecisionRequest) => {
    if (!awaitsDecision(status)) throw ApplicationFailure.create({ type: REFUSAL.precondition, message: `The deployment is ${status}, not waiting for a decision` });
    if (plan.preventSelfApproval && subject === plan.requestedBy) {
      throw ApplicationFailure.create({ type: REFUSAL.forbidden, message: 'The requester may not decide on their own deployment' });
    }
    if (deciders.has(subject)) throw ApplicationFailure.create({ type: REFUSAL.forbidden, message: `${subject} has already decided on this deployment` });
  };
  // The request's own text, which recordDecision stores: the API checks it first (the shared rule
  // of domain/text.ts); a client of Temporal that skips the API is refused here, before the update
  // is accepted. Pure, like every validator. Only in the validator: accepted updates are replayed
  // through the handler, which must schedule what it scheduled before.
  const validateDecisionText = ({ comment }: DecisionRequest) => {
    const problem = comment === null || comment === undefined ? null : textProblem(comment);
    if (problem) {
      throw ApplicationFailure.create({ type: REFUSAL.badInput, message: `input.comment: ${problem}`, details: [{ field: 'input.comment' }] });
    }
  };
  const validateDecisionRequest = (request: DecisionRequest) => {
    validateDecisionText(request);
    validateDecision(request);
  };
  // condition() wakes every waiter at once, so each re-checks after waking: a real mutex.
  const lock = async () => {
    while (busy) await condition(() => !busy);
    busy = true;
  };
  const decide = (decision: 'APPROVE' | 'REJECT') => async (request: DecisionRequest) => {
    await lock();
    try {
      validateDecision(request); // again: the state may have moved while this update waited
      deciders.add(request.subject);
      let result;
      try {
        result = await db.recordDecision(deploymentId, { ...request, decision, required: plan.requiredApprovals });
      } catch (error) {
        // Not recorded (e.g. the database refused the comment, a non-retryable failure): the
        // update fails, and this person may still decide.
        deciders.delete(request.subject);
        throw error;
      }
      status = result.status;
      approvals = result.approvals;
      return status;
    } finally {
      busy = false;
    }
  };
  setHandler(approveUpdate, decide('APPROVE'), { validator: validateDecisionRequest });
  setHandler(rejectUpdate, decide('REJECT'), { validator: validateDecisionRequest });
  setHandler(
    cancelUpdate,
    async ({ subject }) => {
      cancelRequestedBy ??= subject;
      running.cancel();
      await condition(() => isTerminal(status));
      return status;
    },
    {
      validator: (_request: { subject: string }) => {
        if (isTerminal(status)) throw ApplicationFailure.create({ type: REFUSAL.precondition, message: `The deployment has already ended (${status})` });
      },
    },
  );
  setHandler(configChangedSignal, () => {
    configChanged = true;
  });
  setHandler(webhookOutcomeSignal, (outcome) => {
    // The message ends up in the event log and the deployment's error: storable text only (the
    // API refuses anything else; a signal from elsewhere is made storable, not refused).
    webhookOutcome ??= { status: outcome.status, message: outcome.message === null ? null : toStorableText(outcome.message) };
  });

  const finishCancelled = async () => {
    await lock();
    status = (await db.finish(deploymentId, { outcome: 'CANCELLED', actor: cancelRequestedBy, message: null })).status;
    return status;
  };

  if (isTerminal(status)) return status;

  // ---- approval ------------------------------------------------------------------------------
  if (plan.requiredApprovals > 0) {
    if (status === 'QUEUED') status = (await db.requestApproval(deploymentId)).status;
    for (;;) {
      const decided = await condition(
        () => cancelRequestedBy !== null || configChanged || (!busy && status !== 'PENDING_APPROVAL'),
        `${plan.approvalTimeoutSeconds} seconds`,
      );
      if (cancelRequestedBy) return finishCancelled();
      if (configChanged) {
        configChanged = false;
        await lock();
        const r = await db.repinSnapshot(deploymentId).finally(() => (busy = false));
        status = r.status;
        if (r.invalidated) {
          approvals = 0;
          deciders.clear();
        }
        if (status === 'PENDING_APPROVAL') continue;
      }
      if (!decided) {
        await lock();
        status = (await db.expire(deploymentId)).status;
        return status;
      }
      if (isTerminal(status)) return status; // REJECTED
      // Quorum reached: approvals approve exactly the pinned snapshot, so check it still holds.
      const r = await db.repinSnapshot(deploymentId);
      status = r.status;
      if (r.invalidated) {
        approvals = 0;
        deciders.clear();
        continue;
      }
      break;
    }
  }
  void approvals;

  // ---- wait timer ----------------------------------------------------------------------------
  if (plan.waitTimerSeconds > 0) {
    status = (await db.startWaitTimer(deploymentId)).status;
    await condition(() => cancelRequestedBy !== null, `${plan.waitTimerSeconds} seconds`);
    if (cancelRequestedBy) return finishCancelled();
  }

  // ---- the environment's queue, then the policy gate, then RUNNING ---------------------------
  for (;;) {
    if (cancelRequestedBy) return finishCancelled();
    let lease;
    try {
      lease = await running.run(() => queue.acquireLease(deploymentId));
    } catch (error) {
      if (isCancellation(error) || cancelRequestedBy) return finishCancelled();
      throw error;
    }
    status = lease.status;
    if (lease.outcome === 'started') break;
    if (lease.outcome === 'blocked') return status; // FAILED by the gate
    await sleep('1 second'); // 'waiting': the long poll timed out; ask again
  }

  // ---- deploy --------------------------------------------------------------------------------
  try {
    await running.run(async () => {
      if (plan.provider === 'WEBHOOK') {
        await provider.sendWebhook(deploymentId);
        const reported = await condition(() => webhookOutcome !== null, `${plan.webhookTimeoutSeconds} seconds`);
        if (!reported) throw ApplicationFailure.nonRetryable(`No status reported within ${plan.webhookTimeoutSeconds} seconds`, 'WebhookTimeout');
        if (webhookOutcome!.status === 'FAILED') {
          throw ApplicationFailure.nonRetryable(webhookOutcome!.message ?? 'The deploy target reported a failure', 'WebhookFailed');
        }
      } else {
        for (let step = 0; step < plan.stepCount; step++) await provider.runSimulatedStep(deploymentId, step);
      }
    });
  } catch (error) {
    if (cancelRequestedBy || isCancellation(error)) return CancellationScope.nonCancellable(finishCancelled);
    const message = error instanceof ActivityFailure ? (error.cause?.message ?? error.message) : (error as Error).message;
    status = (await db.finish(deploymentId, { outcome: 'FAILED', actor: null, message })).status;
    return status;
  }
  if (cancelRequestedBy) return finishCancelled();
  status = (await db.finish(deploymentId, { outcome: 'SUCCEEDED', actor: null, message: null })).status;
  return status;
}
