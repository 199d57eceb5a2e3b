// The console's pipeline page as history grows: its own Pipeline document (console/src/operations.ts)
// on a project with 10 deployments and on one with 100,000 (generated in SQL), same process, same
// database. Prints rps and p50 at each size and the ratio (the target: 100,000 costs at most 1.2x
// what 10 costs), and writes EXPLAIN (ANALYZE, BUFFERS) of every statement of the large project's
// request to bench/results/history-<driver>-explain.txt.
//
//   npx tsx bench/history.ts            PostgreSQL (a fresh database on TEST_DATABASE_ADMIN_URL's server)
//   npx tsx bench/history.ts pglite     embedded PGlite, in memory
//
// The API runs in this process (test/support/history.ts: Yoga's fetch, no HTTP, no Temporal), one
// request at a time, so the figures are the cost of the request itself.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PIPELINE } from '../console/src/operations.ts';
import { createTestDatabase } from '../test/support/database.ts';
import { explainText, seedHistory, startHistoryApi, type HistoryApi } from '../test/support/history.ts';
import { percentile, writeResult } from './lib.ts';

const driver = process.argv[2] === 'pglite' ? 'pglite' : 'postgres';
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const LARGE = Number(process.env.BENCH_DEPLOYMENTS ?? 100_000);

/** Sequential requests for `seconds`: rps and latency percentiles. */
async function measure(api: HistoryApi, slug: string, seconds: number) {
  const latencies: number[] = [];
  const end = performance.now() + seconds * 1000;
  while (performance.now() < end) {
    const t = performance.now();
    await api.gql(PIPELINE, { slug });
    latencies.push(performance.now() - t);
  }
  latencies.sort((a, b) => a - b);
  const total = latencies.reduce((a, b) => a + b, 0);
  return {
    rps: Math.round((latencies.length / total) * 1000 * 10) / 10,
    p50_ms: Number(percentile(latencies, 50).toFixed(2)),
    p99_ms: Number(percentile(latencies, 99).toFixed(2)),
  };
}

const db = driver === 'postgres' ? await createTestDatabase() : null;
const api = await startHistoryApi(db?.url);
try {
  const t0 = performance.now();
  await seedHistory(api, { slug: 'small', deployments: 10, longEvents: 0 });
  await seedHistory(api, { slug: 'large', deployments: LARGE, longEvents: 0 });
  console.log(`seeded 10 + ${LARGE} deployments in ${((performance.now() - t0) / 1000).toFixed(1)} s (${driver})`);

  // Warm both shapes (plans, caches), then alternate so drift hits both sizes alike.
  await measure(api, 'small', 1);
  await measure(api, 'large', 1);
  const small = await measure(api, 'small', SECONDS / 2);
  const large = await measure(api, 'large', SECONDS / 2);
  const small2 = await measure(api, 'small', SECONDS / 2);
  const large2 = await measure(api, 'large', SECONDS / 2);
  const rps = (a: { rps: number }, b: { rps: number }) => Math.round(((a.rps + b.rps) / 2) * 10) / 10;
  const rows = [
    {
      deployments: 10,
      rps: rps(small, small2),
      p50_ms: Math.min(small.p50_ms, small2.p50_ms),
      p99_ms: Math.max(small.p99_ms, small2.p99_ms),
    },
    {
      deployments: LARGE,
      rps: rps(large, large2),
      p50_ms: Math.min(large.p50_ms, large2.p50_ms),
      p99_ms: Math.max(large.p99_ms, large2.p99_ms),
    },
  ];
  const ratio = Number((rows[0]!.rps / rows[1]!.rps).toFixed(2));
  console.table(rows);
  console.log(`cost ratio (rps at 10 / rps at ${LARGE}): ${ratio} (target <= 1.2)`);

  // The statements of one large request, with their plans as executed.
  api.take();
  await api.gql(PIPELINE, { slug: 'large' });
  let text = `-- bench/history.ts (${driver}): EXPLAIN (ANALYZE, BUFFERS) of the Pipeline document's statements, project with ${LARGE} deployments\n\n`;
  for (const s of api.take()) {
    text += `-- ${s.sql}\n-- parameters: ${JSON.stringify(s.params)}\n${await explainText(api.database, s)}\n\n`;
  }
  mkdirSync(join(import.meta.dirname, 'results'), { recursive: true });
  const file = join(import.meta.dirname, 'results', `history-${driver}-explain.txt`);
  writeFileSync(file, text);
  console.log(`wrote ${file}`);
  writeResult(`history-${driver}`, { driver, seconds: SECONDS, target: 'ratio <= 1.2', ratio, rows });
} finally {
  await api.close();
  await db?.drop();
}
