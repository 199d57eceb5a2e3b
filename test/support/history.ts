// A project with a long deployment history, and the SQL the API sends for it. Shared by the
// history plan test (test/integration/history-plans.test.ts) and bench/history.ts.
//
// The API runs in this process (Yoga's fetch, no HTTP, no Temporal: only reads are sent), on a
// database handle whose logger records every statement with its parameters, so the exact SQL of
// a GraphQL document can be EXPLAINed.
import { tmpdir } from 'node:os';
import { print, type DocumentNode } from 'graphql';
import type { PGlite } from '@electric-sql/pglite';
import { encodeBase64, encodeCursorTuple } from '@pothos/core';
import pino from 'pino';
import type postgres from 'postgres';
import { Registry } from 'prom-client';
import { createDatabase, type DatabaseHandle } from '../../db/client.ts';
import { signToken } from '../../server/auth.ts';
import { loadConfig } from '../../config/index.ts';
import type { Services } from '../../services/scope.ts';
import { createEventHub } from '../../live/hub.ts';
import { createGraphQLHandler } from '../../server/yoga.ts';

export interface Statement {
  sql: string;
  params: unknown[];
}

export interface HistoryApi {
  database: DatabaseHandle;
  services: Services;
  /** Statements sent since the last `take()`. */
  take(): Statement[];
  gql<T = any>(document: string | DocumentNode, variables?: Record<string, unknown>): Promise<T>;
  close(): Promise<void>;
}

const SECRET = 'history-secret-0123456789-0123456789-abcdef';

/** The API over a database (PostgreSQL at `url`, or in-memory PGlite without one). */
export async function startHistoryApi(url?: string, env: Record<string, string> = {}): Promise<HistoryApi> {
  let log: Statement[] = [];
  const database = await createDatabase({
    url,
    poolSize: 4,
    logger: { logQuery: (sql, params) => void log.push({ sql, params }) },
  });
  await database.migrate();
  const config = loadConfig({
    NODE_ENV: 'test',
    DATA_DIR: tmpdir(),
    JWT_SECRET: SECRET,
    LOG_LEVEL: 'warn',
    ...(url ? { DATABASE_URL: url } : {}),
    ...env,
  });
  const quiet = pino({ level: 'warn' });
  const services: Services = {
    config,
    database,
    log: quiet,
    metrics: new Registry(),
    events: createEventHub({ database, databaseUrl: url, log: quiet }),
  };
  const yoga = createGraphQLHandler(services);
  const token = await signToken(config.jwtSecret, 'history', ['ADMIN', 'DEVELOPER', 'QA']);
  return {
    database,
    services,
    take() {
      const taken = log;
      log = [];
      return taken;
    },
    async gql(document, variables = {}) {
      const query = typeof document === 'string' ? document : print(document);
      const response = await yoga.fetch('http://local/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ query, variables }),
      });
      const body = (await response.json()) as { data?: any; errors?: unknown[] };
      if (body.errors) throw new Error(JSON.stringify(body.errors));
      return body.data;
    },
    async close() {
      await services.events.stop();
      await database.close();
    },
  };
}

export interface History {
  projectId: string;
  projectSlug: string;
  environmentIds: Record<string, string>;
  /** A deployment with `longEvents` events (the event log of a long deployment). */
  longDeploymentId: string;
}

/**
 * A project with the default three environments and `deployments` finished deployments spread
 * over them (one INSERT ... SELECT from generate_series), one release per 10 deployments, a
 * PENDING_APPROVAL deployment in production, a RUNNING one in staging, a CREATED event for
 * every deployment and `longEvents` events for one of them; ANALYZEd.
 */
