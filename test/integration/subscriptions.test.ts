// Live progress end to end, in one API server on a real PostgreSQL database: `deploymentEvents`
// and `projectEvents` over graphql-ws (the real client) and over SSE (fetch), replay + live
// ordering under concurrent writes, resume, fan-out cost, slow consumers, protocol and auth
// failures, limits, keep-alive and the LISTEN connection's recovery. Deployments and their
// events are written straight into the database, as the workflows write them.
import { badJwts } from '../support/client.ts';
import { sql } from 'drizzle-orm';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createDatabase, type DatabaseHandle } from '../../db/client.ts';
import { SLOW_CONSUMER_CLOSE_CODE } from '../../live/transport-closer.ts';
import { ADMIN_URL, createTestDatabase } from '../support/database.ts';
import {
  appendEvent,
  appendProgress,
  collect,
  createDeploymentFixture,
  createProjectFixture,
  DEPLOYMENT_EVENTS,
  globalIdOf,
  PROJECT_EVENTS,
  range,
  rawSocket,
  seqs,
  sleep,
  sse,
  startLiveServer,
  until,
  wsClient,
  type LiveServer,
} from '../support/live-clients.ts';

const MAX_BUFFERED = 20;
const MAX_OPERATIONS = 5;

let server: LiveServer;
let databaseUrl: string;
let dropDb: () => Promise<void>;
let token: string;

beforeAll(async () => {
  const db = await createTestDatabase();
  databaseUrl = db.url;
  dropDb = db.drop;
  server = await startLiveServer(db.url, {
    hub: { maxBuffered: MAX_BUFFERED, replayPageSize: 7 },
    websocket: { maxOperations: MAX_OPERATIONS },
  });
  token = await server.token('vera', ['VIEWER']);
});
afterAll(async () => {
  await server?.stop();
  await dropDb?.();
});

const fixture = () => createDeploymentFixture(server.database.db);
const succeed = (deploymentId: string) => appendEvent(server.database, deploymentId, { type: 'SUCCEEDED', status: 'SUCCEEDED' });

