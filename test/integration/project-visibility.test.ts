// Private projects (v2) on every surface, against the real server: a principal without a role in
// a PRIVATE project finds nothing of it anywhere (lists, project(slug), node(id)/nodes(ids) of
// every object a member can see, deployment(id), compareEnvironments, the audit log, graphql-ws
// and SSE subscriptions, mutations), each answer the same as for something that does not exist;
// a member granted a role sees all of it. Then project roles and project tokens through the API,
// the push webhook, and the SQL visibility filter checked against rolesInProject (group grants
// included) on generated principals.
import { createHmac } from 'node:crypto';
import { decodeGlobalID } from '@pothos/plugin-relay';
import { and, sql } from 'drizzle-orm';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDatabase, type DatabaseHandle } from '../../db/client.ts';
import { projectMembers, projects } from '../../db/schema/index.ts';
import { type Principal, type ProjectGrant, rolesInProject } from '../../domain/permissions.ts';
import type { Role } from '../../domain/types.ts';
import { projectAccess, visibleProjects } from '../../services/project-access.ts';
import { createTestDatabase } from '../support/database.ts';
import { push, setupProject, sha, waitForStatus } from '../support/deployments.ts';
import { collect, DEPLOYMENT_EVENTS, PROJECT_EVENTS, wsClient } from '../support/live-clients.ts';
import { codeOf, startTestServer, type TestServer } from '../support/server.ts';

const WEBHOOK_SECRET = 'visibility-webhook-secret';
let server: TestServer;
let dropDb: () => Promise<void>;
let database: DatabaseHandle;
let wsUrl: string;

const HIDDEN = 'vis-hidden';
const OPEN = 'vis-open';
let hidden: { id: string; dev: string; staging: string; production: string };
let open: { id: string };
/** Global ids of everything inside the PRIVATE project, harvested by a member. */
let harvested: { typename: string; id: string }[] = [];
let deploymentId: string;

const tokens: Record<string, string> = {};
/** Global non-ADMIN roles: they do not reach into a PRIVATE project. */
const outsider = () => tokens.outsider!;
/** No global role; DEVELOPER granted in the PRIVATE project. */
const member = () => tokens.member!;

const gql = (query: string, variables: Record<string, unknown> = {}, token?: string | null) => server.gql(query, variables, token);
async function ok(query: string, variables: Record<string, unknown> = {}, token?: string | null) {
  const r = await gql(query, variables, token);
  if (r.errors) throw new Error(`${JSON.stringify(r.errors)} for ${query.slice(0, 80)}`);
  return r.data;
}

const HARVEST = `query($slug: String!) { project(slug: $slug) {
  id visibility
  environments(includeArchived: true) { id currentRelease { id } activeDeployment { id } deployments(first: 20) { edges { node { id } } } }
  secrets { id } databaseConnections { id }
  releases(first: 20) { edges { node { id } } }
  deployments(first: 20) { edges { node { id release { id } environment { id } } } }
  auditLog(first: 50) { edges { node { action } } }
  members { subject group roles grantedBy }
  trustPolicies { id } freezeWindows { id } notificationChannels { id }
  compareEnvironments(base: "development", target: "staging") { identical differences { path } }
} }`;

