// DATABASE_URL's TLS parameters into postgres.js options (config/database-tls.ts), and loadConfig
// refusing bad ones at start-up. Connections themselves: test/integration/postgres-tls.test.ts.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ConnectionOptions } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresConnection } from '../../config/database-tls.ts';
import { ConfigError, loadConfig } from '../../config/index.ts';
import { makeCertificates, type TestCertificates } from '../support/tls.ts';

const PASSWORD = 'p%40ss-w0rd-never-shown';
const BASE = `postgres://app:${PASSWORD}@db.internal:5432/stageplane`;
let certs: TestCertificates;

beforeAll(() => {
  certs = makeCertificates();
});
afterAll(() => certs?.remove());

/** The ConfigError a URL is refused with; its message never shows the password. */
function refusal(url: string): string {
  try {
    postgresConnection(url);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    expect(message).not.toContain(PASSWORD);
    expect(message).not.toContain('never-shown');
    expect(message).toMatch(/^Invalid DATABASE_URL: /);
    return message;
  }
  throw new Error(`expected ${url} to be refused`);
}

describe('postgresConnection', () => {
  it('leaves a URL without TLS parameters alone and turns TLS off explicitly', () => {
    expect(postgresConnection(BASE)).toEqual({ url: BASE, ssl: false, sslmode: 'disable' });
    expect(postgresConnection(`${BASE}?application_name=x`)).toEqual({ url: `${BASE}?application_name=x`, ssl: false, sslmode: 'disable' });
  });

  it.each([
    ['disable', false],
    ['allow', 'prefer'],
    ['prefer', 'prefer'],
    ['require', 'require'],
  ])('sslmode=%s is postgres.js ssl %o, and leaves the URL', (mode, ssl) => {
    const c = postgresConnection(`${BASE}?sslmode=${mode}&application_name=x`);
    expect(c.ssl).toBe(ssl);
    expect(c.sslmode).toBe(mode);
    expect(c.url).toBe(`${BASE}?application_name=x`);
  });

  it('verify-full reads the CA file and checks the URL host, named for SNI', () => {
    const c = postgresConnection(`${BASE}?sslrootcert=${encodeURIComponent(certs.caCert)}&sslmode=verify-full`);
    expect(c.url).toBe(BASE);
    expect(c.sslmode).toBe('verify-full');
    expect(c.ssl).toEqual({ rejectUnauthorized: true, ca: certs.read(certs.caCert), host: 'db.internal', servername: 'db.internal' });
  });

  it('verify-full to an IP address checks that address (Node would check "localhost"), without SNI', () => {
    const at = (host: string) =>
      postgresConnection(`postgres://u@${host}/d?sslmode=verify-full&sslrootcert=${certs.caCert}`).ssl as ConnectionOptions;
    expect(at('10.1.2.3:5432').host).toBe('10.1.2.3');
    expect(at('10.1.2.3:5432').servername).toBeUndefined();
    expect(at('[::1]:5432').host).toBe('::1');
    expect(at('[::1]:5432').servername).toBeUndefined();
  });

  it('verify-ca verifies the chain but not the name', () => {
    const ssl = postgresConnection(`${BASE}?sslmode=verify-ca&sslrootcert=${certs.caCert}`).ssl as ConnectionOptions;
    expect(ssl.rejectUnauthorized).toBe(true);
    expect(ssl.ca).toBe(certs.read(certs.caCert));
    expect(ssl.checkServerIdentity!('anything.example', {} as never)).toBeUndefined();
    expect(ssl.host).toBeUndefined();
  });

  it('require with sslrootcert is verify-ca, as libpq does', () => {
    const c = postgresConnection(`${BASE}?sslmode=require&sslrootcert=${certs.caCert}`);
    expect(c.sslmode).toBe('verify-ca');
    expect((c.ssl as ConnectionOptions).ca).toBe(certs.read(certs.caCert));
  });

  it('sslrootcert=system is verify-full against the system CAs (no ca option)', () => {
    for (const url of [`${BASE}?sslrootcert=system`, `${BASE}?sslrootcert=system&sslmode=verify-full`]) {
      const c = postgresConnection(url);
      expect(c).toEqual({
        url: BASE,
        sslmode: 'verify-full',
        ssl: { rejectUnauthorized: true, host: 'db.internal', servername: 'db.internal' },
      });
    }
    expect(refusal(`${BASE}?sslrootcert=system&sslmode=require`)).toContain(
      'sslrootcert=system needs sslmode=verify-full (got sslmode=require)',
    );
  });

  it('keeps a host list for the unverified modes, refuses one for verify-full', () => {
    const list = `postgres://u:${PASSWORD}@a:5432,b:5433/d`;
    expect(postgresConnection(`${list}?sslmode=require`)).toEqual({ url: list, ssl: 'require', sslmode: 'require' });
    expect(refusal(`${list}?sslmode=verify-full&sslrootcert=${certs.caCert}`)).toContain(
      'sslmode=verify-full supports one host, not a list (a:5432,b:5433)',
    );
  });

  it.each([
    [
      'an unknown sslmode',
      '?sslmode=verify',
      'sslmode must be one of disable, allow, prefer, require, verify-ca, verify-full (got "verify")',
    ],
    ['sslmode twice', '?sslmode=require&sslmode=disable', 'sslmode is given 2 times'],
    ['verify-full without a CA', '?sslmode=verify-full', 'sslmode=verify-full needs sslrootcert=<file of PEM CA certificates>'],
    ['verify-ca without a CA', '?sslmode=verify-ca', 'sslmode=verify-ca needs sslrootcert='],
    [
      'sslrootcert without sslmode',
      '?sslrootcert=/etc/ca.pem',
      'sslrootcert needs sslmode=require, verify-ca or verify-full (got no sslmode)',
    ],
    [
      'sslrootcert with prefer',
      '?sslrootcert=/etc/ca.pem&sslmode=prefer',
      'sslrootcert needs sslmode=require, verify-ca or verify-full (got sslmode=prefer)',
    ],
    ['an empty sslrootcert', '?sslmode=verify-full&sslrootcert=', 'sslrootcert is empty'],
    ['a client certificate', '?sslmode=require&sslcert=/c.pem', 'sslcert is not supported (TLS parameters: sslmode, sslrootcert)'],
    ['a client key', '?sslkey=/k.pem', 'sslkey is not supported'],
    ['postgres.js ssl=', '?ssl=true', 'ssl is not a libpq parameter; use sslmode=require, verify-ca or verify-full'],
  ])('refuses %s, naming it', (_what, query, message) => {
    expect(refusal(`${BASE}${query}`)).toContain(message);
  });

  it('refuses a CA file that is missing, a directory, not PEM, or a corrupt certificate', () => {
    const missing = join(certs.dir, 'missing.crt');
    expect(refusal(`${BASE}?sslmode=verify-full&sslrootcert=${missing}`)).toBe(
      `Invalid DATABASE_URL: sslrootcert file ${missing} cannot be read (ENOENT)`,
    );
    expect(refusal(`${BASE}?sslmode=verify-full&sslrootcert=${certs.dir}`)).toContain('cannot be read (EISDIR)');
    expect(refusal(`${BASE}?sslmode=verify-ca&sslrootcert=${certs.serverKey}`)).toContain('holds no PEM certificate');
    const corrupt = join(certs.dir, 'corrupt.crt');
    writeFileSync(corrupt, `${certs.read(certs.caCert)}-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n`);
    expect(refusal(`${BASE}?sslmode=require&sslrootcert=${corrupt}`)).toContain(
      `sslrootcert file ${corrupt}: certificate 2 cannot be parsed`,
    );
  });

  it('accepts a bundle of several CA certificates', () => {
    const bundle = join(certs.dir, 'bundle.crt');
    writeFileSync(bundle, certs.read(certs.otherCaCert) + certs.read(certs.caCert));
    expect((postgresConnection(`${BASE}?sslmode=verify-full&sslrootcert=${bundle}`).ssl as ConnectionOptions).ca).toContain(
      'BEGIN CERTIFICATE',
    );
  });
});

