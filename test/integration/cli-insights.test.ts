// `stageplane insights` end to end, in the style of cli.test.ts: the real CLI (cli/main.ts) as a
// child process against a real server and PostgreSQL, over a history written with timestamps a
// few days back (the deployments' instants derived from it by the migration's backfill): the
// --json shape, the table, --days (the range it asks for) and the exit statuses.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEPLOYMENT_INSTANTS_BACKFILL } from '../../db/deployment-instants.ts';
import { createTestDatabase } from '../support/database.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const MAIN = join(ROOT, 'cli', 'main.ts');
const DAY = 86_400_000;

let server: TestServer;
let sql: postgres.Sql;
let drop: () => Promise<void>;
let token: string;

function cli(args: string[], withToken = true): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('STAGEPLANE_')) env[k] = v;
  env.STAGEPLANE_URL = server.url;
  if (withToken) env.STAGEPLANE_TOKEN = token;
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr })));
}

beforeAll(async () => {
  const db = await createTestDatabase();
  drop = db.drop;
  server = await startTestServer({ databaseUrl: db.url });
  token = await server.token('cli-insights', ['ADMIN', 'DEVELOPER']);
  const created = await server.gql(`mutation { createProject(input: { slug: "shop", name: "Shop" }) { id } }`, {}, token);
  expect(created.errors).toBeUndefined();
  sql = postgres(db.url, { max: 1, onnotice: () => {} });
  const [project] = await sql`select id from projects where slug = 'shop'`;
  const [production] = await sql`select id from environments where project_id = ${project!.id} and slug = 'production'`;
  const now = Date.now() - 60_000;
  const ago = (days: number) => new Date(now - days * DAY);
  const [release] = await sql`insert into releases (project_id, version, commit_sha, branch, created_at)
    values (${project!.id}, 'v1', 'abc1234', 'main', ${ago(20)}) returning id`;
  // 20 days ago: pushed; 19 days ago (lead time 1 day) SUCCEEDED; 10 days ago FAILED, restored
  // 2 hours later; 3 days ago SUCCEEDED.
  const deployments: [number, string][] = [
    [19, 'SUCCEEDED'],
    [10, 'FAILED'],
    [10 - 2 / 24, 'SUCCEEDED'],
    [3, 'SUCCEEDED'],
  ];
  for (const [i, [days, status]] of deployments.entries()) {
    const [d] =
      await sql`insert into deployments (project_id, environment_id, release_id, kind, status, requested_by, snapshot, workflow_id, last_seq, created_at)
      values (${project!.id}, ${production!.id}, ${release!.id}, 'MANUAL', ${status}, 'dev', '{}', ${`cli-insights-${i}`}, 2, ${ago(days + 0.01)}) returning id`;
    await sql`insert into deployment_events (deployment_id, project_id, seq, type, status, created_at) values
      (${d!.id}, ${project!.id}, 1, 'CREATED', 'QUEUED', ${ago(days + 0.01)}),
      (${d!.id}, ${project!.id}, 2, ${status}, ${status}, ${ago(days)})`;
  }
  // The instants insights read, derived from those events as the migration derived them.
  for (const statement of DEPLOYMENT_INSTANTS_BACKFILL) await sql.unsafe(statement);
}, 120_000);
afterAll(async () => {
  await sql?.end();
  await server?.stop();
  await drop?.();
});

describe('stageplane insights', () => {
  it('--json: the figures of the last 30 days (the default)', async () => {
    const r = await cli(['insights', 'shop', 'production', '--json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const i = JSON.parse(r.stdout);
    expect(i).toMatchObject({
      environment: 'production',
      deployments: 4,
      successes: 3,
      failures: 1,
      rollbacks: 0,
      deploymentsPerDay: 0.1,
      changeFailureRate: 0.25,
      timeToRestoreSeconds: { p50: 7200, p90: 7200 },
      approvalWaitSeconds: { p50: null, p90: null },
    });
    // 1 day, 10 days 2 hours, 17 days
    expect(i.leadTimeSeconds.p50).toBe(10 * 86_400 + 7200);
    expect(Date.parse(i.to) - Date.parse(i.from)).toBe(30 * DAY);
    expect(i.series.length).toBeGreaterThanOrEqual(30);
    expect(i.series.reduce((n: number, b: { deployments: number }) => n + b.deployments, 0)).toBe(4);
  });

  it('--days 7: the range it asks for; a table without --json, "-" where nothing was measured', async () => {
    const r = await cli(['insights', 'shop', 'production', '--days', '7']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('shop/production');
    expect(r.stdout).toMatch(/deployments\s+1 \(1 succeeded, 0 failed, 0 rollbacks\)/);
    expect(r.stdout).toMatch(/change failure rate\s+0%/);
    expect(r.stdout).toMatch(/lead time\s+p50 17d, p90 17d/);
    expect(r.stdout).toMatch(/time to restore\s+p50 -, p90 -/);
    expect(r.stdout).toMatch(/DAY\s+DEPLOYMENTS\s+FAILURES/);
    const json = JSON.parse((await cli(['insights', 'shop', 'production', '--days', '7', '--json'])).stdout);
    expect(Date.parse(json.to) - Date.parse(json.from)).toBe(7 * DAY);
  });

  it('usage errors exit 2; an unknown project or environment 4; no token 3', async () => {
    for (const days of ['0', '367', 'soon']) {
      const r = await cli(['insights', 'shop', 'production', '--days', days]);
      expect({ days, code: r.code }).toEqual({ days, code: 2 });
      expect(r.stderr).toMatch(/--days/);
    }
    expect((await cli(['insights', 'shop'])).code).toBe(2);
    const env = await cli(['insights', 'shop', 'nowhere']);
    expect(env.code).toBe(4);
    expect(env.stderr).toMatch(/NOT_FOUND|No environment "nowhere"/);
    expect((await cli(['insights', 'nope', 'production'])).code).toBe(4);
    expect((await cli(['insights', 'shop', 'production'], false)).code).toBe(3);
  });
});
