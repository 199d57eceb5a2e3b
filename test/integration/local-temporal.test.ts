// The local Temporal dev server that `npm start` runs is supervised: killed, it comes back on the
// same port with the same state, with backoff; stop() ends it for good.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { until as poll } from '../../scripts/lib/until.ts';
import { pingTemporal, startLocalTemporal, type LocalTemporal } from '../../server/temporal.ts';

const dataDir = mkdtempSync(join(tmpdir(), 'stageplane-supervised-'));
const pidfile = join(dataDir, 'temporal.pid');
const logs: { msg: string; restartInMs?: number; code?: number }[] = [];
const log = pino(
  { level: 'info' },
  new Writable({
    write(chunk, _enc, done) {
      logs.push(JSON.parse(String(chunk)));
      done();
    },
  }),
);
let temporal: LocalTemporal | null = null;

afterAll(async () => {
  await temporal?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

const readPid = () => Number(readFileSync(pidfile, 'utf8').trim());
const alive = (pid: number) => existsSync(`/proc/${pid}`) && !readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z ');

/** The dev server comes and goes: a failing probe is "not yet". */
const until = <T>(what: string, probe: () => Promise<T> | T) => poll(what, probe, { timeoutMs: 30_000, ignoreErrors: true });

describe('the supervised local Temporal dev server', () => {
  it('comes back on the same address after a SIGKILL, with backoff, and stop() ends it for good', async () => {
    temporal = await startLocalTemporal({ dataDir, namespace: 'default', log });
    const { address } = temporal;
    const first = readPid();

    process.kill(first, 'SIGKILL');
    await until('a new dev server', () => readPid() !== first && pingTemporal(address, 'default').then(() => true));
    expect(temporal.restarts).toBe(1);
    expect(temporal.address).toBe(address);
    const second = readPid();
    expect(alive(first)).toBe(false);

    // Dying again soon after a restart: the next restart waits longer.
    process.kill(second, 'SIGKILL');
    await until('a third dev server', () => readPid() !== second && pingTemporal(address, 'default').then(() => true));
    expect(temporal.restarts).toBe(2);
    const restarts = logs.filter((l) => l.msg === 'local Temporal dev server exited; restarting it');
    expect(restarts.map((l) => l.restartInMs)).toEqual([500, 1000]);
    expect(restarts.every((l) => l.code === 137)).toBe(true);
    // Logged just after the dev server answers, so possibly a moment after our own ping did.
    await until('both "up again" notices', () => logs.filter((l) => l.msg === 'local Temporal dev server is up again').length === 2);

    const third = readPid();
    await temporal.stop();
    expect(alive(third)).toBe(false);
    await new Promise((r) => setTimeout(r, 2000));
    expect(readPid()).toBe(third); // nothing was started after stop()
    expect(temporal.restarts).toBe(2);
    await expect(pingTemporal(address, 'default', 500)).rejects.toThrow();
    temporal = null;
  }, 120_000);

  it('is not restarted when a SIGTERM or SIGINT stops it (Ctrl-C signals the whole process group)', async () => {
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      const local = await startLocalTemporal({ dataDir, namespace: 'default', log });
      temporal = local;
      const pid = readPid();
      process.kill(pid, signal);
      await until(
        'the notice',
        () => logs.some((l) => l.msg === 'local Temporal dev server was stopped by a signal; not restarting it') && !alive(pid),
      ).catch((e) => {
        console.log(JSON.stringify(logs));
        throw e;
      });
      await new Promise((r) => setTimeout(r, 1500)); // past the first restart delay
      expect(local.restarts).toBe(0);
      expect(readPid()).toBe(pid);
      await local.stop();
      temporal = null;
      logs.length = 0;
    }
  }, 120_000);
});
