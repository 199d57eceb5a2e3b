// What a deployment's workflow records as it runs: every transition of the state machine
// (domain/deployment-state.ts) in one transaction that updates the deployment and appends its
// event, keyed so that a retried activity never records anything twice. The activities
// (workflows/activities/deployment.ts) call these and keep only what is Temporal's: heartbeats,
// sleeping, retries and the HTTP call to a deploy target.
import { and, count, eq, inArray, isNotNull, isNull, like, lt, ne, or, sql } from 'drizzle-orm';
import { recordAudit } from '../db/audit.ts';
import type { Database, Transaction } from '../db/client.ts';
import { loadProjectConfiguration, policyReportFor, snapshotContent } from '../db/configuration.ts';
import { appendDeploymentEvents, appendTransition, type NewDeploymentEvent } from '../db/event-log.ts';
import {
  approvals,
  deploymentEvents,
  deployments,
  type EnvironmentRow,
  environments,
  freezeOverrides,
  projects,
  releaseQuarantines,
  releases,
  type DeploymentRow,
} from '../db/schema/index.ts';
import { publicId } from '../domain/ids.ts';
import {
  AUTO_ROLLBACK_REQUESTER,
  afterProbe,
  pinnedVerification,
  type ProbeResult,
  type VerificationVerdict,
} from '../domain/verification.ts';
import { createDeployment } from './deployments.ts';
import { lockEnvironment } from './environments.ts';
import type { ServiceDeps } from './scope.ts';
import { isTerminal, SIMULATED_STEPS, SIMULATED_TICKS, transition, type Happening } from '../domain/deployment-state.ts';
import { failedErrorChecks } from '../domain/policy.ts';
import { buildSnapshot, sameConfiguration } from '../domain/snapshot.ts';
import type { DeploymentStatus, DeploymentStep, VerificationRecord } from '../domain/types.ts';
import { freezeHolding } from './freeze-windows.ts';

/** The deployment row is gone (or never committed): nothing to retry. */
export class DeploymentMissing extends Error {
  constructor(
    readonly deploymentId: string,
    readonly maybeNotYetCommitted = false,
  ) {
    super(maybeNotYetCommitted ? `deployment ${deploymentId} is not in the database (yet)` : `deployment ${deploymentId} does not exist`);
  }
}

export interface DeploymentPlan {
  status: DeploymentStatus;
  requestedBy: string;
  requiredApprovals: number;
  decidedBy: string[];
  preventSelfApproval: boolean;
  approvalTimeoutSeconds: number;
  waitTimerSeconds: number;
  provider: 'SIMULATED' | 'WEBHOOK';
  stepCount: number;
}

/** `verify` (v2): the deployment pinned a verification when it started. Absent in histories recorded before. */
export type LeaseAttempt =
  | { outcome: 'started' | 'blocked'; status: DeploymentStatus; verify?: boolean }
  /** Held by a freeze window (v2) until `until` (ISO): the workflow sleeps that long, then asks again. */
  | { outcome: 'frozen'; status: DeploymentStatus; until: string; window: string }
  | null;

export type { VerificationVerdict };

const verdictOf = (v: VerificationRecord, message: string | null): VerificationVerdict => ({
  passed: v.status !== 'FAILED',
  message,
  autoRollback: v.autoRollback,
});

/** What a WEBHOOK deploy target is sent about a deployment. */
export interface WebhookDelivery {
  url: string | null;
  deploymentId: string;
  project: string;
  environment: string;
  release: { version: string; commitSha: string; branch: string };
  /** A 2xx was recorded for this deployment already: do not call again. */
  delivered: boolean;
}

interface Record {
  key: string;
  message?: string | null;
  step?: string | null;
  progress?: number | null;
  set?: (d: DeploymentRow) => Partial<typeof deployments.$inferInsert>;
}

type StepHappening = { kind: 'started' } | { kind: 'progress'; tick: number } | { kind: 'succeeded' };

