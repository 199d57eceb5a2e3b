// One workflow per deployment. It decides when things happen (approvals, timers, the queue, the
// steps); activities do all I/O and record every transition in the event log. Deterministic: no
// clock, randomness or I/O here.
import {
  ActivityFailure,
  allHandlersFinished,
  ApplicationFailure,
  CancellationScope,
  condition,
  isCancellation,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  sleep,
  TemporalFailure,
} from '@temporalio/workflow';
import { personalDecisionRefusal } from '../domain/decisions.ts';
import { textProblem, toStorableText } from '../domain/text.ts';
import type { DeploymentStatus } from '../domain/types.ts';
import type { DeploymentActivities, DeploymentPlan } from './activities/deployment.ts';
import type { VerificationVerdict } from '../domain/verification.ts';
import {
  approveUpdate,
  cancelUpdate,
  configChangedSignal,
  REFUSAL,
  rejectUpdate,
  statusQuery,
  webhookOutcomeSignal,
  type DecisionRequest,
  type DeploymentFacts,
  type DeploymentWorkflowInput,
} from './definitions.ts';
import { awaitsDecision, isTerminal } from '../domain/deployment-state.ts';

const db = proxyActivities<DeploymentActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '500 ms', maximumInterval: '10 seconds', backoffCoefficient: 2 },
});
const loader = proxyActivities<DeploymentActivities>({
  startToCloseTimeout: '10 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '5 seconds', maximumAttempts: 15 },
});
// The same short transitions as local activities ('local-transitions'): each runs in the
// workflow task that asks for it and is recorded there as a marker, with no activity task and no
// second workflow task, which halve a deployment's round trips through Temporal. Each is one short
// transaction, once per key (services/deployment-runs.ts), because a worker that dies before its
// workflow task completes leaves the marker unrecorded and the next worker runs it again. Every
// backoff stays below localRetryThreshold (1 minute), so retries wait in the worker, not on timers
// in the history; a workflow task held that long is heartbeated by the SDK.
const dbLocal = proxyLocalActivities<DeploymentActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '500 ms', maximumInterval: '10 seconds', backoffCoefficient: 2 },
});
// loadDeployment now runs the instant the workflow starts, often before the creating transaction
// (which starts the workflow) has committed: retried soon, then for about a minute as before.
const loaderLocal = proxyLocalActivities<DeploymentActivities>({
  startToCloseTimeout: '10 seconds',
  retry: { initialInterval: '100 ms', maximumInterval: '5 seconds', backoffCoefficient: 2, maximumAttempts: 18 },
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

export async function deploymentWorkflow({ deploymentId, initial }: DeploymentWorkflowInput): Promise<DeploymentStatus> {
  // Asked once, here, and kept: a run recorded before local transitions keeps remote ones to its
  // end (its history replays), one started since uses local ones throughout; no run mixes them.
  const local = patched('local-transitions');
  const transitions = local ? dbLocal : db;
  // Every handler is registered before the first await: an update or signal sent the instant the
  // deployment exists reaches the workflow's first activation, and must find its handler there.
  // Until the plan is loaded, the validators judge from `initial`, which the creating transaction
  // wrote (a workflow started without it refuses decisions until then, as before).
  let plan: DeploymentPlan | undefined;
  let facts: DeploymentFacts | undefined = initial;
  let loadFailed = false;
  let status: DeploymentStatus = initial?.status ?? 'QUEUED';
  const deciders = new Set<string>();
  let cancelRequestedBy: string | null = null;
  let configChanged = false;
  let webhookOutcome: { status: 'SUCCEEDED' | 'FAILED'; message: string | null } | null = null;
  let updated = false; // an accepted decision or cancel: see the end
  let busy = false; // one transition at a time: validators run before a handler's activity ends
  // A re-pin after the last approval may put the deployment back to PENDING_APPROVAL; the
  // database (which clients read) says so before this workflow hears it, so decisions sent in
  // that instant are accepted and judged once the re-pin is done.
  let repinning = false;
  const running = new CancellationScope();

  setHandler(statusQuery, () => status);

  const refuse = (type: string, message: string) => ApplicationFailure.create({ type, message });
  const validateDecision = ({ subject }: DecisionRequest, { final }: { final: boolean }) => {
    if (!awaitsDecision(status) && !(repinning && !final)) {
      throw refuse(REFUSAL.precondition, `The deployment is ${status}, not waiting for a decision`);
    }
    if (!facts) return; // a workflow started without `initial` refuses on the status above until loaded
    // Once per person is judged again once a running re-pin (which may void approvals) is done.
    const refusal = personalDecisionRefusal(subject, 'decide on', { ...facts, alreadyDecidedBy: final || !repinning ? deciders : [] });
    if (refusal) throw refuse(REFUSAL.forbidden, refusal.reason);
  };
  // The request's own text, which recordDecision stores: the API checks it first (the shared rule
  // of domain/text.ts); a client of Temporal that skips the API is refused here, before the update
  // is accepted. Pure, like every validator. Only in the validator: accepted updates are replayed
  // through the handler, which must schedule what it scheduled before.
  const validateDecisionText = ({ comment }: DecisionRequest) => {
    const problem = comment === null || comment === undefined ? null : textProblem(comment);
    if (problem) {
      throw ApplicationFailure.create({
        type: REFUSAL.badInput,
        message: `input.comment: ${problem}`,
        details: [{ field: 'input.comment' }],
      });
    }
  };
  const validateDecisionRequest = (request: DecisionRequest) => {
    validateDecisionText(request);
    validateDecision(request, { final: false });
  };
  // condition() wakes every waiter at once, so each re-checks after waking: a real mutex. Nothing
  // takes it before the plan is loaded: a decision accepted in the first activation waits here.
  const lock = async () => {
    while (busy || (!plan && !loadFailed)) await condition(() => !busy && (plan !== undefined || loadFailed));
    busy = true;
  };
  const unlock = () => {
    busy = false;
  };
  const decide = (decision: 'APPROVE' | 'REJECT') => async (request: DecisionRequest) => {
    updated = true;
    await lock();
    try {
      if (loadFailed) throw refuse(REFUSAL.precondition, 'The deployment does not exist');
      validateDecision(request, { final: true }); // again: the state may have moved while this update waited
      deciders.add(request.subject);
      let result;
      try {
        result = await transitions.recordDecision(deploymentId, { ...request, decision, required: plan!.requiredApprovals });
      } catch (error) {
        // Not recorded (e.g. the database refused the comment, a non-retryable failure): the
        // update fails, and this person may still decide.
        deciders.delete(request.subject);
        throw error;
      }
      status = result.status;
      return status;
    } finally {
      unlock();
    }
  };
  setHandler(approveUpdate, decide('APPROVE'), { validator: validateDecisionRequest });
  setHandler(rejectUpdate, decide('REJECT'), { validator: validateDecisionRequest });
  setHandler(
    cancelUpdate,
    async ({ subject }) => {
      updated = true;
      cancelRequestedBy ??= subject;
      running.cancel();
      await condition(() => isTerminal(status));
      return status;
    },
    {
      validator: (_request: { subject: string }) => {
        if (isTerminal(status)) throw refuse(REFUSAL.precondition, `The deployment has already ended (${status})`);
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

  const final = await run();
  // Decisions and cancellations still waiting for the lock are answered (refused, now that the
  // deployment has ended) before the workflow completes.
  await condition(allHandlersFinished);
  // With local transitions, the workflow task that accepts a decision or a cancel can run the
  // deployment to its end. Should the server refuse that task's completion (an event arrived
  // meanwhile: UnhandledCommand), the update accepted in it is lost and its client told the
  // update failed, though its handler ran. A timer first gives the completion a task of its own.
  if (local && updated) await sleep(1);
  return final;

  async function run(): Promise<DeploymentStatus> {
    try {
      plan = await (local ? loaderLocal : loader).loadDeployment(deploymentId);
    } catch (error) {
      // The creating transaction never committed: there is no deployment to run. (A local
      // activity's failure reaches the workflow as itself, an ApplicationFailure or a timeout,
      // not wrapped in an ActivityFailure.)
      if (error instanceof ActivityFailure || (local && error instanceof TemporalFailure)) {
        loadFailed = true;
        return (status = 'CANCELLED');
      }
      throw error;
    }
    status = plan.status;
    facts = { status: plan.status, requestedBy: plan.requestedBy, preventSelfApproval: plan.preventSelfApproval };
    for (const subject of plan.decidedBy) deciders.add(subject);
    const p = plan;

    const finishCancelled = async () => {
      await lock();
      try {
        status = (await transitions.finish(deploymentId, { outcome: 'CANCELLED', actor: cancelRequestedBy, message: null })).status;
        return status;
      } finally {
        unlock();
      }
    };
    /** Re-pins the snapshot under the lock; approvals so far are void if it changed. */
    const repin = async () => {
      repinning = true;
      await lock();
      try {
        const r = await transitions.repinSnapshot(deploymentId);
        status = r.status;
        if (r.invalidated) deciders.clear();
        return r;
      } finally {
        repinning = false;
        unlock();
      }
    };

    if (isTerminal(status)) return status;

    // ---- approval ----------------------------------------------------------------------------
    // Deployments created since decisions are taken from the first moment are PENDING_APPROVAL
    // already; older ones (and their replays) request approval here.
    if (p.requiredApprovals > 0) {
      if (status === 'QUEUED') status = (await transitions.requestApproval(deploymentId)).status;
      for (;;) {
        const decided = await condition(
          () => cancelRequestedBy !== null || configChanged || (!busy && status !== 'PENDING_APPROVAL'),
          `${p.approvalTimeoutSeconds} seconds`,
        );
        if (cancelRequestedBy) return finishCancelled();
        if (configChanged) {
          configChanged = false;
          await repin();
          if (status === 'PENDING_APPROVAL') continue;
        }
        if (!decided) {
          await lock();
          try {
            // A decision may have taken the lock first: time out only what still waits.
            if (status === 'PENDING_APPROVAL') status = (await transitions.expire(deploymentId)).status;
          } finally {
            unlock();
          }
        }
        if (isTerminal(status)) return status; // EXPIRED, REJECTED
        // Quorum reached: approvals approve exactly the pinned snapshot, so check it still holds.
        const r = await repin();
        if (r.invalidated) continue;
        break;
      }
    }

    // ---- wait timer --------------------------------------------------------------------------
    if (p.waitTimerSeconds > 0) {
      if (cancelRequestedBy) return finishCancelled();
      status = (await transitions.startWaitTimer(deploymentId)).status;
      await condition(() => cancelRequestedBy !== null, `${p.waitTimerSeconds} seconds`);
      if (cancelRequestedBy) return finishCancelled();
    }

    // ---- the environment's queue, then the policy gate, then RUNNING -------------------------
    let verify = false; // v2: the deployment pinned a verification as it started
    const freezeAware = freezeWindowsPatched();
    // First one attempt at once, in this workflow task: a deployment nothing is ahead of starts
    // without a round trip. Only when it has to wait does the long poll (an activity) take over.
    let atOnce = local;
    for (;;) {
      if (cancelRequestedBy) return finishCancelled();
      let lease;
      try {
        lease = await running.run(() =>
          atOnce
            ? dbLocal.tryLease(deploymentId, { holdForFreeze: true })
            : freezeAware
              ? queue.acquireLease(deploymentId, { holdForFreeze: true })
              : queue.acquireLease(deploymentId),
        );
      } catch (error) {
        if (isCancellation(error) || cancelRequestedBy) return finishCancelled();
        throw error;
      }
      status = lease.status;
      if (lease.outcome === 'frozen') {
        await holdThroughFreeze(lease.until);
        continue;
      }
      verify = lease.verify === true;
      if (lease.outcome === 'started') break;
      if (lease.outcome === 'blocked') return status; // FAILED by the gate
      if (atOnce) {
        atOnce = false; // 'waiting': on to the long poll
        continue;
      }
      await sleep('1 second'); // 'waiting': the long poll timed out; ask again
    }

    // ---- deploy, then verify ------------------------------------------------------------------
    const verdict: { failed?: VerificationVerdict } = {};
    try {
      await running.run(async () => {
        if (p.provider === 'WEBHOOK') {
          await provider.sendWebhook(deploymentId);
          const reported = await condition(() => webhookOutcome !== null, `${p.webhookTimeoutSeconds} seconds`);
          if (!reported)
            throw ApplicationFailure.nonRetryable(`No status reported within ${p.webhookTimeoutSeconds} seconds`, 'WebhookTimeout');
          if (webhookOutcome!.status === 'FAILED') {
            throw ApplicationFailure.nonRetryable(webhookOutcome!.message ?? 'The deploy target reported a failure', 'WebhookFailed');
          }
        } else {
          // Steps that take no time are recorded all at once, in this workflow task; others run an
          // activity each (heartbeats, resumable from the last tick).
          const first = local && (await dbLocal.recordInstantSteps(deploymentId)) ? p.stepCount : 0;
          for (let step = first; step < p.stepCount; step++) await provider.runSimulatedStep(deploymentId, step);
        }
        if (verify) verdict.failed = await verifyDeployment(deploymentId);
      });
    } catch (error) {
      if (cancelRequestedBy || isCancellation(error)) return CancellationScope.nonCancellable(finishCancelled);
      const message = error instanceof ActivityFailure ? (error.cause?.message ?? error.message) : (error as Error).message;
      status = (await transitions.finish(deploymentId, { outcome: 'FAILED', actor: null, message })).status;
      return status;
    }
    // A verdict recorded before a cancel arrived stands: its rollback happens, then FAILED.
    if (verdict.failed) return (status = await failVerified(deploymentId, verdict.failed, transitions));
    if (cancelRequestedBy) return finishCancelled();
    status = (await transitions.finish(deploymentId, { outcome: 'SUCCEEDED', actor: null, message: null })).status;
    return status;
  }

  // ---- freeze windows (v2) ---------------------------------------------------------------------
  /**
   * Whether this run may be told to sleep through a freeze window: histories recorded before
   * freeze windows replay without the marker and keep the old lease loop (which polls, as for
   * the manual `frozen` switch).
   */
  function freezeWindowsPatched(): boolean {
    return patched('freeze-windows');
  }

  /**
   * A durable timer until the occurrence's end the activity reported (workflow time), woken early
   * only by a cancellation; the lease is then asked for again, which checks the windows anew.
   */
  async function holdThroughFreeze(untilIso: string): Promise<void> {
    const ms = Date.parse(untilIso) - Date.now();
    if (ms > 0) await condition(() => cancelRequestedBy !== null, ms);
  }
}

// ---- v2: verification and automatic rollback (kept apart from the run above for easy merging) --

/**
 * Runs the pinned verification after the deploy steps; answers the verdict when it failed. The
 * patch keeps histories recorded before verification existed replaying: there, no lease pinned
 * one, and a workflow that started before it but runs its deploy now takes the new path.
 */
async function verifyDeployment(deploymentId: string): Promise<VerificationVerdict | undefined> {
  if (!patched('verification')) return undefined;
  const verdict = await provider.runVerification(deploymentId);
  return verdict.passed ? undefined : verdict;
}

/**
 * A failed verification: with policy.autoRollback, quarantine + pause + the rollback (its
 * ROLLBACK_STARTED lands before this deployment's FAILED, so subscribers see both), then FAILED.
 * Not cancellable: once the verdict is recorded, the rollback it calls for happens.
 */
async function failVerified(deploymentId: string, verdict: VerificationVerdict, transitions: typeof db): Promise<DeploymentStatus> {
  return CancellationScope.nonCancellable(async () => {
    // Not local: it creates a deployment and starts its workflow, more than a short transition.
    if (verdict.autoRollback) await db.startAutoRollback(deploymentId);
    return (await transitions.finish(deploymentId, { outcome: 'FAILED', actor: null, message: verdict.message })).status;
  });
}
