// The Temporal worker: runs deployment workflows and their activities on the task queue.
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { Resource } from '@opentelemetry/resources';
import type { SpanProcessor } from '@opentelemetry/sdk-trace-base';
import {
  makeWorkflowExporter,
  OpenTelemetryActivityInboundInterceptor,
  OpenTelemetryActivityOutboundInterceptor,
} from '@temporalio/interceptors-opentelemetry';
import type { TemporalConnection } from '../config/temporal.ts';
import { connectOptions, fatalTemporalError } from './connection.ts';
import { NativeConnection, Runtime, Worker, bundleWorkflowCode, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import type { Logger } from 'pino';
import { createDeploymentActivities, type ActivityDeps } from './activities/deployment.ts';
import { createPreviewActivities } from './activities/preview.ts';
import { createRotationActivities, type RotationActivityDeps } from './activities/rotation.ts';
import { createNotificationActivities, type NotificationActivityDeps } from './activities/notifications.ts';
import { notificationTaskQueue } from './definitions.ts';

export const WORKFLOWS_PATH = join(dirname(fileURLToPath(import.meta.url)), 'index.ts');

/**
 * Which bundle: with `tracing`, the OpenTelemetry workflow interceptors are compiled in (a
 * prebuilt bundle carries its interceptor modules; Worker.create cannot add them), so the
 * workflow's and its activities' spans join the trace of the mutation that started it.
 */
export interface BundleVariant {
  tracing?: boolean;
}

/** The workflow side of @temporalio/interceptors-opentelemetry (its `interceptors` export). */
export const TRACING_INTERCEPTORS_MODULE = createRequire(import.meta.url).resolve(
  '@temporalio/interceptors-opentelemetry/lib/workflow-interceptors',
);

const bundles = new Map<string, Promise<WorkflowBundleWithSourceMap>>();
/**
 * The workflow bundle, built once per process and variant (several workers in tests share it).
 * With `cacheDir`, it is also kept there between starts: webpack takes ~3.5 s of a ~9 s warm start.
 */
export function workflowBundle(cacheDir?: string, variant: BundleVariant = {}): Promise<WorkflowBundleWithSourceMap> {
  const id = `${cacheDir ?? ''}\0${variant.tracing ? 'tracing' : ''}`;
  let bundle = bundles.get(id);
  if (!bundle) {
    bundle = cacheDir ? cachedBundle(cacheDir, ROOT, variant) : buildBundle(variant);
    bundles.set(id, bundle);
  }
  return bundle;
}

const buildBundle = (variant: BundleVariant) =>
  bundleWorkflowCode({
    workflowsPath: WORKFLOWS_PATH,
    workflowInterceptorModules: variant.tracing ? [TRACING_INTERCEPTORS_MODULE] : [],
    logger: quietBundlerLogger,
  });

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
/** What a workflow may import: its own folder and the pure domain rules (no I/O anywhere else). */
const BUNDLED_SOURCES = ['workflows', 'domain'];

/** The packages the tracing interceptors bring into the bundle. */
const TRACING_PACKAGES = [
  '@temporalio/interceptors-opentelemetry',
  '@opentelemetry/api',
  '@opentelemetry/core',
  '@opentelemetry/resources',
  '@opentelemetry/sdk-trace-base',
];

const versionOf = (root: string, name: string) =>
  (JSON.parse(readFileSync(join(root, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;

/**
 * A key that changes with any source a workflow can import, with the SDK's version, and with the
 * variant (and the versions of the tracing packages it compiles in).
 */
export function bundleKey(root = ROOT, variant: BundleVariant = {}): string {
  const hash = createHash('sha256');
  hash.update(`@temporalio/workflow@${versionOf(root, '@temporalio/workflow')}\n`);
  if (variant.tracing) for (const name of TRACING_PACKAGES) hash.update(`tracing ${name}@${versionOf(root, name)}\n`);
  const files = BUNDLED_SOURCES.flatMap((dir) =>
    (readdirSync(join(root, dir), { recursive: true }) as string[]).filter((f) => f.endsWith('.ts')).map((f) => join(dir, f)),
  ).sort();
  for (const file of files)
    hash
      .update(`${file}\n`)
      .update(readFileSync(join(root, file)))
      .update('\n');
  return hash.digest('hex').slice(0, 16);
}

/** The bundle from `cacheDir` when its key matches, else built and stored there (older ones removed). */
export async function cachedBundle(cacheDir: string, root = ROOT, variant: BundleVariant = {}): Promise<WorkflowBundleWithSourceMap> {
  const name = `workflow-bundle-${bundleKey(root, variant)}.json`;
  const file = join(cacheDir, name);
  try {
    const cached = JSON.parse(readFileSync(file, 'utf8')) as WorkflowBundleWithSourceMap;
    if (typeof cached.code === 'string' && typeof cached.sourceMap === 'string') return cached;
  } catch {
    // absent or unreadable: build it
  }
  const built = await buildBundle(variant);
  try {
    mkdirSync(cacheDir, { recursive: true });
    for (const old of readdirSync(cacheDir))
      if (old.startsWith('workflow-bundle-') && old !== name) rmSync(join(cacheDir, old), { force: true });
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify({ code: built.code, sourceMap: built.sourceMap }));
    renameSync(tmp, file); // atomic: a concurrent start reads the old file or the whole new one
  } catch {
    // a read-only DATA_DIR only costs the next start the build
  }
  return built;
}

const quietBundlerLogger = {
  trace: () => {},
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: (message: string, meta?: unknown) => console.error(message, meta),
  log: () => {},
};

export interface RunningWorker {
  worker: Worker;
  done: Promise<void>;
  stop(): Promise<void>;
}

let runtimeInstalled = false;

export async function startWorker(options: {
  address: string;
  /** TLS, API key, metadata (config.temporal.connection); none: plaintext (the local dev server). */
  connection?: TemporalConnection;
  namespace: string;
  taskQueue: string;
  deps: ActivityDeps;
  /** Scheduled secret rotation (workflows/rotation-schedule.ts); without it, its activity is absent. */
  rotation?: RotationActivityDeps;
  /** Notification deliveries (workflows/notification.workflow.ts); without it, their activities are absent. */
  notifications?: NotificationActivityDeps;
  log: Logger;
  /** Where the workflow bundle is kept between starts (DATA_DIR/cache); without it, built each start. */
  bundleCacheDir?: string;
  /**
   * OpenTelemetry (server/telemetry.ts): spans for each workflow run, activity and the calls
   * between them. The workflow isolate cannot export: its spans reach `spanProcessor` through a sink.
   */
  tracing?: { spanProcessor: SpanProcessor; resource: Resource };
  /**
   * On stop(), how long running activities get to finish before they are cancelled (they
   * heartbeat, so they see it; Temporal retries them elsewhere, a SIMULATED step from its last
   * heartbeat). Default 5 s.
   */
  shutdownGraceMs?: number;
}): Promise<RunningWorker> {
  if (!runtimeInstalled) {
    // Keep the SDK's own logging quiet and out of our JSON log stream.
    Runtime.install({
      logger: {
        log: () => {},
        trace: () => {},
        debug: () => {},
        info: () => {},
        warn: (message, meta) => options.log.warn({ temporal: meta }, `temporal: ${message}`),
        error: (message, meta) => options.log.error({ temporal: meta }, `temporal: ${message}`),
      },
    });
    runtimeInstalled = true;
  }
  const { tracing } = options;
  // A worker without Temporal has nothing to do: wait for it, saying so, rather than crash.
  let connection: NativeConnection;
  for (let attempt = 1; ; attempt++) {
    try {
      connection = await NativeConnection.connect(connectOptions(options.address, options.connection));
      break;
    } catch (error) {
      // An untrusted server certificate or a refused API key: no retry cures it.
      const fatal = fatalTemporalError(error, options.connection, options.address);
      if (fatal) throw fatal;
      options.log.warn({ address: options.address, attempt, err: (error as Error).message }, 'waiting for Temporal');
      await new Promise((r) => setTimeout(r, Math.min(10_000, 500 * 2 ** Math.min(attempt, 5))));
    }
  }
  // Concurrency: the SDK's defaults (40 workflow tasks, 100 activities and 100 local activities at
  // once), by measurement (bench/promotions.ts): 100 workflow task slots, more or autoscaling
  // pollers, 10 local activity slots (the pool's size) or a pool of 20 did no better beyond the
  // noise of a shared machine; 10 workflow task slots halved throughput, as a task holds its slot
  // while its local transitions run.
  const worker = await Worker.create({
    connection,
    namespace: options.namespace,
    taskQueue: options.taskQueue,
    workflowBundle: await workflowBundle(options.bundleCacheDir, { tracing: Boolean(tracing) }),
    activities: {
      ...createDeploymentActivities(options.deps),
      ...createPreviewActivities(options.deps),
      ...(options.rotation ? createRotationActivities(options.rotation) : {}),
    },
    ...(tracing
      ? {
          interceptors: {
            activity: [
              (ctx) => ({
                inbound: new OpenTelemetryActivityInboundInterceptor(ctx),
                outbound: new OpenTelemetryActivityOutboundInterceptor(ctx),
              }),
            ],
          },
          sinks: { exporter: makeWorkflowExporter(tracing.spanProcessor, tracing.resource) },
        }
      : {}),
    shutdownGraceTime: options.shutdownGraceMs ?? 5000,
  });
  // Notification deliveries run on a task queue of their own, so a burst of them (10 channels
  // hearing one event) never queues ahead of a deployment's workflow tasks and updates.
  const notifier = options.notifications
    ? await Worker.create({
        connection,
        namespace: options.namespace,
        taskQueue: notificationTaskQueue(options.taskQueue),
        workflowBundle: await workflowBundle(options.bundleCacheDir, { tracing: Boolean(tracing) }),
        activities: createNotificationActivities(options.notifications),
        shutdownGraceTime: options.shutdownGraceMs ?? 5000,
      })
    : null;
  // Either worker failing stops the other: the process is then plainly down, never half up.
  const stopBoth = () => {
    for (const w of [worker, notifier]) if (w?.getState() === 'RUNNING') w.shutdown();
  };
  const runs = [worker.run(), ...(notifier ? [notifier.run()] : [])].map((run) =>
    run.catch((error) => {
      stopBoth();
      throw error;
    }),
  );
  const done = Promise.all(runs)
    .then(() => {})
    .finally(() => connection.close());
  return {
    worker,
    done,
    stop: async () => {
      stopBoth();
      await done.catch((err) => options.log.warn({ err }, 'worker stopped with an error'));
    },
  };
}