/** One event of SIMULATED step `index`: what happens, its key, and what it changes on the row. */
function stepEvent(index: number, what: StepHappening): { happening: Happening; record: Record & { step: string; progress: number } } {
  const name = SIMULATED_STEPS[index]!;
  const total = SIMULATED_STEPS.length;
  const setStep = (patch: Partial<DeploymentStep>, overall?: number) => (d: DeploymentRow) => ({
    steps: d.steps.map((s, i) => (i === index ? { ...s, ...patch } : s)),
    ...(overall !== undefined ? { progress: overall } : {}),
  });
  if (what.kind === 'started') {
    return {
      happening: { kind: 'step-started' },
      record: {
        key: `step:${index}:started`,
        step: name,
        progress: 0,
        set: setStep({ status: 'RUNNING', startedAt: new Date().toISOString() }),
      },
    };
  }
  if (what.kind === 'progress') {
    const stepProgress = what.tick / SIMULATED_TICKS;
    return {
      happening: { kind: 'step-progress' },
      record: {
        key: `step:${index}:progress:${what.tick}`,
        step: name,
        progress: stepProgress,
        set: setStep({ progress: stepProgress }, Math.min(1, (index + stepProgress) / total)),
      },
    };
  }
  return {
    happening: { kind: 'step-succeeded' },
    record: {
      key: `step:${index}:succeeded`,
      step: name,
      progress: 1,
      set: setStep({ status: 'SUCCEEDED', progress: 1, finishedAt: new Date().toISOString() }, (index + 1) / total),
    },
  };
}

