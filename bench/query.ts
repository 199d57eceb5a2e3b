// The console's pipeline page: its own `Pipeline` document (console/src/operations.ts) against
// Stageplane on real PostgreSQL, on a project with a realistic history (3,000 deployments over
// 300 releases, secrets and database connections set), vs a bare Yoga answering the same JSON
// from memory, interleaved at each connection count. Prints rps, latency p50/p99, the ratio,
// and SQL statements per request counted twice: by the driver's logger (/metrics) and by
// pg_stat_statements on a private PostgreSQL 15 cluster started for the run (bench/postgres.ts;
// when it cannot start, the run says so and counts by the logger alone, on the shared server).
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { print } from 'graphql';
import { PIPELINE as PIPELINE_DOCUMENT } from '../console/src/operations.ts';
import { freePort } from '../server/temporal.ts';
import { seedHistory, startHistoryApi } from '../test/support/history.ts';
import { startIssuer } from '../test/support/oidc-issuer.ts';
import { counter, gqlAt, jwtFor, JWT_SECRET, printVerdicts, startRig, writeResult } from './lib.ts';
import { startPrivatePostgres } from './postgres.ts';

const PIPELINE = print(PIPELINE_DOCUMENT);
const DURATION = Number(process.env.BENCH_SECONDS ?? 10);
const DEPLOYMENTS = Number(process.env.BENCH_DEPLOYMENTS ?? 3000);
const CONNECTIONS = [1, 10, 50];
const SAMPLE = 50;

/** History in SQL (test/support/history.ts), then secrets and database connections through the API. */
async function seed(dbUrl: string, url: string, token: string) {
  const history = await startHistoryApi(dbUrl);
  try {
    await seedHistory(history, { slug: 'bench', deployments: DEPLOYMENTS });
  } finally {
    await history.close();
  }
  const gql = async (query: string, variables: Record<string, unknown>) => {
    const r = await gqlAt(url, token, query, variables);
    if (r.errors) throw new Error(JSON.stringify(r.errors));
    return r.data;
  };
  const projectId = (await gql(`query { project(slug: "bench") { id } }`, {})).project.id;
  const envs = ['development', 'staging', 'production'];
  for (let i = 0; i < 8; i++) {
    const secret = await gql(`mutation($i: CreateSecretInput!) { createSecret(input: $i) { id } }`, {
      i: { projectId, name: `SECRET_${i}` },
    });
    // Production misses one secret: its policy report then has a failing check, as real ones do.
    for (const environment of i === 7 ? envs.slice(0, 2) : envs)
      await gql(`mutation($i: SetSecretValueInput!) { setSecretValue(input: $i) { isSet } }`, {
        i: { secretId: secret.createSecret.id, environment, value: `value-${i}-${environment}` },
      });
  }
  for (let i = 0; i < 3; i++) {
    const c = await gql(`mutation($i: CreateDatabaseConnectionInput!) { createDatabaseConnection(input: $i) { id } }`, {
      i: { projectId, name: `db${i}` },
    });
    for (const environment of envs)
      await gql(`mutation($i: SetDatabaseConnectionValueInput!) { setDatabaseConnectionValue(input: $i) { port } }`, {
        i: {
          connectionId: c.createDatabaseConnection.id,
          environment,
          host: `db${i}.${environment}.internal`,
          database: `app${i}`,
          user: 'app',
          ssl: environment === 'production',
          passwordSecret: 'SECRET_0',
        },
      });
  }
}

async function load(url: string, connections: number, headers: Record<string, string>) {
  const body = JSON.stringify({ query: PIPELINE, variables: { slug: 'bench' } });
  const r = await autocannon({
    url: `${url}/graphql`,
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body,
    connections,
    duration: DURATION,
  });
  if (r.errors || r.non2xx) throw new Error(`${r.errors} errors, ${r.non2xx} non-2xx responses`);
  return { rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, requests: r.requests.total };
}

