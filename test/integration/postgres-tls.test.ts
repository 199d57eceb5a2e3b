// TLS to PostgreSQL as DATABASE_URL asks for it (sslmode, sslrootcert), against a private cluster
// with ssl=on, its own certificate (for localhost and 127.0.0.1 only, signed by a CA made here) and
// a hostssl-only pg_hba.conf, so a plain connection is refused. It also listens on 127.0.0.2, an
// address the certificate does not name. Connections go through createDatabase, the client the
// server uses; then the real server runs on verify-full.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createDatabase } from '../../db/client.ts';
import { type PrivatePostgres, startPrivatePostgres } from '../../scripts/lib/private-postgres.ts';
import { until } from '../../scripts/lib/until.ts';
import { freePort } from '../../server/temporal.ts';
import { gqlAt, jwtFor } from '../support/client.ts';
import { spawnStageplane, type StageplaneProcess } from '../support/process.ts';
import { makeCertificates, type TestCertificates } from '../support/tls.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const JWT_SECRET = 'postgres-tls-test-secret-0123456789-abcdef';
// Trust auth never asks for it; it is here to prove no error or log line shows it.
const PASSWORD = 'hunter2-do-not-print';

let certs: TestCertificates;
let pg: PrivatePostgres;

beforeAll(async () => {
  certs = makeCertificates();
  pg = startPrivatePostgres(await freePort(), {
    prefix: 'stageplane-tls-pg-',
    configure: (files) => {
      const cert = files.writeFile('server.crt', certs.read(certs.serverCert));
      const key = files.writeFile('server.key', certs.read(certs.serverKey), 0o600); // PostgreSQL refuses a readable key
      return {
        conf: `ssl = on\nssl_cert_file = '${cert}'\nssl_key_file = '${key}'\nlisten_addresses = '127.0.0.1,127.0.0.2'`,
        // TLS or nothing over TCP; the local socket stays for pg_ctl.
        hba: ['local all all trust', 'hostssl all all 127.0.0.1/32 trust', 'hostssl all all 127.0.0.2/32 trust'].join('\n'),
      };
    },
  });
});
afterAll(() => {
  pg?.destroy();
  certs?.remove();
});

const urlFor = (params: string, host = '127.0.0.1') =>
  `postgres://postgres:${PASSWORD}@${host}:${pg.port}/postgres${params ? `?${params}` : ''}`;

/** The rows of a raw query (postgres.js answers an array; the Database type does not say). */
const rowsOf = <T>(result: unknown) => result as T[];

/** Connects the way the server does and asks PostgreSQL whether this connection is encrypted. */
async function connectedSsl(url: string): Promise<boolean> {
  const handle = await createDatabase({ url, poolSize: 1 });
  try {
    const result = await handle.db.execute(sql`select ssl from pg_stat_ssl where pid = pg_backend_pid()`);
    return rowsOf<{ ssl: boolean }>(result)[0]!.ssl;
  } finally {
    await handle.close();
  }
}

/** The connection's error (Drizzle wraps it as "Failed query: …"); fails the test if it connects. */
async function connectError(url: string): Promise<Error & { code?: string }> {
  try {
    await connectedSsl(url);
  } catch (error) {
    const cause = ((error as Error).cause ?? error) as Error & { code?: string };
    expect(`${String(error)} ${String(cause)}`).not.toContain(PASSWORD);
    return cause;
  }
  throw new Error(`expected ${url.replace(PASSWORD, '***')} to fail`);
}

