// Workload identity: a CI job signs in with its platform's OIDC token, matched against a
// project's trust policies. Two real issuers on 127.0.0.1 at once (RSA and Ed25519 keys), each
// with its own discovered, cached key set. Validation and authorization of createTrustPolicy,
// the glob, the union of matching policies, deletion taking effect the instant it answers, and
// the whole flow: a job with only its OIDC token pushes and promotes in its own project.
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TRUST_POLICY_TTL_MS } from '../../server/oidc.ts';
import { createTestDatabase } from '../support/database.ts';
import { openTestDatabase, type Sql } from '../support/db-state.ts';
import { push, setupProject, sha, waitForStatus } from '../support/deployments.ts';
import { startIssuer, type TestIssuer } from '../support/oidc-issuer.ts';
import { codeOf, startTestServer, type TestServer } from '../support/server.ts';

const CI_AUDIENCE = 'https://stageplane.example.com';
let github: TestIssuer;
let gitlab: TestIssuer;
let server: TestServer;
let sql: Sql;
let dbUrl: string;
let dropDb: () => Promise<void>;
let shop: Awaited<ReturnType<typeof setupProject>>;
let billing: Awaited<ReturnType<typeof setupProject>>;

const CREATE = `mutation($i: CreateTrustPolicyInput!) { createTrustPolicy(input: $i) { id issuer audience subjectPattern roles createdBy createdAt } }`;
const DELETE = `mutation($id: ID!) { deleteTrustPolicy(id: $id) }`;
// A workload holds no global role (Viewer.roles is []): its roles are in its policies' projects.
const VIEWER = `query { viewer { subject roles issuer shop: projectRoles(projectSlug: "shop") billing: projectRoles(projectSlug: "billing") } }`;
const policyCount = async () => Number((await sql`select count(*)::int as n from trust_policies`)[0]!.n);

async function createPolicy(input: Record<string, unknown>, token?: string) {
  return server.gql(CREATE, { i: input }, token);
}
async function createPolicyOk(input: Record<string, unknown>) {
  const r = await createPolicy(input);
  expect(r.errors, JSON.stringify(r.errors)).toBeUndefined();
  return r.data.createTrustPolicy as { id: string; roles: string[] };
}
const githubJob = (sub: string, claims: Record<string, unknown> = {}) =>
  github.token({ sub, aud: CI_AUDIENCE, repository: sub.split(':')[1], ...claims });

beforeAll(async () => {
  github = await startIssuer([{ alg: 'RS256', kid: 'gh-1' }]);
  gitlab = await startIssuer([{ alg: 'EdDSA', kid: 'gl-1' }]);
  const db = await createTestDatabase();
  dropDb = db.drop;
  dbUrl = db.url;
  sql = openTestDatabase(db.url);
  server = await startTestServer({ databaseUrl: db.url });
  shop = await setupProject(server, 'shop');
  billing = await setupProject(server, 'billing');
}, 60_000);

afterAll(async () => {
  await server?.stop();
  await sql?.end();
  await github?.stop();
  await gitlab?.stop();
  await dropDb?.();
});

