// The deployment workflow on its own: the real workflow code (bundled as the worker bundles it)
// on a real local Temporal dev server, with STUB activities that keep the deployment row in
// memory (status, decisions, event log). No database, no API: what is asserted is what the
// workflow decided and in what order.
//
// @temporalio/testing is not installed (no TestWorkflowEnvironment, so no time skipping): the dev
// server is the one `npm start` supervises (server/temporal.ts, the provisioned CLI), and the
// timeouts that matter are kept short through the plan the stub loadDeployment returns.
// No timing assertions: every wait is on a fact (an event, a gate reached), with generous timeouts.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Context } from '@temporalio/activity';
import {
  Client,
  Connection,
  WithStartWorkflowOperation,
  WorkflowUpdateFailedError,
  WorkflowUpdateStage,
  type WorkflowHandle,
} from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { NativeConnection, Runtime, Worker } from '@temporalio/worker';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IllegalTransition, isTerminal, transition, type Happening } from '../../domain/deployment-state.ts';
import type { DeploymentStatus } from '../../domain/types.ts';
import { until } from '../../scripts/lib/until.ts';
import { startLocalTemporal, type LocalTemporal } from '../../server/temporal.ts';
import type { DeploymentActivities, DeploymentPlan } from '../../workflows/activities/deployment.ts';
import {
  approveUpdate,
  cancelUpdate,
  configChangedSignal,
  DEPLOYMENT_WORKFLOW,
  REFUSAL,
  rejectUpdate,
  statusQuery,
  workflowIdFor,
  type DecisionRequest,
  type DeploymentFacts,
  type DeploymentWorkflowInput,
} from '../../workflows/definitions.ts';
import { workflowBundle } from '../../workflows/worker.ts';

// ---------------------------------------------------------------------------------------------
// The in-memory deployment row and the stub activities

type ActivityName = keyof DeploymentActivities;

interface Row {
  status: DeploymentStatus;
  plan: Omit<DeploymentPlan, 'status' | 'decidedBy'>;
  /** Valid (not invalidated) decisions by person. */
  decisions: Map<string, 'APPROVE' | 'REJECT'>;
  /** The event log, e.g. 'APPROVED alice', 'STEP_STARTED 1', 'CANCELLED carol'. */
  events: string[];
  /** The configuration of the target: a re-pin invalidates when it moved since the snapshot. */
  configVersion: number;
  pinnedVersion: number;
  /** Whatever the real database would have refused (an illegal transition, a second decision). */
  violations: string[];
  /** loadDeployment fails: the creating transaction never committed. */
  missing: boolean;
  /** The target's steps take no time: recordInstantSteps records them all (else it declines). */
  instantSteps: boolean;
  /** Another deployment is ahead in the queue: the at-once attempt at the lease has to wait. */
  queued: boolean;
  /** Runs inside the named activity (after its write, for repinSnapshot): gates, mostly. */
  hooks: Partial<Record<ActivityName, (...args: unknown[]) => Promise<void>>>;
  calls: Partial<Record<ActivityName, number>>;
}

const rows = new Map<string, Row>();

function rowOf(id: string): Row {
  const row = rows.get(id);
  if (!row) throw ApplicationFailure.nonRetryable(`no stub row for ${id}`, 'TestSetup');
  return row;
}

async function enter(row: Row, name: ActivityName, ...args: unknown[]) {
  row.calls[name] = (row.calls[name] ?? 0) + 1;
  await row.hooks[name]?.(...args);
}

/** The one state machine (domain/deployment-state.ts), as the real activities apply it. */
function apply(row: Row, happening: Happening, detail?: string | number | null) {
  try {
    const t = transition(row.status, happening);
    row.status = t.status;
    row.events.push(detail === undefined || detail === null ? t.event : `${t.event} ${detail}`);
  } catch (error) {
    if (!(error instanceof IllegalTransition)) throw error;
    row.violations.push(error.message);
    throw ApplicationFailure.nonRetryable(error.message, 'IllegalTransition');
  }
  return { status: row.status };
}

const approvalsOf = (row: Row) => [...row.decisions.values()].filter((d) => d === 'APPROVE').length;

