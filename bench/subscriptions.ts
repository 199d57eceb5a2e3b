// Live-progress delivery: the latency from an event's commit to its arrival at every one of 1k,
// 5k and 10k `deploymentEvents` subscribers over graphql-ws (a real `tsx server/main.ts api`
// on PostgreSQL), against a raw `ws` server broadcasting the same bytes to as many sockets, in
// the same run. Prints p50/p99 of both, their ratio, and the server's RSS per subscriber.
// Everything runs on 127.0.0.1. Usage: npm run bench:subscriptions
//
// The clients live in this process, one WebSocket each, and time every message against the
// moment the event was written (GraphQL: before the append's transaction; raw: before the
// broadcast order reaches the raw server). Both paths pay the same client-side parsing.
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket, { WebSocketServer } from 'ws';
import type { DatabaseHandle } from '../db/client.ts';
import { until } from '../scripts/lib/until.ts';
import type { spawnStageplane } from '../test/support/process.ts';
// The rest is imported in main(): the raw server child loads nothing but `ws`.

const LEVELS = process.env.BENCH_LEVELS ? process.env.BENCH_LEVELS.split(',').map(Number) : [1000, 5000, 10_000];
// More rounds where they are cheap: at 1k a round takes ~15 ms and 10 of them left p50 ratios
// from 1.5 to 2.3x with the same code.
const ROUNDS: Record<number, number> = { 1000: 40, 5000: 10, 10000: 4 };
const WARMUP_ROUNDS = 1;
const CONNECT_CONCURRENCY = 200;
const ROUND_TIMEOUT_MS = 20_000;
const BUDGET_MS = 170_000;
const SELF = fileURLToPath(import.meta.url);

const QUERY =
  'subscription($id: ID!, $after: Int) { deploymentEvents(deploymentId: $id, afterSeq: $after) { seq deploymentId type status step progress message at } }';

// ---------------------------------------------------------------------------------------------
// The raw baseline: a bare ws server that sends what it is told to every socket.

function rawServer() {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
  wss.on('listening', () => {
    const address = wss.address();
    process.send!({ type: 'ready', port: typeof address === 'object' && address ? address.port : 0 });
  });
  process.on('message', (m: { type: string; payload?: string }) => {
    if (m.type === 'broadcast') for (const socket of wss.clients) socket.send(m.payload!);
    else if (m.type === 'stats') process.send!({ type: 'stats', clients: wss.clients.size });
    else if (m.type === 'gc') {
      (globalThis as { gc?: () => void }).gc?.();
      process.send!({ type: 'collected' });
    }
  });
  process.on('disconnect', () => process.exit(0));
}

// ---------------------------------------------------------------------------------------------
// Measuring

class Recorder {
  /** Sent-at times by seq, and per seq how many sockets got it. */
  readonly sentAt = new Map<number, number>();
  readonly arrived = new Map<number, number>();
  samples: number[] = [];
  recording = false;

  onMessage = (text: string) => {
    const now = performance.now();
    const message = JSON.parse(text) as { type: string; payload?: { data?: { deploymentEvents?: { seq: number } } } };
    const seq = message.payload?.data?.deploymentEvents?.seq;
    if (seq === undefined) return;
    this.arrived.set(seq, (this.arrived.get(seq) ?? 0) + 1);
    const sent = this.sentAt.get(seq);
    if (this.recording && sent !== undefined) this.samples.push(now - sent);
  };

  async waitAll(seq: number, expected: number): Promise<boolean> {
    const deadline = Date.now() + ROUND_TIMEOUT_MS;
    while ((this.arrived.get(seq) ?? 0) < expected) {
      if (Date.now() > deadline) return false;
      await new Promise((r) => setTimeout(r, 2));
    }
    return true;
  }
}

interface LevelResult {
  subscribers: number;
  rounds: number;
  samples: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  rssBytes: number;
  rssPerSubscriberBytes: number;
  /** RSS per subscriber after a full garbage collection (subscriber's retained memory). */
  collectedRssPerSubscriberBytes: number;
  incomplete: number;
}

