// Deployments end to end: a real API and worker against real PostgreSQL and a real Temporal.
import { createServer, type IncomingMessage } from 'node:http';
import { createHmac, randomUUID } from 'node:crypto';
import githubExamples from '@octokit/webhooks-examples';
import { decodeGlobalID } from '@pothos/plugin-relay';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import postgres from 'postgres';
import { createDatabase } from '../../db/client.ts';
import { createDeploymentActivities } from '../../workflows/activities/deployment.ts';
import { createTestDatabase } from '../support/database.ts';
import { instantsOfEveryDeployment } from '../support/deployment-instants.ts';
import { DEPLOYMENT_FIELDS, deployment, expectGaplessEvents, push, setupProject, waitForStatus } from '../support/deployments.ts';
import { codeOf, startTestServer, type TestServer } from '../support/server.ts';

const WEBHOOK_SECRET = 'webhook-secret-for-tests-0123456789';
let server: TestServer;
let dropDb: () => Promise<void>;
let dbUrl: string;

beforeAll(async () => {
  const db = await createTestDatabase();
  dropDb = db.drop;
  dbUrl = db.url;
  server = await startTestServer({ databaseUrl: db.url, env: { WEBHOOK_SECRET, WEBHOOK_TIMEOUT_SECONDS: '4' } });
});
afterAll(async () => {
  await server?.stop();
  await dropDb?.();
});

const PROMOTE = `mutation($i: PromoteInput!) { promote(input: $i) { ${DEPLOYMENT_FIELDS} } }`;
const APPROVE = `mutation($i: DecisionInput!) { approveDeployment(input: $i) { status approvals { approver decision } } }`;
const REJECT = `mutation($i: DecisionInput!) { rejectDeployment(input: $i) { status } }`;

async function promoteToStaging(p: Awaited<ReturnType<typeof setupProject>>, commit: string) {
  const pushed = await push(server, p.id, commit);
  await waitForStatus(server, pushed.data.recordPush.deployments[0].id, ['SUCCEEDED']);
  const staged = await server.gql(PROMOTE, { i: { environmentId: p.staging } });
  expect(staged.errors).toBeUndefined();
  return waitForStatus(server, staged.data.promote.id, ['SUCCEEDED']);
}

/** The deployment activities on a connection of their own, as a worker would run them. */
async function withActivities(use: (activities: ReturnType<typeof createDeploymentActivities>) => Promise<void>) {
  const handle = await createDatabase({ url: server.config.databaseUrl, poolSize: 1 });
  try {
    await use(
      createDeploymentActivities({
        db: handle.db,
        log: pino({ level: 'silent' }),
        webhookSecret: undefined,
        callbackKey: server.config.jwtSecret,
        publicUrl: server.config.publicUrl,
      }),
    );
  } finally {
    await handle.close();
  }
}

