// The command line end to end: the real CLI (cli/main.ts) as a child process, against a real
// server (real PostgreSQL, real Temporal): every command, every exit status, the --json shapes,
// following a deployment to its end (SUCCEEDED, REJECTED, CANCELLED), Ctrl-C, a stale settings
// version, output without a terminal and on one, and `watch` across a SIGKILL and restart of the
// server, resuming with every event once and in order.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, symlinkSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { until } from '../../scripts/lib/until.ts';
import { freePort } from '../../server/temporal.ts';
import { gqlAt, jwtFor } from '../support/client.ts';
import { createTestDatabase } from '../support/database.ts';
import { deployment, push, setupProject, waitForStatus } from '../support/deployments.ts';
import { spawnStageplane, type StageplaneProcess } from '../support/process.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const MAIN = join(ROOT, 'cli', 'main.ts');
const ESC = '\u001b';

interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

interface CliProcess {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  exited: Promise<CliResult>;
}

/** Every output of every CLI run, searched for tokens at the end. */
const transcripts: string[] = [];
/** Every token handed to the CLI. */
const tokensUsed = new Set<string>();

function cleanEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !/^(STAGEPLANE_|NO_COLOR$|FORCE_COLOR$)/.test(k)) env[k] = v;
  }
  return env;
}

interface CliOptions {
  url?: string;
  token?: string | null;
  env?: Record<string, string>;
  cwd?: string;
  /** The executable and its leading arguments, instead of `node --import tsx cli/main.ts`. */
  command?: string[];
}

