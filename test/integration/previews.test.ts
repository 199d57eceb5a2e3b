// Preview environments end to end: a real API and worker against real PostgreSQL and Temporal.
// setPreviewPolicy; the first push of a matching branch (mutation or GitHub webhook) makes and
// deploys the preview once, even under 10 concurrent first pushes; later pushes deploy there and
// renew its expiry (and its Temporal timer); a deletion push archives it, cancelling its unfinished
// deployments; slugs never collide nor are reused. PREVIEW_HOUR_SECONDS=4: ttlHours 1 is 4 s here.
import { createHmac, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { until } from '../../scripts/lib/until.ts';
import { createTestDatabase } from '../support/database.ts';
import { push, setupProject, waitForStatus } from '../support/deployments.ts';
import { codeOf, startTestServer, type TestServer } from '../support/server.ts';

const WEBHOOK_SECRET = 'webhook-secret-for-preview-tests-0123';
const HOUR_SECONDS = 4;
let server: TestServer;
let dropDb: () => Promise<void>;

beforeAll(async () => {
  const db = await createTestDatabase();
  dropDb = db.drop;
  server = await startTestServer({ databaseUrl: db.url, env: { WEBHOOK_SECRET, PREVIEW_HOUR_SECONDS: String(HOUR_SECONDS) } });
});
afterAll(async () => {
  await server?.stop();
  await dropDb?.();
});

const SET_POLICY = `mutation($i: SetPreviewPolicyInput!) {
  setPreviewPolicy(input: $i) { slug previewPolicy { enabled branchPattern copySettingsFrom ttlHours } } }`;
const ENV_FIELDS = `id slug name type purpose previewBranch expiresAt archivedAt frozen region
  policy { trigger branchPattern requiredApprovals approverRoles deployerRoles preventSelfApproval waitTimerSeconds approvalTimeoutSeconds }
  deployTarget { provider url stepSeconds }
  settings { logLevel dataPolicy corsOrigins featureFlags { key enabled } rateLimit { enabled requestsPerMinute } performanceMonitoring alerting securityHardening backupSchedule readReplicas runbookUrl }
  policyReport { checks { id passed detail } }`;

const setPolicy = (projectId: string, input: Record<string, unknown>, token?: string) =>
  server.gql(SET_POLICY, { i: { projectId, ...input } }, token);

async function environments(slug: string, includeArchived = true) {
  const r = await server.gql(
    `query($s: String!, $a: Boolean) { project(slug: $s) { environments(includeArchived: $a) { ${ENV_FIELDS} } } }`,
    {
      s: slug,
      a: includeArchived,
    },
  );
  expect(r.errors).toBeUndefined();
  return r.data.project.environments as any[];
}
const previewsOf = async (slug: string) => (await environments(slug)).filter((e) => e.previewBranch !== null);

function signedWebhook(body: unknown) {
  const raw = JSON.stringify(body);
  return fetch(`${server.url}/webhooks/push`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-github-event': 'push',
      'x-github-delivery': randomUUID(),
      'x-hub-signature-256': `sha256=${createHmac('sha256', WEBHOOK_SECRET).update(raw).digest('hex')}`,
    },
    body: raw,
  });
}
const webhookPush = (repo: string, branch: string, after: string) =>
  signedWebhook({
    ref: `refs/heads/${branch}`,
    after,
    deleted: false,
    head_commit: { message: `commit ${after}`, author: { name: 'dev' } },
    repository: { name: repo },
  });
const webhookDelete = (repo: string, branch: string) =>
  signedWebhook({
    ref: `refs/heads/${branch}`,
    before: 'abcdef0123456789',
    after: '0000000000000000000000000000000000000000',
    deleted: true,
    head_commit: null,
    repository: { name: repo },
  });

