// Notification deliveries survive SIGKILL of the worker: a delivery retrying when its worker dies
// is delivered by the next one, with the same Idempotency-Key, and never sent again once a 2xx is
// recorded; deliveries written while no worker runs (the outbox rows wait) go out when one starts.
import { mkdtempSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { until } from '../../scripts/lib/until.ts';
import { gqlAt, jwtFor } from '../support/client.ts';
import { createTestDatabase } from '../support/database.ts';
import { spawnStageplane, type StageplaneProcess } from '../support/process.ts';

const JWT_SECRET = 'notify-durability-secret-0123456789-abcdef';
let db: Awaited<ReturnType<typeof createTestDatabase>>;
let env: Record<string, string>;
let api: StageplaneProcess;
let worker: StageplaneProcess | null = null;
let admin: string;
let projectId: string;

const hits: { path: string; headers: IncomingHttpHeaders; at: number }[] = [];
let healthy = false;
const server = createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    hits.push({ path: req.url ?? '', headers: req.headers, at: Date.now() });
    if (req.url === '/held' && !healthy) return; // no answer: the attempt is in flight when its worker dies
    res.writeHead(healthy ? 204 : 500).end();
  });
});
let base = '';

async function spawnWorker() {
  const w = await spawnStageplane('worker', env);
  await until('the worker to run', async () => w.output().includes('worker running'), { timeoutMs: 120_000, intervalMs: 100 });
  return w;
}

const gql = (query: string, variables: Record<string, unknown> = {}) => gqlAt(api.url, admin, query, variables);
const waitFor = <T>(what: string, probe: () => Promise<T>, timeoutMs = 90_000) =>
  until(what, probe, {
    timeoutMs,
    intervalMs: 200,
    ignoreErrors: true,
    context: () => `${api.output().slice(-1500)}\n${worker?.output().slice(-1500)}`,
  });

const CHANNELS = `{ project(slug: "durable-notify") { notificationChannels { id name deliveries { id event status attempts lastStatusCode } } } }`;
async function deliveries(name: string) {
  const r = await gql(CHANNELS);
  return r.data.project.notificationChannels.find((c: { name: string }) => c.name === name).deliveries as {
    id: string;
    event: string;
    status: string;
    attempts: number;
    lastStatusCode: number | null;
  }[];
}

beforeAll(async () => {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  db = await createTestDatabase();
  env = {
    DATABASE_URL: db.url,
    DATA_DIR: mkdtempSync(join(tmpdir(), 'stageplane-notify-durable-')),
    JWT_SECRET,
    WEBHOOK_SECRET: 'notify-durability-webhook-0123',
    TEMPORAL_ADDRESS: inject('temporalAddress'),
    TEMPORAL_TASK_QUEUE: `notify-durable-${process.pid}`,
    // A window long enough to outlive a worker restart; attempts 0.5 s, 1 s, 2 s, 4 s apart (at most 4 s... then doubling).
    NOTIFY_RETRY_HOURS: '0.05',
    NOTIFY_RETRY_INITIAL_SECONDS: '0.5',
    // A claim's lease is twice this and 5 s: 7 s before a lost worker's claims are handed back.
    NOTIFY_TIMEOUT_SECONDS: '1',
  };
  api = await spawnStageplane('api', env);
  worker = await spawnWorker();
  admin = await jwtFor(JWT_SECRET, 'ada', ['ADMIN', 'DEVELOPER']);
  const created = await gql(`mutation { createProject(input: { slug: "durable-notify", name: "D" }) { id environments { id } } }`);
  expect(created.errors).toBeUndefined();
  projectId = created.data.createProject.id;
  for (const e of created.data.createProject.environments) {
    const u = await gql(`mutation($i: UpdateEnvironmentInput!) { updateEnvironment(input: $i) { id } }`, {
      i: { id: e.id, deployTarget: { provider: 'SIMULATED', stepSeconds: 0 } },
    });
    expect(u.errors).toBeUndefined();
  }
}, 240_000);
afterAll(async () => {
  await Promise.all([api?.stop(), worker?.stop()]);
  await new Promise((r) => server.close(r));
  await db?.drop();
});

