// Configuration: read once from the environment at start-up and validated; a bad value stops the
// start with one line naming the variable. A layer of its own: it imports only libraries (and
// may import domain/), never server/, so secrets/, db/, workflows/ and scripts may all import it.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { postgresConnection } from './database-tls.ts';
import { ConfigError } from './errors.ts';
import { type OutboundRule, parseCidrs } from '../domain/outbound-url.ts';
import { issuerUrlProblem } from '../domain/identity.ts';

export { ConfigError };
import { loadTemporalConnection, TemporalConfigError, type TemporalConnection } from './temporal.ts';

const port = z.coerce.number().int().min(1).max(65535);
const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v));

const EnvSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  PORT: port.default(4000),
  HOST: z.string().min(1).default('127.0.0.1'),
  DATABASE_URL: optionalString.pipe(
    z
      .string()
      .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// or postgresql:// URL')
      .optional(),
  ),
  DATABASE_POOL_SIZE: z.coerce.number().int().min(1).max(100).default(10),
  DATA_DIR: z.string().min(1).default('./.stageplane'),
  TEMPORAL_ADDRESS: optionalString.pipe(
    z
      .string()
      .regex(/^[^\s:/]+:\d{1,5}$/, 'must be host:port')
      .optional(),
  ),
  // No default here: a TOML profile's namespace (config/temporal.ts) comes before 'default'.
  TEMPORAL_NAMESPACE: optionalString,
  TEMPORAL_TASK_QUEUE: z.string().min(1).default('stageplane'),
  TEMPORAL_PORT: port.optional(),
  JWT_SECRET: optionalString.pipe(z.string().min(32, 'must be at least 32 characters').optional()),
  // OpenID Connect bearer tokens (server/oidc.ts); checked together by oidcConfig below.
  OIDC_ISSUER: optionalString,
  OIDC_AUDIENCE: optionalString,
  OIDC_ROLES_CLAIM: optionalString,
  OIDC_GROUPS_CLAIM: optionalString,
  OIDC_CONSOLE_CLIENT_ID: optionalString,
  SECRETS_BACKEND: z.enum(['local', 'aws']).default('local'),
  ENCRYPTION_KEY: optionalString,
  AWS_REGION: optionalString,
  AWS_ENDPOINT_URL: optionalString.pipe(z.url().optional()),
  AWS_SECRET_PREFIX: optionalString,
  SECRET_ROTATION_INTERVAL_SECONDS: z.coerce.number().int().min(1).max(86400).default(60),
  // For tests only: how many seconds a preview's ttlHours counts per hour.
  PREVIEW_HOUR_SECONDS: z.coerce.number().int().min(1).max(3600).default(3600),
  WEBHOOK_SECRET: optionalString.pipe(z.string().min(16, 'must be at least 16 characters').optional()),
  WEBHOOK_TIMEOUT_SECONDS: z.coerce.number().int().min(1).max(86400).default(900),
  // Notifications: how long a delivery is retried (fractional hours allowed, e.g. 0.002 ≈ 7 s in
  // tests), the first backoff (doubling, at most an hour) and each attempt's timeout.
  NOTIFY_RETRY_HOURS: z.coerce.number().positive().max(720).default(24),
  NOTIFY_RETRY_INITIAL_SECONDS: z.coerce.number().min(0.05).max(3600).default(1),
  NOTIFY_TIMEOUT_SECONDS: z.coerce.number().min(0.1).max(300).default(10),
  PUBLIC_URL: optionalString.pipe(z.url().optional()),
  // The outbound-URL rule (domain/outbound-url.ts) for every URL the worker calls.
  OUTBOUND_ALLOW_CIDRS: optionalString,
  OUTBOUND_DENY_CIDRS: optionalString,
  LOG_LEVEL: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
  MAX_BODY_BYTES: z.coerce
    .number()
    .int()
    .min(1024)
    .max(64 * 1024 * 1024)
    .default(1024 * 1024),
  // Answers of project pages kept per process (server/response-cache.ts); 0 turns the cache off.
  RESPONSE_CACHE_ENTRIES: z.coerce.number().int().min(0).max(1_000_000).default(1000),
  // OpenTelemetry (server/telemetry.ts): tracing is on only when an OTLP endpoint is given. The
  // exporter itself reads the other standard OTEL_EXPORTER_OTLP_* variables (headers, timeout).
  OTEL_SDK_DISABLED: optionalString.pipe(z.enum(['true', 'false']).optional()),
  OTEL_EXPORTER_OTLP_ENDPOINT: optionalString.pipe(z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' }).optional()),
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: optionalString.pipe(
    z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' }).optional(),
  ),
  OTEL_SERVICE_NAME: optionalString,
  // CORS: parsed by parseCors below.
  CORS_ORIGINS: optionalString,
  CORS_ALLOW_CREDENTIALS: optionalString.pipe(z.enum(['true', 'false'], { error: 'must be true or false' }).optional()),
  // Graceful shutdown (README Operations, "Rolling restarts"): on SIGTERM /readyz answers 503 for
  // the drain while requests are still served, then in-flight work gets the grace period.
  SHUTDOWN_DRAIN_SECONDS: z.coerce.number().min(0).max(300).default(5),
  SHUTDOWN_GRACE_SECONDS: z.coerce.number().min(0).max(300).default(10),
});