describe('deploymentEvents: replay, then live', () => {
  it('delivers every seq once, in order, to subscribers joining at any point of concurrent writes (WebSocket and SSE)', async () => {
    const d = await fixture();
    const clients: ReturnType<typeof wsClient>[] = [];
    const subscribers: { afterSeq: number; events: () => { seq: number }[]; done: Promise<unknown> }[] = [];
    const join = async (afterSeq: number) => {
      const client = wsClient(server.wsUrl, token);
      clients.push(client);
      const ws = collect(client, DEPLOYMENT_EVENTS, { id: d.globalId, after: afterSeq });
      subscribers.push({ afterSeq, events: () => ws.events, done: ws.done });
      const stream = await sse(server.url, token, DEPLOYMENT_EVENTS, { id: d.globalId, after: afterSeq });
      expect(stream.status).toBe(200);
      subscribers.push({ afterSeq, events: () => stream.events, done: stream.ended.then((how) => expect(how).toBe('complete')) });
    };
    let last = 0;
    for (let burst = 0; burst < 6; burst++) {
      // Subscribers join while the previous burst may still be committing.
      const joining = [join(0), join(Math.max(0, last - 3)), join(last)];
      // Ten writers at once on one deployment: the row lock orders them, seq 1, 2, 3, ...
      const rows = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          appendEvent(server.database, d.deploymentId, { type: 'STEP_PROGRESS', status: 'RUNNING', message: `b${burst}-${i}` }),
        ),
      );
      await Promise.all(joining);
      last = Math.max(last, ...rows.map((r) => r.seq));
    }
    expect(last).toBe(60);
    const final = await succeed(d.deploymentId);
    await Promise.all(subscribers.map((s) => s.done));
    for (const s of subscribers) expect(seqs(s.events())).toEqual(range(s.afterSeq + 1, final.seq));
    const one = subscribers[0]!.events()[60] as unknown as Record<string, unknown>;
    expect(one).toMatchObject({ seq: 61, type: 'SUCCEEDED', status: 'SUCCEEDED', deploymentId: d.globalId });
    expect(subscribers).toHaveLength(36);
    await Promise.all(clients.map((c) => c.dispose()));
    await until(() => server.hub.subscribers(d) === 0, 5000, 'subscribers released');
  });

  it('delivers an event committed between the replay and the live feed exactly once', async () => {
    const d = await fixture();
    await appendProgress(server.database, d.deploymentId, 3);
    const hub = server.hub;
    const readLog = hub.readLog.bind(hub);
    let calls = 0;
    // Around the first replay query: one event commits after the subscriber registered but
    // before the replay reads (it arrives on both paths), one right after the replay read (live only).
    hub.readLog = async (deploymentId, afterSeq, limit) => {
      if (deploymentId !== d.deploymentId || calls++ > 0) return readLog(deploymentId, afterSeq, limit);
      await appendEvent(server.database, d.deploymentId, { type: 'LOG', status: 'RUNNING', message: 'before replay' });
      await sleep(50);
      const rows = await readLog(deploymentId, afterSeq, limit);
      await appendEvent(server.database, d.deploymentId, { type: 'LOG', status: 'RUNNING', message: 'after replay' });
      await sleep(50);
      return rows;
    };
    try {
      const client = wsClient(server.wsUrl, token);
      const sub = collect(client, DEPLOYMENT_EVENTS, { id: d.globalId, after: 1 });
      await until(() => sub.events.length >= 4, 5000, 'replay and the two racing events');
      await succeed(d.deploymentId);
      await sub.done;
      expect(seqs(sub.events)).toEqual([2, 3, 4, 5, 6]);
      expect(sub.events.map((e) => e.message)).toEqual([null, null, 'before replay', 'after replay', null]);
      await client.dispose();
    } finally {
      hub.readLog = readLog;
    }
  });

  it('replays a finished deployment and completes at once; resuming after its end completes with nothing', async () => {
    const d = await fixture();
    await appendProgress(server.database, d.deploymentId, 16); // more than two replay pages
    await appendEvent(server.database, d.deploymentId, { type: 'FAILED', status: 'FAILED', message: 'boom' });
    const client = wsClient(server.wsUrl, token);
    const all = collect(client, DEPLOYMENT_EVENTS, { id: d.globalId });
    await all.done;
    expect(seqs(all.events)).toEqual(range(1, 17));
    expect(all.events.at(-1)).toMatchObject({ type: 'FAILED', status: 'FAILED', message: 'boom' });
    const tail = collect(client, DEPLOYMENT_EVENTS, { id: d.globalId, after: 15 });
    await tail.done;
    expect(seqs(tail.events)).toEqual([16, 17]);
    const nothing = collect(client, DEPLOYMENT_EVENTS, { id: d.globalId, after: 17 });
    await nothing.done;
    expect(nothing.events).toEqual([]);
    const overSse = await sse(server.url, token, DEPLOYMENT_EVENTS, { id: d.globalId, after: 10 });
    expect(await overSse.ended).toBe('complete');
    expect(seqs(overSse.events)).toEqual(range(11, 17));
    await client.dispose();
  });

  it('resumes from afterSeq after the client disconnects', async () => {
    const d = await fixture();
    const first = wsClient(server.wsUrl, token);
    const before = collect(first, DEPLOYMENT_EVENTS, { id: d.globalId });
    await appendProgress(server.database, d.deploymentId, 4);
    await until(() => before.events.length === 4);
    await first.dispose();
    await until(() => server.hub.subscribers(d) === 0, 5000, 'the hub to release the subscriber');
    await appendProgress(server.database, d.deploymentId, 3); // while nobody listens
    const lastSeen = before.events.at(-1)!.seq;
    const second = wsClient(server.wsUrl, token);
    const after = collect(second, DEPLOYMENT_EVENTS, { id: d.globalId, after: lastSeen });
    await until(() => after.events.length === 3);
    await succeed(d.deploymentId);
    await after.done;
    expect([...seqs(before.events), ...seqs(after.events)]).toEqual(range(1, 8));
    await second.dispose();
  });

  it('refuses a negative afterSeq or one beyond the last event with BAD_USER_INPUT', async () => {
    const d = await fixture();
    await appendProgress(server.database, d.deploymentId, 2);
    const client = wsClient(server.wsUrl, token);
    for (const after of [-1, 3]) {
      const sub = collect(client, DEPLOYMENT_EVENTS, { id: d.globalId, after });
      await expect(sub.done).rejects.toBeDefined();
      expect((sub.errors[0] as any).extensions.code).toBe('BAD_USER_INPUT');
    }
    await client.dispose();
  });
});

