// Project.insights on a project with 100,000 deployments (generated in SQL: ~9 events each, a year
// of history over three environments), for production over 7, 30, 90 and 366 days. Each range is
// measured against a baseline in the same run: a plain count(*) of the same rows (the
// environment's deployments whose outcome is in the range, on the index the statement reads).
// Prints p50/p99 of the insights statement, of the whole GraphQL request, of the baseline, and
// the ratio statement/baseline; writes EXPLAIN (ANALYZE, BUFFERS) of each range's statement to
// bench/results/insights-explain.txt. The goal is a p50 under 50 ms; nothing here asserts it.
//
//   npm run bench:insights            (BENCH_DEPLOYMENTS, BENCH_ITERATIONS to change the sizes)
//
// PostgreSQL: a fresh database on TEST_DATABASE_ADMIN_URL's server. The API runs in this process
// (test/support/history.ts: Yoga's fetch, no HTTP, no Temporal).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import { PgDialect } from 'drizzle-orm/pg-core';
import { insightsQuery } from '../services/insights.ts';
import { createTestDatabase } from '../test/support/database.ts';
import { rows, startHistoryApi } from '../test/support/history.ts';
import { seedInsightsHistory } from '../test/support/insights-history.ts';
import { percentile, printVerdicts, writeResult } from './lib.ts';

const DEPLOYMENTS = Number(process.env.BENCH_DEPLOYMENTS ?? 100_000);
const ITERATIONS = Number(process.env.BENCH_ITERATIONS ?? 50);
const DAYS = 365;
const END = new Date('2026-06-01T00:00:00Z');
const RANGES = [7, 30, 90, 366];

const INSIGHTS = `query($slug: String!, $env: String!, $from: DateTime!, $to: DateTime!) {
  project(slug: $slug) { insights(environment: $env, from: $from, to: $to) {
    deployments successes failures rollbacks deploymentsPerDay changeFailureRate
    leadTimeSeconds { p50 p90 } timeToRestoreSeconds { p50 p90 } approvalWaitSeconds { p50 p90 }
    series { day deployments failures }
  } } }`;

async function timed(n: number, run: () => Promise<unknown>) {
  for (let i = 0; i < 3; i++) await run();
  const latencies: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await run();
    latencies.push(performance.now() - t);
  }
  latencies.sort((a, b) => a - b);
  return { p50: Number(percentile(latencies, 50).toFixed(2)), p99: Number(percentile(latencies, 99).toFixed(2)) };
}

const db = await createTestDatabase();
// The response cache off: the GraphQL figure is the request computed, not a repeated read
// answered from memory (bench/query.ts measures that).
const api = await startHistoryApi(db.url, { RESPONSE_CACHE_ENTRIES: '0' });
try {
  const created = await api.gql(`mutation { createProject(input: { slug: "big", name: "Big" }) { environments { id slug } } }`);
  const ids = created.createProject.environments.map((e: { id: string }) => Buffer.from(e.id, 'base64').toString().split(':')[1]!);
  const projectId = (await rows(api.database, `select id from projects where slug = 'big'`))[0]!.id as string;
  const t0 = performance.now();
  await seedInsightsHistory(api.database, {
    projectId,
    environmentIds: ids as [string, string, string],
    deployments: DEPLOYMENTS,
    days: DAYS,
    end: END,
  });
  const [{ events }] = (await rows(api.database, `select count(*)::int as events from deployment_events`)) as [{ events: number }];
  console.log(`seeded ${DEPLOYMENTS} deployments, ${events} events in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  const production = ids[2]!;

  const table = [];
  let explain = `-- bench/insights.ts: EXPLAIN (ANALYZE, BUFFERS) of the insights statement, production, project with ${DEPLOYMENTS} deployments\n\n`;
  for (const days of RANGES) {
    const from = new Date(END.getTime() - days * 86_400_000);
    const query = insightsQuery(production, from, END);
    const statement = () => api.database.db.execute(query);
    const baseline = () =>
      api.database.db.execute(sql`select count(*) from deployments d where d.environment_id = ${production}
        and d.outcome_at >= ${from.toISOString()}::timestamptz and d.outcome_at < ${END.toISOString()}::timestamptz`);
    const request = () => api.gql(INSIGHTS, { slug: 'big', env: 'production', from: from.toISOString(), to: END.toISOString() });
    const answer = (await request()).project.insights;
    // Alternate, so drift hits both alike.
    const b1 = await timed(ITERATIONS / 2, baseline);
    const s1 = await timed(ITERATIONS / 2, statement);
    const b2 = await timed(ITERATIONS / 2, baseline);
    const s2 = await timed(ITERATIONS / 2, statement);
    const g = await timed(ITERATIONS, request);
    const base = Math.min(b1.p50, b2.p50);
    const stmt = Math.min(s1.p50, s2.p50);
    table.push({
      days,
      deployments: answer.deployments,
      baseline_p50_ms: base,
      insights_p50_ms: stmt,
      insights_p99_ms: Math.max(s1.p99, s2.p99),
      graphql_p50_ms: g.p50,
      ratio: Number((stmt / base).toFixed(2)),
    });
    const dialect = new PgDialect().sqlToQuery(query);
    const text = await rows(api.database, `explain (analyze, buffers) ${dialect.sql}`, dialect.params);
    explain += `-- ${days} days\n${text.map((r) => r['QUERY PLAN']).join('\n')}\n\n`;
  }
  console.table(table);
  console.log('target: insights p50 < 50 ms; ratio = insights statement / count(*) of the same rows');
  mkdirSync(join(import.meta.dirname, 'results'), { recursive: true });
  const file = join(import.meta.dirname, 'results', 'insights-explain.txt');
  writeFileSync(file, explain);
  console.log(`wrote ${file}`);
  const verdicts = table.map((r) => ({
    target: `${r.days} days of ${DEPLOYMENTS} deployments: statement p50 < 50 ms`,
    measured: `${r.insights_p50_ms} ms (p99 ${r.insights_p99_ms} ms; GraphQL request p50 ${r.graphql_p50_ms} ms)`,
    met: r.insights_p50_ms < 50,
  }));
  printVerdicts('insights', verdicts);
  writeResult('insights', { deployments: DEPLOYMENTS, events, iterations: ITERATIONS, target: 'p50 < 50 ms', rows: table, verdicts });
} finally {
  await api.close();
  await db.drop();
}