export function deploymentRuns(db: Database) {
  async function lockDeployment(tx: Transaction, id: string): Promise<DeploymentRow> {
    const [d] = await tx.select().from(deployments).where(eq(deployments.id, id)).for('update');
    if (!d) throw new DeploymentMissing(id);
    return d;
  }

  async function alreadyRecorded(tx: Transaction, id: string, key: string) {
    const [e] = await tx
      .select({ seq: deploymentEvents.seq })
      .from(deploymentEvents)
      .where(and(eq(deploymentEvents.deploymentId, id), eq(deploymentEvents.idempotencyKey, key)));
    return e !== undefined;
  }

  /**
   * lockDeployment and whether the transition keyed `key` was recorded, in one statement. Its
   * subqueries read the statement's snapshot, taken before any wait for the row lock, while the
   * locked row is its newest version (READ COMMITTED): an event appended by a transaction that
   * committed during the wait is missing from that snapshot, and then last_seq is past the last
   * seq it saw, so the key is read again in a statement of its own (a new snapshot).
   */
  async function lockForTransition(tx: Transaction, id: string, key: string): Promise<{ d: DeploymentRow; recorded: boolean }> {
    const e = deploymentEvents;
    const [row] = await tx
      .select({
        d: deployments,
        recorded: sql<boolean>`exists (select 1 from ${e} where ${e.deploymentId} = ${deployments.id} and ${e.idempotencyKey} = ${key})`,
        seen: sql<number>`(select coalesce(max(${e.seq}), 0) from ${e} where ${e.deploymentId} = ${deployments.id})`.mapWith(Number),
      })
      .from(deployments)
      .where(eq(deployments.id, id))
      .for('update');
    if (!row) throw new DeploymentMissing(id);
    return { d: row.d, recorded: row.seen === row.d.lastSeq ? row.recorded : await alreadyRecorded(tx, id, key) };
  }

  /**
   * Applies one transition in `tx`: status, extra columns and the event, once per key. IllegalTransition when the state machine refuses it.
   * `recorded`: what lockForTransition answered for this key; otherwise it is read here.
   */
  async function applyIn(tx: Transaction, d: DeploymentRow, happening: Happening, r: Record, recorded?: boolean): Promise<DeploymentRow> {
    if (recorded ?? (await alreadyRecorded(tx, d.id, r.key))) return d;
    const t = transition(d.status, happening);
    const extra = r.set?.(d) ?? {};
    const { deployment } = await appendTransition(
      tx,
      d.id,
      { status: t.status, ...extra },
      {
        type: t.event,
        status: t.status,
        step: r.step ?? null,
        progress: r.progress ?? null,
        message: r.message ?? null,
        idempotencyKey: r.key,
      },
    );
    return deployment;
  }

  const apply = (id: string, happening: Happening, r: Record) =>
    db.transaction(async (tx) => {
      const { d, recorded } = await lockForTransition(tx, id, r.key);
      return applyIn(tx, d, happening, r, recorded);
    });

  async function countApprovals(tx: Transaction, id: string) {
    const [row] = await tx
      .select({ n: count() })
      .from(approvals)
      .where(and(eq(approvals.deploymentId, id), isNull(approvals.invalidatedAt), eq(approvals.decision, 'APPROVE')));
    return Number(row?.n ?? 0);
  }

  /**
   * Freeze windows (v2), in the transaction that would start the deployment, under the
   * environment's lock (createFreezeWindow takes it too): a window in force records FROZEN_WAIT
   * once per occurrence, with the window and its end. A workflow that can sleep (holdForFreeze,
   * patched 'freeze-windows') is told until when; an older one keeps polling, as for `frozen`.
   */
  async function holdForFreeze(tx: Transaction, d: DeploymentRow, env: EnvironmentRow, options: { holdForFreeze?: boolean }) {
    const freeze = await freezeHolding(tx, env, d);
    if (!freeze) return undefined;
    const until = freeze.occurrence.endsAt.toISOString();
    const w = await applyIn(
      tx,
      d,
      { kind: 'freeze-wait' },
      {
        key: `frozen:${freeze.window.id}:${freeze.occurrence.startsAt.toISOString()}`,
        message: `Held by the freeze window "${freeze.window.name}" (${freeze.window.reason}) until ${until}`,
      },
    );
    return options.holdForFreeze ? { outcome: 'frozen' as const, status: w.status, until, window: freeze.window.name } : null;
  }

  return {
    /** What the workflow decides from; DeploymentMissing(maybeNotYetCommitted) while the creating transaction has not committed. */
    async plan(id: string): Promise<DeploymentPlan> {
      // One statement: the row, its environment, the standing approvals and any break-glass override.
      const [row] = await db
        .select({
          d: deployments,
          env: environments,
          decided:
            sql`(select coalesce(json_agg(${approvals.approver}), '[]') from ${approvals} where ${and(eq(approvals.deploymentId, id), isNull(approvals.invalidatedAt))})`.mapWith(
              (v: unknown) => (typeof v === 'string' ? JSON.parse(v) : v) as string[],
            ),
          overridden: sql<boolean>`exists (select 1 from ${freezeOverrides} where ${eq(freezeOverrides.deploymentId, id)})`,
        })
        .from(deployments)
        .innerJoin(environments, eq(environments.id, deployments.environmentId))
        .where(eq(deployments.id, id));
      if (!row) throw new DeploymentMissing(id, true);
      return {
        status: row.d.status,
        requestedBy: row.d.requestedBy,
        requiredApprovals: row.d.requiredApprovals,
        decidedBy: row.decided,
        // A break-glass deployment is never approved by its requester.
        preventSelfApproval: row.env.policy.preventSelfApproval || row.overridden,
        approvalTimeoutSeconds: row.env.policy.approvalTimeoutSeconds,
        waitTimerSeconds: row.env.policy.waitTimerSeconds,
        provider: row.env.deployTarget.provider,
        stepCount: SIMULATED_STEPS.length,
      };
    },

    async requestApproval(id: string) {
      const d = await apply(id, { kind: 'request-approval' }, { key: 'approval-requested' });
      return { status: d.status };
    },

    async recordDecision(
      id: string,
      input: { subject: string; comment: string | null; decision: 'APPROVE' | 'REJECT'; required: number },
    ): Promise<{ status: DeploymentStatus; approvals: number }> {
      return db.transaction(async (tx) => {
        const d = await lockDeployment(tx, id);
        const [existing] = await tx
          .select()
          .from(approvals)
          .where(and(eq(approvals.deploymentId, id), eq(approvals.approver, input.subject), isNull(approvals.invalidatedAt)));
        const decision =
          existing ??
          (
            await tx
              .insert(approvals)
              .values({ deploymentId: id, approver: input.subject, decision: input.decision, comment: input.comment })
              .returning()
          )[0]!;
        const n = await countApprovals(tx, id);
        const happening: Happening =
          decision.decision === 'REJECT' ? { kind: 'reject' } : { kind: 'approve', approvalsAfter: n, required: input.required };
        const verb = decision.decision === 'REJECT' ? 'rejected' : `approved (${n}/${input.required})`;
        const key = `decision:${decision.id}`;
        const fresh = !(await alreadyRecorded(tx, id, key));
        const updated = await applyIn(tx, d, happening, {
          key,
          message: `${input.subject} ${verb}${input.comment ? `: ${input.comment}` : ''}`,
          set: () => (happening.kind === 'reject' ? { finishedAt: new Date(), error: `Rejected by ${input.subject}` } : {}),
        });
        if (fresh) {
          await recordAudit(tx, input.subject, {
            projectId: d.projectId,
            action: decision.decision === 'REJECT' ? 'deployment.reject' : 'deployment.approve',
            targetId: id,
            detail: { comment: input.comment, approvals: n, required: input.required },
          });
        }
        return { status: updated.status, approvals: n };
      });
    },

    /** Re-pins the snapshot if the target's configuration changed; voids approvals then. */
    async repinSnapshot(id: string): Promise<{ status: DeploymentStatus; invalidated: boolean }> {
      return db.transaction(async (tx) => {
        const d = await lockDeployment(tx, id);
        if (d.status !== 'PENDING_APPROVAL' && d.status !== 'QUEUED') return { status: d.status, invalidated: false };
        const current = snapshotContent(await loadProjectConfiguration(tx, d.projectId), d.environmentId);
        if (sameConfiguration(d.snapshot, current)) {
          // Asked again right after this re-pin's own invalidation committed (a retried activity
          // whose answer was lost, or a local activity run again after a worker died): the same
          // answer, so the workflow forgets the voided approvals too. Nothing can come between
          // the two: decisions wait for the workflow's lock, which a re-pin holds.
          const [last] = await tx
            .select({ key: deploymentEvents.idempotencyKey })
            .from(deploymentEvents)
            .where(and(eq(deploymentEvents.deploymentId, id), eq(deploymentEvents.seq, d.lastSeq)));
          return { status: d.status, invalidated: d.status === 'PENDING_APPROVAL' && last?.key === `repin:${d.snapshot.digest}` };
        }
        const voided = await tx
          .update(approvals)
          .set({ invalidatedAt: new Date() })
          .where(and(eq(approvals.deploymentId, id), isNull(approvals.invalidatedAt)))
          .returning({ id: approvals.id });
        const snapshot = buildSnapshot(current, new Date());
        const updated = await applyIn(
          tx,
          d,
          { kind: 'invalidate-approvals' },
          {
            key: `repin:${snapshot.digest}`,
            message: `The configuration of the target changed (settings v${current.settingsVersion}); ${voided.length} approval(s) voided, approval starts over`,
            set: () => ({ snapshot }),
          },
        );
        return { status: updated.status, invalidated: true };
      });
    },

    async expire(id: string) {
      const d = await apply(
        id,
        { kind: 'expire' },
        {
          key: 'expired',
          message: 'Not enough approvals before the approval timeout',
          set: () => ({ finishedAt: new Date(), error: 'Approval timed out' }),
        },
      );
      return { status: d.status };
    },

    async startWaitTimer(id: string) {
      const d = await apply(id, { kind: 'wait' }, { key: 'wait-timer', message: 'Wait timer started' });
      return { status: d.status };
    },

    /** Joins the environment's queue: the first time the deployment asks for the lease. */
    async joinQueue(id: string): Promise<void> {
      await db
        .update(deployments)
        .set({ queuedAt: sql`coalesce(${deployments.queuedAt}, now())` })
        .where(eq(deployments.id, id));
    },

    /**
     * One attempt at the environment's lease: one RUNNING deployment per environment, first come
     * (created) first served. The policy gate runs again right here, in the same transaction that
     * makes the deployment RUNNING. Null: still waiting (behind another deployment, or frozen).
     *
     * Why a lease in the database rather than a per-environment queue workflow: the order and the
     * "one RUNNING" rule are facts about rows we already lock (the environment row serialises the
     * decision, and a partial unique index makes two RUNNING rows impossible), so no second source
     * of truth has to be kept in step with the event log; a cancelled or failed deployment leaves
     * the queue just by reaching a terminal status, with no signal to lose; and each workflow stays
     * independent, so one environment's stuck queue cannot block another's.
     */
    async tryStart(id: string, options: { holdForFreeze?: boolean } = {}): Promise<LeaseAttempt> {
      return db.transaction(async (tx) => {
        const { d, recorded: startRecorded } = await lockForTransition(tx, id, 'started');
        if (isTerminal(d.status)) return { outcome: 'blocked' as const, status: d.status };
        if (d.status === 'RUNNING') return { outcome: 'started' as const, status: d.status, verify: d.verification?.config != null };
        // The environment row lock serialises lease decisions of one environment.
        const [env] = await tx.select().from(environments).where(eq(environments.id, d.environmentId)).for('update');
        const report = policyReportFor(await loadProjectConfiguration(tx, d.projectId), d.environmentId);
        const failed = failedErrorChecks(report);
        if (failed.length > 0) {
          const message = `Blocked by failed policy checks: ${failed.join(', ')}`;
          const f = await applyIn(
            tx,
            d,
            { kind: 'fail' },
            { key: 'finish', message, set: () => ({ finishedAt: new Date(), error: message }) },
          );
          return { outcome: 'blocked' as const, status: f.status };
        }
        const held = await holdForFreeze(tx, d, env!, options);
        if (held !== undefined) return held;
        const [ahead] = await tx
          .select({ id: deployments.id, status: deployments.status })
          .from(deployments)
          .where(
            and(
              eq(deployments.environmentId, d.environmentId),
              ne(deployments.id, id),
              or(
                eq(deployments.status, 'RUNNING'),
                and(
                  isNotNull(deployments.queuedAt),
                  inArray(deployments.status, ['QUEUED', 'WAITING']),
                  or(lt(deployments.createdAt, d.createdAt), and(eq(deployments.createdAt, d.createdAt), lt(deployments.id, id))),
                ),
              ),
            ),
          )
          .limit(1);
        // freeze: auto-rollback bypasses — an automatic rollback (rollbackOfId) runs regardless of freezes (contract v2).
        const frozen = env!.frozen && !d.rollbackOfId;
        if (frozen || ahead) {
          if (d.status !== 'WAITING') {
            await applyIn(
              tx,
              d,
              { kind: 'wait' },
              {
                key: `queue-wait:${d.lastSeq}`,
                message: frozen ? 'The environment is frozen' : 'Queued behind another deployment of the environment',
              },
            );
          }
          return null;
        }
        const steps: DeploymentStep[] =
          env!.deployTarget.provider === 'SIMULATED'
            ? SIMULATED_STEPS.map((name) => ({ name, status: 'PENDING', progress: 0, startedAt: null, finishedAt: null }))
            : [];
        // The verification is pinned again as the deployment starts: what it verifies against is
        // the target's as of this instant, unaffected by later edits (like the snapshot it ships).
        const verification = pinnedVerification(env!.deployTarget.verification, env!.policy.autoRollback);
        const started = await applyIn(
          tx,
          d,
          { kind: 'start' },
          { key: 'started', set: () => ({ startedAt: new Date(), steps, verification }) },
          startRecorded,
        );
        return { outcome: 'started' as const, status: started.status, verify: started.verification?.config != null };
      });
    },

    /** Seconds per SIMULATED step of the deployment's target. */
    async stepSeconds(id: string): Promise<number> {
      const [row] = await db
        .select({ target: environments.deployTarget })
        .from(deployments)
        .innerJoin(environments, eq(environments.id, deployments.environmentId))
        .where(eq(deployments.id, id));
      return row?.target.stepSeconds ?? 1;
    },

    /** A SIMULATED step's events: started, progress tick `tick` of SIMULATED_TICKS, succeeded. Each once. */
    async recordStep(id: string, index: number, what: StepHappening): Promise<void> {
      const { happening, record } = stepEvent(index, what);
      await apply(id, happening, record);
    },

    /**
     * Every SIMULATED step at once when the target's steps take no time (stepSeconds 0): the
     * events recordStep records one transaction each (per step STEP_STARTED, SIMULATED_TICKS ×
     * STEP_PROGRESS, STEP_SUCCEEDED: same keys, order and seqs, so a client reads the same log),
     * in one transaction of a few statements. False, recording nothing, when the steps take
     * time: each then runs as an activity of its own (heartbeats, resumable). Once per key, like
     * every transition: a retry records nothing again.
     */
    async recordInstantSteps(id: string): Promise<boolean> {
      return db.transaction(async (tx) => {
        // The row lock, the target's step length and the step keys recorded, in one statement;
        // the keys are read again after a wait for the lock, as lockForTransition says why.
        const e = deploymentEvents;
        const stepKey = and(eq(e.deploymentId, id), like(e.idempotencyKey, 'step:%'));
        const json = (v: unknown) => (typeof v === 'string' ? JSON.parse(v) : v) as string[];
        const [locked] = await tx
          .select({
            d: deployments,
            target:
              sql`(select ${environments.deployTarget} from ${environments} where ${environments.id} = ${deployments.environmentId})`.mapWith(
                environments.deployTarget,
              ),
            keys: sql`(select coalesce(json_agg(${e.idempotencyKey}), '[]') from ${e} where ${stepKey})`.mapWith(json),
            seen: sql<number>`(select coalesce(max(${e.seq}), 0) from ${e} where ${e.deploymentId} = ${deployments.id})`.mapWith(Number),
          })
          .from(deployments)
          .where(eq(deployments.id, id))
          .for('update');
        if (!locked) throw new DeploymentMissing(id);
        const d = locked.d;
        if ((locked.target?.stepSeconds ?? 1) > 0) return false;
        const recorded = new Set(
          locked.seen === d.lastSeq ? locked.keys : (await tx.select({ key: e.idempotencyKey }).from(e).where(stepKey)).map((r) => r.key),
        );
        let row = d;
        const events: NewDeploymentEvent[] = [];
        for (let index = 0; index < SIMULATED_STEPS.length; index++) {
          const whats: StepHappening[] = [
            { kind: 'started' },
            ...Array.from({ length: SIMULATED_TICKS }, (_, t) => ({ kind: 'progress' as const, tick: t + 1 })),
            { kind: 'succeeded' },
          ];
          for (const what of whats) {
            const { happening, record } = stepEvent(index, what);
            if (recorded.has(record.key)) continue;
            const t = transition(row.status, happening);
            row = { ...row, status: t.status, ...record.set?.(row) };
            events.push({ type: t.event, status: t.status, step: record.step, progress: record.progress, idempotencyKey: record.key });
          }
        }
        if (events.length === 0) return true;
        await appendDeploymentEvents(tx, id, events, {
          set: { status: row.status, steps: row.steps, progress: row.progress },
          keysChecked: true,
        });
        return true;
      });
    },

    /** What a WEBHOOK target is sent, and whether it was delivered already. */
    async webhookDelivery(id: string): Promise<WebhookDelivery> {
      const [row] = await db
        .select({ d: deployments, env: environments, project: projects, release: releases })
        .from(deployments)
        .innerJoin(environments, eq(environments.id, deployments.environmentId))
        .innerJoin(projects, eq(projects.id, deployments.projectId))
        .innerJoin(releases, eq(releases.id, deployments.releaseId))
        .where(eq(deployments.id, id));
      if (!row) throw new DeploymentMissing(id);
      const delivered = await db.transaction((tx) => alreadyRecorded(tx, id, 'webhook:delivered'));
      return {
        url: row.env.deployTarget.url,
        deploymentId: id,
        project: row.project.slug,
        environment: row.env.slug,
        release: { version: row.release.version, commitSha: row.release.commitSha, branch: row.release.branch },
        delivered,
      };
    },

    async recordWebhookDelivered(id: string, httpStatus: number): Promise<void> {
      await apply(
        id,
        { kind: 'log' },
        { key: 'webhook:delivered', message: `Webhook delivered to the deploy target (HTTP ${httpStatus})` },
      );
    },

    // ---- v2: verification and automatic rollback ------------------------------------------------

    /** VERIFICATION_STARTED, once: the record (with its pinned config) the probes go on from. */
    async beginVerification(id: string): Promise<{ record: VerificationRecord; ended: boolean }> {
      return db.transaction(async (tx) => {
        const d = await lockDeployment(tx, id);
        const v = d.verification ?? pinnedVerification(null, false);
        if (isTerminal(d.status) || !v.config || v.status !== 'PENDING') return { record: v, ended: isTerminal(d.status) };
        const c = v.config;
        const record: VerificationRecord = { ...v, status: 'RUNNING', startedAt: new Date().toISOString() };
        await applyIn(
          tx,
          d,
          { kind: 'verification-started' },
          {
            key: 'verification:started',
            message: `Verifying: GET every ${c.intervalSeconds} s, ${c.successThreshold} consecutive HTTP ${c.expectStatus} pass, ${c.failureThreshold} consecutive failures fail, at most ${c.timeoutSeconds} s`,
            set: () => ({ verification: record }),
          },
        );
        return { record, ended: false };
      });
    },

    /**
     * One probe's result, recorded once: `after` is the number of probes the caller had seen, so a
     * probe recorded already (a retried activity) is not counted twice. A verdict records
     * VERIFICATION_PASSED or VERIFICATION_FAILED in the same transaction.
     */
    async recordProbe(
      id: string,
      after: number,
      result: ProbeResult | { timedOut: true },
    ): Promise<{ record: VerificationRecord; ended: boolean; verdict: VerificationVerdict | null }> {
      return db.transaction(async (tx) => {
        const d = await lockDeployment(tx, id);
        const v = d.verification!;
        if (isTerminal(d.status)) return { record: v, ended: true, verdict: null };
        if (v.status === 'PASSED' || v.status === 'FAILED') return { record: v, ended: false, verdict: verdictOf(v, d.error) };
        if (v.probes !== after || !v.config) return { record: v, ended: false, verdict: null };
        const c = v.config;
        let record: VerificationRecord;
        let verdict: 'PASSED' | 'FAILED' | null;
        if ('timedOut' in result) {
          record = v;
          verdict = 'FAILED';
        } else {
          const next = afterProbe(v, c, result);
          verdict = next.verdict;
          record = {
            ...v,
            probes: next.probes,
            successes: next.successes,
            failures: next.failures,
            lastStatusCode: next.lastStatusCode,
            lastError: next.lastError,
          };
        }
        if (!verdict) {
          await tx.update(deployments).set({ verification: record }).where(eq(deployments.id, id));
          return { record, ended: false, verdict: null };
        }
        record = { ...record, status: verdict, finishedAt: new Date().toISOString() };
        const message =
          verdict === 'PASSED'
            ? `Verification passed: ${c.successThreshold} consecutive HTTP ${c.expectStatus} (${record.probes} probes)`
            : 'timedOut' in result
              ? `Verification failed: not passed within ${c.timeoutSeconds} s (${record.probes} probes${record.lastError ? `, last: ${record.lastError}` : ''})`
              : `Verification failed: ${c.failureThreshold} consecutive failures (last: ${record.lastError})`;
        await applyIn(
          tx,
          d,
          { kind: verdict === 'PASSED' ? 'verification-passed' : 'verification-failed' },
          { key: 'verification:verdict', message, set: () => ({ verification: record }) },
        );
        return { record, ended: false, verdict: verdictOf(record, message) };
      });
    },

    /**
     * After a failed verification with policy.autoRollback: in one transaction, the release is
     * quarantined in the environment, auto-deploy is paused, and a ROLLBACK deployment of the last
     * release that succeeded there (passed its verification, or had none), not quarantined, is
     * created and started — no approval, no freeze — with ROLLBACK_STARTED on the failed one.
     * Idempotent: a retried activity finds the rollback made before (one per failed deployment,
     * deployments_rollback_of_unique). An automatic rollback that fails its own verification is
     * quarantined and pauses, but starts no rollback of its own (no cascade through history).
     */
    async startAutoRollback(id: string, services: ServiceDeps): Promise<{ rollbackId: string | null }> {
      return db.transaction(async (tx) => {
        const d = await lockDeployment(tx, id);
        const [existing] = await tx.select({ id: deployments.id }).from(deployments).where(eq(deployments.rollbackOfId, id));
        if (existing) return { rollbackId: existing.id };
        const env = await lockEnvironment(tx, d.environmentId);
        await tx
          .insert(releaseQuarantines)
          .values({ environmentId: env.id, releaseId: d.releaseId, deploymentId: id })
          .onConflictDoNothing();
        await tx.update(environments).set({ autoDeployPaused: true }).where(eq(environments.id, env.id));
        const quarantined = tx
          .select({ releaseId: releaseQuarantines.releaseId })
          .from(releaseQuarantines)
          .where(eq(releaseQuarantines.environmentId, env.id));
        const [target] = d.rollbackOfId
          ? []
          : await tx
              .select({ releaseId: deployments.releaseId, version: releases.version })
              .from(deployments)
              .innerJoin(releases, eq(releases.id, deployments.releaseId))
              .where(
                and(
                  eq(deployments.environmentId, env.id),
                  sql`${deployments.status} = 'SUCCEEDED'`,
                  ne(deployments.releaseId, d.releaseId),
                  sql`${deployments.releaseId} not in (${quarantined})`,
                ),
              )
              .orderBy(sql`${deployments.finishedAt} desc`, sql`${deployments.createdAt} desc`)
              .limit(1);
        const audit = (detail: { [key: string]: unknown }, targetId: string) =>
          recordAudit(tx, AUTO_ROLLBACK_REQUESTER, { projectId: d.projectId, action: 'deployment.auto_rollback', targetId, detail });
        if (!target) {
          const why = d.rollbackOfId ? 'an automatic rollback does not roll back again' : `nothing earlier succeeded in ${env.slug}`;
          await applyIn(
            tx,
            d,
            { kind: 'log' },
            {
              key: 'auto-rollback:none',
              message: `No automatic rollback (${why}); the release is quarantined here and auto-deploy is paused`,
            },
          );
          await audit({ environment: env.slug, rollback: null, reason: why }, id);
          return { rollbackId: null };
        }
        // freeze: auto-rollback bypasses — no freeze check here, and tryStart lets it through too.
        const rollbackId = await createDeployment(services, tx, {
          env,
          config: await loadProjectConfiguration(tx, d.projectId),
          releaseId: target.releaseId,
          kind: 'ROLLBACK',
          requestedBy: AUTO_ROLLBACK_REQUESTER,
          sourceEnvironmentId: null,
          rollbackOfId: id,
        });
        await applyIn(
          tx,
          d,
          { kind: 'rollback-started' },
          {
            key: 'rollback-started',
            message: `Automatic rollback to ${target.version} started: deployment ${publicId('Deployment', rollbackId)}`,
          },
        );
        await audit({ environment: env.slug, failed: publicId('Deployment', id), version: target.version }, rollbackId);
        return { rollbackId };
      });
    },

    async finish(id: string, input: { outcome: 'SUCCEEDED' | 'FAILED' | 'CANCELLED'; actor: string | null; message: string | null }) {
      return db.transaction(async (tx) => {
        const { d, recorded } = await lockForTransition(tx, id, 'finish');
        if (isTerminal(d.status)) return { status: d.status };
        const kind = input.outcome === 'SUCCEEDED' ? 'succeed' : input.outcome === 'FAILED' ? 'fail' : 'cancel';
        const closeSteps = (steps: DeploymentStep[]) =>
          steps.map((s) =>
            s.status === 'RUNNING' || s.status === 'PENDING'
              ? {
                  ...s,
                  status: (input.outcome === 'FAILED' && s.status === 'RUNNING' ? 'FAILED' : 'SKIPPED') as DeploymentStep['status'],
                  finishedAt: new Date().toISOString(),
                }
              : s,
          );
        const message = input.outcome === 'CANCELLED' ? `Cancelled${input.actor ? ` by ${input.actor}` : ''}` : input.message;
        const updated = await applyIn(
          tx,
          d,
          { kind },
          {
            key: 'finish',
            message,
            set: (row) => ({
              finishedAt: new Date(),
              steps: closeSteps(row.steps),
              // A verification that never reached its verdict (cancelled, or the deploy failed first) was skipped.
              ...(row.verification && (row.verification.status === 'PENDING' || row.verification.status === 'RUNNING')
                ? { verification: { ...row.verification, status: 'SKIPPED' as const, finishedAt: new Date().toISOString() } }
                : {}),
              ...(input.outcome === 'SUCCEEDED' ? { progress: 1 } : {}),
              ...(input.outcome === 'FAILED' ? { error: input.message ?? 'Failed' } : {}),
              ...(input.outcome === 'CANCELLED' ? { error: message } : {}),
            }),
          },
          recorded,
        );
        if (input.outcome === 'CANCELLED' && input.actor) {
          await recordAudit(tx, input.actor, {
            projectId: d.projectId,
            action: 'deployment.cancel',
            targetId: id,
            detail: { from: d.status },
          });
        }
        return { status: updated.status };
      });
    },
  };
}