describe('projectEvents', () => {
  it("delivers every event of the project's deployments live, and none of other projects", async () => {
    const project = await createProjectFixture(server.database.db);
    const other = await createDeploymentFixture(server.database.db);
    const a = await createDeploymentFixture(server.database.db, project);
    await appendProgress(server.database, a.deploymentId, 2); // before subscribing: not delivered
    const client = wsClient(server.wsUrl, token);
    const ws = collect(client, PROJECT_EVENTS, { slug: project.projectSlug });
    const stream = await sse(server.url, token, PROJECT_EVENTS, { slug: project.projectSlug });
    await until(() => server.hub.subscribers(project) === 2, 5000, 'both project subscribers');
    const b = await createDeploymentFixture(server.database.db, project);
    await Promise.all([
      appendProgress(server.database, a.deploymentId, 3),
      appendProgress(server.database, b.deploymentId, 3),
      appendProgress(server.database, other.deploymentId, 3),
    ]);
    await succeed(b.deploymentId);
    await until(() => ws.events.length === 7 && stream.events.length === 7, 5000, 'seven project events on both transports');
    for (const events of [ws.events, stream.events]) {
      expect(events.filter((e) => e.deploymentId === a.globalId).map((e) => e.seq)).toEqual([3, 4, 5]);
      expect(events.filter((e) => e.deploymentId === b.globalId).map((e) => e.seq)).toEqual([1, 2, 3, 4]);
    }
    // A finished deployment does not end a project subscription.
    expect(ws.completed()).toBe(false);
    stream.abort();
    await client.dispose();
    await until(() => server.hub.subscribers(project) === 0, 5000, 'project subscribers released');
  });
});