describe('createTrustPolicy', () => {
  it('refuses bad input with BAD_USER_INPUT naming the field, and writes nothing', async () => {
    const good = {
      projectId: shop.id,
      issuer: github.url,
      audience: CI_AUDIENCE,
      subjectPattern: 'repo:acme/shop:*',
      roles: ['DEVELOPER'],
    };
    const cases: [Record<string, unknown>, string][] = [
      [{ issuer: 'http://ci.example.com' }, 'input.issuer'],
      [{ issuer: 'ftp://127.0.0.1/' }, 'input.issuer'],
      [{ issuer: 'not a url' }, 'input.issuer'],
      [{ issuer: `${github.url}?x=1` }, 'input.issuer'],
      [{ issuer: ` ${github.url}` }, 'input.issuer'],
      [{ audience: '' }, 'input.audience'],
      [{ audience: '   ' }, 'input.audience'],
      [{ subjectPattern: '' }, 'input.subjectPattern'],
      [{ subjectPattern: '**' }, 'input.subjectPattern'],
      [{ roles: [] }, 'input.roles'],
      [{ roles: ['QA', 'QA'] }, 'input.roles[1]'],
    ];
    for (const [patch, field] of cases) {
      const r = await createPolicy({ ...good, ...patch });
      expect(codeOf(r), JSON.stringify(patch)).toBe('BAD_USER_INPUT');
      expect(r.errors![0]!.extensions!.field).toBe(field);
    }
    const unknownProject = await createPolicy({ ...good, projectId: 'UHJvamVjdDowMDAwMDAwMC0wMDAwLTAwMDAtMDAwMC0wMDAwMDAwMDAwMDA=' });
    expect(codeOf(unknownProject)).toBe('NOT_FOUND');
    expect(await policyCount()).toBe(0);
  });

  it('is ADMIN only: a DEVELOPER or a workload may not create or delete one', async () => {
    const input = { projectId: shop.id, issuer: github.url, audience: CI_AUDIENCE, subjectPattern: 'repo:acme/shop:*', roles: ['ADMIN'] };
    const dev = await server.token('dev', ['DEVELOPER', 'QA', 'APPROVER']);
    expect(codeOf(await createPolicy(input, dev))).toBe('FORBIDDEN');
    expect(await policyCount()).toBe(0);
    const policy = await createPolicyOk({ ...input, roles: ['DEVELOPER'] });
    // The workload itself, with DEVELOPER in shop, may not widen its own policy or delete it.
    const job = await githubJob('repo:acme/shop:ref:refs/heads/main');
    expect(codeOf(await createPolicy(input, job))).toBe('FORBIDDEN');
    expect(codeOf(await server.gql(DELETE, { id: policy.id }, job))).toBe('FORBIDDEN');
    expect(codeOf(await server.gql(DELETE, { id: policy.id }, dev))).toBe('FORBIDDEN');
    expect((await server.gql(DELETE, { id: policy.id })).data.deleteTrustPolicy).toBe(policy.id);
    expect(codeOf(await server.gql(DELETE, { id: policy.id }))).toBe('NOT_FOUND');
    expect(await policyCount()).toBe(0);
  });

  it('answers the policy, finds it by node(id) and Project.trustPolicies, and audits create and delete', async () => {
    const p = await createPolicyOk({
      projectId: shop.id,
      issuer: github.url,
      audience: CI_AUDIENCE,
      subjectPattern: 'repo:acme/audit:*',
      roles: ['QA', 'VIEWER'],
    });
    expect(p).toMatchObject({ subjectPattern: 'repo:acme/audit:*', roles: ['QA', 'VIEWER'], createdBy: 'admin' });
    const node = await server.gql(`query($id: ID!) { node(id: $id) { __typename ... on TrustPolicy { id issuer audience } } }`, {
      id: p.id,
    });
    expect(node.data.node).toEqual({ __typename: 'TrustPolicy', id: p.id, issuer: github.url, audience: CI_AUDIENCE });
    const listed = await server.gql(`query { project(slug: "shop") { trustPolicies { id } } }`);
    expect(listed.data.project.trustPolicies).toEqual([{ id: p.id }]);
    await server.gql(DELETE, { id: p.id });
    const audit = await server.gql(`query { project(slug: "shop") { auditLog(first: 5) { edges { node { action actor detail } } } } }`);
    const actions = audit.data.project.auditLog.edges.map((e: any) => e.node.action);
    expect(actions.slice(0, 2)).toEqual(['trust-policy.delete', 'trust-policy.create']);
    expect(audit.data.project.auditLog.edges[1].node.detail).toMatchObject({ issuer: github.url, subjectPattern: 'repo:acme/audit:*' });
  });
});

