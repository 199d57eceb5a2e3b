// The Temporal connection by Temporal's own conventions (@temporalio/envconfig, as the CLI and
// every SDK read them): TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS*,
// TEMPORAL_GRPC_META_*, and a TOML profile (TEMPORAL_PROFILE, TEMPORAL_CONFIG_FILE, else
// ~/.config/temporalio/temporal.toml), environment over file. The library reads; this module
// checks what it read at start-up (files readable, PEM parseable, the client certificate in date
// and matching its key) so a mistake stops the start with a line naming the variable instead of
// a worker retrying a handshake forever.
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { type ClientConfigProfile, type ConfigDataSource, loadClientConfigProfile, toClientOptions } from '@temporalio/envconfig';

/** What the client, the worker and readiness connect with (the SDKs' connection options). */
export interface TemporalConnection {
  /** Undefined: nothing configured it (`npm start` then supervises a local dev server). */
  address: string | undefined;
  namespace: string | undefined;
  apiKey: string | undefined;
  /** false/undefined: plaintext; true: TLS with the system's CAs; else the SDK's TLSConfig. */
  tls: ReturnType<typeof toClientOptions>['connectionOptions']['tls'];
  metadata: Record<string, string> | undefined;
  /** Where each setting came from, to name it in an error: a variable or a key of the TOML file. */
  names: { address: string; apiKey: string; serverCa: string; clientCert: string; clientKey: string; serverName: string };
}

/** Thrown with a message naming the variable (config/index.ts turns it into its ConfigError). */
export class TemporalConfigError extends Error {}

type Tls = NonNullable<ClientConfigProfile['tls']>;
type Field = 'clientCert' | 'clientKey' | 'serverCACert';
const ENV_STEM: Record<Field, string> = {
  clientCert: 'TEMPORAL_TLS_CLIENT_CERT',
  clientKey: 'TEMPORAL_TLS_CLIENT_KEY',
  serverCACert: 'TEMPORAL_TLS_SERVER_CA_CERT',
};
const TOML_STEM: Record<Field, string> = { clientCert: 'client_cert', clientKey: 'client_key', serverCACert: 'server_ca_cert' };

export function loadTemporalConnection(env: NodeJS.ProcessEnv): TemporalConnection {
  // Stageplane treats an empty variable as unset (a compose file's `TEMPORAL_ADDRESS=`); envconfig
  // would take '' as a value. (An empty TEMPORAL_GRPC_META_* keeps its meaning: drop that header.)
  const vars: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined) continue;
    if (value.trim() === '' && !name.startsWith('TEMPORAL_GRPC_META_')) continue;
    vars[name] = value;
  }
  const file = vars.TEMPORAL_CONFIG_FILE ?? defaultConfigFile(vars);
  const profileName = vars.TEMPORAL_PROFILE ?? 'default';
  if (vars.TEMPORAL_CONFIG_FILE) readable('TEMPORAL_CONFIG_FILE', vars.TEMPORAL_CONFIG_FILE); // envconfig skips a missing file
  const inFile = (key: string) => `profile.${profileName}.${key} in ${file}`;
  let profile: ClientConfigProfile;
  try {
    profile = loadClientConfigProfile({ overrideEnvVars: vars });
  } catch (error) {
    const message = (error as Error).message;
    if (/Profile '.*' not found/.test(message))
      throw new TemporalConfigError(`Invalid TEMPORAL_PROFILE: no profile "${profileName}" in ${file}`);
    if (/Cannot specify both/.test(message))
      throw new TemporalConfigError(`Invalid Temporal TLS settings: ${message} (environment and ${file} together)`);
    throw new TemporalConfigError(
      `Invalid ${vars.TEMPORAL_CONFIG_FILE ? 'TEMPORAL_CONFIG_FILE' : 'Temporal config file'} ${file}: ${message}`,
    );
  }
  const name = (variable: string, key: string) => (vars[variable] !== undefined ? variable : inFile(key));
  const source = (field: Field) =>
    vars[`${ENV_STEM[field]}_PATH`] !== undefined
      ? `${ENV_STEM[field]}_PATH`
      : vars[`${ENV_STEM[field]}_DATA`] !== undefined
        ? `${ENV_STEM[field]}_DATA`
        : profile.tls?.[field] && 'data' in profile.tls[field]
          ? inFile(`tls.${TOML_STEM[field]}_data`)
          : profile.tls?.[field]
            ? inFile(`tls.${TOML_STEM[field]}_path`)
            : `${ENV_STEM[field]}_PATH`; // unset: the variable one would set
  const names = {
    address: name('TEMPORAL_ADDRESS', 'address'),
    apiKey: name('TEMPORAL_API_KEY', 'api_key'),
    serverCa: source('serverCACert'),
    clientCert: source('clientCert'),
    clientKey: source('clientKey'),
    serverName: name('TEMPORAL_TLS_SERVER_NAME', 'tls.server_name'),
  };

  if (profile.address !== undefined && !/^[^\s:/]+:\d{1,5}$/.test(profile.address)) {
    throw new TemporalConfigError(`Invalid ${names.address}: must be host:port (got ${JSON.stringify(profile.address)})`);
  }
  // envconfig reads this variable but the TypeScript SDK has no such option: say so, not ignore it.
  if (vars.TEMPORAL_TLS_DISABLE_HOST_VERIFICATION === 'true' || vars.TEMPORAL_TLS_DISABLE_HOST_VERIFICATION === '1') {
    throw new TemporalConfigError(
      'Invalid TEMPORAL_TLS_DISABLE_HOST_VERIFICATION: not supported by the TypeScript SDK; set TEMPORAL_TLS_SERVER_NAME to the name in the server certificate instead',
    );
  }
  if (profile.tls && profile.tls.disabled !== true) checkTls(profile.tls, names);

  let options: ReturnType<typeof toClientOptions>;
  try {
    options = toClientOptions(profile); // reads the files; an API key alone turns TLS on
  } catch (error) {
    throw new TemporalConfigError(`Invalid Temporal TLS settings: ${(error as Error).message}`);
  }
  return {
    address: profile.address,
    namespace: profile.namespace,
    apiKey: profile.apiKey,
    tls: options.connectionOptions.tls,
    metadata: profile.grpcMeta,
    names,
  };
}

