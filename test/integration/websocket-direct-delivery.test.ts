// Live results of a shared subscription are written straight to each subscriber's socket
// (live/shared-executions.ts, server/websocket.ts: one serialization per result, no graphql-ws or
// envelop per subscriber). These tests hold it to what graphql-ws' own path guaranteed: order per
// operation across the switch to graphql-ws' path (a result with errors), nothing after complete,
// one closed socket harming no one, each selection its own bytes; SSE keeps its own path.
import type { FormattedExecutionResult } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../support/database.ts';
import {
  appendEvent,
  collect,
  createDeploymentFixture,
  DEPLOYMENT_EVENTS,
  range,
  rawSocket,
  seqs,
  sse,
  startLiveServer,
  until,
  wsClient,
  type GqlEvent,
  type LiveServer,
} from '../support/live-clients.ts';

let server: LiveServer;
let drop: () => Promise<void>;
let token: string;

beforeAll(async () => {
  const db = await createTestDatabase();
  drop = db.drop;
  server = await startLiveServer(db.url);
  token = await server.token('sam', ['VIEWER']);
});
afterAll(async () => {
  await server?.stop();
  await drop?.();
});

async function metric(name: string) {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  return Number(new RegExp(`^${name} (\\d+)`, 'm').exec(text)?.[1] ?? Number.NaN);
}
const directWrites = () => metric('stageplane_websocket_direct_writes_total');

const progress = (deploymentId: string, i: number) =>
  appendEvent(server.database, deploymentId, {
    type: 'STEP_PROGRESS',
    status: 'RUNNING',
    step: 'deploy',
    progress: i / 10,
    message: `step ${i}`,
  });
const finish = (deploymentId: string) => appendEvent(server.database, deploymentId, { type: 'SUCCEEDED', status: 'SUCCEEDED' });

/** Every result of one subscription, errors included, in arrival order. */
function record(client: ReturnType<typeof wsClient>, query: string, variables: Record<string, unknown>) {
  const results: FormattedExecutionResult<Record<string, GqlEvent>, unknown>[] = [];
  let completed = false;
  const done = new Promise<void>((resolve, reject) => {
    client.subscribe<Record<string, GqlEvent>>(
      { query, variables },
      {
        next: (result) => void results.push(result),
        error: reject,
        complete: () => {
          completed = true;
          resolve();
        },
      },
    );
  });
  done.catch(() => {});
  return { results, done, completed: () => completed };
}