const pg = await startPrivatePostgres();
const statsAvailable = 'adminUrl' in pg;
if (!statsAvailable) console.warn(`pg_stat_statements unavailable (${pg.unavailable}): counting by the driver's logger only`);
// BENCH_TOKEN=oidc: the load's bearer is an RS256 token of a real OIDC issuer on 127.0.0.1
// (OIDC_ISSUER), so the figure includes its routing and the verified-token cache (server/oidc.ts).
const oidc = process.env.BENCH_TOKEN === 'oidc' ? await startIssuer([{ alg: 'RS256', kid: 'bench' }]) : null;
// BENCH_RESPONSE_CACHE=off: every request planned and executed (server/response-cache.ts off).
const cacheOff = process.env.BENCH_RESPONSE_CACHE === 'off';
const rig = await startRig(
  { ...(oidc ? { OIDC_ISSUER: oidc.url, OIDC_AUDIENCE: 'stageplane-bench' } : {}), ...(cacheOff ? { RESPONSE_CACHE_ENTRIES: '0' } : {}) },
  statsAvailable ? pg.adminUrl : undefined,
);
const rows: Record<string, unknown>[] = [];
try {
  const token = oidc
    ? await oidc.token({ sub: 'bench', aud: 'stageplane-bench', roles: ['ADMIN', 'DEVELOPER', 'QA'] })
    : await jwtFor(JWT_SECRET, 'bench', ['ADMIN', 'DEVELOPER', 'QA']);
  await seed(rig.db.url, rig.api.url, token);
  const answer = await gqlAt(rig.api.url, token, PIPELINE, { slug: 'bench' });
  if (answer.errors) throw new Error(JSON.stringify(answer.errors));
  const file = join(tmpdir(), 'stageplane-bench-pipeline.json');
  writeFileSync(file, JSON.stringify(answer.data));
  const port = await freePort();
  const bare = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'bare-yoga.ts'), String(port), file], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((res) => bare.stdout!.once('data', () => res()));
  const bareUrl = `http://127.0.0.1:${port}`;
  const same = await (
    await fetch(`${bareUrl}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: PIPELINE, variables: { slug: 'bench' } }),
    })
  ).json();
  if (JSON.stringify(same) !== JSON.stringify({ data: answer.data })) throw new Error('the baseline does not answer the same JSON');

  // SQL statements per request: the driver's logger (/metrics) and pg_stat_statements, over the
  // same SAMPLE sequential requests; both also over an idle window of the same length first, so
  // statements the process sends on its own (readiness, LISTEN, the notification relay's poll)
  // are subtracted.
  const database = new URL(rig.db.url).pathname.slice(1);
  let idle = 0;
  const t0 = performance.now();
  if (statsAvailable) await pg.reset();
  const idleBefore = await counter(rig.api.url, 'stageplane_sql_statements_total');
  const tIdle = performance.now();
  for (let i = 0; i < SAMPLE; i++) await gqlAt(rig.api.url, token, `{ __typename }`); // no SQL of its own
  await new Promise((r) => setTimeout(r, Math.max(0, performance.now() - tIdle)));
  const idleLogged = (await counter(rig.api.url, 'stageplane_sql_statements_total')) - idleBefore;
  const idleMs = performance.now() - tIdle;
  if (statsAvailable) {
    idle = (await pg.statements(database)).reduce((n, s) => n + s.calls, 0);
    await pg.reset();
  }
  const before = await counter(rig.api.url, 'stageplane_sql_statements_total');
  const tSample = performance.now();
  for (let i = 0; i < SAMPLE; i++) await gqlAt(rig.api.url, token, PIPELINE, { slug: 'bench' });
  // The idle window's rate, scaled to the sample's length.
  const background = (idleLogged * (performance.now() - tSample)) / idleMs;
  const logged = Number((((await counter(rig.api.url, 'stageplane_sql_statements_total')) - before - background) / SAMPLE).toFixed(2));
  let byStats: number | null = null;
  let topStatements: { calls: number; query: string }[] = [];
  if (statsAvailable) {
    // The /metrics reads above are not SQL; the idle window was as long as the sample or longer.
    topStatements = await pg.statements(database);
    byStats = Number(((topStatements.reduce((n, s) => n + s.calls, 0) - idle) / SAMPLE).toFixed(2));
    console.log(`pg_stat_statements over ${SAMPLE} requests (${(performance.now() - t0).toFixed(0)} ms, idle window: ${idle}):`);
    for (const s of topStatements.slice(0, 6))
      console.log(`  ${String(s.calls).padStart(5)}  ${s.query.replace(/\s+/g, ' ').slice(0, 110)}`);
  }
  console.log(`SQL statements per request: ${logged} by the driver's logger, ${byStats ?? 'n/a'} by pg_stat_statements`);

  const outcomes = async () =>
    Object.fromEntries(
      await Promise.all(
        (['hit', 'stale', 'miss'] as const).map(async (o) => [
          o,
          await counter(rig.api.url, `stageplane_response_cache_total{outcome="${o}"}`),
        ]),
      ),
    ) as Record<'hit' | 'stale' | 'miss', number>;
  const cacheBefore = await outcomes();
  for (const connections of CONNECTIONS) {
    await load(rig.api.url, connections, { authorization: `Bearer ${token}` }); // warm-up, not counted
    await load(bareUrl, connections, {});
    // Interleaved halves, so drift on a shared machine hits both alike.
    const a = await load(rig.api.url, connections, { authorization: `Bearer ${token}` });
    const b = await load(bareUrl, connections, {});
    rows.push({
      connections,
      rps: Math.round(a.rps),
      p50_ms: a.p50,
      p99_ms: a.p99,
      bare_rps: Math.round(b.rps),
      bare_p50_ms: b.p50,
      bare_p99_ms: b.p99,
      ratio: Number((a.rps / b.rps).toFixed(2)),
    });
    console.table(rows);
  }
  bare.kill();
  const cacheAfter = await outcomes();
  const cache = Object.fromEntries(Object.entries(cacheAfter).map(([k, v]) => [k, v - cacheBefore[k as keyof typeof cacheBefore]]));
  console.log(`response cache ${cacheOff ? 'off' : 'on'} during the load: ${JSON.stringify(cache)}`);
  const statements = byStats ?? logged;
  const verdicts = [
    ...rows.map((r) => ({
      target: `rps >= 0.5x bare Yoga at ${r.connections} connection(s)`,
      measured: `${r.ratio}x`,
      met: (r.ratio as number) >= 0.5,
    })),
    { target: '<= 2 SQL statements per request (driver logger)', measured: String(logged), met: logged <= 2 },
    ...(byStats === null
      ? []
      : [{ target: '<= 2 SQL statements per request (pg_stat_statements)', measured: String(byStats), met: byStats <= 2 }]),
  ];
  printVerdicts('query', verdicts);
  writeResult(`${oidc ? 'query-oidc' : 'query'}${cacheOff ? '-uncached' : ''}`, {
    token: oidc ? 'OIDC (RS256, OIDC_ISSUER)' : 'JWT_SECRET (HS256)',
    responseCache: cacheOff ? 'off' : 'on',
    cacheOutcomes: cache,
    durationSeconds: DURATION,
    deployments: DEPLOYMENTS,
    target: 'ratio >= 0.5, <= 2 SQL statements',
    sqlPerRequest: { driverLogger: logged, pgStatStatements: byStats, statementsCountedBy: statsAvailable ? 'both' : 'driver logger only' },
    topStatements: topStatements.slice(0, 10),
    rows,
    verdicts,
    statements,
  });
} finally {
  await rig.close();
  await oidc?.stop();
  if (statsAvailable) await pg.stop();
}
