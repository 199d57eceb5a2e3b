// Secrets end to end, as a user drives them: a real server (API + worker) over HTTP on a real
// PostgreSQL database and a real Temporal, with the `local` backend (AES-256-GCM in PostgreSQL).
// Every value set or revealed is collected, and the last test searches the server's log and every
// response except revealSecretValue's for them.
import { decodeGlobalID } from '@pothos/plugin-relay';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Role } from '../../domain/types.ts';
import { createTestDatabase } from '../support/database.ts';
import { deployment, push, setupProject, sha, waitForStatus } from '../support/deployments.ts';
import { codeOf, startTestServer, type GqlResult, type TestServer } from '../support/server.ts';
import { ROTATION_WORKFLOW, rotationScheduleId } from '../../workflows/rotation-schedule.ts';
import { until as poll } from '../../scripts/lib/until.ts';

let server: TestServer;
let dropDb: () => Promise<void>;
let sql: postgres.Sql;

beforeAll(async () => {
  const db = await createTestDatabase();
  dropDb = db.drop;
  // A tick of scheduled rotation every second.
  server = await startTestServer({ databaseUrl: db.url, env: { SECRET_ROTATION_INTERVAL_SECONDS: '1' } });
  // Keep every response, the shared helpers' too, except the answers of revealSecretValue.
  const send = server.gql.bind(server);
  server.gql = async (query, variables, token) => {
    const r = await send(query, variables, token);
    if (typeof (r.data as any)?.revealSecretValue === 'string') values.add((r.data as any).revealSecretValue);
    else responses.push(r.raw);
    return r;
  };
  sql = postgres(db.url, { max: 2, onnotice: () => {} });
});
afterAll(async () => {
  await sql?.end();
  await server?.stop();
  await dropDb?.();
});

// ---------------------------------------------------------------- leak bookkeeping

/** Every value set, generated or revealed in this file. */
const values = new Set<string>();
/** The raw text of every response, except revealSecretValue's answers. */
const responses: string[] = [];

function gql<T = any>(query: string, variables: Record<string, unknown> = {}, token?: string | null): Promise<GqlResult<T>> {
  return server.gql<T>(query, variables, token);
}

const tokens = new Map<string, string>();
async function as(role: Role): Promise<string> {
  if (!tokens.has(role)) tokens.set(role, await server.token(`${role.toLowerCase()}-user`, [role]));
  return tokens.get(role)!;
}

// ---------------------------------------------------------------- API helpers

const METADATA = 'secret { name } environment { slug } isSet versionId updatedAt updatedBy lastRotatedAt nextRotationAt';
const SET = `mutation($i: SetSecretValueInput!) { setSecretValue(input: $i) { ${METADATA} } }`;
const ROTATE = `mutation($i: SecretValueRef!) { rotateSecret(input: $i) { ${METADATA} } }`;
const REVEAL = `mutation($i: SecretValueRef!) { revealSecretValue(input: $i) }`;

async function createProject(slug: string) {
  const r = await gql(`mutation($i: CreateProjectInput!) { createProject(input: $i) { id environments { id slug } } }`, {
    i: { slug, name: `Project ${slug}` },
  });
  expect(r.errors).toBeUndefined();
  const project = r.data.createProject as { id: string; environments: { id: string; slug: string }[] };
  return { id: project.id, env: (s: string) => project.environments.find((e) => e.slug === s)!.id };
}

async function createSecret(projectId: string, name: string, extra: Record<string, unknown> = {}, token?: string) {
  const r = await gql(
    `mutation($i: CreateSecretInput!) { createSecret(input: $i) { id name description rotationEnabled rotationDays } }`,
    { i: { projectId, name, ...extra } },
    token ?? (await as('DEVELOPER')),
  );
  expect(r.errors).toBeUndefined();
  return r.data.createSecret as { id: string; name: string };
}

async function setValue(secretId: string, environment: string, value: string, token?: string) {
  values.add(value);
  return gql(SET, { i: { secretId, environment, value } }, token);
}

async function rotate(secretId: string, environment: string, token?: string) {
  return gql(ROTATE, { i: { secretId, environment } }, token);
}

/** revealSecretValue: its answer is the one response allowed to hold a value (not kept in `responses`). */
function reveal(secretId: string, environment: string, token?: string) {
  return gql(REVEAL, { i: { secretId, environment } }, token);
}

async function revealed(secretId: string, environment: string): Promise<string> {
  const r = await reveal(secretId, environment);
  expect(r.errors).toBeUndefined();
  return r.data.revealSecretValue;
}

async function metadata(projectSlug: string, secretName: string, environment: string) {
  const r = await gql(`query($p: String!, $e: String!) { project(slug: $p) { environment(slug: $e) { secrets { ${METADATA} } } } }`, {
    p: projectSlug,
    e: environment,
  });
  expect(r.errors).toBeUndefined();
  return r.data.project.environment.secrets.find((m: any) => m.secret.name === secretName);
}