describe('loadConfig', () => {
  const env = (DATABASE_URL: string) => ({ NODE_ENV: 'test', JWT_SECRET: 'x'.repeat(32), DATA_DIR: certs.dir, DATABASE_URL });

  it('checks the TLS parameters at start-up: an unreadable CA file is a ConfigError naming DATABASE_URL and sslrootcert', () => {
    const missing = join(certs.dir, 'gone.crt');
    expect(() => loadConfig(env(`${BASE}?sslmode=verify-full&sslrootcert=${missing}`))).toThrow(
      new ConfigError(`Invalid DATABASE_URL: sslrootcert file ${missing} cannot be read (ENOENT)`),
    );
    expect(loadConfig(env(`${BASE}?sslmode=verify-full&sslrootcert=${certs.caCert}`)).databaseUrl).toBe(
      `${BASE}?sslmode=verify-full&sslrootcert=${certs.caCert}`,
    );
  });

  it('does not show the password of a DATABASE_URL that is not a postgres:// URL', () => {
    expect(() => loadConfig(env(`mysql://app:${PASSWORD}@db/x`))).toThrow(
      new ConfigError('Invalid DATABASE_URL: must be a postgres:// or postgresql:// URL (got "mysql://***@db/x")'),
    );
    expect(() => loadConfig(env('mysql://app:with@at@db/x'))).toThrow(/got "mysql:\/\/\*\*\*@db\/x"/);
  });
});
