// Nothing is lost when every process dies: the API, the worker and the local Temporal are
// SIGKILLed mid-step and while a webhook deployment waits for its callback; after a restart each
// deployment finishes with events 1..n, no step run twice, and no second webhook call. A decision
// and a cancel sent after the API and worker died before the workflow's first task are taken once.
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { gqlAt, jwtFor } from '../support/client.ts';
import { createTestDatabase } from '../support/database.ts';
import { until } from '../../scripts/lib/until.ts';
import { spawnStageplane, type StageplaneProcess } from '../support/process.ts';

const JWT_SECRET = 'durability-test-secret-0123456789-abcdefgh';
const WEBHOOK_SECRET = 'durability-webhook-secret-0123';
let db: Awaited<ReturnType<typeof createTestDatabase>>;
let env: Record<string, string>;
let proc: StageplaneProcess | null = null;
let admin: string;

const EVENTS = `query($id: ID!) { deployment(id: $id) { status events { seq type step progress } } }`;

/** Polls through restarts (a failing probe is "not yet"); on time-out, says what the process printed last. */
const waitFor = <T>(what: string, probe: () => Promise<T>, timeoutMs = 60_000) =>
  until(what, probe, { timeoutMs, intervalMs: 200, ignoreErrors: true, context: () => proc?.output().slice(-2000) });

beforeAll(async () => {
  db = await createTestDatabase();
  // TEMPORAL_ADDRESS unset: the process starts and supervises its own Temporal, state in DATA_DIR.
  env = {
    DATABASE_URL: db.url,
    DATA_DIR: mkdtempSync(join(tmpdir(), 'stageplane-durable-')),
    JWT_SECRET,
    WEBHOOK_SECRET,
    TEMPORAL_ADDRESS: '',
  };
  proc = await spawnStageplane('all', env);
  admin = await jwtFor(JWT_SECRET, 'ada', ['ADMIN', 'DEVELOPER']);
}, 180_000);
afterAll(async () => {
  await proc?.stop();
  await db?.drop();
});

async function project(slug: string, target: Record<string, unknown>) {
  const created = await gqlAt(
    proc!.url,
    admin,
    `mutation($i: CreateProjectInput!) { createProject(input: $i) { id environment(slug: "development") { id } } }`,
    {
      i: { slug, name: slug },
    },
  );
  expect(created.errors).toBeUndefined();
  const p = created.data.createProject;
  const u = await gqlAt(proc!.url, admin, `mutation($i: UpdateEnvironmentInput!) { updateEnvironment(input: $i) { id } }`, {
    i: { id: p.environment.id, deployTarget: target },
  });
  expect(u.errors).toBeUndefined();
  return p.id as string;
}

async function pushAt(projectId: string, commitSha: string) {
  const r = await gqlAt(proc!.url, admin, `mutation($i: RecordPushInput!) { recordPush(input: $i) { deployments { id } } }`, {
    i: { projectId, branch: 'main', commitSha },
  });
  expect(r.errors).toBeUndefined();
  return r.data.recordPush.deployments[0].id as string;
}

async function restart() {
  await proc!.killHard();
  proc = await spawnStageplane('all', env);
}

describe('durability across SIGKILL of every process', () => {
  it('finishes a SIMULATED deployment killed mid-step with no step or event repeated', async () => {
    const projectId = await project('durable-sim', { provider: 'SIMULATED', stepSeconds: 3 });
    const id = await pushAt(projectId, 'd00d0001');
    await waitFor('the deploy step to be under way', async () => {
      const r = await gqlAt(proc!.url, admin, EVENTS, { id });
      return r.data?.deployment.events.some((e: any) => e.type === 'STEP_PROGRESS' && e.step === 'deploy');
    });
    await restart();
    const done = await waitFor(
      'SUCCEEDED after the restart',
      async () => {
        const r = await gqlAt(proc!.url, admin, EVENTS, { id });
        return r.data?.deployment.status === 'SUCCEEDED' ? r.data.deployment : null;
      },
      90_000,
    );
    const events = done.events as { seq: number; type: string; step: string | null; progress: number | null }[];
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    expect(events.filter((e) => e.type === 'STARTED')).toHaveLength(1);
    expect(events.filter((e) => e.type === 'STEP_STARTED').map((e) => e.step)).toEqual(['prepare', 'deploy', 'verify']);
    const progress = events.filter((e) => e.type === 'STEP_PROGRESS').map((e) => `${e.step}:${e.progress}`);
    expect(new Set(progress).size).toBe(progress.length);
    expect(progress).toHaveLength(12);
    expect(events.at(-1)!.type).toBe('SUCCEEDED');
  }, 180_000);

  it('calls a WEBHOOK target once, even when everything dies while it waits for the callback', async () => {
    const calls: string[] = [];
    const receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        calls.push(body);
        res.writeHead(202).end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', () => r()));
    try {
      const url = `http://127.0.0.1:${(receiver.address() as { port: number }).port}/hook`;
      const projectId = await project('durable-hook', { provider: 'WEBHOOK', url });
      const id = await pushAt(projectId, 'd00d0002');
      // Killed once the delivery is recorded, while the workflow waits for the callback.
      await waitFor('the recorded webhook delivery', async () => {
        const r = await gqlAt(proc!.url, admin, EVENTS, { id });
        return r.data?.deployment.events.some((e: any) => e.type === 'LOG');
      });
      await restart();
      // Give a restarted worker every chance to (wrongly) call again.
      await new Promise((r) => setTimeout(r, 5000));
      expect(calls).toHaveLength(1);
      const { callbackToken } = JSON.parse(calls[0]!);
      const report = await gqlAt(
        proc!.url,
        callbackToken,
        `mutation($i: ReportDeploymentStatusInput!) { reportDeploymentStatus(input: $i) { status } }`,
        {
          i: { deploymentId: id, status: 'SUCCEEDED', message: 'deployed' },
        },
      );
      expect(report.errors).toBeUndefined();
      const done = await waitFor('SUCCEEDED', async () => {
        const r = await gqlAt(proc!.url, admin, EVENTS, { id });
        return r.data?.deployment.status === 'SUCCEEDED' ? r.data.deployment : null;
      });
      expect(done.events.map((e: any) => e.seq)).toEqual(done.events.map((_: unknown, i: number) => i + 1));
      expect(done.events.map((e: any) => e.type)).toEqual(['CREATED', 'STARTED', 'LOG', 'SUCCEEDED']);
      expect(calls).toHaveLength(1);
    } finally {
      await new Promise((r) => receiver.close(r));
    }
  }, 180_000);
});