beforeAll(async () => {
  const db = await createTestDatabase();
  dropDb = db.drop;
  server = await startTestServer({ databaseUrl: db.url, env: { WEBHOOK_SECRET } });
  wsUrl = `${server.url.replace(/^http/, 'ws')}/graphql`;
  database = await createDatabase({ url: db.url, poolSize: 2 });

  hidden = await setupProject(server, HIDDEN);
  open = await setupProject(server, OPEN);
  const secret = await ok(`mutation($i: CreateSecretInput!) { createSecret(input: $i) { id } }`, {
    i: { projectId: hidden.id, name: 'API_KEY' },
  });
  for (const environment of ['development', 'staging', 'production']) {
    await ok(`mutation($i: SetSecretValueInput!) { setSecretValue(input: $i) { isSet } }`, {
      i: { secretId: secret.createSecret.id, environment, value: `v-${environment}` },
    });
  }
  await ok(`mutation($i: CreateDatabaseConnectionInput!) { createDatabaseConnection(input: $i) { id } }`, {
    i: { projectId: hidden.id, name: 'main' },
  });
  // One of each v2 Node type inside the project, so node(id) is walked for them too.
  await ok(`mutation($i: CreateTrustPolicyInput!) { createTrustPolicy(input: $i) { id } }`, {
    i: {
      projectId: hidden.id,
      issuer: 'https://token.actions.githubusercontent.com',
      audience: 'stageplane',
      subjectPattern: 'repo:acme/hidden:*',
      roles: ['DEVELOPER'],
    },
  });
  await ok(`mutation($i: CreateFreezeWindowInput!) { createFreezeWindow(input: $i) { id } }`, {
    i: { projectId: hidden.id, name: 'later', reason: 'visibility test', startsAt: '2099-01-01T00:00:00Z', endsAt: '2099-01-02T00:00:00Z' },
  });
  await ok(`mutation($i: CreateNotificationChannelInput!) { createNotificationChannel(input: $i) { id } }`, {
    i: { projectId: hidden.id, name: 'ops', kind: 'WEBHOOK', url: 'https://hooks.example.com/secret-path', events: ['TEST'] },
  });
  const pushed = await push(server, hidden.id, sha(0x51));
  deploymentId = pushed.data.recordPush.deployments[0].id;
  await waitForStatus(server, deploymentId, ['SUCCEEDED']);
  await ok(`mutation($i: SetProjectVisibilityInput!) { setProjectVisibility(input: $i) { visibility } }`, {
    i: { projectId: hidden.id, visibility: 'PRIVATE' },
  });
  await ok(`mutation($i: GrantProjectRolesInput!) { grantProjectRoles(input: $i) { subject } }`, {
    i: { projectId: hidden.id, subject: 'vis-member', roles: ['DEVELOPER'] },
  });
  tokens.outsider = await server.token('vis-outsider', ['VIEWER', 'DEVELOPER', 'QA', 'APPROVER']);
  tokens.member = await server.token('vis-member', []);

  const d = (await ok(HARVEST, { slug: HIDDEN }, member())).project;
  const ids = new Set<string>([
    d.id,
    ...d.environments.flatMap((e: any) => [
      e.id,
      e.currentRelease?.id,
      e.activeDeployment?.id,
      ...e.deployments.edges.map((x: any) => x.node.id),
    ]),
    ...d.secrets.map((s: any) => s.id),
    ...d.databaseConnections.map((c: any) => c.id),
    ...[...d.trustPolicies, ...d.freezeWindows, ...d.notificationChannels].map((x: any) => x.id),
    ...d.releases.edges.map((x: any) => x.node.id),
    ...d.deployments.edges.flatMap((x: any) => [x.node.id, x.node.release.id, x.node.environment.id]),
  ]);
  ids.delete(undefined as never);
  harvested = [...ids].filter(Boolean).map((id) => ({ id, typename: decodeGlobalID(id).typename }));
});

afterAll(async () => {
  await database?.close();
  await server?.stop();
  await dropDb?.();
});