const stubActivities = {
  async loadDeployment(id: string): Promise<DeploymentPlan> {
    const row = rowOf(id);
    await enter(row, 'loadDeployment');
    // The real activity retries NotYetCommitted until its attempts run out; the workflow then sees
    // the same ActivityFailure as here, only later.
    if (row.missing) throw ApplicationFailure.nonRetryable(`deployment ${id} is not in the database`, 'NotYetCommitted');
    return { ...row.plan, status: row.status, decidedBy: [...row.decisions.keys()] };
  },
  async requestApproval(id: string) {
    const row = rowOf(id);
    await enter(row, 'requestApproval');
    return apply(row, { kind: 'request-approval' });
  },
  async recordDecision(id: string, input: { subject: string; comment: string | null; decision: 'APPROVE' | 'REJECT'; required: number }) {
    const row = rowOf(id);
    await enter(row, 'recordDecision', input);
    if (row.decisions.has(input.subject)) row.violations.push(`a second decision by ${input.subject}`);
    row.decisions.set(input.subject, input.decision);
    const n = approvalsOf(row);
    const happening: Happening =
      input.decision === 'REJECT' ? { kind: 'reject' } : { kind: 'approve', approvalsAfter: n, required: input.required };
    return { ...apply(row, happening, input.subject), approvals: n };
  },
  async repinSnapshot(id: string) {
    const row = rowOf(id);
    // Asked again right after its own invalidation (a retry, or a local activity run again): the
    // same answer, as services/deployment-runs.ts gives it.
    let invalidated = row.status === 'PENDING_APPROVAL' && row.events.at(-1) === 'APPROVALS_INVALIDATED';
    if ((row.status === 'PENDING_APPROVAL' || row.status === 'QUEUED') && row.configVersion !== row.pinnedVersion) {
      row.decisions.clear();
      row.pinnedVersion = row.configVersion;
      apply(row, { kind: 'invalidate-approvals' });
      invalidated = true;
    }
    // Committed: readers see the new status before the workflow hears the answer.
    await enter(row, 'repinSnapshot');
    return { status: row.status, invalidated };
  },
  async expire(id: string) {
    const row = rowOf(id);
    await enter(row, 'expire');
    return apply(row, { kind: 'expire' });
  },
  async startWaitTimer(id: string) {
    const row = rowOf(id);
    await enter(row, 'startWaitTimer');
    return apply(row, { kind: 'wait' });
  },
  async acquireLease(id: string) {
    const row = rowOf(id);
    await enter(row, 'acquireLease');
    if (isTerminal(row.status)) return { outcome: 'blocked' as const, status: row.status };
    return { outcome: 'started' as const, ...apply(row, { kind: 'start' }) };
  },
  async tryLease(id: string) {
    const row = rowOf(id);
    await enter(row, 'tryLease');
    if (isTerminal(row.status)) return { outcome: 'blocked' as const, status: row.status };
    if (row.queued) return { outcome: 'waiting' as const, ...apply(row, { kind: 'wait' }) };
    return { outcome: 'started' as const, ...apply(row, { kind: 'start' }) };
  },
  async runSimulatedStep(id: string, index: number) {
    const row = rowOf(id);
    apply(row, { kind: 'step-started' }, index);
    await enter(row, 'runSimulatedStep', index);
    apply(row, { kind: 'step-succeeded' }, index);
  },
  async recordInstantSteps(id: string) {
    const row = rowOf(id);
    await enter(row, 'recordInstantSteps');
    if (!row.instantSteps) return false;
    for (let index = 0; index < row.plan.stepCount; index++) {
      apply(row, { kind: 'step-started' }, index);
      apply(row, { kind: 'step-succeeded' }, index);
    }
    return true;
  },
  async sendWebhook(id: string) {
    const row = rowOf(id);
    await enter(row, 'sendWebhook');
    apply(row, { kind: 'log' }, 'webhook delivered');
  },
  async finish(id: string, input: { outcome: 'SUCCEEDED' | 'FAILED' | 'CANCELLED'; actor: string | null; message: string | null }) {
    const row = rowOf(id);
    await enter(row, 'finish', input);
    if (isTerminal(row.status)) return { status: row.status };
    const kind = input.outcome === 'SUCCEEDED' ? 'succeed' : input.outcome === 'FAILED' ? 'fail' : 'cancel';
    return apply(row, { kind }, input.outcome === 'CANCELLED' ? input.actor : input.message);
  },
  // Verification (v2) is driven against the real activities in test/integration/verification.test.ts;
  // these stub leases never pin one, so the workflow never calls these.
  async runVerification(): Promise<{ passed: boolean; message: string | null; autoRollback: boolean }> {
    throw ApplicationFailure.nonRetryable('not used by these tests', 'Unused');
  },
  async startAutoRollback(): Promise<{ rollbackId: string | null }> {
    throw ApplicationFailure.nonRetryable('not used by these tests', 'Unused');
  },
} satisfies DeploymentActivities;

