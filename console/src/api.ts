// Talking to the API. Queries and mutations: POST /graphql with the bearer token in the
// Authorization header (never in a URL), so a failed mutation is never sent twice. Subscriptions:
// one graphql-ws connection per tab (signed in with connectionParams.authorization) that
// reconnects with backoff after a lost connection and re-subscribes with fresh variables, so a
// deployment's timeline resumes from the last seq it saw.
import { print } from '@0no-co/graphql.web';
import { createClient, type Client } from 'graphql-ws';
import type { ResultOf, TadaDocumentNode, VariablesOf } from './graphql.ts';

/** An error as the server said it: its message and `extensions.code`. */
export interface ServerError {
  message: string;
  code: string | null;
  extensions: Record<string, unknown>;
}

export class RequestError extends Error {
  readonly errors: ServerError[];
  constructor(errors: ServerError[]) {
    super(errors.map((e) => e.message).join('; '));
    this.errors = errors;
  }
  get code() {
    return this.errors[0]?.code ?? null;
  }
}

interface FormattedError {
  message?: unknown;
  extensions?: Record<string, unknown> | null;
}

export function toServerErrors(errors: readonly FormattedError[]): ServerError[] {
  return errors.map((e) => {
    const extensions = e.extensions ?? {};
    return {
      message: typeof e.message === 'string' ? e.message : 'Unknown error',
      code: typeof extensions.code === 'string' ? extensions.code : null,
      extensions,
    };
  });
}

/** Any thrown value as server errors (a RequestError's own, or a client-side failure). */
export function errorsOf(error: unknown): ServerError[] {
  if (error instanceof RequestError) return error.errors;
  return [{ message: error instanceof Error ? error.message : String(error), code: null, extensions: {} }];
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyDocument = TadaDocumentNode<any, any>;

const printed = new WeakMap<object, string>();
const source = (doc: AnyDocument) => {
  let text = printed.get(doc);
  if (!text) printed.set(doc, (text = print(doc)));
  return text;
};

/** One query or mutation over HTTP. Throws a RequestError with the server's errors. */
export async function request<D extends AnyDocument>(doc: D, variables: VariablesOf<D>, token: string): Promise<ResultOf<D>> {
  let response: Response;
  try {
    response = await fetch('/graphql', {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/graphql-response+json, application/json',
        authorization: `Bearer ${token}`,
      },
      body: JSON.stringify({ query: source(doc), variables }),
      credentials: 'omit',
      cache: 'no-store',
    });
  } catch {
    throw new RequestError([{ message: 'The server cannot be reached', code: 'NETWORK_ERROR', extensions: {} }]);
  }
  let body: { data?: unknown; errors?: FormattedError[] };
  try {
    body = (await response.json()) as typeof body;
  } catch {
    throw new RequestError([{ message: `The server answered ${response.status} ${response.statusText}`, code: null, extensions: {} }]);
  }
  if (body.errors?.length) throw new RequestError(toServerErrors(body.errors));
  if (body.data == null)
    throw new RequestError([{ message: `The server answered ${response.status} without data`, code: null, extensions: {} }]);
  return body.data as ResultOf<D>;
}

export type ConnectionState = 'connecting' | 'connected' | 'reconnecting' | 'closed';

export interface LiveSink<T> {
  next(data: T): void;
  error(errors: ServerError[]): void;
  complete?(): void;
}

const isCloseEvent = (value: unknown): value is { code: number; reason: string } =>
  typeof value === 'object' && value !== null && 'code' in value && 'reason' in value;

