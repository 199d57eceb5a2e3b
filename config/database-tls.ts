// TLS to PostgreSQL from DATABASE_URL's libpq parameters (`sslmode`, `sslrootcert`), turned into
// postgres.js options. postgres.js alone gets them wrong in ways that matter: `verify-ca` checks the
// hostname too, `sslrootcert=<file>` is sent to the server as a setting (which refuses it),
// `verify-full` to an IP address checks the certificate against "localhost" (Node's TLS gets no
// host from it), and a CA file that is not PEM is silently ignored. So the parameters are taken out
// of the URL here and the `ssl` option is built explicitly. Errors never quote the URL: it may hold
// a password.
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import type { ConnectionOptions } from 'node:tls';
import { ConfigError } from './errors.ts';

export const SSL_MODES = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'] as const;
export type SslMode = (typeof SSL_MODES)[number];

/** postgres.js's `ssl` option: off, its own unverified modes, or Node TLS options (verified). */
export type PostgresSsl = false | 'prefer' | 'require' | ConnectionOptions;

export interface PostgresConnection {
  /** DATABASE_URL without its TLS parameters (postgres.js would send unknown ones as settings). */
  url: string;
  ssl: PostgresSsl;
  /** The mode in effect, for logs ("disable" when the URL names none). */
  sslmode: SslMode;
}

// libpq TLS parameters this does not implement: refused by name rather than sent to the server,
// which would answer "unrecognized configuration parameter" on every connection.
const UNSUPPORTED = [
  'sslcert',
  'sslkey',
  'sslpassword',
  'sslcrl',
  'sslcrldir',
  'sslcertmode',
  'sslsni',
  'sslcompression',
  'ssl_min_protocol_version',
  'ssl_max_protocol_version',
  'requiressl',
];

const fail = (message: string): never => {
  throw new ConfigError(`Invalid DATABASE_URL: ${message}`);
};

/** Parses DATABASE_URL's TLS parameters; throws ConfigError naming the parameter. Reads sslrootcert. */
export function postgresConnection(url: string): PostgresConnection {
  const hashAt = url.indexOf('#');
  const withoutHash = hashAt === -1 ? url : url.slice(0, hashAt);
  const queryAt = withoutHash.indexOf('?');
  const base = queryAt === -1 ? withoutHash : withoutHash.slice(0, queryAt);
  const params = new URLSearchParams(queryAt === -1 ? '' : withoutHash.slice(queryAt + 1));

  const single = (name: string): string | undefined => {
    const values = params.getAll(name);
    if (values.length > 1) fail(`${name} is given ${values.length} times`);
    params.delete(name);
    return values[0];
  };
  for (const name of UNSUPPORTED) {
    if (params.has(name)) fail(`${name} is not supported (TLS parameters: sslmode, sslrootcert)`);
  }
  if (params.has('ssl')) fail('ssl is not a libpq parameter; use sslmode=require, verify-ca or verify-full');

  const modeText = single('sslmode');
  const rootcert = single('sslrootcert');
  if (modeText !== undefined && !(SSL_MODES as readonly string[]).includes(modeText)) {
    fail(`sslmode must be one of ${SSL_MODES.join(', ')} (got ${JSON.stringify(modeText)})`);
  }
  const rest = params.toString();
  const stripped = rest ? `${base}?${rest}` : base;

  if (rootcert === 'system') {
    // As libpq 16: the system's CAs, and only with the hostname checked too.
    if (modeText !== undefined && modeText !== 'verify-full') {
      fail(`sslrootcert=system needs sslmode=verify-full (got sslmode=${modeText})`);
    }
    return { url: stripped, ssl: verified('verify-full', undefined, base), sslmode: 'verify-full' };
  }
  if (rootcert === '') fail('sslrootcert is empty');

  const mode: SslMode = (modeText as SslMode | undefined) ?? 'disable';
  if (rootcert !== undefined && !['require', 'verify-ca', 'verify-full'].includes(mode)) {
    // libpq would verify against it only if TLS happens to be used; be explicit instead.
    fail(`sslrootcert needs sslmode=require, verify-ca or verify-full (got ${modeText === undefined ? 'no sslmode' : `sslmode=${mode}`})`);
  }
  switch (mode) {
    case 'disable':
      return { url: stripped, ssl: false, sslmode: mode };
    case 'allow':
    // libpq tries plain first and TLS second; postgres.js can only do it the other way round.
    case 'prefer':
      return { url: stripped, ssl: 'prefer', sslmode: mode };
    case 'require':
      // As libpq: with a root certificate, require checks the CA (verify-ca).
      return rootcert === undefined
        ? { url: stripped, ssl: 'require', sslmode: mode }
        : { url: stripped, ssl: verified('verify-ca', readRootCert(rootcert), base), sslmode: 'verify-ca' };
    case 'verify-ca':
    case 'verify-full':
      if (rootcert === undefined) {
        fail(`sslmode=${mode} needs sslrootcert=<file of PEM CA certificates> (or sslrootcert=system for the system's CAs)`);
      }
      return { url: stripped, ssl: verified(mode, readRootCert(rootcert!), base), sslmode: mode };
  }
}

/** The CA file's certificates, checked now: Node ignores a CA it cannot parse, failing every connection later. */
function readRootCert(file: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const e = error as NodeJS.ErrnoException;
    return fail(`sslrootcert file ${file} cannot be read (${e.code ?? e.message})`);
  }
  const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) fail(`sslrootcert file ${file} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
  blocks.forEach((block, i) => {
    try {
      new X509Certificate(block);
    } catch (error) {
      fail(`sslrootcert file ${file}: certificate ${i + 1} cannot be parsed (${(error as Error).message})`);
    }
  });
  return text;
}

function verified(mode: 'verify-ca' | 'verify-full', ca: string | undefined, base: string): ConnectionOptions {
  const options: ConnectionOptions = { rejectUnauthorized: true, ...(ca === undefined ? {} : { ca }) };
  if (mode === 'verify-ca') {
    // The chain is still verified (rejectUnauthorized); only the name check is skipped.
    options.checkServerIdentity = () => undefined;
    return options;
  }
  // Node checks the name against `servername || host || 'localhost'`, and postgres.js gives it
  // neither for an IP address: say which host this is. One host per URL, so that is well defined.
  const authority = base.slice(base.indexOf('://') + 3).split('/')[0]!;
  const hosts = authority.slice(authority.lastIndexOf('@') + 1);
  if (hosts.includes(',')) fail(`sslmode=${mode} supports one host, not a list (${hosts})`);
  let host: string;
  try {
    host = decodeURIComponent(new URL(`postgres://${hosts}`).hostname).replace(/^\[(.*)\]$/, '$1');
  } catch {
    return fail(`its host ${JSON.stringify(hosts)} is not a valid host[:port]`);
  }
  if (host === '' || host.startsWith('/')) fail(`sslmode=${mode} needs a host name or address in the URL`);
  options.host = host;
  if (!isIP(host)) options.servername = host;
  return options;
}