// ---------------------------------------------------------------------------------------------
// Gates: an activity that stops until the test lets it go

interface Gate {
  /** Resolves once an activity is waiting at the gate. */
  reached: Promise<void>;
  open(): void;
  hook: () => Promise<void>;
}
const gates: Gate[] = [];
function gate(): Gate {
  let open!: () => void;
  let arrive!: () => void;
  const opened = new Promise<void>((r) => (open = r));
  const reached = new Promise<void>((r) => (arrive = r));
  const g = {
    reached,
    open,
    hook: async () => {
      arrive();
      await opened;
    },
  };
  gates.push(g);
  return g;
}
/** A gate that lets the first `n - 1` calls through and stops the n-th. */
const onCall = (n: number, g: Gate) => {
  let calls = 0;
  return async () => {
    if (++calls === n) await g.hook();
  };
};

// ---------------------------------------------------------------------------------------------
// The dev server, the worker (real workflow bundle, stub activities) and a client

const TASK_QUEUE = 'deployment-workflow-unit';
// The workflow's short transitions are local activities: an update sent while one is held at a
// gate reaches the workflow when the SDK heartbeats the workflow task (at 80% of this timeout),
// so a short one keeps gates held for seconds, well within the activities' own timeouts.
const WORKFLOW_TASK_TIMEOUT = '3 seconds';
let dataDir: string;
let temporal: LocalTemporal;
let worker: Worker;
let workerDone: Promise<void>;
let nativeConnection: NativeConnection;
let connection: Connection;
let client: Client;

beforeAll(async () => {
  try {
    const quiet = () => {};
    // Quiet: the SDK's warnings here are the expected ones (activities cancelled under a test).
    Runtime.install({
      logger: { log: quiet, trace: quiet, debug: quiet, info: quiet, warn: quiet, error: (m, meta) => console.error(m, meta) },
      telemetryOptions: { logging: { filter: { core: 'ERROR', other: 'ERROR' }, forward: {} } },
    });
  } catch {
    // installed already in this process
  }
  dataDir = mkdtempSync(join(tmpdir(), 'stageplane-wf-unit-'));
  const [t, bundle] = await Promise.all([
    startLocalTemporal({ dataDir, namespace: 'default', log: pino({ level: 'silent' }) }),
    workflowBundle(),
  ]);
  temporal = t;
  nativeConnection = await NativeConnection.connect({ address: temporal.address });
  worker = await Worker.create({
    connection: nativeConnection,
    namespace: 'default',
    taskQueue: TASK_QUEUE,
    workflowBundle: bundle,
    activities: stubActivities,
  });
  workerDone = worker.run();
  connection = await Connection.connect({ address: temporal.address });
  client = new Client({ connection, namespace: 'default' });
}, 180_000);

afterAll(async () => {
  for (const g of gates) g.open();
  if (worker?.getState() === 'RUNNING') worker.shutdown();
  await workerDone?.catch(() => undefined);
  await nativeConnection?.close();
  await connection?.close();
  await temporal?.stop();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
}, 60_000);

let seq = 0;
interface Started {
  id: string;
  row: Row;
  handle: WorkflowHandle;
}

type Setup = Partial<Row['plan']> & {
  status?: DeploymentStatus;
  /** The facts the creating transaction hands the workflow (default: from the row); false: none. */
  initial?: DeploymentFacts | false;
  hooks?: Row['hooks'];
  decisions?: [string, 'APPROVE' | 'REJECT'][];
  missing?: boolean;
  instantSteps?: boolean;
  queued?: boolean;
};

function newRow({ status, initial: _initial, hooks, decisions, missing, instantSteps, queued, ...plan }: Setup): Row {
  const full: Row['plan'] = {
    requestedBy: 'rita',
    requiredApprovals: 2,
    preventSelfApproval: true,
    approvalTimeoutSeconds: 600,
    waitTimerSeconds: 0,
    provider: 'SIMULATED',
    stepCount: 3,
    webhookTimeoutSeconds: 60,
    ...plan,
  };
  return {
    // Created since decisions are taken from the first moment: PENDING_APPROVAL already.
    status: status ?? (full.requiredApprovals > 0 ? 'PENDING_APPROVAL' : 'QUEUED'),
    plan: full,
    decisions: new Map(decisions ?? []),
    events: [],
    configVersion: 1,
    pinnedVersion: 1,
    violations: [],
    missing: missing ?? false,
    instantSteps: instantSteps ?? false,
    queued: queued ?? false,
    hooks: hooks ?? {},
    calls: {},
  };
}

