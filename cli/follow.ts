// Follows a deployment's events over graphql-ws (`deploymentEvents`), from `afterSeq` until the
// event that ends it. A lost connection (the server restarting, a network blip, a dead peer) is
// retried with backoff for up to `timeoutMs` of continuous absence, resuming after the last seq
// seen: every event is handed on once, in seq order. Aborting stops following, nothing else.
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { apiErrorOf, documentText, type Endpoint } from './client.ts';
import { ApiError, UnreachableError } from './errors.ts';
import { DeploymentEvents } from './operations.ts';
import { TERMINAL_STATUSES, type EventLike } from './output.ts';

export interface FollowOptions {
  endpoint: Endpoint;
  deploymentId: string;
  afterSeq: number;
  /** How long the server may stay unreachable, in one stretch, before giving up (UnreachableError). */
  timeoutMs: number;
  signal: AbortSignal;
  onEvent(event: EventLike): void;
  onNotice(text: string): void;
  /** The deployment's status now (over HTTP), when the stream completes without a final event. */
  currentStatus(): Promise<string | null>;
  /** Backoff between attempts (tests shorten it). */
  backoff?: { initialMs: number; maxMs: number };
  /** A connection that stays up this long counts as recovered (resets backoff and the time-out). */
  stableMs?: number;
}

export interface FollowResult {
  /** The final status (null when interrupted before the deployment ended). */
  status: string | null;
  lastSeq: number;
  interrupted: boolean;
}

type Outcome =
  | { kind: 'terminal'; status: string }
  | { kind: 'complete' }
  | { kind: 'gap'; expected: number; got: number }
  | { kind: 'refused'; error: ApiError }
  | { kind: 'transient'; reason: string }
  | { kind: 'lost'; reason: string; code?: number }
  | { kind: 'aborted' };

/** Close codes after which reconnecting cannot help. */
const AUTH_CLOSE = new Map([
  [4401, 'UNAUTHENTICATED'],
  [4403, 'FORBIDDEN'],
]);
const FATAL_CLOSE = new Set([4400, 4406, 4409, 4429]);
/** The contract's refusal codes: anything else in an error (INTERNAL_SERVER_ERROR ...) is worth a retry. */
const REFUSALS = new Set(['UNAUTHENTICATED', 'FORBIDDEN', 'NOT_FOUND', 'BAD_USER_INPUT', 'CONFLICT', 'PRECONDITION_FAILED']);

const KEEPALIVE_MS = 10_000;
const PONG_WAIT_MS = 6_000;
const HANDSHAKE_MS = 10_000;

/** `ws` with a handshake time-out, so a silent host does not hang a connection attempt. */
class TimedWebSocket extends WebSocket {
  constructor(address: string, protocols?: string | string[]) {
    super(address, protocols, { handshakeTimeout: HANDSHAKE_MS, perMessageDeflate: false });
  }
}

function describeClose(error: unknown): { code?: number; reason: string } {
  const e = error as { code?: unknown; reason?: unknown; message?: unknown; error?: { message?: unknown; code?: unknown } };
  if (typeof e?.code === 'number') {
    const reason = typeof e.reason === 'string' && e.reason ? `: ${e.reason}` : '';
    return { code: e.code, reason: `closed (${e.code}${reason})` };
  }
  const inner = e?.error ?? e;
  const code = typeof inner?.code === 'string' ? inner.code : null;
  const message = typeof inner?.message === 'string' ? inner.message : String(error);
  return { reason: code ?? message };
}