describe('push', () => {
  it('records the release once and deploys development to SUCCEEDED with a gapless event log', async () => {
    const p = await setupProject(server, 'push-basic');
    const first = await push(server, p.id, 'abcdef0123456');
    expect(first.errors).toBeUndefined();
    expect(first.data.recordPush.release).toMatchObject({ version: 'abcdef0', commitSha: 'abcdef0123456' });
    expect(first.data.recordPush.deployments.map((d: any) => d.environment.slug)).toEqual(['development']);
    const done = await waitForStatus(server, first.data.recordPush.deployments[0].id, ['SUCCEEDED']);
    expectGaplessEvents(done.events);
    expect(done.events[0]).toMatchObject({ type: 'CREATED', status: 'QUEUED' });
    expect(done.events.at(-1)).toMatchObject({ type: 'SUCCEEDED', status: 'SUCCEEDED' });
    expect(done.events.filter((e: any) => e.type === 'STEP_STARTED').map((e: any) => e.step)).toEqual(['prepare', 'deploy', 'verify']);
    expect(done.steps.every((s: any) => s.status === 'SUCCEEDED')).toBe(true);
    expect(done.progress).toBe(1);
    expect(done.workflowId).toContain('deployment-');
    // Its local transitions run again (a worker died before its workflow task completed): each
    // key is recorded once, nothing is appended, nothing refused.
    await withActivities(async (activities) => {
      const uuid = decodeGlobalID(done.id).id;
      expect(await activities.recordInstantSteps(uuid)).toBe(true);
      expect(await activities.tryLease(uuid, { holdForFreeze: true })).toMatchObject({ outcome: 'blocked', status: 'SUCCEEDED' });
      expect(await activities.finish(uuid, { outcome: 'SUCCEEDED', actor: null, message: null })).toEqual({ status: 'SUCCEEDED' });
      expect((await deployment(server, done.id)).events).toEqual(done.events);
    });

    const again = await push(server, p.id, 'ABCDEF0123456');
    expect(again.data.recordPush.release.id).toBe(first.data.recordPush.release.id);
    // A redelivered push starts nothing new.
    expect(again.data.recordPush.deployments.map((d: any) => d.id)).toEqual([first.data.recordPush.deployments[0].id]);
    const releases = await server.gql(`{ project(slug: "push-basic") { releases { edges { node { commitSha } } } } }`);
    expect(releases.data.project.releases.edges).toHaveLength(1);

    const other = await push(server, p.id, 'bbbbbbb1', 'feature/x');
    expect(other.data.recordPush.deployments).toEqual([]);
    const env = await server.gql(
      `{ project(slug: "push-basic") { environment(slug: "development") { currentRelease { version } activeDeployment { id } } } }`,
    );
    expect(env.data.project.environment).toEqual({ currentRelease: { version: 'abcdef0' }, activeDeployment: null });
  });

  it('refuses bad pushes and pushes by roles other than DEVELOPER', async () => {
    const p = await setupProject(server, 'push-bad');
    expect(codeOf(await push(server, p.id, 'xyz'))).toBe('BAD_USER_INPUT');
    expect(codeOf(await push(server, p.id, 'abcdef1', 'bad..branch'))).toBe('BAD_USER_INPUT');
    const qa = await server.token('q', ['QA']);
    expect(codeOf(await push(server, p.id, 'abcdef1', 'main', qa))).toBe('FORBIDDEN');
    const releases = await server.gql(`{ project(slug: "push-bad") { releases { edges { node { id } } } } }`);
    expect(releases.data.project.releases.edges).toEqual([]);
  });

  it('accepts the signed GitHub push webhook and refuses a bad signature with 401, recording nothing', async () => {
    await setupProject(server, 'hooked');
    const body = JSON.stringify({
      ref: 'refs/heads/main',
      after: 'cafebabe1234567',
      head_commit: { message: 'Ship it', author: { name: 'Grace' } },
      repository: { name: 'hooked' },
    });
    const sign = (b: string, key = WEBHOOK_SECRET) => `sha256=${createHmac('sha256', key).update(b).digest('hex')}`;
    const bad = await fetch(`${server.url}/webhooks/push`, {
      method: 'POST',
      body,
      headers: { 'x-hub-signature-256': sign(body, 'wrong-secret-wrong-secret') },
    });
    expect(bad.status).toBe(401);
    const missing = await fetch(`${server.url}/webhooks/push`, { method: 'POST', body });
    expect(missing.status).toBe(401);
    let r = await server.gql(`{ project(slug: "hooked") { releases { edges { node { id } } } } }`);
    expect(r.data.project.releases.edges).toEqual([]);
    const ok = await fetch(`${server.url}/webhooks/push`, {
      method: 'POST',
      body,
      headers: { 'x-hub-signature-256': sign(body), 'x-github-event': 'push' },
    });
    expect(ok.status).toBe(202);
    r = await server.gql(
      `{ project(slug: "hooked") { releases { edges { node { version message author branch } } } deployments { edges { node { kind requestedBy } } } } }`,
    );
    expect(r.data.project.releases.edges[0].node).toEqual({ version: 'cafebab', message: 'Ship it', author: 'Grace', branch: 'main' });
    expect(r.data.project.deployments.edges[0].node).toEqual({ kind: 'PUSH', requestedBy: 'webhook:github' });
  });
});