async function auditLog(projectSlug: string) {
  const r = await gql(
    `query($p: String!) { project(slug: $p) { auditLog(first: 100) { edges { node { actor action targetId detail at } } } } }`,
    {
      p: projectSlug,
    },
  );
  expect(r.errors).toBeUndefined();
  return r.data.project.auditLog.edges.map((e: any) => e.node) as {
    actor: string;
    action: string;
    targetId: string;
    detail: any;
    at: string;
  }[];
}

async function allSet(projectSlug: string, environment: string) {
  const r = await gql(
    `query($p: String!, $e: String!) { project(slug: $p) { environment(slug: $e) { policyReport { passed checks { id severity passed detail } } } } }`,
    { p: projectSlug, e: environment },
  );
  expect(r.errors).toBeUndefined();
  return r.data.project.environment.policyReport.checks.find((c: any) => c.id === 'secrets.all-set');
}

async function setFrozen(environmentId: string, frozen: boolean) {
  const r = await gql(`mutation($i: UpdateEnvironmentInput!) { updateEnvironment(input: $i) { frozen } }`, {
    i: { id: environmentId, frozen },
  });
  expect(r.errors).toBeUndefined();
}

/** Makes a value due for rotation now, as if rotationDays had passed. */
async function makeDue(secretName: string, projectSlug: string, environment: string) {
  const rows = await sql`
    update secret_values sv set next_rotation_at = now() - interval '1 minute'
    from secrets s, environments e, projects p
    where sv.secret_id = s.id and sv.environment_id = e.id and s.project_id = p.id
      and s.name = ${secretName} and e.slug = ${environment} and p.slug = ${projectSlug}
    returning sv.id`;
  expect(rows).toHaveLength(1);
}

/** Rotations and their audit entries: polled every 250 ms, for up to 20 s. */
const until = <T>(what: string, probe: () => Promise<T>) => poll(what, probe, { timeoutMs: 20_000, intervalMs: 250 });

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const DAY = 86_400_000;
/** A realistic test value, unique per call, so any echo of it is unmistakable. */
const stripeKey = (tag: string) => `sk_live_${tag}_${Math.random().toString(36).slice(2)}${Date.now().toString(36)}`;

// ---------------------------------------------------------------- the new user's story

