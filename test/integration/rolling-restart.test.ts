// A rolling restart under load: two API processes (`server/main.ts api`) on one database, one
// worker process on the shared Temporal, a load balancer in the test that routes on /readyz the
// way a real one does (polls every 200 ms, so it notices a replica's 503 late), a steady load of
// queries and graphql-ws subscribers of a running SIMULATED deployment. One replica is SIGTERMed,
// a replacement starts on its port, then the other is SIGTERMed: no request fails, every
// subscriber gets every seq exactly once (resuming with afterSeq on the other replica after
// 1001), and the deployment SUCCEEDS.
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from 'graphql-ws';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { createDatabase } from '../../db/client.ts';
import { signToken } from '../../server/auth.ts';
import { createTestDatabase } from '../support/database.ts';
import { DEPLOYMENT_EVENTS, range, sleep, spawnApi, until, wsClient, type ApiProcess, type GqlEvent } from '../support/live-clients.ts';
import { spawnStageplane, type StageplaneProcess } from '../support/process.ts';
import { TEST_JWT_SECRET } from '../support/server.ts';

const DRAIN_SECONDS = 1.5; // > the load balancer's 200 ms poll, with room for a loaded machine
const STEP_SECONDS = 7; // 3 steps: the deployment runs ~21 s, through both restarts
const SUBSCRIBERS = 4;

let databaseUrl: string;
let dropDb: () => Promise<void>;
const apis: ApiProcess[] = [];
let worker: StageplaneProcess | null = null;
const taskQueue = `rolling-${process.pid}-${randomBytes(3).toString('hex')}`;
const secret = new TextEncoder().encode(TEST_JWT_SECRET);

beforeAll(async () => {
  const db = await createTestDatabase();
  databaseUrl = db.url;
  dropDb = db.drop;
  const database = await createDatabase({ url: db.url, poolSize: 2 });
  await database.migrate();
  await database.close();
});
afterAll(async () => {
  await Promise.all(apis.map((p) => p.kill('SIGKILL')));
  await worker?.killHard();
  await dropDb?.();
});

const apiEnv = () => ({
  TEMPORAL_ADDRESS: inject('temporalAddress'),
  TEMPORAL_TASK_QUEUE: taskQueue,
  SHUTDOWN_DRAIN_SECONDS: String(DRAIN_SECONDS),
  SHUTDOWN_GRACE_SECONDS: '5',
});
const api = async (port?: number) => {
  const child = await spawnApi(databaseUrl, { port, env: apiEnv() });
  apis.push(child);
  return child;
};

interface Outcome {
  at: number;
  replica: string;
  status: number | string;
  ok: boolean;
  detail?: string;
}

async function post(url: string, token: string, query: string, variables: Record<string, unknown> = {}) {
  const response = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
  });
  return { status: response.status, body: (await response.json()) as { data?: any; errors?: unknown[] } };
}

/** Routes to replicas whose last /readyz (polled every 200 ms) answered 200, round robin. */
function loadBalancer(urls: string[]) {
  const ready = new Map(urls.map((u) => [u, false]));
  let stopped = false;
  let turn = 0;
  const poll = async (url: string) => {
    while (!stopped) {
      try {
        const r = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(1000) });
        await r.arrayBuffer();
        ready.set(url, r.status === 200);
      } catch {
        ready.set(url, false);
      }
      await sleep(200);
    }
  };
  const polling = urls.map(poll);
  return {
    ready: (url: string) => ready.get(url) === true,
    /** A ready replica (other than `avoid` if another is ready); waits while none is. */
    async pick(avoid?: string): Promise<string> {
      for (let waited = 0; ; waited += 20) {
        const candidates = urls.filter((u) => ready.get(u));
        const preferred = candidates.filter((u) => u !== avoid);
        const list = preferred.length ? preferred : candidates;
        if (list.length) return list[turn++ % list.length]!;
        if (waited > 30_000) throw new Error('no replica ready for 30 s');
        await sleep(20);
      }
    },
    async stop() {
      stopped = true;
      await Promise.all(polling);
    },
  };
}

