// Every status a client can see is one the server is ready to act on at that instant: a
// deployment that needs approval is PENDING_APPROVAL in the answer of the mutation that made it
// and takes decisions the next millisecond; any deployment can be cancelled the instant it exists.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../support/database.ts';
import { DEPLOYMENT_FIELDS, deployment, expectGaplessEvents, push, setupProject, waitForStatus } from '../support/deployments.ts';
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

const PROMOTE = `mutation($i: PromoteInput!) { promote(input: $i) { ${DEPLOYMENT_FIELDS} } }`;
const APPROVE = `mutation($i: DecisionInput!) { approveDeployment(input: $i) { status approvals { approver decision comment } } }`;
const REJECT = `mutation($i: DecisionInput!) { rejectDeployment(input: $i) { status } }`;
const CANCEL = `mutation($id: ID!) { cancelDeployment(id: $id) { status error events { type } } }`;
const UPDATE_ENV = `mutation($i: UpdateEnvironmentInput!) { updateEnvironment(input: $i) { id } }`;
const CONTRACT_CODES = ['BAD_USER_INPUT', 'UNAUTHENTICATED', 'FORBIDDEN', 'NOT_FOUND', 'CONFLICT', 'PRECONDITION_FAILED'];

/** A project whose staging has a SUCCEEDED release, so production can be promoted into. */
async function pipeline(slug: string, production: Record<string, unknown> = {}) {
  const p = await setupProject(server, slug);
  if (Object.keys(production).length) {
    const r = await server.gql(UPDATE_ENV, { i: { id: p.production, policy: production } });
    expect(r.errors).toBeUndefined();
  }
  const pushed = await push(server, p.id, 'a1b2c3d4');
  await waitForStatus(server, pushed.data.recordPush.deployments[0].id, ['SUCCEEDED']);
  const staged = await server.gql(PROMOTE, { i: { environmentId: p.staging } });
  expect(staged.errors).toBeUndefined();
  await waitForStatus(server, staged.data.promote.id, ['SUCCEEDED']);
  return p;
}

async function promote(environmentId: string, token?: string) {
  const r = await server.gql(PROMOTE, { i: { environmentId } }, token);
  expect(r.errors).toBeUndefined();
  return r.data.promote;
}

describe('decisions from the first moment', () => {
  it('answers promote into an APPROVAL_REQUIRED environment with PENDING_APPROVAL and its event', async () => {
    const p = await pipeline('first-answer');
    const created = await promote(p.production);
    expect(created.status).toBe('PENDING_APPROVAL');
    expect(created.events.map((e: any) => [e.type, e.status])).toEqual([
      ['CREATED', 'QUEUED'],
      ['APPROVAL_REQUESTED', 'PENDING_APPROVAL'],
    ]);
    // The same through the project's own read, at once.
    const read = await server.gql(
      `{ project(slug: "first-answer") { environment(slug: "production") { activeDeployment { id status } } } }`,
    );
    expect(read.data.project.environment.activeDeployment).toEqual({ id: created.id, status: 'PENDING_APPROVAL' });
    const bob = await server.token('bob', ['APPROVER']);
    expect((await server.gql(APPROVE, { i: { deploymentId: created.id } }, bob)).errors).toBeUndefined();
    const done = await waitForStatus(server, created.id, ['SUCCEEDED']);
    expectGaplessEvents(done.events);
    // The workflow did not request approval a second time.
    expect(done.events.map((e: any) => e.type).slice(0, 4)).toEqual(['CREATED', 'APPROVAL_REQUESTED', 'APPROVED', 'STARTED']);
  });

  it('accepts an approval sent the moment promote answers, 50 times in a row', async () => {
    const p = await pipeline('first-approve');
    const bob = await server.token('bob', ['APPROVER']);
    const ids: string[] = [];
    for (let i = 0; i < 50; i++) {
      const created = await promote(p.production);
      expect(created.status).toBe('PENDING_APPROVAL');
      const approved = await server.gql(APPROVE, { i: { deploymentId: created.id, comment: `go ${i}` } }, bob);
      expect(approved.errors, `attempt ${i}`).toBeUndefined();
      expect(approved.data.approveDeployment.approvals).toEqual([{ approver: 'bob', decision: 'APPROVE', comment: `go ${i}` }]);
      expect(approved.data.approveDeployment.status).not.toBe('PENDING_APPROVAL');
      ids.push(created.id);
    }
    // Each runs in turn through production's queue; every one ends SUCCEEDED, approved once.
    for (const id of ids) {
      const done = await waitForStatus(server, id, ['SUCCEEDED'], 60_000);
      expect(done.events.filter((e: any) => e.type === 'APPROVED')).toHaveLength(1);
      expect(done.events.filter((e: any) => e.type === 'APPROVAL_REQUESTED')).toHaveLength(1);
      expectGaplessEvents(done.events);
    }
  }, 240_000);

  it('accepts a rejection sent the moment promote answers', async () => {
    const p = await pipeline('first-reject');
    const bob = await server.token('bob', ['APPROVER']);
    for (let i = 0; i < 10; i++) {
      const created = await promote(p.production);
      const rejected = await server.gql(REJECT, { i: { deploymentId: created.id, comment: 'no' } }, bob);
      expect(rejected.errors, `attempt ${i}`).toBeUndefined();
      expect(rejected.data.rejectDeployment.status).toBe('REJECTED');
    }
  }, 120_000);

  it('records exactly the quorum when 8 approvers race at the instant of creation', async () => {
    const p = await pipeline('first-quorum', { requiredApprovals: 3 });
    const tokens = await Promise.all(Array.from({ length: 8 }, (_, i) => server.token(`approver-${i}`, ['APPROVER'])));
    for (let round = 0; round < 5; round++) {
      const created = await promote(p.production);
      const results = await Promise.all(tokens.map((t) => server.gql(APPROVE, { i: { deploymentId: created.id } }, t)));
      const accepted = results.filter((r) => !r.errors);
      expect(accepted, `round ${round}`).toHaveLength(3);
      for (const refused of results.filter((r) => r.errors)) expect(codeOf(refused)).toBe('PRECONDITION_FAILED');
      const d = await deployment(server, created.id);
      expect(d.approvals).toHaveLength(3);
      expect(d.events.filter((e: any) => e.type === 'APPROVED')).toHaveLength(3);
      expect(new Set(d.approvals.map((a: any) => a.approver)).size).toBe(3);
    }
  }, 180_000);

  it('takes one decision per person when the same approver sends twice at once', async () => {
    const p = await pipeline('first-twice', { requiredApprovals: 2 });
    const bob = await server.token('bob', ['APPROVER']);
    const created = await promote(p.production);
    const both = await Promise.all([0, 1].map(() => server.gql(APPROVE, { i: { deploymentId: created.id } }, bob)));
    expect(both.filter((r) => !r.errors)).toHaveLength(1);
    expect(codeOf(both.find((r) => r.errors)!)).toBe('FORBIDDEN');
    const d = await deployment(server, created.id);
    expect(d.status).toBe('PENDING_APPROVAL');
    expect(d.approvals).toEqual([{ approver: 'bob', decision: 'APPROVE', comment: null }]);
  });

  it('refuses the requester at once, with a contract code, when self-approval is prevented', async () => {
    const p = await pipeline('first-self');
    const quinn = await server.token('quinn', ['QA', 'APPROVER']);
    const created = await promote(p.production, quinn);
    expect(codeOf(await server.gql(APPROVE, { i: { deploymentId: created.id } }, quinn))).toBe('FORBIDDEN');
    expect((await deployment(server, created.id)).approvals).toEqual([]);
  });
});

