// The configuration API end to end: a real server over HTTP on a real PostgreSQL database.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { badJwts } from '../support/client.ts';
import { createTestDatabase } from '../support/database.ts';
import { codeOf, startTestServer, type TestServer } from '../support/server.ts';

let server: TestServer;
let dropDb: () => Promise<void>;

beforeAll(async () => {
  const db = await createTestDatabase();
  dropDb = db.drop;
  server = await startTestServer({ databaseUrl: db.url });
});
afterAll(async () => {
  await server?.stop();
  await dropDb?.();
});

const PROJECT_FIELDS = `
  id slug name createdAt
  environments {
    id slug name type position promotesFrom { slug }
    policy { trigger branchPattern requiredApprovals approverRoles deployerRoles preventSelfApproval waitTimerSeconds approvalTimeoutSeconds }
    settings { version logLevel featureFlags { key enabled } rateLimit { enabled requestsPerMinute } corsOrigins dataPolicy
      performanceMonitoring alerting backupSchedule readReplicas runbookUrl securityHardening }
    deployTarget { provider url stepSeconds }
    frozen archivedAt
  }`;

async function createProject(slug: string, token?: string) {
  const r = await server.gql(
    `mutation($input: CreateProjectInput!) { createProject(input: $input) { ${PROJECT_FIELDS} } }`,
    { input: { slug, name: `Project ${slug}` } },
    token,
  );
  expect(r.errors).toBeUndefined();
  return r.data.createProject;
}

describe('authentication', () => {
  it('refuses a request without a token with UNAUTHENTICATED (introspection too)', async () => {
    const r = await server.gql('{ viewer { subject } }', {}, null);
    expect(codeOf(r)).toBe('UNAUTHENTICATED');
    expect(r.data).toBeNull();
    const intro = await server.gql('{ __schema { queryType { name } } }', {}, null);
    expect(codeOf(intro)).toBe('UNAUTHENTICATED');
  });

  it('refuses forged, alg:none and expired JWTs', async () => {
    const good = await server.token('alice', ['VIEWER']);
    const { forged, none, expired } = await badJwts(good, server.config.jwtSecret);
    const { SignJWT } = await import('jose');
    const noExp = await new SignJWT({ roles: ['ADMIN'] })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('x')
      .sign(server.config.jwtSecret);
    const badRoles = await new SignJWT({ roles: ['ROOT'] })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('x')
      .setExpirationTime('1h')
      .sign(server.config.jwtSecret);
    for (const token of [forged, none, expired, noExp, badRoles, 'garbage']) {
      const r = await server.gql('{ viewer { subject } }', {}, token);
      expect(codeOf(r), token).toBe('UNAUTHENTICATED');
    }
    const ok = await server.gql('{ viewer { subject roles } }', {}, good);
    expect(ok.data.viewer).toEqual({ subject: 'alice', roles: ['VIEWER'] });
  });

  it('issues API tokens that work until revoked, never with a role the creator lacks', async () => {
    const created = await server.gql(
      `mutation { createApiToken(input: { name: "ci", roles: [DEVELOPER] }) { token apiToken { id name roles revokedAt } } }`,
    );
    expect(created.errors).toBeUndefined();
    const { token, apiToken } = created.data.createApiToken;
    expect(token).toMatch(/^spt_/);
    const me = await server.gql('{ viewer { subject roles } }', {}, token);
    expect(me.data.viewer.roles).toEqual(['DEVELOPER']);
    // The token value is never stored or logged.
    expect(server.logs.join('\n')).not.toContain(token);

    const dev = await server.token('dora', ['DEVELOPER']);
    const escalate = await server.gql(`mutation { createApiToken(input: { name: "x", roles: [ADMIN] }) { token } }`, {}, dev);
    expect(codeOf(escalate)).toBe('FORBIDDEN');

    const revoked = await server.gql(`mutation($id: ID!) { revokeApiToken(id: $id) { revokedAt } }`, { id: apiToken.id });
    expect(revoked.data.revokeApiToken.revokedAt).toBeTruthy();
    const after = await server.gql('{ viewer { subject } }', {}, token);
    expect(codeOf(after)).toBe('UNAUTHENTICATED');
    const again = await server.gql(`mutation($id: ID!) { revokeApiToken(id: $id) { revokedAt } }`, { id: apiToken.id });
    expect(codeOf(again)).toBe('PRECONDITION_FAILED');
  });
});

