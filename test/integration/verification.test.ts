// Post-deploy verification and automatic rollback (contract v2), end to end: a real API and
// worker, real PostgreSQL and Temporal, and real HTTP targets on 127.0.0.1 whose answers each
// test scripts per request.
import { createServer, type Server, type ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../support/database.ts';
import { expectGaplessEvents, push, setupProject, waitForStatus } from '../support/deployments.ts';
import { codeOf, startTestServer, type TestServer } from '../support/server.ts';

const WEBHOOK_SECRET = 'verification-webhook-secret-0123456789';
const SECRET_BODY = 'db-password=hunter2-never-store-me';
let server: TestServer;
let dropDb: () => Promise<void>;

beforeAll(async () => {
  const db = await createTestDatabase();
  dropDb = db.drop;
  server = await startTestServer({ databaseUrl: db.url, env: { WEBHOOK_SECRET } });
});
afterAll(async () => {
  await server?.stop();
  await dropDb?.();
});

type Answer = number | 'hang' | { redirect: string };
/** A target whose answers are scripted: `next()` decides each request's; every answer's body holds a secret. */
async function target(next: (n: number) => Answer) {
  let hits = 0;
  const hanging: ServerResponse[] = [];
  const srv: Server = createServer((req, res) => {
    const answer = next(hits++);
    if (answer === 'hang') return void hanging.push(res);
    if (typeof answer === 'object') return void res.writeHead(302, { location: answer.redirect }).end(SECRET_BODY);
    res.writeHead(answer, { 'content-type': 'text/plain' }).end(SECRET_BODY);
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  return {
    url: `http://127.0.0.1:${(srv.address() as { port: number }).port}/healthz`,
    hits: () => hits,
    close: () =>
      new Promise<void>((r) => {
        for (const res of hanging) res.destroy();
        srv.close(() => r());
        srv.closeAllConnections();
      }),
  };
}

const VERIFY_FIELDS = `id status kind requestedBy requiredApprovals error
  release { id version }
  verification { status probes lastStatusCode lastError finishedAt }
  rolledBackBy { id kind status requestedBy requiredApprovals release { version } rollbackOf { id } }
  rollbackOf { id }
  events { seq type status message }`;
const get = async (id: string) => {
  const r = await server.gql(`query($id: ID!) { deployment(id: $id) { ${VERIFY_FIELDS} } }`, { id });
  expect(r.errors).toBeUndefined();
  return { ...r.data.deployment, raw: r.raw };
};
const waitEnd = async (id: string, timeoutMs = 40_000) => {
  await waitForStatus(server, id, ['SUCCEEDED', 'FAILED', 'CANCELLED'], timeoutMs);
  return get(id);
};
const types = (d: { events: { type: string }[] }) => d.events.map((e) => e.type);
const UPDATE = `mutation($i: UpdateEnvironmentInput!) { updateEnvironment(input: $i) { id deployTarget { provider url verification { url expectStatus intervalSeconds successThreshold failureThreshold timeoutSeconds } } policy { autoRollback } } }`;

async function withVerification(envId: string, verification: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  const r = await server.gql(UPDATE, { i: { id: envId, deployTarget: { provider: 'SIMULATED', stepSeconds: 0, verification }, ...extra } });
  expect(r.errors).toBeUndefined();
  return r.data.updateEnvironment;
}

let shaCounter = 0x1000;
const nextSha = () => (shaCounter++).toString(16).padStart(8, 'a') + 'feed';

async function pushed(projectId: string) {
  const r = await push(server, projectId, nextSha());
  expect(r.errors).toBeUndefined();
  return r.data.recordPush as { release: { id: string; version: string }; deployments: { id: string }[] };
}

describe('verification settings', () => {
  it('applies the defaults, refuses values out of bounds with BAD_USER_INPUT and writes nothing', async () => {
    const p = await setupProject(server, 'verify-settings');
    const set = await withVerification(p.dev, { url: 'http://127.0.0.1:9/health' });
    expect(set.deployTarget.verification).toEqual({
      url: 'http://127.0.0.1:9/health',
      expectStatus: 200,
      intervalSeconds: 5,
      successThreshold: 3,
      failureThreshold: 3,
      timeoutSeconds: 300,
    });
    expect(set.policy.autoRollback).toBe(false);
    for (const bad of [
      { url: 'ftp://example.com/' },
      { url: 'http://127.0.0.1/', expectStatus: 99 },
      { url: 'http://127.0.0.1/', intervalSeconds: 0.1 },
      { url: 'http://127.0.0.1/', successThreshold: 0 },
      { url: 'http://127.0.0.1/', failureThreshold: 101 },
      { url: 'http://127.0.0.1/', timeoutSeconds: 3601 },
      { url: 'http://127.0.0.1/', successThreshold: 1.5 },
    ]) {
      const r = await server.gql(UPDATE, { i: { id: p.dev, deployTarget: { provider: 'SIMULATED', verification: bad } } });
      expect(codeOf(r), JSON.stringify(bad)).toBe('BAD_USER_INPUT');
    }
    const after = await server.gql(
      `{ project(slug: "verify-settings") { environment(slug: "development") { deployTarget { verification { url } } } } }`,
    );
    expect(after.data.project.environment.deployTarget.verification.url).toBe('http://127.0.0.1:9/health');
  });

  it('refuses a metadata-service URL for the deploy target or the verification, writing nothing', async () => {
    const p = await setupProject(server, 'verify-metadata');
    const before = await server.gql(
      `{ project(slug: "verify-metadata") { environment(slug: "development") { deployTarget { provider url verification { url } } } } }`,
    );
    const metadata = 'http://169.254.169.254/latest/meta-data/';
    const hook = await server.gql(UPDATE, { i: { id: p.dev, deployTarget: { provider: 'WEBHOOK', url: metadata } } });
    expect(codeOf(hook)).toBe('BAD_USER_INPUT');
    expect(hook.errors![0]!.extensions!.field).toBe('input.deployTarget.url');
    const probe = await server.gql(UPDATE, { i: { id: p.dev, deployTarget: { provider: 'SIMULATED', verification: { url: metadata } } } });
    expect(codeOf(probe)).toBe('BAD_USER_INPUT');
    expect(probe.errors![0]!.message).toContain('input.deployTarget.verification.url');
    const created = await server.gql(`mutation($i: CreateEnvironmentInput!) { createEnvironment(input: $i) { id } }`, {
      i: {
        projectId: p.id,
        slug: 'meta-env',
        name: 'Meta',
        type: 'CUSTOM',
        deployTarget: { provider: 'SIMULATED', verification: { url: metadata } },
      },
    });
    expect(codeOf(created)).toBe('BAD_USER_INPUT');
    const after = await server.gql(
      `{ project(slug: "verify-metadata") { environment(slug: "development") { deployTarget { provider url verification { url } } } environments { slug } } }`,
    );
    expect(after.data.project.environment).toEqual(before.data.project.environment);
    expect(after.data.project.environments.map((e: any) => e.slug)).not.toContain('meta-env');
  });
});

describe('verification outcomes', () => {
  it('passes after successThreshold consecutive answers with expectStatus, then SUCCEEDS; the body is never stored', async () => {
    // 200, 503, then 200s: the failure resets the count, so it passes at the 5th probe.
    const t = await target((n) => (n === 1 ? 503 : 200));
    try {
      const p = await setupProject(server, 'verify-pass');
      await withVerification(p.dev, { url: t.url, intervalSeconds: 0.5, successThreshold: 3, failureThreshold: 3 });
      const d = await waitEnd((await pushed(p.id)).deployments[0]!.id);
      expect(d.status).toBe('SUCCEEDED');
      expectGaplessEvents(d.events);
      expect(types(d).slice(-3)).toEqual(['VERIFICATION_STARTED', 'VERIFICATION_PASSED', 'SUCCEEDED']);
      // Verification comes after every deploy step, and the deployment stays RUNNING during it.
      expect(types(d).lastIndexOf('STEP_SUCCEEDED')).toBeLessThan(types(d).indexOf('VERIFICATION_STARTED'));
      expect(d.events.filter((e: any) => e.type.startsWith('VERIFICATION_')).map((e: any) => e.status)).toEqual(['RUNNING', 'RUNNING']);
      expect(d.verification).toMatchObject({ status: 'PASSED', probes: 5, lastStatusCode: 200, lastError: null });
      expect(d.verification.finishedAt).not.toBeNull();
      expect(t.hits()).toBe(5);
      expect(d.raw).not.toContain('hunter2');
      expect(server.logs.join('')).not.toContain('hunter2');
    } finally {
      await t.close();
    }
  });

  it('fails after failureThreshold consecutive failures: VERIFICATION_FAILED, then FAILED', async () => {
    const t = await target((n) => (n === 0 ? 200 : 503));
    try {
      const p = await setupProject(server, 'verify-fail');
      await withVerification(p.dev, { url: t.url, intervalSeconds: 0.5, failureThreshold: 2 });
      const d = await waitEnd((await pushed(p.id)).deployments[0]!.id);
      expect(d.status).toBe('FAILED');
      expect(types(d).slice(-3)).toEqual(['VERIFICATION_STARTED', 'VERIFICATION_FAILED', 'FAILED']);
      expect(d.verification).toMatchObject({ status: 'FAILED', probes: 3, lastStatusCode: 503, lastError: 'HTTP 503 (expected 200)' });
      expect(d.error).toContain('2 consecutive failures');
      expect(d.rolledBackBy).toBeNull(); // autoRollback is off by default
      const env = await server.gql(
        `{ project(slug: "verify-fail") { environment(slug: "development") { quarantinedReleases { id } autoDeployPaused } } }`,
      );
      expect(env.data.project.environment).toEqual({ quarantinedReleases: [], autoDeployPaused: false });
      expect(d.raw).not.toContain('hunter2');
    } finally {
      await t.close();
    }
  });

  it('fails when timeoutSeconds pass without a verdict; an unanswered probe is a "timeout"', async () => {
    const t = await target(() => 'hang');
    try {
      const p = await setupProject(server, 'verify-timeout');
      await withVerification(p.dev, { url: t.url, intervalSeconds: 0.5, failureThreshold: 100, timeoutSeconds: 3 });
      const d = await waitEnd((await pushed(p.id)).deployments[0]!.id);
      expect(d.status).toBe('FAILED');
      expect(d.verification.status).toBe('FAILED');
      expect(d.verification.lastError).toBe('timeout');
      expect(d.verification.lastStatusCode).toBeNull();
      expect(d.error).toContain('not passed within 3 s');
    } finally {
      await t.close();
    }
  });

  it('counts a refused connection as a failure ("connection refused")', async () => {
    const t = await target(() => 200);
    const url = t.url;
    await t.close(); // nothing listens there any more
    const p = await setupProject(server, 'verify-refused');
    await withVerification(p.dev, { url, intervalSeconds: 0.5, failureThreshold: 2 });
    const d = await waitEnd((await pushed(p.id)).deployments[0]!.id);
    expect(d.status).toBe('FAILED');
    expect(d.verification).toMatchObject({ status: 'FAILED', probes: 2, lastStatusCode: null, lastError: 'connection refused' });
  });

  it('does not follow a redirect: a 302 is an answer other than expectStatus, and the other host is never called', async () => {
    const elsewhere = await target(() => 200);
    const t = await target(() => ({ redirect: elsewhere.url }));
    try {
      const p = await setupProject(server, 'verify-redirect');
      await withVerification(p.dev, { url: t.url, intervalSeconds: 0.5, failureThreshold: 2 });
      const d = await waitEnd((await pushed(p.id)).deployments[0]!.id);
      expect(d.status).toBe('FAILED');
      expect(d.verification).toMatchObject({ lastStatusCode: 302, lastError: 'HTTP 302 (expected 200)' });
      expect(t.hits()).toBe(2);
      expect(elsewhere.hits()).toBe(0);
    } finally {
      await t.close();
      await elsewhere.close();
    }
  });

  it('verifies a WEBHOOK deployment after its receiver reports success', async () => {
    const t = await target(() => 200);
    let callbackToken = '';
    const receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        callbackToken = JSON.parse(body).callbackToken;
        res.writeHead(202).end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', () => r()));
    try {
      const p = await setupProject(server, 'verify-webhook');
      const hook = `http://127.0.0.1:${(receiver.address() as { port: number }).port}/deploy`;
      const r = await server.gql(UPDATE, {
        i: {
          id: p.dev,
          deployTarget: { provider: 'WEBHOOK', url: hook, verification: { url: t.url, intervalSeconds: 0.5, successThreshold: 2 } },
        },
      });
      expect(r.errors).toBeUndefined();
      const id = (await pushed(p.id)).deployments[0]!.id;
      for (let i = 0; i < 100 && !callbackToken; i++) await new Promise((res) => setTimeout(res, 100));
      // Nothing is probed before the receiver says the deploy is done.
      await new Promise((res) => setTimeout(res, 1000));
      expect(t.hits()).toBe(0);
      expect((await get(id)).verification.status).toBe('PENDING');
      const report = await server.gql(
        `mutation($i: ReportDeploymentStatusInput!) { reportDeploymentStatus(input: $i) { status } }`,
        { i: { deploymentId: id, status: 'SUCCEEDED' } },
        callbackToken,
      );
      expect(report.errors).toBeUndefined();
      const d = await waitEnd(id);
      expect(d.status).toBe('SUCCEEDED');
      expect(types(d)).toEqual(['CREATED', 'STARTED', 'LOG', 'VERIFICATION_STARTED', 'VERIFICATION_PASSED', 'SUCCEEDED']);
      expect(d.verification).toMatchObject({ status: 'PASSED', probes: 2 });
    } finally {
      await t.close();
      await new Promise((r) => receiver.close(r));
    }
  });

  it('is SKIPPED without a verification', async () => {
    const p = await setupProject(server, 'verify-none');
    const d = await waitEnd((await pushed(p.id)).deployments[0]!.id);
    expect(d.status).toBe('SUCCEEDED');
    expect(d.verification).toEqual({ status: 'SKIPPED', probes: 0, lastStatusCode: null, lastError: null, finishedAt: null });
    expect(types(d).some((t) => t.startsWith('VERIFICATION_'))).toBe(false);
  });

  it('cancelled during verification: CANCELLED, and the probes stop', async () => {
    const t = await target(() => 503);
    try {
      const p = await setupProject(server, 'verify-cancel');
      await withVerification(p.dev, { url: t.url, intervalSeconds: 0.5, failureThreshold: 100, timeoutSeconds: 120 });
      const id = (await pushed(p.id)).deployments[0]!.id;
      for (let i = 0; i < 200 && t.hits() < 2; i++) await new Promise((r) => setTimeout(r, 100));
      const during = await get(id);
      expect(during.status).toBe('RUNNING');
      expect(during.verification.status).toBe('RUNNING');
      const c = await server.gql(`mutation($id: ID!) { cancelDeployment(id: $id) { status } }`, { id });
      expect(c.errors).toBeUndefined();
      expect(c.data.cancelDeployment.status).toBe('CANCELLED');
      const d = await get(id);
      expect(types(d).at(-1)).toBe('CANCELLED');
      expect(d.verification.status).toBe('SKIPPED');
      await new Promise((r) => setTimeout(r, 1500)); // a probe in flight may still land
      const settled = t.hits();
      await new Promise((r) => setTimeout(r, 2500));
      expect(t.hits()).toBe(settled);
      expect((await get(id)).events.length).toBe(d.events.length);
    } finally {
      await t.close();
    }
  });
});

describe('automatic rollback', () => {
  const ENV = `quarantinedReleases { id version } autoDeployPaused`;

  it('quarantines, pauses and rolls back to the last verified release; linked both ways; ROLLBACK_STARTED before FAILED', async () => {
    let healthy = true;
    const t = await target(() => (healthy ? 200 : 500));
    try {
      const p = await setupProject(server, 'auto-rollback');
      await withVerification(
        p.dev,
        { url: t.url, intervalSeconds: 0.5, successThreshold: 2, failureThreshold: 2 },
        { policy: { autoRollback: true } },
      );
      const good = await pushed(p.id);
      expect((await waitEnd(good.deployments[0]!.id)).status).toBe('SUCCEEDED');

      healthy = false;
      const bad = await pushed(p.id);
      const badId = bad.deployments[0]!.id;
      // A freeze begun meanwhile does not hold the automatic rollback back.
      for (let i = 0; i < 200 && (await get(badId)).verification.status !== 'RUNNING'; i++) await new Promise((r) => setTimeout(r, 100));
      expect((await server.gql(UPDATE, { i: { id: p.dev, frozen: true } })).errors).toBeUndefined();
      const failed = await waitEnd(badId);
      healthy = true; // the old release answers again
      expect(failed.status).toBe('FAILED');
      expectGaplessEvents(failed.events);
      expect(types(failed).slice(-4)).toEqual(['VERIFICATION_STARTED', 'VERIFICATION_FAILED', 'ROLLBACK_STARTED', 'FAILED']);
      const rb = failed.rolledBackBy;
      expect(rb).toMatchObject({
        kind: 'ROLLBACK',
        requestedBy: 'stageplane:auto-rollback',
        requiredApprovals: 0,
        release: { version: good.release.version },
        rollbackOf: { id: badId },
      });
      expect(failed.events.find((e: any) => e.type === 'ROLLBACK_STARTED').message).toContain(rb.id);

      const rolled = await waitEnd(rb.id);
      expect(rolled.status).toBe('SUCCEEDED');
      expect(rolled.rollbackOf).toEqual({ id: badId });
      expect(rolled.verification.status).toBe('PASSED');
      const envAfter = await server.gql(
        `{ project(slug: "auto-rollback") { environment(slug: "development") { ${ENV} currentRelease { version } } } }`,
      );
      expect(envAfter.data.project.environment).toEqual({
        quarantinedReleases: [{ id: bad.release.id, version: bad.release.version }],
        autoDeployPaused: true,
        currentRelease: { version: good.release.version },
      });
      expect((await server.gql(UPDATE, { i: { id: p.dev, frozen: false } })).errors).toBeUndefined();

      // The quarantined release is refused, naming it.
      const DEPLOY = `mutation($i: DeployInput!) { deploy(input: $i) { id } }`;
      const refused = await server.gql(DEPLOY, { i: { environmentId: p.dev, releaseId: bad.release.id } });
      expect(codeOf(refused)).toBe('PRECONDITION_FAILED');
      expect(refused.errors![0]!.message).toContain(bad.release.version);

      // Paused: a push records its release and deploys nothing here.
      const whilePaused = await pushed(p.id);
      expect(whilePaused.deployments).toEqual([]);
      const releases = await server.gql(`{ project(slug: "auto-rollback") { releases { edges { node { id } } } } }`);
      expect(releases.data.project.releases.edges.map((e: any) => e.node.id)).toContain(whilePaused.release.id);

      // Lifting both: by a deployer of the environment; a VIEWER may not.
      const viewer = await server.token('vic', ['VIEWER']);
      const RESUME = `mutation($id: ID!) { resumeAutoDeploy(environmentId: $id) { ${ENV} } }`;
      const RELEASE = `mutation($i: ReleaseQuarantineInput!) { releaseQuarantine(input: $i) { ${ENV} } }`;
      expect(codeOf(await server.gql(RESUME, { id: p.dev }, viewer))).toBe('FORBIDDEN');
      expect(codeOf(await server.gql(RELEASE, { i: { environmentId: p.dev, releaseId: bad.release.id } }, viewer))).toBe('FORBIDDEN');
      const dev = await server.token('dora', ['DEVELOPER']);
      const resumed = await server.gql(RESUME, { id: p.dev }, dev);
      expect(resumed.errors).toBeUndefined();
      expect(resumed.data.resumeAutoDeploy.autoDeployPaused).toBe(false);
      expect(codeOf(await server.gql(RESUME, { id: p.dev }, dev))).toBe('PRECONDITION_FAILED');
      const afterResume = await pushed(p.id);
      expect(afterResume.deployments).toHaveLength(1);
      expect((await waitEnd(afterResume.deployments[0]!.id)).status).toBe('SUCCEEDED');

      const released = await server.gql(RELEASE, { i: { environmentId: p.dev, releaseId: bad.release.id } }, dev);
      expect(released.errors).toBeUndefined();
      expect(released.data.releaseQuarantine.quarantinedReleases).toEqual([]);
      const redeploy = await server.gql(DEPLOY, { i: { environmentId: p.dev, releaseId: bad.release.id } });
      expect(redeploy.errors).toBeUndefined();
      expect((await waitEnd(redeploy.data.deploy.id)).status).toBe('SUCCEEDED');

      const audit = await server.gql(`{ project(slug: "auto-rollback") { auditLog(first: 100) { edges { node { action actor } } } } }`);
      expect(audit.errors).toBeUndefined();
      const actions = audit.data.project.auditLog.edges.map((e: any) => `${e.node.action}:${e.node.actor}`);
      expect(actions).toContain('deployment.auto_rollback:stageplane:auto-rollback');
      expect(actions).toContain('environment.auto_deploy.resume:dora');
      expect(actions).toContain('release.quarantine.release:dora');
    } finally {
      await t.close();
    }
  }, 120_000);

  it('with nothing earlier to roll back to: FAILED, no rollback, but quarantined and paused', async () => {
    const t = await target(() => 500);
    try {
      const p = await setupProject(server, 'auto-rollback-first');
      await withVerification(p.dev, { url: t.url, intervalSeconds: 0.5, failureThreshold: 1 }, { policy: { autoRollback: true } });
      const first = await pushed(p.id);
      const d = await waitEnd(first.deployments[0]!.id);
      expect(d.status).toBe('FAILED');
      expect(d.rolledBackBy).toBeNull();
      expect(types(d).slice(-3)).toEqual(['VERIFICATION_FAILED', 'LOG', 'FAILED']);
      expect(d.events.at(-2).message).toContain('No automatic rollback');
      const env = await server.gql(
        `{ project(slug: "auto-rollback-first") { environment(slug: "development") { ${ENV} } deployments { edges { node { kind } } } } }`,
      );
      expect(env.data.project.environment).toEqual({
        quarantinedReleases: [{ id: first.release.id, version: first.release.version }],
        autoDeployPaused: true,
      });
      expect(env.data.project.deployments.edges.map((e: any) => e.node.kind)).toEqual(['PUSH']);
    } finally {
      await t.close();
    }
  });
});