export interface Config {
  env: 'development' | 'production' | 'test';
  port: number;
  host: string;
  databaseUrl: string | undefined;
  databasePoolSize: number;
  dataDir: string;
  temporal: {
    /** TEMPORAL_ADDRESS or the TOML profile's; undefined: `npm start` runs a local dev server. */
    address: string | undefined;
    namespace: string;
    taskQueue: string;
    localPort: number | undefined;
    /** TLS, API key, gRPC metadata (config/temporal.ts, by @temporalio/envconfig's conventions). */
    connection: TemporalConnection;
  };
  jwtSecret: Uint8Array;
  /** Set when the JWT secret was generated into DATA_DIR at this start (development only). */
  jwtSecretGeneratedAt: string | undefined;
  /**
   * OIDC_ISSUER and its companions: null when unset. JWTs whose `iss` is `issuer` are verified
   * against its discovered JWKS (server/oidc.ts). `consoleClientId` (OIDC_CONSOLE_CLIENT_ID):
   * the console offers sign-in through the issuer only when it is set.
   */
  oidc: { issuer: string; audience: string; rolesClaim: string; groupsClaim: string; consoleClientId: string | undefined } | null;
  secretsBackend: 'local' | 'aws';
  encryptionKey: string | undefined;
  /** AWS_SECRET_PREFIX: names are `${secretPrefix}/<project>/<environment>/<SECRET>` (default `stageplane`). */
  aws: { region: string | undefined; endpointUrl: string | undefined; secretPrefix: string | undefined };
  /** How often the worker looks for secret values due for rotation (SECRET_ROTATION_INTERVAL_SECONDS). */
  secretRotationIntervalSeconds: number;
  /** Seconds per hour of a preview's ttlHours (PREVIEW_HOUR_SECONDS): 3600, shorter only in tests. */
  previewHourSeconds: number;
  webhookSecret: string | undefined;
  /** How long a WEBHOOK deployment waits for its receiver's final report. */
  webhookTimeoutSeconds: number;
  publicUrl: string;
  /** Delivery of notifications (NOTIFY_RETRY_HOURS, NOTIFY_RETRY_INITIAL_SECONDS, NOTIFY_TIMEOUT_SECONDS), in ms. */
  notify: { retryWindowMs: number; initialBackoffMs: number; maxBackoffMs: number; timeoutMs: number };
  /** What the worker may call (deploy-target webhooks, probes, notifications): domain/outbound-url.ts. */
  outbound: OutboundRule;
  logLevel: string;
  maxBodyBytes: number;
  /** RESPONSE_CACHE_ENTRIES: answers of project pages kept per process; 0: no response cache. */
  responseCacheEntries: number;
  /**
   * OpenTelemetry tracing: null unless OTEL_EXPORTER_OTLP_ENDPOINT or
   * OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set (and OTEL_SDK_DISABLED is not true).
   */
  telemetry: { tracesUrl: string; serviceName: string } | null;
  /** CORS_ORIGINS, CORS_ALLOW_CREDENTIALS: see parseCors. */
  cors: CorsConfig;
  /**
   * On SIGTERM: `drainSeconds` of 503 on /readyz while everything is still served (a load
   * balancer's time to notice), then `graceSeconds` for in-flight HTTP requests and, in the
   * worker, for running activities before they are cancelled.
   */
  shutdown: { drainSeconds: number; graceSeconds: number };
}