describe('a new user', () => {
  it('creates STRIPE_SECRET_KEY, sets a value per environment, sees only metadata, rotates, reveals as ADMIN', async () => {
    const project = await createProject('shop');
    const developer = await as('DEVELOPER');
    const secret = await createSecret(
      project.id,
      'STRIPE_SECRET_KEY',
      { description: 'Stripe API key', rotationEnabled: true, rotationDays: 90 },
      developer,
    );

    // No value anywhere yet: secrets.all-set, an error check, fails in every environment, naming it.
    for (const env of ['development', 'staging', 'production']) {
      const check = await allSet('shop', env);
      expect(check, env).toMatchObject({ severity: 'error', passed: false });
      expect(check.detail).toContain('STRIPE_SECRET_KEY');
    }

    const dev = stripeKey('dev');
    const staging = stripeKey('staging');
    const prod = stripeKey('prod');
    const setDev = await setValue(secret.id, 'development', dev, developer);
    expect(setDev.errors).toBeUndefined();
    expect(setDev.data.setSecretValue).toMatchObject({
      secret: { name: 'STRIPE_SECRET_KEY' },
      environment: { slug: 'development' },
      isSet: true,
      updatedBy: 'developer-user',
      lastRotatedAt: null,
    });
    expect(setDev.data.setSecretValue.versionId).toEqual(expect.any(String));
    const next = Date.parse(setDev.data.setSecretValue.nextRotationAt) - Date.parse(setDev.data.setSecretValue.updatedAt);
    expect(next).toBe(90 * DAY);
    expect((await allSet('shop', 'development')).passed).toBe(true);
    const prodCheck = await allSet('shop', 'production');
    expect(prodCheck.passed).toBe(false);
    expect(prodCheck.detail).toContain('STRIPE_SECRET_KEY');

    expect((await setValue(secret.id, 'staging', staging, await as('QA'))).errors).toBeUndefined();
    expect((await setValue(secret.id, 'production', prod)).errors).toBeUndefined(); // ADMIN
    for (const env of ['development', 'staging', 'production']) expect((await allSet('shop', env)).passed, env).toBe(true);

    // Reading shows metadata only, from the project and from each environment.
    const read = await gql(`{ project(slug: "shop") {
      secrets { name description rotationEnabled rotationDays values { environment { slug } isSet versionId updatedBy updatedAt nextRotationAt } }
      environments { slug secrets { secret { name } isSet versionId updatedBy } } } }`);
    expect(read.errors).toBeUndefined();
    const [listed] = read.data.project.secrets;
    expect(listed).toMatchObject({ name: 'STRIPE_SECRET_KEY', description: 'Stripe API key', rotationEnabled: true, rotationDays: 90 });
    expect(listed.values.map((v: any) => [v.environment.slug, v.isSet, v.updatedBy])).toEqual([
      ['development', true, 'developer-user'],
      ['staging', true, 'qa-user'],
      ['production', true, 'admin'],
    ]);
    expect(new Set(listed.values.map((v: any) => v.versionId)).size).toBe(3);
    for (const env of read.data.project.environments) {
      expect(env.secrets).toEqual([
        {
          secret: { name: 'STRIPE_SECRET_KEY' },
          isSet: true,
          versionId: listed.values.find((v: any) => v.environment.slug === env.slug).versionId,
          updatedBy: listed.values.find((v: any) => v.environment.slug === env.slug).updatedBy,
        },
      ]);
    }
    for (const value of [dev, staging, prod]) expect(read.raw).not.toContain(value);

    // Rotate staging now: a new random version, rotation times recorded.
    const before = listed.values.find((v: any) => v.environment.slug === 'staging');
    const rotated = await rotate(secret.id, 'staging', await as('QA'));
    expect(rotated.errors).toBeUndefined();
    const after = rotated.data.rotateSecret;
    expect(after.versionId).not.toBe(before.versionId);
    expect(after.updatedBy).toBe('qa-user');
    expect(after.lastRotatedAt).toBe(after.updatedAt);
    expect(Date.parse(after.nextRotationAt) - Date.parse(after.lastRotatedAt)).toBe(90 * DAY);

    // ADMIN reveals: the exact values set, and the new random one for staging.
    expect(await revealed(secret.id, 'development')).toBe(dev);
    expect(await revealed(secret.id, 'production')).toBe(prod);
    const stagingNow = await revealed(secret.id, 'staging');
    expect(stagingNow).not.toBe(staging);
    expect(stagingNow).toMatch(/^[A-Za-z0-9_-]{43}$/);

    // The audit log tells the whole story, with version ids and never a value.
    const log = await auditLog('shop');
    const secretEvents = log.filter((e) => e.action.startsWith('secret.')).reverse();
    expect(secretEvents.map((e) => [e.actor, e.action, e.detail.environment ?? null])).toEqual([
      ['developer-user', 'secret.create', null],
      ['developer-user', 'secret.value.set', 'development'],
      ['qa-user', 'secret.value.set', 'staging'],
      ['admin', 'secret.value.set', 'production'],
      ['qa-user', 'secret.rotate', 'staging'],
      ['admin', 'secret.value.reveal', 'development'],
      ['admin', 'secret.value.reveal', 'production'],
      ['admin', 'secret.value.reveal', 'staging'],
    ]);
    expect(secretEvents.find((e) => e.action === 'secret.rotate')!.detail).toMatchObject({
      versionId: after.versionId,
      previousVersionId: before.versionId,
      scheduled: false,
    });
    expect(secretEvents.at(-1)!.detail).toMatchObject({ name: 'STRIPE_SECRET_KEY', versionId: after.versionId });
  });
});

// ---------------------------------------------------------------- permissions

describe('who may do what', () => {
  it('reveals only to ADMIN; anyone else gets FORBIDDEN and nothing is audited', async () => {
    const project = await createProject('reveal-rules');
    const secret = await createSecret(project.id, 'API_TOKEN');
    expect((await setValue(secret.id, 'development', stripeKey('reveal'))).errors).toBeUndefined();
    const audited = (await auditLog('reveal-rules')).length;
    for (const role of ['DEVELOPER', 'QA', 'APPROVER', 'VIEWER'] as const) {
      const r = await reveal(secret.id, 'development', await as(role));
      expect(codeOf(r), role).toBe('FORBIDDEN');
      expect(r.data).toBeNull();
    }
    expect(await auditLog('reveal-rules')).toHaveLength(audited);
    // v2: the roles that count are those in the secret's project, so it is looked up first. An
    // unknown secret answers NOT_FOUND, as does one of a PRIVATE project the caller cannot see
    // (test/integration/project-visibility.test.ts); a visible one's existence is no news to a
    // caller who can list Project.secrets.
    expect(codeOf(await reveal('U2VjcmV0OjAwMDAwMDAwLTAwMDAtMDAwMC0wMDAwLTAwMDAwMDAwMDAwMA', 'development', await as('DEVELOPER')))).toBe(
      'NOT_FOUND',
    );

    // ADMIN: NOT_FOUND where no value is set, and for an unknown environment or secret.
    expect(codeOf(await reveal(secret.id, 'staging'))).toBe('NOT_FOUND');
    expect(codeOf(await reveal(secret.id, 'nowhere'))).toBe('NOT_FOUND');
    expect(codeOf(await reveal(project.id, 'development'))).toBe('NOT_FOUND');
    expect(await auditLog('reveal-rules')).toHaveLength(audited);
  });

  it('lets only ADMIN set or rotate production values; other environments take their deployerRoles', async () => {
    const project = await createProject('value-rules');
    const secret = await createSecret(project.id, 'SIGNING_KEY');
    for (const role of ['DEVELOPER', 'QA', 'APPROVER', 'VIEWER'] as const) {
      const r = await setValue(secret.id, 'production', stripeKey(`prod-${role}`), await as(role));
      expect(codeOf(r), role).toBe('FORBIDDEN');
    }
    expect((await metadata('value-rules', 'SIGNING_KEY', 'production')).isSet).toBe(false);
    const admin = await setValue(secret.id, 'production', stripeKey('prod-admin'));
    expect(admin.errors).toBeUndefined();
    expect(codeOf(await rotate(secret.id, 'production', await as('QA')))).toBe('FORBIDDEN');
    expect((await rotate(secret.id, 'production')).errors).toBeUndefined();

    // development: DEVELOPER, QA, APPROVER (its deployerRoles); VIEWER is refused.
    expect(codeOf(await setValue(secret.id, 'development', stripeKey('viewer'), await as('VIEWER')))).toBe('FORBIDDEN');
    for (const role of ['DEVELOPER', 'QA', 'APPROVER'] as const) {
      expect((await setValue(secret.id, 'development', stripeKey(`dev-${role}`), await as(role))).errors, role).toBeUndefined();
    }
    expect(codeOf(await rotate(secret.id, 'development', await as('VIEWER')))).toBe('FORBIDDEN');
    expect((await rotate(secret.id, 'development', await as('APPROVER'))).errors).toBeUndefined();
  });
});