export async function followDeployment(options: FollowOptions): Promise<FollowResult> {
  const { endpoint, deploymentId, signal } = options;
  const backoff = options.backoff ?? { initialMs: 250, maxMs: 5_000 };
  const stableMs = options.stableMs ?? 2_000;
  let lastSeq = options.afterSeq;
  let lostSince: number | null = null;
  let attempt = 0;
  let announcedLoss = false;

  const recovered = () => {
    if (announcedLoss) options.onNotice(`reconnected; resuming after event #${lastSeq}`);
    announcedLoss = false;
    lostSince = null;
    attempt = 0;
  };

  const once = (): Promise<Outcome> =>
    new Promise<Outcome>((resolve) => {
      let settled = false;
      let socket: WebSocket | null = null;
      let pongTimer: NodeJS.Timeout | undefined;
      let stableTimer: NodeJS.Timeout | undefined;
      let unsubscribe = () => {};
      let client: Client | null = null;
      const finish = (outcome: Outcome) => {
        if (settled) return;
        settled = true;
        clearTimeout(pongTimer);
        clearTimeout(stableTimer);
        signal.removeEventListener('abort', onAbort);
        unsubscribe();
        void client?.dispose();
        resolve(outcome);
      };
      const onAbort = () => finish({ kind: 'aborted' });
      if (signal.aborted) return finish({ kind: 'aborted' });
      signal.addEventListener('abort', onAbort, { once: true });

      client = createClient({
        url: endpoint.wsUrl,
        webSocketImpl: TimedWebSocket,
        connectionParams: endpoint.token ? { authorization: `Bearer ${endpoint.token}` } : {},
        lazy: true,
        retryAttempts: 0,
        connectionAckWaitTimeout: HANDSHAKE_MS,
        keepAlive: KEEPALIVE_MS,
        on: {
          connected: (s) => {
            socket = s as WebSocket;
            stableTimer = setTimeout(() => !settled && recovered(), stableMs);
          },
          ping: (received) => {
            if (received) return;
            // Our ping: a peer that does not pong in time is gone (a network blip without a close).
            clearTimeout(pongTimer);
            pongTimer = setTimeout(() => {
              if (socket?.readyState === WebSocket.OPEN) socket.close(4499, 'no pong');
            }, PONG_WAIT_MS);
          },
          pong: (received) => {
            if (received) clearTimeout(pongTimer);
          },
        },
      });

      unsubscribe = client.subscribe<{ deploymentEvents: EventLike }>(
        { query: documentText(DeploymentEvents), variables: { id: deploymentId, afterSeq: lastSeq } },
        {
          next: (result) => {
            if (settled) return;
            if (result.errors?.length) {
              const error = apiErrorOf(result.errors as never);
              return finish(
                REFUSALS.has(error.code) ? { kind: 'refused', error } : { kind: 'transient', reason: `${error.code}: ${error.message}` },
              );
            }
            const event = result.data?.deploymentEvents;
            if (!event) return;
            if (event.seq <= lastSeq) return; // already handed on (a replay after a resume)
            if (event.seq !== lastSeq + 1) return finish({ kind: 'gap', expected: lastSeq + 1, got: event.seq });
            if (lostSince !== null || attempt > 0) recovered();
            lastSeq = event.seq;
            options.onEvent(event);
            if (TERMINAL_STATUSES.has(event.status)) finish({ kind: 'terminal', status: event.status });
          },
          error: (error) => {
            if (settled) return;
            if (Array.isArray(error)) {
              const apiError = apiErrorOf(error);
              return finish(
                REFUSALS.has(apiError.code) ? { kind: 'refused', error: apiError } : { kind: 'transient', reason: apiError.message },
              );
            }
            const { code, reason } = describeClose(error);
            if (code !== undefined && AUTH_CLOSE.has(code)) {
              const text =
                (error as { reason?: string }).reason || (code === 4401 ? 'a valid bearer token is required' : 'the token was refused');
              return finish({ kind: 'refused', error: new ApiError(AUTH_CLOSE.get(code)!, text) });
            }
            if (code !== undefined && FATAL_CLOSE.has(code)) {
              return finish({ kind: 'refused', error: new ApiError('BAD_REQUEST', `the server closed the subscription: ${reason}`) });
            }
            finish({ kind: 'lost', reason, ...(code !== undefined ? { code } : {}) });
          },
          complete: () => finish({ kind: 'complete' }),
        },
      );
    });

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      }
      signal.addEventListener('abort', done, { once: true });
    });

  for (;;) {
    const outcome = await once();
    switch (outcome.kind) {
      case 'terminal':
        return { status: outcome.status, lastSeq, interrupted: false };
      case 'aborted':
        return { status: null, lastSeq, interrupted: true };
      case 'refused':
        throw outcome.error;
      case 'gap':
        // Not expected from the server; ask again from the last event seen.
        options.onNotice(`expected event #${outcome.expected}, got #${outcome.got}; resuming after #${lastSeq}`);
        break;
      case 'complete': {
        // The stream ended without a final event: finished before `afterSeq`, or the server is leaving.
        const status = await options.currentStatus().catch(() => null);
        if (status && TERMINAL_STATUSES.has(status)) return { status, lastSeq, interrupted: false };
        break;
      }
      case 'transient':
      case 'lost':
        break;
    }
    if (signal.aborted) return { status: null, lastSeq, interrupted: true };
    const now = Date.now();
    lostSince ??= now;
    if (now - lostSince >= options.timeoutMs) {
      const why = outcome.kind === 'lost' || outcome.kind === 'transient' ? outcome.reason : outcome.kind;
      throw new UnreachableError(
        endpoint.wsUrl,
        `no event stream for ${Math.round(options.timeoutMs / 1000)} s (${why}); the deployment goes on, watch it again after event #${lastSeq}`,
      );
    }
    if (!announcedLoss && outcome.kind !== 'gap') {
      const why = outcome.kind === 'lost' || outcome.kind === 'transient' ? outcome.reason : 'stream ended early';
      options.onNotice(
        `connection lost (${why}); reconnecting for up to ${Math.round(options.timeoutMs / 1000)} s, resuming after event #${lastSeq}`,
      );
      announcedLoss = true;
    }
    const delay = Math.min(backoff.maxMs, backoff.initialMs * 2 ** attempt) * (0.5 + Math.random() / 2);
    attempt += 1;
    await sleep(Math.min(delay, Math.max(0, lostSince + options.timeoutMs - Date.now())));
  }
}
