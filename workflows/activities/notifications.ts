// The activities of a notification delivery (workflows/notification.workflow.ts): one HTTP
// attempt to the channel's receiver through the outbound-URL rule, recorded by
// services/notifications.ts. A WEBHOOK body is signed with WEBHOOK_SECRET; WEBHOOK and SLACK
// alike carry `Idempotency-Key: <delivery id>` on every attempt.
// The URL never leaves this function: errors recorded, logged or thrown name the host and the
// kind of failure only (a network error's message can quote the address, never the path).
import { createHmac } from 'node:crypto';
import { Context } from '@temporalio/activity';
import type { Logger } from 'pino';
import type { Database } from '../../db/client.ts';
import { deliveryBody, type NotificationFacts } from '../../domain/notifications.ts';
import { type OutboundRule, PERMISSIVE_DEVELOPMENT_RULE } from '../../domain/outbound-url.ts';
import type { CredentialSealer } from '../../secrets/credentials.ts';
import { attemptInput, giveUpDelivery, recordAttempt } from '../../services/notifications.ts';
import { OutboundRefused, outboundRequest } from './outbound-http.ts';

export interface NotificationActivityDeps {
  db: Database;
  log: Logger;
  credentials: CredentialSealer | null;
  webhookSecret: string | undefined;
  publicUrl: string;
  timeoutMs: number;
  outbound?: OutboundRule;
}

export type AttemptOutcome = { outcome: 'delivered' | 'retry' | 'failed' | 'gone'; statusCode?: number };

/** The facts with the console link made absolute (PUBLIC_URL), the same on every attempt. */
export function withLinks(facts: NotificationFacts, publicUrl: string): NotificationFacts {
  if (!facts.deployment || /^https?:/.test(facts.deployment.url)) return facts;
  return { ...facts, deployment: { ...facts.deployment, url: `${publicUrl}${facts.deployment.url}` } };
}

/** A recordable description of a failed request: never its URL. */
export function describeFailure(error: unknown, timeoutMs: number): string {
  const code = (error as { code?: unknown }).code;
  if (error instanceof OutboundRefused) return `refused by the outbound-URL rule: ${error.message.replace(/^The URL /, '')}`;
  if (code === 'ETIMEDOUT') return `no answer within ${timeoutMs} ms`;
  if (code === 'ECONNREFUSED') return 'connection refused (ECONNREFUSED)';
  if (code === 'ECONNRESET') return 'connection reset (ECONNRESET)';
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return `host not found (${String(code)})`;
  if (typeof code === 'string' && /^[A-Z_0-9]+$/.test(code)) return `request failed (${code})`;
  return `request failed (${error instanceof Error ? error.name : 'Error'})`;
}

export function createNotificationActivities(deps: NotificationActivityDeps) {
  const outbound = deps.outbound ?? PERMISSIVE_DEVELOPMENT_RULE;
  return {
    /** One attempt; `deadlineMs` ends the delivery as FAILED when this attempt fails past it. */
    async attemptDelivery(deliveryId: string, deadlineMs: number): Promise<AttemptOutcome> {
      const input = await attemptInput(deps.db, deps, deliveryId);
      if (input.state === 'gone') return { outcome: 'gone' };
      if (input.state === 'done') return { outcome: input.status === 'DELIVERED' ? 'delivered' : 'failed' };
      const facts = withLinks(input.facts, deps.publicUrl);
      const body = deliveryBody(input.kind, facts);
      const headers: Record<string, string> = {
        'content-type': 'application/json',
        'user-agent': 'Stageplane',
        'idempotency-key': facts.id,
        'x-stageplane-event': facts.event,
      };
      if (input.kind === 'WEBHOOK') {
        if (!deps.webhookSecret) {
          await recordAttempt(deps.db, deliveryId, {
            statusCode: null,
            error: 'WEBHOOK_SECRET is not set, so the payload cannot be signed',
            final: true,
          });
          return { outcome: 'failed' };
        }
        headers['x-stageplane-signature'] = `sha256=${createHmac('sha256', deps.webhookSecret).update(body).digest('hex')}`;
      }
      let signal: AbortSignal | undefined;
      let heartbeat: NodeJS.Timeout | undefined;
      try {
        const ctx = Context.current();
        signal = ctx.cancellationSignal;
        heartbeat = setInterval(() => ctx.heartbeat(), 2000);
      } catch {
        // called directly (tests): no cancellation, no heartbeat
      }
      let statusCode: number | null = null;
      let error: string | null = null;
      let final = false;
      try {
        const response = await outboundRequest(
          input.url,
          { method: 'POST', headers, body, signal, timeoutMs: deps.timeoutMs, maxBodyBytes: 0 },
          outbound,
        );
        statusCode = response.status;
        if (statusCode < 200 || statusCode >= 300) error = `HTTP ${statusCode}`;
      } catch (e) {
        error = describeFailure(e, deps.timeoutMs);
        // The receiver (or what its name resolves to now) is one the worker must not call.
        final = e instanceof OutboundRefused;
      } finally {
        clearInterval(heartbeat);
      }
      if (error !== null && Date.now() >= deadlineMs) final = true;
      const status = await recordAttempt(deps.db, deliveryId, { statusCode, error, final });
      if (status === 'DELIVERED' || (status === null && statusCode !== null && !error))
        return { outcome: 'delivered', statusCode: statusCode! };
      if (error !== null) {
        deps.log.warn(
          { deliveryId, urlHost: input.urlHost, attempt: input.attempts + 1, statusCode, err: error },
          final ? 'notification delivery failed for good' : 'notification delivery failed; will retry',
        );
      }
      return { outcome: status === 'FAILED' || final ? 'failed' : 'retry', ...(statusCode !== null ? { statusCode } : {}) };
    },

    /** The retry window is over. */
    giveUp: (deliveryId: string) => giveUpDelivery(deps.db, deliveryId),
  };
}

export type NotificationActivities = ReturnType<typeof createNotificationActivities>;
