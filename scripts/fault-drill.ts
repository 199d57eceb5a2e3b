// `npm run faults`: restarts PostgreSQL and kills the local Temporal under a running deployment
// and open subscriptions, and checks that nothing is lost.
//
// The drill runs everything privately, so shared servers are never touched: a PostgreSQL cluster
// of its own (initdb in a temp dir, on a free port) and Stageplane as `npm start` runs it
// (`server/main.ts all`, no TEMPORAL_ADDRESS, so with its own supervised Temporal dev server). It
// starts a SIMULATED deployment, follows it with three subscribers (graphql-ws, SSE, and the CLI's
// follow code, each resuming after its last seq when cut off, as the console and CLI do) plus a
// live-only projectEvents subscriber, then:
//   (a) stops PostgreSQL (pg_ctl stop -m fast), keeps it down a few seconds, starts it again;
//   (b) SIGKILLs the Temporal dev server (pid from DATA_DIR/temporal.pid); the supervisor in
//       server/temporal.ts starts it again.
// It polls /readyz throughout and records when it turned 503 and back to 200. Then it checks: the
// deployment SUCCEEDED, its log is seq 1..n, each step started once, and every subscriber got
// 1..n, each seq once, in order. It prints a timeline and exits 1 on any failed check.
// test/integration/faults.test.ts runs the same drill through runFaultDrill().
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { followDeployment } from '../cli/follow.ts';
import { TERMINAL_STATUSES } from '../domain/values.ts';
import { signToken } from '../server/auth.ts';
import { freePort } from '../server/temporal.ts';
import { type PrivatePostgres, startPrivatePostgres } from './lib/private-postgres.ts';
import { until as poll } from './lib/until.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const TERMINAL = new Set<string>(TERMINAL_STATUSES);
const STEPS = ['prepare', 'deploy', 'verify'];

export interface DrillOptions {
  /** Seconds per SIMULATED step (3 steps): long enough for both faults to hit a running deployment. */
  stepSeconds?: number;
  /** pg_ctl stop mode: `fast` (clean shutdown, connections terminated) or `immediate` (a crash). */
  pgStopMode?: 'fast' | 'immediate';
  /** How long PostgreSQL stays down. */
  pgDownMs?: number;
  /** Progress lines while the drill runs (the CLI prints them to stderr). */
  onProgress?: (line: string) => void;
}

export interface TimelineEntry {
  /** Milliseconds since Stageplane was ready. */
  at: number;
  what: string;
  readyz?: string;
  recovery?: string;
}

export interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

export interface FaultMeasurement {
  /** Fault to the first 503 seen, in ms (null: never saw one). */
  to503: number | null;
  /** Fault to /readyz answering 200 again. */
  to200: number | null;
  /** The service back (PostgreSQL started, the dev server answering) to /readyz 200. */
  afterBack: number | null;
  /** The /readyz body of the first 503. */
  reason: unknown;
  /** The service back to the first new event at the graphql-ws subscriber (live progress again). */
  eventsAfterBack: number | null;
}

export interface DrillReport {
  ok: boolean;
  checks: Check[];
  timeline: TimelineEntry[];
  postgres: FaultMeasurement;
  temporal: FaultMeasurement;
  /** How long the deployment took, and what it would have taken without the faults. */
  deploymentMs: number | null;
  nominalDeploymentMs: number;
  /** Stageplane's last log lines (for a failed drill). */
  logTail: string;
}

