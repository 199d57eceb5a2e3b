// A result shared by many WebSocket subscribers (one execution per event and selection,
// live/shared-executions.ts) is serialized once and written to each of them as the same bytes,
// inside a `next` message that still carries each subscriber's own id. Subscribers whose
// selections differ get their own serialization; results nobody shares still arrive whole.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../support/database.ts';
import {
  appendEvent,
  createDeploymentFixture,
  DEPLOYMENT_EVENTS,
  rawSocket,
  startLiveServer,
  until,
  type LiveServer,
  type RawSocket,
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

async function serializations() {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  return Number(/^stageplane_websocket_payloads_serialized_total (\d+)/m.exec(text)?.[1] ?? NaN);
}

/** The text frames a raw socket received, as sent. */
function frames(socket: RawSocket) {
  const texts: string[] = [];
  socket.ws.on('message', (data, isBinary) => {
    expect(isBinary).toBe(false); // graphql-ws messages are text frames
    texts.push(String(data));
  });
  return texts;
}

describe('WebSocket next messages', () => {
  it('serialize a shared result once and write the same payload bytes to every subscriber, each under its own id', async () => {
    const d = await createDeploymentFixture(server.database.db);
    const sockets = await Promise.all(Array.from({ length: 6 }, () => rawSocket(server.wsUrl, token)));
    const texts = sockets.map(frames);
    // Four subscribers with one selection, two with another (the second pair shares its own result).
    const narrow = `subscription($id: ID!) { deploymentEvents(deploymentId: $id) { seq type } }`;
    sockets.forEach((s, i) => {
      s.send({
        id: `op-${i}`,
        type: 'subscribe',
        payload: { query: i < 4 ? DEPLOYMENT_EVENTS : narrow, variables: { id: d.globalId, after: 0 } },
      });
    });
    await until(() => server.hub.subscribers(d) === 6, 5000, 'six subscribers');
    const before = await serializations();
    const row = await appendEvent(server.database, d.deploymentId, { type: 'LOG', status: 'RUNNING', message: 'shared "bytes" ✓' });
    await Promise.all(
      sockets.map((s, i) => s.next((m) => m.type === 'next' && m.id === `op-${i}` && m.payload.data.deploymentEvents.seq === row.seq)),
    );
    expect((await serializations()) - before).toBe(2); // one per selection, not one per subscriber

    const nextOf = (i: number) => texts[i]!.find((t) => t.includes(`"seq":${row.seq}`))!;
    const payloadOf = (text: string) => text.slice(text.indexOf('"payload":') + '"payload":'.length, -1);
    for (let i = 0; i < 6; i++) {
      const message = JSON.parse(nextOf(i));
      expect(message.id).toBe(`op-${i}`);
      expect(message.type).toBe('next');
    }
    expect(new Set([0, 1, 2, 3].map((i) => payloadOf(nextOf(i)))).size).toBe(1);
    expect(new Set([4, 5].map((i) => payloadOf(nextOf(i)))).size).toBe(1);
    expect(JSON.parse(payloadOf(nextOf(0)))).toEqual({
      data: {
        deploymentEvents: {
          seq: row.seq,
          deploymentId: d.globalId,
          type: 'LOG',
          status: 'RUNNING',
          step: null,
          progress: null,
          message: 'shared "bytes" ✓',
          at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
        },
      },
    });
    expect(JSON.parse(payloadOf(nextOf(4)))).toEqual({ data: { deploymentEvents: { seq: row.seq, type: 'LOG' } } });
    for (const s of sockets) s.ws.close();
  });

  it('still answers queries and errors over the socket whole', async () => {
    const socket = await rawSocket(server.wsUrl, token);
    socket.send({ id: 'q', type: 'subscribe', payload: { query: '{ viewer { subject } }' } });
    expect((await socket.next((m) => m.id === 'q' && m.type === 'next')).payload).toEqual({ data: { viewer: { subject: 'sam' } } });
    socket.send({ id: 'bad', type: 'subscribe', payload: { query: '{ project(slug: "nope-nope") { id } }' } });
    const answer = await socket.next((m) => m.id === 'bad' && m.type === 'next');
    expect(answer.payload.data).toEqual({ project: null });
    socket.ws.close();
  });
});