/** WebSocket close codes by which the server refuses the token (contract: 4401, 4403). */
const AUTH_CLOSE_CODES = new Set([4401, 4403]);

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** The tab's live connection: one graphql-ws client, its state, and resumable subscriptions. */
export class LiveConnection {
  readonly client: Client;
  private state: ConnectionState = 'connecting';
  private readonly stateListeners = new Set<() => void>();
  private readonly reconnectListeners = new Set<() => void>();
  private everConnected = false;
  private disposed = false;
  private pongTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(token: string, onAuthRefused: (reason: string) => void, options: { url?: string } = {}) {
    const url = options.url ?? `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/graphql`;
    this.client = createClient({
      url,
      lazy: false,
      connectionParams: () => ({ authorization: `Bearer ${token}` }),
      // Ping every 10 s; a server that does not pong within 5 s is taken for gone.
      keepAlive: 10_000,
      retryAttempts: Infinity,
      shouldRetry: (event) => !(isCloseEvent(event) && AUTH_CLOSE_CODES.has(event.code)),
      // 0.25 s, 0.5 s, 1 s, 2 s, then every 4 s (plus jitter), for as long as the tab is open.
      retryWait: (retries) => sleep(Math.min(4000, 250 * 2 ** retries) + Math.random() * 250),
      onNonLazyError: () => {},
      on: {
        connecting: (isRetry) => this.setState(isRetry || this.everConnected ? 'reconnecting' : 'connecting'),
        connected: (_socket, _payload, wasRetry) => {
          const resumed = this.everConnected || wasRetry;
          this.everConnected = true;
          this.setState('connected');
          if (resumed) for (const listener of [...this.reconnectListeners]) listener();
        },
        ping: (received) => {
          if (received) return;
          clearTimeout(this.pongTimer);
          this.pongTimer = setTimeout(() => this.client.terminate(), 5_000);
        },
        pong: (received) => {
          if (received) clearTimeout(this.pongTimer);
        },
        closed: (event) => {
          clearTimeout(this.pongTimer);
          if (this.disposed) return this.setState('closed');
          if (isCloseEvent(event) && AUTH_CLOSE_CODES.has(event.code)) {
            this.setState('closed');
            onAuthRefused(event.reason || `The server closed the connection (${event.code})`);
            return;
          }
          this.setState(this.everConnected ? 'reconnecting' : 'connecting');
        },
      },
    });
  }

  getState = () => this.state;

  onState = (listener: () => void) => {
    this.stateListeners.add(listener);
    return () => void this.stateListeners.delete(listener);
  };

  /** Runs after every reconnection: pages read back what they may have missed meanwhile. */
  onReconnected(listener: () => void) {
    this.reconnectListeners.add(listener);
    return () => void this.reconnectListeners.delete(listener);
  }

  private setState(state: ConnectionState) {
    if (this.state === state) return;
    this.state = state;
    for (const listener of [...this.stateListeners]) listener();
  }

  /**
   * A subscription that survives reconnections. graphql-ws re-sends the operation after a
   * reconnect; `variables` is read each time it is sent (a getter), so e.g. `afterSeq` is the last
   * seq seen then, not the one at the start. Returns the function that ends it.
   */
  subscribe<D extends AnyDocument>(doc: D, variables: () => VariablesOf<D>, sink: LiveSink<ResultOf<D>>): () => void {
    const payload = {
      query: source(doc),
      get variables() {
        return variables() as Record<string, unknown>;
      },
    };
    let ended = false;
    const dispose = this.client.subscribe<ResultOf<D>>(payload, {
      next: (result) => {
        if (ended) return;
        if (result.errors?.length) sink.error(toServerErrors(result.errors));
        else if (result.data) sink.next(result.data);
      },
      error: (error) => {
        if (ended) return;
        if (Array.isArray(error)) sink.error(toServerErrors(error as FormattedError[]));
        else if (isCloseEvent(error))
          sink.error([{ message: error.reason || `Connection closed (${error.code})`, code: null, extensions: {} }]);
        else sink.error(errorsOf(error));
      },
      complete: () => {
        if (!ended) sink.complete?.();
      },
    });
    return () => {
      ended = true;
      dispose();
    };
  }

  dispose() {
    this.disposed = true;
    clearTimeout(this.pongTimer);
    this.reconnectListeners.clear();
    void this.client.dispose();
    this.setState('closed');
  }
}
