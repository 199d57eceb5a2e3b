// Runs Stageplane as real child processes (as `npm start` would), for restart and kill tests.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../../server/temporal.ts';

const ROOT = join(import.meta.dirname, '..', '..');

export interface StageplaneProcess {
  url: string;
  port: number;
  child: ChildProcess;
  output: () => string;
  /** SIGKILL the process and the local Temporal it started: nothing gets to clean up. */
  killHard(): Promise<void>;
  stop(): Promise<void>;
}

export async function spawnStageplane(
  mode: 'all' | 'api' | 'worker',
  env: Record<string, string>,
  port?: number,
  /** `readyz`: 200 with nothing `pending` (the local Temporal up too); `readyz-200`: any 200. */
  waitFor: 'readyz' | 'readyz-200' | 'healthz' = 'readyz',
): Promise<StageplaneProcess> {
  const p = port ?? (await freePort());
  let out = '';
  // STAGEPLANE_NODE_ARGS: extra node flags for the child, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof" to profile a bench.
  const nodeArgs = process.env.STAGEPLANE_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
  const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', 'server/main.ts', mode], {
    cwd: ROOT,
    // No load balancer watches these processes: a stop needs no drain (tests set one to test it).
    env: { ...process.env, NODE_ENV: 'test', HOST: '127.0.0.1', PORT: String(p), LOG_LEVEL: 'info', SHUTDOWN_DRAIN_SECONDS: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const url = `http://127.0.0.1:${p}`;
  const proc: StageplaneProcess = {
    url,
    port: p,
    child,
    output: () => out,
    async killHard() {
      const pidfile = env.DATA_DIR ? join(env.DATA_DIR, 'temporal.pid') : null;
      const temporalPid = pidfile && existsSync(pidfile) ? Number(readFileSync(pidfile, 'utf8').trim()) : 0;
      child.kill('SIGKILL');
      if (temporalPid) {
        try {
          process.kill(temporalPid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      await exited;
      for (let i = 0; temporalPid && i < 100 && existsSync(`/proc/${temporalPid}`); i++) await new Promise((r) => setTimeout(r, 50));
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(timer);
    },
  };
  if (mode !== 'worker') await waitReady(proc, 120_000, waitFor);
  return proc;
}

export async function waitReady(proc: StageplaneProcess, timeoutMs = 120_000, waitFor: 'readyz' | 'readyz-200' | 'healthz' = 'readyz') {
  const endpoint = waitFor === 'healthz' ? 'healthz' : 'readyz';
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc.child.exitCode !== null) throw new Error(`stageplane exited during start-up:\n${proc.output().slice(-3000)}`);
    try {
      const r = await fetch(`${proc.url}/${endpoint}`);
      // `npm start` answers 200 before its local Temporal is up (`pending`); tests deploy at once.
      if (r.status === 200 && (waitFor !== 'readyz' || !((await r.json()) as { pending?: unknown }).pending)) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`stageplane not ready after ${timeoutMs} ms:\n${proc.output().slice(-3000)}`);
}