// ---------------------------------------------------------------- validation

describe('validation', () => {
  it('refuses bad names, empty and oversized values with BAD_USER_INPUT, writing nothing', async () => {
    const project = await createProject('validation');
    for (const name of ['stripe_key', '1KEY', 'KEY-NAME', 'KEY NAME', '', 'K'.repeat(129)]) {
      const r = await gql(`mutation($i: CreateSecretInput!) { createSecret(input: $i) { id } }`, { i: { projectId: project.id, name } });
      expect(codeOf(r), name).toBe('BAD_USER_INPUT');
      expect(r.errors![0]!.message).toMatch(/name/);
    }
    expect((await createSecret(project.id, 'K'.repeat(128))).name).toHaveLength(128);
    const secret = await createSecret(project.id, 'BIG_VALUE');
    const audited = (await auditLog('validation')).length;

    const tooBig = 'x'.repeat(64 * 1024 + 1);
    const tooBigUtf8 = '€'.repeat(21846); // 65,538 bytes in 21,846 characters
    const loneSurrogate = `sk_${'\ud800'}_broken`; // not well-formed Unicode: it cannot be stored byte for byte
    for (const value of ['', tooBig, tooBigUtf8, loneSurrogate]) {
      const r = await setValue(secret.id, 'development', value);
      expect(codeOf(r), `${value.length} characters`).toBe('BAD_USER_INPUT');
      expect(r.errors![0]!.extensions!.field).toBe('input.value');
      expect(r.errors![0]!.message).toMatch(/^input\.value: /);
    }
    expect(codeOf(await setValue(secret.id, 'nowhere', 'fine'))).toBe('NOT_FOUND');
    expect(codeOf(await setValue(project.id, 'development', 'fine'))).toBe('NOT_FOUND');
    const meta = await metadata('validation', 'BIG_VALUE', 'development');
    expect(meta).toMatchObject({ isSet: false, versionId: null, updatedBy: null });
    expect(
      (
        await sql`select count(*)::int as n from secret_value_versions where secret_id = (select id from secrets where name = 'BIG_VALUE')`
      )[0]!.n,
    ).toBe(0);
    expect(await auditLog('validation')).toHaveLength(audited);

    // Exactly 64 KiB, whitespace and all, is kept byte for byte.
    const max = ` ${'y'.repeat(64 * 1024 - 2)}\n`;
    expect((await setValue(secret.id, 'development', max)).errors).toBeUndefined();
    expect(await revealed(secret.id, 'development')).toBe(max);
  });

  it('refuses rotateSecret while the environment is frozen or a deployment is RUNNING, and with no value', async () => {
    const p = await setupProject(server, 'rotate-rules', { stepSeconds: 2 });
    const secret = await createSecret(p.id, 'SESSION_KEY');
    expect(codeOf(await rotate(secret.id, 'development'))).toBe('PRECONDITION_FAILED'); // nothing to rotate yet
    for (const env of ['development', 'staging', 'production']) {
      expect((await setValue(secret.id, env, stripeKey(`session-${env}`))).errors).toBeUndefined();
    }
    const set = await metadata('rotate-rules', 'SESSION_KEY', 'development');

    await setFrozen(p.dev, true);
    const frozen = await rotate(secret.id, 'development');
    expect(codeOf(frozen)).toBe('PRECONDITION_FAILED');
    expect(frozen.errors![0]!.message).toMatch(/frozen/);
    await setFrozen(p.dev, false);

    const pushed = await push(server, p.id, sha(41));
    expect(pushed.errors).toBeUndefined();
    const id = pushed.data.recordPush.deployments[0].id;
    await waitForStatus(server, id, ['RUNNING']);
    const running = await rotate(secret.id, 'development');
    expect(codeOf(running)).toBe('PRECONDITION_FAILED');
    expect(running.errors![0]!.message).toMatch(/RUNNING/);
    // Other environments are not affected, and setting a value is still allowed.
    expect((await rotate(secret.id, 'staging')).errors).toBeUndefined();
    expect((await metadata('rotate-rules', 'SESSION_KEY', 'development')).versionId).toBe(set.versionId);
    await waitForStatus(server, id, ['SUCCEEDED']);
    const ok = await rotate(secret.id, 'development');
    expect(ok.errors).toBeUndefined();
    expect(ok.data.rotateSecret.versionId).not.toBe(set.versionId);
  });
});

