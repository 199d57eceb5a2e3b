// Temporal over TLS, as Temporal Cloud or a secured cluster serves it: the API + worker process
// (`all`) against the shared dev server behind (a) a node:tls terminator requiring a client
// certificate (mTLS) and (b) a node:http2 TLS proxy that checks `authorization: Bearer <key>` on
// every gRPC call (API key). Certificates are made by openssl per run. A deployment runs to
// SUCCEEDED through each; every mistake stops the start with an error naming the variable,
// within 20 s rather than a worker "waiting for Temporal" forever.
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { until } from '../../scripts/lib/until.ts';
import { freePort } from '../../server/temporal.ts';
import { createTestPki, type TestPki } from '../support/certificates.ts';
import { gqlAt, jwtFor } from '../support/client.ts';
import { createTestDatabase } from '../support/database.ts';
import { spawnStageplane, type StageplaneProcess } from '../support/process.ts';
import { apiKeyProxy, type SecuredProxy, tlsTerminator } from '../support/tls-proxy.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const JWT_SECRET = 'temporal-tls-test-secret-0123456789-abcdef';
const API_KEY = 'test-api-key-3f9c1a';
const FAIL_WITHIN_MS = 20_000;

let pki: TestPki;
let mtls: SecuredProxy;
let keyed: SecuredProxy;
let db: Awaited<ReturnType<typeof createTestDatabase>>;
let admin: string;
let base: Record<string, string>;

beforeAll(async () => {
  pki = createTestPki();
  const target = inject('temporalAddress');
  mtls = await tlsTerminator({ target, cert: pki.serverCert, key: pki.serverKey, clientCa: pki.caCert });
  keyed = await apiKeyProxy({ target, cert: pki.serverCert, key: pki.serverKey, apiKey: API_KEY });
  db = await createTestDatabase();
  admin = await jwtFor(JWT_SECRET, 'ada', ['ADMIN', 'DEVELOPER']);
  const config = mkdtempSync(join(tmpdir(), 'stageplane-tls-config-'));
  base = {
    DATABASE_URL: db.url,
    JWT_SECRET,
    // No developer's ~/.config/temporalio/temporal.toml profile leaks into the test.
    XDG_CONFIG_HOME: config,
    TEMPORAL_PROFILE: '',
    TEMPORAL_CONFIG_FILE: '',
  };
}, 60_000);
afterAll(async () => {
  await mtls?.close();
  await keyed?.close();
  await db?.drop();
  pki?.remove();
});

const mtlsEnv = () => ({
  TEMPORAL_ADDRESS: mtls.address,
  TEMPORAL_TLS_SERVER_CA_CERT_PATH: pki.caCert,
  TEMPORAL_TLS_CLIENT_CERT_PATH: pki.clientCert,
  TEMPORAL_TLS_CLIENT_KEY_PATH: pki.clientKey,
});

function dataDir() {
  return mkdtempSync(join(tmpdir(), 'stageplane-tls-'));
}

async function deploysThrough(proc: StageplaneProcess, slug: string) {
  const created = await gqlAt(
    proc.url,
    admin,
    `mutation($i: CreateProjectInput!) { createProject(input: $i) { id environment(slug: "development") { id } } }`,
    { i: { slug, name: slug } },
  );
  expect(created.errors).toBeUndefined();
  const project = created.data.createProject;
  const updated = await gqlAt(proc.url, admin, `mutation($i: UpdateEnvironmentInput!) { updateEnvironment(input: $i) { id } }`, {
    i: { id: project.environment.id, deployTarget: { provider: 'SIMULATED', stepSeconds: 0 } },
  });
  expect(updated.errors).toBeUndefined();
  const pushed = await gqlAt(proc.url, admin, `mutation($i: RecordPushInput!) { recordPush(input: $i) { deployments { id } } }`, {
    i: { projectId: project.id, branch: 'main', commitSha: 'abc1234' },
  });
  expect(pushed.errors).toBeUndefined();
  const id = pushed.data.recordPush.deployments[0].id as string;
  return until(
    'the deployment to succeed',
    async () => {
      const r = await gqlAt(proc.url, admin, `query($id: ID!) { deployment(id: $id) { status } }`, { id });
      return r.data?.deployment.status === 'SUCCEEDED' ? r.data.deployment.status : null;
    },
    { timeoutMs: 60_000, intervalMs: 200, context: () => proc.output().slice(-2000) },
  );
}

