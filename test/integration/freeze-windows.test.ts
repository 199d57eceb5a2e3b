// Freeze windows end to end: the GraphQL API, a real worker, real PostgreSQL and a real Temporal.
// Windows here are one-off and a few seconds long where a test must see one begin or end; the
// recurrence rules themselves (RRULE, time zones, DST) are test/unit/freeze.test.ts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../support/database.ts';
import { changedTables, openTestDatabase, tableFingerprints, type Sql } from '../support/db-state.ts';
import { DEPLOYMENT_FIELDS, push, setupProject, sha, waitForStatus } from '../support/deployments.ts';
import { codeOf, startTestServer, type TestServer } from '../support/server.ts';

let server: TestServer;
let dropDb: () => Promise<void>;
let sql: Sql;

beforeAll(async () => {
  const db = await createTestDatabase();
  dropDb = db.drop;
  sql = openTestDatabase(db.url);
  server = await startTestServer({ databaseUrl: db.url });
});
afterAll(async () => {
  await server?.stop();
  await sql?.end();
  await dropDb?.();
});

const WINDOW_FIELDS = `id name reason environmentSlugs environmentTypes startsAt endsAt recurrence durationMinutes timeZone allowRollback createdBy
  nextOccurrence { startsAt endsAt }`;
const CREATE = `mutation($i: CreateFreezeWindowInput!) { createFreezeWindow(input: $i) { ${WINDOW_FIELDS} } }`;
const DELETE = `mutation($id: ID!) { deleteFreezeWindow(id: $id) }`;
const DEPLOY = `mutation($i: DeployInput!) { deploy(input: $i) { ${DEPLOYMENT_FIELDS} freezeOverride { reason by window { id name } } } }`;
const PROMOTE = `mutation($i: PromoteInput!) { promote(input: $i) { ${DEPLOYMENT_FIELDS} freezeOverride { reason by window { id name } } } }`;
const ROLLBACK = `mutation($i: RollbackInput!) { rollback(input: $i) { id status kind } }`;
const APPROVE = `mutation($i: DecisionInput!) { approveDeployment(input: $i) { id status } }`;

const iso = (ms: number) => new Date(ms).toISOString();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function createWindow(projectId: string, fields: Record<string, unknown>, token?: string) {
  return server.gql(CREATE, { i: { projectId, name: 'freeze', reason: 'release train', ...fields } }, token);
}
async function mustCreateWindow(projectId: string, fields: Record<string, unknown>, token?: string) {
  const r = await createWindow(projectId, fields, token);
  expect(r.errors).toBeUndefined();
  return r.data.createFreezeWindow;
}
/** A window in force from now for `seconds`. */
const inForce = (seconds: number, extra: Record<string, unknown> = {}) => ({
  startsAt: iso(Date.now() - 1000),
  endsAt: iso(Date.now() + seconds * 1000),
  ...extra,
});

async function shippedRelease(p: Awaited<ReturnType<typeof setupProject>>, n: number) {
  const pushed = await push(server, p.id, sha(n));
  expect(pushed.errors).toBeUndefined();
  await waitForStatus(server, pushed.data.recordPush.deployments[0].id, ['SUCCEEDED']);
  return pushed.data.recordPush.release.id as string;
}
async function promoteToStaging(p: Awaited<ReturnType<typeof setupProject>>) {
  const r = await server.gql(PROMOTE, { i: { environmentId: p.staging } });
  expect(r.errors).toBeUndefined();
  return waitForStatus(server, r.data.promote.id, ['SUCCEEDED']);
}
async function envState(projectSlug: string) {
  const r = await server.gql(
    `query($s: String!) { project(slug: $s) { freezeWindows { id name } environments { slug frozen activeFreeze { id name reason nextOccurrence { startsAt endsAt } } } } }`,
    { s: projectSlug },
  );
  expect(r.errors).toBeUndefined();
  return r.data.project;
}

/** Runs `fn` and says which tables it changed (freeze windows, deployments, audit: none for a refusal). */
async function tablesChangedBy(fn: () => Promise<unknown>) {
  const before = await tableFingerprints(sql);
  await fn();
  return changedTables(before, await tableFingerprints(sql));
}
const WRITES = ['freeze_windows', 'freeze_overrides', 'deployments', 'deployment_events', 'audit_events', 'releases'];