interface Event {
  /** When this subscriber received it (Date.now()). */
  receivedAt?: number;
  seq: number;
  type: string;
  status: string;
  step?: string | null;
  progress?: number | null;
  deploymentId?: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The drill breaks things on purpose: a probe that fails is "not yet". */
const until = <T>(what: string, probe: () => T | Promise<T>, timeoutMs: number) => poll(what, probe, { timeoutMs, ignoreErrors: true });

// ---------------------------------------------------------------------------------------------
// Stageplane, as `npm start` runs it

interface Stageplane {
  url: string;
  wsUrl: string;
  dataDir: string;
  child: ChildProcess;
  /** Log lines (pino JSON) so far. */
  lines: string[];
  stop(): Promise<void>;
}

async function spawnStageplane(databaseUrl: string, jwtSecret: string): Promise<Stageplane> {
  const port = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), 'stageplane-drill-'));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    NODE_ENV: 'development',
    HOST: '127.0.0.1',
    PORT: String(port),
    DATABASE_URL: databaseUrl,
    DATA_DIR: dataDir,
    JWT_SECRET: jwtSecret,
    LOG_LEVEL: 'info',
    SHUTDOWN_DRAIN_SECONDS: '0', // no load balancer routes on its /readyz
  };
  // Unset: `all` runs and supervises its own dev server on a free port, state in DATA_DIR.
  delete env.TEMPORAL_ADDRESS;
  delete env.TEMPORAL_PORT;
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'server', 'main.ts'), 'all'], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  let partial = '';
  const onData = (d: Buffer) => {
    const parts = (partial + String(d)).split('\n');
    partial = parts.pop() ?? '';
    lines.push(...parts.filter(Boolean));
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const sp: Stageplane = {
    url: `http://127.0.0.1:${port}`,
    wsUrl: `ws://127.0.0.1:${port}/graphql`,
    dataDir,
    child,
    lines,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  try {
    await until(
      'Stageplane to be ready (the first start may build the Temporal CLI)',
      async () => {
        if (child.exitCode !== null) return true;
        const r = await fetch(`${sp.url}/readyz`);
        // 200 comes before the local Temporal is up (`pending`); the drill needs it up.
        return r.status === 200 && !((await r.json()) as { pending?: unknown }).pending;
      },
      15 * 60_000,
    );
    if (child.exitCode !== null) throw new Error(`Stageplane exited with status ${child.exitCode} during start-up`);
  } catch (error) {
    await sp.stop();
    throw new Error(`${(error as Error).message}\n${lines.slice(-20).join('\n')}`);
  }
  return sp;
}

// ---------------------------------------------------------------------------------------------
// /readyz, polled all along

interface Sample {
  /** When the request was sent, and when its answer came (what an operator sees). */
  sent: number;
  at: number;
  status: number; // 0: no answer
  body: unknown;
}

function pollReadyz(url: string) {
  const samples: Sample[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const sent = Date.now();
      try {
        const r = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(5000) });
        const body = await r.json().catch(() => null);
        samples.push({ sent, at: Date.now(), status: r.status, body });
      } catch {
        samples.push({ sent, at: Date.now(), status: 0, body: null });
      }
      await sleep(100);
    }
  })();
  return {
    samples,
    /** The first sample at or after `after` that matches. */
    /** The first answer with `status` to a request sent at or after `after`. */
    waitFor: (after: number, status: number, timeoutMs: number) =>
      until(`/readyz to answer ${status}`, () => samples.find((s) => s.sent >= after && s.status === status), timeoutMs),
    stop: async () => {
      running = false;
      await loop;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Subscribers

const DEPLOYMENT_EVENTS = `subscription($id: ID!, $after: Int) {
  deploymentEvents(deploymentId: $id, afterSeq: $after) { seq deploymentId type status step }
}`;
const PROJECT_EVENTS = `subscription($slug: String!) { projectEvents(projectSlug: $slug) { seq deploymentId type status step } }`;

interface Subscriber {
  name: string;
  /** Every event as delivered, across reconnects (duplicates and gaps would show here). */
  received: Event[];
  /** Why the stream was cut each time it was resubscribed. */
  interruptions: string[];
  done: Promise<void>;
  close(): void;
}

/** Resubscribes after its last seq until a terminal event arrives; records every delivery as is. */
function resumingSubscriber(
  name: string,
  subscribeOnce: (after: number, onEvent: (e: Event) => void, signal: AbortSignal) => Promise<string>,
): Subscriber {
  const received: Event[] = [];
  const interruptions: string[] = [];
  const abort = new AbortController();
  const done = (async () => {
    for (let attempt = 0; !abort.signal.aborted; attempt++) {
      const after = received.at(-1)?.seq ?? 0;
      const why = await subscribeOnce(after, (e) => received.push({ ...e, receivedAt: Date.now() }), abort.signal).catch(
        (error: Error) => `error: ${error.message}`,
      );
      if (TERMINAL.has(received.at(-1)?.status ?? '') || abort.signal.aborted) return;
      interruptions.push(why);
      await sleep(Math.min(2000, 250 * 2 ** Math.min(attempt, 3)));
    }
  })();
  return { name, received, interruptions, done, close: () => abort.abort() };
}

/** graphql-ws, one connection per attempt; resolves with why the stream ended. */
function wsSubscriber(wsUrl: string, token: string, id: string): Subscriber {
  return resumingSubscriber('graphql-ws', (after, onEvent, signal) => {
    const client = createClient({
      url: wsUrl,
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${token}` },
      retryAttempts: 0,
      lazy: true,
    });
    return new Promise<string>((resolve) => {
      signal.addEventListener('abort', () => resolve('aborted'), { once: true });
      client.subscribe<{ deploymentEvents: Event }>(
        { query: DEPLOYMENT_EVENTS, variables: { id, after } },
        {
          next: (r) => {
            if (r.errors?.length) return resolve(`error: ${JSON.stringify(r.errors).slice(0, 200)}`);
            if (r.data?.deploymentEvents) onEvent(r.data.deploymentEvents);
          },
          error: (e) => {
            const close = e as { code?: number; reason?: string };
            resolve(
              typeof close?.code === 'number'
                ? `closed ${close.code} ${close.reason ?? ''}`.trim()
                : `error: ${JSON.stringify(e).slice(0, 200)}`,
            );
          },
          complete: () => resolve('complete'),
        },
      );
    }).finally(() => void client.dispose());
  });
}

/** Server-sent events (Accept: text/event-stream) read with fetch. */
function sseSubscriber(url: string, token: string, id: string): Subscriber {
  return resumingSubscriber('SSE', async (after, onEvent, signal) => {
    const response = await fetch(`${url}/graphql`, {
      signal,
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: DEPLOYMENT_EVENTS, variables: { id, after } }),
    });
    if (response.status !== 200 || !response.body) return `HTTP ${response.status}`;
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return 'stream ended';
      buffer += decoder.decode(value, { stream: true });
      for (let at = buffer.indexOf('\n\n'); at >= 0; at = buffer.indexOf('\n\n')) {
        const block = buffer.slice(0, at);
        buffer = buffer.slice(at + 2);
        const event = /^event:\s*(.*)$/m.exec(block)?.[1]?.trim() ?? 'message';
        const data = block
          .split('\n')
          .filter((l) => l.startsWith('data:'))
          .map((l) => l.slice(5).trim())
          .join('');
        if (event === 'complete') {
          await reader.cancel().catch(() => {});
          return 'complete';
        }
        if (!data) continue;
        const result = JSON.parse(data) as { data?: { deploymentEvents?: Event }; errors?: unknown[] };
        if (result.errors?.length) {
          await reader.cancel().catch(() => {});
          return `error: ${JSON.stringify(result.errors).slice(0, 200)}`;
        }
        if (result.data?.deploymentEvents) onEvent(result.data.deploymentEvents);
      }
    }
  });
}

/** The CLI's own follow code (`stageplane watch`), which dedups and resumes by itself. */
function cliSubscriber(url: string, wsUrl: string, token: string, id: string, status: () => Promise<string | null>): Subscriber {
  const received: Event[] = [];
  const interruptions: string[] = [];
  const abort = new AbortController();
  const done = followDeployment({
    endpoint: { httpUrl: `${url}/graphql`, wsUrl, token },
    deploymentId: id,
    afterSeq: 0,
    timeoutMs: 120_000,
    signal: abort.signal,
    onEvent: (e) => received.push(e as Event),
    onNotice: (text) => interruptions.push(text),
    currentStatus: status,
  }).then(
    () => {},
    (error: Error) => void interruptions.push(`gave up: ${error.message}`),
  );
  return { name: 'CLI follow', received, interruptions, done, close: () => abort.abort() };
}

/** projectEvents is live only (no afterSeq): it relies on the hub replaying what a lost LISTEN missed. */
function projectSubscriber(wsUrl: string, token: string, slug: string): Subscriber & { ready: Promise<void> } {
  const received: Event[] = [];
  const interruptions: string[] = [];
  let markReady = () => {};
  const ready = new Promise<void>((r) => (markReady = r));
  const client = createClient({
    url: wsUrl,
    webSocketImpl: WebSocket,
    connectionParams: { authorization: `Bearer ${token}` },
    retryAttempts: 0,
    lazy: true,
    on: { connected: () => setTimeout(markReady, 300) }, // the subscription is registered right after
  });
  let stop = () => {};
  const done = new Promise<void>((resolve) => {
    stop = client.subscribe<{ projectEvents: Event }>(
      { query: PROJECT_EVENTS, variables: { slug } },
      {
        next: (r) => {
          if (r.data?.projectEvents) received.push(r.data.projectEvents);
          if (r.errors?.length) interruptions.push(`error: ${JSON.stringify(r.errors).slice(0, 200)}`);
        },
        error: (e) => {
          interruptions.push(`closed: ${(e as { code?: number }).code ?? JSON.stringify(e).slice(0, 100)}`);
          resolve();
        },
        complete: () => resolve(),
      },
    );
  });
  return {
    name: 'projectEvents (live only)',
    received,
    interruptions,
    done,
    ready,
    close: () => {
      stop();
      void client.dispose();
    },
  };
}

// ---------------------------------------------------------------------------------------------
// The drill

async function gql(url: string, token: string, query: string, variables: Record<string, unknown> = {}): Promise<any> {
  const r = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await r.json()) as { data?: any; errors?: { message: string }[] };
  if (body.errors?.length) throw new Error(`GraphQL: ${body.errors.map((e) => e.message).join('; ')}`);
  return body.data;
}

const isSeqRange = (events: { seq: number }[], n: number) => events.length === n && events.every((e, i) => e.seq === i + 1);
const describeSeqs = (events: { seq: number }[]) => {
  const seqs = events.map((e) => e.seq);
  return seqs.length > 40 ? `${seqs.slice(0, 20).join(',')},…,${seqs.slice(-20).join(',')}` : seqs.join(',');
};

/** What to undo if the drill is interrupted (Ctrl-C): the private cluster and Stageplane. */
const cleanups = new Set<() => unknown>();

export async function runFaultDrill(options: DrillOptions = {}): Promise<DrillReport> {
  const stepSeconds = options.stepSeconds ?? 8;
  const pgDownMs = options.pgDownMs ?? 3000;
  const pgStopMode = options.pgStopMode ?? 'fast';
  const progress = options.onProgress ?? (() => {});
  const timeline: TimelineEntry[] = [];
  const checks: Check[] = [];
  const check = (name: string, ok: boolean, detail = '') => {
    checks.push({ name, ok, detail });
    progress(`${ok ? 'ok  ' : 'FAIL'} ${name}${detail ? ` (${detail})` : ''}`);
  };
  const noMeasure = (): FaultMeasurement => ({ to503: null, to200: null, afterBack: null, reason: null, eventsAfterBack: null });
  const report: DrillReport = {
    ok: false,
    checks,
    timeline,
    postgres: noMeasure(),
    temporal: noMeasure(),
    deploymentMs: null,
    nominalDeploymentMs: STEPS.length * stepSeconds * 1000,
    logTail: '',
  };
  let t0 = Date.now();
  const mark = (what: string, extra: Partial<TimelineEntry> = {}, at = Date.now()) => {
    timeline.push({ at: at - t0, what, ...extra });
    progress(
      `${((at - t0) / 1000).toFixed(1).padStart(6)} s  ${what}${extra.readyz ? `  readyz ${extra.readyz}` : ''}${extra.recovery ? `  (${extra.recovery})` : ''}`,
    );
  };

  const jwtSecret = randomBytes(24).toString('hex');
  let pg: PrivatePostgres | null = null;
  let sp: Stageplane | null = null;
  let poller: ReturnType<typeof pollReadyz> | null = null;
  const subscribers: Subscriber[] = [];
  let pgBack = 0; // PostgreSQL started again
  let temporalBack = 0; // the restarted dev server answered
  try {
    progress('starting a private PostgreSQL cluster');
    pg = startPrivatePostgres(await freePort());
    const cluster = pg;
    cleanups.add(cluster.destroy);
    progress(`PostgreSQL on 127.0.0.1:${pg.port}; starting Stageplane (server/main.ts all, local Temporal)`);
    sp = await spawnStageplane(pg.url, jwtSecret);
    cleanups.add(sp.stop);
    t0 = Date.now();
    const stageplane = sp;
    mark(`Stageplane ready at ${sp.url} (PostgreSQL :${pg.port}, local Temporal)`, { readyz: '200' });
    poller = pollReadyz(sp.url);
    const token = await signToken(new TextEncoder().encode(jwtSecret), 'drill', ['ADMIN', 'DEVELOPER']);

    // A project whose development environment deploys on push, with slow SIMULATED steps.
    const slug = `drill-${randomBytes(3).toString('hex')}`;
    const project = (
      await gql(
        sp.url,
        token,
        `mutation($i: CreateProjectInput!) { createProject(input: $i) { id environment(slug: "development") { id } } }`,
        { i: { slug, name: 'Fault drill' } },
      )
    ).createProject;
    await gql(sp.url, token, `mutation($i: UpdateEnvironmentInput!) { updateEnvironment(input: $i) { id } }`, {
      i: { id: project.environment.id, deployTarget: { provider: 'SIMULATED', stepSeconds } },
    });
    const projectFeed = projectSubscriber(sp.wsUrl, token, slug);
    subscribers.push(projectFeed);
    await Promise.race([projectFeed.ready, sleep(5000)]);
    const pushed = await gql(sp.url, token, `mutation($i: RecordPushInput!) { recordPush(input: $i) { deployments { id } } }`, {
      i: { projectId: project.id, branch: 'main', commitSha: randomBytes(20).toString('hex') },
    });
    const id = pushed.recordPush.deployments[0].id as string;
    const startedAt = Date.now();
    mark(`deployment started: SIMULATED, ${STEPS.length} steps of ${stepSeconds} s`);
    const status = async () =>
      (await gql(stageplane.url, token, `query($id: ID!) { deployment(id: $id) { status } }`, { id })).deployment.status as string;
    const ws = wsSubscriber(sp.wsUrl, token, id);
    const sse = sseSubscriber(sp.url, token, id);
    const cli = cliSubscriber(sp.url, sp.wsUrl, token, id, () => status().catch(() => null));
    subscribers.push(ws, sse, cli);
    const seen = (type: string, step: string) => ws.received.some((e) => e.type === type && e.step === step);
    await until('the prepare step to make progress', () => seen('STEP_PROGRESS', 'prepare'), 60_000);

    // (a) PostgreSQL goes away and comes back.
    let faultAt = Date.now();
    pg.stop(pgStopMode);
    mark(`PostgreSQL stopped (pg_ctl stop -m ${pgStopMode})`, {}, faultAt);
    const pg503 = await poller.waitFor(faultAt, 503, 30_000);
    report.postgres.to503 = pg503.at - faultAt;
    report.postgres.reason = pg503.body;
    mark('readyz 503', { readyz: `503 ${JSON.stringify(pg503.body)}`, recovery: `+${report.postgres.to503} ms` }, pg503.at);
    await sleep(Math.max(0, pgDownMs - (Date.now() - faultAt)));
    pg.start();
    pgBack = Date.now();
    mark('PostgreSQL started (pg_ctl start)', {}, pgBack);
    const pg200 = await poller.waitFor(pgBack, 200, 60_000);
    report.postgres.to200 = pg200.at - faultAt;
    report.postgres.afterBack = pg200.at - pgBack;
    mark(
      'readyz 200',
      { readyz: '200', recovery: `${fmt(report.postgres.to200)} after the stop, ${fmt(report.postgres.afterBack)} after the start` },
      pg200.at,
    );
    check(
      '/readyz answered 503 naming the database while PostgreSQL was down',
      JSON.stringify(pg503.body).includes('database'),
      JSON.stringify(pg503.body),
    );
    check('/readyz answered 200 again after PostgreSQL came back', true, `${fmt(report.postgres.to200)} after the stop`);

    // (b) The local Temporal dev server is killed; the supervisor starts it again.
    await until('the deploy step to be under way', () => seen('STEP_PROGRESS', 'deploy') || seen('STEP_STARTED', 'verify'), 120_000);
    const pidfile = join(sp.dataDir, 'temporal.pid');
    const pid = Number(readFileSync(pidfile, 'utf8').trim());
    faultAt = Date.now();
    process.kill(pid, 'SIGKILL');
    mark(`Temporal dev server SIGKILLed (pid ${pid})`, {}, faultAt);
    const t503 = await poller.waitFor(faultAt, 503, 30_000);
    report.temporal.to503 = t503.at - faultAt;
    report.temporal.reason = t503.body;
    mark('readyz 503', { readyz: `503 ${JSON.stringify(t503.body)}`, recovery: `+${report.temporal.to503} ms` }, t503.at);
    const t200 = await poller.waitFor(t503.at, 200, 120_000);
    const newPid = Number(readFileSync(pidfile, 'utf8').trim());
    const upAgain = stageplane.lines.map(parseLog).find((l) => l?.msg === 'local Temporal dev server is up again' && l.time >= faultAt);
    report.temporal.to200 = t200.at - faultAt;
    report.temporal.afterBack = upAgain ? t200.at - upAgain.time : null;
    if (upAgain) {
      temporalBack = upAgain.time;
      mark(`Temporal dev server answering again (pid ${newPid})`, {}, upAgain.time);
    }
    mark('readyz 200', { readyz: '200', recovery: `${fmt(report.temporal.to200)} after the kill` }, t200.at);
    check(
      '/readyz answered 503 naming temporal while the dev server was down',
      JSON.stringify(t503.body).includes('temporal'),
      JSON.stringify(t503.body),
    );
    check('the supervisor restarted the Temporal dev server', newPid !== pid && !!upAgain, `pid ${pid} -> ${newPid}`);
    check('/readyz answered 200 again after Temporal came back', true, `${fmt(report.temporal.to200)} after the kill`);

    // The deployment finishes; every subscriber has every event once.
    const final = await until(
      'the deployment to end',
      async () => {
        const d = (
          await gql(stageplane.url, token, `query($id: ID!) { deployment(id: $id) { status events { seq type status step progress } } }`, {
            id,
          })
        ).deployment;
        return TERMINAL.has(d.status) ? (d as { status: string; events: Event[] }) : null;
      },
      STEPS.length * stepSeconds * 1000 + 180_000,
    );
    report.deploymentMs = Date.now() - startedAt;
    mark(`deployment ${final.status}`, {}, Date.now());
    await Promise.race([Promise.all(subscribers.filter((s) => s !== projectFeed).map((s) => s.done)), sleep(30_000)]);
    await until(
      'projectEvents to catch up',
      () => projectFeed.received.filter((e) => e.deploymentId === id).length >= final.events.length,
      5_000,
    ).catch(() => {});
    mark('subscribers done');

    // Live progress again: the first event the graphql-ws subscriber got after each service was back.
    const firstEventAfter = (back: number) => (back ? ws.received.find((e) => e.receivedAt! >= back) : undefined);
    for (const [fault, back, name] of [
      [report.postgres, pgBack, 'PostgreSQL'],
      [report.temporal, temporalBack, 'Temporal'],
    ] as const) {
      const next = firstEventAfter(back);
      if (!next) continue;
      fault.eventsAfterBack = next.receivedAt! - back;
      mark(
        `first event (#${next.seq} ${next.type} ${next.step ?? ''}) at the subscriber since ${name} was back`.replace('  ', ' '),
        { recovery: `${fmt(fault.eventsAfterBack)} after it was back` },
        next.receivedAt!,
      );
    }
    timeline.sort((a, b) => a.at - b.at);

    const n = final.events.length;
    check('the deployment SUCCEEDED', final.status === 'SUCCEEDED', final.status);
    check('its event log is seq 1..n with no gap or duplicate', isSeqRange(final.events, n), `n=${n}`);
    const started = final.events.filter((e) => e.type === 'STEP_STARTED').map((e) => e.step);
    check('each step started once', JSON.stringify(started) === JSON.stringify(STEPS), started.join(','));
    const ticks = final.events.filter((e) => e.type === 'STEP_PROGRESS').map((e) => `${e.step}:${e.progress}`);
    check('no step progress was recorded twice', new Set(ticks).size === ticks.length, `${ticks.length} progress events`);
    for (const s of subscribers) {
      const mine = s === projectFeed ? s.received.filter((e) => e.deploymentId === id) : s.received;
      const cut = s.interruptions.length ? `; resubscribed ${s.interruptions.length}x: ${s.interruptions.join(' | ')}` : '; never cut off';
      check(`${s.name} subscriber got seq 1..n, each once, in order`, isSeqRange(mine, n), `n=${n}: ${describeSeqs(mine)}${cut}`);
    }
  } catch (error) {
    check('the drill ran to the end', false, (error as Error).message);
  } finally {
    for (const s of subscribers) s.close();
    await poller?.stop();
    report.logTail = sp?.lines.slice(-40).join('\n') ?? '';
    if (sp) {
      // Stageplane's own warnings during the drill, for the operator's eye.
      for (const line of sp.lines.map(parseLog)) {
        if (line && line.level >= 40 && line.time >= t0)
          timeline.push({ at: line.time - t0, what: `log ${levelName(line.level)}: ${line.msg}` });
      }
      timeline.sort((a, b) => a.at - b.at);
    }
    await sp?.stop().catch(() => {});
    pg?.destroy();
    cleanups.clear();
  }
  report.ok = checks.length > 0 && checks.every((c) => c.ok);
  return report;
}

function parseLog(line: string): { level: number; time: number; msg: string } | null {
  try {
    const l = JSON.parse(line);
    return typeof l.time === 'number' ? l : null;
  } catch {
    return null;
  }
}

const levelName = (level: number) => ({ 40: 'warn', 50: 'error', 60: 'fatal' })[level] ?? String(level);
const fmt = (ms: number | null) => (ms === null ? '—' : `${(ms / 1000).toFixed(1)} s`);

/** The timeline and the checks, as printed by `npm run faults`. */
export function formatReport(report: DrillReport): string {
  const clip = (text: string, max: number) => (text.length > max ? `${text.slice(0, max - 1)}…` : text);
  const rows = report.timeline.map((e) => [`${(e.at / 1000).toFixed(1)}`, e.what, clip(e.readyz ?? '', 70), e.recovery ?? '']);
  const head = ['t (s)', 'what happened', 'readyz', 'recovery'];
  const width = head.map((h, i) => Math.min(i === 2 ? 70 : 80, Math.max(h.length, ...rows.map((r) => r[i]!.length))));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === 0 ? c.padStart(width[i]!) : c.padEnd(width[i]!)))
      .join('  ')
      .trimEnd();
  const out = [line(head), width.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line), ''];
  out.push(
    `PostgreSQL: 503 after ${fmt(report.postgres.to503)}, 200 again ${fmt(report.postgres.to200)} after the stop (${fmt(report.postgres.afterBack)} after it was back)`,
    `Temporal:   503 after ${fmt(report.temporal.to503)}, 200 again ${fmt(report.temporal.to200)} after the kill (${fmt(report.temporal.afterBack)} after it answered)`,
    `Live events: ${fmt(report.postgres.eventsAfterBack)} after PostgreSQL was back, ${fmt(report.temporal.eventsAfterBack)} after Temporal was back (first new event at the graphql-ws subscriber)`,
    `Deployment: ${fmt(report.deploymentMs)} (${fmt(report.nominalDeploymentMs)} without faults)`,
    '',
    ...report.checks.map((c) => `${c.ok ? 'ok  ' : 'FAIL'}  ${c.name}${c.detail ? `: ${c.detail}` : ''}`),
    '',
    report.ok ? 'All checks passed.' : 'Some checks FAILED.',
  );
  return out.join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, async () => {
      console.error(`${signal}: cleaning up`);
      for (const cleanup of cleanups)
        await Promise.resolve()
          .then(cleanup)
          .catch(() => {});
      process.exit(130);
    });
  }
  const report = await runFaultDrill({
    ...(process.env.DRILL_STEP_SECONDS ? { stepSeconds: Number(process.env.DRILL_STEP_SECONDS) } : {}),
    ...(process.env.DRILL_PG_STOP_MODE === 'immediate' ? { pgStopMode: 'immediate' as const } : {}),
    onProgress: (line) => console.error(line),
  });
  console.log(`\n${formatReport(report)}`);
  if (!report.ok) console.error(`\nStageplane's last log lines:\n${report.logTail}`);
  process.exit(report.ok ? 0 : 1);
}
