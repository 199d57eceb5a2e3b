// A throw-away PKI for TLS tests, made with the openssl CLI in a temp dir: a CA, a server
// certificate for 127.0.0.1/localhost, a client certificate signed by the CA, an expired client
// certificate (same CA) and a second, unrelated CA.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestPki {
  dir: string;
  caCert: string;
  otherCaCert: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  expiredClientCert: string;
  /** The key of expiredClientCert (its own, so only the dates are wrong). */
  expiredClientKey: string;
  remove(): void;
}

export function createTestPki(): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'stageplane-pki-'));
  const path = (name: string) => join(dir, name);
  const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  // P-256 keys: fast to make, and both rustls (the worker's core) and OpenSSL (node:tls) take them.
  const key = (name: string) => openssl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', path(name));
  const ca = (name: string, cn: string) => {
    key(`${name}.key`);
    openssl(
      ...['req', '-x509', '-new', '-key', path(`${name}.key`), '-subj', `/CN=${cn}`, '-days', '2', '-out', path(`${name}.crt`)],
      ...['-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'],
    );
  };
  const csr = (name: string, cn: string) => {
    key(`${name}.key`);
    openssl('req', '-new', '-key', path(`${name}.key`), '-subj', `/CN=${cn}`, '-out', path(`${name}.csr`));
  };
  ca('ca', 'Stageplane Test CA');
  ca('other-ca', 'Unrelated Test CA');

  csr('server', 'localhost');
  writeFileSync(
    path('server.ext'),
    'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n',
  );
  const sign = (name: string, ext: string) =>
    openssl(
      ...['x509', '-req', '-in', path(`${name}.csr`), '-CA', path('ca.crt'), '-CAkey', path('ca.key'), '-CAcreateserial'],
      ...['-days', '2', '-extfile', path(ext), '-out', path(`${name}.crt`)],
    );
  sign('server', 'server.ext');

  writeFileSync(path('client.ext'), 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=clientAuth\n');
  csr('client', 'stageplane-worker');
  sign('client', 'client.ext');

  // OpenSSL 3.0's `x509 -req` cannot back-date; `openssl ca` can (-startdate/-enddate).
  csr('expired', 'stageplane-expired');
  writeFileSync(path('index.txt'), '');
  writeFileSync(path('serial'), '1000\n');
  writeFileSync(
    path('ca.cnf'),
    [
      '[ca]',
      'default_ca = test',
      '[test]',
      `database = ${path('index.txt')}`,
      `new_certs_dir = ${dir}`,
      `serial = ${path('serial')}`,
      'default_md = sha256',
      'policy = any',
      'unique_subject = no',
      'x509_extensions = client',
      '[any]',
      'commonName = supplied',
      '[client]',
      'basicConstraints = CA:FALSE',
      'keyUsage = digitalSignature',
      'extendedKeyUsage = clientAuth',
      '',
    ].join('\n'),
  );
  openssl(
    ...['ca', '-batch', '-config', path('ca.cnf'), '-cert', path('ca.crt'), '-keyfile', path('ca.key'), '-notext'],
    ...['-startdate', '20200101000000Z', '-enddate', '20200102000000Z', '-in', path('expired.csr'), '-out', path('expired.crt')],
  );

  return {
    dir,
    caCert: path('ca.crt'),
    otherCaCert: path('other-ca.crt'),
    serverCert: path('server.crt'),
    serverKey: path('server.key'),
    clientCert: path('client.crt'),
    clientKey: path('client.key'),
    expiredClientCert: path('expired.crt'),
    expiredClientKey: path('expired.key'),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