describe('notification deliveries across SIGKILL of the worker', () => {
  it('delivers a retrying delivery after the worker is killed mid-retry, once, with one Idempotency-Key', async () => {
    const c = await gql(`mutation($i: CreateNotificationChannelInput!) { createNotificationChannel(input: $i) { id } }`, {
      i: { projectId, name: 'killed', kind: 'WEBHOOK', url: `${base}/killed`, events: ['TEST'] },
    });
    expect(c.errors).toBeUndefined();
    const t = await gql(`mutation($id: ID!) { testNotificationChannel(id: $id) { id } }`, { id: c.data.createNotificationChannel.id });
    expect(t.errors).toBeUndefined();
    const id = t.data.testNotificationChannel.id;
    await waitFor('two failed attempts', async () => hits.filter((h) => h.path === '/killed').length >= 2);
    await worker!.killHard();
    worker = null;
    healthy = true;
    const whileDead = hits.filter((h) => h.path === '/killed').length;
    await new Promise((r) => setTimeout(r, 1500));
    expect(hits.filter((h) => h.path === '/killed').length).toBe(whileDead); // nobody sends while no worker runs
    const [retrying] = await deliveries('killed');
    expect(retrying!.status).toBe('RETRYING');

    worker = await spawnWorker();
    const done = await waitFor('DELIVERED after the restart', async () => {
      const [d] = await deliveries('killed');
      return d?.status === 'DELIVERED' ? d : null;
    });
    const mine = () => hits.filter((h) => h.path === '/killed');
    expect(mine().length).toBe(whileDead + 1);
    expect(done).toMatchObject({ id, attempts: whileDead + 1, lastStatusCode: 204 });
    expect(new Set(mine().map((h) => h.headers['idempotency-key']))).toEqual(new Set([id]));

    // After a recorded 2xx: another kill and restart sends nothing again.
    await worker.killHard();
    worker = await spawnWorker();
    await new Promise((r) => setTimeout(r, 3000));
    expect(mine().length).toBe(whileDead + 1);
  }, 240_000);

  it('sends the deliveries of events that committed while no worker ran (the outbox waits)', async () => {
    healthy = true;
    const c = await gql(`mutation($i: CreateNotificationChannelInput!) { createNotificationChannel(input: $i) { id } }`, {
      i: { projectId, name: 'outbox', kind: 'WEBHOOK', url: `${base}/outbox`, events: ['DEPLOYMENT_SUCCEEDED', 'TEST'] },
    });
    expect(c.errors).toBeUndefined();
    await worker!.killHard();
    worker = null;
    // A test delivery while no worker runs: its workflow is started but nobody runs it yet.
    const t = await gql(`mutation($id: ID!) { testNotificationChannel(id: $id) { status } }`, { id: c.data.createNotificationChannel.id });
    expect(t.data.testNotificationChannel.status).toBe('PENDING');
    // Longer than a relay's claim lasts (7 s here): a row a workflow owns is never handed back
    // to a relay, which would send it alongside the workflow.
    await new Promise((r) => setTimeout(r, 8000));
    expect(hits.filter((h) => h.path === '/outbox')).toHaveLength(0);
    worker = await spawnWorker();
    // A push: the deployment's SUCCEEDED event and its delivery row commit together.
    const pushed = await gql(`mutation($i: RecordPushInput!) { recordPush(input: $i) { deployments { id } } }`, {
      i: { projectId, branch: 'main', commitSha: 'feed0001' },
    });
    expect(pushed.errors).toBeUndefined();
    const both = await waitFor('both deliveries DELIVERED', async () => {
      const ds = await deliveries('outbox');
      return ds.length === 2 && ds.every((d) => d.status === 'DELIVERED') ? ds : null;
    });
    expect(both.map((d) => d.event).sort()).toEqual(['DEPLOYMENT_SUCCEEDED', 'TEST']);
    await new Promise((r) => setTimeout(r, 1500));
    expect(hits.filter((h) => h.path === '/outbox')).toHaveLength(2);
  }, 240_000);

  it('attempts again a first attempt whose worker died mid-request (its claim is handed back), once delivered', async () => {
    healthy = false;
    const c = await gql(`mutation($i: CreateNotificationChannelInput!) { createNotificationChannel(input: $i) { id } }`, {
      i: { projectId, name: 'held', kind: 'WEBHOOK', url: `${base}/held`, events: ['DEPLOYMENT_SUCCEEDED'] },
    });
    expect(c.errors).toBeUndefined();
    // The relay (not a workflow) makes a delivery's first attempt: kill its worker while the
    // receiver holds that request.
    const pushed = await gql(`mutation($i: RecordPushInput!) { recordPush(input: $i) { deployments { id } } }`, {
      i: { projectId, branch: 'main', commitSha: 'feed0002' },
    });
    expect(pushed.errors).toBeUndefined();
    const held = () => hits.filter((h) => h.path === '/held');
    await waitFor('the first attempt to reach the receiver', async () => held().length >= 1);
    await worker!.killHard();
    worker = null;
    const [lost] = await deliveries('held');
    expect(lost).toMatchObject({ status: 'PENDING', attempts: 0 }); // claimed, never recorded
    healthy = true;
    worker = await spawnWorker();
    const done = await waitFor('DELIVERED once the lease ran out', async () => {
      const [d] = await deliveries('held');
      return d?.status === 'DELIVERED' ? d : null;
    });
    expect(done).toMatchObject({ id: lost!.id, attempts: 1, lastStatusCode: 204 });
    expect(held()).toHaveLength(2);
    expect(new Set(held().map((h) => h.headers['idempotency-key']))).toEqual(new Set([lost!.id]));
    await new Promise((r) => setTimeout(r, 1500));
    expect(held()).toHaveLength(2);
  }, 240_000);
});
