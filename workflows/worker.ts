// The Temporal worker: runs deployment workflows and their activities on the task queue.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NativeConnection, Runtime, Worker, bundleWorkflowCode, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import type { Logger } from 'pino';
import { createDeploymentActivities, type ActivityDeps } from './activities/deployment.ts';
import { createRotationActivities, type RotationActivityDeps } from './activities/rotation.ts';

export const WORKFLOWS_PATH = join(dirname(fileURLToPath(import.meta.url)), 'index.ts');

let bundle: Promise<WorkflowBundleWithSourceMap> | null = null;
/** The workflow bundle, built once per process (several workers in tests share it). */
export function workflowBundle(): Promise<WorkflowBundleWithSourceMap> {
  bundle ??= bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: quietBundlerLogger });
  return bundle;
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
  namespace: string;
  taskQueue: string;
  deps: ActivityDeps;
  /** Scheduled secret rotation (workflows/rotation-schedule.ts); without it, its activity is absent. */
  rotation?: RotationActivityDeps;
  log: Logger;
}): Promise<RunningWorker> {
  if (!runtimeInstalled) {
    // Keep the SDK's own logging quiet and out of our JSON log stream.
    Runtime.install({ logger: { log: () => {}, trace: () => {}, debug: () => {}, info: () => {}, warn: (message, meta) => options.log.warn({ temporal: meta }, `temporal: ${message}`), error: (message, meta) => options.log.error({ temporal: meta }, `temporal: ${message}`) } });
    runtimeInstalled = true;
  }
  // A worker without Temporal has nothing to do: wait for it, saying so, rather than crash.
  let connection: NativeConnection;
  for (let attempt = 1; ; attempt++) {
    try {
      connection = await NativeConnection.connect({ address: options.address });
      break;
    } catch (error) {
      options.log.warn({ address: options.address, attempt, err: (error as Error).message }, 'waiting for Temporal');
      await new Promise((r) => setTimeout(r, Math.min(10_000, 500 * 2 ** Math.min(attempt, 5))));
    }
  }
  const worker = await Worker.create({
    connection,
    namespace: options.namespace,
    taskQueue: options.taskQueue,
    workflowBundle: await workflowBundle(),
    activities: { ...createDeploymentActivities(options.deps), ...(options.rotation ? createRotationActivities(options.rotation) : {}) },
    shutdownGraceTime: '5 seconds',
  });
  const done = worker.run().finally(() => connection.close());
  return {
    worker,
    done,
    stop: async () => {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await done.catch((err) => options.log.warn({ err }, 'worker stopped with an error'));
    },
  };
}