describe('projects and default environments', () => {
  it('creates development, staging and production exactly as the contract says', async () => {
    const project = await createProject('shop');
    const [dev, staging, prod] = project.environments;
    expect(project.environments.map((e: any) => [e.slug, e.type, e.position, e.promotesFrom?.slug ?? null])).toEqual([
      ['development', 'DEVELOPMENT', 0, null],
      ['staging', 'STAGING', 1, 'development'],
      ['production', 'PRODUCTION', 2, 'staging'],
    ]);
    expect(dev.policy).toEqual({
      trigger: 'AUTO_ON_PUSH',
      branchPattern: 'main',
      requiredApprovals: 0,
      approverRoles: [],
      deployerRoles: ['DEVELOPER', 'QA', 'APPROVER'],
      preventSelfApproval: true,
      waitTimerSeconds: 0,
      approvalTimeoutSeconds: 259200,
    });
    expect(staging.policy.trigger).toBe('MANUAL_PROMOTE');
    expect(prod.policy).toMatchObject({
      trigger: 'APPROVAL_REQUIRED',
      requiredApprovals: 1,
      approverRoles: ['APPROVER'],
      deployerRoles: ['QA', 'APPROVER'],
    });
    expect(dev.settings).toMatchObject({
      version: 1,
      logLevel: 'DEBUG',
      rateLimit: { enabled: false, requestsPerMinute: null },
      dataPolicy: 'TEST_DATA',
      corsOrigins: ['http://localhost:3000'],
      performanceMonitoring: false,
      backupSchedule: null,
      readReplicas: 0,
    });
    expect(staging.settings).toMatchObject({
      logLevel: 'INFO',
      rateLimit: { enabled: true, requestsPerMinute: 600 },
      dataPolicy: 'ANONYMIZED_PRODUCTION',
      corsOrigins: [],
    });
    expect(prod.settings).toMatchObject({
      logLevel: 'WARN',
      dataPolicy: 'PRODUCTION',
      backupSchedule: '0 3 * * *',
      readReplicas: 1,
      runbookUrl: null,
      securityHardening: true,
    });
    for (const env of project.environments) expect(env.deployTarget.provider).toBe('SIMULATED');
  });

  it('lists projects as a connection and finds one by slug, or null', async () => {
    await createProject('alpha');
    const r = await server.gql('{ projects(first: 1) { edges { cursor node { slug } } pageInfo { hasNextPage endCursor } } }');
    expect(r.data.projects.edges).toHaveLength(1);
    expect(r.data.projects.pageInfo.hasNextPage).toBe(true);
    const next = await server.gql('query($a: String) { projects(first: 10, after: $a) { edges { node { slug } } } }', {
      a: r.data.projects.pageInfo.endCursor,
    });
    const slugs = [r.data.projects.edges[0].node.slug, ...next.data.projects.edges.map((e: any) => e.node.slug)];
    expect(new Set(slugs).size).toBe(slugs.length);
    expect(slugs).toEqual([...slugs].sort());
    const missing = await server.gql('{ project(slug: "nope") { id } }');
    expect(missing.data.project).toBeNull();
  });

  it('refuses duplicate slugs with CONFLICT and bad slugs with BAD_USER_INPUT, writing nothing', async () => {
    await createProject('dupe');
    const audit0 = await server.gql('{ project(slug: "dupe") { auditLog { edges { node { action } } } } }');
    const dup = await server.gql(`mutation { createProject(input: { slug: "dupe", name: "Again" }) { id } }`);
    expect(codeOf(dup)).toBe('CONFLICT');
    for (const slug of ['A', 'x', '1abc', 'has_underscore', 'a'.repeat(40), '']) {
      const bad = await server.gql(`mutation($s: String!) { createProject(input: { slug: $s, name: "n" }) { id } }`, { s: slug });
      expect(codeOf(bad), slug).toBe('BAD_USER_INPUT');
      expect(bad.errors![0]!.message).toMatch(/slug/);
    }
    const audit1 = await server.gql('{ project(slug: "dupe") { auditLog { edges { node { action } } } } }');
    expect(audit1.data.project.auditLog.edges).toEqual(audit0.data.project.auditLog.edges);
  });

  it('lets only ADMIN create projects', async () => {
    for (const role of ['VIEWER', 'DEVELOPER', 'QA', 'APPROVER'] as const) {
      const token = await server.token(`u-${role}`, [role]);
      const r = await server.gql(`mutation { createProject(input: { slug: "p-${role.toLowerCase()}", name: "n" }) { id } }`, {}, token);
      expect(codeOf(r), role).toBe('FORBIDDEN');
    }
  });
});