const hex = (n: number) => n.toString(16).padStart(8, '0');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('setPreviewPolicy', () => {
  it('is null until set, applies the defaults, and is audited', async () => {
    const p = await setupProject(server, 'pv-policy');
    const before = await server.gql(`{ project(slug: "pv-policy") { previewPolicy { enabled } } }`);
    expect(before.data.project.previewPolicy).toBeNull();
    const set = await setPolicy(p.id, { enabled: true, branchPattern: 'feature/*' });
    expect(set.errors).toBeUndefined();
    expect(set.data.setPreviewPolicy.previewPolicy).toEqual({
      enabled: true,
      branchPattern: 'feature/*',
      copySettingsFrom: 'development',
      ttlHours: 72,
    });
    const replaced = await setPolicy(p.id, { enabled: false, branchPattern: 'review/**', copySettingsFrom: 'staging', ttlHours: 5 });
    expect(replaced.data.setPreviewPolicy.previewPolicy).toEqual({
      enabled: false,
      branchPattern: 'review/**',
      copySettingsFrom: 'staging',
      ttlHours: 5,
    });
    const audit = await server.gql(`{ project(slug: "pv-policy") { auditLog(first: 5) { edges { node { actor action detail } } } } }`);
    const entries = audit.data.project.auditLog.edges.map((e: any) => e.node).filter((n: any) => n.action === 'preview.policy.set');
    expect(entries).toHaveLength(2);
    expect(entries[0]).toMatchObject({ actor: 'admin', detail: { enabled: false, branchPattern: 'review/**', ttlHours: 5 } });
  });

  it('refuses bad input with BAD_USER_INPUT naming the field, and writes nothing', async () => {
    const p = await setupProject(server, 'pv-bad');
    const cases: [Record<string, unknown>, string][] = [
      [{ enabled: true, branchPattern: '' }, 'input.branchPattern'],
      [{ enabled: true, branchPattern: 'feature/*', copySettingsFrom: 'nope' }, 'input.copySettingsFrom'],
      [{ enabled: true, branchPattern: 'feature/*', copySettingsFrom: 'Not A Slug' }, 'input.copySettingsFrom'],
      [{ enabled: true, branchPattern: 'feature/*', ttlHours: 0 }, 'input.ttlHours'],
      [{ enabled: true, branchPattern: 'feature/*', ttlHours: 721 }, 'input.ttlHours'],
      [{ enabled: true, branchPattern: 'feature/*', ttlHours: 1.5 }, 'ttlHours'], // refused by GraphQL's Int itself
    ];
    for (const [input, field] of cases) {
      const r = await setPolicy(p.id, input);
      expect(codeOf(r), JSON.stringify(input)).toBe('BAD_USER_INPUT');
      expect(r.errors![0]!.extensions!.field ?? r.errors![0]!.message).toContain(field);
    }
    // An archived environment is not a source.
    const archived = await server.gql(`mutation($id: ID!) { archiveEnvironment(id: $id) { id } }`, { id: p.production });
    expect(archived.errors).toBeUndefined();
    expect(codeOf(await setPolicy(p.id, { enabled: true, branchPattern: 'f/*', copySettingsFrom: 'production' }))).toBe('BAD_USER_INPUT');
    const after = await server.gql(`{ project(slug: "pv-bad") { previewPolicy { enabled } } }`);
    expect(after.data.project.previewPolicy).toBeNull();
  });

  it('is for a DEVELOPER (global or of the project) or ADMIN; others are FORBIDDEN', async () => {
    const p = await setupProject(server, 'pv-perm');
    for (const roles of [['QA'], ['VIEWER'], ['APPROVER']] as const) {
      const token = await server.token(`u-${roles[0]}`, [...roles]);
      expect(codeOf(await setPolicy(p.id, { enabled: true, branchPattern: 'f/*' }, token))).toBe('FORBIDDEN');
    }
    const dev = await server.token('dora', ['DEVELOPER']);
    expect((await setPolicy(p.id, { enabled: true, branchPattern: 'f/*' }, dev)).errors).toBeUndefined();
    const unknown = await setPolicy('UHJvamVjdDowMDAwMDAwMC0wMDAwLTAwMDAtMDAwMC0wMDAwMDAwMDAwMDA=', {
      enabled: true,
      branchPattern: 'f/*',
    });
    expect(codeOf(unknown)).toBe('NOT_FOUND');
  });
});