function startCli(args: string[], options: CliOptions): CliProcess {
  const env = cleanEnv();
  if (options.url) env.STAGEPLANE_URL = options.url;
  if (options.token) {
    env.STAGEPLANE_TOKEN = options.token;
    tokensUsed.add(options.token);
  }
  Object.assign(env, options.env);
  const [file, ...lead] = options.command ?? [process.execPath, '--import', 'tsx', MAIN];
  const child = spawn(file!, [...lead, ...args], { cwd: options.cwd ?? ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  const exited = new Promise<CliResult>((resolve) =>
    child.once('close', (code, signal) => {
      transcripts.push(stdout, stderr);
      resolve({ code, signal, stdout, stderr });
    }),
  );
  return { child, stdout: () => stdout, stderr: () => stderr, exited };
}

const ndjson = (text: string) =>
  text
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as { seq: number; type: string; status: string; deploymentId: string; step: string | null });
const seqsOf = (events: { seq: number }[]) => events.map((e) => e.seq);
const oneToN = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

// ---------------------------------------------------------------------------------------------

describe('stageplane CLI against a real server', () => {
  let server: TestServer;
  let dropDb: () => Promise<void>;
  let admin: string;
  let quinn: string; // QA: may promote to production
  let bob: string; // APPROVER
  let viewer: string;
  let shop: Awaited<ReturnType<typeof setupProject>>;

  const cli = (args: string[], options: CliOptions = {}) => startCli(args, { url: server.url, token: admin, ...options }).exited;
  const cliAs = (token: string | null, args: string[], options: CliOptions = {}) => cli(args, { ...options, token });
  const stepSeconds = async (envId: string, seconds: number) => {
    const r = await server.gql(`mutation($i: UpdateEnvironmentInput!) { updateEnvironment(input: $i) { id } }`, {
      i: { id: envId, deployTarget: { provider: 'SIMULATED', stepSeconds: seconds } },
    });
    expect(r.errors).toBeUndefined();
  };

  beforeAll(async () => {
    const db = await createTestDatabase();
    dropDb = db.drop;
    server = await startTestServer({ databaseUrl: db.url });
    admin = await server.token('ada', ['ADMIN', 'DEVELOPER']);
    quinn = await server.token('quinn', ['QA']);
    bob = await server.token('bob', ['APPROVER']);
    viewer = await server.token('vic', ['VIEWER']);
    shop = await setupProject(server, 'shop');
  });
  afterAll(async () => {
    await server?.stop();
    await dropDb?.();
  });

  it('helps on every level, and refuses unknown commands, flags and missing arguments with exit 2 and the usage', async () => {
    const help = await cli(['--help']);
    expect(help.code).toBe(0);
    for (const command of [
      'projects',
      'envs',
      'deployments',
      'config get',
      'config set',
      'diff',
      'policy',
      'push',
      'deploy',
      'promote',
      'rollback',
      'approve',
      'reject',
      'cancel',
      'watch',
    ]) {
      expect(help.stdout).toContain(`  ${command} `);
    }
    const promoteHelp = await cli(['promote', '--help']);
    expect(promoteHelp.code).toBe(0);
    expect(promoteHelp.stdout).toContain('usage: stageplane promote <project> <env>');
    expect(promoteHelp.stdout).toMatch(/Example:\n {2}stageplane promote shop staging --wait/);
    const configSetHelp = await cli(['config', 'set', '--help']);
    expect(configSetHelp.stdout).toContain('usage: stageplane config set <project> <env> <key=value>...');

    const unknown = await cli(['deploi', 'shop']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown command "deploi"');
    expect(unknown.stderr).toContain('usage: stageplane <command>');
    expect(unknown.stdout).toBe('');
    const flag = await cli(['envs', 'shop', '--colour']);
    expect(flag.code).toBe(2);
    expect(flag.stderr).toContain('unknown option --colour');
    expect(flag.stderr).toContain('usage: stageplane envs <project>');
    const missing = await cli(['push', 'shop', '--sha', 'abcdef1']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('missing --branch B');
    expect((await cli([])).code).toBe(2);
  }, 120_000);

  it('lists projects, environments, settings, differences and policy checks as tables and as JSON', async () => {
    const projects = await cli(['projects']);
    expect(projects.code).toBe(0);
    expect(projects.stdout.split('\n')[0]).toMatch(/^SLUG\s+NAME\s+ENVIRONMENTS\s+CREATED$/);
    expect(projects.stdout).toMatch(/^shop\s+shop\s+development,staging,production\s/m);
    const projectsJson = JSON.parse((await cli(['projects', '--json'])).stdout);
    expect(projectsJson).toEqual([
      {
        id: shop.id,
        slug: 'shop',
        name: 'shop',
        createdAt: expect.any(String),
        environments: [{ slug: 'development' }, { slug: 'staging' }, { slug: 'production' }],
      },
    ]);

    const envs = await cli(['envs', 'shop']);
    expect(envs.code).toBe(0);
    expect(envs.stdout).toMatch(/^production\s+PRODUCTION\s+staging\s+APPROVAL_REQUIRED \(1\)\s+SIMULATED\s+-\s+-\s+no\s+passed$/m);
    const envsJson = JSON.parse((await cli(['envs', 'shop', '--json'])).stdout);
    expect(envsJson.map((e: any) => [e.slug, e.type, e.position, e.promotesFrom?.slug ?? null, e.policy.trigger])).toEqual([
      ['development', 'DEVELOPMENT', 0, null, 'AUTO_ON_PUSH'],
      ['staging', 'STAGING', 1, 'development', 'MANUAL_PROMOTE'],
      ['production', 'PRODUCTION', 2, 'staging', 'APPROVAL_REQUIRED'],
    ]);
    expect(envsJson[2]).toMatchObject({
      id: shop.production,
      frozen: false,
      currentRelease: null,
      activeDeployment: null,
      policyReport: { passed: true },
    });

    const config = await cli(['config', 'get', 'shop', 'production']);
    expect(config.code).toBe(0);
    expect(config.stdout.split('\n')).toEqual(
      expect.arrayContaining([
        'version=1',
        'logLevel=WARN',
        'rateLimit.enabled=true',
        'rateLimit.requestsPerMinute=600',
        'backupSchedule=0 3 * * *',
        'readReplicas=1',
        'runbookUrl=',
      ]),
    );
    const configJson = JSON.parse((await cli(['config', 'get', 'shop', 'production', '--json'])).stdout);
    expect(configJson).toMatchObject({
      version: 1,
      logLevel: 'WARN',
      dataPolicy: 'PRODUCTION',
      rateLimit: { enabled: true, requestsPerMinute: 600 },
      featureFlags: [],
      corsOrigins: [],
    });

    const diff = await cli(['diff', 'shop', 'staging', 'production']);
    expect(diff.code).toBe(0);
    expect(diff.stdout).toMatch(/^PATH\s+STAGING\s+PRODUCTION$/m);
    expect(diff.stdout).toMatch(/^settings\.logLevel\s+INFO\s+WARN$/m);
    const diffJson = JSON.parse((await cli(['diff', 'shop', 'staging', 'production', '--json'])).stdout);
    expect(diffJson).toMatchObject({ base: { slug: 'staging' }, target: { slug: 'production' }, identical: false });
    expect(diffJson.differences).toContainEqual({ path: 'settings.logLevel', base: 'INFO', target: 'WARN' });
    expect(JSON.parse((await cli(['diff', 'shop', 'production', 'production', '--json'])).stdout)).toMatchObject({
      identical: true,
      differences: [],
    });

    const policy = await cli(['policy', 'shop', 'production']);
    expect(policy.code).toBe(0);
    expect(policy.stdout).toMatch(/^production\.runbook\s+warning\s+failed\s+/m);
    expect(policy.stderr).toContain('policy of production: passed');
    const policyJson = JSON.parse((await cli(['policy', 'shop', 'production', '--json'])).stdout);
    expect(policyJson.environment).toBe('production');
    expect(policyJson.passed).toBe(true);
    expect(policyJson.checks).toContainEqual({
      id: 'production.runbook',
      title: expect.any(String),
      passed: false,
      severity: 'warning',
      detail: expect.any(String),
    });
  }, 120_000);

  it('push --wait follows the deployment to SUCCEEDED: one NDJSON event per line, seq 1..n once each, exit 0', async () => {
    const r = await cli(['push', 'shop', '--branch', 'main', '--sha', 'a1a1a1a', '--message', 'first', '--wait', '--json']);
    expect(r.stderr).toContain('release a1a1a1a');
    expect(r.code).toBe(0);
    const events = ndjson(r.stdout);
    expect(seqsOf(events)).toEqual(oneToN(events.length));
    expect(events[0]).toMatchObject({ seq: 1, type: 'CREATED', status: 'QUEUED', deploymentId: expect.any(String) });
    expect(events.at(-1)).toMatchObject({ type: 'SUCCEEDED', status: 'SUCCEEDED' });
    expect(Object.keys(events[0]!).sort()).toEqual(['at', 'deploymentId', 'message', 'progress', 'seq', 'status', 'step', 'type']);
    // The same events the server has, no more, no fewer.
    const stored = await deployment(server, events[0]!.deploymentId);
    expect(stored.events.map((e: any) => [e.seq, e.type])).toEqual(events.map((e) => [e.seq, e.type]));

    const listed = JSON.parse((await cli(['deployments', 'shop', '--env', 'development', '--json'])).stdout);
    expect(listed).toHaveLength(1);
    expect(listed[0]).toMatchObject({
      id: events[0]!.deploymentId,
      kind: 'PUSH',
      status: 'SUCCEEDED',
      progress: 1,
      requestedBy: 'ada',
      environment: { slug: 'development' },
      release: { version: 'a1a1a1a', commitSha: 'a1a1a1a', branch: 'main' },
    });
    const table = await cli(['deployments', 'shop', '--status', 'succeeded']);
    expect(table.stdout.split('\n')[0]).toMatch(/^ID\s+ENV\s+RELEASE\s+KIND\s+STATUS\s+PROGRESS\s+REQUESTED BY\s+CREATED$/);
    expect(table.stdout).toContain(`${events[0]!.deploymentId}  development  a1a1a1a  PUSH  SUCCEEDED  100%`);
    expect((await cli(['deployments', 'shop', '--status', 'DONE'])).code).toBe(2);
    expect((await cli(['deployments', 'shop', '--env', 'nowhere'])).code).toBe(4);

    // Without --wait: the push result.
    const plain = JSON.parse((await cli(['push', 'shop', '--branch', 'feature/x', '--sha', 'b2b2b2b', '--json'])).stdout);
    expect(plain).toMatchObject({ release: { version: 'b2b2b2b', branch: 'feature/x' }, deployments: [] });
  }, 120_000);

  it('without a terminal: one plain line per event, no escape codes on stdout or stderr', async () => {
    const r = await cli(['push', 'shop', '--branch', 'main', '--sha', 'c3c3c3c', '--wait']);
    expect(r.code).toBe(0);
    expect(r.stdout).not.toContain(ESC);
    expect(r.stderr).not.toContain(ESC);
    const lines = r.stdout.trim().split('\n');
    // The deployment's table row, then its events.
    expect(lines[0]).toMatch(/^ID\s+ENV/);
    const eventLines = lines.filter((l) => l.startsWith('#'));
    expect(eventLines[0]).toMatch(/^#1 CREATED status=QUEUED/);
    expect(eventLines.at(-1)).toMatch(/^#\d+ SUCCEEDED status=SUCCEEDED$/);
    expect(eventLines.map((l) => Number(/^#(\d+) /.exec(l)![1]))).toEqual(oneToN(eventLines.length));
    expect(eventLines.some((l) => /^#\d+ STEP_PROGRESS status=RUNNING step=deploy progress=\d+%/.test(l))).toBe(true);
    expect(r.stderr).toMatch(/deployment \S+ SUCCEEDED/);
  }, 120_000);

  it('promote --wait; production waits for an approver: the requester is FORBIDDEN (3), an APPROVER approves --wait (0), deciding again is refused (4)', async () => {
    const staged = await cli(['promote', 'shop', 'staging', '--wait']);
    expect(staged.stderr).toContain('PROMOTION of c3c3c3c to staging from development');
    expect(staged.code).toBe(0);

    const promoted = await cliAs(quinn, ['promote', 'shop', 'production', '--json']);
    expect(promoted.code).toBe(0);
    const d = JSON.parse(promoted.stdout);
    expect(d).toMatchObject({
      id: expect.any(String),
      kind: 'PROMOTION',
      status: 'PENDING_APPROVAL',
      environment: { slug: 'production' },
      sourceEnvironment: { slug: 'staging' },
      release: { version: 'c3c3c3c' },
      requiredApprovals: 1,
    });

    // Right away, as the README's shell example does: the answer said PENDING_APPROVAL, so the
    // approval is taken.
    const approving = cliAs(bob, ['approve', d.id, '--comment', 'LGTM', '--wait', '--json']);
    const self = await cliAs(quinn, ['approve', d.id]);
    expect(self.code).toBe(3);
    expect(self.stderr).toMatch(/^stageplane: FORBIDDEN: .+/m);
    const viewerTry = await cliAs(viewer, ['approve', d.id]);
    expect(viewerTry.code).toBe(3);

    const approved = await approving;
    expect(approved.code).toBe(0);
    const events = ndjson(approved.stdout);
    expect(seqsOf(events)).toEqual(oneToN(events.length));
    expect(events.map((e) => e.type)).toEqual(
      expect.arrayContaining(['CREATED', 'APPROVAL_REQUESTED', 'APPROVED', 'STARTED', 'SUCCEEDED']),
    );
    expect(events.at(-1)!.status).toBe('SUCCEEDED');
    expect((await deployment(server, d.id)).approvals).toEqual([{ approver: 'bob', decision: 'APPROVE', comment: 'LGTM' }]);

    const again = await cliAs(await server.token('carol', ['APPROVER']), ['approve', d.id]);
    expect(again.code).toBe(4);
    expect(again.stderr).toContain('PRECONDITION_FAILED');
  }, 180_000);

  it('deploy and rollback by release version; an unknown release or nothing to promote is refused (4)', async () => {
    const deployed = await cli(['deploy', 'shop', 'development', '--release', 'a1a1a1a', '--wait', '--json']);
    expect(deployed.code).toBe(0);
    expect(ndjson(deployed.stdout).at(-1)!.type).toBe('SUCCEEDED');
    let current = await server.gql(`{ project(slug: "shop") { environment(slug: "development") { currentRelease { version } } } }`);
    expect(current.data.project.environment.currentRelease.version).toBe('a1a1a1a');

    const rolledBack = await cli(['rollback', 'shop', 'development', '--json']);
    expect(rolledBack.code).toBe(0);
    const rollback = JSON.parse(rolledBack.stdout);
    expect(rollback).toMatchObject({ kind: 'ROLLBACK', environment: { slug: 'development' }, release: { version: 'c3c3c3c' } });
    const watched = await cli(['watch', rollback.id]);
    expect(watched.code).toBe(0);
    current = await server.gql(`{ project(slug: "shop") { environment(slug: "development") { currentRelease { version } } } }`);
    expect(current.data.project.environment.currentRelease.version).toBe('c3c3c3c');

    // By commit sha too.
    const bySha = await cli(['deploy', 'shop', 'development', '--release', 'A1A1A1A', '--json']);
    expect(JSON.parse(bySha.stdout).release.version).toBe('a1a1a1a');
    await waitForStatus(server, JSON.parse(bySha.stdout).id, ['SUCCEEDED']);

    const unknown = await cli(['deploy', 'shop', 'development', '--release', '9.9.9']);
    expect(unknown.code).toBe(4);
    expect(unknown.stderr).toContain('NOT_FOUND: No release "9.9.9" in project shop');
    const nothing = await cli(['promote', 'shop', 'development']);
    expect(nothing.code).toBe(4);
    expect(nothing.stderr).toMatch(/PRECONDITION_FAILED: Nothing to promote/);
    const noProject = await cli(['envs', 'nope']);
    expect(noProject.code).toBe(4);
    expect(noProject.stderr).toContain('NOT_FOUND: No project with slug "nope"');
  }, 180_000);

  it('freeze create, list and delete; deploy inside a window is refused (4) and --override-freeze breaks the glass', async () => {
    const frz = await setupProject(server, 'frz');
    const pushed = await push(server, frz.id, 'f0f0f0f', 'main', admin);
    await waitForStatus(server, pushed.data.recordPush.deployments[0].id, ['SUCCEEDED']);
    const ends = new Date(Date.now() + 600_000).toISOString();
    const created = await cli([
      'freeze',
      'create',
      'frz',
      '--name',
      'Holiday',
      '--reason',
      'code freeze',
      '--starts',
      new Date(Date.now() - 1000).toISOString(),
      '--ends',
      ends,
      '--env',
      'stag*',
      '--json',
    ]);
    expect(created.code, created.stderr).toBe(0);
    const window = JSON.parse(created.stdout);
    expect(window).toMatchObject({ name: 'Holiday', environmentSlugs: ['stag*'], allowRollback: true, createdBy: 'ada' });

    const listed = await cli(['freeze', 'list', 'frz']);
    expect(listed.code).toBe(0);
    expect(listed.stdout.split('\n')[0]).toMatch(/^ID\s+NAME\s+COVERS\s+WHEN\s+NEXT\s+ROLLBACK\s+REASON$/);
    expect(listed.stdout).toContain('Holiday');
    expect(listed.stdout).toContain('code freeze');

    const refused = await cli(['deploy', 'frz', 'staging', '--release', 'f0f0f0f']);
    expect(refused.code).toBe(4);
    expect(refused.stderr).toContain('PRECONDITION_FAILED');
    expect(refused.stderr).toContain('Holiday');
    const forbidden = await cliAs(quinn, ['deploy', 'frz', 'staging', '--release', 'f0f0f0f', '--override-freeze', 'hotfix']);
    expect(forbidden.code).toBe(3);
    const broken = await cli(['deploy', 'frz', 'staging', '--release', 'f0f0f0f', '--override-freeze', 'payment outage', '--json']);
    expect(broken.code, broken.stderr).toBe(0);
    expect(JSON.parse(broken.stdout)).toMatchObject({ status: 'PENDING_APPROVAL', requiredApprovals: 1, requestedBy: 'ada' });
    expect((await cli(['cancel', JSON.parse(broken.stdout).id])).code).toBe(0);

    const bad = await cli([
      'freeze',
      'create',
      'frz',
      '--name',
      'x',
      '--reason',
      'y',
      '--starts',
      '2030-01-01T00:00:00Z',
      '--rrule',
      'FREQ=MINUTELY',
      '--duration',
      '5',
    ]);
    expect(bad.code).toBe(4);
    expect(bad.stderr).toContain('BAD_USER_INPUT');
    expect((await cli(['freeze', 'create', 'frz', '--name', 'x', '--reason', 'y', '--starts', 'soon', '--ends', 'later'])).code).toBe(4);
    expect((await cli(['freeze', 'create', 'frz', '--name', 'x'])).code).toBe(2); // --reason and --starts are required
    expect((await cli(['freeze', 'remove', 'frz'])).code).toBe(2);

    expect((await cliAs(quinn, ['freeze', 'delete', window.id])).code).toBe(3); // not its creator, not ADMIN
    const deleted = await cli(['freeze', 'delete', window.id]);
    expect(deleted.code).toBe(0);
    expect((await cli(['freeze', 'list', 'frz', '--json'])).stdout.trim()).toBe('[]');
  }, 180_000);

  it('reject needs a comment; a followed deployment that ends REJECTED exits 1', async () => {
    const promoted = JSON.parse((await cliAs(quinn, ['promote', 'shop', 'production', '--json'])).stdout);
    await waitForStatus(server, promoted.id, ['PENDING_APPROVAL']);
    expect((await cliAs(bob, ['reject', promoted.id])).code).toBe(2);
    const rejected = await cliAs(bob, ['reject', promoted.id, '--comment', 'not during the sale', '--json']);
    expect(rejected.code).toBe(0);
    expect(JSON.parse(rejected.stdout)).toMatchObject({
      id: promoted.id,
      status: 'REJECTED',
      approvals: [{ approver: 'bob', decision: 'REJECT', comment: 'not during the sale' }],
    });
    const watched = await cli(['watch', promoted.id, '--json']);
    expect(watched.code).toBe(1);
    expect(ndjson(watched.stdout).at(-1)).toMatchObject({ type: 'REJECTED', status: 'REJECTED' });
    expect(watched.stderr).toMatch(/ended REJECTED/);
    // Resuming after the last event of a finished deployment prints nothing more and says how it ended.
    const last = ndjson(watched.stdout).at(-1)!.seq;
    const resumed = await cli(['watch', promoted.id, '--json', '--after-seq', String(last)]);
    expect(resumed.code).toBe(1);
    expect(resumed.stdout).toBe('');
  }, 120_000);

  it('a cancelled deployment: watch exits 1 with CANCELLED last; cancelling it again is refused (4)', async () => {
    await stepSeconds(shop.dev, 3);
    try {
      const pushed = await push(server, shop.id, 'd4d4d4d');
      const id = pushed.data.recordPush.deployments[0].id as string;
      const watch = startCli(['watch', id], { url: server.url, token: admin });
      await until('the first step to start', () => /STEP_STARTED/.test(watch.stdout()), { timeoutMs: 60_000 });
      const cancelled = await cli(['cancel', id, '--json']);
      expect(cancelled.code).toBe(0);
      const result = await watch.exited;
      expect(result.code).toBe(1);
      expect(result.stdout.trim().split('\n').at(-1)).toMatch(/^#\d+ CANCELLED status=CANCELLED/);
      expect(result.stderr).toMatch(/ended CANCELLED/);
      const again = await cli(['cancel', id]);
      expect(again.code).toBe(4);
      expect(again.stderr).toContain('PRECONDITION_FAILED');
    } finally {
      await stepSeconds(shop.dev, 0);
    }
  }, 120_000);

  it('Ctrl-C during watch stops watching (exit 130), never the deployment', async () => {
    await stepSeconds(shop.dev, 2);
    try {
      const pushed = await push(server, shop.id, 'e5e5e5e');
      const id = pushed.data.recordPush.deployments[0].id as string;
      const watch = startCli(['watch', id], { url: server.url, token: admin });
      await until('a step under way', () => /STEP_PROGRESS/.test(watch.stdout()), { timeoutMs: 60_000 });
      watch.child.kill('SIGINT');
      const result = await watch.exited;
      expect(result.code).toBe(130);
      expect(result.stderr).toMatch(/stopped watching deployment \S+ after event #\d+; the deployment goes on/);
      expect(result.stderr).toContain(`stageplane watch ${id} --after-seq`);
      const done = await waitForStatus(server, id, ['SUCCEEDED', 'CANCELLED', 'FAILED'], 60_000);
      expect(done.status).toBe('SUCCEEDED');
      expect(done.events.some((e: any) => e.type === 'CANCELLED')).toBe(false);
    } finally {
      await stepSeconds(shop.dev, 0);
    }
  }, 120_000);

  it('config set parses values by type and writes them with the version it read', async () => {
    const set = await cli([
      'config',
      'set',
      'shop',
      'staging',
      'logLevel=warn',
      'rateLimit.enabled=false',
      'featureFlags.checkout=true',
      'corsOrigins=https://a.example,https://b.example',
      'readReplicas=2',
      'runbookUrl=https://wiki.example/staging',
    ]);
    expect(set.code).toBe(0);
    expect(set.stdout.trim()).toBe(
      'shop/staging: settings version 1 -> 2; changed corsOrigins, featureFlags.checkout, logLevel, rateLimit.enabled, readReplicas, runbookUrl',
    );
    const read = await server.gql(
      `{ project(slug: "shop") { environment(slug: "staging") { settings { version logLevel rateLimit { enabled requestsPerMinute } featureFlags { key enabled } corsOrigins readReplicas runbookUrl } } } }`,
    );
    expect(read.data.project.environment.settings).toEqual({
      version: 2,
      logLevel: 'WARN',
      rateLimit: { enabled: false, requestsPerMinute: 600 },
      featureFlags: [{ key: 'checkout', enabled: true }],
      corsOrigins: ['https://a.example', 'https://b.example'],
      readReplicas: 2,
      runbookUrl: 'https://wiki.example/staging',
    });
    const json = JSON.parse((await cli(['config', 'set', 'shop', 'staging', 'runbookUrl=', '--json'])).stdout);
    expect(json).toMatchObject({
      environment: 'staging',
      previousVersion: 2,
      version: 3,
      changed: ['runbookUrl'],
      settings: { version: 3, runbookUrl: null },
    });

    for (const bad of [['logLevel=LOUD'], ['loglevel=WARN'], ['readReplicas=two'], ['rateLimit=off'], ['logLevel']]) {
      const r = await cli(['config', 'set', 'shop', 'staging', ...bad]);
      expect(r.code, bad.join(' ')).toBe(2);
    }
    const forbidden = await cliAs(viewer, ['config', 'set', 'shop', 'staging', 'logLevel=ERROR']);
    expect(forbidden.code).toBe(3);
    const after = await server.gql(`{ project(slug: "shop") { environment(slug: "staging") { settings { version logLevel } } } }`);
    expect(after.data.project.environment.settings).toEqual({ version: 3, logLevel: 'WARN' });
  }, 120_000);

  it('config set on a stale version: CONFLICT names who changed it, exit 4, nothing written, no retry', async () => {
    // A proxy in front of the server lets carol change the settings between the CLI's read and its write.
    const carol = await server.token('carol', ['DEVELOPER']);
    const seen: { query: string; variables: any }[] = [];
    const proxy: Server = createServer((req, res) => {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', async () => {
        const parsed = JSON.parse(body);
        seen.push(parsed);
        if (
          String(parsed.query).includes('CliUpdateSettings') &&
          seen.filter((s) => String(s.query).includes('CliUpdateSettings')).length === 1
        ) {
          const r = await server.gql(
            `mutation($i: UpdateEnvironmentSettingsInput!) { updateEnvironmentSettings(input: $i) { settings { version } } }`,
            { i: { environmentId: shop.staging, patch: { alerting: false } } },
            carol,
          );
          expect(r.errors).toBeUndefined();
        }
        const upstream = await fetch(`${server.url}/graphql`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: String(req.headers.authorization ?? '') },
          body,
        });
        res.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'application/json' });
        res.end(await upstream.text());
      });
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', () => r()));
    const port = (proxy.address() as { port: number }).port;
    try {
      const r = await cli(['config', 'set', 'shop', 'staging', 'logLevel=ERROR'], { url: `http://127.0.0.1:${port}` });
      expect(r.code).toBe(4);
      expect(r.stderr).toMatch(/^stageplane: CONFLICT: Settings of staging are at version 4, not 3 .*changed by carol/m);
      const writes = seen.filter((s) => String(s.query).includes('CliUpdateSettings'));
      expect(writes).toHaveLength(1); // no silent retry
      expect(writes[0]!.variables.input).toEqual({ environmentId: shop.staging, patch: { logLevel: 'ERROR' }, expectedVersion: 3 });
      const after = await server.gql(
        `{ project(slug: "shop") { environment(slug: "staging") { settings { version logLevel alerting } } } }`,
      );
      expect(after.data.project.environment.settings).toEqual({ version: 4, logLevel: 'WARN', alerting: false });
    } finally {
      await new Promise((r) => proxy.close(r));
    }
  }, 120_000);

  it('exit 3 without or with a bad token, 3 for a forbidden action, 5 when the server cannot be reached (naming the URL)', async () => {
    const none = await cliAs(null, ['projects']);
    expect(none.code).toBe(3);
    expect(none.stderr).toMatch(/^stageplane: UNAUTHENTICATED: .+ \(no token given: set STAGEPLANE_TOKEN or pass --token\)$/m);
    const badToken = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJtYWxsb3J5In0.c2VjcmV0LXNpZ25hdHVyZS1ub3QtdmFsaWQ';
    tokensUsed.add(badToken);
    const bad = await cli(['projects', '--token', badToken]);
    expect(bad.code).toBe(3);
    expect(bad.stderr).toContain('UNAUTHENTICATED');
    const forbidden = await cliAs(viewer, ['push', 'shop', '--branch', 'main', '--sha', 'f6f6f6f']);
    expect(forbidden.code).toBe(3);
    expect(forbidden.stderr).toMatch(/^stageplane: FORBIDDEN: /m);
    // A bad token on the WebSocket too.
    const d = JSON.parse((await cli(['deployments', 'shop', '--json'])).stdout)[0];
    const wsBad = await cli(['watch', d.id], { token: badToken, env: {} });
    expect(wsBad.code).toBe(3);

    const closed = await freePort();
    const url = `http://127.0.0.1:${closed}`;
    for (const args of [['projects'], ['watch', d.id], ['push', 'shop', '--branch', 'main', '--sha', 'f6f6f6f', '--wait']]) {
      const r = await cli(args, { url });
      expect(r.code, args.join(' ')).toBe(5);
      expect(r.stderr).toContain(`cannot reach the Stageplane server at ${url}/graphql`);
    }
    const notStageplane = await cli(['projects'], { url: `${server.url}/healthz/` });
    expect(notStageplane.code).toBe(4);
    const unknownDeployment = await cli(['watch', 'RGVwbG95bWVudDpub3BlLW5vcGU=']);
    expect(unknownDeployment.code).toBe(4);
    expect(unknownDeployment.stderr).toContain('NOT_FOUND');
  }, 120_000);

  it('runs as `npm run cli` and as the `stageplane` bin from any directory', async () => {
    const npm = await cli(['run', '--silent', 'cli', '--', 'projects', '--json'], { command: ['npm'] });
    expect(npm.code).toBe(0);
    // Every project the server has (other tests of this file make some), as the API lists them.
    const listed = (await server.gql(`{ projects(first: 100) { edges { node { slug } } } }`)).data.projects.edges.map(
      (e: any) => e.node.slug,
    );
    expect(JSON.parse(npm.stdout).map((p: any) => p.slug)).toEqual(listed);
    expect(listed).toContain('shop');
    // As npm installs a bin: a symlink to cli/stageplane.js, run from elsewhere.
    const prefix = mkdtempSync(join(tmpdir(), 'stageplane-bin-'));
    mkdirSync(join(prefix, 'bin'));
    symlinkSync(join(ROOT, 'cli', 'stageplane.js'), join(prefix, 'bin', 'stageplane'));
    const bin = await cli(['envs', 'shop'], { command: [join(prefix, 'bin', 'stageplane')], cwd: tmpdir() });
    expect(bin.code).toBe(0);
    expect(bin.stdout).toMatch(/^staging\s+STAGING\s+development/m);
    const usage = await cli(['nope'], { command: [join(prefix, 'bin', 'stageplane')], cwd: tmpdir() });
    expect(usage.code).toBe(2);
  }, 120_000);

  const hasScript = spawnSync('script', ['--version'], { stdio: 'ignore' }).status === 0;
  it.skipIf(!hasScript)(
    'on a terminal: a live progress bar in colour; NO_COLOR keeps the bar and drops the colour',
    async () => {
      // `script` gives the CLI a pseudo-terminal.
      const onTerminal = async (args: string[], env: Record<string, string>) => {
        const command = [process.execPath, '--import', 'tsx', MAIN, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
        return cli(['-qfec', command, '/dev/null'], {
          command: ['script'],
          env: { TERM: 'xterm-256color', COLUMNS: '160', LINES: '40', ...env },
        });
      };
      const colour = await onTerminal(['push', 'shop', '--branch', 'main', '--sha', '07a07a0', '--wait'], {});
      expect(colour.code).toBe(0);
      expect(colour.stdout).toMatch(/\u001b\[32mSUCCEEDED\u001b\[39m/); // the status, in green
      expect(colour.stdout).toContain('\u2588'); // the bar
      expect(colour.stdout).toMatch(/shop\/development 07a07a0 .*100%/);
      const plain = await onTerminal(['push', 'shop', '--branch', 'main', '--sha', '08b08b0', '--wait'], { NO_COLOR: '1' });
      expect(plain.code).toBe(0);
      expect(plain.stdout).toMatch(/shop\/development 08b08b0 #+ 100% SUCCEEDED/);
      expect(plain.stdout).not.toMatch(/\u001b\[(?:1|2|3\d|9\d)m/); // no colour, only cursor movement
    },
    120_000,
  );

  it('members grant/revoke and visibility: a PRIVATE project is for its members only', async () => {
    await setupProject(server, 'team-x');
    const carol = await server.token('carol', []);
    expect((await cli(['visibility', 'team-x', 'private'])).stdout).toMatch(/team-x is PRIVATE/);
    // Without a grant, carol holds no role anywhere: refused (3); a VIEWER does not see it (4).
    expect((await cliAs(carol, ['envs', 'team-x'])).code).toBe(3);
    expect((await cliAs(viewer, ['envs', 'team-x'])).code).toBe(4);
    expect((await cli(['members', 'grant', 'team-x', '--subject', 'carol', '--roles', 'developer,qa'])).stdout).toMatch(
      /carol now holds DEVELOPER, QA in team-x/,
    );
    expect((await cli(['members', 'grant', 'team-x', '--group', 'ops', '--roles', 'APPROVER'])).code).toBe(0);
    const list = await cli(['members', 'team-x']);
    expect(list.stdout.split('\n')[0]).toMatch(/^GRANTEE\s+ROLES\s+GRANTED BY\s+SINCE$/);
    expect(list.stdout).toMatch(/^carol\s+DEVELOPER,QA\s+ada\s/m);
    expect(list.stdout).toMatch(/^group:ops\s+APPROVER\s+ada\s/m);
    expect(JSON.parse((await cli(['members', 'team-x', '--json'])).stdout)).toMatchObject({ slug: 'team-x', visibility: 'PRIVATE' });
    expect((await cliAs(carol, ['envs', 'team-x'])).code).toBe(0);
    // carol is a DEVELOPER there, not an ADMIN: she may not grant.
    expect((await cliAs(carol, ['members', 'grant', 'team-x', '--subject', 'dave', '--roles', 'ADMIN'])).code).toBe(3);
    expect((await cli(['members', 'grant', 'team-x', '--subject', 'carol', '--group', 'ops', '--roles', 'QA'])).code).toBe(2);
    expect((await cli(['visibility', 'team-x', 'secret'])).code).toBe(2);
    expect((await cli(['members', 'revoke', 'team-x', '--subject', 'carol'])).code).toBe(0);
    const again = await cli(['members', 'revoke', 'team-x', '--subject', 'carol']);
    expect(again.code).toBe(4);
    expect(again.stderr).toMatch(/carol held no grant in team-x/);
    expect((await cliAs(carol, ['envs', 'team-x'])).code).toBe(3);
    expect((await cli(['visibility', 'team-x', 'INTERNAL'])).code).toBe(0);
    expect((await cliAs(viewer, ['envs', 'team-x'])).code).toBe(0);
  });

  it('never prints a token', () => {
    expect(tokensUsed.size).toBeGreaterThan(3);
    for (const token of tokensUsed) for (const text of transcripts) expect(text.includes(token)).toBe(false);
  });
});

// ---------------------------------------------------------------------------------------------

describe('watch across a SIGKILL and restart of the server', () => {
  const JWT_SECRET = 'cli-watch-restart-secret-0123456789-abcdef';
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let env: Record<string, string>;
  let proc: StageplaneProcess | null = null;

  beforeAll(async () => {
    db = await createTestDatabase();
    // TEMPORAL_ADDRESS empty: the process runs its own Temporal, whose state lives in DATA_DIR.
    env = { DATABASE_URL: db.url, DATA_DIR: mkdtempSync(join(tmpdir(), 'stageplane-cli-restart-')), JWT_SECRET, TEMPORAL_ADDRESS: '' };
    proc = await spawnStageplane('all', env);
  }, 180_000);
  afterAll(async () => {
    await proc?.stop();
    await db?.drop();
  });

  it('resumes after the last seq: every event once and in order, exit 0; a short --timeout gives up with 5', async () => {
    const token = await jwtFor(JWT_SECRET, 'ada', ['ADMIN', 'DEVELOPER']);
    const created = await gqlAt(
      proc!.url,
      token,
      `mutation { createProject(input: { slug: "durable-cli", name: "Durable" }) { id environment(slug: "development") { id } } }`,
    );
    expect(created.errors).toBeUndefined();
    const r = await gqlAt(proc!.url, token, `mutation($i: UpdateEnvironmentInput!) { updateEnvironment(input: $i) { id } }`, {
      i: { id: created.data.createProject.environment.id, deployTarget: { provider: 'SIMULATED', stepSeconds: 3 } },
    });
    expect(r.errors).toBeUndefined();

    const pushed = await startCli(['push', 'durable-cli', '--branch', 'main', '--sha', 'deadbee1', '--json'], { url: proc!.url, token })
      .exited;
    expect(pushed.code).toBe(0);
    const id = JSON.parse(pushed.stdout).deployments[0].id as string;

    const watch = startCli(['watch', id, '--json', '--timeout', '240'], { url: proc!.url, token });
    const impatient = startCli(['watch', id, '--timeout', '1'], { url: proc!.url, token });
    await until('a few events before the kill', () => watch.stdout().trim().split('\n').length >= 4 && /#\d+ /.test(impatient.stdout()), {
      timeoutMs: 90_000,
    });

    const port = proc!.port;
    await proc!.killHard();
    const gaveUp = await impatient.exited;
    expect(gaveUp.code).toBe(5);
    expect(gaveUp.stderr).toContain(`cannot reach the Stageplane server at ws://127.0.0.1:${port}/graphql`);
    expect(gaveUp.stderr).toContain('the deployment goes on');

    proc = await spawnStageplane('all', env, port);
    const result = await Promise.race([
      watch.exited,
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`watch did not end:\n${watch.stderr()}`)), 150_000)),
    ]);
    expect(result.stderr).toMatch(/connection lost .*resuming after event #\d+/);
    expect(result.stderr).toMatch(/reconnected; resuming after event #\d+/);
    expect(result.code).toBe(0);
    const events = ndjson(result.stdout);
    expect(seqsOf(events)).toEqual(oneToN(events.length));
    expect(events.at(-1)).toMatchObject({ type: 'SUCCEEDED', status: 'SUCCEEDED' });
    const stored = await gqlAt(proc.url, token, `query($id: ID!) { deployment(id: $id) { status events { seq type } } }`, { id });
    expect(stored.data.deployment.status).toBe('SUCCEEDED');
    expect(stored.data.deployment.events).toEqual(events.map((e) => ({ seq: e.seq, type: e.type })));
  }, 300_000);
});
