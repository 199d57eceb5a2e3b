// Live progress across real API processes (`tsx server/main.ts api`, as `npm run start:api`)
// sharing one PostgreSQL database: replicas see each other's events, a client resumes from
// afterSeq across a SIGKILL and restart, and SIGTERM closes subscriptions so clients resume.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createDatabase, type DatabaseHandle } from '../../db/client.ts';
import { signToken } from '../../server/auth.ts';
import { createTestDatabase } from '../support/database.ts';
import { TEST_JWT_SECRET } from '../support/server.ts';
import {
  appendEvent,
  appendProgress,
  collect,
  createDeploymentFixture,
  DEPLOYMENT_EVENTS,
  PROJECT_EVENTS,
  range,
  seqs,
  sleep,
  spawnApi,
  sse,
  until,
  wsClient,
  type ApiProcess,
  type GqlEvent,
} from '../support/live-clients.ts';

let database: DatabaseHandle;
let databaseUrl: string;
let dropDb: () => Promise<void>;
const processes: ApiProcess[] = [];
const secret = new TextEncoder().encode(TEST_JWT_SECRET);

// Each process gets its own task queue: no worker of another test file takes its workflows.
const api = async (port?: number) => {
  const child = await spawnApi(databaseUrl, {
    port,
    env: { TEMPORAL_ADDRESS: inject('temporalAddress'), TEMPORAL_TASK_QUEUE: `replicas-${process.pid}-${processes.length}` },
  });
  processes.push(child);
  return child;
};

beforeAll(async () => {
  const db = await createTestDatabase();
  databaseUrl = db.url;
  dropDb = db.drop;
  database = await createDatabase({ url: db.url, poolSize: 4 });
  await database.migrate();
});
afterAll(async () => {
  await Promise.all(processes.map((p) => p.kill('SIGKILL')));
  await database?.close();
  await dropDb?.();
});

async function gql(url: string, token: string, query: string, variables: Record<string, unknown> = {}) {
  const response = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await response.json()) as { data?: any; errors?: unknown[] };
  expect(body.errors).toBeUndefined();
  return body.data;
}

describe('two API replicas on one database', () => {
  it('a subscriber on one replica sees the events caused through the other', { timeout: 120_000 }, async () => {
    const [a, b] = await Promise.all([api(), api()]);
    const admin = await signToken(secret, 'root', ['ADMIN']);
    const dev = await signToken(secret, 'dora', ['DEVELOPER']);
    const viewer = await signToken(secret, 'vic', ['VIEWER']);
    const project = (await gql(a.url, admin, 'mutation { createProject(input: { slug: "twins", name: "Twins" }) { id slug } }'))
      .createProject as { id: string; slug: string };

    // projectEvents on A over WebSocket, on B over SSE.
    const clientA = wsClient(a.wsUrl, viewer, { lazy: false });
    const onA = collect(clientA, PROJECT_EVENTS, { slug: 'twins' });
    const onB = await sse(b.url, viewer, PROJECT_EVENTS, { slug: 'twins' });
    await sleep(300);

    // A push through B: B's transaction writes the deployment and its CREATED event.
    const push = `mutation($input: RecordPushInput!) { recordPush(input: $input) { deployments { id status } } }`;
    const viaB = (await gql(b.url, dev, push, { input: { projectId: project.id, branch: 'main', commitSha: 'abc1234' } })).recordPush;
    expect(viaB.deployments).toHaveLength(1);
    const viaA = (await gql(a.url, dev, push, { input: { projectId: project.id, branch: 'main', commitSha: 'def5678' } })).recordPush;
    const ids = [viaB.deployments[0].id, viaA.deployments[0].id];
    const created = (events: GqlEvent[]) => events.filter((e) => e.type === 'CREATED').map((e) => e.deploymentId);
    await until(() => created(onA.events).length === 2 && created(onB.events).length === 2, 10_000, 'CREATED on both replicas');
    expect(created(onA.events)).toEqual(ids);
    expect(created(onB.events)).toEqual(ids);

    // deploymentEvents on both replicas while a third process (here: the test, as a worker) writes.
    const d = await createDeploymentFixture(database.db);
    const depA = collect(clientA, DEPLOYMENT_EVENTS, { id: d.globalId });
    const depB = await sse(b.url, viewer, DEPLOYMENT_EVENTS, { id: d.globalId });
    await sleep(200);
    await appendProgress(database, d.deploymentId, 5);
    await appendEvent(database, d.deploymentId, { type: 'SUCCEEDED', status: 'SUCCEEDED' });
    await depA.done;
    expect(await depB.ended).toBe('complete');
    expect(seqs(depA.events)).toEqual(range(1, 6));
    expect(seqs(depB.events)).toEqual(range(1, 6));

    onB.abort();
    await clientA.dispose();
  });
});

