// Temporal wiring: the local dev server `npm start` supervises when TEMPORAL_ADDRESS is unset,
// and the client the API uses to start and message deployment workflows.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import type { Logger } from 'pino';

const PROVISION_SCRIPT = join(dirname(fileURLToPath(import.meta.url)), '..', 'scripts', 'temporal.sh');

/** Finds or builds the Temporal CLI (scripts/temporal.sh) and returns its path. */
export async function provisionTemporalCli(log?: Logger): Promise<string> {
  return new Promise((resolvePath, reject) => {
    const child = spawn('bash', [PROVISION_SCRIPT], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => {
      err += d;
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
  pid: number | undefined;
  stop(): Promise<void>;
}

// The dev server runs under a tiny shell that kills it when our stdin closes: when this process
// exits for any reason, SIGKILL included, the pipe closes and the dev server goes with it.
// (Background jobs get /dev/null as stdin, hence the copy of stdin on fd 3.)
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

export async function startLocalTemporal(options: { dataDir: string; port?: number | undefined; namespace: string; log: Logger }): Promise<LocalTemporal> {
  const { log } = options;
  const bin = await provisionTemporalCli(log);
  mkdirSync(options.dataDir, { recursive: true });
  const pidfile = join(options.dataDir, 'temporal.pid');
  await killStale(pidfile, log);
  const port = options.port ?? (await freePort());
  const args = [
    'server',
    'start-dev',
    '--headless',
    '--ip',
    '127.0.0.1',
    '--port',
    String(port),
    '--db-filename',
    join(options.dataDir, 'temporal.db'),
    '--log-level',
    'warn',
    ...(options.namespace !== 'default' ? ['--namespace', options.namespace] : []),
  ];
  const child: ChildProcess = spawn('bash', ['-c', SUPERVISOR, 'stageplane-temporal', bin, pidfile, ...args], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (d) => log.debug({ line: String(d).trim() }, 'temporal'));
  child.stderr!.on('data', (d) => log.debug({ line: String(d).trim() }, 'temporal'));
  let exited = false;
  child.on('exit', (code, signal) => {
    exited = true;
    log.warn({ code, signal }, 'local Temporal dev server exited');
  });
  const address = `127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (exited) throw new Error('the local Temporal dev server exited during start-up');
    try {
      await pingTemporal(address, options.namespace, 2000);
      break;
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`the local Temporal dev server did not answer on ${address}: ${(error as Error).message}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  log.info({ address, db: join(options.dataDir, 'temporal.db') }, 'local Temporal dev server is up');
  return {
    address,
    pid: child.pid,
    stop: async () => {
      if (exited) return;
      const gone = new Promise<void>((r) => child.once('exit', () => r()));
      child.stdin!.end();
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await gone;
      clearTimeout(timer);
    },
  };
}

/** Resolves when the frontend answers and the namespace exists. */
export async function pingTemporal(address: string, namespace: string, timeoutMs = 2000): Promise<void> {
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
export async function connectTemporal(address: string, namespace: string, taskQueue: string): Promise<TemporalClient> {
  const connection = Connection.lazy({ address });
  const client = new Client({ connection, namespace });
  return {
    client,
    connection,
    taskQueue,
    ping: async () => {
      await connection.workflowService.describeNamespace({ namespace });
    },
    close: () => connection.close(),
  };
}