function inputFor(id: string, row: Row, setup: Setup): DeploymentWorkflowInput {
  const initial =
    setup.initial === false
      ? undefined
      : (setup.initial ?? { status: row.status, requestedBy: row.plan.requestedBy, preventSelfApproval: row.plan.preventSelfApproval });
  return { deploymentId: id, ...(initial ? { initial } : {}) };
}

async function start(setup: Setup = {}): Promise<Started> {
  const id = `d${++seq}-${Date.now().toString(36)}`;
  const row = newRow(setup);
  rows.set(id, row);
  const handle = await client.workflow.start(DEPLOYMENT_WORKFLOW, {
    taskQueue: TASK_QUEUE,
    workflowTaskTimeout: WORKFLOW_TASK_TIMEOUT,
    workflowId: workflowIdFor(id),
    args: [inputFor(id, row, setup)],
  });
  return { id, row, handle };
}

const request = (subject: string, comment: string | null = null): DecisionRequest => ({ subject, roles: ['APPROVER'], comment });
const approve = (d: Started, subject: string) => d.handle.executeUpdate(approveUpdate, { args: [request(subject)] });
const reject = (d: Started, subject: string) => d.handle.executeUpdate(rejectUpdate, { args: [request(subject)] });
const cancel = (d: Started, subject: string) => d.handle.executeUpdate(cancelUpdate, { args: [{ subject }] });
/** An update once the workflow's validator has accepted it (its handler may still wait for its turn). */
const acceptedApproval = (d: { handle: WorkflowHandle }, subject: string) =>
  d.handle.startUpdate(approveUpdate, { args: [request(subject)], waitForStage: WorkflowUpdateStage.ACCEPTED });
const acceptedCancel = (d: { handle: WorkflowHandle }, subject: string) =>
  d.handle.startUpdate(cancelUpdate, { args: [{ subject }], waitForStage: WorkflowUpdateStage.ACCEPTED });

/** The update's answer, or the type of the ApplicationFailure that refused it. */
async function outcome(update: Promise<unknown>): Promise<string> {
  try {
    return `answered ${String(await update)}`;
  } catch (error) {
    if (error instanceof WorkflowUpdateFailedError && error.cause instanceof ApplicationFailure)
      return error.cause.type ?? 'ApplicationFailure';
    throw error;
  }
}

const eventually = (what: string, d: Started, probe: () => boolean | Promise<boolean>) =>
  until(what, probe, { timeoutMs: 30_000, intervalMs: 20, context: () => `events: ${d.row.events.join(', ')}` });
const hasEvent = (d: Started, event: string) => eventually(`the event ${event}`, d, () => d.row.events.includes(event));

const STEPS_THEN_SUCCESS = [
  'STARTED',
  'STEP_STARTED 0',
  'STEP_SUCCEEDED 0',
  'STEP_STARTED 1',
  'STEP_SUCCEEDED 1',
  'STEP_STARTED 2',
  'STEP_SUCCEEDED 2',
  'SUCCEEDED',
];

// ---------------------------------------------------------------------------------------------