describe('GitHub webhooks, as GitHub sends them (@octokit/webhooks-examples)', () => {
  type Example = { name: string; examples: Record<string, any>[] };
  const examples = githubExamples as unknown as Example[];
  const payloadsOf = (name: string) => examples.find((e) => e.name === name)!.examples;
  const sign = (b: string) => `sha256=${createHmac('sha256', WEBHOOK_SECRET).update(b).digest('hex')}`;
  const deliver = (event: string, payload: unknown, delivery = randomUUID()) => {
    const body = JSON.stringify(payload);
    return fetch(`${server.url}/webhooks/push`, {
      method: 'POST',
      body,
      headers: {
        'content-type': 'application/json',
        'x-github-event': event,
        'x-github-delivery': delivery,
        'x-hub-signature-256': sign(body),
      },
    });
  };
  const branchPush = payloadsOf('push').find((p) => p.ref.startsWith('refs/heads/') && !p.deleted)!;
  const history = async (slug: string) =>
    (await server.gql(`{ project(slug: "${slug}") { releases { edges { node { version branch commitSha author message } } } } }`)).data
      .project.releases.edges;

  it('finds the project by repository.name compared case-insensitively, and records the branch push', async () => {
    // The examples' repository is "Hello-World"; its project's slug is hello-world.
    expect(branchPush.repository.name).toBe('Hello-World');
    await setupProject(server, 'hello-world');
    const r = await deliver('push', branchPush);
    expect(r.status).toBe(202);
    const edges = await history('hello-world');
    expect(edges).toEqual([
      {
        node: {
          version: branchPush.after.slice(0, 7),
          branch: branchPush.ref.slice('refs/heads/'.length),
          commitSha: branchPush.after,
          author: branchPush.head_commit.author.name,
          message: branchPush.head_commit.message,
        },
      },
    ]);
    // A redelivery (same X-GitHub-Delivery) changes nothing.
    const delivery = randomUUID();
    expect((await deliver('push', branchPush, delivery)).status).toBe(202);
    expect((await deliver('push', branchPush, delivery)).status).toBe(202);
    expect(await history('hello-world')).toHaveLength(1);
  });

  it('answers ping and every other event 2xx, and records nothing for tag pushes and deletions', async () => {
    // A fresh project under the same repository name, with no release yet.
    const slug = 'hello-world';
    const before = await history(slug);
    for (const ping of payloadsOf('ping')) expect((await deliver('ping', ping)).status).toBeLessThan(300);
    for (const p of payloadsOf('push').filter((p) => !p.ref.startsWith('refs/heads/') || p.deleted)) {
      expect((await deliver('push', p)).status).toBeLessThan(300);
    }
    for (const name of ['issues', 'pull_request', 'create', 'delete', 'release', 'workflow_run']) {
      for (const payload of payloadsOf(name).slice(0, 3)) {
        const r = await deliver(name, payload);
        expect(r.status, name).toBeLessThan(300);
      }
    }
    expect(await history(slug)).toEqual(before);
  });
});