/**
 * Which other origins may call /graphql from a browser (HTTP, SSE and WebSocket). `origins` empty:
 * the API's own origin only (the console is served by the API itself). `'*'`: any origin, never
 * with credentials.
 */
export interface CorsConfig {
  origins: readonly string[] | '*';
  allowCredentials: boolean;
}

/** Parses the environment; throws ConfigError with a one-line message naming the variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = EnvSchema.safeParse(env);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const name = String(issue.path[0]);
    const got = name === 'DATABASE_URL' ? withoutPassword(env[name] ?? '') : (env[name] ?? '');
    throw new ConfigError(`Invalid ${name}: ${issue.message} (got ${JSON.stringify(got)})`.replace(/\n/g, ' '));
  }
  const e = parsed.data;
  // DATABASE_URL's TLS parameters (sslmode, sslrootcert: config/database-tls.ts), checked at
  // start-up so a bad mode or an unreadable CA file stops it here; db/ builds its clients from them.
  if (e.DATABASE_URL) postgresConnection(e.DATABASE_URL);
  const temporal = temporalConnection(env);
  const dataDir = resolve(e.DATA_DIR);
  const secret = e.JWT_SECRET ? { value: e.JWT_SECRET, generatedAt: undefined } : developmentJwtSecret(e.NODE_ENV, dataDir);
  if (e.SECRETS_BACKEND === 'aws' && !e.AWS_REGION) {
    throw new ConfigError('Invalid AWS_REGION: required when SECRETS_BACKEND=aws');
  }
  return {
    env: e.NODE_ENV,
    port: e.PORT,
    host: e.HOST,
    databaseUrl: e.DATABASE_URL,
    databasePoolSize: e.DATABASE_POOL_SIZE,
    dataDir,
    temporal: {
      address: temporal.address,
      namespace: temporal.namespace ?? 'default',
      taskQueue: e.TEMPORAL_TASK_QUEUE,
      localPort: e.TEMPORAL_PORT,
      connection: temporal,
    },
    jwtSecret: new TextEncoder().encode(secret.value),
    jwtSecretGeneratedAt: secret.generatedAt,
    oidc: oidcConfig(e),
    secretsBackend: e.SECRETS_BACKEND,
    encryptionKey: e.ENCRYPTION_KEY,
    aws: { region: e.AWS_REGION, endpointUrl: e.AWS_ENDPOINT_URL, secretPrefix: e.AWS_SECRET_PREFIX },
    secretRotationIntervalSeconds: e.SECRET_ROTATION_INTERVAL_SECONDS,
    previewHourSeconds: e.PREVIEW_HOUR_SECONDS,
    webhookSecret: e.WEBHOOK_SECRET,
    webhookTimeoutSeconds: e.WEBHOOK_TIMEOUT_SECONDS,
    publicUrl: (e.PUBLIC_URL ?? `http://${e.HOST.includes(':') ? `[${e.HOST}]` : e.HOST}:${e.PORT}`).replace(/\/$/, ''),
    notify: {
      retryWindowMs: Math.round(e.NOTIFY_RETRY_HOURS * 3_600_000),
      initialBackoffMs: Math.round(e.NOTIFY_RETRY_INITIAL_SECONDS * 1000),
      maxBackoffMs: 3_600_000,
      timeoutMs: Math.round(e.NOTIFY_TIMEOUT_SECONDS * 1000),
    },
    outbound: outboundRule(e),
    logLevel: e.LOG_LEVEL,
    maxBodyBytes: e.MAX_BODY_BYTES,
    responseCacheEntries: e.RESPONSE_CACHE_ENTRIES,
    telemetry: telemetryConfig(e),
    cors: parseCors(e.CORS_ORIGINS, e.CORS_ALLOW_CREDENTIALS === 'true'),
    shutdown: { drainSeconds: e.SHUTDOWN_DRAIN_SECONDS, graceSeconds: e.SHUTDOWN_GRACE_SECONDS },
  };
}

/**
 * The worker's outbound rule: the defaults of domain/outbound-url.ts for NODE_ENV, the extra
 * ranges, and the API's own addresses (HOST:PORT and PUBLIC_URL's host:port), never to be called.
 */
