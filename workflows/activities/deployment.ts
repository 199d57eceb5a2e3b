// The activities of a deployment: what the workflow asks of the outside world. Every read and
// write is a use case of services/deployment-runs.ts; what stays here is Temporal's part —
// heartbeats, sleeping while a step runs or the queue waits, which failures are worth retrying —
// and the HTTP call to a WEBHOOK deploy target.
import { createHmac } from 'node:crypto';
import { context, propagation, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { Logger } from 'pino';
import type { Database } from '../../db/client.ts';
import { isDataException, sqlStateOf } from '../../db/errors.ts';
import { callbackTokenFor } from '../../domain/callback-token.ts';
import { IllegalTransition, SIMULATED_TICKS } from '../../domain/deployment-state.ts';
import { publicId } from '../../domain/ids.ts';
import type { DeploymentStatus } from '../../domain/types.ts';
import {
  DeploymentMissing,
  deploymentRuns,
  type DeploymentPlan as StoredPlan,
  type VerificationVerdict,
} from '../../services/deployment-runs.ts';
import { probeErrorText, type ProbeResult } from '../../domain/verification.ts';
import { PERMISSIVE_DEVELOPMENT_RULE, type OutboundRule } from '../../domain/outbound-url.ts';
import { REFUSAL } from '../definitions.ts';
import { OutboundRefused, outboundRequest } from './outbound-http.ts';

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
  /** What user-set URLs may point at (config.outbound); absent: the development defaults. */
  outbound?: OutboundRule;
}

export interface DeploymentPlan extends StoredPlan {
  webhookTimeoutSeconds: number;
}

/**
 * Each activity, with the failures of the use cases it calls made Temporal's:
 * - a data exception (the database refuses a value) fails non-retryably as BAD_USER_INPUT, which
 *   the API maps to that code: retrying the same write cannot succeed, and a Workflow Update
 *   waiting on it (approve, reject) would never answer. The message names the SQLSTATE only: the
 *   driver's may quote the value;
 * - a transition the state machine refuses fails non-retryably (IllegalTransition);
 * - a missing deployment fails non-retryably (NotFound), except while its creating transaction
 *   may not have committed yet (loadDeployment retries that).
 */
function asActivities<A extends Record<string, (...args: never[]) => Promise<unknown>>>(activities: A): A {
  const wrapped: Record<string, unknown> = {};
  for (const [name, fn] of Object.entries(activities)) {
    wrapped[name] = async (...args: never[]) => {
      try {
        return await fn(...args);
      } catch (error) {
        if (isDataException(error)) {
          throw ApplicationFailure.nonRetryable(
            `The database refused a value as invalid (SQLSTATE ${sqlStateOf(error)})`,
            REFUSAL.badInput,
          );
        }
        if (error instanceof IllegalTransition) throw ApplicationFailure.nonRetryable(error.message, 'IllegalTransition');
        if (error instanceof DeploymentMissing) {
          throw error.maybeNotYetCommitted
            ? ApplicationFailure.retryable(error.message, 'NotYetCommitted')
            : ApplicationFailure.nonRetryable(error.message, 'NotFound');
        }
        throw error;
      }
    };
  }
  return wrapped as A;
}

/** What an attempt at the environment's lease answers (acquireLease, tryLease). */
type LeaseOutcome =
  | { outcome: 'started' | 'blocked' | 'waiting'; status: DeploymentStatus; verify?: boolean }
  | { outcome: 'frozen'; status: DeploymentStatus; until: string; window: string };

export function createDeploymentActivities(deps: ActivityDeps) {
  return asActivities(deploymentActivities(deps));
}

