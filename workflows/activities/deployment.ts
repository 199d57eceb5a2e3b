// The activities of a deployment: every read and write the workflow needs. Each transition runs
// in one transaction that updates the deployment and appends its event, keyed so that a retried
// activity never records anything twice.
import { createHmac } from 'node:crypto';
import { encodeGlobalID } from '@pothos/plugin-relay';
import { ApplicationFailure, Context } from '@temporalio/activity';
import { and, count, eq, inArray, isNotNull, isNull, lt, ne, or, sql } from 'drizzle-orm';
import type { Logger } from 'pino';
import { recordAudit } from '../../db/audit.ts';
import type { Database, Transaction } from '../../db/client.ts';
import { isDataException, sqlStateOf } from '../../db/errors.ts';
import { loadProjectConfiguration, policyReportFor, snapshotContent } from '../../db/configuration.ts';
import { appendDeploymentEvent } from '../../db/event-log.ts';
import { approvals, deploymentEvents, deployments, environments, projects, releases, type DeploymentRow } from '../../db/schema/index.ts';
import { failedErrorChecks } from '../../domain/policy.ts';
import { callbackTokenFor } from '../../domain/callback-token.ts';
import { buildSnapshot, sameConfiguration } from '../../domain/snapshot.ts';
import type { DeploymentStatus, DeploymentStep } from '../../domain/types.ts';
import { REFUSAL } from '../definitions.ts';
import { IllegalTransition, isTerminal, SIMULATED_STEPS, SIMULATED_TICKS, transition, type Happening } from '../../domain/deployment-state.ts';

export interface ActivityDeps {
  db: Database;
  log: Logger;
  /** HMAC key of webhook payloads (WEBHOOK_SECRET). */
  webhookSecret: string | undefined;
  /** Derives each deployment's callback token. */
  callbackKey: Uint8Array;
  /** Where receivers call back (the API's public URL). */
  publicUrl: string;
  webhookTimeoutSeconds?: number;
  fetch?: typeof fetch;
}

export interface DeploymentPlan {
  status: DeploymentStatus;
  requestedBy: string;
  requiredApprovals: number;
  approvals: number;
  decidedBy: string[];
  preventSelfApproval: boolean;
  approvalTimeoutSeconds: number;
  waitTimerSeconds: number;
  provider: 'SIMULATED' | 'WEBHOOK';
  stepCount: number;
  webhookTimeoutSeconds: number;
}

/**
 * Each activity, failing non-retryably (type BAD_USER_INPUT, which the API maps to that code) when
 * the database refuses a value as a data exception: retrying the same write cannot succeed, and a
 * Workflow Update waiting on it (approve, reject) would never answer. The message names the
 * SQLSTATE only: the driver's may quote the value.
 */
function failDataExceptions<A extends Record<string, (...args: never[]) => Promise<unknown>>>(activities: A): A {
  const wrapped: Record<string, unknown> = {};
  for (const [name, fn] of Object.entries(activities)) {
    wrapped[name] = async (...args: never[]) => {
      try {
        return await fn(...args);
      } catch (error) {
        if (!isDataException(error)) throw error;
        throw ApplicationFailure.nonRetryable(`The database refused a value as invalid (SQLSTATE ${sqlStateOf(error)})`, REFUSAL.badInput);
      }
    };
  }
  return wrapped as A;
}

export function createDeploymentActivities(deps: ActivityDeps) {
  return failDataExceptions(deploymentActivities(deps));
}