describe('createFreezeWindow: bad input', () => {
  const start = '2030-01-01T00:00:00Z';
  const cases: [string, Record<string, unknown>, string][] = [
    ['a bad RRULE', { startsAt: start, recurrence: 'FREQ=SOMETIMES', durationMinutes: 60 }, 'input.recurrence'],
    ['an RRULE that is not one', { startsAt: start, recurrence: 'every friday', durationMinutes: 60 }, 'input.recurrence'],
    ['an unknown time zone', { startsAt: start, endsAt: '2030-01-02T00:00:00Z', timeZone: 'Mars/Olympus_Mons' }, 'input.timeZone'],
    ['endsAt before startsAt', { startsAt: start, endsAt: '2029-12-31T00:00:00Z' }, 'input.endsAt'],
    ['endsAt equal to startsAt (zero)', { startsAt: start, endsAt: start }, 'input.endsAt'],
    ['no end at all', { startsAt: start }, 'input.endsAt'],
    ['a recurrence without a duration', { startsAt: start, recurrence: 'FREQ=WEEKLY;BYDAY=FR' }, 'input.durationMinutes'],
    ['a duration of zero', { startsAt: start, recurrence: 'FREQ=WEEKLY;BYDAY=FR', durationMinutes: 0 }, 'input.durationMinutes'],
    [
      'a duration of ten years',
      { startsAt: start, recurrence: 'FREQ=YEARLY', durationMinutes: 10 * 365 * 24 * 60 },
      'input.durationMinutes',
    ],
    ['a one-off window of ten years', { startsAt: start, endsAt: '2040-01-01T00:00:00Z' }, 'input.endsAt'],
    [
      'both kinds at once',
      { startsAt: start, endsAt: '2030-01-02T00:00:00Z', recurrence: 'FREQ=DAILY', durationMinutes: 60 },
      'input.endsAt',
    ],
    ['a rule expanding every minute', { startsAt: start, recurrence: 'FREQ=MINUTELY', durationMinutes: 1 }, 'input.recurrence'],
    ['a rule expanding every second', { startsAt: start, recurrence: 'FREQ=SECONDLY', durationMinutes: 1 }, 'input.recurrence'],
    [
      'a rule that never occurs',
      { startsAt: start, recurrence: 'FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30', durationMinutes: 60 },
      'input.recurrence',
    ],
    ['an unknown environment type', { startsAt: start, endsAt: '2030-01-02T00:00:00Z', environmentTypes: ['MOON'] }, 'input'],
    ['a blank name', { startsAt: start, endsAt: '2030-01-02T00:00:00Z', name: '  ' }, 'input.name'],
  ];
  for (const [name, fields, field] of cases) {
    it(`refuses ${name} with BAD_USER_INPUT and writes nothing`, async () => {
      const p = await cachedProject();
      let r: any;
      const changed = await tablesChangedBy(async () => {
        r = await createWindow(p.id, fields);
      });
      expect(codeOf(r), JSON.stringify(r.errors)).toBe('BAD_USER_INPUT');
      if (field !== 'input') expect(r.errors[0].extensions.field ?? r.errors[0].message).toContain(field);
      expect(changed.filter((t) => WRITES.includes(t))).toEqual([]);
    });
  }

  it('accepts COUNT and UNTIL', async () => {
    const p = await cachedProject();
    const counted = await mustCreateWindow(p.id, { startsAt: start, recurrence: 'FREQ=DAILY;COUNT=3', durationMinutes: 60 });
    expect(counted.nextOccurrence).toEqual({ startsAt: '2030-01-01T00:00:00.000Z', endsAt: '2030-01-01T01:00:00.000Z' });
    const until = await mustCreateWindow(p.id, {
      startsAt: '2020-01-01T00:00:00Z',
      recurrence: 'FREQ=DAILY;UNTIL=20200105T000000Z',
      durationMinutes: 60,
    });
    expect(until.nextOccurrence).toBeNull(); // all of it in the past
    for (const w of [counted, until]) expect((await server.gql(DELETE, { id: w.id })).errors).toBeUndefined();
  });
});

let projectForInput: Awaited<ReturnType<typeof setupProject>> | undefined;
async function cachedProject() {
  projectForInput ??= await setupProject(server, 'freeze-input');
  return projectForInput;
}

