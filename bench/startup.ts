// `npm start` to /readyz on the embedded database, cold (a new DATA_DIR) and warm (the same
// DATA_DIR again), interleaved with the same server run the way it was before the start-up bundle
// (`node --import tsx server/main.ts all`) and with the floor of the runtime (`node --import tsx`
// starting a bare HTTP server). Two times each: /readyz 200 (the API and the console answer; the
// local Temporal may still be `pending`) and Temporal up (nothing `pending`: deployments start).
// The Temporal CLI must already be built (it is cached after the first build).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../server/temporal.ts';
import { printVerdicts, writeResult } from './lib.ts';

const ROOT = join(import.meta.dirname, '..');
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const TARGET_S = 3;

/** Seconds to a 200 from `path`, and to a 200 without `pending` (the same unless it has one). */
async function timeToReady(command: string, args: readonly string[], env: Record<string, string>, path: string) {
  const port = await freePort();
  const t0 = performance.now();
  const child = spawn(command, [...args], {
    cwd: ROOT,
    // No drain on the SIGTERM that ends each run: the bench times start-up, not a rolling restart.
    env: { ...process.env, SHUTDOWN_DRAIN_SECONDS: '0', ...env, PORT: String(port), LOG_LEVEL: 'warn' },
    stdio: 'ignore',
    detached: true, // its own process group: `npm start` runs node under a shell
  });
  let ready: number | null = null;
  try {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`${command} ${args.join(' ')} exited with ${child.exitCode}`);
      try {
        const r = await fetch(`http://127.0.0.1:${port}${path}`);
        if (r.status === 200) {
          ready ??= performance.now() - t0;
          const body = await r.text();
          if (!body.includes('"pending"')) return { ready: ready / 1000, complete: (performance.now() - t0) / 1000 };
        }
      } catch {
        // not yet listening
      }
      await new Promise((r) => setTimeout(r, 25));
    }
  } finally {
    process.kill(-child.pid!, 'SIGTERM');
    await new Promise((r) => child.once('exit', r));
  }
}

const floorScript = join(tmpdir(), 'stageplane-floor.ts');
writeFileSync(
  floorScript,
  `import { createServer } from 'node:http';\ncreateServer((_q, s) => s.end('ok')).listen(Number(process.env.PORT), '127.0.0.1');\n`,
);

const npmStart = ['npm', ['start', '--silent']] as const;
const tsxStart = [process.execPath, ['--import', 'tsx', 'server/main.ts', 'all']] as const;
const rows: Record<string, number>[] = [];
for (let run = 1; run <= RUNS; run++) {
  const dataDir = mkdtempSync(join(tmpdir(), 'stageplane-start-'));
  const tsxDir = mkdtempSync(join(tmpdir(), 'stageplane-start-tsx-'));
  const env = (dir: string) => ({ DATA_DIR: dir, DATABASE_URL: '', TEMPORAL_ADDRESS: '', JWT_SECRET: '' });
  const cold = await timeToReady(...npmStart, env(dataDir), '/readyz');
  const tsxCold = await timeToReady(...tsxStart, env(tsxDir), '/readyz');
  const warm = await timeToReady(...npmStart, env(dataDir), '/readyz');
  const tsxWarm = await timeToReady(...tsxStart, env(tsxDir), '/readyz');
  const floor = await timeToReady(process.execPath, ['--import', 'tsx', floorScript], {}, '/');
  rmSync(dataDir, { recursive: true, force: true });
  rmSync(tsxDir, { recursive: true, force: true });
  const s = (n: number) => +n.toFixed(2);
  rows.push({
    run,
    warm_ready_s: s(warm.ready),
    warm_temporal_s: s(warm.complete),
    cold_ready_s: s(cold.ready),
    cold_temporal_s: s(cold.complete),
    tsx_warm_ready_s: s(tsxWarm.ready),
    tsx_warm_temporal_s: s(tsxWarm.complete),
    tsx_cold_ready_s: s(tsxCold.ready),
    floor_s: s(floor.ready),
    // On a shared machine the floor moves with the load: the ratio says more than the seconds.
    warm_vs_floor: +(warm.ready / floor.ready).toFixed(1),
    tsx_warm_vs_floor: +(tsxWarm.ready / floor.ready).toFixed(1),
  });
  console.table(rows);
}
const median = (key: string) => {
  const values = rows.map((r) => r[key]!).sort((a, b) => a - b);
  return values[Math.floor(values.length / 2)]!;
};
const verdicts = [
  {
    target: `npm start to /readyz 200, warm <= ${TARGET_S} s (median)`,
    measured: `${median('warm_ready_s')} s (${(median('warm_ready_s') / TARGET_S).toFixed(2)}x the target)`,
    met: median('warm_ready_s') <= TARGET_S,
  },
  {
    target: `npm start to Temporal up, warm (no target; median)`,
    measured: `${median('warm_temporal_s')} s`,
    met: null,
  },
];
printVerdicts('startup', verdicts);
writeResult('startup', { target: `warm npm start to /readyz 200 <= ${TARGET_S} s`, rows, verdicts });