/** The p-th percentile of sorted values (nearest rank). */
function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

function summarize(
  subscribers: number,
  rounds: number,
  samples: number[],
  memory: { rss: number; collected: number },
  base: { rss: number; collected: number },
  incomplete: number,
): LevelResult {
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    subscribers,
    rounds,
    samples: sorted.length,
    p50Ms: round(percentile(sorted, 50)),
    p99Ms: round(percentile(sorted, 99)),
    maxMs: round(sorted.at(-1) ?? NaN),
    rssBytes: memory.rss,
    rssPerSubscriberBytes: Math.round((memory.rss - base.rss) / subscribers),
    collectedRssPerSubscriberBytes: Math.round((memory.collected - base.collected) / subscribers),
    incomplete,
  };
}

const round = (n: number) => Math.round(n * 100) / 100;

function rssOf(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return kb * 1024;
}

/**
 * A full garbage collection of the server under test, through its inspector (started with
 * `--inspect=127.0.0.1:0`): what is left in RSS after it is what subscribers retain, without the
 * garbage their subscribe requests left in the young generation.
 */
async function collectGarbage(inspectorUrl: string): Promise<void> {
  const ws = new WebSocket(inspectorUrl);
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  await new Promise<void>((resolve) => {
    ws.on('message', (data) => {
      if ((JSON.parse(String(data)) as { id?: number }).id === 1) resolve();
    });
    ws.send(JSON.stringify({ id: 1, method: 'HeapProfiler.collectGarbage' }));
  });
  ws.close();
}

/**
 * RSS as it is, then after `collect` (a full collection) and a moment for V8 to hand the freed
 * pages back: the same reading on both sides, so the two figures compare.
 */
async function readMemory(pid: number, collect: () => Promise<void>): Promise<{ rss: number; collected: number }> {
  const rss = rssOf(pid);
  await collect();
  await new Promise((r) => setTimeout(r, 200));
  return { rss, collected: rssOf(pid) };
}

/** Opens `count` sockets with `open`, `CONNECT_CONCURRENCY` at a time. */
async function openMany(count: number, open: () => Promise<WebSocket>): Promise<WebSocket[]> {
  const sockets: WebSocket[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(CONNECT_CONCURRENCY, count) }, async () => {
      while (next < count) {
        next++;
        sockets.push(await open());
      }
    }),
  );
  return sockets;
}

async function closeAll(sockets: WebSocket[]) {
  await Promise.all(
    sockets.map(
      (s) =>
        new Promise<void>((resolve) => {
          if (s.readyState === WebSocket.CLOSED) return resolve();
          s.once('close', () => resolve());
          s.terminate();
        }),
    ),
  );
}

/** A graphql-transport-ws subscriber speaking the protocol by hand (no client library overhead). */
function graphqlSubscriber(wsUrl: string, token: string, id: string, after: number, recorder: Recorder): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(wsUrl, 'graphql-transport-ws', { perMessageDeflate: false });
    ws.on('open', () => ws.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } })));
    ws.on('message', (data) => {
      const text = String(data);
      if (text.startsWith('{"id"')) return recorder.onMessage(text);
      const message = JSON.parse(text) as { type: string; payload?: unknown };
      if (message.type === 'connection_ack') {
        ws.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: QUERY, variables: { id, after } } }));
        resolve(ws);
      } else if (message.type === 'ping') ws.send('{"type":"pong"}');
      else if (message.type === 'error' || message.type === 'complete') reject(new Error(`subscription ended: ${text}`));
    });
    ws.once('error', reject);
    ws.once('close', (code) => reject(new Error(`closed with ${code}`)));
  });
}

function rawSubscriber(url: string, recorder: Recorder): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    ws.on('open', () => resolve(ws));
    ws.on('message', (data) => recorder.onMessage(String(data)));
    ws.once('error', reject);
  });
}

async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(name));
  return line ? Number(line.split(' ').pop()) : 0;
}

// ---------------------------------------------------------------------------------------------