describe('who may create and delete', () => {
  it('anyone but VIEWER creates; its creator or an ADMIN deletes; refusals write nothing; both are audited', async () => {
    const p = await setupProject(server, 'freeze-authz');
    const viewer = await server.token('fz-viewer', ['VIEWER']);
    const dev = await server.token('fz-dev', ['DEVELOPER']);
    const qa = await server.token('fz-qa', ['QA']);
    const future = { startsAt: '2031-01-01T00:00:00Z', endsAt: '2031-01-02T00:00:00Z' };

    let refused: any;
    expect(
      (
        await tablesChangedBy(async () => {
          refused = await createWindow(p.id, future, viewer);
        })
      ).filter((t) => WRITES.includes(t)),
    ).toEqual([]);
    expect(codeOf(refused)).toBe('FORBIDDEN');

    const mine = await mustCreateWindow(p.id, future, dev);
    expect(mine.createdBy).toBe('fz-dev');
    const qas = await mustCreateWindow(p.id, { ...future, name: 'qa freeze' }, qa);

    // Another non-ADMIN may not delete it.
    let other: any;
    expect(
      (
        await tablesChangedBy(async () => {
          other = await server.gql(DELETE, { id: mine.id }, qa);
        })
      ).filter((t) => WRITES.includes(t)),
    ).toEqual([]);
    expect(codeOf(other)).toBe('FORBIDDEN');

    expect((await server.gql(DELETE, { id: mine.id }, dev)).data.deleteFreezeWindow).toBe(mine.id);
    expect(codeOf(await server.gql(DELETE, { id: mine.id }, dev))).toBe('NOT_FOUND'); // once
    expect((await server.gql(DELETE, { id: qas.id })).data.deleteFreezeWindow).toBe(qas.id); // ADMIN
    expect((await envState('freeze-authz')).freezeWindows).toEqual([]);

    const audit = await sql<{ action: string; actor: string }[]>`
      select action, actor from audit_events where action like 'freeze_window.%' order by id`;
    expect(audit).toEqual(
      expect.arrayContaining([
        { action: 'freeze_window.create', actor: 'fz-dev' },
        { action: 'freeze_window.create', actor: 'fz-qa' },
        { action: 'freeze_window.delete', actor: 'fz-dev' },
        { action: 'freeze_window.delete', actor: 'admin' },
      ]),
    );
  });
});