describe('workloads signing in through trust policies', () => {
  let shopMain: { id: string };
  let shopBranches: { id: string };

  beforeAll(async () => {
    shopMain = await createPolicyOk({
      projectId: shop.id,
      issuer: github.url,
      audience: CI_AUDIENCE,
      subjectPattern: 'repo:acme/shop:ref:refs/heads/main',
      roles: ['DEVELOPER'],
    });
    shopBranches = await createPolicyOk({
      projectId: shop.id,
      issuer: github.url,
      audience: CI_AUDIENCE,
      subjectPattern: 'repo:acme/shop:*',
      roles: ['VIEWER', 'QA'],
    });
    await createPolicyOk({
      projectId: billing.id,
      issuer: gitlab.url,
      audience: 'stageplane',
      subjectPattern: 'project_path:acme/billing:ref_type:branch:ref:*',
      roles: ['DEVELOPER', 'QA'],
    });
  });

  it('act as sub, with the union of every matching policy of its issuer and audience', async () => {
    const main = await server.gql(VIEWER, {}, await githubJob('repo:acme/shop:ref:refs/heads/main'));
    expect(main.errors).toBeUndefined();
    expect(main.data.viewer.subject).toBe('repo:acme/shop:ref:refs/heads/main');
    expect(main.data.viewer.issuer).toBe(github.url);
    expect(main.data.viewer.roles).toEqual([]);
    expect([...main.data.viewer.shop].sort()).toEqual(['DEVELOPER', 'QA', 'VIEWER']);
    expect(main.data.viewer.billing).toEqual([]);
    // `*` spans `:` and `/`: a pull request ref matches only the wider policy.
    const pr = await server.gql(VIEWER, {}, await githubJob('repo:acme/shop:pull_request/refs/pull/7/merge'));
    expect([...pr.data.viewer.shop].sort()).toEqual(['QA', 'VIEWER']);
    // The second issuer, with its own keys (Ed25519) and audience, at the same time.
    const gl = await server.gql(
      VIEWER,
      {},
      await gitlab.token({ sub: 'project_path:acme/billing:ref_type:branch:ref:main', aud: 'stageplane' }),
    );
    expect(gl.data.viewer).toEqual({
      subject: 'project_path:acme/billing:ref_type:branch:ref:main',
      roles: [],
      issuer: gitlab.url,
      shop: [],
      billing: ['DEVELOPER', 'QA'],
    });
    expect(github.hits.get('/.well-known/openid-configuration')).toBe(1);
    expect(gitlab.hits.get('/.well-known/openid-configuration')).toBe(1);
  });

  it('a token of a trust-policy issuer that matches no policy authenticates no one', async () => {
    const refused = async (token: string) => {
      const r = await server.gql(VIEWER, {}, token);
      expect(codeOf(r), JSON.stringify(r.errors)).toBe('UNAUTHENTICATED');
    };
    await refused(await githubJob('repo:acme/shopping:ref:refs/heads/main')); // the glob is anchored: not a prefix match
    await refused(await githubJob('repo:evil/shop:ref:refs/heads/main'));
    await refused(await githubJob('xrepo:acme/shop:ref:refs/heads/main'));
    await refused(await githubJob('repo:acme/shop:ref:refs/heads/main', { aud: 'another-audience' }));
    // Policies are per issuer: gitlab's subject under github's signature, and github's under gitlab's.
    await refused(await github.token({ sub: 'project_path:acme/billing:ref_type:branch:ref:main', aud: 'stageplane' }));
    await refused(await gitlab.token({ sub: 'repo:acme/shop:ref:refs/heads/main', aud: CI_AUDIENCE }));
    // A token signed by gitlab claiming github's iss: not in github's key set.
    await refused(await gitlab.token({ iss: github.url, sub: 'repo:acme/shop:ref:refs/heads/main', aud: CI_AUDIENCE }));
    // HS256 with JWT_SECRET under a trust-policy issuer's iss: routed to that issuer, refused.
    await refused(
      await new SignJWT({ roles: ['ADMIN'] })
        .setProtectedHeader({ alg: 'HS256' })
        .setIssuer(github.url)
        .setAudience(CI_AUDIENCE)
        .setSubject('repo:acme/shop:ref:refs/heads/main')
        .setExpirationTime('1h')
        .sign(server.config.jwtSecret),
    );
    await refused(await githubJob('repo:acme/shop:ref:refs/heads/main', { exp: Math.floor(Date.now() / 1000) - 5 }));
  });

  it('an issuer whose discovery document names another issuer is not believed', async () => {
    const impostor = await startIssuer([{ alg: 'RS256', kid: 'imp-1' }]);
    try {
      await createPolicyOk({
        projectId: shop.id,
        issuer: impostor.url,
        audience: CI_AUDIENCE,
        subjectPattern: 'repo:acme/shop:*',
        roles: ['QA'],
      });
      const token = await impostor.token({ sub: 'repo:acme/shop:ref:refs/heads/main', aud: CI_AUDIENCE });
      // Its discovery now claims to be someone else (here: the same URL with a trailing slash).
      impostor.issuer.url = `${impostor.url}/`;
      const r = await server.gql(VIEWER, {}, token);
      expect(codeOf(r)).toBe('UNAUTHENTICATED');
      expect(impostor.hits.get('/.well-known/openid-configuration')).toBe(1);
      expect(impostor.hits.get('/jwks')).toBeUndefined();
      const line = server.logs.find((l) => l.includes('OIDC discovery failed'));
      expect(line).toMatch(/names another issuer/);
    } finally {
      await impostor.stop();
    }
  });

  it('a CI job with only its OIDC token pushes and promotes in its own project, and may not create a project', async () => {
    const job = await githubJob('repo:acme/shop:ref:refs/heads/main');
    const pushed = await push(server, shop.id, sha(101), 'main', job);
    expect(pushed.errors, JSON.stringify(pushed.errors)).toBeUndefined();
    const dev = pushed.data.recordPush.deployments.find((d: any) => d.environment.slug === 'development');
    await waitForStatus(server, dev.id, ['SUCCEEDED']);
    const promoted = await server.gql(
      `mutation($i: PromoteInput!) { promote(input: $i) { id status requestedBy } }`,
      { i: { environmentId: shop.staging } },
      job,
    );
    expect(promoted.errors, JSON.stringify(promoted.errors)).toBeUndefined();
    expect(promoted.data.promote.requestedBy).toBe('repo:acme/shop:ref:refs/heads/main');
    await waitForStatus(server, promoted.data.promote.id, ['SUCCEEDED']);
    const created = await server.gql(`mutation { createProject(input: { slug: "ci-made", name: "x" }) { id } }`, {}, job);
    expect(codeOf(created)).toBe('FORBIDDEN');
  });

  // A workload holds its policies' roles in their project only (boundTo): use cases authorize
  // with the roles in the project they act in (services/project-access.ts actorInProject).
  it('is refused in any other project (FORBIDDEN)', async () => {
    const job = await githubJob('repo:acme/shop:ref:refs/heads/main');
    const r = await push(server, billing.id, sha(102), 'main', job);
    expect(codeOf(r)).toBe('FORBIDDEN');
  });

  it('deleting a policy takes effect the instant the mutation answers, for a token already cached', async () => {
    const sub = 'repo:acme/shop:ref:refs/heads/feature';
    const job = await githubJob(sub);
    expect([...(await server.gql(VIEWER, {}, job)).data.viewer.shop].sort()).toEqual(['QA', 'VIEWER']);
    expect((await server.gql(DELETE, { id: shopBranches.id })).errors).toBeUndefined();
    expect(codeOf(await server.gql(VIEWER, {}, job))).toBe('UNAUTHENTICATED');
    // The main branch keeps its narrower policy.
    expect((await server.gql(VIEWER, {}, await githubJob('repo:acme/shop:ref:refs/heads/main'))).data.viewer.shop).toEqual(['DEVELOPER']);
    // A new policy works at once too.
    await createPolicyOk({
      projectId: shop.id,
      issuer: github.url,
      audience: CI_AUDIENCE,
      subjectPattern: 'repo:acme/shop:ref:refs/heads/feat*',
      roles: ['QA'],
    });
    expect((await server.gql(VIEWER, {}, job)).data.viewer.shop).toEqual(['QA']);
    expect(shopMain.id).toBeTruthy();
  });

  it('another replica sees a created or deleted policy within TRUST_POLICY_TTL_MS', async () => {
    const replica = await startTestServer({ databaseUrl: dbUrl });
    try {
      const sub = 'repo:acme/shop:environment:replica';
      const job = await githubJob(sub, { aud: 'replica-aud' });
      // The replica has its snapshot (no policy for this audience yet).
      expect(codeOf(await replica.gql(VIEWER, {}, job))).toBe('UNAUTHENTICATED');
      const created = await createPolicyOk({
        projectId: shop.id,
        issuer: github.url,
        audience: 'replica-aud',
        subjectPattern: sub,
        roles: ['QA'],
      });
      const seen = async (want: 'in' | 'out') => {
        const t0 = Date.now();
        for (;;) {
          const r = await replica.gql(VIEWER, {}, job);
          if ((want === 'in') === (r.data?.viewer?.subject === sub)) return Date.now() - t0;
          if (Date.now() - t0 > TRUST_POLICY_TTL_MS + 2_000) throw new Error(`replica did not see the policy ${want} in time`);
          await new Promise((r) => setTimeout(r, 200));
        }
      };
      expect(await seen('in')).toBeLessThanOrEqual(TRUST_POLICY_TTL_MS + 1_000);
      expect((await server.gql(DELETE, { id: created.id })).errors).toBeUndefined();
      expect(await seen('out')).toBeLessThanOrEqual(TRUST_POLICY_TTL_MS + 1_000);
    } finally {
      await replica.stop();
    }
  }, 60_000);
});