/** Starts `all` and waits for it to exit; fails the test if it is still running after FAIL_WITHIN_MS. */
async function startFails(env: Record<string, string>, mode: 'all' | 'api' = 'all'): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts', mode], {
    cwd: ROOT,
    env: {
      ...process.env,
      NODE_ENV: 'test',
      HOST: '127.0.0.1',
      PORT: String(await freePort()),
      LOG_LEVEL: 'info',
      DATA_DIR: dataDir(),
      ...base,
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  const code = await new Promise<number | null>((resolve) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      resolve(-1);
    }, FAIL_WITHIN_MS);
    child.once('exit', (c) => {
      clearTimeout(timer);
      resolve(c);
    });
  });
  if (code === -1) throw new Error(`still running after ${FAIL_WITHIN_MS} ms instead of failing:\n${output.slice(-2000)}`);
  return { code, output };
}

describe('Temporal over TLS', () => {
  it('runs a deployment through mTLS (client certificate signed by the CA) and says ready', async () => {
    const before = mtls.secured;
    const proc = await spawnStageplane('all', { ...base, ...mtlsEnv(), DATA_DIR: dataDir(), TEMPORAL_TASK_QUEUE: 'tls-mtls' });
    try {
      expect((await fetch(`${proc.url}/readyz`)).status).toBe(200);
      expect(await deploysThrough(proc, 'mtls')).toBe('SUCCEEDED');
      // The worker, the API's client and readiness all went through the terminator.
      expect(mtls.secured - before).toBeGreaterThanOrEqual(3);
    } finally {
      await proc.stop();
    }
  }, 120_000);

  it('runs a deployment with only TEMPORAL_API_KEY (TLS on by itself), sending the key on every call', async () => {
    const before = keyed.authorizations.length;
    const proc = await spawnStageplane('all', {
      ...base,
      DATA_DIR: dataDir(),
      TEMPORAL_TASK_QUEUE: 'tls-api-key',
      TEMPORAL_ADDRESS: keyed.address,
      TEMPORAL_API_KEY: API_KEY,
      // Our test CA is not in the system's store (Temporal Cloud's is): the only extra variable.
      TEMPORAL_TLS_SERVER_CA_CERT_PATH: pki.caCert,
    });
    try {
      expect((await fetch(`${proc.url}/readyz`)).status).toBe(200);
      expect(await deploysThrough(proc, 'api-key')).toBe('SUCCEEDED');
      const seen = keyed.authorizations.slice(before);
      expect(seen.length).toBeGreaterThan(5);
      expect(new Set(seen)).toEqual(new Set([`Bearer ${API_KEY}`]));
    } finally {
      await proc.stop();
    }
  }, 120_000);

  it('reads the connection from a TOML profile (TEMPORAL_CONFIG_FILE, TEMPORAL_PROFILE)', async () => {
    const file = join(pki.dir, 'temporal.toml');
    writeFileSync(
      file,
      [
        '[profile.secured]',
        `address = "${mtls.address}"`,
        '[profile.secured.tls]',
        `server_ca_cert_path = "${pki.caCert}"`,
        `client_cert_path = "${pki.clientCert}"`,
        `client_key_path = "${pki.clientKey}"`,
        '',
      ].join('\n'),
    );
    const proc = await spawnStageplane('api', { ...base, DATA_DIR: dataDir(), TEMPORAL_CONFIG_FILE: file, TEMPORAL_PROFILE: 'secured' });
    try {
      expect((await fetch(`${proc.url}/readyz`)).status).toBe(200);
    } finally {
      await proc.stop();
    }
  }, 60_000);
});