async function main() {
  const began = Date.now();
  const { default: pino } = await import('pino');
  const { createDatabase } = await import('../db/client.ts');
  const { startLocalTemporal } = await import('../server/temporal.ts');
  const { createTestDatabase } = await import('../test/support/database.ts');
  const { spawnStageplane } = await import('../test/support/process.ts');
  const { appendEvent, createDeploymentFixture } = await import('../test/support/live-clients.ts');
  const { jwtFor, JWT_SECRET, printVerdicts, writeResult } = await import('./lib.ts');
  const log = pino({ level: 'warn' });
  console.log(`subscription delivery bench: ${LEVELS.join(', ')} subscribers; ${cpus().length} CPUs, node ${process.version}`);
  const dataDir = mkdtempSync(join(tmpdir(), 'stageplane-bench-subs-'));
  const db = await createTestDatabase();
  const temporal = await startLocalTemporal({ dataDir, namespace: 'default', log });
  let database: DatabaseHandle | null = null;
  let api: Awaited<ReturnType<typeof spawnStageplane>> | null = null;
  let raw: ChildProcess | null = null;
  const sockets: WebSocket[] = [];
  try {
    // The inspector lets the bench collect the server's garbage before reading retained memory.
    process.env.STAGEPLANE_NODE_ARGS = `${process.env.STAGEPLANE_NODE_ARGS ?? ''} --inspect=127.0.0.1:0`;
    api = await spawnStageplane('api', {
      DATABASE_URL: db.url,
      DATA_DIR: dataDir,
      JWT_SECRET,
      TEMPORAL_ADDRESS: temporal.address,
      LOG_LEVEL: 'warn',
    });
    const apiPid = api.child.pid!;
    const inspectorUrl = /Debugger listening on (ws:\/\/\S+)/.exec(api.output())?.[1];
    if (!inspectorUrl) throw new Error(`no inspector URL in the server's output:\n${api.output()}`);
    database = await createDatabase({ url: db.url, poolSize: 2 });
    const deployment = await createDeploymentFixture(database.db);
    const token = await jwtFor(JWT_SECRET, 'bench', ['VIEWER']);
    const wsUrl = api.url.replace('http', 'ws') + '/graphql';
    let seq = 0;

    // GraphQL over graphql-ws.
    const gqlRecorder = new Recorder();
    // Warm up the server (JIT, statement cache) with a few subscribers and events, then measure its idle RSS.
    const warm = await openMany(20, () => graphqlSubscriber(wsUrl, token, deployment.globalId, seq, gqlRecorder));
    for (let i = 0; i < 5; i++) {
      seq = (await appendEvent(database, deployment.deploymentId, { type: 'STEP_PROGRESS', status: 'RUNNING', progress: 0.1 })).seq;
      await gqlRecorder.waitAll(seq, warm.length);
    }
    await closeAll(warm);
    await until(
      'warm-up subscribers to leave',
      async () => (await metric(api!.url, 'stageplane_subscriptions{field="deploymentEvents"}')) === 0,
      { timeoutMs: 10_000 },
    );
    await new Promise((r) => setTimeout(r, 500));
    const collectApi = () => collectGarbage(inspectorUrl);
    const gqlBase = await readMemory(apiPid, collectApi);
    const rawRecorder = new Recorder();
    const rawBases: { rss: number; collected: number }[] = [];
    let rawSeq = 0;
    let template: { payload: { data: { deploymentEvents: { seq: number } } } } | null = null;
    let payloadBytes = 0;

    const graphql: LevelResult[] = [];
    const rawResults: LevelResult[] = [];
    // Level by level, GraphQL then raw, so both meet the same machine load. GraphQL subscribers
    // are added level on level; raw sockets are opened for each level and closed after it.
    for (const level of LEVELS) {
      if (Date.now() - began > BUDGET_MS) {
        console.log(`  (time budget spent: skipping ${level} and above)`);
        break;
      }
      const t = Date.now();
      sockets.push(
        ...(await openMany(level - sockets.length, () => graphqlSubscriber(wsUrl, token, deployment.globalId, seq, gqlRecorder))),
      );
      await until(
        `${level} subscriptions`,
        async () => (await metric(api!.url, 'stageplane_subscriptions{field="deploymentEvents"}')) >= level,
        { timeoutMs: 60_000 },
      );
      console.log(
        `  ${level}: graphql-ws subscribers connected and subscribed in ${((Date.now() - t) / 1000).toFixed(1)} s (at ${((Date.now() - began) / 1000).toFixed(0)} s)`,
      );
      await new Promise((r) => setTimeout(r, 500));
      const memory = await readMemory(apiPid, collectApi);
      let incomplete = 0;
      gqlRecorder.samples = [];
      const rounds = ROUNDS[level]!;
      for (let i = 0; i < WARMUP_ROUNDS + rounds; i++) {
        gqlRecorder.recording = i >= WARMUP_ROUNDS;
        const next = seq + 1;
        gqlRecorder.sentAt.set(next, performance.now());
        const appended = appendEvent(database, deployment.deploymentId, {
          type: 'STEP_PROGRESS',
          status: 'RUNNING',
          step: 'deploy',
          progress: 0.5,
          message: 'halfway',
        });
        // The exact bytes a subscriber receives, for the raw server to send.
        const captured = template ? null : new Promise<string>((resolve) => sockets[0]!.once('message', (data) => resolve(String(data))));
        seq = (await appended).seq;
        if (seq !== next) throw new Error(`unexpected seq ${seq}`);
        if (captured) {
          const text = await captured;
          payloadBytes = Buffer.byteLength(text);
          template = JSON.parse(text);
        }
        if (!(await gqlRecorder.waitAll(seq, level))) incomplete++;
        await new Promise((r) => setTimeout(r, 20));
      }
      graphql.push(summarize(level, rounds, gqlRecorder.samples, memory, gqlBase, incomplete));
      console.log(`  ${level}: graphql-ws p50 ${graphql.at(-1)!.p50Ms} ms, p99 ${graphql.at(-1)!.p99Ms} ms`);

      // File descriptors: the last level closes the GraphQL sockets before opening raw ones.
      if (level === LEVELS.at(-1)) {
        await closeAll(sockets.splice(0));
      }
      // A fresh raw server per level: its RSS grows from its own idle size, like the API's.
      raw = fork(SELF, ['--raw-server'], { execArgv: ['--expose-gc', '--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      const rawProcess = raw;
      const rawPort = await new Promise<number>((resolve) => rawProcess.once('message', (m: { port: number }) => resolve(m.port)));
      const rawUrl = `ws://127.0.0.1:${rawPort}`;
      const rawCollect = () =>
        new Promise<void>((resolve) => {
          rawProcess.once('message', () => resolve());
          rawProcess.send({ type: 'gc' });
        });
      const rawClients = () =>
        new Promise<number>((resolve) => {
          rawProcess.once('message', (m: { clients: number }) => resolve(m.clients));
          rawProcess.send({ type: 'stats' });
        });
      await new Promise((r) => setTimeout(r, 300));
      rawBases.push(await readMemory(rawProcess.pid!, rawCollect));
      const rawSockets = await openMany(level, () => rawSubscriber(rawUrl, rawRecorder));
      await until(`${level} raw sockets`, async () => (await rawClients()) >= level, { timeoutMs: 30_000 });
      await new Promise((r) => setTimeout(r, 500));
      const rawMemory = await readMemory(rawProcess.pid!, rawCollect);
      let rawIncomplete = 0;
      rawRecorder.samples = [];
      for (let i = 0; i < WARMUP_ROUNDS + rounds; i++) {
        rawRecorder.recording = i >= WARMUP_ROUNDS;
        rawSeq++;
        template!.payload.data.deploymentEvents.seq = rawSeq;
        const payload = JSON.stringify(template);
        rawRecorder.sentAt.set(rawSeq, performance.now());
        rawProcess.send({ type: 'broadcast', payload });
        if (!(await rawRecorder.waitAll(rawSeq, level))) rawIncomplete++;
        await new Promise((r) => setTimeout(r, 20));
      }
      rawResults.push(summarize(level, rounds, rawRecorder.samples, rawMemory, rawBases.at(-1)!, rawIncomplete));
      console.log(`  ${level}: raw ws     p50 ${rawResults.at(-1)!.p50Ms} ms, p99 ${rawResults.at(-1)!.p99Ms} ms`);
      await closeAll(rawSockets);
      rawProcess.kill();
      raw = null;
    }
    await closeAll(sockets.splice(0));

    // Report.
    const rows = graphql.map((g, i) => {
      const r = rawResults[i]!;
      return {
        subscribers: g.subscribers,
        graphql: g,
        raw: r,
        ratioP50: round(g.p50Ms / r.p50Ms),
        ratioP99: round(g.p99Ms / r.p99Ms),
      };
    });
    const kb = (bytes: number) => (bytes / 1024).toFixed(1);
    console.log('');
    console.log(
      'subscribers | graphql p50 ms | p99 ms | raw ws p50 ms | p99 ms | ratio p50 | ratio p99 | RSS/sub graphql KiB | RSS/sub raw KiB | after GC graphql KiB | after GC raw KiB',
    );
    console.log(
      '----------- | -------------- | ------ | ------------- | ------ | --------- | --------- | ------------------- | --------------- | -------------------- | ----------------',
    );
    for (const row of rows) {
      console.log(
        [
          String(row.subscribers).padStart(11),
          String(row.graphql.p50Ms).padStart(14),
          String(row.graphql.p99Ms).padStart(6),
          String(row.raw.p50Ms).padStart(13),
          String(row.raw.p99Ms).padStart(6),
          `${row.ratioP50}x`.padStart(9),
          `${row.ratioP99}x`.padStart(9),
          kb(row.graphql.rssPerSubscriberBytes).padStart(19),
          kb(row.raw.rssPerSubscriberBytes).padStart(15),
          kb(row.graphql.collectedRssPerSubscriberBytes).padStart(20),
          kb(row.raw.collectedRssPerSubscriberBytes).padStart(16),
        ].join(' | '),
      );
      if (row.graphql.incomplete || row.raw.incomplete) {
        console.log(
          `  (rounds not delivered to everyone within ${ROUND_TIMEOUT_MS} ms: graphql ${row.graphql.incomplete}, raw ${row.raw.incomplete})`,
        );
      }
    }
    const verdicts = rows.flatMap((row) => [
      { target: `${row.subscribers} subscribers: p50 <= 2x raw ws`, measured: `${row.ratioP50}x`, met: row.ratioP50 <= 2 },
      { target: `${row.subscribers} subscribers: p99 <= 2x raw ws`, measured: `${row.ratioP99}x`, met: row.ratioP99 <= 2 },
      {
        target: `${row.subscribers} subscribers: <= 30 KiB RSS each, right after subscribing`,
        measured: `${kb(row.graphql.rssPerSubscriberBytes)} KiB`,
        met: row.graphql.rssPerSubscriberBytes <= 30 * 1024,
      },
      {
        target: `${row.subscribers} subscribers: <= 30 KiB RSS each, after a full GC`,
        measured: `${kb(row.graphql.collectedRssPerSubscriberBytes)} KiB`,
        met: row.graphql.collectedRssPerSubscriberBytes <= 30 * 1024,
      },
      {
        target: `${row.subscribers} subscribers: 0 rounds lost`,
        measured: String(row.graphql.incomplete),
        met: row.graphql.incomplete === 0,
      },
    ]);
    printVerdicts('subscriptions', verdicts);
    writeResult('subscriptions', {
      verdicts,
      machine: { cpus: cpus().length, node: process.version },
      payloadBytes,
      baseRssBytes: { graphql: gqlBase, raw: rawBases },
      rows,
      seconds: Math.round((Date.now() - began) / 1000),
    });
  } finally {
    await closeAll(sockets);
    raw?.kill();
    await api?.stop();
    await database?.close();
    await temporal.stop();
    await db.drop();
  }
}

if (process.argv.includes('--raw-server')) rawServer();
else
  await main().catch((error) => {
    console.error(error);
    process.exit(1);
  });