function defaultConfigFile(vars: Record<string, string>) {
  const base = vars.XDG_CONFIG_HOME ?? join(vars.HOME ?? homedir(), '.config');
  return join(base, 'temporalio', 'temporal.toml');
}

function readable(name: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new TemporalConfigError(
      `Invalid ${name}: cannot read ${path} (${code === 'ENOENT' ? 'no such file' : (code ?? (error as Error).message)})`,
    );
  }
}

function load(source: ConfigDataSource, name: string): Buffer {
  if ('path' in source) return readable(name, source.path);
  return Buffer.from(source.data);
}

function certificate(pem: Buffer, name: string, what: string): X509Certificate {
  try {
    return new X509Certificate(pem);
  } catch {
    throw new TemporalConfigError(`Invalid ${name}: not a PEM ${what}`);
  }
}

function checkTls(tls: Tls, names: TemporalConnection['names']) {
  const now = Date.now();
  const inDate = (cert: X509Certificate, name: string, what: string) => {
    if (Date.parse(cert.validTo) < now)
      throw new TemporalConfigError(`Invalid ${name}: the ${what} expired on ${new Date(cert.validTo).toISOString()}`);
    if (Date.parse(cert.validFrom) > now) {
      throw new TemporalConfigError(`Invalid ${name}: the ${what} is not valid before ${new Date(cert.validFrom).toISOString()}`);
    }
  };
  if (tls.serverCACert)
    inDate(certificate(load(tls.serverCACert, names.serverCa), names.serverCa, 'CA certificate'), names.serverCa, 'CA certificate');
  // envconfig drops a certificate without its key (or a key without its certificate) silently:
  // the server would then see no client certificate at all.
  if (tls.clientCert && !tls.clientKey) throw new TemporalConfigError(`Invalid ${names.clientKey}: required with ${names.clientCert}`);
  if (tls.clientKey && !tls.clientCert) throw new TemporalConfigError(`Invalid ${names.clientCert}: required with ${names.clientKey}`);
  if (tls.clientCert && tls.clientKey) {
    const cert = certificate(load(tls.clientCert, names.clientCert), names.clientCert, 'certificate');
    let key: ReturnType<typeof createPrivateKey>;
    try {
      key = createPrivateKey(load(tls.clientKey, names.clientKey));
    } catch (error) {
      if (error instanceof TemporalConfigError) throw error;
      throw new TemporalConfigError(`Invalid ${names.clientKey}: not a PEM private key`);
    }
    inDate(cert, names.clientCert, 'client certificate');
    if (!cert.checkPrivateKey(key))
      throw new TemporalConfigError(`Invalid ${names.clientKey}: not the private key of the certificate in ${names.clientCert}`);
  }
}
