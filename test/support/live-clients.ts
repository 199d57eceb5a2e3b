// Live-progress test support: an API server whose hub and WebSocket limits a test can tune,
// API processes spawned like `npm run start:api`, real graphql-ws / raw ws / SSE clients, and
// fixtures that write deployments and events straight into the database (as the workflows do).
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { createClient, type Client, type ClientOptions } from 'graphql-ws';
import pino from 'pino';
import { Registry } from 'prom-client';
import WebSocket from 'ws';
import { createDatabase, type DatabaseHandle, type Queryable } from '../../db/client.ts';
import { appendDeploymentEvent, type NewDeploymentEvent } from '../../db/event-log.ts';
import { deployments, environments, projects, releases, type DeploymentEventRow } from '../../db/schema/index.ts';
import { defaultDeployTarget, defaultPolicy, defaultSettings } from '../../domain/defaults.ts';
import type { ConfigSnapshot, Role } from '../../domain/types.ts';
import { signToken } from '../../server/auth.ts';
import { loadConfig, type Config } from '../../config/index.ts';
import type { Services } from '../../services/scope.ts';
import { createEventHub, type EventHub, type EventHubOptions } from '../../live/hub.ts';
import { createApp, type App } from '../../server/http.ts';
import { REDACT_PATHS } from '../../server/logger.ts';
import { until as poll } from '../../scripts/lib/until.ts';
import { freePort } from '../../server/temporal.ts';
import { attachWebSocket, type WebSocketEndpoint, type WebSocketOptions } from '../../server/websocket.ts';
import { TEST_JWT_SECRET } from './server.ts';

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls every 20 ms until `check` returns a truthy value (or throws after `timeoutMs`). */
export const until = <T>(check: () => T | Promise<T>, timeoutMs = 10_000, what: string | (() => string) = 'condition') =>
  poll(what, check, { timeoutMs, intervalMs: 20 });

// ---------------------------------------------------------------------------------------------
// Servers

export interface LiveServer {
  url: string;
  wsUrl: string;
  config: Config;
  database: DatabaseHandle;
  hub: EventHub;
  websocket: WebSocketEndpoint;
  app: App;
  logs: string[];
  /** Every SQL statement the server ran (through its pool), in order. */
  queries: string[];
  token(subject?: string, roles?: Role[]): Promise<string>;
  stop(): Promise<void>;
}

/**
 * The API's HTTP + WebSocket server in this process, wired like server/main.ts, with the hub's
 * and the WebSocket endpoint's options open to the test.
 */
export async function startLiveServer(
  databaseUrl: string,
  options: { hub?: Partial<EventHubOptions>; websocket?: Partial<WebSocketOptions> } = {},
): Promise<LiveServer> {
  const config = loadConfig({
    NODE_ENV: 'test',
    PORT: '1',
    HOST: '127.0.0.1',
    DATA_DIR: mkdtempSync(join(tmpdir(), 'stageplane-live-')),
    JWT_SECRET: TEST_JWT_SECRET,
    DATABASE_URL: databaseUrl,
  });
  config.port = 0;
  const logs: string[] = [];
  const log = pino(
    { level: 'debug', redact: { paths: REDACT_PATHS, censor: '[redacted]' } },
    new Writable({
      write(chunk, _enc, done) {
        logs.push(String(chunk));
        done();
      },
    }),
  );
  const queries: string[] = [];
  const database = await createDatabase({ url: databaseUrl, poolSize: 10, logger: { logQuery: (query) => void queries.push(query) } });
  await database.migrate();
  const hub = createEventHub({ database, databaseUrl, log, options: options.hub });
  const services: Services = { config, database, log, metrics: new Registry(), events: hub };
  const app = createApp(services);
  await hub.start();
  const websocket = attachWebSocket(app, services, options.websocket);
  const { port } = await app.listen();
  app.setStarted();
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    wsUrl: `ws://127.0.0.1:${port}/graphql`,
    config,
    database,
    hub,
    websocket,
    app,
    logs,
    queries,
    token: (subject = 'viewer', roles: Role[] = ['VIEWER']) => signToken(config.jwtSecret, subject, roles),
    async stop() {
      await websocket.close();
      await hub.stop();
      await app.close();
      await database.close();
    },
  };
}