// ---------------------------------------------------------------- scheduled rotation

describe('scheduled rotation', () => {
  it('rotates a due value on the schedule, as system', async () => {
    const project = await createProject('scheduled');
    const secret = await createSecret(project.id, 'WEBHOOK_KEY', { rotationEnabled: true, rotationDays: 1 });
    const original = stripeKey('scheduled');
    const set = await setValue(secret.id, 'development', original);
    expect(set.errors).toBeUndefined();
    const before = set.data.setSecretValue;
    await makeDue('WEBHOOK_KEY', 'scheduled', 'development');

    const after = await until('the scheduled rotation', async () => {
      const m = await metadata('scheduled', 'WEBHOOK_KEY', 'development');
      return m.versionId !== before.versionId && m;
    });
    expect(after).toMatchObject({ isSet: true, updatedBy: 'system' });
    expect(after.lastRotatedAt).toBe(after.updatedAt);
    expect(Date.parse(after.nextRotationAt) - Date.parse(after.lastRotatedAt)).toBe(DAY);
    const value = await revealed(secret.id, 'development');
    expect(value).not.toBe(original);
    expect(value).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const rotations = (await auditLog('scheduled')).filter((e) => e.action === 'secret.rotate');
    expect(rotations).toHaveLength(1);
    expect(rotations[0]).toMatchObject({
      actor: 'system',
      detail: { environment: 'development', versionId: after.versionId, scheduled: true },
    });

    // Not due again: later ticks leave it alone.
    await sleep(2500);
    expect((await metadata('scheduled', 'WEBHOOK_KEY', 'development')).versionId).toBe(after.versionId);
  });

  it('waits while the environment is frozen, says so once in the audit log, and rotates after unfreeze', async () => {
    const project = await createProject('deferred');
    const secret = await createSecret(project.id, 'QUEUE_PASSWORD', { rotationEnabled: true, rotationDays: 1 });
    await setFrozen(project.env('staging'), true);
    // Setting a value in a frozen environment is allowed; only rotation waits.
    const set = await setValue(secret.id, 'staging', stripeKey('frozen'));
    expect(set.errors).toBeUndefined();
    await makeDue('QUEUE_PASSWORD', 'deferred', 'staging');

    const deferral = await until('the deferral in the audit log', async () =>
      (await auditLog('deferred')).find((e) => e.action === 'secret.rotation.deferred'),
    );
    expect(deferral).toMatchObject({ actor: 'system', detail: { name: 'QUEUE_PASSWORD', environment: 'staging', reason: 'frozen' } });
    expect(deferral.detail.message).toMatch(/frozen/);
    // Several ticks later: still waiting, still one deferral (once per due period), same version.
    await sleep(3000);
    expect((await auditLog('deferred')).filter((e) => e.action === 'secret.rotation.deferred')).toHaveLength(1);
    expect((await metadata('deferred', 'QUEUE_PASSWORD', 'staging')).versionId).toBe(set.data.setSecretValue.versionId);
    // rotateSecret is refused meanwhile, rather than waiting.
    expect(codeOf(await rotate(secret.id, 'staging'))).toBe('PRECONDITION_FAILED');

    await setFrozen(project.env('staging'), false);
    const rotated = await until('the rotation after unfreeze', async () => {
      const m = await metadata('deferred', 'QUEUE_PASSWORD', 'staging');
      return m.versionId !== set.data.setSecretValue.versionId && m;
    });
    expect(rotated.updatedBy).toBe('system');
    const actions = (await auditLog('deferred')).map((e) => e.action).reverse();
    expect(actions.slice(-3)).toEqual(['secret.rotation.deferred', 'environment.unfreeze', 'secret.rotate']);
  });

  it('waits while a deployment of the environment is RUNNING, and rotates once it has finished', async () => {
    const p = await setupProject(server, 'deferred-running', { stepSeconds: 3 });
    const secret = await createSecret(p.id, 'CACHE_TOKEN', { rotationEnabled: true, rotationDays: 1 });
    const set = await setValue(secret.id, 'development', stripeKey('running'));
    expect(set.errors).toBeUndefined();
    const pushed = await push(server, p.id, sha(99));
    const id = pushed.data.recordPush.deployments[0].id;
    await waitForStatus(server, id, ['RUNNING']);
    await makeDue('CACHE_TOKEN', 'deferred-running', 'development');
    const deferral = await until('the deferral in the audit log', async () =>
      (await auditLog('deferred-running')).find((e) => e.action === 'secret.rotation.deferred'),
    );
    expect(deferral.detail).toMatchObject({ environment: 'development', reason: 'deployment-running' });
    expect((await metadata('deferred-running', 'CACHE_TOKEN', 'development')).versionId).toBe(set.data.setSecretValue.versionId);
    const done = await waitForStatus(server, id, ['SUCCEEDED']);
    // The deployment shipped the version it pinned, untouched by the rotation that waited.
    expect(done.snapshot.secretVersions).toEqual({ CACHE_TOKEN: set.data.setSecretValue.versionId });
    const rotated = await until('the rotation after the deployment', async () => {
      const m = await metadata('deferred-running', 'CACHE_TOKEN', 'development');
      return m.versionId !== set.data.setSecretValue.versionId && m;
    });
    expect(rotated.updatedBy).toBe('system');
    const log = await auditLog('deferred-running');
    expect(log.filter((e) => e.action === 'secret.rotation.deferred')).toHaveLength(1);
    const finished = await gql(`query($id: ID!) { deployment(id: $id) { finishedAt } }`, { id });
    const rotation = log.find((e) => e.action === 'secret.rotate')!;
    expect(Date.parse(rotation.at)).toBeGreaterThanOrEqual(Date.parse(finished.data.deployment.finishedAt));
  });

  it('reschedules values already set when rotation is switched on, off or changed', async () => {
    const project = await createProject('reschedule');
    const secret = await createSecret(project.id, 'REDIS_PASSWORD');
    const set = await setValue(secret.id, 'development', stripeKey('redis'));
    expect(set.data.setSecretValue.nextRotationAt).toBeNull();
    const update = (input: Record<string, unknown>) =>
      gql(`mutation($i: UpdateSecretInput!) { updateSecret(input: $i) { rotationEnabled rotationDays } }`, {
        i: { id: secret.id, ...input },
      });
    expect((await update({ rotationEnabled: true, rotationDays: 7 })).errors).toBeUndefined();
    const on = await metadata('reschedule', 'REDIS_PASSWORD', 'development');
    expect(Date.parse(on.nextRotationAt) - Date.parse(on.updatedAt)).toBe(7 * DAY);
    expect((await update({ rotationEnabled: true, rotationDays: 30 })).errors).toBeUndefined();
    const longer = await metadata('reschedule', 'REDIS_PASSWORD', 'development');
    expect(Date.parse(longer.nextRotationAt) - Date.parse(longer.updatedAt)).toBe(30 * DAY);
    expect((await update({ rotationEnabled: false })).errors).toBeUndefined();
    expect((await metadata('reschedule', 'REDIS_PASSWORD', 'development')).nextRotationAt).toBeNull();
  });
});