function outboundRule(e: z.infer<typeof EnvSchema>): OutboundRule {
  const cidrs = (name: 'OUTBOUND_ALLOW_CIDRS' | 'OUTBOUND_DENY_CIDRS') => {
    try {
      return parseCidrs(e[name]);
    } catch (error) {
      throw new ConfigError(`Invalid ${name}: ${(error as Error).message}`);
    }
  };
  const self = [{ host: e.HOST, port: e.PORT }];
  if (e.PUBLIC_URL) {
    const url = new URL(e.PUBLIC_URL);
    self.push({ host: url.hostname, port: url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80 });
  }
  return Object.freeze({
    production: e.NODE_ENV === 'production',
    allowCidrs: cidrs('OUTBOUND_ALLOW_CIDRS'),
    denyCidrs: cidrs('OUTBOUND_DENY_CIDRS'),
    self,
  });
}

/** OIDC_*: all or nothing around OIDC_ISSUER, whose URL follows the contract's issuer rule. */
function oidcConfig(e: z.infer<typeof EnvSchema>): Config['oidc'] {
  if (!e.OIDC_ISSUER) {
    for (const name of ['OIDC_AUDIENCE', 'OIDC_ROLES_CLAIM', 'OIDC_GROUPS_CLAIM', 'OIDC_CONSOLE_CLIENT_ID'] as const) {
      if (e[name]) throw new ConfigError(`Invalid ${name}: needs OIDC_ISSUER`);
    }
    return null;
  }
  const problem = issuerUrlProblem(e.OIDC_ISSUER, e.NODE_ENV === 'production');
  if (problem) throw new ConfigError(`Invalid OIDC_ISSUER: ${problem} (got ${JSON.stringify(e.OIDC_ISSUER)})`);
  if (!e.OIDC_AUDIENCE) throw new ConfigError('Invalid OIDC_AUDIENCE: required with OIDC_ISSUER');
  return {
    issuer: e.OIDC_ISSUER,
    audience: e.OIDC_AUDIENCE,
    rolesClaim: e.OIDC_ROLES_CLAIM ?? 'roles',
    groupsClaim: e.OIDC_GROUPS_CLAIM ?? 'groups',
    consoleClientId: e.OIDC_CONSOLE_CLIENT_ID,
  };
}

/** The Temporal connection (config/temporal.ts), its errors as ConfigErrors. */
function temporalConnection(env: NodeJS.ProcessEnv): TemporalConnection {
  let connection: TemporalConnection;
  try {
    connection = loadTemporalConnection(env);
  } catch (error) {
    if (error instanceof TemporalConfigError) throw new ConfigError(error.message);
    throw error;
  }
  // Without an address `npm start` runs the local dev server, which speaks plaintext only.
  if (!connection.address && (connection.tls || connection.apiKey)) {
    throw new ConfigError('Invalid TEMPORAL_ADDRESS: required with TLS or TEMPORAL_API_KEY (the local Temporal dev server has neither)');
  }
  return connection;
}