describe('the deployment workflow, with stub activities', () => {
  it('runs straight through without approvals or a wait timer', async () => {
    const d = await start({ requiredApprovals: 0 });
    expect(await d.handle.result()).toBe('SUCCEEDED');
    expect(d.row.events).toEqual(STEPS_THEN_SUCCESS);
    expect(d.row.violations).toEqual([]);
    // The target's steps take time here: each ran as an activity of its own.
    expect(d.row.calls).toMatchObject({ recordInstantSteps: 1, runSimulatedStep: 3 });
    // Nothing was ahead: the at-once attempt took the lease, no long poll.
    expect(d.row.calls).toMatchObject({ tryLease: 1 });
    expect(d.row.calls.acquireLease).toBeUndefined();
  }, 60_000);

  it('waits in the long poll when the at-once attempt at the lease finds the queue taken', async () => {
    const d = await start({ requiredApprovals: 0, queued: true });
    expect(await d.handle.result()).toBe('SUCCEEDED');
    expect(d.row.events).toEqual(['WAITING', ...STEPS_THEN_SUCCESS]);
    expect(d.row.calls).toMatchObject({ tryLease: 1, acquireLease: 1 });
    expect(d.row.violations).toEqual([]);
  }, 60_000);

  it('records steps that take no time at once, in one local activity, with the same events', async () => {
    const d = await start({ requiredApprovals: 0, instantSteps: true });
    expect(await d.handle.result()).toBe('SUCCEEDED');
    expect(d.row.events).toEqual(STEPS_THEN_SUCCESS);
    expect(d.row.calls.recordInstantSteps).toBe(1);
    expect(d.row.calls.runSimulatedStep).toBeUndefined();
    expect(d.row.violations).toEqual([]);
  }, 60_000);

  describe('approval', () => {
    it('takes exactly the quorum from six approvers racing for three approvals; the rest are refused PRECONDITION_FAILED', async () => {
      // The lease waits until every update is answered: the later ones meet a deployment that has
      // moved on but not yet ended.
      const lease = gate();
      const d = await start({ requiredApprovals: 3, hooks: { tryLease: lease.hook } });
      const approvers = ['a1', 'a2', 'a3', 'a4', 'a5', 'a6'];
      const outcomes = await Promise.all(approvers.map((a) => outcome(approve(d, a))));
      lease.open();
      expect(await d.handle.result()).toBe('SUCCEEDED');

      expect(outcomes.filter((o) => o.startsWith('answered'))).toHaveLength(3);
      expect(outcomes.filter((o) => o === REFUSAL.precondition)).toHaveLength(3);
      // The third approval answers QUEUED (quorum), the first two PENDING_APPROVAL.
      expect(outcomes.filter((o) => o === 'answered PENDING_APPROVAL')).toHaveLength(2);
      expect(outcomes.filter((o) => o === 'answered QUEUED')).toHaveLength(1);
      const approvedBy = approvers.filter((_, i) => outcomes[i]!.startsWith('answered'));
      expect([...d.row.decisions.keys()].sort()).toEqual(approvedBy.sort());
      expect(d.row.events).toEqual([...approvedBy.map(() => expect.stringMatching(/^APPROVED a\d$/)), ...STEPS_THEN_SUCCESS]);
      expect(d.row.calls.repinSnapshot).toBe(1); // the snapshot is checked once quorum is reached
      expect(d.row.violations).toEqual([]);
    }, 60_000);

    it('takes one decision per person: a second approval or a rejection by the same person is refused FORBIDDEN', async () => {
      const d = await start({ requiredApprovals: 3, decisions: [['carol', 'APPROVE']] });
      // Concurrently, twice: one is taken, the other refused.
      const twice = await Promise.all([outcome(approve(d, 'alice')), outcome(approve(d, 'alice'))]);
      expect(twice.sort()).toEqual([REFUSAL.forbidden, 'answered PENDING_APPROVAL']);
      expect(await outcome(approve(d, 'alice'))).toBe(REFUSAL.forbidden);
      expect(await outcome(reject(d, 'alice'))).toBe(REFUSAL.forbidden);
      // carol decided before the workflow loaded the row: the row's decisions count.
      expect(await outcome(approve(d, 'carol'))).toBe(REFUSAL.forbidden);
      expect(await outcome(approve(d, 'bob'))).toBe('answered QUEUED');
      expect(await d.handle.result()).toBe('SUCCEEDED');
      expect(d.row.events).toEqual(['APPROVED alice', 'APPROVED bob', ...STEPS_THEN_SUCCESS]);
      expect(d.row.violations).toEqual([]);
    }, 60_000);

    it('refuses the requester FORBIDDEN when the policy prevents self-approval, and takes them otherwise', async () => {
      const d = await start({ requiredApprovals: 1, requestedBy: 'rita', preventSelfApproval: true });
      expect(await outcome(approve(d, 'rita'))).toBe(REFUSAL.forbidden);
      expect(await outcome(reject(d, 'rita'))).toBe(REFUSAL.forbidden);
      expect(await outcome(approve(d, 'alice'))).toBe('answered QUEUED');
      expect(await d.handle.result()).toBe('SUCCEEDED');
      expect(d.row.events).toEqual(['APPROVED alice', ...STEPS_THEN_SUCCESS]);

      const allowed = await start({ requiredApprovals: 1, requestedBy: 'rita', preventSelfApproval: false });
      expect(await outcome(approve(allowed, 'rita'))).toBe('answered QUEUED');
      expect(await allowed.handle.result()).toBe('SUCCEEDED');
      expect(allowed.row.events[0]).toBe('APPROVED rita');
    }, 60_000);

    it('expires after the approval timeout, with the approvals it had', async () => {
      // alice's approval is in before the timeout starts, however slow the machine: it is accepted
      // while the plan is being loaded.
      const load = gate();
      const d = await start({ requiredApprovals: 2, approvalTimeoutSeconds: 1, hooks: { loadDeployment: load.hook } });
      await load.reached;
      const alice = await acceptedApproval(d, 'alice');
      load.open();
      expect(await alice.result()).toBe('PENDING_APPROVAL');
      expect(await d.handle.result()).toBe('EXPIRED');
      expect(d.row.events).toEqual(['APPROVED alice', 'EXPIRED']);
      expect(d.row.violations).toEqual([]);
    }, 60_000);

    it('ends REJECTED on a rejection, answering the rejecter REJECTED', async () => {
      const d = await start({ requiredApprovals: 2 });
      expect(await outcome(approve(d, 'alice'))).toBe('answered PENDING_APPROVAL');
      expect(await outcome(reject(d, 'bob'))).toBe('answered REJECTED');
      expect(await d.handle.result()).toBe('REJECTED');
      expect(d.row.events).toEqual(['APPROVED alice', 'REJECTED bob']);
      expect(d.row.violations).toEqual([]);
    }, 60_000);

    it('requests approval itself when started QUEUED (deployments from before decisions were taken from the first moment)', async () => {
      const d = await start({ requiredApprovals: 1, status: 'QUEUED', initial: false });
      // The row says PENDING_APPROVAL before the workflow hears it: wait for the workflow.
      await eventually('the workflow to wait for approval', d, async () => (await d.handle.query(statusQuery)) === 'PENDING_APPROVAL');
      expect(await outcome(approve(d, 'alice'))).toBe('answered QUEUED');
      expect(await d.handle.result()).toBe('SUCCEEDED');
      expect(d.row.events).toEqual(['APPROVAL_REQUESTED', 'APPROVED alice', ...STEPS_THEN_SUCCESS]);
    }, 60_000);
  });

  describe('configuration changes', () => {
    it('voids the approvals so far on configChanged when the re-pin invalidates: approval starts over, the same people may approve again', async () => {
      const d = await start({ requiredApprovals: 2 });
      expect(await outcome(approve(d, 'alice'))).toBe('answered PENDING_APPROVAL');
      d.row.configVersion++;
      await d.handle.signal(configChangedSignal);
      await hasEvent(d, 'APPROVALS_INVALIDATED');
      expect(d.row.status).toBe('PENDING_APPROVAL');
      expect(await outcome(approve(d, 'alice'))).toBe('answered PENDING_APPROVAL'); // one approval of two, again
      expect(await outcome(approve(d, 'bob'))).toBe('answered QUEUED');
      expect(await d.handle.result()).toBe('SUCCEEDED');
      expect(d.row.events).toEqual(['APPROVED alice', 'APPROVALS_INVALIDATED', 'APPROVED alice', 'APPROVED bob', ...STEPS_THEN_SUCCESS]);
      expect(d.row.violations).toEqual([]);
    }, 60_000);

    it('keeps the approvals on configChanged when the configuration is the same', async () => {
      const d = await start({ requiredApprovals: 2 });
      expect(await outcome(approve(d, 'alice'))).toBe('answered PENDING_APPROVAL');
      await d.handle.signal(configChangedSignal);
      await eventually('the re-pin', d, () => d.row.calls.repinSnapshot === 1);
      expect(await outcome(approve(d, 'alice'))).toBe(REFUSAL.forbidden);
      expect(await outcome(approve(d, 'bob'))).toBe('answered QUEUED');
      expect(await d.handle.result()).toBe('SUCCEEDED');
      expect(d.row.events).toEqual(['APPROVED alice', 'APPROVED bob', ...STEPS_THEN_SUCCESS]);
    }, 60_000);

    it('takes a decision sent while the re-pin after the last approval runs, and judges it once the re-pin is done', async () => {
      // The configuration moved: the post-quorum re-pin invalidates, and the row (which clients
      // read) is PENDING_APPROVAL again while the workflow still waits for the re-pin's answer.
      const repin = gate();
      const d = await start({ requiredApprovals: 2, hooks: { repinSnapshot: onCall(1, repin) } });
      expect(await outcome(approve(d, 'alice'))).toBe('answered PENDING_APPROVAL');
      d.row.configVersion++;
      expect(await outcome(approve(d, 'bob'))).toBe('answered QUEUED');
      await repin.reached;
      expect(d.row.status).toBe('PENDING_APPROVAL');
      // Both are accepted by the validators now (alice had decided, but that approval is being voided).
      const carol = await acceptedApproval(d, 'carol');
      const alice = await acceptedApproval(d, 'alice');
      repin.open();
      const answers = [await carol.result(), await alice.result()].sort();
      expect(answers).toEqual(['PENDING_APPROVAL', 'QUEUED']);
      expect(await d.handle.result()).toBe('SUCCEEDED');
      expect(d.row.events.slice(0, 3)).toEqual(['APPROVED alice', 'APPROVED bob', 'APPROVALS_INVALIDATED']);
      expect(d.row.events.slice(3, 5).sort()).toEqual(['APPROVED alice', 'APPROVED carol']);
      expect(d.row.events.slice(5)).toEqual(STEPS_THEN_SUCCESS);
      expect(d.row.calls.repinSnapshot).toBe(2); // and again after the new quorum, which holds
      expect(d.row.violations).toEqual([]);
    }, 60_000);

    it('refuses PRECONDITION_FAILED a decision sent while the post-quorum re-pin runs when that re-pin keeps the approvals', async () => {
      const repin = gate();
      const lease = gate();
      const d = await start({ requiredApprovals: 1, hooks: { repinSnapshot: repin.hook, tryLease: lease.hook } });
      expect(await outcome(approve(d, 'alice'))).toBe('answered QUEUED');
      await repin.reached;
      const bob = await acceptedApproval(d, 'bob');
      repin.open();
      expect(await outcome(bob.result())).toBe(REFUSAL.precondition);
      lease.open();
      expect(await d.handle.result()).toBe('SUCCEEDED');
      expect(d.row.events).toEqual(['APPROVED alice', ...STEPS_THEN_SUCCESS]);
    }, 60_000);
  });

  describe('cancellation', () => {
    it('cancels while pending approval', async () => {
      const d = await start({ requiredApprovals: 2 });
      expect(await outcome(approve(d, 'alice'))).toBe('answered PENDING_APPROVAL');
      expect(await outcome(cancel(d, 'carol'))).toBe('answered CANCELLED');
      expect(await d.handle.result()).toBe('CANCELLED');
      expect(d.row.events).toEqual(['APPROVED alice', 'CANCELLED carol']);
      // An ended deployment refuses decisions (the workflow has completed: Temporal says so).
      await expect(approve(d, 'bob')).rejects.toThrow();
    }, 60_000);

    it('cancels while waiting for the wait timer', async () => {
      const d = await start({ requiredApprovals: 0, waitTimerSeconds: 600 });
      await hasEvent(d, 'WAITING');
      expect(await outcome(cancel(d, 'carol'))).toBe('answered CANCELLED');
      expect(await d.handle.result()).toBe('CANCELLED');
      expect(d.row.events).toEqual(['WAITING', 'CANCELLED carol']);
    }, 60_000);

    it('cancels while a step runs: the step activity is cancelled and nothing runs after it', async () => {
      let cancelled = false;
      const step = gate();
      const d = await start({
        requiredApprovals: 0,
        hooks: {
          runSimulatedStep: async (index) => {
            if (index !== 1) return;
            const ctx = Context.current();
            void step.hook();
            try {
              for (;;) {
                ctx.heartbeat();
                await ctx.sleep(100); // throws once the cancellation reaches the activity
              }
            } catch (error) {
              cancelled = true;
              throw error;
            }
          },
        },
      });
      await step.reached;
      expect(await outcome(cancel(d, 'carol'))).toBe('answered CANCELLED');
      expect(await d.handle.result()).toBe('CANCELLED');
      expect(d.row.events).toEqual(['STARTED', 'STEP_STARTED 0', 'STEP_SUCCEEDED 0', 'STEP_STARTED 1', 'CANCELLED carol']);
      await eventually('the step activity to see its cancellation', d, () => cancelled);
      expect(d.row.calls.runSimulatedStep).toBe(2);
      expect(d.row.violations).toEqual([]);
    }, 60_000);

    it('cancels in the very first activation, before loadDeployment has returned', async () => {
      const load = gate();
      const d = await start({ requiredApprovals: 2, hooks: { loadDeployment: load.hook } });
      await load.reached;
      const c = await acceptedCancel(d, 'carol');
      load.open();
      expect(await c.result()).toBe('CANCELLED');
      expect(await d.handle.result()).toBe('CANCELLED');
      expect(d.row.events).toEqual(['CANCELLED carol']);
    }, 60_000);

    it('answers two cancels with one cancellation, by the first; a cancel after the end is refused', async () => {
      const lease = gate();
      const finish = gate();
      const d = await start({ requiredApprovals: 0, hooks: { tryLease: lease.hook, finish: finish.hook } });
      await lease.reached;
      const first = await acceptedCancel(d, 'carol');
      await finish.reached; // the cancellation is being written: not ended yet
      const second = await acceptedCancel(d, 'dave');
      finish.open();
      expect(await first.result()).toBe('CANCELLED');
      expect(await second.result()).toBe('CANCELLED');
      expect(await d.handle.result()).toBe('CANCELLED');
      expect(d.row.events).toEqual(['CANCELLED carol']);
      expect(d.row.calls.finish).toBe(1);
      await expect(cancel(d, 'erin')).rejects.toThrow();
    }, 60_000);
  });

  describe('the first moment', () => {
    it('takes a decision that arrives with the start, judged from the initial facts and recorded once the plan is loaded', async () => {
      const load = gate();
      const id = `d${++seq}-${Date.now().toString(36)}`;
      const row = newRow({ requiredApprovals: 1, hooks: { loadDeployment: load.hook } });
      rows.set(id, row);
      // Update-with-start: the update is in the workflow's very first task, with the start itself.
      const startOp = new WithStartWorkflowOperation(DEPLOYMENT_WORKFLOW, {
        taskQueue: TASK_QUEUE,
        workflowTaskTimeout: WORKFLOW_TASK_TIMEOUT,
        workflowId: workflowIdFor(id),
        args: [inputFor(id, row, {})],
        workflowIdConflictPolicy: 'FAIL',
      });
      const rita = client.workflow.executeUpdateWithStart(approveUpdate, { args: [request('rita')], startWorkflowOperation: startOp });
      // The requester is refused from `initial` alone: the row has not been read yet.
      expect(await outcome(rita)).toBe(REFUSAL.forbidden);
      const handle = await startOp.workflowHandle();
      const d = { id, row, handle };
      await load.reached;
      const alice = await acceptedApproval({ handle }, 'alice');
      expect(row.calls.recordDecision).toBeUndefined(); // waits for the plan
      load.open();
      expect(await alice.result()).toBe('QUEUED');
      expect(await handle.result()).toBe('SUCCEEDED');
      expect(d.row.events).toEqual(['APPROVED alice', ...STEPS_THEN_SUCCESS]);
    }, 60_000);

    it('without initial facts (a workflow started by older code), refuses decisions until the plan is loaded', async () => {
      const load = gate();
      const d = await start({ requiredApprovals: 1, initial: false, hooks: { loadDeployment: load.hook } });
      await load.reached;
      expect(await outcome(approve(d, 'alice'))).toBe(REFUSAL.precondition);
      load.open();
      await eventually('the plan', d, () => d.row.calls.loadDeployment === 1);
      await until('alice to be taken', async () => (await outcome(approve(d, 'alice'))) === 'answered QUEUED', {
        timeoutMs: 30_000,
        intervalMs: 50,
      });
      expect(await d.handle.result()).toBe('SUCCEEDED');
    }, 60_000);

    it('ends CANCELLED when loadDeployment fails (the creating transaction never committed), answering the updates that waited', async () => {
      const load = gate();
      const d = await start({ requiredApprovals: 1, missing: true, hooks: { loadDeployment: load.hook } });
      await load.reached;
      const alice = await acceptedApproval(d, 'alice');
      const c = await acceptedCancel(d, 'carol');
      load.open();
      expect(await outcome(alice.result())).toBe(REFUSAL.precondition);
      expect(await c.result()).toBe('CANCELLED');
      expect(await d.handle.result()).toBe('CANCELLED');
      expect(d.row.events).toEqual([]); // nothing is written for a deployment that does not exist
      expect(d.row.calls.recordDecision).toBeUndefined();
    }, 60_000);
  });

  describe('the wait timer', () => {
    it('waits, then runs', async () => {
      const d = await start({ requiredApprovals: 1, waitTimerSeconds: 1 });
      expect(await outcome(approve(d, 'alice'))).toBe('answered QUEUED');
      expect(await d.handle.result()).toBe('SUCCEEDED');
      expect(d.row.events).toEqual(['APPROVED alice', 'WAITING', ...STEPS_THEN_SUCCESS]);
    }, 60_000);
  });
});