export async function seedHistory(api: HistoryApi, options: { slug: string; deployments: number; longEvents?: number }): Promise<History> {
  const created = await api.gql(`mutation($i: CreateProjectInput!) { createProject(input: $i) { id environments { id slug } } }`, {
    i: { slug: options.slug, name: options.slug },
  });
  const envs: { id: string; slug: string }[] = created.createProject.environments;
  const environmentIds = Object.fromEntries(envs.map((e) => [e.slug, Buffer.from(e.id, 'base64').toString().split(':')[1]!]));
  const { database } = api;
  const exec = (text: string) => rows(database, text);
  const projectId = (await rows(database, `select id from projects where slug = '${options.slug}'`))[0]!.id as string;
  const n = options.deployments;
  const releases = Math.max(1, Math.ceil(n / 10));
  // The environments in pipeline order as an array, to pick one per deployment.
  const envArray = `array['${environmentIds.development}','${environmentIds.staging}','${environmentIds.production}']::uuid[]`;
  await exec(`
    insert into releases (project_id, version, commit_sha, branch, message, author, created_at)
    select '${projectId}', 'v' || i, lpad(to_hex(i), 12, '0'), 'main', 'release ' || i, 'dev', now() - interval '1 hour' * (${releases} - i) - interval '1 day'
    from generate_series(1, ${releases}) i`);
  // A realistic pinned snapshot (~2 KB): settings, databases, secret versions.
  const snapshot = JSON.stringify({
    digest: 'f'.repeat(64),
    settingsVersion: 3,
    settings: {
      logLevel: 'INFO',
      featureFlags: Array.from({ length: 12 }, (_, i) => ({ key: `flag-${i}`, enabled: i % 2 === 0 })),
      rateLimit: { enabled: true, requestsPerMinute: 600 },
      corsOrigins: ['https://app.example.com', 'https://admin.example.com'],
      dataPolicy: 'TEST_DATA',
      performanceMonitoring: true,
      alerting: true,
      backupSchedule: '0 3 * * *',
      readReplicas: 2,
      runbookUrl: 'https://runbooks.example.com/app',
      securityHardening: true,
    },
    databases: Object.fromEntries(
      Array.from({ length: 6 }, (_, i) => [
        `db${i}`,
        { host: `db${i}.internal.example.com`, port: 5432, database: `app_${i}`, user: 'app', sslMode: 'require' },
      ]),
    ),
    secretVersions: Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`SECRET_${i}`, `0000000${i}-aaaa-bbbb-cccc-ddddeeeeffff`])),
    takenAt: '2026-01-01T00:00:00.000Z',
  }).replace(/'/g, "''");
  const steps = JSON.stringify(
    ['build', 'migrate', 'deploy', 'verify'].map((name) => ({
      name,
      status: 'SUCCEEDED',
      progress: 1,
      startedAt: '2026-01-01T00:00:00.000Z',
      finishedAt: '2026-01-01T00:00:01.000Z',
    })),
  );
  // Finished deployments, oldest first: i = 1 .. n, one minute apart, ending an hour ago.
  await exec(`
    insert into deployments (project_id, environment_id, release_id, kind, status, requested_by, steps, progress, snapshot, workflow_id, last_seq, queued_at, created_at, started_at, finished_at)
    select '${projectId}', (${envArray})[1 + i % 3], r.id, 'PUSH',
      (case when i % 10 = 0 then 'FAILED' when i % 23 = 0 then 'CANCELLED' else 'SUCCEEDED' end)::deployment_status,
      'dev', '${steps}'::jsonb, 1, '${snapshot}'::jsonb, '${options.slug}-' || i, 1,
      t, t, t + interval '1 second', t + interval '30 seconds'
    from generate_series(1, ${n}) i
    cross join lateral (select now() - interval '1 hour' - interval '1 minute' * (${n} - i) as t) ts
    join releases r on r.project_id = '${projectId}' and r.commit_sha = lpad(to_hex(1 + (i - 1) / 10), 12, '0')`);
  // Unfinished ones: production waits for approval, staging runs.
  await exec(`
    insert into deployments (project_id, environment_id, release_id, kind, status, requested_by, required_approvals, snapshot, workflow_id, last_seq, created_at, started_at)
    select '${projectId}', e.env::uuid, (select id from releases where project_id = '${projectId}' order by created_at desc limit 1), 'PROMOTION',
      e.status::deployment_status, 'dev', e.approvals, '${snapshot}'::jsonb, '${options.slug}-active-' || e.status, 1, now() - interval '1 minute', e.started
    from (values ('${environmentIds.production}', 'PENDING_APPROVAL', 1, null::timestamptz), ('${environmentIds.staging}', 'RUNNING', 0, now())) e(env, status, approvals, started)`);
  // The long deployment: the newest finished one of development.
  const longDeploymentId = (
    await rows(
      database,
      `select id from deployments where environment_id = '${environmentIds.development}' and status = 'SUCCEEDED' order by finished_at desc limit 1`,
    )
  )[0]!.id as string;
  const longEvents = options.longEvents ?? 0;
  await exec(`
    insert into deployment_events (deployment_id, project_id, seq, type, status, message, idempotency_key, created_at)
    select id, project_id, 1, 'CREATED', 'QUEUED', 'PUSH requested by dev', 'created', created_at from deployments where project_id = '${projectId}'`);
  if (longEvents > 1) {
    await exec(`
      insert into deployment_events (deployment_id, project_id, seq, type, status, step, progress, message, created_at)
      select '${longDeploymentId}', '${projectId}', s, 'LOG', 'RUNNING', 'deploy', 0.5, 'line ' || s, now() - interval '1 hour' + interval '1 millisecond' * s
      from generate_series(2, ${longEvents}) s`);
    await exec(`update deployments set last_seq = ${longEvents} where id = '${longDeploymentId}'`);
  }
  await exec(`analyze`);
  return { projectId, projectSlug: options.slug, environmentIds, longDeploymentId };
}

/** Rows of a raw query with $n parameters, on either driver. */
export async function rows(database: DatabaseHandle, text: string, params: unknown[] = []): Promise<Record<string, any>[]> {
  const client = (database.db as unknown as { $client: unknown }).$client;
  if (database.kind === 'postgres') return [...(await (client as postgres.Sql).unsafe(text, params as never[]))];
  return (await (client as PGlite).query<Record<string, any>>(text, params)).rows;
}