describe('verification across SIGKILL of every process', () => {
  it('resumes a verification killed mid-way with its count kept, and still rolls back a failed one', async () => {
    // 200 for the first release's probes, then 500 once `failing` is set.
    let hits = 0;
    let failing = false;
    const target = createServer((_req, res) => {
      hits++;
      res.writeHead(failing ? 500 : 200).end('body-never-stored');
    });
    await new Promise<void>((r) => target.listen(0, '127.0.0.1', () => r()));
    const VERIFY = `query($id: ID!) { deployment(id: $id) { status verification { status probes lastStatusCode lastError }
      rolledBackBy { id status requestedBy } events { seq type } } }`;
    const read = async (id: string) => (await gqlAt(proc!.url, admin, VERIFY, { id })).data?.deployment;
    try {
      const url = `http://127.0.0.1:${(target.address() as { port: number }).port}/health`;
      const projectId = await project('durable-verify', {
        provider: 'SIMULATED',
        stepSeconds: 0,
        verification: { url, intervalSeconds: 1, successThreshold: 6, failureThreshold: 6, timeoutSeconds: 600 },
      });
      const env = await gqlAt(proc!.url, admin, `{ project(slug: "durable-verify") { environment(slug: "development") { id } } }`);
      const policy = await gqlAt(proc!.url, admin, `mutation($i: UpdateEnvironmentInput!) { updateEnvironment(input: $i) { id } }`, {
        i: { id: env.data.project.environment.id, policy: { autoRollback: true } },
      });
      expect(policy.errors).toBeUndefined();

      const good = await pushAt(projectId, 'd00d0003');
      await waitFor('two probes recorded', async () => ((await read(good))?.verification.probes ?? 0) >= 2);
      await restart();
      const passed = await waitFor(
        'SUCCEEDED after the restart',
        async () => ((await read(good))?.status === 'SUCCEEDED' ? read(good) : null),
        120_000,
      );
      // Went on from the recorded count: six probes in all, not two and then six more.
      expect(passed.verification).toMatchObject({ status: 'PASSED', probes: 6, lastStatusCode: 200 });
      expect(hits).toBeGreaterThanOrEqual(6);
      expect(hits).toBeLessThanOrEqual(7); // at most the one probe in flight when the worker died
      const types = passed.events.map((e: any) => e.type);
      expect(passed.events.map((e: any) => e.seq)).toEqual(passed.events.map((_: unknown, i: number) => i + 1));
      expect(types.filter((t: string) => t === 'VERIFICATION_STARTED')).toHaveLength(1);
      expect(types.slice(-2)).toEqual(['VERIFICATION_PASSED', 'SUCCEEDED']);

      failing = true;
      const bad = await pushAt(projectId, 'd00d0004');
      await waitFor('two failed probes recorded', async () => ((await read(bad))?.verification.probes ?? 0) >= 2);
      await restart();
      const failed = await waitFor(
        'FAILED after the restart',
        async () => ((await read(bad))?.status === 'FAILED' ? read(bad) : null),
        120_000,
      );
      failing = false; // the rollback's release answers again
      expect(failed.verification).toMatchObject({ status: 'FAILED', probes: 6, lastError: 'HTTP 500 (expected 200)' });
      const failedTypes = failed.events.map((e: any) => e.type);
      expect(failedTypes.slice(-3)).toEqual(['VERIFICATION_FAILED', 'ROLLBACK_STARTED', 'FAILED']);
      expect(failed.rolledBackBy.requestedBy).toBe('stageplane:auto-rollback');
      const rolled = await waitFor('the rollback SUCCEEDED', async () =>
        (await read(failed.rolledBackBy.id))?.status === 'SUCCEEDED' ? read(failed.rolledBackBy.id) : null,
      );
      expect(rolled.verification.status).toBe('PASSED');
      // The refused release stays refused after all those restarts.
      const refused = await gqlAt(proc!.url, admin, `mutation($i: DeployInput!) { deploy(input: $i) { id } }`, {
        i: {
          environmentId: env.data.project.environment.id,
          releaseId: (await gqlAt(proc!.url, admin, `query($id: ID!) { deployment(id: $id) { release { id } } }`, { id: bad })).data
            .deployment.release.id,
        },
      });
      expect(refused.errors?.[0]?.extensions?.code).toBe('PRECONDITION_FAILED');
    } finally {
      await new Promise((r) => target.close(r));
    }
  }, 360_000);
});

