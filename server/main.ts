// Process entry: `all` (API + worker + local Temporal), `api` or `worker` (see the README).
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { Counter, Registry } from 'prom-client';
import { createDatabase, type DatabaseHandle } from '../db/client.ts';
import { archiveExpiredEnvironments } from '../services/environments.ts';
import { createSecretStore } from '../secrets/index.ts';
import { ConfigError, loadConfig, type Config } from '../config/index.ts';
import type { Services } from '../services/scope.ts';
import { createEventHub } from '../live/hub.ts';
import { consoleRoute } from './console.ts';
import { createApp, type App } from './http.ts';
import { createLogger } from './logger.ts';
import { pushWebhookRoute } from './webhooks.ts';
import { attachWebSocket, type WebSocketEndpoint } from './websocket.ts';
import { connectTemporal, startLocalTemporal } from './temporal.ts';
import type { Telemetry, TelemetryOptions } from './telemetry.ts';
import { checkTemporalTls } from '../workflows/connection.ts';
import { startNotificationRelay } from '../workflows/notification-relay.ts';
import { createCredentialSealer } from '../secrets/credentials.ts';

type Mode = 'all' | 'api' | 'worker';

export interface Running {
  app: App | null;
  url: string | null;
  /** The process's OpenTelemetry provider; null unless OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT is set. */
  telemetry: Telemetry | null;
  /**
   * The graceful shutdown (README Operations, "Rolling restarts"): readiness 503 at once, the
   * drain (SHUTDOWN_DRAIN_SECONDS, cut short when `skipDrain` aborts), in-flight requests
   * (SHUTDOWN_GRACE_SECONDS), WebSockets 1001, SSE streams cut, the hub, the worker (running
   * activities get the grace period, then are cancelled), the database pool last.
   */
  stop(options?: { skipDrain?: AbortSignal }): Promise<void>;
}

export interface StartOptions {
  /** Tests replace the OTLP exporter with an in-memory one. */
  telemetry?: TelemetryOptions;
}

export async function start(mode: Mode, config: Config, log: Logger, options: StartOptions = {}): Promise<Running> {
  const stops: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    for (const stop of stops.reverse()) await stop().catch((err) => log.warn({ err }, 'error while stopping'));
  };
  try {
    // First, so everything started below is traced; stopped last, so their last spans are exported.
    // The OpenTelemetry SDK and exporter load only when tracing is on (start-up time).
    const telemetry = config.telemetry ? (await import('./telemetry.ts')).startTelemetry(config.telemetry, mode, options.telemetry) : null;
    if (telemetry) {
      stops.push(() => telemetry.shutdown());
      log.info({ tracesUrl: options.telemetry?.exporter ? '(test exporter)' : config.telemetry?.tracesUrl }, 'tracing on');
    }
    return await startParts(mode, config, log, stops, stopAll, telemetry);
  } catch (error) {
    await stopAll();
    throw error;
  }
}