describe('promotion and approval', () => {
  it('promotes to staging only after development succeeded, then production waits for an APPROVER', async () => {
    const p = await setupProject(server, 'pipeline');
    const early = await server.gql(PROMOTE, { i: { environmentId: p.staging } });
    expect(codeOf(early)).toBe('PRECONDITION_FAILED');
    expect(codeOf(await server.gql(PROMOTE, { i: { environmentId: p.dev } }))).toBe('PRECONDITION_FAILED');

    const staged = await promoteToStaging(p, 'aaaaaaa1');
    expect(staged.kind).toBe('PROMOTION');

    const quinn = await server.token('quinn', ['QA']);
    const prod = await server.gql(PROMOTE, { i: { environmentId: p.production } }, quinn);
    expect(prod.errors).toBeUndefined();
    const id = prod.data.promote.id;
    const pending = await waitForStatus(server, id, ['PENDING_APPROVAL']);
    expect(pending.requiredApprovals).toBe(1);
    expect(pending.events.map((e: any) => e.type)).toEqual(['CREATED', 'APPROVAL_REQUESTED']);
    const envs = await server.gql(
      `{ project(slug: "pipeline") { environments { slug currentRelease { version } activeDeployment { id status } } } }`,
    );
    expect(envs.data.project.environments).toEqual([
      { slug: 'development', currentRelease: { version: 'aaaaaaa' }, activeDeployment: null },
      { slug: 'staging', currentRelease: { version: 'aaaaaaa' }, activeDeployment: null },
      { slug: 'production', currentRelease: null, activeDeployment: { id, status: 'PENDING_APPROVAL' } },
    ]);

    // The requester may not approve, nor a role outside approverRoles.
    const self = await server.token('quinn', ['QA', 'APPROVER']);
    expect(codeOf(await server.gql(APPROVE, { i: { deploymentId: id } }, self))).toBe('FORBIDDEN');
    const dev = await server.token('dora', ['DEVELOPER']);
    expect(codeOf(await server.gql(APPROVE, { i: { deploymentId: id } }, dev))).toBe('FORBIDDEN');

    const bob = await server.token('bob', ['APPROVER']);
    const approved = await server.gql(APPROVE, { i: { deploymentId: id, comment: 'LGTM' } }, bob);
    expect(approved.errors).toBeUndefined();
    // Answered only after the approval is recorded.
    expect(approved.data.approveDeployment.approvals).toEqual([{ approver: 'bob', decision: 'APPROVE' }]);
    const done = await waitForStatus(server, id, ['SUCCEEDED']);
    expectGaplessEvents(done.events);
    expect(done.events.map((e: any) => e.type).slice(0, 4)).toEqual(['CREATED', 'APPROVAL_REQUESTED', 'APPROVED', 'STARTED']);
    // Deciding again after the decision is refused.
    const carol = await server.token('carol', ['APPROVER']);
    expect(codeOf(await server.gql(APPROVE, { i: { deploymentId: id } }, carol))).toBe('PRECONDITION_FAILED');
    const audit = await server.gql(`{ project(slug: "pipeline") { auditLog(first: 50) { edges { node { actor action } } } } }`);
    expect(audit.data.project.auditLog.edges.map((e: any) => e.node)).toContainEqual({ actor: 'bob', action: 'deployment.approve' });
  });

  it('records exactly the quorum when 8 approvers race', async () => {
    const p = await setupProject(server, 'quorum');
    const r = await server.gql(`mutation($i: UpdateEnvironmentInput!) { updateEnvironment(input: $i) { policy { requiredApprovals } } }`, {
      i: { id: p.production, policy: { requiredApprovals: 3, preventSelfApproval: true } },
    });
    expect(r.data.updateEnvironment.policy.requiredApprovals).toBe(3);
    await promoteToStaging(p, 'bbbbbbb2');
    const prod = await server.gql(PROMOTE, { i: { environmentId: p.production } });
    const id = prod.data.promote.id;
    await waitForStatus(server, id, ['PENDING_APPROVAL']);
    const tokens = await Promise.all(Array.from({ length: 8 }, (_, i) => server.token(`approver-${i}`, ['APPROVER'])));
    const results = await Promise.all(tokens.map((t) => server.gql(APPROVE, { i: { deploymentId: id } }, t)));
    const accepted = results.filter((x) => !x.errors);
    expect(accepted).toHaveLength(3);
    for (const refused of results.filter((x) => x.errors)) expect(codeOf(refused)).toBe('PRECONDITION_FAILED');
    const done = await waitForStatus(server, id, ['SUCCEEDED']);
    expect(done.approvals).toHaveLength(3);
    expect(done.events.filter((e: any) => e.type === 'APPROVED')).toHaveLength(3);
  });

  it('rejects with one REJECT, and expires without enough approvals in time', async () => {
    const p = await setupProject(server, 'reject');
    await promoteToStaging(p, 'ccccccc3');
    const first = await server.gql(PROMOTE, { i: { environmentId: p.production } });
    await waitForStatus(server, first.data.promote.id, ['PENDING_APPROVAL']);
    const bob = await server.token('bob', ['APPROVER']);
    const rejected = await server.gql(REJECT, { i: { deploymentId: first.data.promote.id, comment: 'not today' } }, bob);
    expect(rejected.data.rejectDeployment.status).toBe('REJECTED');
    const after = await deployment(server, first.data.promote.id);
    expect(after.events.at(-1)).toMatchObject({ type: 'REJECTED', status: 'REJECTED' });

    await server.gql(`mutation($i: UpdateEnvironmentInput!) { updateEnvironment(input: $i) { id } }`, {
      i: { id: p.production, policy: { approvalTimeoutSeconds: 2 } },
    });
    const second = await server.gql(PROMOTE, { i: { environmentId: p.production } });
    const expired = await waitForStatus(server, second.data.promote.id, ['EXPIRED'], 20_000);
    expect(expired.events.map((e: any) => e.type)).toEqual(['CREATED', 'APPROVAL_REQUESTED', 'EXPIRED']);
  });

  it('voids approvals when the target configuration changes while pending, and ships the new snapshot', async () => {
    const p = await setupProject(server, 'repin');
    await server.gql(`mutation($i: UpdateEnvironmentInput!) { updateEnvironment(input: $i) { id } }`, {
      i: { id: p.production, policy: { requiredApprovals: 2 } },
    });
    await promoteToStaging(p, 'ddddddd4');
    const prod = await server.gql(PROMOTE, { i: { environmentId: p.production } });
    const id = prod.data.promote.id;
    const pending = await waitForStatus(server, id, ['PENDING_APPROVAL']);
    const before = pending.snapshot;
    expect(before.settingsVersion).toBe(1);
    const bob = await server.token('bob', ['APPROVER']);
    await server.gql(APPROVE, { i: { deploymentId: id } }, bob);
    expect((await deployment(server, id)).approvals).toHaveLength(1);

    const change = await server.gql(
      `mutation($i: UpdateEnvironmentSettingsInput!) { updateEnvironmentSettings(input: $i) { settings { version } } }`,
      { i: { environmentId: p.production, patch: { readReplicas: 3 } } },
    );
    expect(change.data.updateEnvironmentSettings.settings.version).toBe(2);
    const deadline = Date.now() + 10_000;
    let d = await deployment(server, id);
    while (!d.events.some((e: any) => e.type === 'APPROVALS_INVALIDATED') && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 150));
      d = await deployment(server, id);
    }
    expect(d.status).toBe('PENDING_APPROVAL');
    expect(d.approvals).toEqual([]);
    expect(d.snapshot.settingsVersion).toBe(2);
    expect(d.snapshot.settings.readReplicas).toBe(3);
    expect(d.snapshot.digest).not.toBe(before.digest);
    // The re-pin run again (its answer lost: a retry, a local activity after a worker died)
    // answers as the run it repeats, so that workflow forgets the voided approvals too; once a
    // decision came after it, an unchanged configuration keeps them.
    await withActivities(async (activities) => {
      expect(await activities.repinSnapshot(decodeGlobalID(id).id)).toEqual({ status: 'PENDING_APPROVAL', invalidated: true });
      expect((await deployment(server, id)).events).toHaveLength(d.events.length);
    });
    // bob may approve again: the earlier approval no longer counts.
    const carol = await server.token('carol', ['APPROVER']);
    expect((await server.gql(APPROVE, { i: { deploymentId: id } }, bob)).errors).toBeUndefined();
    await withActivities(async (activities) => {
      expect(await activities.repinSnapshot(decodeGlobalID(id).id)).toEqual({ status: 'PENDING_APPROVAL', invalidated: false });
    });
    expect((await server.gql(APPROVE, { i: { deploymentId: id } }, carol)).errors).toBeUndefined();
    const done = await waitForStatus(server, id, ['SUCCEEDED']);
    expect(done.snapshot.settingsVersion).toBe(2);
    expectGaplessEvents(done.events);
  });
});