describe('rotation and deployments', () => {
  it('re-pins the snapshot of a deployment awaiting approval when a value is set, rotated, or rotated on schedule', async () => {
    const p = await setupProject(server, 'snapshots');
    const secret = await createSecret(p.id, 'PAYMENT_KEY', { rotationEnabled: true, rotationDays: 1 });
    for (const env of ['development', 'staging', 'production']) {
      expect((await setValue(secret.id, env, stripeKey(`payment-${env}`))).errors).toBeUndefined();
    }
    const pushed = await push(server, p.id, sha(77));
    await waitForStatus(server, pushed.data.recordPush.deployments[0].id, ['SUCCEEDED']);
    const PROMOTE = `mutation($i: PromoteInput!) { promote(input: $i) { id } }`;
    const staged = await gql(PROMOTE, { i: { environmentId: p.staging } });
    await waitForStatus(server, staged.data.promote.id, ['SUCCEEDED']);
    const promoted = await gql(PROMOTE, { i: { environmentId: p.production } });
    expect(promoted.errors).toBeUndefined();
    const id = promoted.data.promote.id;
    const pending = await waitForStatus(server, id, ['PENDING_APPROVAL']);
    const pinned = async (versionId: string) =>
      until(`the snapshot to pin ${versionId}`, async () => {
        const d = await deployment(server, id);
        return d.snapshot.secretVersions.PAYMENT_KEY === versionId && d;
      });
    const initial = await metadata('snapshots', 'PAYMENT_KEY', 'production');
    expect(pending.snapshot.secretVersions).toEqual({ PAYMENT_KEY: initial.versionId });

    const set = await setValue(secret.id, 'production', stripeKey('payment-new'));
    const afterSet = await pinned(set.data.setSecretValue.versionId);
    expect(afterSet.status).toBe('PENDING_APPROVAL');
    expect(afterSet.events.filter((e: any) => e.type === 'APPROVALS_INVALIDATED')).toHaveLength(1);

    const rotated = await rotate(secret.id, 'production');
    expect(rotated.errors).toBeUndefined();
    await pinned(rotated.data.rotateSecret.versionId);

    await makeDue('PAYMENT_KEY', 'snapshots', 'production');
    const scheduled = await until('the scheduled rotation', async () => {
      const m = await metadata('snapshots', 'PAYMENT_KEY', 'production');
      return m.updatedBy === 'system' && m;
    });
    const afterSchedule = await pinned(scheduled.versionId);
    expect(afterSchedule.events.filter((e: any) => e.type === 'APPROVALS_INVALIDATED')).toHaveLength(3);
    // The snapshot names versions, never values.
    expect(JSON.stringify(afterSchedule.snapshot)).not.toMatch(/sk_live_/);
    const cancel = await gql(`mutation($id: ID!) { cancelDeployment(id: $id) { status } }`, { id });
    expect(cancel.errors).toBeUndefined();
  });

  it('runs the rotation ticks from one Temporal Schedule per task queue, with deterministic workflow code', async () => {
    const { Client, Connection } = await import('@temporalio/client');
    const { Worker } = await import('@temporalio/worker');
    const { workflowBundle } = await import('../../workflows/worker.ts');
    const { ensureRotationSchedule } = await import('../../workflows/rotation-schedule.ts');
    const connection = await Connection.connect({ address: server.config.temporal.address! });
    try {
      const client = new Client({ connection, namespace: server.config.temporal.namespace });
      const taskQueue = server.config.temporal.taskQueue;
      const handle = client.schedule.getHandle(rotationScheduleId(taskQueue));
      const described = await handle.describe();
      expect(described.spec.intervals?.map((i) => i.every)).toEqual([1000]);
      expect(described.action).toMatchObject({ type: 'startWorkflow', workflowType: ROTATION_WORKFLOW, taskQueue });
      // A worker starting again finds it (idempotent).
      expect(await ensureRotationSchedule(client, { taskQueue, intervalSeconds: 1 })).toBe('unchanged');

      const recent = await until('a finished tick', async () => {
        for (const action of (await handle.describe()).info.recentActions) {
          const run = client.workflow.getHandle(action.action.workflow.workflowId, action.action.workflow.firstExecutionRunId);
          if ((await run.describe()).status.name === 'COMPLETED') return run;
        }
        return null;
      });
      expect(await recent.result()).toMatchObject({ failed: 0 });
      await Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, await recent.fetchHistory(), recent.workflowId);

      // A worker configured with another interval updates the schedule (then back to 1 s).
      expect(await ensureRotationSchedule(client, { taskQueue, intervalSeconds: 5 })).toBe('updated');
      expect((await handle.describe()).spec.intervals?.map((i) => i.every)).toEqual([5000]);
      expect(await ensureRotationSchedule(client, { taskQueue, intervalSeconds: 1 })).toBe('updated');
      expect((await handle.describe()).spec.intervals?.map((i) => i.every)).toEqual([1000]);
    } finally {
      await connection.close();
    }
  });
});