async function startParts(
  mode: Mode,
  config: Config,
  log: Logger,
  stops: (() => Promise<void>)[],
  stopAll: () => Promise<void>,
  telemetry: Telemetry | null,
): Promise<Running> {
  // The local Temporal dev server (`npm start` without TEMPORAL_ADDRESS) starts first, so its ~1.5 s
  // overlap opening and migrating the database. Stopped last (stops run in reverse).
  const temporalSince = performance.now();
  let temporalPhase = 'starting';
  const localTemporal =
    !config.temporal.address && mode === 'all'
      ? startLocalTemporal({
          dataDir: config.dataDir,
          port: config.temporal.localPort,
          namespace: config.temporal.namespace,
          log,
          onBuilding: () => (temporalPhase = 'building the Temporal CLI, first time only'),
        })
      : null;
  // The worker's module (the Temporal worker SDK) loads while the database opens.
  // The worker's modules (the Temporal SDK's worker, ~1 s to load) load early only where start-up
  // waits for Temporal anyway; `npm start` loads them once the API answers (startTemporalParts).
  const readyFirst = localTemporal !== null;
  let workerModule = (mode === 'all' || mode === 'worker') && !readyFirst ? import('../workflows/worker.ts') : null;
  workerModule?.catch(() => {}); // awaited below
  if (localTemporal) {
    localTemporal.catch(() => {}); // awaited below; a failure before then is not unhandled
    stops.push(async () => (await localTemporal.catch(() => null))?.stop());
  }
  const metrics = new Registry();
  // Every SQL statement is counted (benchmarks report statements per request from /metrics).
  const sqlStatements = new Counter({ name: 'stageplane_sql_statements_total', help: 'SQL statements sent', registers: [metrics] });
  const database: DatabaseHandle = await createDatabase({
    url: config.databaseUrl,
    dataDir: config.dataDir,
    poolSize: config.databasePoolSize,
    logger: { logQuery: () => sqlStatements.inc() },
    tracing: telemetry !== null,
  });
  stops.push(() => database.close());
  // Every mode needs the secret store (the worker rotates values); a bad ENCRYPTION_KEY or a
  // missing AWS_REGION stops the start here with a ConfigError.
  const secrets = await createSecretStore(config, { logger: log });
  stops.push(async () => (secrets as { destroy?: () => void }).destroy?.()); // the AWS client's sockets
  // Notification channel URLs are sealed with ENCRYPTION_KEY whatever the backend (secrets/credentials.ts).
  const credentials = createCredentialSealer(config);
  const services: Services = {
    config,
    database,
    log,
    metrics,
    secrets,
    credentials,
    notify: { publicUrl: config.publicUrl, notify: config.notify },
    outbound: config.outbound,
    previewHourSeconds: config.previewHourSeconds,
    events: createEventHub({ database, databaseUrl: config.databaseUrl, log, metrics }),
  };
  let app: App | null = null;
  let url: string | null = null;
  let websocket: WebSocketEndpoint | null = null;

  if (mode === 'all' || mode === 'api') {
    app = createApp(services, { tracing: telemetry?.graphqlPlugin });
    app.routes.push(pushWebhookRoute(services));
    const signIn = config.oidc?.consoleClientId ? { issuer: config.oidc.issuer, clientId: config.oidc.consoleClientId } : null;
    app.routes.push(consoleRoute({ log, signIn })); // the ops console at / (server/console.ts)
    // Listen first so /healthz answers and /readyz says 503 while start-up work runs.
    const address = await app.listen();
    url = `http://${address.host.includes(':') ? `[${address.host}]` : address.host}:${address.port}`;
    log.info({ url: `${url}/graphql`, database: database.kind }, 'listening');
    const started = app;
    stops.push(() => started.close());
    // Subscriptions: the event hub LISTENs, graphql-ws serves /graphql; on shutdown the sockets close (1001) first.
    await services.events.start();
    stops.push(() => services.events.stop());
    const endpoint = attachWebSocket(started, services);
    websocket = endpoint;
    stops.push(() => endpoint.close());
  }
  await database.migrate();

  // What is created after start-up returned (the local Temporal's parts, below) is stopped at
  // once should the stop have begun meanwhile.
  let stopRequested = false;
  const own = (stop: () => Promise<void>) => {
    if (stopRequested) void stop().catch((err) => log.warn({ err }, 'error while stopping'));
    else stops.push(stop);
  };
  const startTemporalParts = async () => {
    // Temporal: a local dev server when `npm start` has no TEMPORAL_ADDRESS, else the given one.
    let temporalAddress = config.temporal.address;
    if (localTemporal) temporalAddress = (await localTemporal).address;
    temporalAddress ??= '127.0.0.1:7233';
    // The local dev server is plaintext; a configured Temporal gets its TLS, API key and metadata.
    const temporalConnection = localTemporal ? undefined : config.temporal.connection;
    if (temporalConnection?.tls) {
      // A wrong CA or a refused client certificate stops the start here, naming the variable.
      const unreachable = await checkTemporalTls(temporalAddress, temporalConnection);
      if (unreachable) log.warn({ address: temporalAddress, reason: unreachable }, 'Temporal TLS check could not reach the server');
    }

    if (mode === 'all' || mode === 'worker') {
      const notificationDeps = {
        db: database.db,
        log,
        credentials,
        webhookSecret: config.webhookSecret,
        publicUrl: config.publicUrl,
        timeoutMs: config.notify.timeoutMs,
        outbound: config.outbound,
      };
      const { startWorker } = await (workerModule ??= import('../workflows/worker.ts'));
      const worker = await startWorker({
        bundleCacheDir: join(config.dataDir, 'cache'),
        address: temporalAddress,
        connection: temporalConnection,
        namespace: config.temporal.namespace,
        taskQueue: config.temporal.taskQueue,
        log,
        deps: {
          db: database.db,
          log,
          webhookSecret: config.webhookSecret,
          outbound: config.outbound,
          callbackKey: config.jwtSecret,
          publicUrl: config.publicUrl,
          webhookTimeoutSeconds: config.webhookTimeoutSeconds,
        },
        rotation: { db: database.db, log, store: secrets },
        notifications: notificationDeps,
        ...(telemetry ? { tracing: { spanProcessor: telemetry.spanProcessor, resource: telemetry.resource } } : {}),
        shutdownGraceMs: config.shutdown.graceSeconds * 1000,
      });
      own(() => worker.stop());
      log.info({ taskQueue: config.temporal.taskQueue }, 'worker running');
      // Scheduled secret rotation: the task queue's Temporal Schedule, created or updated idempotently.
      const scheduler = await connectTemporal(temporalAddress, config.temporal.namespace, config.temporal.taskQueue, temporalConnection);
      own(() => scheduler.close());
      const { ensureRotationSchedule } = await import('../workflows/rotation-schedule.ts'); // the Temporal client's schedules
      const schedule = await ensureRotationSchedule(scheduler.client, {
        taskQueue: config.temporal.taskQueue,
        intervalSeconds: config.secretRotationIntervalSeconds,
      });
      log.info({ schedule, everySeconds: config.secretRotationIntervalSeconds }, 'secret rotation schedule');
      // The notification outbox's relay: attempts each delivery row once it has committed, and
      // hands the ones to retry to a workflow.
      const { createNotificationActivities } = await import('../workflows/activities/notifications.ts');
      const relay = startNotificationRelay({
        db: database.db,
        client: scheduler.client,
        taskQueue: config.temporal.taskQueue,
        log,
        notify: config.notify,
        attempt: createNotificationActivities(notificationDeps).attemptDelivery,
      });
      own(() => relay.stop());
    }

    if (app) {
      const temporal = await connectTemporal(temporalAddress, config.temporal.namespace, config.temporal.taskQueue, temporalConnection, {
        tracing: telemetry !== null,
      });
      own(() => temporal.close());
      services.workflows = { client: temporal.client, taskQueue: temporal.taskQueue };
      app.readiness.push({ name: 'temporal', check: () => temporal.ping() });
      const sweep = setInterval(() => {
        archiveExpiredEnvironments(database.db).then(
          (slugs) => slugs.length && log.info({ slugs }, 'archived expired environments'),
          (err) => log.warn({ err }, 'expiry sweep failed'),
        );
      }, 30_000);
      sweep.unref();
      own(async () => clearInterval(sweep));
    }
  };

  if (localTemporal && app) {
    // `npm start`: the API and the console answer as soon as the database is open. The local
    // Temporal (seconds; minutes the first time, while its CLI builds) comes up behind them:
    // /readyz lists it under `pending`, deployment mutations answer PRECONDITION_FAILED saying so.
    const pending = () => `${temporalPhase} (${((performance.now() - temporalSince) / 1000).toFixed(1)} s)`;
    const started = app;
    started.pending.set('temporal', pending);
    services.workflowsPending = pending;
    started.setStarted();
    void startTemporalParts().then(
      () => {
        started.pending.delete('temporal');
        services.workflowsPending = undefined;
        log.info({ seconds: Number(((performance.now() - temporalSince) / 1000).toFixed(1)) }, 'local Temporal and worker ready');
      },
      (err: Error) => {
        if (stopRequested) return;
        started.pending.delete('temporal');
        services.workflowsPending = undefined;
        started.readiness.push({ name: 'temporal', check: () => Promise.reject(err) });
        log.error({ err }, 'the local Temporal did not start; the API runs without deployments');
      },
    );
  } else {
    await startTemporalParts();
    app?.setStarted();
  }
  log.info({ mode }, 'ready');
  const api = app;
  const live = websocket;
  let stopping: Promise<void> | null = null;
  const stop = (options: { skipDrain?: AbortSignal } = {}) => {
    stopping ??= (async () => {
      stopRequested = true;
      if (api) {
        const { drainSeconds, graceSeconds } = config.shutdown;
        api.beginShutdown();
        log.info({ drainSeconds }, 'readyz now answers 503; serving requests while load balancers notice');
        // A second signal aborts the drain's wait (and only that).
        await sleep(drainSeconds * 1000, undefined, { signal: options.skipDrain }).catch(() => {});
        const { unfinished } = await api.drain(graceSeconds * 1000);
        log.info({ unfinished }, 'stopped accepting connections; in-flight requests done');
        // Subscribers resume elsewhere with afterSeq; the hub stops once nobody follows it here.
        await live?.close().catch((err) => log.warn({ err }, 'error while closing WebSockets'));
        await api.close().catch((err) => log.warn({ err }, 'error while closing the HTTP server'));
        await services.events.stop().catch((err) => log.warn({ err }, 'error while stopping the event hub'));
      }
      // The rest in reverse order of start (what ran above is not run twice): Temporal clients,
      // the worker, the secret store, the database pool, a local Temporal.
      await stopAll();
    })();
    return stopping;
  };
  return { app, url, telemetry, stop };
}

export async function main() {
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
    if (error instanceof ConfigError) {
      console.error(`stageplane: ${error.message}`);
      process.exit(1);
    }
    log.fatal({ err: error }, 'start-up failed');
    process.exit(1);
  }
  let stopping = false;
  const skipDrain = new AbortController();
  const shutdown = (signal: string) => {
    if (stopping) {
      // A second Ctrl-C (or SIGTERM) skips what is left of the drain; nothing else is cut short.
      if (!skipDrain.signal.aborted) log.info({ signal }, 'second signal: skipping the rest of the drain');
      skipDrain.abort();
      return;
    }
    stopping = true;
    const { drainSeconds, graceSeconds } = config.shutdown;
    log.info({ signal, drainSeconds, graceSeconds }, 'shutting down');
    // The drain, the HTTP grace period, WebSockets' closing handshake (3 s), the worker's grace
    // period, and a margin: past that, something hangs.
    const force = setTimeout(
      () => {
        log.error('shutdown did not finish in time; exiting');
        process.exit(1);
      },
      (drainSeconds + 2 * graceSeconds + 10) * 1000,
    );
    force.unref();
    running.stop({ skipDrain: skipDrain.signal }).then(
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