describe('a PRIVATE project, to a principal with no role in it', () => {
  it('harvested an object of every Node type inside it', async () => {
    const r = await ok(`{ __schema { types { name interfaces { name } } } }`);
    const nodeTypes = r.__schema.types.filter((t: any) => t.interfaces?.some((i: any) => i.name === 'Node')).map((t: any) => t.name);
    expect([...new Set(harvested.map((h) => h.typename))].sort()).toEqual(nodeTypes.sort());
  });

  it('is absent from projects, and project(slug) is null, while a member and ADMIN see it', async () => {
    const list = `{ projects(first: 100) { edges { node { slug } } } }`;
    const slugs = async (token?: string) => (await ok(list, {}, token)).projects.edges.map((e: any) => e.node.slug);
    expect(await slugs(outsider())).toEqual([OPEN]);
    // The member has no global role: it sees only where it has one, its PRIVATE project.
    expect(await slugs(member())).toEqual([HIDDEN]);
    expect((await slugs()).sort()).toEqual([HIDDEN, OPEN]);
    const r = await gql(HARVEST, { slug: HIDDEN }, outsider());
    expect(r.errors).toBeUndefined();
    expect(r.data.project).toBeNull();
    // Nested connections, compareEnvironments, the audit log and the members are there for a member.
    const seen = (await ok(HARVEST, { slug: HIDDEN }, member())).project;
    expect(seen.visibility).toBe('PRIVATE');
    expect(seen.secrets).toHaveLength(1);
    expect(seen.releases.edges.length).toBeGreaterThan(0);
    expect(seen.compareEnvironments.differences.length).toBeGreaterThan(0);
    expect(seen.auditLog.edges.map((e: any) => e.node.action)).toEqual(expect.arrayContaining(['project.visibility.set', 'release.push']));
    expect(seen.members).toEqual([{ subject: 'vis-member', group: null, roles: ['DEVELOPER'], grantedBy: 'admin' }]);
  });

  it('answers null for node(id), nodes(ids) and deployment(id) of everything inside it, as for ids that do not exist', async () => {
    expect(harvested.length).toBeGreaterThanOrEqual(8);
    const node = `query($id: ID!) { node(id: $id) { id __typename } }`;
    for (const { id, typename } of harvested) {
      const r = await gql(node, { id }, outsider());
      expect(r.errors, typename).toBeUndefined();
      expect(r.data.node, `${typename} ${id}`).toBeNull();
      expect((await ok(node, { id }, member())).node, `member: ${typename}`).toEqual({ id, __typename: typename });
      expect((await ok(node, { id })).node?.id, `ADMIN: ${typename}`).toBe(id);
    }
    const ids = harvested.map((h) => h.id);
    const many = `query($ids: [ID!]!) { nodes(ids: $ids) { id } }`;
    expect((await ok(many, { ids }, outsider())).nodes).toEqual(ids.map(() => null));
    expect((await ok(many, { ids }, member())).nodes.map((n: any) => n.id)).toEqual(ids);
    // A mix keeps its order: the INTERNAL project's id is there, the private ones null.
    expect((await ok(many, { ids: [ids[0], open.id] }, outsider())).nodes).toEqual([null, { id: open.id }]);
    const dep = `query($id: ID!) { deployment(id: $id) { id } }`;
    expect((await ok(dep, { id: deploymentId }, outsider())).deployment).toBeNull();
    expect((await ok(dep, { id: deploymentId }, member())).deployment.id).toBe(deploymentId);
  });

  it('refuses its subscriptions over graphql-ws with the NOT_FOUND of a missing deployment or project', async () => {
    const missingDeployment = Buffer.from('Deployment:00000000-0000-4000-8000-000000000000').toString('base64');
    const messageOf = async (token: string, query: string, variables: Record<string, unknown>) => {
      const client = wsClient(wsUrl, token);
      const sub = collect(client, query, variables);
      await sub.done.catch(() => {});
      await client.dispose();
      return sub.errors.map((e: any) => ({ code: e.extensions?.code, message: String(e.message).replace(/"[^"]*"/, '"…"') }));
    };
    const hiddenDeployment = await messageOf(outsider(), DEPLOYMENT_EVENTS, { id: deploymentId });
    expect(hiddenDeployment).toEqual(await messageOf(outsider(), DEPLOYMENT_EVENTS, { id: missingDeployment }));
    expect(hiddenDeployment[0]?.code).toBe('NOT_FOUND');
    const hiddenProject = await messageOf(outsider(), PROJECT_EVENTS, { slug: HIDDEN });
    expect(hiddenProject).toEqual(await messageOf(outsider(), PROJECT_EVENTS, { slug: 'vis-nowhere' }));
    expect(hiddenProject[0]?.code).toBe('NOT_FOUND');
    // A member replays the finished deployment's events to the end.
    const client = wsClient(wsUrl, member());
    const sub = collect(client, DEPLOYMENT_EVENTS, { id: deploymentId });
    await sub.done;
    await client.dispose();
    expect(sub.events.at(-1)?.status).toBe('SUCCEEDED');
  });

  it('refuses its subscriptions over SSE with NOT_FOUND', async () => {
    const sse = async (token: string, query: string, variables: Record<string, unknown>) => {
      const response = await fetch(`${server.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${token}` },
        body: JSON.stringify({ query, variables }),
      });
      return response.text();
    };
    expect(await sse(outsider(), DEPLOYMENT_EVENTS, { id: deploymentId })).toContain('NOT_FOUND');
    expect(await sse(outsider(), PROJECT_EVENTS, { slug: HIDDEN })).toContain('NOT_FOUND');
    const text = await sse(member(), DEPLOYMENT_EVENTS, { id: deploymentId });
    expect(text).not.toContain('NOT_FOUND');
    expect(text).toContain('SUCCEEDED');
  });

  it('answers mutations on what is inside it with the NOT_FOUND of a missing object, and writes nothing', async () => {
    const seen = (await ok(HARVEST, { slug: HIDDEN }, member())).project;
    const unknown = (typename: string) => Buffer.from(`${typename}:00000000-0000-4000-8000-000000000000`).toString('base64');
    const auditBefore = (await ok(HARVEST, { slug: HIDDEN })).project.auditLog.edges.length;
    const calls: [string, string, (id: string) => Record<string, unknown>, string][] = [
      [
        'Environment',
        `mutation($i: UpdateEnvironmentInput!) { updateEnvironment(input: $i) { id } }`,
        (id) => ({ i: { id, region: 'x' } }),
        hidden.dev,
      ],
      ['Environment', `mutation($i: PromoteInput!) { promote(input: $i) { id } }`, (id) => ({ i: { environmentId: id } }), hidden.staging],
      // A wrong environment slug must not tell a hidden secret from a missing one.
      [
        'Secret',
        `mutation($i: SetSecretValueInput!) { setSecretValue(input: $i) { isSet } }`,
        (id) => ({ i: { secretId: id, environment: 'nowhere', value: 'v' } }),
        seen.secrets[0].id,
      ],
      [
        'Secret',
        `mutation($i: SecretValueRef!) { revealSecretValue(input: $i) }`,
        (id) => ({ i: { secretId: id, environment: 'development' } }),
        seen.secrets[0].id,
      ],
      [
        'DatabaseConnection',
        `mutation($i: SetDatabaseConnectionValueInput!) { setDatabaseConnectionValue(input: $i) { host } }`,
        (id) => ({ i: { connectionId: id, environment: 'nowhere', host: 'h', database: 'd' } }),
        seen.databaseConnections[0].id,
      ],
      ['Deployment', `mutation($id: ID!) { cancelDeployment(id: $id) { id } }`, (id) => ({ id }), deploymentId],
      [
        'Project',
        `mutation($i: RecordPushInput!) { recordPush(input: $i) { release { id } } }`,
        (id) => ({ i: { projectId: id, branch: 'main', commitSha: sha(0x77) } }),
        hidden.id,
      ],
      [
        'Project',
        `mutation($i: GrantProjectRolesInput!) { grantProjectRoles(input: $i) { subject } }`,
        (id) => ({ i: { projectId: id, subject: 'vis-outsider', roles: ['ADMIN'] } }),
        hidden.id,
      ],
      [
        'Project',
        `mutation($i: CreateApiTokenInput!) { createApiToken(input: $i) { token } }`,
        (id) => ({ i: { name: 'x', roles: ['VIEWER'], projectId: id } }),
        hidden.id,
      ],
    ];
    for (const [typename, query, vars, id] of calls) {
      const real = await gql(query, vars(id), outsider());
      const missing = await gql(query, vars(unknown(typename)), outsider());
      expect(codeOf(real), query).toBe('NOT_FOUND');
      const masked = (m?: string) => m?.replace(/"[^"]*"/, '"…"');
      expect(masked(real.errors?.[0]?.message), query).toBe(masked(missing.errors?.[0]?.message));
    }
    const after = (await ok(HARVEST, { slug: HIDDEN })).project;
    expect(after.auditLog.edges.length).toBe(auditBefore);
    expect(after.members.map((m: any) => m.subject)).toEqual(['vis-member']);
  });

  it('answers Viewer.projectRoles [] for it, the grants for a member, global roles in an INTERNAL project', async () => {
    const q = `query($s: String!) { viewer { roles projectRoles(projectSlug: $s) } }`;
    expect((await ok(q, { s: HIDDEN }, outsider())).viewer.projectRoles).toEqual([]);
    expect((await ok(q, { s: HIDDEN }, member())).viewer).toEqual({ roles: [], projectRoles: ['DEVELOPER'] });
    expect((await ok(q, { s: OPEN }, outsider())).viewer.projectRoles.sort()).toEqual(['APPROVER', 'DEVELOPER', 'QA', 'VIEWER']);
    expect((await ok(q, { s: OPEN }, member())).viewer.projectRoles).toEqual([]);
    expect((await ok(q, { s: 'vis-nowhere' }, outsider())).viewer.projectRoles).toEqual([]);
  });
});

// Measured before the tests below start deployments (the counter is the process's).
describe('what visibility costs', () => {
  // The console's Pipeline document (console/src/operations.ts), as bench/query.ts sends it.
  const PIPELINE = `query($slug: String!) { project(slug: $slug) { id slug name environments {
    id slug name type position frozen promotesFrom { slug name }
    policy { trigger branchPattern requiredApprovals approverRoles deployerRoles }
    currentRelease { id version commitSha } policyReport { passed checks { id passed severity } }
    activeDeployment { id status } deployments(first: 10) { edges { node { id status release { version } } } } }
    deployments(first: 8) { edges { node { id status environment { name } release { version } } } } } }`;
  const statements = async () => {
    const text = await (await fetch(`${server.url}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith('stageplane_sql_statements_total'));
    return Number(line?.split(' ').pop() ?? 0);
  };
  /** Statements of one request: the fewest of five (the counter is the process's, background work included). */
  const perRequest = async (slug: string, token?: string) => {
    let fewest = Number.POSITIVE_INFINITY;
    for (let i = 0; i < 5; i++) {
      const before = await statements();
      expect((await ok(PIPELINE, { slug }, token)).project?.slug).toBe(slug);
      fewest = Math.min(fewest, (await statements()) - before);
    }
    return fewest;
  };

  it('adds no SQL statement to the Pipeline query: the filter is folded into the statement that loads the project', async () => {
    const asAdmin = await perRequest(OPEN);
    const asGlobal = await perRequest(OPEN, outsider());
    expect(asGlobal).toBe(asAdmin);
    // A member without global roles, in a PRIVATE project: only its grant lookup for the 'read' scope.
    const asMember = await perRequest(HIDDEN, member());
    expect(asMember).toBeLessThanOrEqual(asAdmin + 1);
    console.log(`Pipeline SQL statements per request: ADMIN ${asAdmin}, global roles ${asGlobal}, member of a PRIVATE project ${asMember}`);
  });
});

describe('project roles through the API', () => {
  const GRANT = `mutation($i: GrantProjectRolesInput!) { grantProjectRoles(input: $i) { subject group roles grantedBy createdAt } }`;
  const REVOKE = `mutation($i: RevokeProjectRolesInput!) { revokeProjectRoles(input: $i) }`;

  it('refuses a grant with both or neither grantee, or without roles, with BAD_USER_INPUT, writing nothing', async () => {
    for (const i of [
      { projectId: open.id, roles: ['QA'] },
      { projectId: open.id, subject: 'a', group: 'g', roles: ['QA'] },
      { projectId: open.id, subject: 'a', roles: [] },
      { projectId: open.id, subject: ' a', roles: ['QA'] },
      { projectId: open.id, subject: 'a', roles: ['QA', 'QA'] },
    ]) {
      expect(codeOf(await gql(GRANT, { i })), JSON.stringify(i)).toBe('BAD_USER_INPUT');
    }
    expect(codeOf(await gql(REVOKE, { i: { projectId: open.id } }))).toBe('BAD_USER_INPUT');
    expect((await ok(`{ project(slug: "${OPEN}") { members { subject } } }`)).project.members).toEqual([]);
  });

  it('lets an ADMIN granted in the project grant, replace and revoke, and take effect on the next request', async () => {
    const lead = await server.token('vis-lead', []);
    const carol = await server.token('vis-carol', ['VIEWER']);
    // Without a grant the lead is nobody here: FORBIDDEN (no role anywhere).
    expect(codeOf(await gql(GRANT, { i: { projectId: hidden.id, subject: 'vis-carol', roles: ['QA'] } }, lead))).toBe('FORBIDDEN');
    await ok(GRANT, { i: { projectId: hidden.id, subject: 'vis-lead', roles: ['ADMIN'] } });
    // A DEVELOPER member may not grant.
    expect(codeOf(await gql(GRANT, { i: { projectId: hidden.id, subject: 'vis-carol', roles: ['QA'] } }, member()))).toBe('FORBIDDEN');
    const granted = await ok(GRANT, { i: { projectId: hidden.id, subject: 'vis-carol', roles: ['QA'] } }, lead);
    expect(granted.grantProjectRoles).toMatchObject({ subject: 'vis-carol', group: null, roles: ['QA'], grantedBy: 'vis-lead' });
    const roles = async () => (await ok(`{ viewer { projectRoles(projectSlug: "${HIDDEN}") } }`, {}, carol)).viewer.projectRoles;
    // Global VIEWER does not reach into the PRIVATE project; the grant does.
    expect(await roles()).toEqual(['QA']);
    await ok(GRANT, { i: { projectId: hidden.id, subject: 'vis-carol', roles: ['APPROVER', 'DEVELOPER'] } }, lead);
    expect((await roles()).sort()).toEqual(['APPROVER', 'DEVELOPER']);
    // A group grant is stored beside it (group members are checked at the service level below).
    await ok(GRANT, { i: { projectId: hidden.id, group: 'vis-team', roles: ['VIEWER'] } }, lead);
    const members = (await ok(`{ project(slug: "${HIDDEN}") { members { subject group roles } } }`, {}, lead)).project.members;
    expect(members.map((m: any) => m.subject ?? `group:${m.group}`)).toEqual(['vis-carol', 'vis-lead', 'vis-member', 'group:vis-team']);
    expect((await ok(REVOKE, { i: { projectId: hidden.id, subject: 'vis-carol' } }, lead)).revokeProjectRoles).toBe(true);
    expect((await ok(REVOKE, { i: { projectId: hidden.id, subject: 'vis-carol' } }, lead)).revokeProjectRoles).toBe(false);
    expect(await roles()).toEqual([]);
    expect((await ok(`{ project(slug: "${HIDDEN}") { id } }`, {}, carol)).project).toBeNull();
    const audit = (await ok(`{ project(slug: "${HIDDEN}") { auditLog(first: 10) { edges { node { actor action detail } } } } }`)).project
      .auditLog;
    expect(audit.edges.map((e: any) => e.node.action).slice(0, 2)).toEqual(['project.member.revoke', 'project.member.revoke']);
    expect(audit.edges[1].node.detail).toMatchObject({ subject: 'vis-carol', revoked: true, roles: ['APPROVER', 'DEVELOPER'] });
  });

  it('makes a project visible again with setProjectVisibility INTERNAL, and hides it again with PRIVATE', async () => {
    const SET = `mutation($i: SetProjectVisibilityInput!) { setProjectVisibility(input: $i) { slug visibility } }`;
    expect(codeOf(await gql(SET, { i: { projectId: open.id, visibility: 'PRIVATE' } }, outsider()))).toBe('FORBIDDEN');
    expect((await ok(SET, { i: { projectId: open.id, visibility: 'PRIVATE' } })).setProjectVisibility).toEqual({
      slug: OPEN,
      visibility: 'PRIVATE',
    });
    expect((await ok(`{ project(slug: "${OPEN}") { id } }`, {}, outsider())).project).toBeNull();
    await ok(SET, { i: { projectId: open.id, visibility: 'INTERNAL' } });
    expect((await ok(`{ project(slug: "${OPEN}") { id } }`, {}, outsider())).project.id).toBe(open.id);
  });
});

describe('project-scoped API tokens', () => {
  const CREATE = `mutation($i: CreateApiTokenInput!) { createApiToken(input: $i) { token apiToken { id roles project { slug } } } }`;

  it('are created by an ADMIN of the project with roles bounded by its roles there, and act there only', async () => {
    const lead = await server.token('vis-lead', []); // ADMIN granted in the hidden project above
    const dev = await ok(CREATE, { i: { name: 'ci', roles: ['DEVELOPER'], projectId: hidden.id } }, lead);
    expect(dev.createApiToken.apiToken).toMatchObject({ roles: ['DEVELOPER'], project: { slug: HIDDEN } });
    const ci = dev.createApiToken.token as string;
    // A DEVELOPER member may not create one; a project token's roles are bounded by the creator's there.
    expect(codeOf(await gql(CREATE, { i: { name: 'x', roles: ['VIEWER'], projectId: hidden.id } }, member()))).toBe('FORBIDDEN');
    const ciAdmin = (await ok(CREATE, { i: { name: 'ci-admin', roles: ['ADMIN'], projectId: hidden.id } }, lead)).createApiToken.token;
    expect(codeOf(await gql(CREATE, { i: { name: 'y', roles: ['ADMIN'], projectId: open.id } }, ciAdmin))).toBe('FORBIDDEN');
    // The lead holds no global role: no global token, and none in a project it is not ADMIN of.
    expect(codeOf(await gql(CREATE, { i: { name: 'z', roles: ['VIEWER'] } }, lead))).toBe('FORBIDDEN');
    expect(codeOf(await gql(CREATE, { i: { name: 'z', roles: ['VIEWER'], projectId: open.id } }, lead))).toBe('FORBIDDEN');

    // It pushes in its project (PRIVATE), reads it, and sees nothing else.
    const pushed = await push(server, hidden.id, sha(0x61), 'main', ci);
    expect(pushed.errors).toBeUndefined();
    expect(await ok(`{ viewer { roles projectRoles(projectSlug: "${HIDDEN}") } projects { edges { node { slug } } } }`, {}, ci)).toEqual({
      viewer: { roles: [], projectRoles: ['DEVELOPER'] },
      projects: { edges: [{ node: { slug: HIDDEN } }] },
    });
    // Elsewhere as if it had no role: FORBIDDEN in an INTERNAL project (which it cannot read either).
    const elsewhere = await push(server, open.id, sha(0x62), 'main', ci);
    expect(codeOf(elsewhere)).toBe('FORBIDDEN');
    expect((await ok(`{ project(slug: "${OPEN}") { id } }`, {}, ci)).project).toBeNull();
    // And outside any project: no createProject.
    expect(codeOf(await gql(`mutation { createProject(input: { slug: "vis-by-token", name: "x" }) { id } }`, {}, ciAdmin))).toBe(
      'FORBIDDEN',
    );
  });

  it('are NOT_FOUND in PRIVATE projects other than their own', async () => {
    const other = await setupProject(server, 'vis-other');
    const token = (await ok(CREATE, { i: { name: 'other-ci', roles: ['ADMIN'], projectId: other.id } })).createApiToken.token;
    expect(codeOf(await push(server, hidden.id, sha(0x63), 'main', token))).toBe('NOT_FOUND');
    expect((await ok(`query($id: ID!) { node(id: $id) { id } }`, { id: hidden.dev }, token)).node).toBeNull();
  });

  it('are revoked by an ADMIN of their project; others are refused alike whether the token exists or not', async () => {
    const lead = await server.token('vis-lead', []);
    const made = (await ok(CREATE, { i: { name: 'short-lived', roles: ['VIEWER'], projectId: hidden.id } }, lead)).createApiToken;
    const REVOKE = `mutation($id: ID!) { revokeApiToken(id: $id) { id revokedAt project { slug } } }`;
    const missing = '00000000-0000-4000-8000-000000000000';
    expect(codeOf(await gql(REVOKE, { id: made.apiToken.id }, outsider()))).toBe('FORBIDDEN');
    expect(codeOf(await gql(REVOKE, { id: missing }, outsider()))).toBe('FORBIDDEN');
    expect(codeOf(await gql(REVOKE, { id: made.apiToken.id }, member()))).toBe('FORBIDDEN');
    const revoked = await ok(REVOKE, { id: made.apiToken.id }, lead);
    expect(revoked.revokeApiToken.project).toEqual({ slug: HIDDEN });
    expect(codeOf(await gql(`{ viewer { subject } }`, {}, made.token))).toBe('UNAUTHENTICATED');
    // A global ADMIN learns that a missing id is missing.
    expect(codeOf(await gql(REVOKE, { id: missing }))).toBe('NOT_FOUND');
  });
});

describe('the push webhook', () => {
  it("reaches a PRIVATE project: the signature is its repository's own", async () => {
    const body = JSON.stringify({
      ref: 'refs/heads/main',
      after: sha(0x71),
      head_commit: { message: 'from GitHub', author: { name: 'octocat' } },
      repository: { name: HIDDEN },
    });
    const response = await fetch(`${server.url}/webhooks/push`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-github-event': 'push',
        'x-hub-signature-256': `sha256=${createHmac('sha256', WEBHOOK_SECRET).update(body).digest('hex')}`,
      },
      body,
    });
    expect(response.status).toBe(202);
    const releases = (await ok(`{ project(slug: "${HIDDEN}") { releases(first: 5) { edges { node { commitSha } } } } }`)).project.releases;
    expect(releases.edges.map((e: any) => e.node.commitSha)).toContain(sha(0x71));
  });
});

describe('the SQL visibility filter agrees with rolesInProject', () => {
  it('for generated principals (global roles, subjects, groups, bound projects) and grants', async () => {
    const db = database.db;
    const SUBJECTS = ['sq-a', 'sq-b', 'sq-c'];
    const GROUPS = ['sq-g1', 'sq-g2'];
    const ROLE_LIST: Role[] = ['VIEWER', 'DEVELOPER', 'QA', 'APPROVER', 'ADMIN'];
    // Four projects of both visibilities, with grants to subjects and groups.
    const made: { id: string; visibility: 'INTERNAL' | 'PRIVATE'; grants: ProjectGrant[] }[] = [];
    for (const [i, visibility] of (['INTERNAL', 'PRIVATE', 'PRIVATE', 'INTERNAL'] as const).entries()) {
      const [p] = await db
        .insert(projects)
        .values({ slug: `sq-project-${i}`, name: `sq ${i}`, visibility })
        .returning();
      const grants: ProjectGrant[] = [];
      for (const [j, subject] of SUBJECTS.entries()) {
        if ((i + j) % 3 === 0) grants.push({ subject, group: null, roles: [ROLE_LIST[(i + j) % 5]!] });
      }
      for (const [j, group] of GROUPS.entries()) if ((i + j) % 2 === 0) grants.push({ subject: null, group, roles: ['QA'] });
      for (const g of grants) await db.insert(projectMembers).values({ projectId: p!.id, ...g, roles: [...g.roles], grantedBy: 'test' });
      made.push({ id: p!.id, visibility, grants });
    }
    const ids = made.map((m) => m.id);
    const principal = fc.record({
      subject: fc.constantFrom(...SUBJECTS, 'sq-nobody'),
      roles: fc.uniqueArray(fc.constantFrom(...ROLE_LIST), { maxLength: 2 }),
      groups: fc.uniqueArray(fc.constantFrom(...GROUPS, 'sq-g3'), { maxLength: 2 }),
      kind: fc.constantFrom('jwt' as const, 'oidc' as const),
      bound: fc.option(fc.dictionary(fc.constantFrom(...ids), fc.uniqueArray(fc.constantFrom(...ROLE_LIST), { maxLength: 2 })), {
        nil: undefined,
      }),
    });
    await fc.assert(
      fc.asyncProperty(principal, async (g) => {
        const p: Principal = {
          subject: g.subject,
          roles: g.roles,
          kind: g.kind,
          groups: g.groups,
          ...(g.bound ? { boundTo: g.bound, kind: 'workload' as const } : {}),
        };
        const expected = made
          .filter((m) => rolesInProject(p, m, m.grants).length > 0)
          .map((m) => m.id)
          .sort();
        const condition = visibleProjects(p, { id: projects.id, visibility: projects.visibility });
        const rows = await db
          .select({ id: projects.id })
          .from(projects)
          .where(and(sql`${projects.slug} like 'sq-project-%'`, condition));
        expect(rows.map((r) => r.id).sort()).toEqual(expected);
        // And projectAccess (mutations, Viewer.projectRoles) finds the same roles in each.
        for (const m of made) {
          const access = await projectAccess(db, p, { id: m.id });
          expect([...access!.roles].sort()).toEqual(rolesInProject(p, m, m.grants).sort());
        }
      }),
      { numRuns: 60 },
    );
    await db.delete(projects).where(sql`${projects.slug} like 'sq-project-%'`);
  });
});
