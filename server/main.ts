// Process entry: `all` (API + worker + local Temporal), `api` or `worker` (see the README).
import type { Logger } from 'pino';
import { createDatabase, type DatabaseHandle } from '../db/client.ts';
import { archiveExpiredEnvironments } from '../schema/environments.ts';
import { ConfigError, loadConfig, type Config } from './config.ts';
import type { Services } from './context.ts';
import { createApp, type App } from './http.ts';
import { createLogger } from './logger.ts';

type Mode = 'all' | 'api' | 'worker';

export interface Running {
  app: App | null;
  url: string | null;
  stop(): Promise<void>;
}

export async function start(mode: Mode, config: Config, log: Logger): Promise<Running> {
  const database: DatabaseHandle = await createDatabase({
    url: config.databaseUrl,
    dataDir: config.dataDir,
    poolSize: config.databasePoolSize,
  });
  const services: Services = { config, database, log };
  const stops: (() => Promise<void>)[] = [];
  let app: App | null = null;
  let url: string | null = null;

  if (mode === 'all' || mode === 'api') {
    app = createApp(services);
    // Listen first so /healthz answers and /readyz says 503 while migrations run.
    const address = await app.listen();
    url = `http://${address.host.includes(':') ? `[${address.host}]` : address.host}:${address.port}`;
    log.info({ url: `${url}/graphql`, database: database.kind }, 'listening');
    await database.migrate();
    app.setStarted();
    const sweep = setInterval(() => {
      archiveExpiredEnvironments(database.db).then(
        (slugs) => slugs.length && log.info({ slugs }, 'archived expired environments'),
        (err) => log.warn({ err }, 'expiry sweep failed'),
      );
    }, 30_000);
    sweep.unref();
    const started = app;
    stops.push(async () => {
      clearInterval(sweep);
      await started.close();
    });
    log.info('ready');
  } else {
    await database.migrate();
  }

  return {
    app,
    url,
    async stop() {
      for (const stop of stops.reverse()) await stop();
      await database.close();
    },
  };
}

async function main() {
  const mode = (process.argv[2] ?? 'all') as Mode;
  if (!['all', 'api', 'worker'].includes(mode)) {
    console.error(`Unknown mode ${mode}; use all, api or worker`);
    process.exit(2);
  }
  let config: Config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`stageplane: ${error.message}`);
      process.exit(1);
    }
    throw error;
  }
  const log = createLogger(config.logLevel);
  if (config.jwtSecretGeneratedAt) {
    log.warn({ file: config.jwtSecretGeneratedAt }, 'JWT_SECRET is not set: generated a development secret (npm run token uses it)');
  }
  let running: Running;
  try {
    running = await start(mode, config, log);
  } catch (error) {
    log.fatal({ err: error }, 'start-up failed');
    process.exit(1);
  }
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    const force = setTimeout(() => process.exit(1), 15_000);
    force.unref();
    running.stop().then(
      () => process.exit(0),
      (err) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