describe('the first push of a matching branch', () => {
  it('makes a preview copied from copySettingsFrom (settings, policy, target, which secrets exist; no values) and deploys there', {
    timeout: 90_000,
  }, async () => {
    const p = await setupProject(server, 'pv-first');
    // Something of development's own to see copied.
    const s = await server.gql(`mutation($i: UpdateEnvironmentSettingsInput!) { updateEnvironmentSettings(input: $i) { id } }`, {
      i: {
        environmentId: p.dev,
        patch: { featureFlags: [{ key: 'checkout', enabled: true }], readReplicas: 2, runbookUrl: 'https://runbook.example/dev' },
      },
    });
    expect(s.errors).toBeUndefined();
    const u = await server.gql(`mutation($i: UpdateEnvironmentInput!) { updateEnvironment(input: $i) { id } }`, {
      i: { id: p.dev, region: 'eu-west-1', policy: { waitTimerSeconds: 0, deployerRoles: ['DEVELOPER', 'QA'] } },
    });
    expect(u.errors).toBeUndefined();
    const secret = await server.gql(`mutation($i: CreateSecretInput!) { createSecret(input: $i) { id } }`, {
      i: { projectId: p.id, name: 'API_KEY' },
    });
    const secret2 = await server.gql(`mutation($i: CreateSecretInput!) { createSecret(input: $i) { id } }`, {
      i: { projectId: p.id, name: 'DB_PASSWORD' },
    });
    for (const id of [secret.data.createSecret.id, secret2.data.createSecret.id]) {
      const v = await server.gql(`mutation($i: SetSecretValueInput!) { setSecretValue(input: $i) { isSet } }`, {
        i: { secretId: id, environment: 'development', value: 'dev-value-123' },
      });
      expect(v.errors).toBeUndefined();
    }
    expect((await setPolicy(p.id, { enabled: true, branchPattern: 'feature/*' })).errors).toBeUndefined();

    const before = Date.now();
    const pushed = await push(server, p.id, 'feed0001', 'feature/Login-Page');
    expect(pushed.errors).toBeUndefined();
    const deployed = pushed.data.recordPush.deployments;
    expect(deployed.map((d: any) => d.environment.slug)).toEqual(['feature-login-page']);

    const envs = await environments('pv-first');
    const dev = envs.find((e) => e.slug === 'development');
    const preview = envs.find((e) => e.slug === 'feature-login-page');
    expect(preview).toMatchObject({
      type: 'CUSTOM',
      purpose: 'FEATURE_BRANCH',
      previewBranch: 'feature/Login-Page',
      archivedAt: null,
      frozen: false,
      region: 'eu-west-1',
      settings: dev.settings,
      deployTarget: dev.deployTarget,
      policy: { ...dev.policy, trigger: 'AUTO_ON_PUSH', branchPattern: 'feature/Login-Page' },
    });
    const expiresAt = Date.parse(preview.expiresAt);
    expect(expiresAt).toBeGreaterThanOrEqual(before + 72 * HOUR_SECONDS * 1000 - 1000);
    expect(expiresAt).toBeLessThanOrEqual(Date.now() + 72 * HOUR_SECONDS * 1000 + 1000);
    // Secret definitions are the project's, so both exist here; their values were not copied.
    const allSet = preview.policyReport.checks.find((c: any) => c.id === 'secrets.all-set');
    expect(allSet.passed).toBe(false);
    expect(allSet.detail).toContain('API_KEY');
    expect(allSet.detail).toContain('DB_PASSWORD');
    expect(dev.policyReport.checks.find((c: any) => c.id === 'secrets.all-set').passed).toBe(true);
    const values = await server.gql(
      `{ project(slug: "pv-first") { environment(slug: "feature-login-page") { secrets { isSet secret { name } } } } }`,
    );
    expect(values.data.project.environment.secrets.map((v: any) => [v.secret.name, v.isSet]).sort()).toEqual([
      ['API_KEY', false],
      ['DB_PASSWORD', false],
    ]);

    // The release was sent there in the same push; the policy gate stops it until the preview's
    // secrets have values (an error check), saying which check.
    const blocked = await waitForStatus(server, deployed[0].id, ['SUCCEEDED', 'FAILED']);
    expect(blocked).toMatchObject({ status: 'FAILED', release: { version: 'feed000' }, environment: { slug: 'feature-login-page' } });
    expect(blocked.error).toContain('secrets.all-set');
    for (const id of [secret.data.createSecret.id, secret2.data.createSecret.id]) {
      const v = await server.gql(`mutation($i: SetSecretValueInput!) { setSecretValue(input: $i) { isSet } }`, {
        i: { secretId: id, environment: 'feature-login-page', value: 'preview-value-123' },
      });
      expect(v.errors).toBeUndefined();
    }
    const next = await push(server, p.id, 'feed0002', 'feature/Login-Page');
    expect(next.data.recordPush.deployments.map((d: any) => d.environment.slug)).toEqual(['feature-login-page']);
    const done = await waitForStatus(server, next.data.recordPush.deployments[0].id, ['SUCCEEDED', 'FAILED']);
    expect(done).toMatchObject({ status: 'SUCCEEDED', release: { version: 'feed000' } });

    const audit = await server.gql(`{ project(slug: "pv-first") { auditLog(first: 5) { edges { node { action detail } } } } }`);
    const created = audit.data.project.auditLog.edges.map((e: any) => e.node).find((n: any) => n.action === 'environment.create');
    expect(created.detail).toMatchObject({ slug: 'feature-login-page', preview: true, branch: 'feature/Login-Page' });
  });

  it('later pushes deploy there and move expiresAt on; a push of another branch makes nothing; a disabled policy makes nothing', async () => {
    const p = await setupProject(server, 'pv-later');
    expect((await setPolicy(p.id, { enabled: true, branchPattern: 'feature/*', ttlHours: 10 })).errors).toBeUndefined();
    const first = await push(server, p.id, 'a0000001', 'feature/x');
    const [preview] = await previewsOf('pv-later');
    await sleep(300);
    const second = await push(server, p.id, 'a0000002', 'feature/x');
    expect(second.errors).toBeUndefined();
    expect(second.data.recordPush.deployments.map((d: any) => d.environment.slug)).toEqual(['feature-x']);
    const [renewed] = await previewsOf('pv-later');
    expect(renewed.id).toBe(preview.id);
    expect(Date.parse(renewed.expiresAt)).toBeGreaterThan(Date.parse(preview.expiresAt));
    await waitForStatus(server, first.data.recordPush.deployments[0].id, ['SUCCEEDED']);
    await waitForStatus(server, second.data.recordPush.deployments[0].id, ['SUCCEEDED']);
    // A redelivered push of the same commit starts nothing new there.
    const again = await push(server, p.id, 'a0000002', 'feature/x');
    expect(again.data.recordPush.deployments.map((d: any) => d.id)).toEqual(second.data.recordPush.deployments.map((d: any) => d.id));

    // Not matching: nothing new (main still deploys development as before).
    const other = await push(server, p.id, 'a0000003', 'bugfix/x');
    expect(other.data.recordPush.deployments).toEqual([]);
    const main = await push(server, p.id, 'a0000004', 'main');
    expect(main.data.recordPush.deployments.map((d: any) => d.environment.slug)).toEqual(['development']);
    // `*` stays within one path segment.
    expect((await push(server, p.id, 'a0000005', 'feature/x/y')).data.recordPush.deployments).toEqual([]);

    expect((await setPolicy(p.id, { enabled: false, branchPattern: 'feature/*' })).errors).toBeUndefined();
    const disabled = await push(server, p.id, 'a0000006', 'feature/y');
    expect(disabled.errors).toBeUndefined();
    expect(disabled.data.recordPush.deployments).toEqual([]);
    expect((await previewsOf('pv-later')).map((e) => e.previewBranch)).toEqual(['feature/x']);

    // A project without any policy: nothing.
    const q = await setupProject(server, 'pv-none');
    expect((await push(server, q.id, 'a0000007', 'feature/x')).data.recordPush.deployments).toEqual([]);
    expect(await previewsOf('pv-none')).toEqual([]);
  });

  it('makes one environment for 10 concurrent first pushes of one branch, through the API and the webhook', async () => {
    const p = await setupProject(server, 'pv-race');
    expect((await setPolicy(p.id, { enabled: true, branchPattern: 'feature/**' })).errors).toBeUndefined();
    const dev = await server.token('ci', ['DEVELOPER']);
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        i % 2 === 0
          ? push(server, p.id, `c0ffee${hex(i)}`, 'feature/race/one', dev).then((r) => {
              expect(r.errors).toBeUndefined();
              return r.data.recordPush.deployments.map((d: any) => d.environment.slug) as string[];
            })
          : webhookPush('pv-race', 'feature/race/one', `c0ffee${hex(i)}`).then(async (r) => {
              expect(r.status).toBe(202);
              return (await r.json()).deployments as string[];
            }),
      ),
    );
    for (const r of results) expect(r).toHaveLength(1);
    const previews = await previewsOf('pv-race');
    expect(previews.map((e) => [e.slug, e.previewBranch])).toEqual([['feature-race-one', 'feature/race/one']]);
    const deployments = await server.gql(
      `{ project(slug: "pv-race") { environment(slug: "feature-race-one") { deployments(first: 20) { edges { node { id } } } } } }`,
    );
    expect(deployments.errors).toBeUndefined();
    expect(deployments.data.project.environment.deployments.edges).toHaveLength(10);
    // Concurrent first pushes of two branches with the same base slug: two previews, two slugs.
    const [a, b] = await Promise.all([push(server, p.id, 'dada0001', 'feature/Same'), push(server, p.id, 'dada0002', 'feature-same')]);
    expect(a.errors).toBeUndefined();
    expect(b.errors).toBeUndefined();
    // `feature/**` does not match `feature-same`: only feature/Same has a preview.
    expect((await previewsOf('pv-race')).map((e) => e.slug).sort()).toEqual(['feature-race-one', 'feature-same']);
  });
});

