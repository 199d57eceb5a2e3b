// Every "latest / active / first N" read of a long deployment history is an index range scan
// stopped by its limit: with 100,000 deployments in the project, no statement the API sends for
// these reads plans a sequential scan of deployments (or deployment_events) or a sort over them.
// The plans are read with EXPLAIN (FORMAT JSON) of the exact SQL the server sent; nothing is timed.
import { asyncLocalStorage } from '@temporalio/activity';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type postgres from 'postgres';
import { PIPELINE } from '../../console/src/operations.ts';
import { appendDeploymentEvent } from '../../db/event-log.ts';
import { createDeploymentActivities } from '../../workflows/activities/deployment.ts';
import { createTestDatabase } from '../support/database.ts';
import {
  bind,
  createdAtCursor,
  explainJson,
  planNodes,
  planProblems,
  rows,
  scanReads,
  seedHistory,
  startHistoryApi,
  type History,
  type HistoryApi,
  type PlanNode,
  type Statement,
} from '../support/history.ts';

const DEPLOYMENTS = 100_000;
const LONG_EVENTS = 20_000;

let api: HistoryApi;
let history: History;
let dropDb: () => Promise<void>;

beforeAll(async () => {
  const db = await createTestDatabase();
  dropDb = db.drop;
  api = await startHistoryApi(db.url);
  history = await seedHistory(api, { slug: 'history', deployments: DEPLOYMENTS, longEvents: LONG_EVENTS });
}, 240_000);
afterAll(async () => {
  await api?.close();
  await dropDb?.();
});

const gid = (type: string, id: string) => Buffer.from(`${type}:${id}`).toString('base64');
const touches = (s: Statement, table: string) => s.sql.includes(`"${table}"`);

/**
 * The plan of a statement, as PostgreSQL would run it for these parameters (a custom plan) and
 * as a prepared statement's generic plan, which the API's prepared statements may switch to.
 */
async function plans(s: Statement): Promise<{ custom: PlanNode; generic: PlanNode }> {
  const custom = await explainJson(api.database, s);
  const client = (api.database.db as unknown as { $client: postgres.Sql }).$client;
  const session = await client.reserve();
  let prepared = false;
  try {
    await session.unsafe('set plan_cache_mode = force_generic_plan');
    await session.unsafe(`prepare history_plan as ${s.sql}`);
    prepared = true;
    const args = s.params.length ? `(${bind(s.params.map((_, i) => `$${i + 1}`).join(', '), s.params)})` : '';
    const [row] = await session.unsafe(`explain (format json) execute history_plan${args}`);
    return { custom, generic: (row!['QUERY PLAN'] as { Plan: PlanNode }[])[0]!.Plan };
  } finally {
    // Only this one: `deallocate all` would also drop the statements postgres.js has prepared on
    // this pooled connection, and its next use of one of them (the event hub's load) would fail.
    if (prepared) await session.unsafe('deallocate history_plan');
    await session.unsafe('reset plan_cache_mode');
    session.release();
  }
}

/**
 * Fails on a sequential scan or a sort of `tables` in the plan of any statement that reads them.
 * `prepared`: the statements run outside a transaction, where the API prepares them, so their
 * generic plan must be bounded too (statements in transactions are sent unprepared and always
 * planned with their parameters).
 */
async function expectBounded(statements: Statement[], tables: string[], { prepared }: { prepared: boolean }) {
  const relevant = statements.filter((s) => tables.some((t) => touches(s, t)));
  expect(relevant.length).toBeGreaterThan(0);
  for (const s of relevant) {
    const { custom, generic } = await plans(s);
    expect({ sql: s.sql, problems: planProblems(custom, tables) }).toEqual({ sql: s.sql, problems: [] });
    if (prepared) expect({ sql: s.sql, generic: planProblems(generic, tables) }).toEqual({ sql: s.sql, generic: [] });
  }
  return relevant;
}

const indexesUsed = (node: PlanNode) => planNodes(node).flatMap((n) => (n['Index Name'] ? [n['Index Name']] : []));

