// Project.insights on a sizeable history reads its range off the deployments' rows, index-only:
// EXPLAIN (FORMAT JSON) of the exact statement the API sent for a GraphQL request, for a short
// and a year-long range. No sequential scan of deployments or deployment_events, whatever the
// range, and the event log is read only for the deployments decided more than once; nothing is timed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../support/database.ts';
import type postgres from 'postgres';
import { bind, explainJson, planNodes, rows, startHistoryApi, type HistoryApi, type PlanNode, type Statement } from '../support/history.ts';
import { seedInsightsHistory } from '../support/insights-history.ts';

const DEPLOYMENTS = 20_000;
const END = new Date('2026-06-01T00:00:00Z');

let api: HistoryApi;
let drop: () => Promise<void>;

beforeAll(async () => {
  const db = await createTestDatabase();
  drop = db.drop;
  api = await startHistoryApi(db.url);
  const created = await api.gql(`mutation { createProject(input: { slug: "plans", name: "Plans" }) { environments { id } } }`);
  const ids = created.createProject.environments.map((e: { id: string }) => Buffer.from(e.id, 'base64').toString().split(':')[1]!);
  const projectId = (await rows(api.database, `select id from projects where slug = 'plans'`))[0]!.id as string;
  await seedInsightsHistory(api.database, { projectId, environmentIds: ids, deployments: DEPLOYMENTS, days: 365, end: END });
}, 240_000);
afterAll(async () => {
  await api?.close();
  await drop?.();
});

/**
 * The generic plan of a statement (what a prepared statement may switch to after five runs: the
 * API runs this one outside a transaction, prepared), as history-plans.test.ts reads it.
 */
async function genericPlan(s: Statement): Promise<PlanNode> {
  const client = (api.database.db as unknown as { $client: postgres.Sql }).$client;
  const session = await client.reserve();
  let prepared = false;
  try {
    await session.unsafe('set plan_cache_mode = force_generic_plan');
    await session.unsafe(`prepare insights_plan as ${s.sql}`);
    prepared = true;
    const args = s.params.length ? `(${bind(s.params.map((_, i) => `$${i + 1}`).join(', '), s.params)})` : '';
    const [row] = await session.unsafe(`explain (format json) execute insights_plan${args}`);
    return (row!['QUERY PLAN'] as { Plan: PlanNode }[])[0]!.Plan;
  } finally {
    if (prepared) await session.unsafe('deallocate insights_plan');
    await session.unsafe('reset plan_cache_mode');
    session.release();
  }
}

describe(`insights at ${DEPLOYMENTS.toLocaleString('en')} deployments`, () => {
  for (const days of [7, 366]) {
    it(`a ${days}-day range is an index-only range scan of the outcomes and of the decisions`, async () => {
      const from = new Date(END.getTime() - days * 86_400_000);
      api.take();
      const data = await api.gql(
        `query($from: DateTime!, $to: DateTime!) { project(slug: "plans") { insights(environment: "production", from: $from, to: $to) { deployments series { day } } } }`,
        { from: from.toISOString(), to: END.toISOString() },
      );
      expect(data.project.insights.deployments).toBeGreaterThan(0);
      expect(data.project.insights.series).toHaveLength(days);
      const statements = api.take().filter((s) => s.sql.includes('outcome_at'));
      expect(statements).toHaveLength(1);
      for (const plan of [await explainJson(api.database, statements[0]!), await genericPlan(statements[0]!)]) expectRangeScan(plan);
    });
  }
});

function expectRangeScan(plan: PlanNode) {
  const nodes = planNodes(plan);
  expect(nodes.filter((n) => n['Node Type'] === 'Seq Scan').map((n) => n['Relation Name'])).toEqual([]);
  const using = (index: string) => nodes.filter((n) => n['Index Name'] === index);
  // The outcomes (read twice: for the measures, and per day for the series) and the decisions:
  // ranges of the environment's instants, answered from the index alone.
  const outcomes = using('deployments_environment_outcome_idx');
  expect(outcomes.map((n) => n['Node Type'])).toEqual(['Index Only Scan', 'Index Only Scan']);
  for (const n of outcomes) expect(n['Index Cond']).toMatch(/environment_id = .*outcome_at >= .*outcome_at </);
  const decided = using('deployments_environment_decided_idx');
  expect(decided.map((n) => n['Node Type'])).toEqual(['Index Only Scan']);
  expect(decided[0]!['Index Cond']).toMatch(/environment_id = .*approval_decided_at >= .*approval_decided_at </);
  // The few decided more than once, on their partial index; each one's own events after it.
  expect(using('deployments_environment_redecided_idx')).toHaveLength(1);
  const eventLog = nodes.filter(
    (n) => n['Relation Name'] === 'deployment_events' || String(n['Index Name'] ?? '').startsWith('deployment_events'),
  );
  expect(eventLog.length).toBeGreaterThan(0);
  for (const n of eventLog) expect(String(n['Index Cond'] ?? n['Recheck Cond'])).toMatch(/deployment_id = /);
}