describe('sslmode and sslrootcert against a hostssl-only server', () => {
  it('sslmode=require connects encrypted, without checking the certificate', async () => {
    expect(await connectedSsl(urlFor('sslmode=require'))).toBe(true);
    // Not even the name: require at an address the certificate does not name still connects.
    expect(await connectedSsl(urlFor('sslmode=require', '127.0.0.2'))).toBe(true);
  });

  it('sslmode=prefer (and allow) connect encrypted when the server offers TLS', async () => {
    expect(await connectedSsl(urlFor('sslmode=prefer'))).toBe(true);
    expect(await connectedSsl(urlFor('sslmode=allow'))).toBe(true);
  });

  it('verify-full with the CA that signed the certificate connects, by IP address and by name', async () => {
    const ca = `sslrootcert=${encodeURIComponent(certs.caCert)}`;
    expect(await connectedSsl(urlFor(`sslmode=verify-full&${ca}`))).toBe(true);
    expect(await connectedSsl(urlFor(`sslmode=verify-full&${ca}`, 'localhost'))).toBe(true);
    // Other parameters still reach the server as settings.
    const handle = await createDatabase({ url: urlFor(`sslmode=verify-full&${ca}&application_name=tls-check`), poolSize: 1 });
    try {
      const rows = rowsOf<{ name: string }>(await handle.db.execute(sql`select current_setting('application_name') as name`));
      expect(rows[0]!.name).toBe('tls-check');
    } finally {
      await handle.close();
    }
  });

  it('verify-full with another CA fails: the certificate cannot be verified', async () => {
    const error = await connectError(urlFor(`sslmode=verify-full&sslrootcert=${certs.otherCaCert}`));
    expect(error.code).toBe('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
    expect(error.message).toBe('unable to verify the first certificate');
  });

  it('verify-full at an address the certificate does not name fails; verify-ca there connects', async () => {
    // 127.0.0.2 reaches the same server, whose certificate is for localhost and 127.0.0.1 only.
    const ca = `sslrootcert=${certs.caCert}`;
    const error = await connectError(urlFor(`sslmode=verify-full&${ca}`, '127.0.0.2'));
    expect(error.code).toBe('ERR_TLS_CERT_ALTNAME_INVALID');
    expect(error.message).toContain('127.0.0.2 is not in the cert');
    expect(await connectedSsl(urlFor(`sslmode=verify-ca&${ca}`, '127.0.0.2'))).toBe(true);
  });

  it('verify-ca with another CA fails, and so does require with one (require + sslrootcert is verify-ca, as in libpq)', async () => {
    const other = `sslrootcert=${certs.otherCaCert}`;
    expect((await connectError(urlFor(`sslmode=verify-ca&${other}`))).code).toBe('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
    expect((await connectError(urlFor(`sslmode=require&${other}`))).code).toBe('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
    expect(await connectedSsl(urlFor(`sslmode=require&sslrootcert=${certs.caCert}`, '127.0.0.2'))).toBe(true);
  });

  it('sslrootcert=system checks against the system CAs, which did not sign this certificate', async () => {
    expect((await connectError(urlFor('sslrootcert=system'))).code).toBe('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
  });

  it('no sslmode (and sslmode=disable) connects in plain text, which this server refuses', async () => {
    for (const params of ['', 'sslmode=disable']) {
      const error = await connectError(urlFor(params));
      expect(error.message).toMatch(/no pg_hba\.conf entry for host "127\.0\.0\.1".*no encryption/);
    }
  });
});

describe('the server on a TLS DATABASE_URL', () => {
  let dataDir: string;
  let proc: StageplaneProcess | null = null;
  beforeAll(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'stageplane-tls-server-'));
  });
  afterAll(async () => {
    await proc?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });
  const envFor = (databaseUrl: string) => ({
    DATABASE_URL: databaseUrl,
    DATA_DIR: dataDir,
    JWT_SECRET,
    TEMPORAL_ADDRESS: inject('temporalAddress'),
    TEMPORAL_TASK_QUEUE: `postgres-tls-${process.pid}`,
  });

  it('with sslmode=verify-full answers /readyz 200 and a mutation, every connection encrypted', async () => {
    proc = await spawnStageplane('api', envFor(urlFor(`sslmode=verify-full&sslrootcert=${certs.caCert}`)));
    const ready = await fetch(`${proc.url}/readyz`);
    expect(ready.status).toBe(200);
    const token = await jwtFor(JWT_SECRET, 'ada', ['ADMIN']);
    const created = await gqlAt(proc.url, token, `mutation { createProject(input: { slug: "tls", name: "TLS" }) { id slug } }`);
    expect(created.errors).toBeUndefined();
    expect(created.data.createProject.slug).toBe('tls');
    const read = await gqlAt(proc.url, token, `{ project(slug: "tls") { name } }`);
    expect(read.data.project.name).toBe('TLS');

    // The pool and the event hub's LISTEN connection alike (the server has its own PID here).
    const observer = postgres(urlFor('sslmode=require').replace(`:${PASSWORD}`, ''), { max: 1, ssl: 'require', onnotice: () => {} });
    try {
      const rows = await observer<{ application_name: string; ssl: boolean }[]>`
        select a.application_name, s.ssl from pg_stat_activity a join pg_stat_ssl s using (pid)
        where a.backend_type = 'client backend' and a.pid <> pg_backend_pid()`;
      expect(rows.map((r) => r.application_name)).toContain('stageplane-events');
      expect(rows.filter((r) => !r.ssl)).toEqual([]);
    } finally {
      await observer.end();
    }
    expect(proc.output()).not.toContain(PASSWORD);
    await proc.stop();
    proc = null;
  }, 120_000);

  it('answers /readyz 503 naming the certificate failure when the server starts presenting an untrusted certificate, 200 once it is fixed', async () => {
    const running = await spawnStageplane('api', envFor(urlFor(`sslmode=verify-full&sslrootcert=${certs.caCert}`)));
    proc = running;
    const readyz = async () => {
      const r = await fetch(`${running.url}/readyz`);
      return { status: r.status, body: (await r.json()) as { failures?: { database?: string } } };
    };
    const observer = postgres(urlFor('sslmode=require').replace(`:${PASSWORD}`, ''), { max: 1, ssl: 'require', onnotice: () => {} });
    // The cluster's certificate file (written by configure), swapped for one of the other CA; new
    // connections get it after a reload, so the server's are cut to make it reconnect.
    const served = join(pg.dir, 'server.crt');
    const swap = async (cert: string) => {
      writeFileSync(served, certs.read(cert));
      await observer`select pg_reload_conf()`;
      await observer`select pg_terminate_backend(pid) from pg_stat_activity where backend_type = 'client backend' and pid <> pg_backend_pid()`;
    };
    try {
      expect((await readyz()).status).toBe(200);
      await swap(certs.otherServerCert);
      const down = await until('/readyz 503', async () => ((await readyz()).status === 503 ? readyz() : null), { timeoutMs: 20_000 });
      expect(down.body.failures?.database).toBe('unable to verify the first certificate');
      await swap(certs.serverCert);
      await until('/readyz 200 again', async () => (await readyz()).status === 200, { timeoutMs: 20_000 });
    } finally {
      writeFileSync(served, certs.read(certs.serverCert));
      await observer.end();
    }
    expect(running.output()).not.toContain(PASSWORD);
    await running.stop();
    proc = null;
  }, 120_000);

  it('exits (no hang) naming the reason when the certificate cannot be verified, without printing the password', async () => {
    const failing = await spawnStageplane('api', envFor(urlFor(`sslmode=verify-full&sslrootcert=${certs.otherCaCert}`))).then(
      (p) => {
        proc = p;
        return null;
      },
      (error: Error) => error,
    );
    expect(failing?.message).toContain('stageplane exited during start-up');
    expect(failing?.message).toContain('unable to verify the first certificate');
    expect(failing?.message).not.toContain(PASSWORD);
  }, 120_000);

  it.each([
    [
      'a missing sslrootcert file',
      () => `sslmode=verify-full&sslrootcert=${join(certs.dir, 'nope.crt')}`,
      /sslrootcert file .*nope\.crt cannot be read \(ENOENT\)/,
    ],
    [
      'an sslrootcert that is a directory',
      () => `sslmode=verify-full&sslrootcert=${certs.dir}`,
      /sslrootcert file .* cannot be read \(EISDIR\)/,
    ],
    [
      'an sslrootcert that is a private key',
      () => `sslmode=verify-full&sslrootcert=${certs.serverKey}`,
      /sslrootcert file .* holds no PEM certificate/,
    ],
    ['verify-full without sslrootcert', () => 'sslmode=verify-full', /sslmode=verify-full needs sslrootcert=/],
    [
      'an unknown sslmode',
      () => 'sslmode=verify',
      /sslmode must be one of disable, allow, prefer, require, verify-ca, verify-full \(got "verify"\)/,
    ],
  ])('stops at start-up with one line naming DATABASE_URL for %s', (_what, params, message) => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'server/main.ts', 'api'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', DATA_DIR: dataDir, DATABASE_URL: urlFor(params()) },
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(r.status).toBe(1);
    const stderr = r.stderr.trim();
    expect(stderr.split('\n')).toHaveLength(1);
    expect(stderr).toMatch(/^stageplane: Invalid DATABASE_URL: /);
    expect(stderr).toMatch(message);
    expect(stderr + r.stdout).not.toContain(PASSWORD);
  });
});