interface Subscriber {
  received: number[];
  /** Replicas connected to, in order, and how each connection ended. */
  connections: { replica: string; closeCode?: number }[];
  failures: string[];
  done: Promise<void>;
}

/** A graphql-ws subscriber that, on 1001, subscribes again on another ready replica with afterSeq. */
function subscriber(lb: ReturnType<typeof loadBalancer>, first: string, token: string, id: string): Subscriber {
  const s: Subscriber = { received: [], connections: [], failures: [], done: Promise.resolve() };
  s.done = (async () => {
    let replica = first;
    for (;;) {
      const connection: Subscriber['connections'][number] = { replica };
      s.connections.push(connection);
      const client: Client = wsClient(`${replica.replace('http', 'ws')}/graphql`, token, { lazy: false, retryAttempts: 0 });
      const ended = await new Promise<'complete' | 'closed' | 'failed'>((resolve) => {
        client.subscribe<{ deploymentEvents: GqlEvent }>(
          { query: DEPLOYMENT_EVENTS, variables: { id, after: s.received.at(-1) ?? 0 } },
          {
            next: (r) => {
              if (r.errors?.length || !r.data) {
                s.failures.push(`errors on ${replica}: ${JSON.stringify(r.errors)}`);
                return resolve('failed');
              }
              s.received.push(r.data.deploymentEvents.seq);
            },
            error: (error) => {
              const code = (error as { code?: number }).code;
              connection.closeCode = code;
              if (code === 1001) return resolve('closed');
              s.failures.push(`error on ${replica}: ${code ?? JSON.stringify(error)}`);
              resolve('failed');
            },
            complete: () => resolve('complete'),
          },
        );
      });
      await client.dispose();
      if (ended !== 'closed') return;
      replica = await lb.pick(replica);
    }
  })();
  return s;
}