describe('gates', () => {
  it('refuses a frozen target and a target with a failed error policy check, naming the checks', async () => {
    const p = await setupProject(server, 'gates');
    await promoteToStaging(p, 'eeeeeee5');
    await server.gql(`mutation($i: UpdateEnvironmentInput!) { updateEnvironment(input: $i) { frozen } }`, {
      i: { id: p.production, frozen: true },
    });
    const frozen = await server.gql(PROMOTE, { i: { environmentId: p.production } });
    expect(codeOf(frozen)).toBe('PRECONDITION_FAILED');
    expect(frozen.errors![0]!.message).toMatch(/frozen/);
    await server.gql(`mutation($i: UpdateEnvironmentInput!) { updateEnvironment(input: $i) { frozen } }`, {
      i: { id: p.production, frozen: false },
    });
    await server.gql(`mutation($i: UpdateEnvironmentSettingsInput!) { updateEnvironmentSettings(input: $i) { id } }`, {
      i: { environmentId: p.production, patch: { logLevel: 'DEBUG', securityHardening: false } },
    });
    const blocked = await server.gql(PROMOTE, { i: { environmentId: p.production } });
    expect(codeOf(blocked)).toBe('PRECONDITION_FAILED');
    expect(blocked.errors![0]!.message).toContain('production.log-level');
    expect(blocked.errors![0]!.message).toContain('production.security-hardening');
    const list = await server.gql(`{ project(slug: "gates") { deployments(environment: "production") { edges { node { id } } } } }`);
    expect(list.data.project.deployments.edges).toEqual([]);
  });

  it('runs one deployment per environment at a time, the others WAITING in the order they were made', async () => {
    const p = await setupProject(server, 'queue', { stepSeconds: 0.4 });
    const first = await push(server, p.id, 'f0000001');
    const second = await push(server, p.id, 'f0000002');
    const third = await push(server, p.id, 'f0000003');
    const ids = [first, second, third].map((r) => r.data.recordPush.deployments[0].id);
    const done = await Promise.all(ids.map((id) => waitForStatus(server, id, ['SUCCEEDED'], 40_000)));
    const started = (d: any) => d.events.find((e: any) => e.type === 'STARTED').seq;
    expect(done[1].events.some((e: any) => e.type === 'WAITING')).toBe(true);
    expect(done[2].events.some((e: any) => e.type === 'WAITING')).toBe(true);
    for (const d of done) expect(started(d)).toBeGreaterThan(1);
    const r = await server.gql(
      `{ project(slug: "queue") { deployments(environment: "development") { edges { node { id startedAt finishedAt } } } } }`,
    );
    const byId = new Map(r.data.project.deployments.edges.map((e: any) => [e.node.id, e.node]));
    const windows = ids.map((id) => byId.get(id) as any);
    // Never two at once, and in creation order.
    expect(new Date(windows[0].finishedAt) <= new Date(windows[1].startedAt)).toBe(true);
    expect(new Date(windows[1].finishedAt) <= new Date(windows[2].startedAt)).toBe(true);
  });

  it('rolls back to the release before the current one, and refuses when there is none', async () => {
    const p = await setupProject(server, 'rollback');
    const ROLLBACK = `mutation($i: RollbackInput!) { rollback(input: $i) { id kind release { version } } }`;
    const one = await push(server, p.id, '1111111a');
    await waitForStatus(server, one.data.recordPush.deployments[0].id, ['SUCCEEDED']);
    expect(codeOf(await server.gql(ROLLBACK, { i: { environmentId: p.dev } }))).toBe('PRECONDITION_FAILED');
    const two = await push(server, p.id, '2222222b');
    await waitForStatus(server, two.data.recordPush.deployments[0].id, ['SUCCEEDED']);
    const back = await server.gql(ROLLBACK, { i: { environmentId: p.dev } });
    expect(back.errors).toBeUndefined();
    expect(back.data.rollback).toMatchObject({ kind: 'ROLLBACK', release: { version: '1111111' } });
    await waitForStatus(server, back.data.rollback.id, ['SUCCEEDED']);
    const env = await server.gql(`{ project(slug: "rollback") { environment(slug: "development") { currentRelease { version } } } }`);
    expect(env.data.project.environment.currentRelease.version).toBe('1111111');
  });
});