describe('cancellation from the first moment', () => {
  it('cancels a staging promotion sent the moment promote answers, 50 times in a row', async () => {
    const p = await pipeline('first-cancel');
    // Steps that take time: with none, a staging deployment nothing is ahead of ends in the very
    // workflow task that starts it (its transitions are local activities), before a cancel can
    // reach it, and the cancel is refused as too late.
    const slow = await server.gql(UPDATE_ENV, { i: { id: p.staging, deployTarget: { provider: 'SIMULATED', stepSeconds: 5 } } });
    expect(slow.errors).toBeUndefined();
    for (let i = 0; i < 50; i++) {
      const created = await promote(p.staging);
      const cancelled = await server.gql(CANCEL, { id: created.id });
      expect(cancelled.errors, `attempt ${i}: ${JSON.stringify(cancelled.errors)}`).toBeUndefined();
      expect(cancelled.data.cancelDeployment.status).toBe('CANCELLED');
      expect(cancelled.data.cancelDeployment.events.at(-1).type).toBe('CANCELLED');
    }
  }, 240_000);

  it('cancels a PENDING_APPROVAL, a WAITING (wait timer) and a pushed deployment the instant each exists', async () => {
    const p = await pipeline('first-cancel-kinds');
    const pending = await promote(p.production);
    const c1 = await server.gql(CANCEL, { id: pending.id });
    expect(c1.errors).toBeUndefined();
    expect(c1.data.cancelDeployment.status).toBe('CANCELLED');

    expect((await server.gql(UPDATE_ENV, { i: { id: p.staging, policy: { waitTimerSeconds: 30 } } })).errors).toBeUndefined();
    const waiting = await promote(p.staging);
    const c2 = await server.gql(CANCEL, { id: waiting.id });
    expect(c2.errors).toBeUndefined();
    expect(c2.data.cancelDeployment.status).toBe('CANCELLED');

    for (let i = 0; i < 10; i++) {
      const pushed = await push(server, p.id, `beef${String(i).padStart(4, '0')}`);
      const id = pushed.data.recordPush.deployments[0].id;
      const c3 = await server.gql(CANCEL, { id });
      // Cancelled, or (a fast SIMULATED deployment) already ended: a contract answer either way.
      if (c3.errors) expect(codeOf(c3)).toBe('PRECONDITION_FAILED');
      else expect(['CANCELLED', 'SUCCEEDED']).toContain(c3.data.cancelDeployment.status);
    }
  }, 120_000);

  it('answers a cancel and decisions racing on one deployment with contract codes only, and ends in one terminal state', async () => {
    const p = await pipeline('first-mixed', { requiredApprovals: 2 });
    const tokens = await Promise.all(Array.from({ length: 4 }, (_, i) => server.token(`a-${i}`, ['APPROVER'])));
    for (let round = 0; round < 5; round++) {
      const created = await promote(p.production);
      const results = await Promise.all([
        ...tokens.map((t) => server.gql(APPROVE, { i: { deploymentId: created.id } }, t)),
        server.gql(CANCEL, { id: created.id }),
      ]);
      for (const r of results) {
        expect(r.status).toBe(200);
        for (const e of r.errors ?? []) expect(CONTRACT_CODES).toContain(e.extensions?.code);
      }
      const d = await waitForStatus(server, created.id, ['CANCELLED', 'SUCCEEDED'], 30_000);
      expectGaplessEvents(d.events);
      expect(d.events.filter((e: any) => ['CANCELLED', 'SUCCEEDED'].includes(e.type))).toHaveLength(1);
    }
  }, 180_000);
});