describe('environments', () => {
  it('creates a CUSTOM environment from development defaults, or copying settings', async () => {
    const project = await createProject('envs');
    const dev = await server.token('dev', ['DEVELOPER']);
    const r = await server.gql(
      `mutation($input: CreateEnvironmentInput!) { createEnvironment(input: $input) { slug type purpose position promotesFrom { slug }
        policy { trigger branchPattern deployerRoles } settings { logLevel version } } }`,
      {
        input: {
          projectId: project.id,
          slug: 'feature-x',
          name: 'Feature X',
          type: 'CUSTOM',
          purpose: 'FEATURE_BRANCH',
          promotesFrom: 'development',
        },
      },
      dev,
    );
    expect(r.errors).toBeUndefined();
    expect(r.data.createEnvironment).toMatchObject({
      slug: 'feature-x',
      type: 'CUSTOM',
      position: 3,
      promotesFrom: { slug: 'development' },
      policy: { trigger: 'MANUAL_PROMOTE', branchPattern: null, deployerRoles: ['DEVELOPER', 'QA', 'APPROVER'] },
      settings: { logLevel: 'DEBUG', version: 1 },
    });
    const copy = await server.gql(
      `mutation($input: CreateEnvironmentInput!) { createEnvironment(input: $input) { settings { logLevel dataPolicy } } }`,
      { input: { projectId: project.id, slug: 'demo', name: 'Demo', type: 'CUSTOM', copySettingsFrom: 'production' } },
      dev,
    );
    expect(copy.data.createEnvironment.settings).toEqual({ logLevel: 'WARN', dataPolicy: 'PRODUCTION' });
    const dup = await server.gql(
      `mutation($input: CreateEnvironmentInput!) { createEnvironment(input: $input) { slug } }`,
      { input: { projectId: project.id, slug: 'demo', name: 'Demo', type: 'CUSTOM' } },
      dev,
    );
    expect(codeOf(dup)).toBe('CONFLICT');
    const viewer = await server.token('v', ['VIEWER']);
    const refused = await server.gql(
      `mutation($input: CreateEnvironmentInput!) { createEnvironment(input: $input) { slug } }`,
      { input: { projectId: project.id, slug: 'nope', name: 'Nope', type: 'CUSTOM' } },
      viewer,
    );
    expect(codeOf(refused)).toBe('FORBIDDEN');
  });

  it('answers NOT_FOUND for a missing id and for a valid id of another type', async () => {
    const project = await createProject('ids');
    const envId = project.environments[0].id;
    const r = await server.gql(`mutation($id: ID!) { archiveEnvironment(id: $id) { id } }`, { id: project.id });
    expect(codeOf(r)).toBe('NOT_FOUND');
    const garbage = await server.gql(`mutation($id: ID!) { archiveEnvironment(id: $id) { id } }`, { id: 'not-an-id' });
    expect(codeOf(garbage)).toBe('NOT_FOUND');
    const node = await server.gql(`query($id: ID!) { node(id: $id) { __typename ... on Environment { slug } } }`, { id: envId });
    expect(node.data.node).toEqual({ __typename: 'Environment', slug: 'development' });
  });

  it('answers BAD_USER_INPUT, not an internal error, when a query argument is text PostgreSQL cannot take', async () => {
    for (const slug of ['a\u0000b', 'x\ud800']) {
      const r = await server.gql(`query($slug: String!) { project(slug: $slug) { id } }`, { slug });
      expect(r.status).toBeLessThan(500);
      expect(codeOf(r)).toBe(slug.includes('\u0000') ? 'BAD_USER_INPUT' : null);
    }
  });

  it('updates settings with optimistic concurrency and keeps every version', async () => {
    const project = await createProject('settings');
    const staging = project.environments[1];
    const dev = await server.token('dev', ['DEVELOPER']);
    const q = `mutation($input: UpdateEnvironmentSettingsInput!) { updateEnvironmentSettings(input: $input) {
      settings { version logLevel featureFlags { key enabled } rateLimit { enabled requestsPerMinute } } } }`;
    const ok = await server.gql(
      q,
      {
        input: {
          environmentId: staging.id,
          expectedVersion: 1,
          patch: { logLevel: 'DEBUG', featureFlags: [{ key: 'checkout', enabled: true }] },
        },
      },
      dev,
    );
    expect(ok.errors).toBeUndefined();
    expect(ok.data.updateEnvironmentSettings.settings).toMatchObject({
      version: 2,
      logLevel: 'DEBUG',
      featureFlags: [{ key: 'checkout', enabled: true }],
    });
    const stale = await server.gql(q, { input: { environmentId: staging.id, expectedVersion: 1, patch: { logLevel: 'ERROR' } } }, dev);
    expect(codeOf(stale)).toBe('CONFLICT');
    expect(stale.errors![0]!.message).toContain('dev');
    const bad = await server.gql(
      q,
      { input: { environmentId: staging.id, patch: { rateLimit: { enabled: true, requestsPerMinute: -1 } } } },
      dev,
    );
    expect(codeOf(bad)).toBe('BAD_USER_INPUT');
    expect(bad.errors![0]!.message).toMatch(/requestsPerMinute/);
    const after = await server.gql(`{ project(slug: "settings") { environment(slug: "staging") { settings { version logLevel } } } }`);
    expect(after.data.project.environment.settings).toEqual({ version: 2, logLevel: 'DEBUG' });
  });

  it('serialises concurrent settings writers: every accepted write gets its own version', async () => {
    const project = await createProject('race');
    const staging = project.environments[1];
    const q = `mutation($input: UpdateEnvironmentSettingsInput!) { updateEnvironmentSettings(input: $input) { settings { version } } }`;
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        server.gql(q, { input: { environmentId: staging.id, expectedVersion: 1, patch: { readReplicas: i + 1 } } }),
      ),
    );
    const ok = results.filter((r) => !r.errors);
    expect(ok).toHaveLength(1);
    expect(results.filter((r) => codeOf(r) === 'CONFLICT')).toHaveLength(7);
    const unconditioned = await Promise.all(
      Array.from({ length: 6 }, (_, i) => server.gql(q, { input: { environmentId: staging.id, patch: { readReplicas: 10 + i } } })),
    );
    const versions = unconditioned.map((r) => r.data.updateEnvironmentSettings.settings.version).sort();
    expect(new Set(versions).size).toBe(6);
  });

  it('lets only ADMIN change production, and deployer roles change other environments', async () => {
    const project = await createProject('prod-rules');
    const [dev, , prod] = project.environments;
    const qa = await server.token('quinn', ['QA']);
    const q = `mutation($input: UpdateEnvironmentInput!) { updateEnvironment(input: $input) { frozen } }`;
    expect(codeOf(await server.gql(q, { input: { id: prod.id, frozen: true } }, qa))).toBe('FORBIDDEN');
    expect((await server.gql(q, { input: { id: dev.id, frozen: true } }, qa)).data.updateEnvironment.frozen).toBe(true);
    expect((await server.gql(q, { input: { id: prod.id, frozen: true } })).data.updateEnvironment.frozen).toBe(true);
    const viewer = await server.token('v', ['VIEWER']);
    expect(codeOf(await server.gql(q, { input: { id: dev.id, frozen: false } }, viewer))).toBe('FORBIDDEN');
  });

  it('refuses promotion cycles and archiving an environment others promote from', async () => {
    const project = await createProject('cycles');
    const [dev, staging] = project.environments;
    const cycle = await server.gql(`mutation($input: UpdateEnvironmentInput!) { updateEnvironment(input: $input) { id } }`, {
      input: { id: dev.id, promotesFrom: 'production' },
    });
    expect(codeOf(cycle)).toBe('PRECONDITION_FAILED');
    const archive = await server.gql(`mutation($id: ID!) { archiveEnvironment(id: $id) { archivedAt } }`, { id: staging.id });
    expect(codeOf(archive)).toBe('PRECONDITION_FAILED');
    const prodArchive = await server.gql(`mutation($id: ID!) { archiveEnvironment(id: $id) { archivedAt } }`, {
      id: project.environments[2].id,
    });
    expect(prodArchive.data.archiveEnvironment.archivedAt).toBeTruthy();
    const list = await server.gql(
      `{ project(slug: "cycles") { environments { slug } all: environments(includeArchived: true) { slug } } }`,
    );
    expect(list.data.project.environments.map((e: any) => e.slug)).toEqual(['development', 'staging']);
    expect(list.data.project.all.map((e: any) => e.slug)).toEqual(['development', 'staging', 'production']);
  });
});

