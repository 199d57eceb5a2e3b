// Notifications end to end (contract "v2 → Notifications"): an API and a worker process on a
// shared Temporal, real HTTP receivers on 127.0.0.1. Signed WEBHOOK payloads, SLACK messages,
// retries with one Idempotency-Key, FAILED after the (shortened) retry window, bad input that
// writes nothing, deletion that stops retries, and a channel URL that leaks nowhere.
import { createHmac, randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { until } from '../../scripts/lib/until.ts';
import { gqlAt, jwtFor } from '../support/client.ts';
import { createTestDatabase } from '../support/database.ts';
import { spawnStageplane, type StageplaneProcess } from '../support/process.ts';

const JWT_SECRET = 'notifications-test-secret-0123456789-abcdef';
const WEBHOOK_SECRET = 'notifications-webhook-secret-0123';
const PUBLIC_URL = 'https://console.example.test';
// Every channel URL carries this in its path: it must appear in no answer, log line or audit row.
const TOKEN = `tok${randomBytes(12).toString('hex')}`;

interface Hit {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  at: number;
}

/** A receiver on 127.0.0.1 that records every request and answers what `answer` says. */
async function receiver(answer: (hit: Hit, n: number) => number = () => 200) {
  const hits: Hit[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const hit = { path: req.url ?? '', headers: req.headers, body, at: Date.now() };
      hits.push(hit);
      res.writeHead(answer(hit, hits.length)).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as { port: number }).port;
  return {
    hits,
    url: (name: string) => `http://127.0.0.1:${port}/hooks/${name}/${TOKEN}?k=${TOKEN}`,
    host: `127.0.0.1:${port}`,
    close: () => new Promise((r) => server.close(r)),
  };
}

/** A port nothing listens on. */
async function deadPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

interface Stack {
  api: StageplaneProcess;
  worker: StageplaneProcess;
  env: Record<string, string>;
  db: Awaited<ReturnType<typeof createTestDatabase>>;
  sql: postgres.Sql;
  responses: string[];
  gql: (token: string, query: string, variables?: Record<string, unknown>) => Promise<{ data?: any; errors?: any[] }>;
}

async function startStack(name: string, extra: Record<string, string>): Promise<Stack> {
  const db = await createTestDatabase();
  const env = {
    DATABASE_URL: db.url,
    DATA_DIR: mkdtempSync(join(tmpdir(), `stageplane-${name}-`)),
    JWT_SECRET,
    WEBHOOK_SECRET,
    PUBLIC_URL,
    TEMPORAL_ADDRESS: inject('temporalAddress'),
    TEMPORAL_TASK_QUEUE: `${name}-${process.pid}`,
    NOTIFY_RETRY_INITIAL_SECONDS: '0.3',
    NOTIFY_TIMEOUT_SECONDS: '2',
    ...extra,
  };
  const api = await spawnStageplane('api', env);
  const worker = await spawnWorker(env);
  const responses: string[] = [];
  const stack: Stack = {
    api,
    worker,
    env,
    db,
    sql: postgres(db.url, { max: 2, onnotice: () => {} }),
    responses,
    gql: async (token, query, variables = {}) => {
      const r = await gqlAt(stack.api.url, token, query, variables);
      responses.push(JSON.stringify(r));
      return r;
    },
  };
  return stack;
}

async function spawnWorker(env: Record<string, string>): Promise<StageplaneProcess> {
  const worker = await spawnStageplane('worker', env);
  await until('the worker to run', async () => worker.output().includes('worker running'), { timeoutMs: 120_000, intervalMs: 100 });
  return worker;
}

async function stopStack(s: Stack | undefined) {
  if (!s) return;
  await Promise.all([s.api.stop(), s.worker.stop()]);
  await s.sql.end();
  await s.db.drop();
}

const CHANNEL_FIELDS = 'id name kind urlHost events environmentSlugs enabled createdBy createdAt';
const DELIVERY_FIELDS = 'id event deploymentId status attempts lastStatusCode lastError createdAt deliveredAt';
const CREATE = `mutation($i: CreateNotificationChannelInput!) { createNotificationChannel(input: $i) { ${CHANNEL_FIELDS} } }`;
const TEST = `mutation($id: ID!) { testNotificationChannel(id: $id) { ${DELIVERY_FIELDS} } }`;
const DELIVERIES = `{ project(slug: "notify") { notificationChannels { ${CHANNEL_FIELDS} deliveries(first: 50) { ${DELIVERY_FIELDS} } } } }`;

let s: Stack;
let admin: string;
let project: { id: string; environments: { id: string; slug: string }[] };

async function createChannel(input: Record<string, unknown>) {
  const r = await s.gql(admin, CREATE, { i: { projectId: project.id, ...input } });
  expect(r.errors).toBeUndefined();
  return r.data.createNotificationChannel as { id: string; urlHost: string };
}

async function deliveriesOf(channelId: string) {
  const r = await s.gql(admin, DELIVERIES);
  expect(r.errors).toBeUndefined();
  return r.data.project.notificationChannels.find((c: { id: string }) => c.id === channelId).deliveries as {
    id: string;
    event: string;
    status: string;
    attempts: number;
    lastStatusCode: number | null;
    lastError: string | null;
    deploymentId: string | null;
  }[];
}

const waitFor = <T>(what: string, probe: () => Promise<T>, timeoutMs = 60_000) =>
  until(what, probe, {
    timeoutMs,
    intervalMs: 150,
    ignoreErrors: true,
    context: () => `${s.api.output().slice(-1500)}\n${s.worker.output().slice(-1500)}`,
  });

const sign = (body: string) => `sha256=${createHmac('sha256', WEBHOOK_SECRET).update(body).digest('hex')}`;

beforeAll(async () => {
  // 0.002 h = 7.2 s of retrying; backoff 0.3 s, 0.6 s, 1.2 s, 2.4 s...
  s = await startStack('notify', { NOTIFY_RETRY_HOURS: '0.002' });
  admin = await jwtFor(JWT_SECRET, 'ada', ['ADMIN', 'DEVELOPER']);
  const created = await s.gql(
    admin,
    `mutation { createProject(input: { slug: "notify", name: "Notify" }) { id environments { id slug } } }`,
  );
  expect(created.errors).toBeUndefined();
  project = created.data.createProject;
  for (const e of project.environments) {
    const u = await s.gql(admin, `mutation($i: UpdateEnvironmentInput!) { updateEnvironment(input: $i) { id } }`, {
      i: { id: e.id, deployTarget: { provider: 'SIMULATED', stepSeconds: 0 } },
    });
    expect(u.errors).toBeUndefined();
  }
}, 240_000);
afterAll(async () => stopStack(s));

describe('bad input', () => {
  const cases: [string, Record<string, unknown>][] = [
    ['a non-http(s) URL', { url: `ftp://127.0.0.1/${TOKEN}` }],
    ['a URL that is not a URL', { url: `not a url ${TOKEN}` }],
    ['an empty event list', { events: [] }],
    ['an unknown event', { events: ['DEPLOYMENT_EXPLODED'] }],
    ['a URL over 2 KiB', { url: `http://127.0.0.1/${TOKEN}/${'a'.repeat(2048)}` }],
    ['a URL with credentials', { url: `http://user:${TOKEN}@127.0.0.1/hook` }],
    ['a link-local (cloud metadata) receiver', { url: `http://169.254.169.254/latest/${TOKEN}` }],
    ['a blank name', { name: '  ' }],
    ['a bad environment glob', { environmentSlugs: ['Prod/*'] }],
  ];
  it.each(cases)('%s: BAD_USER_INPUT, nothing written, the URL not quoted', async (_name, override) => {
    const before =
      await s.sql`select (select count(*) from notification_channels)::int as c, (select count(*) from audit_events)::int as a`;
    const r = await s.gql(admin, CREATE, {
      i: { projectId: project.id, name: 'bad', kind: 'WEBHOOK', url: `http://127.0.0.1:9/${TOKEN}`, events: ['TEST'], ...override },
    });
    expect(r.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(JSON.stringify(r)).not.toContain(TOKEN);
    const after = await s.sql`select (select count(*) from notification_channels)::int as c, (select count(*) from audit_events)::int as a`;
    expect(after).toEqual(before);
  });

  it('refuses a VIEWER (FORBIDDEN) and writes nothing', async () => {
    const viewer = await jwtFor(JWT_SECRET, 'val', ['VIEWER']);
    const r = await s.gql(viewer, CREATE, {
      i: { projectId: project.id, name: 'v', kind: 'WEBHOOK', url: `http://127.0.0.1:9/${TOKEN}`, events: ['TEST'] },
    });
    expect(r.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect((await s.sql`select count(*)::int as c from notification_channels`)[0]!.c).toBe(0);
  });

  it('lets a DEVELOPER (a deployerRole of development) create and test, and answers urlHost only', async () => {
    const r0 = await receiver();
    try {
      const dev = await jwtFor(JWT_SECRET, 'dan', ['DEVELOPER']);
      const r = await s.gql(dev, CREATE, {
        i: { projectId: project.id, name: 'dev hook', kind: 'WEBHOOK', url: r0.url('dev'), events: ['TEST'] },
      });
      expect(r.errors).toBeUndefined();
      expect(r.data.createNotificationChannel).toMatchObject({ urlHost: r0.host, createdBy: 'dan', enabled: true, environmentSlugs: [] });
      const t = await s.gql(dev, TEST, { id: r.data.createNotificationChannel.id });
      expect(t.errors).toBeUndefined();
      expect(t.data.testNotificationChannel).toMatchObject({ event: 'TEST', status: 'PENDING', attempts: 0, deploymentId: null });
      await waitFor('the test delivery', async () => r0.hits.length === 1);
      const stored = await s.sql`select url_ciphertext, url_host from notification_channels where name = 'dev hook'`;
      expect(Buffer.from(stored[0]!.url_ciphertext).toString('latin1')).not.toContain(TOKEN);
      const del = await s.gql(dev, `mutation($id: ID!) { deleteNotificationChannel(id: $id) }`, {
        id: r.data.createNotificationChannel.id,
      });
      expect(del.errors).toBeUndefined();
    } finally {
      await r0.close();
    }
  });
});

describe('WEBHOOK deliveries', () => {
  it('signs the contract payload, filters by event and environment glob, and records DELIVERED', async () => {
    const hook = await receiver();
    try {
      const dev = await createChannel({
        name: 'dev succeeded',
        kind: 'WEBHOOK',
        url: hook.url('dev'),
        events: ['DEPLOYMENT_SUCCEEDED'],
        environmentSlugs: ['dev*'],
      });
      const prod = await createChannel({
        name: 'prod only',
        kind: 'WEBHOOK',
        url: hook.url('prod'),
        events: ['DEPLOYMENT_SUCCEEDED'],
        environmentSlugs: ['production'],
      });
      const failedOnly = await createChannel({ name: 'failures', kind: 'WEBHOOK', url: hook.url('failed'), events: ['DEPLOYMENT_FAILED'] });
      const pushed = await s.gql(
        admin,
        `mutation($i: RecordPushInput!) { recordPush(input: $i) { deployments { id } release { version commitSha } } }`,
        {
          i: { projectId: project.id, branch: 'main', commitSha: 'abc1234def' },
        },
      );
      expect(pushed.errors).toBeUndefined();
      const deploymentId = pushed.data.recordPush.deployments[0].id as string;
      const release = pushed.data.recordPush.release;
      await waitFor('the SUCCEEDED notification', async () => hook.hits.length >= 1);
      await new Promise((r) => setTimeout(r, 1500)); // room for a wrong second delivery
      expect(hook.hits.map((h) => h.path.split('/')[2])).toEqual(['dev']);
      const hit = hook.hits[0]!;
      expect(hit.headers['x-stageplane-signature']).toBe(sign(hit.body));
      expect(hit.headers['x-stageplane-event']).toBe('DEPLOYMENT_SUCCEEDED');
      expect(hit.headers['content-type']).toBe('application/json');
      const body = JSON.parse(hit.body);
      expect(Object.keys(body).slice(0, 8)).toEqual(['id', 'event', 'project', 'environment', 'deployment', 'message', 'at']);
      expect(hit.headers['idempotency-key']).toBe(body.id);
      expect(body).toMatchObject({
        event: 'DEPLOYMENT_SUCCEEDED',
        project: 'notify',
        environment: 'development',
        deployment: {
          id: deploymentId,
          status: 'SUCCEEDED',
          kind: 'PUSH',
          release: { version: release.version, commitSha: release.commitSha },
          requestedBy: 'ada',
          url: `${PUBLIC_URL}/deployments/${encodeURIComponent(deploymentId)}`,
        },
      });
      expect(Number.isNaN(Date.parse(body.at))).toBe(false);
      const [d] = await deliveriesOf(dev.id);
      expect(d).toMatchObject({
        id: body.id,
        event: 'DEPLOYMENT_SUCCEEDED',
        status: 'DELIVERED',
        attempts: 1,
        lastStatusCode: 200,
        lastError: null,
        deploymentId,
      });
      expect(await deliveriesOf(prod.id)).toEqual([]);
      expect(await deliveriesOf(failedOnly.id)).toEqual([]);
    } finally {
      await hook.close();
    }
  });

  it('retries a receiver that answers 500 three times: four attempts, one Idempotency-Key, DELIVERED, then silence', async () => {
    const hook = await receiver((_hit, n) => (n <= 3 ? 500 : 200));
    try {
      const c = await createChannel({ name: 'flaky', kind: 'WEBHOOK', url: hook.url('flaky'), events: ['TEST'] });
      const t = await s.gql(admin, TEST, { id: c.id });
      expect(t.errors).toBeUndefined();
      const id = t.data.testNotificationChannel.id;
      const done = await waitFor('DELIVERED', async () => {
        const [d] = await deliveriesOf(c.id);
        return d?.status === 'DELIVERED' ? d : null;
      });
      expect(done).toMatchObject({ id, attempts: 4, lastStatusCode: 200, lastError: null });
      await new Promise((r) => setTimeout(r, 2000));
      expect(hook.hits).toHaveLength(4);
      expect(new Set(hook.hits.map((h) => h.headers['idempotency-key']))).toEqual(new Set([id]));
      // Every attempt sends the same bytes (so the same signature).
      expect(new Set(hook.hits.map((h) => h.body)).size).toBe(1);
    } finally {
      await hook.close();
    }
  });

  it('shows RETRYING with the last status while it retries', async () => {
    const hook = await receiver(() => 503);
    try {
      const c = await createChannel({ name: 'down for now', kind: 'WEBHOOK', url: hook.url('503'), events: ['TEST'] });
      await s.gql(admin, TEST, { id: c.id });
      const d = await waitFor('RETRYING', async () => {
        const [d] = await deliveriesOf(c.id);
        return d?.status === 'RETRYING' ? d : null;
      });
      expect(d).toMatchObject({ lastStatusCode: 503, lastError: 'HTTP 503' });
      expect(d.attempts).toBeGreaterThanOrEqual(1);
    } finally {
      await hook.close();
    }
  });

  it('ends FAILED after the retry window when the receiver is down, and says why without the URL', async () => {
    const port = await deadPort();
    const c = await createChannel({ name: 'down', kind: 'WEBHOOK', url: `http://127.0.0.1:${port}/hooks/${TOKEN}`, events: ['TEST'] });
    const started = Date.now();
    await s.gql(admin, TEST, { id: c.id });
    const d = await waitFor(
      'FAILED',
      async () => {
        const [d] = await deliveriesOf(c.id);
        return d?.status === 'FAILED' ? d : null;
      },
      60_000,
    );
    expect(Date.now() - started).toBeLessThan(30_000);
    expect(d.attempts).toBeGreaterThanOrEqual(3);
    expect(d.lastStatusCode).toBeNull();
    expect(d.lastError).toMatch(/connection refused/);
    expect(d.lastError).not.toContain(TOKEN);
  });

  it('ends FAILED after the retry window when the receiver never answers', async () => {
    const hang = createServer(() => {}); // accepts, never answers
    await new Promise<void>((r) => hang.listen(0, '127.0.0.1', () => r()));
    try {
      const port = (hang.address() as { port: number }).port;
      const c = await createChannel({ name: 'silent', kind: 'WEBHOOK', url: `http://127.0.0.1:${port}/hooks/${TOKEN}`, events: ['TEST'] });
      await s.gql(admin, TEST, { id: c.id });
      const d = await waitFor('FAILED', async () => {
        const [d] = await deliveriesOf(c.id);
        return d?.status === 'FAILED' ? d : null;
      });
      expect(d.lastError).toMatch(/no answer within 2000 ms/);
    } finally {
      hang.closeAllConnections();
      await new Promise((r) => hang.close(r));
    }
  });

  it('stops the retries of a deleted channel', async () => {
    const hook = await receiver(() => 500);
    try {
      const c = await createChannel({ name: 'to delete', kind: 'WEBHOOK', url: hook.url('del'), events: ['TEST'] });
      await s.gql(admin, TEST, { id: c.id });
      await waitFor('two attempts', async () => hook.hits.length >= 2);
      const del = await s.gql(admin, `mutation($id: ID!) { deleteNotificationChannel(id: $id) }`, { id: c.id });
      expect(del.errors).toBeUndefined();
      expect(del.data.deleteNotificationChannel).toBe(c.id);
      const n = hook.hits.length;
      await new Promise((r) => setTimeout(r, 3000));
      expect(hook.hits.length).toBeLessThanOrEqual(n + 1); // at most the attempt already under way
      expect(
        (
          await s.sql`select count(*)::int as c from notification_deliveries where channel_id = ${Buffer.from(c.id, 'base64').toString().split(':')[1]!}`
        )[0]!.c,
      ).toBe(0);
      const again = await s.gql(admin, TEST, { id: c.id });
      expect(again.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    } finally {
      await hook.close();
    }
  });
});

describe('SLACK and APPROVAL_REQUESTED', () => {
  it('sends a Slack incoming-webhook body (text + blocks) and names who may approve, with a link', async () => {
    const slack = await receiver();
    const hook = await receiver();
    try {
      await createChannel({ name: 'slack approvals', kind: 'SLACK', url: slack.url('slack'), events: ['APPROVAL_REQUESTED'] });
      await createChannel({
        name: 'hook approvals',
        kind: 'WEBHOOK',
        url: hook.url('approvals'),
        events: ['APPROVAL_REQUESTED'],
        environmentSlugs: ['prod*'],
      });
      // A project grant of APPROVER: that person is named.
      await s.sql`insert into project_members (project_id, subject, roles, granted_by)
        values (${Buffer.from(project.id, 'base64').toString().split(':')[1]!}, 'carol', array['APPROVER'], 'ada')`;
      const envId = (slug: string) => project.environments.find((e) => e.slug === slug)!.id;
      const status = async (id: string) =>
        (await s.gql(admin, `query($id: ID!) { deployment(id: $id) { status } }`, { id })).data?.deployment.status;
      // development has a release (pushed here, so this test also runs alone).
      const pushed = await s.gql(admin, `mutation($i: RecordPushInput!) { recordPush(input: $i) { deployments { id } } }`, {
        i: { projectId: project.id, branch: 'main', commitSha: 'abc1234aaa' },
      });
      expect(pushed.errors).toBeUndefined();
      await waitFor('development SUCCEEDED', async () => (await status(pushed.data.recordPush.deployments[0].id)) === 'SUCCEEDED');
      const staged = await s.gql(admin, `mutation($i: PromoteInput!) { promote(input: $i) { id } }`, {
        i: { environmentId: envId('staging') },
      });
      expect(staged.errors).toBeUndefined();
      await waitFor('staging SUCCEEDED', async () => (await status(staged.data.promote.id)) === 'SUCCEEDED');
      const prod = await s.gql(admin, `mutation($i: PromoteInput!) { promote(input: $i) { id status } }`, {
        i: { environmentId: envId('production') },
      });
      expect(prod.data.promote.status).toBe('PENDING_APPROVAL');
      const deploymentUrl = `${PUBLIC_URL}/deployments/${encodeURIComponent(prod.data.promote.id)}`;
      await waitFor('both approval notifications', async () => slack.hits.length >= 1 && hook.hits.length >= 1);

      const webhook = JSON.parse(hook.hits[0]!.body);
      expect(webhook).toMatchObject({
        event: 'APPROVAL_REQUESTED',
        environment: 'production',
        deployment: { status: 'PENDING_APPROVAL', url: deploymentUrl },
      });
      expect(webhook.approvers.roles).toEqual(expect.arrayContaining(['APPROVER', 'ADMIN']));
      expect(webhook.approvers.people).toEqual(['carol']);

      const msg = JSON.parse(slack.hits[0]!.body);
      expect(slack.hits[0]!.headers['idempotency-key']).toMatch(/\S/);
      expect(slack.hits[0]!.headers['x-stageplane-signature']).toBeUndefined();
      expect(typeof msg.text).toBe('string');
      expect(msg.text).toContain('notify/production');
      expect(Array.isArray(msg.blocks)).toBe(true);
      const KNOWN = new Set(['header', 'section', 'context', 'actions', 'divider']);
      for (const block of msg.blocks) {
        expect(KNOWN.has(block.type)).toBe(true);
        if (block.type === 'header') expect(block.text).toMatchObject({ type: 'plain_text', text: expect.any(String) });
        if (block.type === 'section') {
          expect(['mrkdwn', 'plain_text']).toContain(block.text.type);
          expect((block.fields ?? []).length).toBeLessThanOrEqual(10);
          for (const f of block.fields ?? []) expect(f).toMatchObject({ type: 'mrkdwn', text: expect.any(String) });
        }
        if (block.type === 'actions') for (const e of block.elements) expect(e).toMatchObject({ type: 'button', url: expect.any(String) });
      }
      const all = JSON.stringify(msg.blocks);
      for (const needle of ['notify', 'production', webhook.deployment.release.version, 'PENDING_APPROVAL', 'ada', 'carol', 'APPROVER']) {
        expect(all).toContain(needle);
      }
      const button = msg.blocks.find((b: any) => b.type === 'actions').elements[0];
      expect(button.url).toBe(deploymentUrl);
    } finally {
      await slack.close();
      await hook.close();
    }
  });
});

describe('SECRET_ROTATED', () => {
  // After the approval test: a secret with values only in some environments fails production's policy gate.
  it('notifies a rotation in the environment, naming the secret and never its value', async () => {
    const hook = await receiver();
    try {
      await createChannel({
        name: 'rotations',
        kind: 'WEBHOOK',
        url: hook.url('rotations'),
        events: ['SECRET_ROTATED'],
        environmentSlugs: ['staging'],
      });
      const secret = await s.gql(admin, `mutation($i: CreateSecretInput!) { createSecret(input: $i) { id } }`, {
        i: { projectId: project.id, name: 'API_KEY' },
      });
      expect(secret.errors).toBeUndefined();
      const secretId = secret.data.createSecret.id;
      for (const environment of ['staging', 'development']) {
        const set = await s.gql(admin, `mutation($i: SetSecretValueInput!) { setSecretValue(input: $i) { versionId } }`, {
          i: { secretId, environment, value: `value-${TOKEN}` },
        });
        expect(set.errors).toBeUndefined();
        const rotated = await s.gql(admin, `mutation($i: SecretValueRef!) { rotateSecret(input: $i) { versionId } }`, {
          i: { secretId, environment },
        });
        expect(rotated.errors).toBeUndefined();
      }
      await waitFor('the rotation notification', async () => hook.hits.length >= 1);
      await new Promise((r) => setTimeout(r, 1500)); // development's rotation is filtered out
      expect(hook.hits).toHaveLength(1);
      const body = JSON.parse(hook.hits[0]!.body);
      expect(body).toMatchObject({ event: 'SECRET_ROTATED', project: 'notify', environment: 'staging', deployment: null, actor: 'ada' });
      expect(body.message).toContain('API_KEY');
      expect(hook.hits[0]!.body).not.toContain('value-');
      expect(hook.hits[0]!.headers['x-stageplane-signature']).toBe(sign(hook.hits[0]!.body));
    } finally {
      await hook.close();
    }
  });
});

describe('the channel URL is a credential', () => {
  it('appears in no GraphQL answer, log line, audit event or error', async () => {
    // Every test above used URLs holding TOKEN, unreachable ones included.
    const list = await s.gql(
      admin,
      `query($slug: String!) { project(slug: $slug) { notificationChannels { ${CHANNEL_FIELDS} deliveries { ${DELIVERY_FIELDS} } } } }`,
      { slug: 'notify' },
    );
    expect(list.errors).toBeUndefined();
    expect(list.data.project.notificationChannels.length).toBeGreaterThan(3);
    const audit = await s.sql`select action, detail::text as detail from audit_events where action like 'notification.%'`;
    expect(audit.length).toBeGreaterThan(3);
    const deliveries = await s.sql`select last_error, facts::text as facts from notification_deliveries`;
    const haystacks = {
      responses: s.responses.join('\n'),
      apiLog: s.api.output(),
      workerLog: s.worker.output(),
      audit: JSON.stringify(audit),
      deliveries: JSON.stringify(deliveries),
    };
    expect(haystacks.responses).toContain('urlHost');
    expect(haystacks.workerLog).toMatch(/notification delivery failed/); // failures were logged...
    for (const [where, text] of Object.entries(haystacks))
      expect({ where, leaked: text.includes(TOKEN) }).toEqual({ where, leaked: false });
  });
});
