// config/temporal.ts on @temporalio/envconfig (the real library, real files): precedence of
// variables over the TOML profile, an API key turning TLS on, empty variables as unset, and each
// mistake named by the variable or the file's key it came from.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../config/index.ts';
import { loadTemporalConnection } from '../../config/temporal.ts';
import { createTestPki, type TestPki } from '../support/certificates.ts';

let pki: TestPki;
// No HOME: no developer's ~/.config/temporalio/temporal.toml is read.
const base = { JWT_SECRET: 'x'.repeat(32), DATA_DIR: '/tmp/stageplane-unit-temporal-config' };
beforeAll(() => {
  pki = createTestPki();
});
afterAll(() => pki?.remove());

function toml(lines: string[]) {
  const file = join(pki.dir, `profile-${Math.random().toString(36).slice(2)}.toml`);
  writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}

describe('Temporal connection settings', () => {
  it('keeps the local dev server default: nothing set, or only empty variables', () => {
    const config = loadConfig({ ...base, TEMPORAL_ADDRESS: '', TEMPORAL_NAMESPACE: '', TEMPORAL_API_KEY: '' });
    expect(config.temporal.address).toBeUndefined();
    expect(config.temporal.namespace).toBe('default');
    expect(config.temporal.connection.tls).toBeUndefined();
    expect(config.temporal.connection.apiKey).toBeUndefined();
  });

  it('turns TLS on with an API key alone (Temporal Cloud: address, namespace, key)', () => {
    const c = loadConfig({ ...base, TEMPORAL_ADDRESS: 'ns.acct.tmprl.cloud:7233', TEMPORAL_NAMESPACE: 'ns.acct', TEMPORAL_API_KEY: 'k' });
    expect(c.temporal).toMatchObject({ address: 'ns.acct.tmprl.cloud:7233', namespace: 'ns.acct' });
    expect(c.temporal.connection).toMatchObject({ apiKey: 'k', tls: true });
  });

  it('reads a TOML profile, the variables overriding it', () => {
    const file = toml([
      '[profile.prod]',
      'address = "temporal.internal:7233"',
      'namespace = "from-file"',
      '[profile.prod.tls]',
      `server_ca_cert_path = "${pki.caCert}"`,
      `client_cert_path = "${pki.clientCert}"`,
      `client_key_path = "${pki.clientKey}"`,
    ]);
    const c = loadConfig({ ...base, TEMPORAL_CONFIG_FILE: file, TEMPORAL_PROFILE: 'prod', TEMPORAL_NAMESPACE: 'from-env' });
    expect(c.temporal.address).toBe('temporal.internal:7233');
    expect(c.temporal.namespace).toBe('from-env');
    const tls = c.temporal.connection.tls as { serverRootCACertificate: Uint8Array; clientCertPair: { crt: Uint8Array } };
    expect(Buffer.from(tls.serverRootCACertificate).equals(readFileSync(pki.caCert))).toBe(true);
    expect(Buffer.from(tls.clientCertPair.crt).equals(readFileSync(pki.clientCert))).toBe(true);
  });

  it("names the file's key when the mistake is in the file", () => {
    const file = toml([
      '[profile.prod]',
      'address = "temporal.internal:7233"',
      '[profile.prod.tls]',
      `client_cert_path = "${pki.expiredClientCert}"`,
      `client_key_path = "${pki.expiredClientKey}"`,
    ]);
    expect(() => loadConfig({ ...base, TEMPORAL_CONFIG_FILE: file, TEMPORAL_PROFILE: 'prod' })).toThrow(
      `Invalid profile.prod.tls.client_cert_path in ${file}: the client certificate expired on 2020-01-02T00:00:00.000Z`,
    );
  });

  it.each([
    [{ TEMPORAL_PROFILE: 'nope', TEMPORAL_CONFIG_FILE: 'FILE' }, /^Invalid TEMPORAL_PROFILE: no profile "nope" in /],
    [
      { TEMPORAL_CONFIG_FILE: '/nonexistent/temporal.toml' },
      'Invalid TEMPORAL_CONFIG_FILE: cannot read /nonexistent/temporal.toml (no such file)',
    ],
    [
      { TEMPORAL_ADDRESS: 'host:1', TEMPORAL_TLS_SERVER_CA_CERT_PATH: 'KEY' },
      'Invalid TEMPORAL_TLS_SERVER_CA_CERT_PATH: not a PEM CA certificate',
    ],
    [
      { TEMPORAL_ADDRESS: 'host:1', TEMPORAL_TLS_CLIENT_KEY_PATH: 'KEY' },
      'Invalid TEMPORAL_TLS_CLIENT_CERT_PATH: required with TEMPORAL_TLS_CLIENT_KEY_PATH',
    ],
    [
      { TEMPORAL_ADDRESS: 'host:1', TEMPORAL_TLS_CLIENT_CERT_PATH: 'CERT', TEMPORAL_TLS_CLIENT_KEY_DATA: 'garbage' },
      'Invalid TEMPORAL_TLS_CLIENT_KEY_DATA: not a PEM private key',
    ],
    [
      { TEMPORAL_ADDRESS: 'host:1', TEMPORAL_TLS_DISABLE_HOST_VERIFICATION: 'true' },
      /^Invalid TEMPORAL_TLS_DISABLE_HOST_VERIFICATION: not supported/,
    ],
    [{ TEMPORAL_API_KEY: 'k' }, /^Invalid TEMPORAL_ADDRESS: required with TLS or TEMPORAL_API_KEY/],
    [{ TEMPORAL_TLS_SERVER_CA_CERT_PATH: 'CA' }, /^Invalid TEMPORAL_ADDRESS: required with TLS/],
  ] as [Record<string, string>, string | RegExp][])('refuses %o', (vars, message) => {
    const env: Record<string, string> = { ...base };
    for (const [name, value] of Object.entries(vars)) {
      env[name] = value
        .replace(/^FILE$/, () => toml(['[profile.default]', 'address = "a:1"']))
        .replace(/^KEY$/, pki.clientKey)
        .replace(/^CERT$/, pki.clientCert)
        .replace(/^CA$/, pki.caCert);
    }
    let thrown: unknown;
    try {
      loadConfig(env);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ConfigError);
    if (typeof message === 'string') expect((thrown as Error).message).toBe(message);
    else expect((thrown as Error).message).toMatch(message);
  });

  it('takes PEM data from the _DATA variables', () => {
    const c = loadTemporalConnection({
      TEMPORAL_ADDRESS: 'host:1',
      TEMPORAL_TLS_CLIENT_CERT_DATA: readFileSync(pki.clientCert, 'utf8'),
      TEMPORAL_TLS_CLIENT_KEY_DATA: readFileSync(pki.clientKey, 'utf8'),
    });
    expect(c.names).toMatchObject({ clientCert: 'TEMPORAL_TLS_CLIENT_CERT_DATA', clientKey: 'TEMPORAL_TLS_CLIENT_KEY_DATA' });
    expect(c.tls).toMatchObject({ clientCertPair: { crt: expect.any(Uint8Array), key: expect.any(Uint8Array) } });
  });
});