describe('while a window is in force', () => {
  it('refuses deploy and promote naming the window and its end; shows activeFreeze; the instant after creation already counts', async () => {
    const p = await setupProject(server, 'freeze-refuse');
    const release = await shippedRelease(p, 0x100);
    const w = await mustCreateWindow(p.id, inForce(600, { name: 'quarter end', environmentSlugs: ['stag*'] }));
    const r = await server.gql(DEPLOY, { i: { environmentId: p.staging, releaseId: release } });
    expect(codeOf(r)).toBe('PRECONDITION_FAILED');
    expect(r.errors![0]!.message).toContain('quarter end');
    expect(r.errors![0]!.message).toContain(w.nextOccurrence.endsAt);
    const promoted = await server.gql(PROMOTE, { i: { environmentId: p.staging } });
    expect(codeOf(promoted)).toBe('PRECONDITION_FAILED');
    expect(promoted.errors![0]!.message).toContain('quarter end');

    const state = await envState('freeze-refuse');
    const byslug = Object.fromEntries(state.environments.map((e: any) => [e.slug, e]));
    expect(byslug.staging.activeFreeze).toMatchObject({ id: w.id, name: 'quarter end', reason: 'release train' });
    expect(byslug.staging.activeFreeze.nextOccurrence).toEqual(w.nextOccurrence);
    expect(byslug.staging.frozen).toBe(false); // the manual switch is another thing
    expect(byslug.development.activeFreeze).toBeNull(); // not covered by "stag*"
    expect(state.freezeWindows).toEqual([{ id: w.id, name: 'quarter end' }]);

    // Deleted: deployable again at once.
    expect((await server.gql(DELETE, { id: w.id })).errors).toBeUndefined();
    const after = await server.gql(DEPLOY, { i: { environmentId: p.staging, releaseId: release } });
    expect(after.errors).toBeUndefined();
    await waitForStatus(server, after.data.deploy.id, ['SUCCEEDED']);
  });

  it('a recurring window (HOURLY, 60 minutes: always in force) freezes by type', async () => {
    const p = await setupProject(server, 'freeze-recurring');
    const release = await shippedRelease(p, 0x110);
    const w = await mustCreateWindow(p.id, {
      name: 'always',
      startsAt: iso(Date.now() - 3 * 3_600_000),
      recurrence: 'FREQ=HOURLY',
      durationMinutes: 60,
      timeZone: 'Europe/Berlin',
      environmentTypes: ['STAGING'],
    });
    const occurrence = w.nextOccurrence;
    expect(Date.parse(occurrence.startsAt)).toBeLessThanOrEqual(Date.now());
    expect(Date.parse(occurrence.endsAt) - Date.parse(occurrence.startsAt)).toBe(3_600_000);
    const r = await server.gql(DEPLOY, { i: { environmentId: p.staging, releaseId: release } });
    expect(codeOf(r)).toBe('PRECONDITION_FAILED');
    expect(r.errors![0]!.message).toContain(occurrence.endsAt);
  });

  it('a push records the release and deploys nothing in the frozen environment, and still deploys elsewhere', async () => {
    const p = await setupProject(server, 'freeze-push');
    const other = await server.gql(`mutation($i: CreateEnvironmentInput!) { createEnvironment(input: $i) { id slug } }`, {
      i: {
        projectId: p.id,
        slug: 'dev-two',
        name: 'Dev two',
        type: 'CUSTOM',
        policy: { trigger: 'AUTO_ON_PUSH', branchPattern: 'main' },
        deployTarget: { provider: 'SIMULATED', stepSeconds: 0 },
      },
    });
    expect(other.errors).toBeUndefined();
    await mustCreateWindow(p.id, inForce(600, { environmentSlugs: ['development'] }));
    const pushed = await push(server, p.id, sha(0x120));
    expect(pushed.errors).toBeUndefined();
    expect(pushed.data.recordPush.release.commitSha).toBe(sha(0x120));
    expect(pushed.data.recordPush.deployments.map((d: any) => d.environment.slug)).toEqual(['dev-two']);
    await waitForStatus(server, pushed.data.recordPush.deployments[0].id, ['SUCCEEDED']);
    const [n] = await sql<{ n: number }[]>`
      select count(*)::int as n from deployments d join environments e on e.id = d.environment_id where e.slug = 'development' and e.project_id = (select id from projects where slug = 'freeze-push')`;
    expect(n!.n).toBe(0);
  });

  it('rollback runs when the window allows it, and is refused when allowRollback is false', async () => {
    const p = await setupProject(server, 'freeze-rollback');
    await shippedRelease(p, 0x130);
    await shippedRelease(p, 0x131);
    const allowing = await mustCreateWindow(p.id, inForce(600, { environmentSlugs: ['development'] }));
    expect(allowing.allowRollback).toBe(true);
    const ok = await server.gql(ROLLBACK, { i: { environmentId: p.dev } });
    expect(ok.errors).toBeUndefined();
    await waitForStatus(server, ok.data.rollback.id, ['SUCCEEDED']); // not held by a window that allows rollbacks
    const strict = await mustCreateWindow(p.id, inForce(600, { name: 'no way back', environmentSlugs: ['dev*'], allowRollback: false }));
    expect(strict.allowRollback).toBe(false);
    let refused: any;
    const changed = await tablesChangedBy(async () => {
      refused = await server.gql(ROLLBACK, { i: { environmentId: p.dev } });
    });
    expect(codeOf(refused)).toBe('PRECONDITION_FAILED');
    expect(refused.errors[0].message).toContain('no way back');
    expect(changed.filter((t) => WRITES.includes(t))).toEqual([]);
  });
});