describe('policy report and comparison', () => {
  it('reports every check of the environment type, and secrets.all-set from metadata', async () => {
    const project = await createProject('policy');
    const r = await server.gql(
      `{ project(slug: "policy") { environments { slug policyReport { passed checks { id severity passed detail } } } } }`,
    );
    const [dev, staging, prod] = r.data.project.environments;
    expect(dev.policyReport.checks.map((c: any) => c.id)).toEqual([
      'development.debug-logging',
      'development.rate-limiting-off',
      'development.test-data',
      'development.cors-localhost',
      'development.all-flags-on',
      'secrets.all-set',
    ]);
    expect(dev.policyReport.passed).toBe(true);
    expect(staging.policyReport.checks.map((c: any) => c.id)).toEqual([
      'staging.mirrors-production',
      'staging.anonymized-data',
      'staging.performance-monitoring',
      'secrets.all-set',
    ]);
    expect(prod.policyReport.checks.map((c: any) => c.id)).toEqual([
      'production.security-hardening',
      'production.log-level',
      'production.monitoring-alerts',
      'production.rate-limiting',
      'production.backups',
      'production.read-replicas',
      'production.runbook',
      'production.database-ssl',
      'secrets.all-set',
    ]);
    expect(prod.policyReport.passed).toBe(true);
    expect(prod.policyReport.checks.find((c: any) => c.id === 'production.runbook')).toMatchObject({ severity: 'warning', passed: false });

    // A secret with no value in production fails secrets.all-set, an error check.
    const secret = await server.gql(`mutation($p: ID!) { createSecret(input: { projectId: $p, name: "STRIPE_SECRET_KEY" }) { name } }`, {
      p: project.id,
    });
    expect(secret.errors).toBeUndefined();
    // Production on DEBUG fails production.log-level.
    await server.gql(`mutation($id: ID!) { updateEnvironmentSettings(input: { environmentId: $id, patch: { logLevel: DEBUG } }) { id } }`, {
      id: project.environments[2].id,
    });
    const after = await server.gql(
      `{ project(slug: "policy") { environment(slug: "production") { policyReport { passed checks { id passed detail } } } } }`,
    );
    const report = after.data.project.environment.policyReport;
    expect(report.passed).toBe(false);
    const failed = report.checks.filter((c: any) => !c.passed).map((c: any) => c.id);
    expect(failed).toEqual(expect.arrayContaining(['production.log-level', 'secrets.all-set']));
    expect(report.checks.find((c: any) => c.id === 'secrets.all-set').detail).toContain('STRIPE_SECRET_KEY');
  });

  it('compares two environments: settings, database values and which secrets are set', async () => {
    const project = await createProject('compare');
    const conn = await server.gql(
      `mutation($p: ID!) { createDatabaseConnection(input: { projectId: $p, name: "Primary Database" }) { id name type } }`,
      { p: project.id },
    );
    expect(conn.data.createDatabaseConnection).toMatchObject({ name: 'Primary Database', type: 'POSTGRES' });
    const set = (env: string, poolSize: number, ssl: boolean) =>
      server.gql(
        `mutation($input: SetDatabaseConnectionValueInput!) { setDatabaseConnectionValue(input: $input) { host port ssl poolSize environment { slug } connection { name } } }`,
        {
          input: {
            connectionId: conn.data.createDatabaseConnection.id,
            environment: env,
            host: 'db.internal',
            database: 'shop',
            poolSize,
            ssl,
          },
        },
      );
    const staged = await set('staging', 10, true);
    expect(staged.data.setDatabaseConnectionValue).toMatchObject({ port: 5432, poolSize: 10, environment: { slug: 'staging' } });
    await set('production', 50, false);
    const r = await server.gql(
      `{ project(slug: "compare") { compareEnvironments(base: "staging", target: "production") { identical base { slug } target { slug } differences { path base target } } } }`,
    );
    const cmp = r.data.project.compareEnvironments;
    expect(cmp.identical).toBe(false);
    expect(cmp.differences).toEqual(
      expect.arrayContaining([
        { path: 'settings.logLevel', base: 'INFO', target: 'WARN' },
        { path: 'databases.Primary Database.poolSize', base: 10, target: 50 },
        { path: 'databases.Primary Database.ssl', base: true, target: false },
      ]),
    );
    const same = await server.gql(
      `{ project(slug: "compare") { compareEnvironments(base: "staging", target: "staging") { identical differences { path } } } }`,
    );
    expect(same.data.project.compareEnvironments).toEqual({ identical: true, differences: [] });
    const missing = await server.gql(`{ project(slug: "compare") { compareEnvironments(base: "staging", target: "nope") { identical } } }`);
    expect(codeOf(missing)).toBe('NOT_FOUND');
    // production.database-ssl fails now.
    const prod = await server.gql(
      `{ project(slug: "compare") { environment(slug: "production") { policyReport { checks { id passed } } } } }`,
    );
    expect(prod.data.project.environment.policyReport.checks.find((c: any) => c.id === 'production.database-ssl').passed).toBe(false);
    const badPort = await server.gql(
      `mutation($input: SetDatabaseConnectionValueInput!) { setDatabaseConnectionValue(input: $input) { port } }`,
      { input: { connectionId: conn.data.createDatabaseConnection.id, environment: 'staging', host: 'db', database: 'shop', port: 70000 } },
    );
    expect(codeOf(badPort)).toBe('BAD_USER_INPUT');
    expect(badPort.errors![0]!.message).toMatch(/port/);
  });
});