describe('cancellation', () => {
  it('cancels a running deployment: the running step stops, the event log ends with CANCELLED', async () => {
    const p = await setupProject(server, 'cancel', { stepSeconds: 5 });
    const pushed = await push(server, p.id, 'abcabc1');
    const id = pushed.data.recordPush.deployments[0].id;
    await waitForStatus(server, id, ['RUNNING']);
    const viewer = await server.token('vic', ['VIEWER']);
    expect(codeOf(await server.gql(`mutation($id: ID!) { cancelDeployment(id: $id) { status } }`, { id }, viewer))).toBe('FORBIDDEN');
    const t0 = Date.now();
    const cancelled = await server.gql(`mutation($id: ID!) { cancelDeployment(id: $id) { status error steps { name status } } }`, { id });
    expect(cancelled.errors).toBeUndefined();
    expect(cancelled.data.cancelDeployment.status).toBe('CANCELLED');
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(cancelled.data.cancelDeployment.steps.map((s: any) => s.status)).toEqual(['SKIPPED', 'SKIPPED', 'SKIPPED']);
    const d = await deployment(server, id);
    expectGaplessEvents(d.events);
    expect(d.events.at(-1)).toMatchObject({ type: 'CANCELLED', status: 'CANCELLED' });
    // No step event lands after the cancellation.
    await new Promise((r) => setTimeout(r, 1500));
    expect((await deployment(server, id)).events).toHaveLength(d.events.length);
    expect(codeOf(await server.gql(`mutation($id: ID!) { cancelDeployment(id: $id) { status } }`, { id }))).toBe('PRECONDITION_FAILED');
  });
});