describe('fan-out', () => {
  it('loads no event its notification carries, and one it does not once per process, whatever the number of subscribers', async () => {
    const project = await createProjectFixture(server.database.db);
    const d = await createDeploymentFixture(server.database.db, project);
    const clients = Array.from({ length: 10 }, () => wsClient(server.wsUrl, token));
    const subs = clients.flatMap((c) => [
      ...Array.from({ length: 4 }, () => collect(c, DEPLOYMENT_EVENTS, { id: d.globalId })),
      collect(c, PROJECT_EVENTS, { slug: project.projectSlug }),
    ]);
    await until(
      () => {
        return server.hub.subscribers(d) === 40 && server.hub.subscribers(project) === 10;
      },
      10_000,
      '50 subscribers',
    );
    await sleep(100); // let the replays finish
    const loadsBefore = server.hub.stats().loads;
    server.queries.length = 0;
    for (let i = 1; i <= 5; i++) {
      await appendEvent(server.database, d.deploymentId, { type: 'STEP_PROGRESS', status: 'RUNNING', progress: i / 10 });
      await until(() => subs.every((s) => s.events.length === i), 5000, `event ${i} everywhere`);
    }
    const reads = () => server.queries.filter((q) => /^select/i.test(q) && q.includes('"deployment_events"'));
    // The rows rode in their notifications (db/event-log.ts notificationOf): nothing to load.
    expect(reads()).toHaveLength(0);
    expect(server.hub.stats().loads - loadsBefore).toBe(0);
    // Too long for a notification (PostgreSQL's 8000 bytes): loaded, once for everyone.
    for (let i = 6; i <= 7; i++) {
      await appendEvent(server.database, d.deploymentId, { type: 'LOG', status: 'RUNNING', message: 'x'.repeat(9000) });
      await until(() => subs.every((s) => s.events.length === i), 5000, `event ${i} everywhere`);
    }
    const withMessage = subs.filter((s) => s.events.at(-1)!.message !== undefined); // deploymentEvents selects it
    expect(withMessage).toHaveLength(40);
    expect(withMessage.every((s) => s.events.at(-1)!.message === 'x'.repeat(9000))).toBe(true);
    expect(reads()).toHaveLength(2);
    expect(server.hub.stats().loads - loadsBefore).toBe(2);
    await Promise.all(clients.map((c) => c.dispose()));
  });

  it('batches notifications that arrive together into one query', async () => {
    const project = await createProjectFixture(server.database.db);
    const ds = await Promise.all(Array.from({ length: 8 }, () => createDeploymentFixture(server.database.db, project)));
    const client = wsClient(server.wsUrl, token);
    const sub = collect(client, PROJECT_EVENTS, { slug: project.projectSlug });
    await until(() => server.hub.subscribers(project) === 1);
    const before = server.hub.stats();
    // One transaction, eight events: their notifications are delivered together at commit. Their
    // messages are too long to ride in a notification, so they are loaded.
    await server.database.db.transaction(async (tx) => {
      const { appendDeploymentEvent } = await import('../../db/event-log.ts');
      for (const d of ds) await appendDeploymentEvent(tx, d.deploymentId, { type: 'CREATED', status: 'QUEUED', message: 'm'.repeat(8000) });
    });
    await until(() => sub.events.length === 8);
    const after = server.hub.stats();
    expect(after.loads - before.loads).toBe(1);
    expect(after.loadedRows - before.loadedRows).toBe(8);
    await client.dispose();
  });

  it('drops a subscriber that stops reading with close code 4008, without slowing the others', async () => {
    const d = await fixture();
    const slow = await rawSocket(server.wsUrl, token);
    slow.send({ id: 'slow', type: 'subscribe', payload: { query: DEPLOYMENT_EVENTS, variables: { id: d.globalId } } });
    await appendProgress(server.database, d.deploymentId, 1);
    await slow.next((m) => m.type === 'next');
    // The client stops reading: the kernel's buffers fill, then the hub's bounded queue.
    (slow.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket.pause();
    const fastClient = wsClient(server.wsUrl, token);
    const fast = collect(fastClient, DEPLOYMENT_EVENTS, { id: d.globalId });
    const droppedBefore = server.hub.stats().dropped;
    const big = 'x'.repeat(64 * 1024);
    let written = 1;
    const latencies: number[] = [];
    while (server.hub.stats().dropped === droppedBefore && written < 400) {
      const t0 = performance.now();
      await appendEvent(server.database, d.deploymentId, { type: 'LOG', status: 'RUNNING', message: big });
      written++;
      // The fast subscriber keeps receiving each event right away.
      await until(() => fast.events.length === written, 5000, `event ${written} on the fast subscriber`);
      latencies.push(performance.now() - t0);
    }
    expect(server.hub.stats().dropped).toBe(droppedBefore + 1);
    latencies.sort((x, y) => x - y);
    expect(latencies[Math.floor(latencies.length * 0.95)]).toBeLessThan(500);
    (slow.ws as unknown as { _socket: { resume(): void } })._socket.resume();
    const closed = await slow.closed;
    expect(closed.code).toBe(SLOW_CONSUMER_CLOSE_CODE);
    expect(closed.reason).toMatch(/slow consumer/);
    // What it did read is a prefix of the stream, in order: it can resume with afterSeq.
    const got = slow.messages.filter((m) => m.type === 'next').map((m) => m.payload.data.deploymentEvents.seq);
    expect(got).toEqual(range(1, got.length));
    await succeed(d.deploymentId);
    await fast.done;
    expect(seqs(fast.events)).toEqual(range(1, written + 1));
    await fastClient.dispose();
  });

  it('ends a slow SSE subscriber with an error saying so (and no terminal event), so the client resumes', async () => {
    const d = await fixture();
    const response = await fetch(`${server.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: DEPLOYMENT_EVENTS, variables: { id: d.globalId } }),
    });
    await until(() => server.hub.subscribers(d) === 1);
    const droppedBefore = server.hub.stats().dropped;
    const big = 'y'.repeat(64 * 1024);
    for (let i = 0; i < 600 && server.hub.stats().dropped === droppedBefore; i++) {
      await appendEvent(server.database, d.deploymentId, { type: 'LOG', status: 'RUNNING', message: big });
    }
    expect(server.hub.stats().dropped).toBe(droppedBefore + 1);
    // Reading now: what was sent, then the error, then the end of the stream.
    const text = await response.text();
    const results = text
      .split('\n\n')
      .filter((block) => block.startsWith('event: next'))
      .map((block) => JSON.parse(block.slice(block.indexOf('data:') + 5)));
    const last = results.at(-1);
    expect(last.errors[0].extensions).toEqual({ code: 'PRECONDITION_FAILED', reason: 'SLOW_CONSUMER' });
    expect(last.errors[0].message).toMatch(/slow consumer.*afterSeq/);
    const delivered = results.slice(0, -1).map((r) => r.data.deploymentEvents.seq);
    expect(delivered).toEqual(range(1, delivered.length));
  });
});

describe('errors, auth and limits over WebSocket', () => {
  it('answers an unknown or foreign deployment, or an unknown project, with NOT_FOUND and keeps the socket usable', async () => {
    let connections = 0;
    const client = wsClient(server.wsUrl, token, { lazy: false, on: { connected: () => void connections++ } });
    const project = await createProjectFixture(server.database.db);
    const ids = [
      globalIdOf('Deployment', '00000000-0000-4000-8000-000000000000'),
      globalIdOf('Project', project.projectId),
      'not-a-global-id',
    ];
    for (const id of ids) {
      const sub = collect(client, DEPLOYMENT_EVENTS, { id });
      await expect(sub.done).rejects.toBeDefined();
      expect((sub.errors[0] as any).extensions.code, id).toBe('NOT_FOUND');
    }
    const noProject = collect(client, PROJECT_EVENTS, { slug: 'no-such-project' });
    await expect(noProject.done).rejects.toBeDefined();
    expect((noProject.errors[0] as any).extensions.code).toBe('NOT_FOUND');
    // Same socket: a query and a working subscription.
    const viewer = await new Promise<any>((resolve, reject) => {
      client.subscribe({ query: '{ viewer { subject roles } }' }, { next: resolve, error: reject, complete: () => {} });
    });
    expect(viewer.data.viewer).toEqual({ subject: 'vera', roles: ['VIEWER'] });
    const d = await fixture();
    const sub = collect(client, DEPLOYMENT_EVENTS, { id: d.globalId });
    await succeed(d.deploymentId);
    await sub.done;
    expect(seqs(sub.events)).toEqual([1]);
    expect(connections).toBe(1);
    await client.dispose();
  });

  it('closes with 4401 without a token and 4403 with a bad one; an API token works', async () => {
    const closeCode = async (connectionParams: Record<string, unknown>) => {
      const client = wsClient(server.wsUrl, null, { connectionParams });
      const sub = collect(client, '{ viewer { subject } }', {});
      await sub.done.catch(() => {});
      await client.dispose();
      return (sub.errors[0] as { code?: number } | undefined)?.code;
    };
    expect(await closeCode({})).toBe(4401);
    expect(await closeCode({ authorization: '' })).toBe(4401);
    const { forged, none, expired } = await badJwts(token, server.config.jwtSecret);
    for (const bad of [`Bearer ${forged}`, `Bearer ${none}`, `Bearer ${expired}`, 'Bearer garbage', token, 'Basic abc']) {
      expect(await closeCode({ authorization: bad }), bad).toBe(4403);
    }
    // No token value reaches the log.
    expect(server.logs.join('\n')).not.toContain(forged);

    // An API token from createApiToken is accepted too.
    const { createApiTokenForTest } = await apiTokenHelper();
    const apiToken = await createApiTokenForTest();
    const client = wsClient(server.wsUrl, apiToken);
    const viewer = await new Promise<any>((resolve, reject) => {
      client.subscribe({ query: '{ viewer { subject roles } }' }, { next: resolve, error: reject, complete: () => {} });
    });
    expect(viewer.data.viewer).toEqual({ subject: 'token:ws-test', roles: ['VIEWER'] });
    await client.dispose();

    // SSE without a token: UNAUTHENTICATED.
    const response = await fetch(`${server.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({ query: PROJECT_EVENTS, variables: { slug: 'x' } }),
    });
    expect(await response.text()).toContain('UNAUTHENTICATED');
  });

  it('closes only the socket that sends a malformed protocol message', async () => {
    const d = await fixture();
    const goodClient = wsClient(server.wsUrl, token);
    const good = collect(goodClient, DEPLOYMENT_EVENTS, { id: d.globalId });
    await until(() => server.hub.subscribers(d) === 1);
    for (const garbage of ['not json', '{"type":"subscribe"}', '{"type":"bogus","id":"1"}', '{"id":"1","type":"subscribe","payload":{}}']) {
      const bad = await rawSocket(server.wsUrl, token);
      bad.send(garbage);
      expect((await bad.closed).code, garbage).toBe(4400);
    }
    // Before connection_init, a subscribe is refused with 4401.
    const early = await rawSocket(server.wsUrl, token, false);
    early.send({ id: '1', type: 'subscribe', payload: { query: '{ viewer { subject } }' } });
    expect((await early.closed).code).toBe(4401);
    // Without the graphql-transport-ws subprotocol: 4406.
    const wrong = new WebSocket(server.wsUrl);
    expect(await new Promise<number>((resolve) => wrong.once('close', (code) => resolve(code)))).toBe(4406);
    await appendProgress(server.database, d.deploymentId, 2);
    await succeed(d.deploymentId);
    await good.done;
    expect(seqs(good.events)).toEqual([1, 2, 3]);
    await goodClient.dispose();
  });

  it('applies the graphql-armor limits and syntax checks per operation, keeping the socket open', async () => {
    let connections = 0;
    const client = wsClient(server.wsUrl, token, { lazy: false, on: { connected: () => void connections++ } });
    const run = (query: string, variables?: Record<string, unknown>) =>
      new Promise<any>((resolve) => {
        client.subscribe(
          { query, variables },
          { next: resolve, error: (e) => resolve({ errors: Array.isArray(e) ? e : [e] }), complete: () => {} },
        );
      });
    // Every refusal of the operation itself carries the contract's BAD_USER_INPUT.
    const codes = (result: any) => (result?.errors ?? []).map((e: any) => e.extensions?.code);
    const deep = `{ projects { edges { node { environments { promotesFrom { promotesFrom { promotesFrom { promotesFrom { promotesFrom { promotesFrom { promotesFrom { promotesFrom { promotesFrom { slug } } } } } } } } } } } } } }`;
    const deepResult = await run(deep);
    expect(JSON.stringify(deepResult.errors)).toMatch(/depth/i);
    expect(codes(deepResult)).toEqual(['BAD_USER_INPUT']);
    const aliases = `{ ${Array.from({ length: 40 }, (_, i) => `a${i}: viewer { subject }`).join(' ')} }`;
    const aliasResult = await run(aliases);
    expect(JSON.stringify(aliasResult.errors)).toMatch(/alias/i);
    expect(codes(aliasResult)).toEqual(['BAD_USER_INPUT']);
    const tokens = `{ viewer { ${Array.from({ length: 3100 }, () => 'subject').join(' ')} } }`;
    const tokenResult = await run(tokens);
    expect(JSON.stringify(tokenResult.errors)).toMatch(/token/i);
    expect(codes(tokenResult)).toEqual(['BAD_USER_INPUT']);
    const syntaxResult = await run('{ viewer { ');
    expect(JSON.stringify(syntaxResult?.errors)).toMatch(/Syntax Error/);
    expect(codes(syntaxResult)).toEqual(['BAD_USER_INPUT']);
    const unknownField = await run('{ viewer { subject passwordHash } }');
    expect(JSON.stringify(unknownField.errors)).toMatch(/passwordHash/);
    expect(codes(unknownField)).toEqual(['BAD_USER_INPUT']);
    const coercion = await run('query($slug: String!) { project(slug: $slug) { id } }', { slug: 42 });
    expect(JSON.stringify(coercion.errors)).toMatch(/\$slug/);
    expect(codes(coercion)).toEqual(['BAD_USER_INPUT']);
    const ok = await run('{ viewer { subject } }');
    expect(ok.data.viewer.subject).toBe('vera');
    expect(connections).toBe(1);
    await client.dispose();
  });

  it(`caps the operations of one connection at ${MAX_OPERATIONS}`, async () => {
    const d = await fixture();
    const client = wsClient(server.wsUrl, token);
    const subs = Array.from({ length: MAX_OPERATIONS }, () => collect(client, DEPLOYMENT_EVENTS, { id: d.globalId }));
    await until(() => server.hub.subscribers(d) === MAX_OPERATIONS);
    const extra = collect(client, DEPLOYMENT_EVENTS, { id: d.globalId });
    await expect(extra.done).rejects.toBeDefined();
    expect((extra.errors[0] as any).extensions.code).toBe('PRECONDITION_FAILED');
    subs[0]!.stop();
    await until(() => server.hub.subscribers(d) === MAX_OPERATIONS - 1);
    const again = collect(client, DEPLOYMENT_EVENTS, { id: d.globalId });
    await succeed(d.deploymentId);
    await Promise.all([again.done, ...subs.slice(1).map((s) => s.done)]);
    expect(seqs(again.events)).toEqual([1]);
    await client.dispose();
  });

  it('pings every connection and cuts one that never answers', async () => {
    const pinging = await startLiveServer(databaseUrl, { websocket: { keepAliveMs: 200 } });
    try {
      await pingTest(pinging);
    } finally {
      await pinging.stop();
    }
  });
  const pingTest = async (server: LiveServer) => {
    const live = await rawSocket(server.wsUrl, token);
    let pings = 0;
    live.ws.on('ping', () => void pings++);
    await sleep(700);
    expect(pings).toBeGreaterThanOrEqual(2);
    expect(live.ws.readyState).toBe(WebSocket.OPEN);
    live.ws.close();
    const mute = new WebSocket(server.wsUrl, 'graphql-transport-ws', { autoPong: false });
    const started = Date.now();
    const code = await new Promise<number>((resolve) => mute.once('close', (c) => resolve(c)));
    expect(code).toBe(1006);
    expect(Date.now() - started).toBeLessThan(3000);
  };
});

describe('the LISTEN connection', () => {
  it('re-listens after the database drops every connection and replays what was missed', async () => {
    const project = await createProjectFixture(server.database.db);
    const d = await createDeploymentFixture(server.database.db, project);
    const client = wsClient(server.wsUrl, token, { retryAttempts: 0 });
    const dep = collect(client, DEPLOYMENT_EVENTS, { id: d.globalId });
    const proj = collect(client, PROJECT_EVENTS, { slug: project.projectSlug });
    await until(() => server.hub.subscribers(project) === 1 && server.hub.subscribers(d) === 1, 10_000, 'both subscriptions');
    await appendProgress(server.database, d.deploymentId, 2);
    await until(
      () => dep.events.length === 2 && proj.events.length === 2,
      10_000,
      () => `the first two events: ${JSON.stringify({ dep: dep.events.length, proj: proj.events.length, hub: server.hub.stats() })}`,
    );
    const relistens = server.hub.stats().relistens;
    const state = () =>
      JSON.stringify({ dep: seqs(dep.events), proj: proj.events.map((e) => [e.deploymentId.slice(-6), e.seq]), hub: server.hub.stats() });

    // A writer that outlives the "restart" (its own connection, spared below).
    const writer: DatabaseHandle = await createDatabase({ url: databaseUrl, poolSize: 1 });
    const admin = postgres(ADMIN_URL, { max: 1, onnotice: () => {} });
    const dbName = new URL(databaseUrl).pathname.slice(1);
    try {
      const { pid } = (await writer.db.execute(sql`select pg_backend_pid() as pid`).then((r: any) => (r.rows ?? r)[0])) as { pid: number };
      // Like a restart: no new connections for a while, every existing one cut.
      await admin.unsafe(`alter database ${dbName} allow_connections false`);
      await admin`select pg_terminate_backend(pid) from pg_stat_activity where datname = ${dbName} and pid <> ${pid}`;
      // Written while the API's LISTEN connection is down.
      await appendProgress(writer, d.deploymentId, 3);
      const late = await createDeploymentFixture(writer.db, project);
      await appendEvent(writer, late.deploymentId, { type: 'CREATED', status: 'QUEUED' });
      await sleep(1000);
      expect(dep.events.length).toBe(2);
      await admin.unsafe(`alter database ${dbName} allow_connections true`);
      await until(
        () => server.hub.stats().relistens > relistens,
        30_000,
        () => `the LISTEN to come back: ${state()}`,
      );
      await until(
        () => dep.events.length === 5 && proj.events.length === 6,
        10_000,
        () => `the missed events: ${state()}`,
      );
      // And live again.
      await appendEvent(writer, d.deploymentId, { type: 'SUCCEEDED', status: 'SUCCEEDED' });
      await dep.done;
      expect(seqs(dep.events)).toEqual(range(1, 6));
      await until(
        () => proj.events.length === 7,
        10_000,
        () => `the live event on the project: ${state()}`,
      );
      expect(proj.events.map((e) => [e.deploymentId === d.globalId ? 'd' : 'late', e.seq])).toEqual([
        ['d', 1],
        ['d', 2],
        ['d', 3],
        ['d', 4],
        ['d', 5],
        ['late', 1],
        ['d', 6],
      ]);
      expect(server.hub.stats().recoveries).toBeGreaterThan(0);
    } finally {
      await admin.unsafe(`alter database ${dbName} allow_connections true`).catch(() => {});
      await admin.end();
      await writer.close();
      await client.dispose();
    }
  });
});

/** createApiToken through GraphQL over HTTP (ADMIN), for a VIEWER token named ws-test. */
async function apiTokenHelper() {
  return {
    async createApiTokenForTest() {
      const admin = await server.token('root', ['ADMIN']);
      const response = await fetch(`${server.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${admin}` },
        body: JSON.stringify({ query: 'mutation { createApiToken(input: { name: "ws-test", roles: [VIEWER] }) { token } }' }),
      });
      const body = (await response.json()) as { data: { createApiToken: { token: string } } };
      return body.data.createApiToken.token;
    },
  };
}