it('restarts both API replicas one after the other under load with 0 failed requests and 0 lost events', { timeout: 150_000 }, async () => {
  const port = (p: ApiProcess) => p.port;
  // The worker: its own task queue on the shared Temporal; it logs `worker running` once polling.
  const workerStart = spawnStageplane('worker', {
    DATABASE_URL: databaseUrl,
    JWT_SECRET: TEST_JWT_SECRET,
    DATA_DIR: mkdtempSync(join(tmpdir(), 'stageplane-rolling-worker-')),
    TEMPORAL_ADDRESS: inject('temporalAddress'),
    TEMPORAL_TASK_QUEUE: taskQueue,
  });
  let [a, b] = await Promise.all([api(), api()]);
  worker = await workerStart;
  const running = worker;
  await until(() => running.output().includes('"msg":"worker running"'), 60_000, 'the worker to poll');
  const urlA = a.url;
  const urlB = b.url;
  const lb = loadBalancer([urlA, urlB]);
  await until(() => lb.ready(urlA) && lb.ready(urlB), 10_000, 'both replicas ready at the load balancer');

  const admin = await signToken(secret, 'root', ['ADMIN']);
  const viewer = await signToken(secret, 'vic', ['VIEWER']);
  const setup = async (query: string, variables: Record<string, unknown>) => {
    const r = await post(await lb.pick(), admin, query, variables);
    expect(r.body.errors).toBeUndefined();
    return r.body.data;
  };
  const project = (
    await setup(`mutation($i: CreateProjectInput!) { createProject(input: $i) { id environment(slug: "development") { id } } }`, {
      i: { slug: `rolling-${randomBytes(3).toString('hex')}`, name: 'Rolling' },
    })
  ).createProject;
  await setup(`mutation($i: UpdateEnvironmentInput!) { updateEnvironment(input: $i) { id } }`, {
    i: { id: project.environment.id, deployTarget: { provider: 'SIMULATED', stepSeconds: STEP_SECONDS } },
  });
  const pushed = await setup(`mutation($i: RecordPushInput!) { recordPush(input: $i) { deployments { id } } }`, {
    i: { projectId: project.id, branch: 'main', commitSha: randomBytes(20).toString('hex') },
  });
  const id = pushed.recordPush.deployments[0].id as string;

  // Subscribers spread over both replicas.
  const subscribers = Array.from({ length: SUBSCRIBERS }, (_, i) => subscriber(lb, i % 2 === 0 ? urlA : urlB, viewer, id));

  // The steady load: 20 queries a second through the load balancer, each answered or failed.
  const outcomes: Outcome[] = [];
  const inFlight = new Set<Promise<void>>();
  const STATUS = `query($id: ID!) { deployment(id: $id) { id status events { seq } } }`;
  const send = async () => {
    const replica = await lb.pick();
    const at = Date.now();
    try {
      const r = await post(replica, viewer, STATUS, { id });
      const ok = r.status === 200 && !r.body.errors && r.body.data?.deployment?.id === id;
      outcomes.push({ at, replica, status: r.status, ok, detail: ok ? undefined : JSON.stringify(r.body).slice(0, 300) });
    } catch (error) {
      outcomes.push({ at, replica, status: 'network', ok: false, detail: String((error as Error).cause ?? error) });
    }
  };
  const load = setInterval(() => {
    const p = send().finally(() => inFlight.delete(p));
    inFlight.add(p);
  }, 50);

  const statusNow = async () => (await post(await lb.pick(), viewer, STATUS, { id })).body.data.deployment.status as string;
  await until(() => subscribers.every((s) => s.received.length >= 3), 60_000, 'every subscriber to receive events');

  // A request that reaches a replica after it went unready, before the load balancer noticed, is
  // still served: sent straight to it while its /readyz already says 503.
  const drainedRequests: Outcome[] = [];
  const restart = async (victim: ApiProcess, url: string) => {
    expect(await statusNow()).toBe('RUNNING'); // the restart happens mid-deployment
    const exited = victim.kill('SIGTERM');
    await until(
      async () => {
        const r = await fetch(`${url}/readyz`);
        return r.status === 503 && ((await r.json()) as { status: string }).status === 'shutting down';
      },
      5_000,
      `${url} readyz 503 shutting down`,
    );
    for (let i = 0; i < 3; i++) {
      const r = await post(url, viewer, STATUS, { id });
      drainedRequests.push({ at: Date.now(), replica: url, status: r.status, ok: r.status === 200 && !r.body.errors });
    }
    expect(await exited).toBe(0);
    const replacement = await api(port(victim));
    await until(() => lb.ready(url), 10_000, `the replacement at ${url} ready at the load balancer`);
    return replacement;
  };
  a = await restart(a, urlA);
  b = await restart(b, urlB);

  const final = await until(
    async () => {
      const d = (await post(await lb.pick(), viewer, STATUS, { id })).body.data.deployment as { status: string; events: { seq: number }[] };
      return ['SUCCEEDED', 'FAILED', 'CANCELLED'].includes(d.status) ? d : null;
    },
    90_000,
    'the deployment to end',
  );
  await Promise.all(subscribers.map((s) => s.done));
  clearInterval(load);
  await Promise.all(inFlight);
  await lb.stop();

  expect(final.status).toBe('SUCCEEDED');
  const n = final.events.length;
  expect(final.events.map((e) => e.seq)).toEqual(range(1, n));
  const failed = outcomes.filter((o) => !o.ok);
  expect(failed).toEqual([]);
  expect(drainedRequests.every((o) => o.ok)).toBe(true);
  expect(drainedRequests).toHaveLength(6);
  // Enough load to mean something: queries kept coming through both restarts.
  expect(outcomes.length).toBeGreaterThan(100);
  for (const s of subscribers) {
    expect(s.failures).toEqual([]);
    expect(s.received).toEqual(range(1, n)); // every seq, once, in order
    // Each moved at least once, on a 1001, to the other replica; only the last connection completed.
    expect(s.connections.length).toBeGreaterThanOrEqual(2);
    expect(s.connections.slice(0, -1).map((c) => c.closeCode)).toEqual(s.connections.slice(0, -1).map(() => 1001));
    expect(s.connections.at(-1)!.closeCode).toBeUndefined();
  }
  await Promise.all([a.kill('SIGTERM'), b.kill('SIGTERM')]);
});