/** EXPLAIN (FORMAT JSON[, ANALYZE, BUFFERS]) of a captured statement: the plan's root node. */
export async function explainJson(database: DatabaseHandle, s: Statement, analyze = false): Promise<PlanNode> {
  const [row] = await rows(database, `explain (format json${analyze ? ', analyze, buffers' : ''}) ${s.sql}`, s.params);
  const value = row!['QUERY PLAN'];
  const plan = typeof value === 'string' ? JSON.parse(value) : value;
  return plan[0].Plan as PlanNode;
}

/** EXPLAIN (ANALYZE, BUFFERS) as text. */
export async function explainText(database: DatabaseHandle, s: Statement): Promise<string> {
  const result = await rows(database, `explain (analyze, buffers) ${s.sql}`, s.params);
  return result.map((r) => r['QUERY PLAN']).join('\n');
}

export interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  Plans?: PlanNode[];
  [key: string]: unknown;
}

/** Every node of a plan, depth first. */
export function planNodes(node: PlanNode): PlanNode[] {
  return [node, ...(node.Plans ?? []).flatMap(planNodes)];
}

/**
 * What is wrong with a plan over `tables`: sequential scans of them, and sorts of their rows (a
 * Sort whose key is a column of one of them as scanned beneath it; an unqualified key counts when
 * one of them is scanned beneath). A Sort of other rows that merely joins them laterally (the
 * three environments of a pipeline, say) is not a sort over them.
 */
export function planProblems(root: PlanNode, tables: string[]): string[] {
  const problems: string[] = [];
  for (const node of planNodes(root)) {
    if (node['Node Type'] === 'Seq Scan' && tables.includes(node['Relation Name'] ?? ''))
      problems.push(`Seq Scan on ${node['Relation Name']}`);
    if (node['Node Type'] !== 'Sort' && node['Node Type'] !== 'Incremental Sort') continue;
    const scanned = planNodes(node).filter((n) => n['Relation Name'] && tables.includes(n['Relation Name']));
    const aliases = new Set(scanned.map((n) => String(n.Alias ?? n['Relation Name'])));
    const keys = (node['Sort Key'] as string[] | undefined) ?? [];
    const sortsThem = keys.some((key) => {
      const qualifier = /^"?([A-Za-z_][A-Za-z0-9_]*)"?\./.exec(key)?.[1];
      return qualifier ? aliases.has(qualifier) : scanned.length > 0;
    });
    if (sortsThem)
      problems.push(`${node['Node Type']} (${keys.join(', ')}) of ${[...new Set(scanned.map((n) => n['Relation Name']))].join(', ')}`);
  }
  return problems;
}

/** $1, $2, ... of a statement as SQL literals (EXECUTE arguments of a prepared statement). */
export function bind(text: string, params: unknown[]): string {
  const literal = (v: unknown): string => {
    if (v === null || v === undefined) return 'null';
    if (typeof v === 'number' || typeof v === 'bigint') return String(v);
    if (typeof v === 'boolean') return v ? 'true' : 'false';
    if (v instanceof Date) return `'${v.toISOString()}'`;
    if (typeof v === 'object') return `'${JSON.stringify(v).replace(/'/g, "''")}'`;
    return `'${String(v).replace(/'/g, "''")}'`;
  };
  return text.replace(/\$(\d+)\b/g, (_, i: string) => literal(params[Number(i) - 1]));
}

/**
 * The cursor @pothos/plugin-drizzle issues for a row of a connection ordered by `createdAt`
 * (tie-broken by `id`): base64 of `DC:` and the tagged tuple, `T:["D:<epoch ms>","S:<id>"]`,
 * written with the same @pothos/core helpers the plugin's `getCursorFormatter` uses.
 */
export function createdAtCursor(row: { created_at: Date; id: string }): string {
  return encodeBase64(`DC:${encodeCursorTuple([row.created_at, row.id])}`);
}

export interface ScanReads {
  index: string | undefined;
  /** Rows the scan handed up plus rows it read and filtered out, over all its loops. */
  read: number;
  indexCond: string | undefined;
  filter: string | undefined;
}

/** Every scan of `table` in an EXPLAIN ANALYZE plan, with the rows it read. */
export function scanReads(root: PlanNode, table: string): ScanReads[] {
  return planNodes(root)
    .filter((n) => n['Relation Name'] === table)
    .map((n) => {
      const loops = Number(n['Actual Loops'] ?? 1);
      const perLoop =
        Number(n['Actual Rows'] ?? 0) + Number(n['Rows Removed by Filter'] ?? 0) + Number(n['Rows Removed by Index Recheck'] ?? 0);
      return {
        index: n['Index Name'],
        read: Math.round(perLoop * loops),
        indexCond: n['Index Cond'] as string | undefined,
        filter: n.Filter as string | undefined,
      };
    });
}