describe('Temporal TLS mistakes stop the start, naming the variable', () => {
  it('a CA that did not sign the server certificate: TEMPORAL_TLS_SERVER_CA_CERT_PATH', async () => {
    const { code, output } = await startFails({ ...mtlsEnv(), TEMPORAL_TLS_SERVER_CA_CERT_PATH: pki.otherCaCert });
    expect(code).toBe(1);
    expect(output).toMatch(
      /Invalid TEMPORAL_TLS_SERVER_CA_CERT_PATH: the certificate of the Temporal server at .* is not signed by this CA/,
    );
  });

  it('the same in `api` mode (readiness would only say 503)', async () => {
    const { code, output } = await startFails({ ...mtlsEnv(), TEMPORAL_TLS_SERVER_CA_CERT_PATH: pki.otherCaCert }, 'api');
    expect(code).toBe(1);
    expect(output).toContain('Invalid TEMPORAL_TLS_SERVER_CA_CERT_PATH');
  });

  it('an expired client certificate: TEMPORAL_TLS_CLIENT_CERT_PATH', async () => {
    const { code, output } = await startFails({
      ...mtlsEnv(),
      TEMPORAL_TLS_CLIENT_CERT_PATH: pki.expiredClientCert,
      TEMPORAL_TLS_CLIENT_KEY_PATH: pki.expiredClientKey,
    });
    expect(code).toBe(1);
    expect(output).toContain('Invalid TEMPORAL_TLS_CLIENT_CERT_PATH: the client certificate expired on 2020-01-02T00:00:00.000Z');
  });

  it('a missing key file: TEMPORAL_TLS_CLIENT_KEY_PATH', async () => {
    const missing = join(pki.dir, 'no-such.key');
    const { code, output } = await startFails({ ...mtlsEnv(), TEMPORAL_TLS_CLIENT_KEY_PATH: missing });
    expect(code).toBe(1);
    expect(output).toContain(`Invalid TEMPORAL_TLS_CLIENT_KEY_PATH: cannot read ${missing} (no such file)`);
  });

  it('a client certificate without its key: TEMPORAL_TLS_CLIENT_KEY_PATH', async () => {
    const { TEMPORAL_TLS_CLIENT_KEY_PATH: _, ...env } = mtlsEnv();
    const { code, output } = await startFails(env);
    expect(code).toBe(1);
    expect(output).toContain('Invalid TEMPORAL_TLS_CLIENT_KEY_PATH: required with TEMPORAL_TLS_CLIENT_CERT_PATH');
  });

  it("another certificate's key: TEMPORAL_TLS_CLIENT_KEY_PATH", async () => {
    const { code, output } = await startFails({ ...mtlsEnv(), TEMPORAL_TLS_CLIENT_KEY_PATH: pki.expiredClientKey });
    expect(code).toBe(1);
    expect(output).toContain(
      'Invalid TEMPORAL_TLS_CLIENT_KEY_PATH: not the private key of the certificate in TEMPORAL_TLS_CLIENT_CERT_PATH',
    );
  });

  it('no client certificate where the server requires one: TEMPORAL_TLS_CLIENT_CERT_PATH', async () => {
    const { code, output } = await startFails({ TEMPORAL_ADDRESS: mtls.address, TEMPORAL_TLS_SERVER_CA_CERT_PATH: pki.caCert });
    expect(code).toBe(1);
    expect(output).toMatch(/Invalid TEMPORAL_TLS_CLIENT_CERT_PATH: the Temporal server at .* requires a client certificate/);
  });

  it('a server name the certificate is not for: TEMPORAL_TLS_SERVER_NAME', async () => {
    const { code, output } = await startFails({ ...mtlsEnv(), TEMPORAL_TLS_SERVER_NAME: 'temporal.example.com' });
    expect(code).toBe(1);
    expect(output).toContain('Invalid TEMPORAL_TLS_SERVER_NAME');
  });

  it('a wrong API key: TEMPORAL_API_KEY', async () => {
    const { code, output } = await startFails({
      TEMPORAL_ADDRESS: keyed.address,
      TEMPORAL_API_KEY: 'not-the-key',
      TEMPORAL_TLS_SERVER_CA_CERT_PATH: pki.caCert,
    });
    expect(code).toBe(1);
    expect(output).toMatch(/Invalid TEMPORAL_API_KEY: the Temporal server at .* refused it/);
  });

  it('TLS towards a plaintext Temporal: TEMPORAL_TLS', async () => {
    const { code, output } = await startFails({ TEMPORAL_ADDRESS: inject('temporalAddress'), TEMPORAL_TLS: 'true' });
    expect(code).toBe(1);
    expect(output).toContain('Invalid TEMPORAL_TLS');
  });
});
