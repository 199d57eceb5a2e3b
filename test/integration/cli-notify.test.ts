// `stageplane notify list|add|test|rm` end to end: the real CLI as a child process against a real
// server and a real receiver on 127.0.0.1. The channel URL (given through STAGEPLANE_NOTIFY_URL)
// never appears in what the CLI prints.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { until } from '../../scripts/lib/until.ts';
import { createTestDatabase } from '../support/database.ts';
import { setupProject } from '../support/deployments.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const MAIN = join(ROOT, 'cli', 'main.ts');
const TOKEN = `clitok${randomBytes(10).toString('hex')}`;

function cleanEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !/^(STAGEPLANE_|NO_COLOR$|FORCE_COLOR$)/.test(k)) env[k] = v;
  return env;
}

const transcripts: string[] = [];
function cli(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], {
    cwd: ROOT,
    env: { ...cleanEnv(), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  return new Promise((resolve) =>
    child.once('close', (code) => {
      transcripts.push(stdout, stderr);
      resolve({ code, stdout, stderr });
    }),
  );
}

describe('stageplane notify', () => {
  let server: TestServer;
  let drop: () => Promise<void>;
  let env: Record<string, string>;
  const hits: { path: string; body: string }[] = [];
  const receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      hits.push({ path: req.url ?? '', body });
      res.writeHead(200).end();
    });
  });
  let hookUrl = '';

  beforeAll(async () => {
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', () => r()));
    hookUrl = `http://127.0.0.1:${(receiver.address() as { port: number }).port}/hooks/${TOKEN}`;
    const db = await createTestDatabase();
    drop = db.drop;
    server = await startTestServer({
      databaseUrl: db.url,
      env: { WEBHOOK_SECRET: 'cli-notify-webhook-secret-01', NOTIFY_RETRY_INITIAL_SECONDS: '0.2' },
    });
    await setupProject(server, 'shop');
    env = { STAGEPLANE_URL: server.url, STAGEPLANE_TOKEN: await server.token('ada', ['ADMIN']) };
  });
  afterAll(async () => {
    await server?.stop();
    await drop?.();
    await new Promise((r) => receiver.close(r));
  });

  it('adds, lists, tests and removes a channel; the URL is shown as its host only', async () => {
    const empty = await cli(['notify', 'list', 'shop'], env);
    expect(empty.code).toBe(0);
    expect(empty.stderr).toContain('no notification channels in shop');

    const added = await cli(['notify', 'add', 'shop', 'ops', '--events', 'test,deployment_failed', '--env', 'prod*'], {
      ...env,
      STAGEPLANE_NOTIFY_URL: hookUrl,
    });
    expect(added.code, added.stderr).toBe(0);
    const id = added.stdout.split('\t')[0]!;
    expect(added.stdout).toContain(`WEBHOOK to 127.0.0.1:`);
    expect(added.stdout).toContain('TEST,DEPLOYMENT_FAILED');

    const tested = await cli(['notify', 'test', id, '--json'], env);
    expect(tested.code, tested.stderr).toBe(0);
    const delivery = JSON.parse(tested.stdout);
    expect(delivery).toMatchObject({ event: 'TEST', status: 'PENDING' });
    await until('the test delivery', async () => hits.length === 1, { timeoutMs: 30_000, intervalMs: 100 });
    expect(JSON.parse(hits[0]!.body).id).toBe(delivery.id);

    const listed = await until(
      'DELIVERED in notify list',
      async () => {
        const r = await cli(['notify', 'list', 'shop', '--json'], env);
        const [c] = JSON.parse(r.stdout);
        return c.deliveries[0]?.status === 'DELIVERED' ? c : null;
      },
      { timeoutMs: 30_000, intervalMs: 300 },
    );
    expect(listed).toMatchObject({ id, name: 'ops', kind: 'WEBHOOK', events: ['TEST', 'DEPLOYMENT_FAILED'], environmentSlugs: ['prod*'] });
    expect(listed.deliveries[0]).toMatchObject({ attempts: 1, lastStatusCode: 200 });
    const table = await cli(['notify', 'list', 'shop'], env);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/ID\s+NAME\s+KIND\s+HOST\s+EVENTS\s+ENVIRONMENTS\s+LAST DELIVERY/);
    expect(table.stdout).toMatch(/ops\s+WEBHOOK\s+127\.0\.0\.1:\d+\s+TEST,DEPLOYMENT_FAILED\s+prod\*\s+DELIVERED TEST \(1 attempt, 200\)/);

    const removed = await cli(['notify', 'rm', id], env);
    expect(removed.code, removed.stderr).toBe(0);
    expect(removed.stdout).toContain(`deleted notification channel ${id}`);
    expect((await cli(['notify', 'test', id], env)).code).toBe(4);
    expect((await cli(['notify', 'list', 'shop', '--json'], env)).stdout.trim()).toBe('[]');
  }, 180_000);

  it('refuses bad input: usage errors (2) before any request, server refusals (4) without the URL', async () => {
    const noUrl = await cli(['notify', 'add', 'shop', 'x', '--events', 'TEST'], env);
    expect(noUrl.code).toBe(2);
    expect(noUrl.stderr).toContain('STAGEPLANE_NOTIFY_URL');
    const badEvent = await cli(['notify', 'add', 'shop', 'x', '--events', 'TEST,EXPLODED'], { ...env, STAGEPLANE_NOTIFY_URL: hookUrl });
    expect(badEvent.code).toBe(2);
    expect(badEvent.stderr).toContain('not EXPLODED');
    const badKind = await cli(['notify', 'add', 'shop', 'x', '--events', 'TEST', '--kind', 'EMAIL'], {
      ...env,
      STAGEPLANE_NOTIFY_URL: hookUrl,
    });
    expect(badKind.code).toBe(2);
    const ftp = await cli(['notify', 'add', 'shop', 'x', '--events', 'TEST'], {
      ...env,
      STAGEPLANE_NOTIFY_URL: `ftp://127.0.0.1/${TOKEN}`,
    });
    expect(ftp.code).toBe(4);
    expect(ftp.stderr).toMatch(/http/);
    const viewer = await cli(['notify', 'add', 'shop', 'x', '--events', 'TEST'], {
      ...env,
      STAGEPLANE_TOKEN: await server.token('vic', ['VIEWER']),
      STAGEPLANE_NOTIFY_URL: hookUrl,
    });
    expect(viewer.code).toBe(3);
    expect((await cli(['notify', 'list', 'shop', '--json'], env)).stdout.trim()).toBe('[]');
  }, 180_000);

  it('never printed the channel URL, and the server never logged it', () => {
    expect(transcripts.join('\n')).not.toContain(TOKEN);
    expect(server.logs.join('\n')).not.toContain(TOKEN);
  });
});