describe(`history reads at ${DEPLOYMENTS.toLocaleString('en')} deployments`, () => {
  it("the console's Pipeline document: every statement over deployments is an index range scan", async () => {
    api.take();
    const data = await api.gql(PIPELINE, { slug: history.projectSlug });
    expect(data.project.environments).toHaveLength(3);
    const production = data.project.environments.find((e: { slug: string }) => e.slug === 'production');
    expect(production.activeDeployment.status).toBe('PENDING_APPROVAL');
    expect(production.currentRelease).not.toBeNull();
    expect(production.deployments.edges).toHaveLength(10);
    const relevant = await expectBounded(api.take(), ['deployments'], { prepared: true });
    const used = (await Promise.all(relevant.map(async (s) => indexesUsed(await explainJson(api.database, s))))).flat();
    expect(used).toEqual(
      expect.arrayContaining([
        'deployments_environment_succeeded_idx',
        'deployments_environment_unfinished_idx',
        'deployments_environment_created_idx',
        'deployments_project_created_idx',
      ]),
    );
    // A pipeline card does not carry the pinned snapshot.
    expect(relevant.some((s) => s.sql.includes('"snapshot"'))).toBe(false);
  });

  it('Environment.deployments and Project.deployments, newest first, on a later page (cursor)', async () => {
    const query = `query($slug: String!, $after: String) { project(slug: $slug) {
      deployments(first: 20, after: $after) { pageInfo { endCursor } edges { node { id status } } }
      environments { deployments(first: 20, after: $after) { pageInfo { endCursor } edges { node { id } } } }
    } }`;
    const first = await api.gql(query, { slug: history.projectSlug });
    const second = await api.gql(query, { slug: history.projectSlug, after: first.project.deployments.pageInfo.endCursor });
    expect(second.project.deployments.edges).toHaveLength(20);
    api.take();
    const environment = await api.gql(
      `query($id: ID!, $after: String) { node(id: $id) { ... on Environment { deployments(first: 20, after: $after) { edges { node { id kind } } } } } }`,
      { id: gid('Environment', history.environmentIds.staging!), after: first.project.environments[1].deployments.pageInfo.endCursor },
    );
    expect(environment.node.deployments.edges).toHaveLength(20);
    await api.gql(query, { slug: history.projectSlug, after: first.project.deployments.pageInfo.endCursor });
    await expectBounded(api.take(), ['deployments'], { prepared: true });
  });

  // A page after a cursor deep in the history: the scan starts at the cursor (an index condition
  // on created_at), not at the newest row, reading through every newer one to filter it out.
  // The pages around the cursor straddle a tie on created_at (same millisecond, order by id), so
  // the bound must include the cursor's own instant.
  const PAGE = 10;
  type PageVars = { first?: number; after?: string; last?: number; before?: string };
  const pageArgs = `$first: Int, $after: String, $last: Int, $before: String`;
  const pageOf = `(first: $first, after: $after, last: $last, before: $before)`;
  type Page = { pageInfo: { endCursor: string }; edges: { cursor: string; node: { id: string } }[] };
  const deepPageCases: {
    name: string;
    table: 'deployments' | 'releases';
    type: string;
    index: string;
    scope: () => { column: string; id: string };
    depth: number;
    page: (vars: PageVars) => Promise<Page>;
  }[] = [
    {
      name: 'Project.deployments',
      table: 'deployments',
      type: 'Deployment',
      index: 'deployments_project_created_idx',
      scope: () => ({ column: 'project_id', id: history.projectId }),
      depth: DEPLOYMENTS / 2,
      page: async (vars) =>
        (
          await api.gql(
            `query($slug: String!, ${pageArgs}) { project(slug: $slug) {
              deployments${pageOf} { pageInfo { endCursor } edges { cursor node { id } } } } }`,
            { slug: history.projectSlug, ...vars },
          )
        ).project.deployments,
    },
    {
      name: 'Environment.deployments',
      table: 'deployments',
      type: 'Deployment',
      index: 'deployments_environment_created_idx',
      scope: () => ({ column: 'environment_id', id: history.environmentIds.staging! }),
      depth: DEPLOYMENTS / 5,
      page: async (vars) =>
        (
          await api.gql(
            `query($id: ID!, ${pageArgs}) { node(id: $id) { ... on Environment {
              deployments${pageOf} { pageInfo { endCursor } edges { cursor node { id } } } } } }`,
            { id: gid('Environment', history.environmentIds.staging!), ...vars },
          )
        ).node.deployments,
    },
    {
      name: 'Project.releases',
      table: 'releases',
      type: 'Release',
      index: 'releases_project_created_idx',
      scope: () => ({ column: 'project_id', id: history.projectId }),
      depth: DEPLOYMENTS / 10 / 2,
      page: async (vars) =>
        (
          await api.gql(
            `query($slug: String!, ${pageArgs}) { project(slug: $slug) {
              releases${pageOf} { pageInfo { endCursor } edges { cursor node { id } } } } }`,
            { slug: history.projectSlug, ...vars },
          )
        ).project.releases,
    },
  ];

  for (const c of deepPageCases) {
    it(`${c.name}: a page after a deep cursor reads about a page of rows, not every newer one`, async () => {
      const { column, id } = c.scope();
      // created_at as epoch milliseconds (the column's precision), whatever the driver parses it to.
      const ordered = async (offset: number, limit: number) =>
        (
          await rows(
            api.database,
            `select id, (extract(epoch from created_at) * 1000)::bigint::text as ms from ${c.table}
             where ${column} = $1 order by created_at desc, id desc offset ${offset} limit ${limit}`,
            [id],
          )
        ).map((r) => ({ id: r.id as string, created_at: new Date(Number(r.ms)) }));
      // Positions depth+8 .. depth+13 share one instant: the second page's cursor (depth+10) is
      // inside the tie. The set of rows at those positions stays the same, only their order changes.
      const around = await ordered(c.depth, 14);
      const tied = around.slice(9, 14);
      const setCreatedAt = (at: Date, ids: string[]) =>
        rows(api.database, `update ${c.table} set created_at = $1::timestamptz where id = any(string_to_array($2, ',')::uuid[])`, [
          at.toISOString(),
          ids.join(','),
        ]);
      await setCreatedAt(
        around[8]!.created_at,
        tied.map((r) => r.id),
      );
      try {
        const expected = await ordered(c.depth, 1 + 2 * PAGE);
        expect(new Set(expected.slice(8, 14).map((r) => r.created_at.getTime())).size).toBe(1);
        const ids = (from: number) => expected.slice(from, from + PAGE).map((r) => gid(c.type, r.id));

        // The first page after the cursor of the row at `depth` (the plugin's own format: the
        // page's own cursors are written the same way).
        const first = await c.page({ first: PAGE, after: createdAtCursor(expected[0]!) });
        expect(first.edges.map((e) => e.node.id)).toEqual(ids(1));
        expect(first.edges.map((e) => e.cursor)).toEqual(expected.slice(1, 1 + PAGE).map(createdAtCursor));

        // The next one, after the cursor the server issued: no gap, no duplicate.
        api.take();
        const second = await c.page({ first: PAGE, after: first.pageInfo.endCursor });
        expect(second.edges.map((e) => e.node.id)).toEqual(ids(1 + PAGE));
        // And back: the page before the second one's first row is the first one.
        const back = await c.page({ last: PAGE, before: second.edges[0]!.cursor });
        expect(back.edges.map((e) => e.node.id)).toEqual(ids(1));
        const statements = api.take();

        const relevant = await expectBounded(statements, [c.table], { prepared: true });
        const scans = (await Promise.all(relevant.map(async (s) => scanReads(await explainJson(api.database, s, true), c.table)))).flat();
        expect(scans.map((s) => s.index)).toContain(c.index);
        // A page of 10 reads its 11 rows (one to tell whether there is a next page), plus the
        // rows of the tie before the cursor: a few dozen at most, however deep the cursor is.
        for (const scan of scans) expect({ scan, bounded: scan.read <= 50 }).toEqual({ scan, bounded: true });
        // A cursor that is not one is still the plugin's error.
        await expect(c.page({ first: PAGE, after: 'bm90LWEtY3Vyc29y' })).rejects.toThrow(/Invalid cursor/);
        await expect(c.page({ first: PAGE, after: 'not base64!' })).rejects.toThrow(/Invalid cursor/);
      } finally {
        for (const r of tied) await setCreatedAt(r.created_at, [r.id]);
      }
    });
  }

  it("Deployment.events of a long deployment, and deploymentEvents' replay after a seq", async () => {
    api.take();
    const data = await api.gql(`query($id: ID!) { deployment(id: $id) { id events(afterSeq: ${LONG_EVENTS / 2}, first: 100) { seq } } }`, {
      id: gid('Deployment', history.longDeploymentId),
    });
    expect(data.deployment.events).toHaveLength(100);
    expect(data.deployment.events[0].seq).toBe(LONG_EVENTS / 2 + 1);
    // A subscriber's replay pages: from the start, and from the middle of the log.
    expect(await api.services.events.readLog(history.longDeploymentId, 0, 500)).toHaveLength(500);
    expect(await api.services.events.readLog(history.longDeploymentId, LONG_EVENTS / 2, 500)).toHaveLength(500);
    await expectBounded(api.take(), ['deployments', 'deployment_events'], { prepared: true });
  });

  it('projectEvents: the live load of notified events', async () => {
    const hub = api.services.events;
    await hub.start();
    const feed = hub.followProject(history.projectId);
    const [running] = await rows(api.database, `select id from deployments where project_id = $1 and status = 'RUNNING'`, [
      history.projectId,
    ]);
    api.take();
    await api.database.db.transaction((tx) => appendDeploymentEvent(tx, running!.id, { type: 'LOG', status: 'RUNNING', message: 'hello' }));
    const next = await feed.next();
    expect(next.value?.message).toBe('hello');
    await feed.return();
    await expectBounded(api.take(), ['deployment_events'], { prepared: true });
  });

  it('the queue lease: who is ahead of a queued deployment', async () => {
    const [queued] = await rows(
      api.database,
      `insert into deployments (project_id, environment_id, release_id, kind, status, requested_by, snapshot, workflow_id)
       select project_id, environment_id, release_id, 'MANUAL', 'QUEUED', 'dev', snapshot, 'history-queued'
       from deployments where project_id = $1 and status = 'RUNNING' returning id`,
      [history.projectId],
    );
    const activities = createDeploymentActivities({
      db: api.database.db,
      log: pino({ level: 'silent' }),
      webhookSecret: undefined,
      callbackKey: new Uint8Array(32),
      publicUrl: 'http://127.0.0.1:1',
    });
    // One pass of the lease loop: the activity sleeps after finding someone ahead; stop it there.
    const stop = new Error('one pass');
    const context = { heartbeat() {}, sleep: async () => Promise.reject(stop), info: {} };
    api.take();
    await expect(asyncLocalStorage.run(context as never, () => activities.acquireLease(queued!.id))).rejects.toBe(stop);
    const statements = api.take();
    const ahead = statements.filter((s) => s.sql.includes('"queued_at" is not null'));
    expect(ahead).toHaveLength(1);
    await expectBounded(ahead, ['deployments'], { prepared: false });
  });

  it('the rollback target and the promotion source: the release before the current one', async () => {
    const production = gid('Environment', history.environmentIds.production!);
    // The mutation needs Temporal to start the deployment; the reads it makes before are what is
    // checked here, so a missing workflow gateway ends it after them.
    api.take();
    await expect(
      api.gql(`mutation($i: RollbackInput!) { rollback(input: $i) { id } }`, { i: { environmentId: production } }),
    ).rejects.toThrow();
    const statements = api.take().filter((s) => s.sql.includes(`'SUCCEEDED'`) && touches(s, 'deployments'));
    expect(statements.length).toBeGreaterThanOrEqual(2);
    await expectBounded(statements, ['deployments'], { prepared: false });
  });
});
