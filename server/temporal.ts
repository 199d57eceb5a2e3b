// Temporal wiring: the local dev server `npm start` supervises when TEMPORAL_ADDRESS is unset,
// and the client the API uses to start and message deployment workflows.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
// The Temporal client (and its protobuf definitions, ~0.5 s to load) is imported when the first
// connection is made, not when the server starts: `npm start` answers before Temporal is up.
import type { Client, Connection } from '@temporalio/client';
import type { Logger } from 'pino';
import type { TemporalConnection } from '../config/temporal.ts';
import { connectOptions } from '../workflows/connection.ts';

const PROVISION_SCRIPT = join(dirname(fileURLToPath(import.meta.url)), '..', 'scripts', 'temporal.sh');

/** Finds or builds the Temporal CLI (scripts/temporal.sh) and returns its path. */
export async function provisionTemporalCli(log?: Logger, onBuilding?: () => void): Promise<string> {
  return new Promise((resolvePath, reject) => {
    const child = spawn('bash', [PROVISION_SCRIPT], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => {
      err += d;
      onBuilding?.(); // the script is silent when it finds the binary
      for (const line of String(d).split('\n').filter(Boolean)) log?.info({ line }, 'temporal cli');
    });
    child.on('error', reject);
    child.on('exit', (code) => {
      const path = out.trim().split('\n').pop();
      if (code === 0 && path) resolvePath(path);
      else reject(new Error(`could not provision the Temporal CLI:\n${err.trim()}`));
    });
  });
}