describe('decisions across SIGKILL before the workflow has run', () => {
  it('takes an approval and a cancel sent after the API and the worker were killed between the answer and the first task', async () => {
    // API and worker as separate processes on a shared Temporal, so the worker can be dead while
    // the API creates deployments: their workflows exist, but none has run its first task.
    const split = {
      ...env,
      DATA_DIR: mkdtempSync(join(tmpdir(), 'stageplane-split-')),
      TEMPORAL_ADDRESS: inject('temporalAddress'),
      TEMPORAL_TASK_QUEUE: `durable-split-${process.pid}`,
    };
    let api = await spawnStageplane('api', split);
    let worker = await spawnStageplane('worker', split);
    try {
      const gql = (token: string, query: string, variables: Record<string, unknown> = {}) => gqlAt(api.url, token, query, variables);
      const created = await gql(
        admin,
        `mutation { createProject(input: { slug: "durable-first", name: "First" }) { id environments { id slug } } }`,
      );
      expect(created.errors).toBeUndefined();
      const p = created.data.createProject as { id: string; environments: { id: string; slug: string }[] };
      const envId = (slug: string) => p.environments.find((e) => e.slug === slug)!.id;
      for (const e of p.environments) {
        const u = await gql(admin, `mutation($i: UpdateEnvironmentInput!) { updateEnvironment(input: $i) { id } }`, {
          i: { id: e.id, deployTarget: { provider: 'SIMULATED', stepSeconds: 0 } },
        });
        expect(u.errors).toBeUndefined();
      }
      const status = async (id: string) => (await gql(admin, EVENTS, { id })).data?.deployment.status;
      const pushed = await gql(admin, `mutation($i: RecordPushInput!) { recordPush(input: $i) { deployments { id } } }`, {
        i: { projectId: p.id, branch: 'main', commitSha: 'f1257000' },
      });
      await waitFor('development SUCCEEDED', async () => (await status(pushed.data.recordPush.deployments[0].id)) === 'SUCCEEDED');
      const PROMOTE = `mutation($i: PromoteInput!) { promote(input: $i) { id status } }`;
      const staged = await gql(admin, PROMOTE, { i: { environmentId: envId('staging') } });
      await waitFor('staging SUCCEEDED', async () => (await status(staged.data.promote.id)) === 'SUCCEEDED');

      await worker.killHard();
      const prod = await gql(admin, PROMOTE, { i: { environmentId: envId('production') } });
      expect(prod.data.promote.status).toBe('PENDING_APPROVAL');
      const again = await gql(admin, PROMOTE, { i: { environmentId: envId('staging') } });
      expect(again.data.promote.status).toBe('QUEUED');
      await api.killHard();

      api = await spawnStageplane('api', split);
      const bob = await jwtFor(JWT_SECRET, 'bob', ['APPROVER']);
      // Sent while no worker runs: answered once the workflow's first task has taken them.
      const approving = gql(bob, `mutation($i: DecisionInput!) { approveDeployment(input: $i) { status approvals { approver } } }`, {
        i: { deploymentId: prod.data.promote.id, comment: 'after the crash' },
      });
      const cancelling = gql(admin, `mutation($id: ID!) { cancelDeployment(id: $id) { status } }`, { id: again.data.promote.id });
      await new Promise((r) => setTimeout(r, 1000));
      worker = await spawnStageplane('worker', split);
      const [approved, cancelled] = await Promise.all([approving, cancelling]);
      expect(approved.errors).toBeUndefined();
      expect(approved.data.approveDeployment.approvals).toEqual([{ approver: 'bob' }]);
      expect(cancelled.errors).toBeUndefined();
      expect(cancelled.data.cancelDeployment.status).toBe('CANCELLED');
      const done = await waitFor('production SUCCEEDED', async () => {
        const r = await gql(admin, EVENTS, { id: prod.data.promote.id });
        return r.data?.deployment.status === 'SUCCEEDED' ? r.data.deployment : null;
      });
      expect(done.events.map((e: any) => e.seq)).toEqual(done.events.map((_: unknown, i: number) => i + 1));
      expect(done.events.map((e: any) => e.type).slice(0, 4)).toEqual(['CREATED', 'APPROVAL_REQUESTED', 'APPROVED', 'STARTED']);
    } finally {
      await Promise.all([api.stop(), worker.stop()]);
    }
  }, 180_000);
});