// ---------------------------------------------------------------- links and deletion

describe('database passwords and deletion', () => {
  it('links a database connection value to a secret by name, never to its value', async () => {
    const project = await createProject('db-link');
    const secret = await createSecret(project.id, 'DB_PASSWORD');
    const password = stripeKey('db');
    expect((await setValue(secret.id, 'staging', password)).errors).toBeUndefined();
    const conn = await gql(`mutation($p: ID!) { createDatabaseConnection(input: { projectId: $p, name: "Primary" }) { id } }`, {
      p: project.id,
    });
    const connectionId = conn.data.createDatabaseConnection.id;
    const q = `mutation($i: SetDatabaseConnectionValueInput!) { setDatabaseConnectionValue(input: $i) {
      environment { slug } passwordSecret { id name values { environment { slug } isSet } } } }`;
    const linked = await gql(q, {
      i: { connectionId, environment: 'staging', host: 'db.internal', database: 'app', passwordSecret: 'DB_PASSWORD' },
    });
    expect(linked.errors).toBeUndefined();
    expect(linked.data.setDatabaseConnectionValue.passwordSecret).toMatchObject({ id: secret.id, name: 'DB_PASSWORD' });
    expect(linked.data.setDatabaseConnectionValue.passwordSecret.values.find((v: any) => v.environment.slug === 'staging').isSet).toBe(
      true,
    );
    const missing = await gql(q, {
      i: { connectionId, environment: 'staging', host: 'db.internal', database: 'app', passwordSecret: 'NO_SUCH_SECRET' },
    });
    expect(codeOf(missing)).toBe('NOT_FOUND');
    const read = await gql(`{ project(slug: "db-link") { environment(slug: "staging") { databases { passwordSecret { name } } } } }`);
    expect(read.data.project.environment.databases).toEqual([{ passwordSecret: { name: 'DB_PASSWORD' } }]);
  });

  it('deleteSecret removes the metadata and the stored values', async () => {
    const project = await createProject('delete-me');
    const secret = await createSecret(project.id, 'OLD_KEY');
    const keep = await createSecret(project.id, 'KEPT_KEY');
    for (const env of ['development', 'staging']) {
      expect((await setValue(secret.id, env, stripeKey(`old-${env}`))).errors).toBeUndefined();
    }
    expect((await setValue(keep.id, 'development', stripeKey('kept'))).errors).toBeUndefined();
    expect((await rotate(secret.id, 'staging')).errors).toBeUndefined();
    const stored = async (id: string) => {
      const [local] =
        await sql`select count(*)::int as n from secret_value_versions v join secrets s on s.id = v.secret_id where s.name = ${id}`;
      const [meta] = await sql`select count(*)::int as n from secret_values v join secrets s on s.id = v.secret_id where s.name = ${id}`;
      return { versions: local!.n, metadata: meta!.n };
    };
    expect(await stored('OLD_KEY')).toEqual({ versions: 3, metadata: 2 });
    const conn = await gql(`mutation($p: ID!) { createDatabaseConnection(input: { projectId: $p, name: "Main" }) { id } }`, {
      p: project.id,
    });
    await gql(`mutation($i: SetDatabaseConnectionValueInput!) { setDatabaseConnectionValue(input: $i) { host } }`, {
      i: {
        connectionId: conn.data.createDatabaseConnection.id,
        environment: 'development',
        host: 'db',
        database: 'app',
        passwordSecret: 'OLD_KEY',
      },
    });

    expect(codeOf(await gql(`mutation($id: ID!) { deleteSecret(id: $id) }`, { id: secret.id }, await as('VIEWER')))).toBe('FORBIDDEN');
    const deleted = await gql(`mutation($id: ID!) { deleteSecret(id: $id) }`, { id: secret.id }, await as('DEVELOPER'));
    expect(deleted.errors).toBeUndefined();
    expect(deleted.data.deleteSecret).toBe(secret.id);

    // The stored versions (ciphertexts) and the metadata rows of the deleted secret are gone.
    const secretUuid = decodeGlobalID(secret.id).id;
    expect((await sql`select count(*)::int as n from secret_value_versions where secret_id = ${secretUuid}`)[0]!.n).toBe(0);
    expect((await sql`select count(*)::int as n from secret_values where secret_id = ${secretUuid}`)[0]!.n).toBe(0);
    expect(await stored('KEPT_KEY')).toEqual({ versions: 1, metadata: 1 });
    const read = await gql(
      `{ project(slug: "delete-me") { secrets { name } environment(slug: "development") { secrets { secret { name } } databases { passwordSecret { name } } } } }`,
    );
    expect(read.data.project.secrets).toEqual([{ name: 'KEPT_KEY' }]);
    expect(read.data.project.environment.secrets).toEqual([{ secret: { name: 'KEPT_KEY' } }]);
    expect(read.data.project.environment.databases).toEqual([{ passwordSecret: null }]);
    expect(codeOf(await reveal(secret.id, 'development'))).toBe('NOT_FOUND');
    expect(codeOf(await gql(`mutation($id: ID!) { deleteSecret(id: $id) }`, { id: secret.id }))).toBe('NOT_FOUND');
    // The name is free again.
    expect((await createSecret(project.id, 'OLD_KEY')).name).toBe('OLD_KEY');
  });
});

// ---------------------------------------------------------------- nothing leaks

describe('no value ever leaks', () => {
  it('appears in no log line and no response other than revealSecretValue', async () => {
    // Make sure every ticking rotation so far is in the log too.
    await sleep(1500);
    expect(values.size).toBeGreaterThan(20);
    const logs = server.logs.join('\n');
    expect(logs.length).toBeGreaterThan(0);
    const everything = responses.join('\n');
    for (const value of values) {
      // A JSON response escapes some characters; search for both spellings.
      const escaped = JSON.stringify(value).slice(1, -1);
      for (const needle of new Set([value, escaped])) {
        if (needle.length < 8) continue; // '' and the like match anything
        expect(logs.includes(needle), `a value of ${value.length} characters is in the server log`).toBe(false);
        expect(everything.includes(needle), `a value of ${value.length} characters is in a response`).toBe(false);
      }
    }
    // And no stored ciphertext row holds a value in clear.
    const rows = await sql`select ciphertext from secret_value_versions`;
    const blob = Buffer.concat(rows.map((r) => r.ciphertext as Buffer)).toString('latin1');
    for (const value of values) if (value.length >= 8) expect(blob.includes(value)).toBe(false);
  });
});