describe('WEBHOOK deploy target', () => {
  async function receiver(onCall: (req: IncomingMessage, body: string) => void) {
    const srv = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        onCall(req, body);
        res.writeHead(202).end();
      });
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
    const port = (srv.address() as { port: number }).port;
    return { url: `http://127.0.0.1:${port}/deploy`, close: () => new Promise((r) => srv.close(r)) };
  }

  it('POSTs a signed payload once, then the receiver reports progress and success with its callback token', async () => {
    const calls: { headers: IncomingMessage['headers']; body: string }[] = [];
    const hook = await receiver((req, body) => calls.push({ headers: req.headers, body }));
    try {
      const p = await setupProject(server, 'hooks');
      await server.gql(`mutation($i: UpdateEnvironmentInput!) { updateEnvironment(input: $i) { id } }`, {
        i: { id: p.dev, deployTarget: { provider: 'WEBHOOK', url: hook.url } },
      });
      const pushed = await push(server, p.id, 'feed0001');
      const id = pushed.data.recordPush.deployments[0].id;
      const deadline = Date.now() + 15_000;
      while (calls.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      expect(calls).toHaveLength(1);
      const call = calls[0]!;
      expect(call.headers['x-stageplane-signature']).toBe(`sha256=${createHmac('sha256', WEBHOOK_SECRET).update(call.body).digest('hex')}`);
      expect(call.headers['idempotency-key']).toBe(id);
      const payload = JSON.parse(call.body);
      expect(payload).toMatchObject({
        deploymentId: id,
        project: 'hooks',
        environment: 'development',
        release: { version: 'feed000', commitSha: 'feed0001', branch: 'main' },
      });
      const cb = payload.callbackToken as string;

      const REPORT = `mutation($i: ReportDeploymentStatusInput!) { reportDeploymentStatus(input: $i) { status steps { name status progress } } }`;
      // Another token than this deployment's own is refused.
      expect(codeOf(await server.gql(REPORT, { i: { deploymentId: id, status: 'SUCCEEDED' } }))).toBe('FORBIDDEN');
      expect(codeOf(await server.gql(REPORT, { i: { deploymentId: id, status: 'SUCCEEDED' } }, cb.slice(0, -2) + 'xx'))).toBe(
        'UNAUTHENTICATED',
      );
      // The callback token reads nothing else.
      expect(codeOf(await server.gql(`{ projects { edges { node { slug } } } }`, {}, cb))).toBe('FORBIDDEN');

      const step = await server.gql(REPORT, { i: { deploymentId: id, step: 'rollout', status: 'RUNNING', progress: 0.5 } }, cb);
      expect(step.errors).toBeUndefined();
      expect(step.data.reportDeploymentStatus.steps).toEqual([{ name: 'rollout', status: 'RUNNING', progress: 0.5 }]);
      await server.gql(REPORT, { i: { deploymentId: id, step: 'rollout', status: 'SUCCEEDED' } }, cb);
      await server.gql(REPORT, { i: { deploymentId: id, status: 'SUCCEEDED', message: 'all good' } }, cb);
      const done = await waitForStatus(server, id, ['SUCCEEDED']);
      expectGaplessEvents(done.events);
      expect(done.events.map((e: any) => e.type)).toEqual(['CREATED', 'STARTED', 'LOG', 'STEP_STARTED', 'STEP_SUCCEEDED', 'SUCCEEDED']);
      expect(calls).toHaveLength(1);
      expect(codeOf(await server.gql(REPORT, { i: { deploymentId: id, status: 'SUCCEEDED' } }, cb))).toBe('PRECONDITION_FAILED');
    } finally {
      await hook.close();
    }
  });

  it('fails the deployment when the receiver never reports back', async () => {
    const hook = await receiver(() => {});
    try {
      const p = await setupProject(server, 'silent-hook');
      await server.gql(`mutation($i: UpdateEnvironmentInput!) { updateEnvironment(input: $i) { id } }`, {
        i: { id: p.dev, deployTarget: { provider: 'WEBHOOK', url: hook.url } },
      });
      const pushed = await push(server, p.id, 'feed0002');
      const d = await waitForStatus(server, pushed.data.recordPush.deployments[0].id, ['FAILED'], 20_000);
      expect(d.error).toMatch(/within 4 seconds/);
    } finally {
      await hook.close();
    }
  });
});

