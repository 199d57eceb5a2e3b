// The CLI's preview commands end to end: the real CLI (cli/main.ts) as a child process against a
// real server (PostgreSQL, Temporal): `preview enable|disable` and `envs` listing previews.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../support/database.ts';
import { push, setupProject } from '../support/deployments.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

const ROOT = join(import.meta.dirname, '..', '..');
let server: TestServer;
let dropDb: () => Promise<void>;
let admin: string;

beforeAll(async () => {
  const db = await createTestDatabase();
  dropDb = db.drop;
  server = await startTestServer({ databaseUrl: db.url });
  admin = await server.token('ada', ['ADMIN', 'DEVELOPER']);
});
afterAll(async () => {
  await server?.stop();
  await dropDb?.();
});

function cli(args: string[], token = admin): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !/^(STAGEPLANE_|NO_COLOR$|FORCE_COLOR$)/.test(k)) env[k] = v;
  env.STAGEPLANE_URL = server.url;
  env.STAGEPLANE_TOKEN = token;
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'cli', 'main.ts'), ...args], { cwd: ROOT, env });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr })));
}

describe('stageplane preview and envs', () => {
  it('enables, lists previews with their branch, and disables', { timeout: 120_000 }, async () => {
    const p = await setupProject(server, 'clipv');
    // Before any policy: disable writes nothing; enable needs a pattern.
    const noop = await cli(['preview', 'disable', 'clipv']);
    expect(noop.code).toBe(0);
    expect(noop.stderr + noop.stdout).toContain('previews are not enabled');
    const missing = await cli(['preview', 'enable', 'clipv']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('--pattern');
    expect((await cli(['preview', 'frobnicate', 'clipv'])).code).toBe(2);
    expect((await cli(['preview', 'enable', 'clipv', '--pattern', 'feature/*', '--ttl', '0'])).code).toBe(2);

    const enabled = await cli(['preview', 'enable', 'clipv', '--pattern', 'feature/*', '--ttl', '48']);
    expect(enabled.code).toBe(0);
    expect(enabled.stdout).toContain('previews enabled for branches feature/*, from development, expiring 48 h');
    // The server's refusal: exit 4 with its code.
    const bad = await cli(['preview', 'enable', 'clipv', '--from', 'nope']);
    expect(bad.code).toBe(4);
    expect(bad.stderr).toContain('BAD_USER_INPUT');
    // Options left out keep the policy.
    const json = JSON.parse((await cli(['preview', 'enable', 'clipv', '--json'])).stdout);
    expect(json).toEqual({ enabled: true, branchPattern: 'feature/*', copySettingsFrom: 'development', ttlHours: 48 });
    // Without a role for it: exit 3.
    expect((await cli(['preview', 'enable', 'clipv', '--pattern', 'x/*'], await server.token('q', ['QA']))).code).toBe(3);

    // envs shows no preview columns until there is a preview.
    expect((await cli(['envs', 'clipv'])).stdout).not.toContain('BRANCH');
    expect((await push(server, p.id, 'c1100001', 'feature/Cli')).errors).toBeUndefined();
    const envs = await cli(['envs', 'clipv']);
    expect(envs.code).toBe(0);
    expect(envs.stdout).toMatch(/BRANCH\s+EXPIRES/);
    expect(envs.stdout).toMatch(
      /^feature-cli\s+CUSTOM\s+-\s+AUTO_ON_PUSH\s+SIMULATED.*feature\/Cli\s+\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}Z$/m,
    );
    expect(envs.stdout).toMatch(/^development\s.*\s-\s+-$/m);
    const listed = JSON.parse((await cli(['envs', 'clipv', '--json'])).stdout);
    expect(listed.find((e: any) => e.slug === 'feature-cli')).toMatchObject({ previewBranch: 'feature/Cli', type: 'CUSTOM' });
    expect(listed.find((e: any) => e.slug === 'development')).toMatchObject({ previewBranch: null, expiresAt: null });

    const disabled = await cli(['preview', 'disable', 'clipv']);
    expect(disabled.code).toBe(0);
    expect(disabled.stdout).toContain('previews disabled');
    const after = await server.gql(`{ project(slug: "clipv") { previewPolicy { enabled branchPattern ttlHours } } }`);
    expect(after.data.project.previewPolicy).toEqual({ enabled: false, branchPattern: 'feature/*', ttlHours: 48 });
    expect((await push(server, p.id, 'c1100002', 'feature/other')).data.recordPush.deployments).toEqual([]);
  });
});