describe('restarts', () => {
  it('a client resumes from afterSeq after the server is SIGKILLed and restarted', { timeout: 120_000 }, async () => {
    const first = await api();
    const viewer = await signToken(secret, 'vic', ['VIEWER']);
    const d = await createDeploymentFixture(database.db);
    // The graphql-ws client reconnects on its own; it resubscribes with these very variables,
    // which follow the last seq received.
    const variables = { id: d.globalId, after: 0 };
    let connections = 0;
    const client = wsClient(first.wsUrl, viewer, {
      lazy: false,
      retryAttempts: 100,
      retryWait: async () => {
        await sleep(200);
      },
      shouldRetry: () => true,
      on: { connected: () => void connections++ },
    });
    const received: GqlEvent[] = [];
    const done = new Promise<void>((resolve, reject) => {
      client.subscribe<{ deploymentEvents: GqlEvent }>(
        { query: DEPLOYMENT_EVENTS, variables },
        {
          next: (r) => {
            if (r.errors) return reject(r.errors);
            received.push(r.data!.deploymentEvents);
            variables.after = r.data!.deploymentEvents.seq;
          },
          error: reject,
          complete: resolve,
        },
      );
    });
    // An SSE client that resumes by hand.
    const sseEvents: GqlEvent[] = [];
    let stream = await sse(first.url, viewer, DEPLOYMENT_EVENTS, { id: d.globalId, after: 0 });

    await appendProgress(database, d.deploymentId, 3);
    await until(() => received.length === 3 && stream.events.length === 3);
    await first.kill('SIGKILL');
    expect(await stream.ended).not.toBe('complete');
    sseEvents.push(...stream.events);

    // The deployment goes on while the API is down.
    await appendProgress(database, d.deploymentId, 3);
    const second = await api(first.port);
    stream = await sse(second.url, viewer, DEPLOYMENT_EVENTS, { id: d.globalId, after: sseEvents.at(-1)!.seq });
    await until(() => received.length === 6 && stream.events.length === 3, 20_000, 'the resumed streams');
    await appendEvent(database, d.deploymentId, { type: 'SUCCEEDED', status: 'SUCCEEDED' });
    await done;
    expect(await stream.ended).toBe('complete');
    sseEvents.push(...stream.events);
    expect(seqs(received)).toEqual(range(1, 7));
    expect(seqs(sseEvents)).toEqual(range(1, 7));
    expect(connections).toBeGreaterThanOrEqual(2);
    await client.dispose();
    await second.kill('SIGTERM');
  });

  it('SIGTERM closes WebSocket subscribers with 1001 and cuts SSE streams without `complete`, then exits 0', {
    timeout: 120_000,
  }, async () => {
    const server = await api();
    const viewer = await signToken(secret, 'vic', ['VIEWER']);
    const d = await createDeploymentFixture(database.db);
    const client = wsClient(server.wsUrl, viewer, { lazy: false, retryAttempts: 0 });
    const ws = collect(client, DEPLOYMENT_EVENTS, { id: d.globalId });
    const stream = await sse(server.url, viewer, DEPLOYMENT_EVENTS, { id: d.globalId });
    await appendProgress(database, d.deploymentId, 1);
    await until(() => ws.events.length === 1 && stream.events.length === 1);
    const started = Date.now();
    const exited = server.kill('SIGTERM');
    await expect(ws.done).rejects.toBeDefined();
    expect((ws.errors[0] as { code: number }).code).toBe(1001);
    expect(await stream.ended).not.toBe('complete');
    expect(await exited).toBe(0);
    // http.ts gives in-flight requests (the SSE stream) up to 5 s before it cuts them.
    expect(Date.now() - started).toBeLessThan(10_000);
    await client.dispose();
  });
});