/**
 * Where spans go, per the OTLP exporter spec: the traces endpoint as given, else the base
 * endpoint + /v1/traces.
 */
function telemetryConfig(e: z.infer<typeof EnvSchema>): Config['telemetry'] {
  if (e.OTEL_SDK_DISABLED === 'true') return null;
  const base = e.OTEL_EXPORTER_OTLP_ENDPOINT;
  const tracesUrl = e.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? (base ? `${base.replace(/\/+$/, '')}/v1/traces` : undefined);
  if (!tracesUrl) return null;
  return { tracesUrl, serviceName: e.OTEL_SERVICE_NAME ?? 'stageplane' };
}

/**
 * CORS_ORIGINS: a comma-separated list of exact origins, each written as browsers send it in the
 * Origin header (scheme://host[:port], lower case, no path, no trailing slash, no default port),
 * so the check at request time is a plain string comparison; or `*` alone.
 */
function parseCors(list: string | undefined, allowCredentials: boolean): CorsConfig {
  const entries = (list ?? '')
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
  if (entries.includes('*')) {
    if (entries.length > 1) throw new ConfigError(`Invalid CORS_ORIGINS: \`*\` must stand alone (got ${JSON.stringify(list)})`);
    // Any origin with credentials is the reflected-origin misconfiguration this setting exists to prevent.
    if (allowCredentials) throw new ConfigError('Invalid CORS_ALLOW_CREDENTIALS: true is refused with CORS_ORIGINS=*; list the origins');
    return { origins: '*', allowCredentials: false };
  }
  for (const entry of entries) {
    // The URL parser takes `*` as a host character: a pattern would load and never match.
    if (entry.includes('*')) {
      throw new ConfigError(`Invalid CORS_ORIGINS: ${JSON.stringify(entry)}: patterns are not supported, list each origin`);
    }
    let origin: string | undefined;
    try {
      const url = new URL(entry);
      if (url.protocol === 'http:' || url.protocol === 'https:') origin = url.origin;
    } catch {}
    if (origin !== entry) {
      const hint = origin && origin !== 'null' ? `; did you mean ${JSON.stringify(origin)}?` : '';
      throw new ConfigError(
        `Invalid CORS_ORIGINS: ${JSON.stringify(entry)} is not an origin (http(s)://host[:port], no path or trailing slash)${hint}`,
      );
    }
  }
  if (allowCredentials && entries.length === 0) {
    throw new ConfigError('Invalid CORS_ALLOW_CREDENTIALS: true needs CORS_ORIGINS (the origins that may send credentials)');
  }
  return { origins: entries, allowCredentials };
}

/**
 * Outside production a missing JWT_SECRET is generated once into DATA_DIR, so `npm start` and
 * `npm run token` agree without any configuration.
 */
function developmentJwtSecret(nodeEnv: string, dataDir: string): { value: string; generatedAt: string | undefined } {
  if (nodeEnv === 'production') throw new ConfigError('Invalid JWT_SECRET: required when NODE_ENV=production');
  const file = join(dataDir, 'jwt-secret');
  if (existsSync(file)) return { value: readFileSync(file, 'utf8').trim(), generatedAt: undefined };
  mkdirSync(dataDir, { recursive: true });
  const value = randomBytes(48).toString('base64url');
  writeFileSync(file, value + '\n', { mode: 0o600, flag: 'wx' });
  return { value, generatedAt: file };
}

/** A URL as it may be shown: its user info (up to the last @, so a password with an @ too) hidden. */
function withoutPassword(url: string): string {
  return url.replace(/:\/\/.*@/, '://***@');
}