export interface ApiProcess {
  url: string;
  wsUrl: string;
  port: number;
  child: ChildProcess;
  output: string[];
  /** Resolves with the exit code (or signal) once the process is gone. */
  exited: Promise<number | string | null>;
  kill(signal?: NodeJS.Signals): Promise<number | string | null>;
}

/** `npm run start:api` (tsx server/main.ts api) as a child process, resolved once it logs `ready`. */
export async function spawnApi(databaseUrl: string, options: { port?: number; env?: Record<string, string> } = {}): Promise<ApiProcess> {
  const port = options.port ?? (await freePort());
  const child = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'server', 'main.ts'), 'api'], {
    cwd: REPO_ROOT,
    env: {
      ...process.env,
      NODE_ENV: 'test',
      DATABASE_URL: databaseUrl,
      PORT: String(port),
      HOST: '127.0.0.1',
      JWT_SECRET: TEST_JWT_SECRET,
      DATA_DIR: mkdtempSync(join(tmpdir(), 'stageplane-api-')),
      LOG_LEVEL: 'info',
      // No load balancer watches these processes: a stop needs no drain (tests set one to test it).
      SHUTDOWN_DRAIN_SECONDS: '0',
      ...options.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  const exited = new Promise<number | string | null>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal)));
  let buffered = '';
  const ready = new Promise<void>((resolve, reject) => {
    const onData = (data: Buffer) => {
      buffered += String(data);
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) {
        output.push(line);
        if (/"msg":"ready"/.test(line)) resolve();
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (d) => output.push(String(d)));
    void exited.then((code) => reject(new Error(`API process exited (${code}) before it was ready:\n${output.join('\n')}`)));
  });
  const timeout = setTimeout(() => child.kill('SIGKILL'), 60_000);
  try {
    await ready;
  } finally {
    clearTimeout(timeout);
  }
  return {
    url: `http://127.0.0.1:${port}`,
    wsUrl: `ws://127.0.0.1:${port}/graphql`,
    port,
    child,
    output,
    exited,
    async kill(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Fixtures: deployments and events written as the workflows write them.

export interface DeploymentFixture {
  projectId: string;
  projectSlug: string;
  environmentId: string;
  deploymentId: string;
  /** The Relay global id clients use. */
  globalId: string;
}

export const globalIdOf = (typename: string, id: string) => Buffer.from(`${typename}:${id}`).toString('base64');

const SNAPSHOT: ConfigSnapshot = {
  digest: '0'.repeat(64),
  settingsVersion: 1,
  settings: defaultSettings('DEVELOPMENT'),
  databases: {},
  secretVersions: {},
  takenAt: new Date(0).toISOString(),
};

/** A project with one environment and one release. */
export async function createProjectFixture(db: Queryable, slug = `p-${randomBytes(4).toString('hex')}`) {
  const [project] = await db
    .insert(projects)
    .values({ slug, name: `Project ${slug}` })
    .returning();
  const [environment] = await db
    .insert(environments)
    .values({
      projectId: project!.id,
      slug: 'development',
      name: 'Development',
      type: 'DEVELOPMENT',
      position: 0,
      policy: defaultPolicy('DEVELOPMENT'),
      deployTarget: defaultDeployTarget(),
      settings: defaultSettings('DEVELOPMENT'),
    })
    .returning();
  const [release] = await db
    .insert(releases)
    .values({ projectId: project!.id, version: '1.0.0', commitSha: randomBytes(20).toString('hex'), branch: 'main' })
    .returning();
  return { projectId: project!.id, projectSlug: slug, environmentId: environment!.id, releaseId: release!.id };
}

/** A deployment in a (new, unless given) project, with no events yet. */
export async function createDeploymentFixture(
  db: Queryable,
  project?: Awaited<ReturnType<typeof createProjectFixture>>,
): Promise<DeploymentFixture> {
  const p = project ?? (await createProjectFixture(db));
  const [deployment] = await db
    .insert(deployments)
    .values({
      projectId: p.projectId,
      environmentId: p.environmentId,
      releaseId: p.releaseId,
      kind: 'MANUAL',
      requestedBy: 'tester',
      snapshot: SNAPSHOT,
      workflowId: `test-${randomUUID()}`,
    })
    .returning();
  return {
    projectId: p.projectId,
    projectSlug: p.projectSlug,
    environmentId: p.environmentId,
    deploymentId: deployment!.id,
    globalId: globalIdOf('Deployment', deployment!.id),
  };
}

/** Appends one event in its own transaction, as the workflow activities do. */
export function appendEvent(database: DatabaseHandle, deploymentId: string, event: NewDeploymentEvent): Promise<DeploymentEventRow> {
  return database.db.transaction((tx) => appendDeploymentEvent(tx, deploymentId, event));
}

/** `n` STEP_PROGRESS events (RUNNING). */
export async function appendProgress(database: DatabaseHandle, deploymentId: string, n: number, message?: string) {
  const rows: DeploymentEventRow[] = [];
  for (let i = 0; i < n; i++) {
    rows.push(
      await appendEvent(database, deploymentId, {
        type: 'STEP_PROGRESS',
        status: 'RUNNING',
        step: 'deploy',
        progress: (i + 1) / (n + 1),
        message,
      }),
    );
  }
  return rows;
}

// ---------------------------------------------------------------------------------------------
// Clients

export const DEPLOYMENT_EVENTS = `subscription($id: ID!, $after: Int) {
  deploymentEvents(deploymentId: $id, afterSeq: $after) { seq deploymentId type status step progress message at }
}`;
export const PROJECT_EVENTS = `subscription($slug: String!) {
  projectEvents(projectSlug: $slug) { seq deploymentId type status }
}`;

export interface GqlEvent {
  seq: number;
  deploymentId: string;
  type: string;
  status: string;
  step?: string | null;
  progress?: number | null;
  message?: string | null;
  at?: string;
}

export function wsClient(wsUrl: string, token: string | null, options: Partial<ClientOptions> = {}): Client {
  return createClient({
    url: wsUrl,
    webSocketImpl: WebSocket,
    connectionParams: token ? { authorization: `Bearer ${token}` } : {},
    retryAttempts: 0,
    lazy: true,
    // Non-lazy clients report a failed connection here; tests read it from the subscription.
    onNonLazyError: () => {},
    ...options,
  });
}

export interface Collected {
  events: GqlEvent[];
  errors: unknown[];
  /** Resolves when the subscription completes; rejects on an error. */
  done: Promise<void>;
  completed(): boolean;
  stop(): void;
}

/** Subscribes and collects every result's first root field. */
export function collect(client: Client, query: string, variables: Record<string, unknown>): Collected {
  const events: GqlEvent[] = [];
  const errors: unknown[] = [];
  let isComplete = false;
  let stop = () => {};
  const done = new Promise<void>((resolve, reject) => {
    stop = client.subscribe<Record<string, GqlEvent>>(
      { query, variables },
      {
        next: (result) => {
          if (result.errors?.length) {
            errors.push(...result.errors);
            reject(result.errors);
            return;
          }
          const data = result.data ?? {};
          const value = Object.values(data)[0];
          if (value) events.push(value);
        },
        error: (error) => {
          // An `error` message carries a list of GraphQL errors; a closed socket, a CloseEvent.
          if (Array.isArray(error)) errors.push(...error);
          else errors.push(error);
          reject(error);
        },
        complete: () => {
          isComplete = true;
          resolve();
        },
      },
    );
  });
  done.catch(() => {});
  return { events, errors, done, completed: () => isComplete, stop: () => stop() };
}

/** A bare `graphql-transport-ws` socket, for protocol-level checks and a client that stops reading. */
export interface RawSocket {
  ws: WebSocket;
  messages: any[];
  closed: Promise<{ code: number; reason: string }>;
  send(message: unknown): void;
  /** Resolves with the first message matching. */
  next(match: (m: any) => boolean, timeoutMs?: number): Promise<any>;
}

export async function rawSocket(wsUrl: string, token: string | null, init = true): Promise<RawSocket> {
  const ws = new WebSocket(wsUrl, 'graphql-transport-ws');
  const messages: any[] = [];
  const listeners = new Set<() => void>();
  ws.on('message', (data) => {
    messages.push(JSON.parse(String(data)));
    for (const l of listeners) l();
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.once('close', (code, reason) => resolve({ code, reason: String(reason) })),
  );
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  const socket: RawSocket = {
    ws,
    messages,
    closed,
    send: (message) => ws.send(typeof message === 'string' ? message : JSON.stringify(message)),
    next: (match, timeoutMs = 10_000) =>
      new Promise((resolve, reject) => {
        let seen = 0;
        const check = () => {
          for (; seen < messages.length; seen++) {
            if (match(messages[seen])) {
              listeners.delete(check);
              clearTimeout(timer);
              resolve(messages[seen]);
              return;
            }
          }
        };
        const timer = setTimeout(() => {
          listeners.delete(check);
          reject(new Error(`no matching message within ${timeoutMs} ms; got ${JSON.stringify(messages).slice(0, 500)}`));
        }, timeoutMs);
        listeners.add(check);
        check();
      }),
  };
  if (init) {
    socket.send({ type: 'connection_init', payload: token ? { authorization: `Bearer ${token}` } : {} });
    await socket.next((m) => m.type === 'connection_ack');
  }
  return socket;
}

/** A subscription over server-sent events (Yoga's distinct-connections mode), read with fetch. */
export interface SseStream {
  status: number;
  events: GqlEvent[];
  errors: unknown[];
  /** Resolves `complete` on an `event: complete`, `closed` if the stream ends without one. */
  ended: Promise<'complete' | 'closed' | 'error'>;
  abort(): void;
}

export async function sse(url: string, token: string, query: string, variables: Record<string, unknown>): Promise<SseStream> {
  const abort = new AbortController();
  const response = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
    signal: abort.signal,
  });
  const events: GqlEvent[] = [];
  const errors: unknown[] = [];
  const ended = (async (): Promise<'complete' | 'closed' | 'error'> => {
    if (!response.body) return 'closed';
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return 'closed';
        buffer += decoder.decode(value, { stream: true });
        let at: number;
        while ((at = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, at);
          buffer = buffer.slice(at + 2);
          let event = 'message';
          let data = '';
          for (const line of block.split('\n')) {
            if (line.startsWith('event:')) event = line.slice(6).trim();
            else if (line.startsWith('data:')) data += line.slice(5).trim();
          }
          if (event === 'complete') return 'complete';
          if (event === 'next' && data) {
            const result = JSON.parse(data) as { data?: Record<string, GqlEvent>; errors?: unknown[] };
            if (result.errors) errors.push(...result.errors);
            const value = result.data ? Object.values(result.data)[0] : undefined;
            if (value) events.push(value);
          }
        }
      }
    } catch {
      return 'error';
    }
  })();
  return { status: response.status, events, errors, ended, abort: () => abort.abort() };
}

/** Asserts-free helper: the seqs of a list of events. */
export const seqs = (events: { seq: number }[]) => events.map((e) => e.seq);
export const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
