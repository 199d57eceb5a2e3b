// SIGTERM to a worker process (`server/main.ts worker`) mid-deployment: it stops polling, a running
// activity gets SHUTDOWN_GRACE_SECONDS to finish, and one that outlasts it is cancelled (it
// heartbeats) and resumed by the next worker from its last heartbeat. Each worker exits 0 and the
// deployment SUCCEEDS with every step's events once.
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { createDatabase } from '../../db/client.ts';
import { SIMULATED_STEPS, SIMULATED_TICKS } from '../../domain/deployment-state.ts';
import { signToken } from '../../server/auth.ts';
import { createTestDatabase } from '../support/database.ts';
import { range, spawnApi, until, type ApiProcess } from '../support/live-clients.ts';
import { spawnStageplane, type StageplaneProcess } from '../support/process.ts';
import { TEST_JWT_SECRET } from '../support/server.ts';

const STEP_SECONDS = 8; // a tick every 2 s: a SIGTERM right after a tick leaves ~6 s of the step
const taskQueue = `worker-shutdown-${process.pid}-${randomBytes(3).toString('hex')}`;
let databaseUrl: string;
let dropDb: () => Promise<void>;
let api: ApiProcess | null = null;
const workers: StageplaneProcess[] = [];
// One DATA_DIR for every worker: the workflow bundle is built once and cached there.
const dataDir = mkdtempSync(join(tmpdir(), 'stageplane-worker-shutdown-'));

beforeAll(async () => {
  const db = await createTestDatabase();
  databaseUrl = db.url;
  dropDb = db.drop;
  const database = await createDatabase({ url: db.url, poolSize: 2 });
  await database.migrate();
  await database.close();
});
afterAll(async () => {
  await api?.kill('SIGKILL');
  await Promise.all(workers.map((w) => w.killHard()));
  await dropDb?.();
});

async function startWorker(graceSeconds?: number) {
  const worker = await spawnStageplane('worker', {
    DATABASE_URL: databaseUrl,
    JWT_SECRET: TEST_JWT_SECRET,
    DATA_DIR: dataDir,
    TEMPORAL_ADDRESS: inject('temporalAddress'),
    TEMPORAL_TASK_QUEUE: taskQueue,
    ...(graceSeconds === undefined ? {} : { SHUTDOWN_GRACE_SECONDS: String(graceSeconds) }),
  });
  workers.push(worker);
  await until(() => worker.output().includes('"msg":"worker running"'), 60_000, 'the worker to poll');
  return worker;
}

/** SIGTERM; resolves with the exit code. */
function terminate(worker: StageplaneProcess): Promise<number | null> {
  const exited = new Promise<number | null>((resolve) => worker.child.once('exit', (code) => resolve(code)));
  worker.child.kill('SIGTERM');
  return exited;
}

interface Event {
  seq: number;
  type: string;
  step: string | null;
  progress: number | null;
}

it('a SIGTERMed worker lets a running step finish within the grace period, or has it cancelled and resumed by the next worker', {
  timeout: 150_000,
}, async () => {
  api = await spawnApi(databaseUrl, { env: { TEMPORAL_ADDRESS: inject('temporalAddress'), TEMPORAL_TASK_QUEUE: taskQueue } });
  const admin = await signToken(new TextEncoder().encode(TEST_JWT_SECRET), 'root', ['ADMIN']);
  const gql = async (query: string, variables: Record<string, unknown> = {}) => {
    const response = await fetch(`${api!.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${admin}` },
      body: JSON.stringify({ query, variables }),
    });
    const body = (await response.json()) as { data?: any; errors?: unknown[] };
    expect(body.errors).toBeUndefined();
    return body.data;
  };
  const project = (
    await gql(`mutation($i: CreateProjectInput!) { createProject(input: $i) { id environment(slug: "development") { id } } }`, {
      i: { slug: `ws-${randomBytes(3).toString('hex')}`, name: 'Worker shutdown' },
    })
  ).createProject;
  await gql(`mutation($i: UpdateEnvironmentInput!) { updateEnvironment(input: $i) { id } }`, {
    i: { id: project.environment.id, deployTarget: { provider: 'SIMULATED', stepSeconds: STEP_SECONDS } },
  });
  const first = await startWorker(30);
  const id = (
    await gql(`mutation($i: RecordPushInput!) { recordPush(input: $i) { deployments { id } } }`, {
      i: { projectId: project.id, branch: 'main', commitSha: randomBytes(20).toString('hex') },
    })
  ).recordPush.deployments[0].id as string;
  const read = async () =>
    (await gql(`query($id: ID!) { deployment(id: $id) { status events { seq type step progress } } }`, { id })).deployment as {
      status: string;
      events: Event[];
    };
  const has = (events: Event[], type: string, step: string) => events.some((e) => e.type === type && e.step === step);

  // 1. A long grace period (30 s): the running step finishes before the worker exits.
  await until(async () => has((await read()).events, 'STEP_STARTED', 'prepare'), 60_000, 'prepare to start');
  expect(has((await read()).events, 'STEP_SUCCEEDED', 'prepare')).toBe(false);
  expect(await terminate(first)).toBe(0);
  expect(has((await read()).events, 'STEP_SUCCEEDED', 'prepare')).toBe(true);

  // 2. A short grace period (1 s): the step running at SIGTERM is cancelled, not finished.
  const second = await startWorker(1);
  const deployTick = (events: Event[]) => events.some((e) => e.type === 'STEP_PROGRESS' && e.step === 'deploy');
  await until(async () => deployTick((await read()).events), 60_000, 'deploy to make progress');
  expect(await terminate(second)).toBe(0);
  const cut = await read();
  expect(cut.status).toBe('RUNNING');
  expect(has(cut.events, 'STEP_SUCCEEDED', 'deploy')).toBe(false);
  for (const w of [first, second]) expect(w.output()).not.toContain('shutdown did not finish');

  // 3. The next worker resumes the cancelled step from its last heartbeat and finishes.
  await startWorker();
  const final = await until(
    async () => {
      const d = await read();
      return d.status === 'SUCCEEDED' || d.status === 'FAILED' ? d : null;
    },
    90_000,
    'the deployment to end',
  );
  expect(final.status).toBe('SUCCEEDED');
  expect(final.events.map((e) => e.seq)).toEqual(range(1, final.events.length));
  for (const step of SIMULATED_STEPS) {
    const of = (type: string) => final.events.filter((e) => e.type === type && e.step === step);
    expect(of('STEP_STARTED')).toHaveLength(1);
    expect(of('STEP_SUCCEEDED')).toHaveLength(1);
    expect(of('STEP_PROGRESS').map((e) => e.progress)).toEqual(range(1, SIMULATED_TICKS).map((t) => t / SIMULATED_TICKS));
  }
});