function deploymentActivities(deps: ActivityDeps) {
  const { log } = deps;
  const runs = deploymentRuns(deps.db);
  const outbound = deps.outbound ?? PERMISSIVE_DEVELOPMENT_RULE;

  return {
    async loadDeployment(id: string): Promise<DeploymentPlan> {
      return { ...(await runs.plan(id)), webhookTimeoutSeconds: deps.webhookTimeoutSeconds ?? 900 };
    },
    requestApproval: (id: string) => runs.requestApproval(id),
    recordDecision: (id: string, input: { subject: string; comment: string | null; decision: 'APPROVE' | 'REJECT'; required: number }) =>
      runs.recordDecision(id, input),
    /** Re-pins the snapshot if the target's configuration changed; voids approvals then. */
    repinSnapshot: (id: string) => runs.repinSnapshot(id),
    expire: (id: string) => runs.expire(id),
    startWaitTimer: (id: string) => runs.startWaitTimer(id),

    /**
     * Joins the environment's queue and long-polls for the lease (services/deployment-runs.ts
     * tryStart says why a lease). Heartbeats, so cancellation and worker loss are seen fast; the
     * long poll keeps workflow histories short: one activity per minute of waiting.
     */
    async acquireLease(id: string, options: { holdForFreeze?: boolean } = {}): Promise<LeaseOutcome> {
      const ctx = Context.current();
      const deadline = Date.now() + 60_000;
      await runs.joinQueue(id);
      for (;;) {
        // 'frozen' (a freeze window, for a workflow that sleeps through it) answers at once.
        const result = await runs.tryStart(id, options);
        if (result) return result;
        ctx.heartbeat();
        if (Date.now() > deadline) return { outcome: 'waiting', status: 'WAITING' };
        await ctx.sleep(500); // throws when the deployment is cancelled
      }
    },

    /**
     * One attempt at the lease, joining the queue first: what acquireLease's long poll does
     * first, answered at once ('waiting' when it would poll). A local activity, so a deployment
     * nothing is ahead of starts without a round trip; the long poll takes over when it waits.
     */
    async tryLease(id: string, options: { holdForFreeze?: boolean } = {}): Promise<LeaseOutcome> {
      await runs.joinQueue(id);
      return (await runs.tryStart(id, options)) ?? { outcome: 'waiting', status: 'WAITING' };
    },

    /** One SIMULATED step; resumes from its last heartbeat after a worker restart. */
    async runSimulatedStep(id: string, index: number): Promise<void> {
      const ctx = Context.current();
      const tickMs = ((await runs.stepSeconds(id)) * 1000) / SIMULATED_TICKS;
      const resumeFrom = (ctx.info.heartbeatDetails as { tick?: number } | undefined)?.tick ?? 0;
      await runs.recordStep(id, index, { kind: 'started' });
      for (let tick = resumeFrom + 1; tick <= SIMULATED_TICKS; tick++) {
        if (tickMs > 0) await ctx.sleep(tickMs);
        await runs.recordStep(id, index, { kind: 'progress', tick });
        ctx.heartbeat({ tick });
      }
      await runs.recordStep(id, index, { kind: 'succeeded' });
    },

    /**
     * Every SIMULATED step in one transaction when they take no time, the same events as
     * runSimulatedStep's (services/deployment-runs.ts); false when they take time, recording
     * nothing. Run as a local activity: it neither sleeps nor heartbeats.
     */
    recordInstantSteps: (id: string) => runs.recordInstantSteps(id),

    /** POSTs the signed payload once per deployment (Idempotency-Key), retried with backoff. */
    async sendWebhook(id: string): Promise<void> {
      const ctx = Context.current();
      const delivery = await runs.webhookDelivery(id);
      // Delivered already (the worker died before Temporal heard this activity completed): do not
      // call again. Between the receiver's answer and this record a crash can still repeat the
      // call; the Idempotency-Key lets the receiver drop that duplicate.
      if (delivery.delivered) return;
      if (!delivery.url) throw ApplicationFailure.nonRetryable('The WEBHOOK deploy target has no url', 'Misconfigured');
      if (!deps.webhookSecret)
        throw ApplicationFailure.nonRetryable('WEBHOOK_SECRET is not set, so the payload cannot be signed', 'Misconfigured');
      const body = JSON.stringify({
        deploymentId: publicId('Deployment', id),
        project: delivery.project,
        environment: delivery.environment,
        release: delivery.release,
        callbackUrl: `${deps.publicUrl}/graphql`,
        callbackToken: callbackTokenFor(deps.callbackKey, id),
      });
      const signature = createHmac('sha256', deps.webhookSecret).update(body).digest('hex');
      const heartbeat = setInterval(() => ctx.heartbeat(), 2000);
      const span = webhookSpan(delivery.url);
      const headers: Record<string, string> = {
        'content-type': 'application/json',
        'user-agent': 'Stageplane',
        'x-stageplane-signature': `sha256=${signature}`,
        'idempotency-key': publicId('Deployment', id),
      };
      // traceparent: a traced receiver continues this trace (nothing is added when tracing is off).
      propagation.inject(trace.setSpan(context.active(), span), headers);
      let response: { status: number };
      try {
        response = await outboundRequest(
          delivery.url,
          { method: 'POST', headers, body, signal: ctx.cancellationSignal, timeoutMs: 10_000, maxBodyBytes: 0 },
          outbound,
        );
        span.setAttribute('http.response.status_code', response.status);
        if (response.status >= 400) span.setStatus({ code: SpanStatusCode.ERROR });
      } catch (error) {
        span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).name });
        // The URL (or what its name resolves to now) is one the worker must not call: no retry helps.
        if (error instanceof OutboundRefused) {
          log.warn({ deploymentId: id, err: error.message }, 'webhook refused by the outbound-URL rule');
          throw ApplicationFailure.nonRetryable(error.message, 'WebhookRefused');
        }
        log.warn({ deploymentId: id, err: (error as Error).message }, 'webhook delivery failed; retrying');
        throw ApplicationFailure.retryable(`Webhook delivery failed: ${(error as Error).message}`, 'WebhookUnreachable');
      } finally {
        span.end();
        clearInterval(heartbeat);
      }
      if (response.status >= 300 && response.status < 400) {
        throw ApplicationFailure.nonRetryable(
          `The deploy target answered HTTP ${response.status}; redirects are not followed`,
          'WebhookRefused',
        );
      }
      if (response.status >= 400 && response.status < 500 && response.status !== 408 && response.status !== 429) {
        throw ApplicationFailure.nonRetryable(`The deploy target refused the webhook (HTTP ${response.status})`, 'WebhookRefused');
      }
      if (response.status < 200 || response.status >= 300)
        throw ApplicationFailure.retryable(`The deploy target answered HTTP ${response.status}`, 'WebhookError');
      await runs.recordWebhookDelivered(id, response.status);
    },

    /**
     * v2: the deployment's verification, probe by probe, to its verdict. Every probe is recorded
     * (services/deployment-runs.ts recordProbe) before the heartbeat that carries the same
     * counters, so a retry on another worker (this one killed) goes on from the last recorded
     * probe, not from zero; the overall timeout runs from the recorded start. Cancellation (the
     * deployment cancelled) reaches it through the heartbeat: the sleep and the probe stop.
     */
    async runVerification(id: string): Promise<VerificationVerdict> {
      const ctx = Context.current();
      const begun = await runs.beginVerification(id);
      let record = begun.record;
      const c = record.config;
      if (begun.ended || !c) return { passed: true, message: null, autoRollback: false };
      if (record.status !== 'RUNNING') {
        const again = await runs.recordProbe(id, record.probes, { statusCode: -1 }); // the verdict recorded before
        return again.verdict ?? { passed: true, message: null, autoRollback: false };
      }
      const beat = () => ctx.heartbeat({ probes: record.probes, successes: record.successes, failures: record.failures });
      const resumedFrom = (ctx.info.heartbeatDetails as { probes?: number } | undefined)?.probes;
      if (resumedFrom !== undefined || record.probes > 0) {
        log.info({ deploymentId: id, probes: record.probes, heartbeat: resumedFrom ?? null }, 'verification resumed');
      }
      const heartbeat = setInterval(beat, 2000);
      try {
        const deadline = Date.parse(record.startedAt!) + c.timeoutSeconds * 1000;
        for (;;) {
          const left = deadline - Date.now();
          const result: ProbeResult | { timedOut: true } =
            left <= 0 ? { timedOut: true } : await probe(c.url, Math.min(10_000, Math.max(1000, c.intervalSeconds * 1000), left), ctx);
          const r = await runs.recordProbe(id, record.probes, result);
          record = r.record;
          beat();
          if (r.ended) return { passed: true, message: null, autoRollback: false }; // cancelled meanwhile: the workflow knows
          if (r.verdict) return r.verdict;
          await ctx.sleep(Math.max(0, Math.min(c.intervalSeconds * 1000, deadline - Date.now()))); // throws when cancelled
        }
      } finally {
        clearInterval(heartbeat);
      }
    },

    /** v2: quarantine, pause and the automatic rollback, once (services/deployment-runs.ts). */
    async startAutoRollback(id: string): Promise<{ rollbackId: string | null }> {
      const ctx = Context.current();
      // The rollback's workflow is started on this worker's own client and task queue.
      return runs.startAutoRollback(id, { log, outbound, workflows: { client: ctx.client, taskQueue: ctx.info.taskQueue } });
    },

    finish: (id: string, input: { outcome: 'SUCCEEDED' | 'FAILED' | 'CANCELLED'; actor: string | null; message: string | null }) =>
      runs.finish(id, input),
  };

  /** One GET of the verification URL: its status code, or what stood in for one. The body is never kept. */
  async function probe(url: string, timeoutMs: number, ctx: Context): Promise<ProbeResult> {
    try {
      const response = await outboundRequest(
        url,
        { method: 'GET', headers: { 'user-agent': 'Stageplane-Verification' }, signal: ctx.cancellationSignal, timeoutMs, maxBodyBytes: 0 },
        outbound,
      );
      return { statusCode: response.status };
    } catch (error) {
      if (ctx.cancellationSignal.aborted) throw ctx.cancellationSignal.reason;
      if (error instanceof OutboundRefused) return { error: `refused by the outbound-URL rule: ${error.message}` };
      const e = error as { code?: string; name?: string };
      return { error: probeErrorText(e.code, e.name) };
    }
  }
}

/** The URL as a span may show it: no credentials, query string or fragment (they may carry tokens). */
export function traceableUrl(raw: string): string {
  try {
    const url = new URL(raw);
    return `${url.protocol}//${url.host}${url.pathname}`;
  } catch {
    return '(invalid url)';
  }
}

/** The client span of one webhook call: method and URL only, never a header or the body. */
function webhookSpan(raw: string) {
  const url = traceableUrl(raw);
  let server: { 'server.address'?: string; 'server.port'?: number } = {};
  try {
    const parsed = new URL(raw);
    server = { 'server.address': parsed.hostname, ...(parsed.port ? { 'server.port': Number(parsed.port) } : {}) };
  } catch {
    // traceableUrl said so
  }
  return trace.getTracer('stageplane.webhooks').startSpan('POST', {
    kind: SpanKind.CLIENT,
    attributes: { 'http.request.method': 'POST', 'url.full': url, 'http.url': url, ...server },
  });
}

export type DeploymentActivities = ReturnType<typeof createDeploymentActivities>;
