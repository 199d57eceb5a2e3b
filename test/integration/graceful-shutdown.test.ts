// The HTTP side of a graceful shutdown (server/http.ts), on a real server and database in this
// process: readiness flips at once while requests are still served, drain() waits for in-flight
// requests (bounded by the grace period) but not for SSE streams, and close() cuts what is left.
// test/integration/rolling-restart.test.ts runs the whole sequence across processes.
import { request } from 'node:http';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createDatabase, type DatabaseHandle } from '../../db/client.ts';
import { createTestDatabase } from '../support/database.ts';
import {
  appendProgress,
  createDeploymentFixture,
  DEPLOYMENT_EVENTS,
  sse,
  startLiveServer,
  until,
  type LiveServer,
} from '../support/live-clients.ts';

let databaseUrl: string;
let dropDb: () => Promise<void>;
let database: DatabaseHandle;
let server: LiveServer | null = null;

beforeAll(async () => {
  const db = await createTestDatabase();
  databaseUrl = db.url;
  dropDb = db.drop;
  database = await createDatabase({ url: db.url, poolSize: 2 });
  await database.migrate();
});
afterEach(async () => {
  await server?.stop();
  server = null;
});
afterAll(async () => {
  await database?.close();
  await dropDb?.();
});

/** One request over node:http (fetch hides the `connection` header): status, headers, body. */
function get(url: string, path: string, headers: Record<string, string> = {}) {
  return new Promise<{ status: number; headers: Record<string, unknown>; body: string }>((resolve, reject) => {
    const req = request(`${url}${path}`, { headers }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** A route the test holds open: `entered` once the request is in, answers 200 on `release()`. */
function heldRoute(live: LiveServer) {
  let entered = 0;
  let release = () => {};
  const gate = new Promise<void>((r) => (release = r));
  live.app.routes.unshift(async (req, res) => {
    if (req.url !== '/held') return false;
    entered++;
    await gate;
    res.writeHead(200, { 'content-type': 'text/plain' }).end('done');
    return true;
  });
  return { entered: () => entered, release: () => release() };
}

describe('graceful shutdown over HTTP', () => {
  it('beginShutdown: /readyz answers 503 "shutting down" at once while GraphQL and /healthz are still served, each closing its connection', async () => {
    server = await startLiveServer(databaseUrl);
    const token = await server.token();
    expect((await get(server.url, '/readyz')).status).toBe(200);
    const before = await get(server.url, '/graphql?query=%7B__typename%7D', { authorization: `Bearer ${token}` });
    expect(before.headers.connection).toBe('keep-alive');

    server.app.beginShutdown();
    const ready = await get(server.url, '/readyz');
    expect(ready.status).toBe(503);
    expect(JSON.parse(ready.body)).toEqual({ status: 'shutting down' }); // the database is fine: no checks ran
    expect((await get(server.url, '/healthz')).status).toBe(200);
    const query = await get(server.url, '/graphql?query=%7B__typename%7D', { authorization: `Bearer ${token}` });
    expect(query.status).toBe(200);
    expect(JSON.parse(query.body)).toEqual({ data: { __typename: 'Query' } });
    // No idle keep-alive connection is left for the load balancer to reuse after close().
    expect(query.headers.connection).toBe('close');
  });

  it('drain() refuses new connections, waits for an in-flight request, and resolves once it has answered', async () => {
    server = await startLiveServer(databaseUrl);
    const held = heldRoute(server);
    const inFlight = get(server.url, '/held');
    await until(() => held.entered() === 1);
    server.app.beginShutdown();
    let drained: { unfinished: number } | null = null;
    const draining = server.app.drain(60_000).then((r) => (drained = r));
    await expect(get(server.url, '/healthz')).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    expect(drained).toBeNull(); // still waiting for /held
    held.release();
    expect(await inFlight).toMatchObject({ status: 200, body: 'done' });
    expect(await draining).toEqual({ unfinished: 0 });
    await server.app.close();
  });

  it('drain() gives up after the grace period, saying how many requests are left, and close() cuts them', async () => {
    server = await startLiveServer(databaseUrl);
    const held = heldRoute(server);
    const stuck = get(server.url, '/held');
    stuck.catch(() => {});
    await until(() => held.entered() === 1);
    expect(await server.app.drain(200)).toEqual({ unfinished: 1 });
    expect(server.logs.some((l) => l.includes('requests still running after the grace period'))).toBe(true);
    await server.app.close();
    await expect(stuck).rejects.toMatchObject({ code: 'ECONNRESET' });
    held.release();
  });

  it('an open SSE subscription does not hold drain(); close() cuts it without `complete` (the client resumes with afterSeq)', async () => {
    server = await startLiveServer(databaseUrl);
    const d = await createDeploymentFixture(database.db);
    const stream = await sse(server.url, await server.token(), DEPLOYMENT_EVENTS, { id: d.globalId });
    expect(stream.status).toBe(200);
    await appendProgress(database, d.deploymentId, 1);
    await until(() => stream.events.length === 1);
    server.app.beginShutdown();
    // With a grace longer than the test's timeout, waiting for the stream would fail the test.
    expect(await server.app.drain(120_000)).toEqual({ unfinished: 0 });
    await server.app.close();
    expect(await stream.ended).not.toBe('complete');
  });
});
