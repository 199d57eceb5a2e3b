// The CLI's token sources end to end: the real CLI as a child process, a real server, a real
// OpenID issuer on 127.0.0.1 and a real HTTP server playing the GitHub Actions runtime's token
// endpoint (ACTIONS_ID_TOKEN_REQUEST_URL/TOKEN, as core.getIDToken calls it). A CI job with only
// `--oidc` pushes through a trust policy; --token-file and STAGEPLANE_TOKEN_FILE read a file.
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../support/database.ts';
import { setupProject } from '../support/deployments.ts';
import { startIssuer, type TestIssuer } from '../support/oidc-issuer.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const MAIN = join(ROOT, 'cli', 'main.ts');
const REQUEST_TOKEN = 'runtime-request-token-0123456789';
const JOB_SUB = 'repo:acme/shop:ref:refs/heads/main';

let server: TestServer;
let dropDb: () => Promise<void>;
let ci: TestIssuer;
let runtime: Server;
let runtimeUrl: string;
const runtimeRequests: { audience: string | null; authorization: string | undefined; apiVersion: string | null }[] = [];
const minted: string[] = [];
const outputs: string[] = [];
let shopId: string;

function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const clean: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !/^(STAGEPLANE_|ACTIONS_|NO_COLOR$|FORCE_COLOR$)/.test(k)) clean[k] = v;
  }
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], {
    cwd: ROOT,
    env: { ...clean, STAGEPLANE_URL: server.url, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  return new Promise((resolve) =>
    child.once('close', (code) => {
      outputs.push(stdout, stderr);
      resolve({ code, stdout, stderr });
    }),
  );
}

const actions = (extra: Record<string, string> = {}) => ({
  ACTIONS_ID_TOKEN_REQUEST_URL: `${runtimeUrl}/_apis/distributedtask/token?api-version=2.0`,
  ACTIONS_ID_TOKEN_REQUEST_TOKEN: REQUEST_TOKEN,
  ...extra,
});

beforeAll(async () => {
  ci = await startIssuer([{ alg: 'RS256', kid: 'actions-1' }]);
  // The runtime's token endpoint: mints the job's token for the audience asked, if the request token is right.
  runtime = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const audience = url.searchParams.get('audience');
    runtimeRequests.push({ audience, authorization: req.headers.authorization, apiVersion: url.searchParams.get('api-version') });
    if (req.headers.authorization !== `bearer ${REQUEST_TOKEN}`) {
      res.writeHead(401, { 'content-type': 'application/json' }).end('{"message":"bad token"}');
      return;
    }
    const value = await ci.token({ sub: JOB_SUB, aud: audience ?? 'https://github.com/acme', repository: 'acme/shop' });
    minted.push(value);
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ count: 1, value }));
  });
  await new Promise<void>((resolve) => runtime.listen(0, '127.0.0.1', resolve));
  runtimeUrl = `http://127.0.0.1:${(runtime.address() as AddressInfo).port}`;
  const db = await createTestDatabase();
  dropDb = db.drop;
  server = await startTestServer({ databaseUrl: db.url });
  shopId = (await setupProject(server, 'shop')).id;
  for (const audience of ['stageplane-ci', new URL(server.url).origin]) {
    const r = await server.gql(`mutation($i: CreateTrustPolicyInput!) { createTrustPolicy(input: $i) { id } }`, {
      i: { projectId: shopId, issuer: ci.url, audience, subjectPattern: 'repo:acme/shop:ref:refs/heads/*', roles: ['DEVELOPER'] },
    });
    expect(r.errors).toBeUndefined();
  }
}, 60_000);

afterAll(async () => {
  await server?.stop();
  await new Promise((r) => runtime?.close(r));
  await ci?.stop();
  await dropDb?.();
});

describe('--oidc: the GitHub Actions job token', () => {
  it('pushes with only the runtime’s variables, asking for the audience given', async () => {
    const r = await cli(
      ['push', 'shop', '--branch', 'main', '--sha', 'abc1234', '--json', '--oidc', '--oidc-audience', 'stageplane-ci'],
      actions(),
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('abc1234');
    const asked = runtimeRequests.at(-1)!;
    expect(asked).toEqual({ audience: 'stageplane-ci', authorization: `bearer ${REQUEST_TOKEN}`, apiVersion: '2.0' });
    // The server recorded the push as the job itself.
    const audit = await server.gql(`query { project(slug: "shop") { auditLog(first: 1) { edges { node { actor action } } } } }`);
    expect(audit.data.project.auditLog.edges[0].node.actor).toBe(JOB_SUB);
  });

  it('takes the audience from STAGEPLANE_OIDC_AUDIENCE alone, or defaults to the server’s origin', async () => {
    const byEnv = await cli(['envs', 'shop', '--json'], actions({ STAGEPLANE_OIDC_AUDIENCE: 'stageplane-ci' }));
    expect(byEnv.code, byEnv.stderr).toBe(0);
    expect(runtimeRequests.at(-1)!.audience).toBe('stageplane-ci');
    const byDefault = await cli(['envs', 'shop', '--json', '--oidc'], actions());
    expect(byDefault.code, byDefault.stderr).toBe(0);
    expect(runtimeRequests.at(-1)!.audience).toBe(new URL(server.url).origin);
  });

  it('an audience no policy names is UNAUTHENTICATED (exit 3)', async () => {
    const r = await cli(['envs', 'shop', '--oidc', '--oidc-audience', 'unknown-aud'], actions());
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/UNAUTHENTICATED/);
  });

  it('without the runtime variables is a usage error (exit 2) naming id-token: write', async () => {
    const r = await cli(['envs', 'shop', '--oidc']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/id-token: write/);
  });

  it('a runtime that refuses the request token: exit 3, and the server is never called with a token', async () => {
    const r = await cli(['envs', 'shop', '--oidc'], actions({ ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'wrong' }));
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/Actions runtime gave no OIDC token \(HTTP 401\)/);
  });
});

describe('--token-file and STAGEPLANE_TOKEN_FILE', () => {
  const dir = mkdtempSync(join(tmpdir(), 'stageplane-token-'));

  it('reads the token from the file (trailing newline and all)', async () => {
    const file = join(dir, 'token');
    writeFileSync(file, `${await server.token('from-file', ['VIEWER'])}\n`, { mode: 0o600 });
    const byFlag = await cli(['projects', '--json', '--token-file', file]);
    expect(byFlag.code, byFlag.stderr).toBe(0);
    expect(JSON.parse(byFlag.stdout).map((p: any) => p.slug)).toContain('shop');
    const byEnv = await cli(['projects', '--json'], { STAGEPLANE_TOKEN_FILE: file });
    expect(byEnv.code, byEnv.stderr).toBe(0);
  });

  it('refuses a missing or empty file, and two token sources at once (exit 2)', async () => {
    const missing = await cli(['projects', '--token-file', join(dir, 'nope')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/cannot read the token file .*ENOENT/);
    const empty = join(dir, 'empty');
    writeFileSync(empty, '\n');
    expect((await cli(['projects', '--token-file', empty])).code).toBe(2);
    const both = await cli(['projects', '--token', 'x', '--token-file', empty]);
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/different token sources/);
  });

  it('never prints a token it was given or minted', () => {
    const all = outputs.join('\n');
    for (const token of minted) expect(all).not.toContain(token);
  });
});