export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      srv.close(() => resolvePort(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

export interface LocalTemporal {
  address: string;
  /** The current dev server's supervising shell; a new one after each restart. */
  readonly pid: number | undefined;
  /** How many times the dev server was restarted after it exited on its own. */
  readonly restarts: number;
  /** Stops the dev server for good (no restart). */
  stop(): Promise<void>;
}

// The dev server runs under a tiny shell that kills it when our stdin closes: when this process
// exits for any reason, SIGKILL included, the pipe closes and the dev server goes with it.
// (Background jobs get /dev/null as stdin, hence the copy of stdin on fd 3.) The shell exits with
// the dev server's status (137 after a SIGKILL), which is what the restart log line reports.
const SUPERVISOR = `
exec 3<&0
bin="$1"; pidfile="$2"; shift 2
"$bin" "$@" </dev/null &
child=$!
echo "$child" > "$pidfile"
trap 'kill -TERM "$child" 2>/dev/null' TERM INT
( cat <&3 >/dev/null; kill -TERM "$child" 2>/dev/null ) &
wait "$child"
`;

/** Restart backoff: 0.5 s, then 1 s, 2 s, ... up to 10 s while the dev server keeps dying young. */
const RESTART_DELAY_MS = (failures: number) => Math.min(10_000, 250 * 2 ** failures);
/** A dev server that ran this long before exiting was healthy: its restart starts the backoff over. */
const HEALTHY_RUN_MS = 60_000;

/** Kills a dev server left behind by a previous run that died before it could stop it. */
async function killStale(pidfile: string, log: Logger) {
  if (!existsSync(pidfile)) return;
  const pid = Number(readFileSync(pidfile, 'utf8').trim());
  if (!pid) return;
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    if (!cmdline.includes('start-dev')) return;
    log.warn({ pid }, 'stopping a Temporal dev server left over from a previous run');
    process.kill(pid, 'SIGKILL');
    for (let i = 0; i < 50 && existsSync(`/proc/${pid}`); i++) await new Promise((r) => setTimeout(r, 100));
  } catch {
    // not running
  }
}

/**
 * Starts the local dev server and supervises it: `npm start` promises a Temporal, so when the dev
 * server exits on its own (crash, OOM kill, someone's `kill`) it is started again on the same port
 * with the same state file, with backoff. Its SQLite state survives, so running workflows go on;
 * the worker and the API's client reconnect by themselves. Only stop() ends it for good.
 */
export async function startLocalTemporal(options: {
  dataDir: string;
  port?: number | undefined;
  namespace: string;
  log: Logger;
  /** Told when the CLI turns out to need building (minutes, the first time on a machine). */
  onBuilding?: () => void;
}): Promise<LocalTemporal> {
  const { log } = options;
  const bin = await provisionTemporalCli(log, options.onBuilding);
  mkdirSync(options.dataDir, { recursive: true });
  const pidfile = join(options.dataDir, 'temporal.pid');
  await killStale(pidfile, log);
  const port = options.port ?? (await freePort());
  const address = `127.0.0.1:${port}`;
  const db = join(options.dataDir, 'temporal.db');
  const args = [
    'server',
    'start-dev',
    '--headless',
    '--ip',
    '127.0.0.1',
    '--port',
    String(port),
    '--db-filename',
    db,
    '--log-level',
    'warn',
    ...(options.namespace !== 'default' ? ['--namespace', options.namespace] : []),
  ];

  let child!: ChildProcess;
  let exited = false; // the current child has exited
  let up = false; // the first dev server answered: from then on an exit means a restart
  let stopping = false;
  let restarts = 0;
  let failures = 0; // consecutive exits of young dev servers, for the backoff
  let restartTimer: NodeJS.Timeout | null = null;

  const launch = () => {
    const startedAt = Date.now();
    const current = spawn('bash', ['-c', SUPERVISOR, 'stageplane-temporal', bin, pidfile, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    child = current;
    exited = false;
    current.stdout!.on('data', (d) => log.debug({ line: String(d).trim() }, 'temporal'));
    current.stderr!.on('data', (d) => log.debug({ line: String(d).trim() }, 'temporal'));
    current.on('exit', (code, signal) => {
      exited = true;
      // The shell's stdin watcher outlives a dev server that died on its own: let it go too.
      current.stdin!.end();
      if (stopping) return log.info({ address }, 'local Temporal dev server stopped');
      if (!up) return log.warn({ code, signal }, 'local Temporal dev server exited during start-up');
      // SIGINT/SIGTERM reach the dev server with ours when the whole process group is signalled
      // (Ctrl-C on `npm start`); it then shuts down cleanly (exit 0). That is a shutdown under
      // way, not a crash to recover from (a crash or a SIGKILL exits non-zero, 137).
      if (signal === 'SIGINT' || signal === 'SIGTERM' || code === 0 || code === 130 || code === 143) {
        return log.warn({ code, signal, address }, 'local Temporal dev server was stopped by a signal; not restarting it');
      }
      failures = Date.now() - startedAt < HEALTHY_RUN_MS ? failures + 1 : 1;
      const restartInMs = RESTART_DELAY_MS(failures);
      log.error({ code, signal, address, restartInMs, restarts }, 'local Temporal dev server exited; restarting it');
      restartTimer = setTimeout(() => void restart(), restartInMs);
    });
  };

  const restart = async () => {
    restartTimer = null;
    if (stopping) return;
    restarts++;
    launch();
    const current = child;
    const since = Date.now();
    // Say when it answers again; should it die first, its exit handler schedules the next try.
    while (!stopping && current === child && !exited) {
      try {
        await pingTemporal(address, options.namespace, 2000);
        log.info({ address, restarts, ms: Date.now() - since }, 'local Temporal dev server is up again');
        return;
      } catch {
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  };

  launch();
  const deadline = Date.now() + 60_000;
  let startAttempts = 1;
  for (;;) {
    if (exited) {
      // Right after a crash of the previous run (SIGKILL of the whole machine's processes), the
      // dev server may find its port or database file still held for a moment: try again, briefly.
      if (startAttempts >= 4 || Date.now() > deadline) throw new Error('the local Temporal dev server exited during start-up');
      log.warn({ attempt: startAttempts }, 'local Temporal dev server exited during start-up; trying again');
      await new Promise((r) => setTimeout(r, 1000 * startAttempts));
      startAttempts++;
      launch();
      continue;
    }
    try {
      await pingTemporal(address, options.namespace, 2000);
      break;
    } catch (error) {
      if (Date.now() > deadline) {
        stopping = true;
        child.stdin!.end(); // do not leave it running behind a failed start
        throw new Error(`the local Temporal dev server did not answer on ${address}: ${(error as Error).message}`);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  up = true;
  log.info({ address, db }, 'local Temporal dev server is up');
  return {
    address,
    get pid() {
      return child.pid;
    },
    get restarts() {
      return restarts;
    },
    stop: async () => {
      stopping = true;
      if (restartTimer) clearTimeout(restartTimer);
      if (exited) return;
      const current = child;
      const gone = new Promise<void>((r) => current.once('exit', () => r()));
      current.stdin!.end();
      const timer = setTimeout(() => current.kill('SIGKILL'), 10_000);
      await gone;
      clearTimeout(timer);
    },
  };
}

/** Resolves when the frontend answers and the namespace exists. */
export async function pingTemporal(address: string, namespace: string, timeoutMs = 2000): Promise<void> {
  const { Connection } = await import('@temporalio/client');
  const connection = await Connection.connect({ address, connectTimeout: timeoutMs });
  try {
    await connection.workflowService.describeNamespace({ namespace });
  } finally {
    await connection.close();
  }
}

export interface TemporalClient {
  client: Client;
  connection: Connection;
  taskQueue: string;
  ping(): Promise<void>;
  close(): Promise<void>;
}

/**
 * A client that connects lazily and reconnects by itself: the API starts (and /readyz says 503)
 * while Temporal is away, and serves again when it is back.
 */
export async function connectTemporal(
  address: string,
  namespace: string,
  taskQueue: string,
  settings?: TemporalConnection,
  extra: { tracing?: boolean } = {},
): Promise<TemporalClient> {
  const { Client, Connection } = await import('@temporalio/client');
  const options = connectOptions(address, settings);
  const connection = Connection.lazy(options);
  // With tracing, starting a workflow and sending it updates and signals are spans whose context
  // travels in the workflow's headers, so the workflow's spans join the mutation's trace.
  const tracing = extra.tracing ? await import('@temporalio/interceptors-opentelemetry') : null;
  const client = new Client({
    connection,
    namespace,
    ...(tracing ? { interceptors: { workflow: [new tracing.OpenTelemetryWorkflowClientInterceptor()] } } : {}),
  });
  // Readiness asks whether Temporal answers now. The client's connection retries unavailable
  // calls with backoff, so a ping through it would wait out a short outage (a dev server being
  // restarted) and report ready; the probe has no retry interceptor.
  const probe = Connection.lazy({ ...options, interceptors: [] });
  return {
    client,
    connection,
    taskQueue,
    ping: async () => {
      await probe.workflowService.describeNamespace({ namespace });
    },
    close: async () => {
      await Promise.all([connection.close(), probe.close()]);
    },
  };
}