describe('slugs', () => {
  it('do not collide (feature/Login vs feature-login) and an archived preview slug is never reused', async () => {
    const p = await setupProject(server, 'pv-slugs');
    expect((await setPolicy(p.id, { enabled: true, branchPattern: 'feature**' })).errors).toBeUndefined();
    await push(server, p.id, 'b0000001', 'feature/Login');
    await push(server, p.id, 'b0000002', 'feature-login');
    let previews = await previewsOf('pv-slugs');
    expect(previews.map((e) => [e.previewBranch, e.slug])).toEqual([
      ['feature/Login', 'feature-login'],
      ['feature-login', 'feature-login-2'],
    ]);
    // Deleting feature/Login archives its preview; pushing it again makes a new one with a new slug.
    const del = await webhookDelete('pv-slugs', 'feature/Login');
    expect(del.status).toBe(202);
    expect(await del.json()).toMatchObject({ archivedPreview: 'feature-login' });
    await push(server, p.id, 'b0000003', 'feature/Login');
    await push(server, p.id, 'b0000004', 'feature/LOGIN');
    previews = await previewsOf('pv-slugs');
    expect(previews.map((e) => [e.previewBranch, e.slug, e.archivedAt === null])).toEqual([
      ['feature/Login', 'feature-login', false],
      ['feature-login', 'feature-login-2', true],
      ['feature/Login', 'feature-login-3', true],
      ['feature/LOGIN', 'feature-login-4', true],
    ]);
    // A branch starting with a digit, and one longer than a slug may be.
    await push(server, p.id, 'b0000005', 'feature');
    const long = `feature/${'x'.repeat(60)}`;
    await push(server, p.id, 'b0000006', long);
    previews = await previewsOf('pv-slugs');
    const longSlug = previews.find((e) => e.previewBranch === long).slug;
    expect(longSlug).toMatch(/^[a-z][a-z0-9-]{1,38}$/);
    expect(longSlug).toBe(`feature-${'x'.repeat(31)}`);
    // A non-preview environment's slug is taken too: a branch named like it gets a suffix.
    const q = await setupProject(server, 'pv-slugs2');
    expect((await setPolicy(q.id, { enabled: true, branchPattern: '*' })).errors).toBeUndefined();
    await push(server, q.id, 'b0000007', 'staging');
    await push(server, q.id, 'b0000008', '2024-hotfix');
    expect((await previewsOf('pv-slugs2')).map((e) => e.slug).sort()).toEqual(['b-2024-hotfix', 'staging-2']);
  });
});

