// Starts a real Stageplane API (in this process, on a free port) against a given database, and
// gives tests a GraphQL client that speaks plain HTTP like any other client would.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { randomBytes } from 'node:crypto';
import pino from 'pino';
import { inject } from 'vitest';
import { signToken } from '../../server/auth.ts';
import { loadConfig, type Config } from '../../config/index.ts';
import { REDACT_PATHS } from '../../server/logger.ts';
import { start, type Running, type StartOptions } from '../../server/main.ts';
import type { Role } from '../../domain/types.ts';

export const TEST_JWT_SECRET = 'test-secret-that-is-long-enough-for-hs256-0123456789';

export interface TestServer {
  url: string;
  config: Config;
  running: Running;
  /** Every log line the server wrote, to search for leaked credentials. */
  logs: string[];
  token(subject: string, roles: Role[]): Promise<string>;
  gql<T = any>(query: string, variables?: Record<string, unknown>, token?: string | null): Promise<GqlResult<T>>;
  stop(): Promise<void>;
}

export interface GqlResult<T> {
  status: number;
  data: T | null;
  errors?: { message: string; extensions?: { code?: string; [k: string]: unknown } }[];
  raw: string;
}

export async function startTestServer(
  options: { databaseUrl?: string; env?: Record<string, string>; telemetry?: StartOptions['telemetry'] } = {},
): Promise<TestServer> {
  const dataDir = mkdtempSync(join(tmpdir(), 'stageplane-test-'));
  const config = loadConfig({
    NODE_ENV: 'test',
    PORT: '1', // replaced below: port 0 is not a valid configuration value
    HOST: '127.0.0.1',
    DATA_DIR: dataDir,
    JWT_SECRET: TEST_JWT_SECRET,
    LOG_LEVEL: 'info',
    SHUTDOWN_DRAIN_SECONDS: '0', // no load balancer to wait for
    ...(options.databaseUrl ? { DATABASE_URL: options.databaseUrl } : {}),
    TEMPORAL_ADDRESS: inject('temporalAddress'),
    // Each server gets its own task queue, so workers of other test files never take its work.
    TEMPORAL_TASK_QUEUE: `test-${randomBytes(4).toString('hex')}`,
    ...options.env,
  });
  config.port = 0;
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      logs.push(String(chunk));
      done();
    },
  });
  const log = pino({ level: 'debug', redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, sink);
  const running = await start('all', config, log, options.telemetry ? { telemetry: options.telemetry } : {});
  const url = running.url!;
  let defaultToken: string | null = null;
  const server: TestServer = {
    url,
    config,
    running,
    logs,
    token: (subject, roles) => signToken(config.jwtSecret, subject, roles),
    async gql(query, variables = {}, token) {
      if (token === undefined) defaultToken ??= await server.token('admin', ['ADMIN']);
      const bearer = token === undefined ? defaultToken : token;
      const response = await fetch(`${url}/graphql`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/graphql-response+json, application/json',
          ...(bearer ? { authorization: `Bearer ${bearer}` } : {}),
        },
        body: JSON.stringify({ query, variables }),
      });
      const raw = await response.text();
      const body = JSON.parse(raw) as { data?: any; errors?: GqlResult<any>['errors'] };
      return { status: response.status, data: body.data ?? null, errors: body.errors, raw };
    },
    stop: () => running.stop(),
  };
  return server;
}

/** The error code of the first error, for compact assertions. */
export const codeOf = (r: GqlResult<unknown>) => r.errors?.[0]?.extensions?.code ?? null;