describe('embedded PGlite', () => {
  it("fans out through PGlite's own LISTEN: replay, live, completion", async () => {
    const { createEventHub } = await import('../../live/hub.ts');
    const pino = (await import('pino')).default;
    const embedded = await createDatabase({});
    try {
      await embedded.migrate();
      const hub = createEventHub({ database: embedded, databaseUrl: undefined, log: pino({ level: 'silent' }) });
      await hub.start();
      const d = await createDeploymentFixture(embedded.db);
      await appendProgress(embedded, d.deploymentId, 2);
      const feed = hub.followDeployment({ deploymentId: d.deploymentId, projectId: d.projectId, afterSeq: 1 });
      const project = hub.followProject(d.projectId);
      const got: number[] = [];
      const reading = (async () => {
        for await (const row of feed) got.push(row.seq);
      })();
      await until(() => got.length === 1);
      await appendProgress(embedded, d.deploymentId, 2);
      await appendEvent(embedded, d.deploymentId, { type: 'CANCELLED', status: 'CANCELLED' });
      await reading;
      expect(got).toEqual([2, 3, 4, 5]);
      const live: number[] = [];
      for (let i = 0; i < 3; i++) live.push((await project.next()).value!.seq);
      expect(live).toEqual([3, 4, 5]);
      await project.return();
      const stats = hub.stats();
      // The live rows rode in their notifications.
      expect(stats).toMatchObject({ deploymentSubscribers: 0, projectSubscribers: 0, loadedRows: 0, loads: 0 });
      await hub.stop();
    } finally {
      await embedded.close();
    }
  });
});