describe('direct delivery of shared live results over graphql-ws', () => {
  it('keeps the order of an operation when a result with errors switches it to graphql-ws, and for everything after it', async () => {
    const d = await createDeploymentFixture(server.database.db);
    const client = wsClient(server.wsUrl, token);
    const sub = record(client, DEPLOYMENT_EVENTS, { id: d.globalId, after: 0 });
    await until(() => server.hub.subscribers(d) === 1, 5000, 'subscribed');
    const first = await progress(d.deploymentId, 1);
    await until(() => sub.results.length === 1, 5000, 'the first event');
    const before = await directWrites();
    // Appended back to back: rows queue behind writes in flight on both paths.
    for (let i = 2; i <= 4; i++) await progress(d.deploymentId, i);
    // NaN is no GraphQL Float: this event's result carries an error (progress: null).
    const failing = await appendEvent(server.database, d.deploymentId, { type: 'STEP_PROGRESS', status: 'RUNNING', progress: Number.NaN });
    for (let i = 6; i <= 8; i++) await progress(d.deploymentId, i);
    await until(() => sub.results.some((r) => r.errors), 10_000, 'the result with errors');
    const atSwitch = await directWrites();
    for (let i = 9; i <= 10; i++) await progress(d.deploymentId, i);
    const last = await finish(d.deploymentId);
    await sub.done;

    const got = sub.results.map((r) => r.data?.deploymentEvents?.seq);
    expect(got).toEqual(range(first.seq, last.seq));
    const failed = sub.results.filter((r) => r.errors?.length);
    expect(failed.map((r) => r.data?.deploymentEvents?.seq)).toEqual([failing.seq]);
    expect(failed[0]!.data!.deploymentEvents!.progress).toBeNull();
    expect(sub.completed()).toBe(true);
    // Events before the error went out directly; from the error on, graphql-ws sent every one.
    expect(atSwitch - before).toBeGreaterThan(0);
    expect(await directWrites()).toBe(atSwitch);
    await client.dispose();
  });

  it('writes nothing for an operation after its complete, while the socket and its other operations go on', async () => {
    const d = await createDeploymentFixture(server.database.db);
    const socket = await rawSocket(server.wsUrl, token);
    for (const id of ['stopped', 'witness']) {
      socket.send({ id, type: 'subscribe', payload: { query: DEPLOYMENT_EVENTS, variables: { id: d.globalId, after: 0 } } });
    }
    await until(() => server.hub.subscribers(d) === 2, 5000, 'two operations');
    const one = await progress(d.deploymentId, 1);
    const two = await progress(d.deploymentId, 2);
    for (const id of ['stopped', 'witness']) {
      await socket.next((m) => m.id === id && m.type === 'next' && m.payload.data.deploymentEvents.seq === two.seq);
    }
    const before = await directWrites();
    socket.send({ id: 'stopped', type: 'complete' });
    await until(() => server.hub.subscribers(d) === 1, 5000, 'the completed operation to leave');
    const rows: { seq: number }[] = [];
    for (let i = 3; i <= 6; i++) rows.push(await progress(d.deploymentId, i));
    await socket.next((m) => m.id === 'witness' && m.type === 'next' && m.payload.data.deploymentEvents.seq === rows.at(-1)!.seq);

    const seqsOf = (id: string) =>
      socket.messages.filter((m) => m.id === id && m.type === 'next').map((m) => m.payload.data.deploymentEvents.seq);
    expect(seqsOf('stopped')).toEqual([one.seq, two.seq]);
    expect(seqsOf('witness')).toEqual(range(one.seq, rows.at(-1)!.seq));
    // The witness's events after the complete were direct writes, and only its own.
    expect((await directWrites()) - before).toBe(rows.length);
    socket.ws.close();
  });

  it('delivers to every other subscriber when one socket is gone mid-stream', async () => {
    const d = await createDeploymentFixture(server.database.db);
    const clients = Array.from({ length: 4 }, () => wsClient(server.wsUrl, token));
    const subs = clients.map((c) => collect(c, DEPLOYMENT_EVENTS, { id: d.globalId, after: 0 }));
    const doomed = await rawSocket(server.wsUrl, token);
    doomed.send({ id: 'x', type: 'subscribe', payload: { query: DEPLOYMENT_EVENTS, variables: { id: d.globalId, after: 0 } } });
    await until(() => server.hub.subscribers(d) === 5, 5000, 'five subscribers');
    const first = await progress(d.deploymentId, 1);
    await doomed.next((m) => m.id === 'x' && m.type === 'next');
    // Cut without a closing handshake; the events go on at once, while the server may not know yet.
    doomed.ws.terminate();
    for (let i = 2; i <= 5; i++) await progress(d.deploymentId, i);
    const last = await finish(d.deploymentId);
    await Promise.all(subs.map((s) => s.done));
    for (const s of subs) expect(seqs(s.events)).toEqual(range(first.seq, last.seq));
    await until(() => server.hub.subscribers(d) === 0, 5000, 'everyone to leave');
    expect(server.logs.filter((l) => /"level":(50|60)/.test(l))).toEqual([]);
    await Promise.all(clients.map((c) => c.dispose()));
  });

  it('gives subscribers with different selections each their own result, on one socket and on several', async () => {
    const d = await createDeploymentFixture(server.database.db);
    const narrow = `subscription($id: ID!) { deploymentEvents(deploymentId: $id) { seq type } }`;
    const aliased = `subscription($id: ID!) { deploymentEvents(deploymentId: $id) { n: seq status } }`;
    const client = wsClient(server.wsUrl, token);
    const other = wsClient(server.wsUrl, token);
    const full = record(client, DEPLOYMENT_EVENTS, { id: d.globalId, after: 0 });
    const small = record(client, narrow, { id: d.globalId });
    const renamed = record(other, aliased, { id: d.globalId });
    await until(() => server.hub.subscribers(d) === 3, 5000, 'three subscribers');
    const before = await directWrites();
    const rows = [];
    for (let i = 1; i <= 3; i++) rows.push(await progress(d.deploymentId, i));
    rows.push(await finish(d.deploymentId));
    await Promise.all([full.done, small.done, renamed.done]);

    expect(full.results.map((r) => r.data!.deploymentEvents)).toEqual(
      rows.map((row) => ({
        seq: row.seq,
        deploymentId: d.globalId,
        type: row.type,
        status: row.status,
        step: row.step,
        progress: row.progress,
        message: row.message,
        at: row.at.toISOString(),
      })),
    );
    expect(small.results.map((r) => r.data!.deploymentEvents)).toEqual(rows.map((row) => ({ seq: row.seq, type: row.type })));
    expect(renamed.results.map((r) => r.data!.deploymentEvents)).toEqual(rows.map((row) => ({ n: row.seq, status: row.status })));
    expect((await directWrites()) - before).toBeGreaterThan(0);
    await client.dispose();
    await other.dispose();
  });

  it('leaves SSE subscribers on their own path, side by side with WebSocket ones', async () => {
    const d = await createDeploymentFixture(server.database.db);
    const client = wsClient(server.wsUrl, token);
    const ws = collect(client, DEPLOYMENT_EVENTS, { id: d.globalId, after: 0 });
    const stream = await sse(server.url, token, DEPLOYMENT_EVENTS, { id: d.globalId, after: 0 });
    expect(stream.status).toBe(200);
    await until(() => server.hub.subscribers(d) === 2, 5000, 'two subscribers');
    const rows = [];
    for (let i = 1; i <= 3; i++) rows.push(await progress(d.deploymentId, i));
    rows.push(await finish(d.deploymentId));
    expect(await stream.ended).toBe('complete');
    await ws.done;
    expect(seqs(stream.events)).toEqual(rows.map((r) => r.seq));
    expect(stream.events).toEqual(ws.events);
    expect(stream.errors).toEqual([]);
    await client.dispose();
  });
});