describe('a deployment waiting when an occurrence begins', () => {
  it('pending approval when the window begins, approved inside it: FROZEN_WAIT (never RUNNING), then starts when it ends', async () => {
    const p = await setupProject(server, 'freeze-hold');
    await shippedRelease(p, 0x140);
    await promoteToStaging(p);
    const pending = await server.gql(PROMOTE, { i: { environmentId: p.production } });
    expect(pending.errors).toBeUndefined();
    expect(pending.data.promote.status).toBe('PENDING_APPROVAL');
    const startsAt = Date.now() + 1500;
    const endsAt = startsAt + 5000;
    const w = await mustCreateWindow(p.id, {
      name: 'short',
      startsAt: iso(startsAt),
      endsAt: iso(endsAt),
      environmentTypes: ['PRODUCTION'],
    });
    await sleep(startsAt - Date.now() + 200);
    const approver = await server.token('fz-approver', ['APPROVER']);
    const approved = await server.gql(APPROVE, { i: { deploymentId: pending.data.promote.id } }, approver);
    expect(approved.errors).toBeUndefined();
    expect(approved.data.approveDeployment.status).not.toBe('RUNNING');
    const held = await waitForStatus(server, pending.data.promote.id, ['WAITING', 'RUNNING', 'SUCCEEDED', 'FAILED'], 10_000);
    expect(held.status).toBe('WAITING');
    const frozen = held.events.find((e: any) => e.type === 'FROZEN_WAIT');
    expect(frozen).toBeDefined();
    expect(frozen.message).toContain('short');
    expect(frozen.message).toContain(w.nextOccurrence.endsAt);
    // Still held a moment before the end.
    await sleep(Math.max(0, endsAt - Date.now() - 1500));
    const still = await waitForStatus(server, pending.data.promote.id, ['WAITING', 'RUNNING', 'SUCCEEDED'], 5_000);
    expect(still.status).toBe('WAITING');
    const done = await waitForStatus(server, pending.data.promote.id, ['SUCCEEDED'], 30_000);
    const [started] = await sql<{ at: Date }[]>`select started_at as at from deployments where workflow_id = ${done.workflowId}`;
    expect(started!.at.getTime()).toBeGreaterThanOrEqual(endsAt);
    const types = done.events.map((e: any) => e.type);
    expect(types.indexOf('FROZEN_WAIT')).toBeLessThan(types.indexOf('STARTED'));
    expect(types.filter((t: string) => t === 'FROZEN_WAIT')).toHaveLength(1); // once per occurrence, no polling
  });

  it('in its wait timer when the window begins: held, then released when it ends', async () => {
    const p = await setupProject(server, 'freeze-timer');
    await shippedRelease(p, 0x150);
    const policy = await server.gql(`mutation($i: UpdateEnvironmentInput!) { updateEnvironment(input: $i) { id } }`, {
      i: { id: p.staging, policy: { waitTimerSeconds: 2 } },
    });
    expect(policy.errors).toBeUndefined();
    const promoted = await server.gql(PROMOTE, { i: { environmentId: p.staging } });
    expect(promoted.errors).toBeUndefined();
    await waitForStatus(server, promoted.data.promote.id, ['WAITING']);
    const endsAt = Date.now() + 5000;
    await mustCreateWindow(p.id, {
      name: 'mid-timer',
      startsAt: iso(Date.now() + 300),
      endsAt: iso(endsAt),
      environmentSlugs: ['staging'],
    });
    const done = await waitForStatus(server, promoted.data.promote.id, ['SUCCEEDED', 'FAILED'], 30_000);
    expect(done.status).toBe('SUCCEEDED');
    const frozen = done.events.find((e: any) => e.type === 'FROZEN_WAIT');
    expect(frozen?.message).toContain('mid-timer');
    const [started] = await sql<{ at: Date }[]>`select started_at as at from deployments where workflow_id = ${done.workflowId}`;
    expect(started!.at.getTime()).toBeGreaterThanOrEqual(endsAt);
  });
});