describe('text the database cannot store', () => {
  it('refuses a decision comment with a NUL or an unpaired surrogate at once: in the API, in the workflow, and in the activity without retrying', async () => {
    const { Client, Connection } = await import('@temporalio/client');
    const { decodeGlobalID } = await import('@pothos/plugin-relay');
    const { decide } = await import('../../workflows/client.ts');
    const { createDeploymentActivities } = await import('../../workflows/activities/deployment.ts');
    const { createDatabase } = await import('../../db/client.ts');
    const pino = (await import('pino')).default;
    const p = await setupProject(server, 'nul-comment');
    await promoteToStaging(p, 'dddd0001');
    const prod = await server.gql(PROMOTE, { i: { environmentId: p.production } });
    const id = prod.data.promote.id;
    await waitForStatus(server, id, ['PENDING_APPROVAL']);
    const bob = await server.token('bob', ['APPROVER']);

    // The API refuses it before sending the update.
    for (const comment of ['LGTM\u0000', '\ud800LGTM', 'a\udfffb']) {
      for (const document of [APPROVE, REJECT]) {
        const r = await server.gql(document, { i: { deploymentId: id, comment } }, bob);
        expect(codeOf(r), JSON.stringify(r.errors)).toBe('BAD_USER_INPUT');
        expect(r.errors![0]!.extensions!.field).toBe('input.comment');
      }
    }

    const uuid = decodeGlobalID(id).id;
    // A Temporal client that skips the API meets the workflow's update validator.
    const connection = await Connection.connect({ address: server.config.temporal.address! });
    const handle = await createDatabase({ url: server.config.databaseUrl, poolSize: 1 });
    try {
      const gw = {
        client: new Client({ connection, namespace: server.config.temporal.namespace }),
        taskQueue: server.config.temporal.taskQueue,
      };
      await expect(decide(gw, uuid, 'APPROVE', { subject: 'bob', roles: ['APPROVER'], comment: 'no\u0000' })).rejects.toMatchObject({
        extensions: { code: 'BAD_USER_INPUT', field: 'input.comment' },
      });
      // The activity itself, given such text: a non-retryable failure, nothing written.
      const activities = createDeploymentActivities({
        db: handle.db,
        log: pino({ level: 'silent' }),
        webhookSecret: undefined,
        callbackKey: server.config.jwtSecret,
        publicUrl: server.config.publicUrl,
      });
      await expect(
        activities.recordDecision(uuid, { subject: 'bob', comment: 'no\u0000', decision: 'APPROVE', required: 1 }),
      ).rejects.toMatchObject({
        type: 'BAD_USER_INPUT',
        nonRetryable: true,
      });
    } finally {
      await handle.close();
      await connection.close();
    }

    // Nothing was recorded, and bob may still decide.
    expect((await deployment(server, id)).status).toBe('PENDING_APPROVAL');
    const approved = await server.gql(APPROVE, { i: { deploymentId: id, comment: 'LGTM 🚀' } }, bob);
    expect(approved.errors).toBeUndefined();
    expect(approved.data.approveDeployment.approvals).toEqual([{ approver: 'bob', decision: 'APPROVE' }]);
    await waitForStatus(server, id, ['SUCCEEDED']);
  });
});

describe('determinism', () => {
  it("replays finished workflows' histories with the current workflow code", async () => {
    const { Client, Connection } = await import('@temporalio/client');
    const { Worker } = await import('@temporalio/worker');
    const { workflowBundle } = await import('../../workflows/worker.ts');
    const { inject } = await import('vitest');
    const p = await setupProject(server, 'replay');
    await server.gql(`mutation($i: UpdateEnvironmentInput!) { updateEnvironment(input: $i) { id } }`, {
      i: { id: p.production, policy: { requiredApprovals: 1, waitTimerSeconds: 1 } },
    });
    await promoteToStaging(p, 'aaaa0001');
    const prod = await server.gql(PROMOTE, { i: { environmentId: p.production } });
    await waitForStatus(server, prod.data.promote.id, ['PENDING_APPROVAL']);
    await server.gql(APPROVE, { i: { deploymentId: prod.data.promote.id } }, await server.token('bob', ['APPROVER']));
    const done = await waitForStatus(server, prod.data.promote.id, ['SUCCEEDED']);
    expect(done.events.map((e: any) => e.type)).toContain('WAITING');
    const connection = await Connection.connect({ address: inject('temporalAddress') });
    try {
      const client = new Client({ connection });
      const history = await client.workflow.getHandle(done.workflowId).fetchHistory();
      await Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, history, done.workflowId);
    } finally {
      await connection.close();
    }
  });
});

// Last: it reads what the tests above made through the API (approved, rejected, expired,
// re-approved after a configuration change, failed, rolled back, cancelled).
describe('the instants Project.insights reads', () => {
  it("are, for every deployment made above, what the deployment's event log says", async () => {
    const client = postgres(dbUrl, { max: 1, onnotice: () => {} });
    try {
      const all = await instantsOfEveryDeployment(async (text) => [...(await client.unsafe(text))]);
      expect(all.filter((d) => d.expected.outcome_at !== null).length).toBeGreaterThan(10);
      expect(all.filter((d) => d.expected.approval_decided_at !== null).length).toBeGreaterThan(3);
      for (const d of all)
        expect({ id: d.id, status: d.status, instants: d.actual }).toEqual({ id: d.id, status: d.status, instants: d.expected });
    } finally {
      await client.end();
    }
  });
});