describe('audit log', () => {
  it('records every mutation with actor and action, newest first', async () => {
    const project = await createProject('audited');
    const dev = await server.token('dana', ['DEVELOPER']);
    await server.gql(
      `mutation($p: ID!) { createSecret(input: { projectId: $p, name: "API_KEY", description: "third-party" }) { id } }`,
      { p: project.id },
      dev,
    );
    const r = await server.gql(
      `{ project(slug: "audited") { auditLog(first: 10) { edges { node { actor action targetId detail at } } } } }`,
    );
    const events = r.data.project.auditLog.edges.map((e: any) => e.node);
    expect(events.map((e: any) => [e.actor, e.action])).toEqual([
      ['dana', 'secret.create'],
      ['admin', 'project.create'],
    ]);
    const page = await server.gql(
      `{ project(slug: "audited") { auditLog(first: 1) { edges { node { action } } pageInfo { hasNextPage } } } }`,
    );
    expect(page.data.project.auditLog.pageInfo.hasNextPage).toBe(true);
  });
});

describe('HTTP surface', () => {
  it('answers /healthz, /readyz and /metrics', async () => {
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    const ready = await fetch(`${server.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready' });
    await server.gql('{ viewer { subject } }');
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    expect(metrics).toContain('graphql_envelop_request');
  });

  it('shows GraphiQL to a browser', async () => {
    const r = await fetch(`${server.url}/graphql`, { headers: { accept: 'text/html' } });
    expect(r.status).toBe(200);
    expect(await r.text()).toContain('GraphiQL');
  });

  it('refuses bodies over the limit with 413 and malformed JSON with a 400, then serves the next request', async () => {
    const token = await server.token('admin', ['ADMIN']);
    const big = await fetch(`${server.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: `{ viewer { subject } }`, variables: { pad: 'x'.repeat(2 * 1024 * 1024) } }),
    });
    expect(big.status).toBe(413);
    const bad = await fetch(`${server.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: '{"query": "{ viewer { subject } }"',
    });
    expect(bad.status).toBe(400);
    expect((await server.gql('{ viewer { subject } }')).data.viewer.subject).toBe('admin');
  });

  it('enforces depth, alias, directive and token limits, and refuses batched operations', async () => {
    const deep = `{ projects { edges { node { environments { promotesFrom { promotesFrom { promotesFrom { promotesFrom { promotesFrom { promotesFrom { promotesFrom { promotesFrom { slug } } } } } } } } } } } } }`;
    const aliases = `{ ${Array.from({ length: 50 }, (_, i) => `a${i}: viewer { subject }`).join(' ')} }`;
    const directives = `{ viewer { subject ${'@include(if: true) '.repeat(40)} } }`;
    const tokens = `{ viewer { ${'subject '.repeat(4000)} } }`;
    for (const query of [deep, aliases, directives, tokens]) {
      const r = await server.gql(query);
      expect(r.data, query.slice(0, 40)).toBeNull();
      expect(r.errors?.length, query.slice(0, 40)).toBeGreaterThan(0);
    }
    const token = await server.token('admin', ['ADMIN']);
    const batch = await fetch(`${server.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify([{ query: '{ viewer { subject } }' }, { query: '{ viewer { subject } }' }]),
    });
    expect(batch.status).toBeGreaterThanOrEqual(400);
  });

  it('does not echo input values in variable coercion errors (a secret value could be among them)', async () => {
    const marker = 'sk_live_MARKER_0123456789';
    const r = await server.gql(`mutation($i: SetSecretValueInput!) { setSecretValue(input: $i) { isSet } }`, {
      i: { secretId: 'x', value: marker },
    });
    expect(r.errors?.[0]?.message).toMatch(/environment/);
    expect(r.raw).not.toContain(marker);
  });

  it('never writes a token or an Authorization header to the log', async () => {
    const token = await server.token('logged', ['VIEWER']);
    await server.gql('{ viewer { subject } }', {}, token);
    await server.gql('{ viewer { subject } }', {}, `${token}x`);
    const log = server.logs.join('\n');
    expect(log).toContain('"path":"/graphql"');
    expect(log).not.toContain(token);
    expect(log.toLowerCase()).not.toContain('bearer ');
  });
});