describe('breaking the glass', () => {
  it('needs a role of freezeOverrideRoles and a reason; then another person must approve; event, audit and freezeOverride', async () => {
    const p = await setupProject(server, 'freeze-glass');
    const release = await shippedRelease(p, 0x160);
    const w = await mustCreateWindow(p.id, inForce(600, { name: 'holidays', environmentSlugs: ['staging'] }));
    const dev = await server.token('fz-glass-dev', ['DEVELOPER']);

    // A deployer without an override role: FORBIDDEN, nothing written.
    let forbidden: any;
    let changed = await tablesChangedBy(async () => {
      forbidden = await server.gql(
        DEPLOY,
        { i: { environmentId: p.staging, releaseId: release, overrideFreeze: { reason: 'hotfix' } } },
        dev,
      );
    });
    expect(codeOf(forbidden)).toBe('FORBIDDEN');
    expect(changed.filter((t) => WRITES.includes(t))).toEqual([]);
    // A blank reason: BAD_USER_INPUT, nothing written.
    let blank: any;
    changed = await tablesChangedBy(async () => {
      blank = await server.gql(DEPLOY, { i: { environmentId: p.staging, releaseId: release, overrideFreeze: { reason: '   ' } } });
    });
    expect(codeOf(blank)).toBe('BAD_USER_INPUT');
    expect(changed.filter((t) => WRITES.includes(t))).toEqual([]);

    // ADMIN (the default freezeOverrideRoles) breaks the glass: staging needs no approval, this one does.
    const broken = await server.gql(DEPLOY, {
      i: { environmentId: p.staging, releaseId: release, overrideFreeze: { reason: 'payment outage' } },
    });
    expect(broken.errors).toBeUndefined();
    const d = broken.data.deploy;
    expect(d.status).toBe('PENDING_APPROVAL');
    expect(d.requiredApprovals).toBe(1);
    expect(d.freezeOverride).toEqual({ reason: 'payment outage', by: 'admin', window: { id: w.id, name: 'holidays' } });
    const event = d.events.find((e: any) => e.type === 'FREEZE_OVERRIDDEN');
    expect(event.message).toContain('payment outage');
    expect(event.message).toContain('holidays');
    const [audit] = await sql<{ actor: string; detail: any }[]>`
      select actor, detail from audit_events where action = 'deployment.freeze_override' order by id desc limit 1`;
    expect(audit).toMatchObject({ actor: 'admin', detail: { reason: 'payment outage', window: 'holidays' } });

    // The requester may not approve it, not even an ADMIN, though staging's preventSelfApproval is switched off.
    await server.gql(`mutation($i: UpdateEnvironmentInput!) { updateEnvironment(input: $i) { id } }`, {
      i: { id: p.staging, policy: { preventSelfApproval: false } },
    });
    const self = await server.gql(APPROVE, { i: { deploymentId: d.id } });
    expect(codeOf(self)).toBe('FORBIDDEN');
    // Another person approves: it runs inside the window, to the end.
    const other = await server.token('fz-admin-2', ['ADMIN']);
    const approved = await server.gql(APPROVE, { i: { deploymentId: d.id } }, other);
    expect(approved.errors).toBeUndefined();
    const done = await waitForStatus(server, d.id, ['SUCCEEDED', 'FAILED', 'WAITING'], 30_000);
    expect(done.status).toBe('SUCCEEDED');
    expect(done.events.some((e: any) => e.type === 'FROZEN_WAIT')).toBe(false);
  });

  it('freezeOverrideRoles lets another role break it, on promote; the policy reads it back', async () => {
    const p = await setupProject(server, 'freeze-glass-qa');
    await shippedRelease(p, 0x170);
    const updated = await server.gql(
      `mutation($i: UpdateEnvironmentInput!) { updateEnvironment(input: $i) { policy { freezeOverrideRoles requiredApprovals } } }`,
      {
        i: {
          id: p.staging,
          policy: { freezeOverrideRoles: ['QA'], trigger: 'APPROVAL_REQUIRED', requiredApprovals: 2, approverRoles: ['APPROVER'] },
        },
      },
    );
    expect(updated.errors).toBeUndefined();
    expect(updated.data.updateEnvironment.policy.freezeOverrideRoles).toEqual(['QA']);
    const production = await server.gql(
      `query($s: String!) { project(slug: $s) { environment(slug: "production") { policy { freezeOverrideRoles } } } }`,
      {
        s: 'freeze-glass-qa',
      },
    );
    expect(production.data.project.environment.policy.freezeOverrideRoles).toEqual(['ADMIN']);
    await mustCreateWindow(p.id, inForce(600, { environmentSlugs: ['staging'] }));
    const qa = await server.token('fz-qa-glass', ['QA']);
    const r = await server.gql(PROMOTE, { i: { environmentId: p.staging, overrideFreeze: { reason: 'security fix' } } }, qa);
    expect(r.errors).toBeUndefined();
    expect(r.data.promote.status).toBe('PENDING_APPROVAL');
    expect(r.data.promote.requiredApprovals).toBe(2); // the policy asks more than one
    expect(r.data.promote.freezeOverride).toMatchObject({ reason: 'security fix', by: 'fz-qa-glass' });
    await server.gql(`mutation($id: ID!) { cancelDeployment(id: $id) { id } }`, { id: r.data.promote.id });
  });
});