function deploymentActivities(deps: ActivityDeps) {
  const { db, log } = deps;
  const doFetch = deps.fetch ?? fetch;

  async function lockDeployment(tx: Transaction, id: string): Promise<DeploymentRow> {
    const [d] = await tx.select().from(deployments).where(eq(deployments.id, id)).for('update');
    if (!d) throw ApplicationFailure.nonRetryable(`deployment ${id} does not exist`, 'NotFound');
    return d;
  }

  async function alreadyRecorded(tx: Transaction, id: string, key: string) {
    const [e] = await tx
      .select({ seq: deploymentEvents.seq })
      .from(deploymentEvents)
      .where(and(eq(deploymentEvents.deploymentId, id), eq(deploymentEvents.idempotencyKey, key)));
    return e !== undefined;
  }

  interface Record {
    key: string;
    message?: string | null;
    step?: string | null;
    progress?: number | null;
    set?: (d: DeploymentRow) => Partial<typeof deployments.$inferInsert>;
  }

  /** Applies one transition in `tx`: status, extra columns and the event, once per key. */
  async function applyIn(tx: Transaction, d: DeploymentRow, happening: Happening, r: Record): Promise<DeploymentRow> {
    if (await alreadyRecorded(tx, d.id, r.key)) return d;
    let t;
    try {
      t = transition(d.status, happening);
    } catch (error) {
      if (error instanceof IllegalTransition) throw ApplicationFailure.nonRetryable(error.message, 'IllegalTransition');
      throw error;
    }
    const extra = r.set?.(d) ?? {};
    const [updated] = await tx
      .update(deployments)
      .set({ status: t.status, ...extra })
      .where(eq(deployments.id, d.id))
      .returning();
    await appendDeploymentEvent(tx, d.id, {
      type: t.event,
      status: t.status,
      step: r.step ?? null,
      progress: r.progress ?? null,
      message: r.message ?? null,
      idempotencyKey: r.key,
    });
    return updated!;
  }

  const apply = (id: string, happening: Happening, r: Record) =>
    db.transaction(async (tx) => applyIn(tx, await lockDeployment(tx, id), happening, r));

  async function countApprovals(tx: Transaction, id: string) {
    const [row] = await tx
      .select({ n: count() })
      .from(approvals)
      .where(and(eq(approvals.deploymentId, id), isNull(approvals.invalidatedAt), eq(approvals.decision, 'APPROVE')));
    return Number(row?.n ?? 0);
  }

  return {
    async loadDeployment(id: string): Promise<DeploymentPlan> {
      const [row] = await db
        .select({ d: deployments, env: environments })
        .from(deployments)
        .innerJoin(environments, eq(environments.id, deployments.environmentId))
        .where(eq(deployments.id, id));
      // Retried (see the workflow): the creating transaction may not have committed yet.
      if (!row) throw ApplicationFailure.retryable(`deployment ${id} is not in the database (yet)`, 'NotYetCommitted');
      const decided = await db
        .select({ approver: approvals.approver, decision: approvals.decision })
        .from(approvals)
        .where(and(eq(approvals.deploymentId, id), isNull(approvals.invalidatedAt)));
      return {
        status: row.d.status,
        requestedBy: row.d.requestedBy,
        requiredApprovals: row.d.requiredApprovals,
        approvals: decided.filter((a) => a.decision === 'APPROVE').length,
        decidedBy: decided.map((a) => a.approver),
        preventSelfApproval: row.env.policy.preventSelfApproval,
        approvalTimeoutSeconds: row.env.policy.approvalTimeoutSeconds,
        waitTimerSeconds: row.env.policy.waitTimerSeconds,
        provider: row.env.deployTarget.provider,
        stepCount: SIMULATED_STEPS.length,
        webhookTimeoutSeconds: deps.webhookTimeoutSeconds ?? 900,
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
          (await tx
            .insert(approvals)
            .values({ deploymentId: id, approver: input.subject, decision: input.decision, comment: input.comment })
            .returning())[0]!;
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
        if (sameConfiguration(d.snapshot, current)) return { status: d.status, invalidated: false };
        const voided = await tx
          .update(approvals)
          .set({ invalidatedAt: new Date() })
          .where(and(eq(approvals.deploymentId, id), isNull(approvals.invalidatedAt)))
          .returning({ id: approvals.id });
        const snapshot = buildSnapshot(current, new Date());
        const updated = await applyIn(tx, d, { kind: 'invalidate-approvals' }, {
          key: `repin:${snapshot.digest}`,
          message: `The configuration of the target changed (settings v${current.settingsVersion}); ${voided.length} approval(s) voided, approval starts over`,
          set: () => ({ snapshot }),
        });
        return { status: updated.status, invalidated: true };
      });
    },

    async expire(id: string) {
      const d = await apply(id, { kind: 'expire' }, {
        key: 'expired',
        message: 'Not enough approvals before the approval timeout',
        set: () => ({ finishedAt: new Date(), error: 'Approval timed out' }),
      });
      return { status: d.status };
    },

    async startWaitTimer(id: string) {
      const d = await apply(id, { kind: 'wait' }, { key: 'wait-timer', message: 'Wait timer started' });
      return { status: d.status };
    },

    /**
     * Joins the environment's queue and long-polls for the lease: one RUNNING deployment per
     * environment, first come (created) first served. The policy gate runs again right here,
     * in the same transaction that makes the deployment RUNNING.
     *
     * Why a lease in the database rather than a per-environment queue workflow: the order and the
     * "one RUNNING" rule are facts about rows we already lock (the environment row serialises the
     * decision, and a partial unique index makes two RUNNING rows impossible), so no second source
     * of truth has to be kept in step with the event log; a cancelled or failed deployment leaves
     * the queue just by reaching a terminal status, with no signal to lose; and each workflow stays
     * independent, so one environment's stuck queue cannot block another's. The long poll (with
     * heartbeats) keeps workflow histories short: one activity per minute of waiting.
     */
    async acquireLease(id: string): Promise<{ outcome: 'started' | 'blocked' | 'waiting'; status: DeploymentStatus }> {
      const ctx = Context.current();
      const deadline = Date.now() + 60_000;
      await db.update(deployments).set({ queuedAt: sql`coalesce(${deployments.queuedAt}, now())` }).where(eq(deployments.id, id));
      for (;;) {
        const result = await db.transaction(async (tx) => {
          const d = await lockDeployment(tx, id);
          if (isTerminal(d.status)) return { outcome: 'blocked' as const, status: d.status };
          if (d.status === 'RUNNING') return { outcome: 'started' as const, status: d.status };
          // The environment row lock serialises lease decisions of one environment.
          const [env] = await tx.select().from(environments).where(eq(environments.id, d.environmentId)).for('update');
          const report = policyReportFor(await loadProjectConfiguration(tx, d.projectId), d.environmentId);
          const failed = failedErrorChecks(report);
          if (failed.length > 0) {
            const message = `Blocked by failed policy checks: ${failed.join(', ')}`;
            const f = await applyIn(tx, d, { kind: 'fail' }, { key: 'finish', message, set: () => ({ finishedAt: new Date(), error: message }) });
            return { outcome: 'blocked' as const, status: f.status };
          }
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
          if (env!.frozen || ahead) {
            if (d.status !== 'WAITING') {
              await applyIn(tx, d, { kind: 'wait' }, {
                key: `queue-wait:${d.lastSeq}`,
                message: env!.frozen ? 'The environment is frozen' : 'Queued behind another deployment of the environment',
              });
            }
            return null;
          }
          const steps: DeploymentStep[] =
            env!.deployTarget.provider === 'SIMULATED'
              ? SIMULATED_STEPS.map((name) => ({ name, status: 'PENDING', progress: 0, startedAt: null, finishedAt: null }))
              : [];
          const started = await applyIn(tx, d, { kind: 'start' }, { key: 'started', set: () => ({ startedAt: new Date(), steps }) });
          return { outcome: 'started' as const, status: started.status };
        });
        if (result) return result;
        ctx.heartbeat();
        if (Date.now() > deadline) return { outcome: 'waiting', status: 'WAITING' };
        await ctx.sleep(500); // throws when the deployment is cancelled
      }
    },

    /** One SIMULATED step; resumes from its last heartbeat after a worker restart. */
    async runSimulatedStep(id: string, index: number): Promise<void> {
      const ctx = Context.current();
      const name = SIMULATED_STEPS[index]!;
      const [row] = await db
        .select({ target: environments.deployTarget })
        .from(deployments)
        .innerJoin(environments, eq(environments.id, deployments.environmentId))
        .where(eq(deployments.id, id));
      const tickMs = ((row?.target.stepSeconds ?? 1) * 1000) / SIMULATED_TICKS;
      const resumeFrom = (ctx.info.heartbeatDetails as { tick?: number } | undefined)?.tick ?? 0;
      const total = SIMULATED_STEPS.length;
      const setStep = (patch: Partial<DeploymentStep>, overall?: number) => (d: DeploymentRow) => ({
        steps: d.steps.map((s, i) => (i === index ? { ...s, ...patch } : s)),
        ...(overall !== undefined ? { progress: overall } : {}),
      });
      await apply(id, { kind: 'step-started' }, {
        key: `step:${index}:started`,
        step: name,
        progress: 0,
        set: setStep({ status: 'RUNNING', startedAt: new Date().toISOString() }),
      });
      for (let tick = resumeFrom + 1; tick <= SIMULATED_TICKS; tick++) {
        if (tickMs > 0) await ctx.sleep(tickMs);
        const stepProgress = tick / SIMULATED_TICKS;
        await apply(id, { kind: 'step-progress' }, {
          key: `step:${index}:progress:${tick}`,
          step: name,
          progress: stepProgress,
          set: setStep({ progress: stepProgress }, Math.min(1, (index + stepProgress) / total)),
        });
        ctx.heartbeat({ tick });
      }
      await apply(id, { kind: 'step-succeeded' }, {
        key: `step:${index}:succeeded`,
        step: name,
        progress: 1,
        set: setStep({ status: 'SUCCEEDED', progress: 1, finishedAt: new Date().toISOString() }, (index + 1) / total),
      });
    },

    /** POSTs the signed payload once per deployment (Idempotency-Key), retried with backoff. */
    async sendWebhook(id: string): Promise<void> {
      const ctx = Context.current();
      const [row] = await db
        .select({ d: deployments, env: environments, project: projects, release: releases })
        .from(deployments)
        .innerJoin(environments, eq(environments.id, deployments.environmentId))
        .innerJoin(projects, eq(projects.id, deployments.projectId))
        .innerJoin(releases, eq(releases.id, deployments.releaseId))
        .where(eq(deployments.id, id));
      if (!row) throw ApplicationFailure.nonRetryable(`deployment ${id} does not exist`, 'NotFound');
      // Delivered already (the worker died before Temporal heard this activity completed): do not
      // call again. Between the receiver's answer and this record a crash can still repeat the
      // call; the Idempotency-Key lets the receiver drop that duplicate.
      const delivered = await db.transaction((tx) => alreadyRecorded(tx, id, 'webhook:delivered'));
      if (delivered) return;
      const url = row.env.deployTarget.url;
      if (!url) throw ApplicationFailure.nonRetryable('The WEBHOOK deploy target has no url', 'Misconfigured');
      if (!deps.webhookSecret) throw ApplicationFailure.nonRetryable('WEBHOOK_SECRET is not set, so the payload cannot be signed', 'Misconfigured');
      const body = JSON.stringify({
        deploymentId: encodeGlobalID('Deployment', id),
        project: row.project.slug,
        environment: row.env.slug,
        release: { version: row.release.version, commitSha: row.release.commitSha, branch: row.release.branch },
        callbackUrl: `${deps.publicUrl}/graphql`,
        callbackToken: callbackTokenFor(deps.callbackKey, id),
      });
      const signature = createHmac('sha256', deps.webhookSecret).update(body).digest('hex');
      const heartbeat = setInterval(() => ctx.heartbeat(), 2000);
      let response: Response;
      try {
        response = await doFetch(url, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'user-agent': 'Stageplane',
            'x-stageplane-signature': `sha256=${signature}`,
            'idempotency-key': encodeGlobalID('Deployment', id),
          },
          body,
          signal: AbortSignal.any([ctx.cancellationSignal, AbortSignal.timeout(10_000)]),
        });
        await response.arrayBuffer().catch(() => undefined);
      } catch (error) {
        log.warn({ deploymentId: id, err: (error as Error).message }, 'webhook delivery failed; retrying');
        throw ApplicationFailure.retryable(`Webhook delivery failed: ${(error as Error).message}`, 'WebhookUnreachable');
      } finally {
        clearInterval(heartbeat);
      }
      if (response.status >= 400 && response.status < 500 && response.status !== 408 && response.status !== 429) {
        throw ApplicationFailure.nonRetryable(`The deploy target refused the webhook (HTTP ${response.status})`, 'WebhookRefused');
      }
      if (!response.ok) throw ApplicationFailure.retryable(`The deploy target answered HTTP ${response.status}`, 'WebhookError');
      await apply(id, { kind: 'log' }, { key: 'webhook:delivered', message: `Webhook delivered to the deploy target (HTTP ${response.status})` });
    },

    async finish(id: string, input: { outcome: 'SUCCEEDED' | 'FAILED' | 'CANCELLED'; actor: string | null; message: string | null }) {
      return db.transaction(async (tx) => {
        const d = await lockDeployment(tx, id);
        if (isTerminal(d.status)) return { status: d.status };
        const kind = input.outcome === 'SUCCEEDED' ? 'succeed' : input.outcome === 'FAILED' ? 'fail' : 'cancel';
        const closeSteps = (steps: DeploymentStep[]) =>
          steps.map((s) =>
            s.status === 'RUNNING' || s.status === 'PENDING'
              ? { ...s, status: (input.outcome === 'FAILED' && s.status === 'RUNNING' ? 'FAILED' : 'SKIPPED') as DeploymentStep['status'], finishedAt: new Date().toISOString() }
              : s,
          );
        const message =
          input.outcome === 'CANCELLED' ? `Cancelled${input.actor ? ` by ${input.actor}` : ''}` : input.message;
        const updated = await applyIn(tx, d, { kind }, {
          key: 'finish',
          message,
          set: (row) => ({
            finishedAt: new Date(),
            steps: closeSteps(row.steps),
            ...(input.outcome === 'SUCCEEDED' ? { progress: 1 } : {}),
            ...(input.outcome === 'FAILED' ? { error: input.message ?? 'Failed' } : {}),
            ...(input.outcome === 'CANCELLED' ? { error: message } : {}),
          }),
        });
        if (input.outcome === 'CANCELLED' && input.actor) {
          await recordAudit(tx, input.actor, { projectId: d.projectId, action: 'deployment.cancel', targetId: id, detail: { from: d.status } });
        }
        return { status: updated.status };
      });
    },
  };
}

export type DeploymentActivities = ReturnType<typeof createDeploymentActivities>;