describe('archiving a preview', () => {
  it('a GitHub deletion push archives it, records no release and cancels its unfinished deployments', async () => {
    const p = await setupProject(server, 'pv-delete');
    // Slow steps in development, which the preview copies: its deployment is still running.
    const slow = await server.gql(`mutation($i: UpdateEnvironmentInput!) { updateEnvironment(input: $i) { id } }`, {
      i: { id: p.dev, deployTarget: { provider: 'SIMULATED', stepSeconds: 30 } },
    });
    expect(slow.errors).toBeUndefined();
    expect((await setPolicy(p.id, { enabled: true, branchPattern: 'feature/*' })).errors).toBeUndefined();
    const first = await webhookPush('pv-delete', 'feature/gone', 'e0000001');
    expect(first.status).toBe(202);
    const second = await push(server, p.id, 'e0000002', 'feature/gone');
    expect((await first.json()).deployments).toHaveLength(1);
    const listed = await server.gql(
      `{ project(slug: "pv-delete") { environment(slug: "feature-gone") { deployments(first: 10) { edges { node { id } } } } } }`,
    );
    const ids = listed.data.project.environment.deployments.edges.map((e: any) => e.node.id) as string[];
    expect(ids).toHaveLength(2);
    await waitForStatus(server, second.data.recordPush.deployments[0].id, ['WAITING', 'RUNNING']);
    const releasesBefore = await server.gql(`{ project(slug: "pv-delete") { releases { edges { node { id } } } } }`);

    // A deletion of a branch without a preview archives nothing.
    const none = await webhookDelete('pv-delete', 'feature/never');
    expect(await none.json()).toMatchObject({ archivedPreview: null });

    const del = await webhookDelete('PV-Delete', 'feature/gone');
    expect(del.status).toBe(202);
    expect(await del.json()).toMatchObject({ archivedPreview: 'feature-gone' });
    const [preview] = await previewsOf('pv-delete');
    expect(preview.archivedAt).not.toBeNull();
    for (const id of ids) {
      const d = await waitForStatus(server, id, ['CANCELLED'], 20_000);
      expect(d.events.at(-1)).toMatchObject({ type: 'CANCELLED' });
    }
    const releasesAfter = await server.gql(`{ project(slug: "pv-delete") { releases { edges { node { id } } } } }`);
    expect(releasesAfter.data.project.releases.edges).toHaveLength(releasesBefore.data.project.releases.edges.length);
    // A redelivered deletion changes nothing.
    expect(await (await webhookDelete('pv-delete', 'feature/gone')).json()).toMatchObject({ archivedPreview: null });
    // The archived preview takes no push: the branch pushed again gets a new preview.
    const again = await push(server, p.id, 'e0000003', 'feature/gone');
    expect(again.data.recordPush.deployments.map((d: any) => d.environment.slug)).toEqual(['feature-gone-2']);
  });

  it('archiveEnvironment of a preview cancels its unfinished deployments too', async () => {
    const p = await setupProject(server, 'pv-archive');
    await server.gql(`mutation($i: UpdateEnvironmentInput!) { updateEnvironment(input: $i) { id } }`, {
      i: { id: p.dev, deployTarget: { provider: 'SIMULATED', stepSeconds: 30 } },
    });
    expect((await setPolicy(p.id, { enabled: true, branchPattern: 'feature/*' })).errors).toBeUndefined();
    const pushed = await push(server, p.id, 'f0000001', 'feature/by-hand');
    const id = pushed.data.recordPush.deployments[0].id;
    const [preview] = await previewsOf('pv-archive');
    const archived = await server.gql(`mutation($id: ID!) { archiveEnvironment(id: $id) { archivedAt } }`, { id: preview.id });
    expect(archived.errors).toBeUndefined();
    await waitForStatus(server, id, ['CANCELLED'], 20_000);
  });

  it('expires through its Temporal timer; a later push renews expiresAt and the timer', async () => {
    const p = await setupProject(server, 'pv-expire');
    // ttlHours 2 = 8 s here.
    expect((await setPolicy(p.id, { enabled: true, branchPattern: 'feature/*', ttlHours: 2 })).errors).toBeUndefined();
    await push(server, p.id, '90000001', 'feature/short');
    const [made] = await previewsOf('pv-expire');
    const firstExpiry = Date.parse(made.expiresAt);
    await sleep(Math.max(0, firstExpiry - Date.now() - 4000));
    await push(server, p.id, '90000002', 'feature/short');
    const [renewed] = await previewsOf('pv-expire');
    const secondExpiry = Date.parse(renewed.expiresAt);
    expect(secondExpiry - firstExpiry).toBeGreaterThan(3000);
    // Past the first expiry (its timer fired and found it renewed), before the second.
    await sleep(Math.max(0, firstExpiry - Date.now() + 1500));
    if (Date.now() < secondExpiry - 300) expect((await previewsOf('pv-expire'))[0].archivedAt).toBeNull();
    const archived = await until(
      'the preview to expire',
      async () => {
        const [e] = await previewsOf('pv-expire');
        return e.archivedAt ? e : null;
      },
      { timeoutMs: 30_000, intervalMs: 200 },
    );
    expect(Date.now()).toBeGreaterThanOrEqual(secondExpiry);
    expect(Date.parse(archived.archivedAt)).toBe(secondExpiry);
    const audit = await server.gql(`{ project(slug: "pv-expire") { auditLog(first: 3) { edges { node { actor action detail } } } } }`);
    expect(audit.data.project.auditLog.edges[0].node).toMatchObject({
      actor: 'system:preview-expiry',
      action: 'environment.expire',
      detail: { slug: 'feature-short', branch: 'feature/short' },
    });
  });

  it('updateEnvironment moving expiresAt earlier moves the timer too', async () => {
    const p = await setupProject(server, 'pv-moved');
    expect((await setPolicy(p.id, { enabled: true, branchPattern: 'feature/*' })).errors).toBeUndefined();
    await push(server, p.id, '92000001', 'feature/moved');
    const [made] = await previewsOf('pv-moved');
    // 72 "hours" (288 s here) away; moved to 2 s from now.
    const soon = new Date(Date.now() + 2000).toISOString();
    const moved = await server.gql(`mutation($i: UpdateEnvironmentInput!) { updateEnvironment(input: $i) { expiresAt } }`, {
      i: { id: made.id, expiresAt: soon },
    });
    expect(moved.errors).toBeUndefined();
    const archived = await until(
      'the preview to expire at its new time',
      async () => {
        const [e] = await previewsOf('pv-moved');
        return e.archivedAt ? e : null;
      },
      { timeoutMs: 20_000, intervalMs: 200 },
    );
    expect(Date.parse(archived.archivedAt)).toBe(Date.parse(soon));
  });

  it('expiry cancels the unfinished deployments of the preview', async () => {
    const p = await setupProject(server, 'pv-expire-busy');
    await server.gql(`mutation($i: UpdateEnvironmentInput!) { updateEnvironment(input: $i) { id } }`, {
      i: { id: p.dev, deployTarget: { provider: 'SIMULATED', stepSeconds: 60 } },
    });
    expect((await setPolicy(p.id, { enabled: true, branchPattern: 'feature/*', ttlHours: 1 })).errors).toBeUndefined();
    const pushed = await push(server, p.id, '91000001', 'feature/busy');
    const id = pushed.data.recordPush.deployments[0].id;
    await waitForStatus(server, id, ['RUNNING']);
    const d = await waitForStatus(server, id, ['CANCELLED'], 30_000);
    expect(d.status).toBe('CANCELLED');
    expect((await previewsOf('pv-expire-busy'))[0].archivedAt).not.toBeNull();
  });
});
