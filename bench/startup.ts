// `npm start` to a 200 from /readyz on the embedded database, cold (a new DATA_DIR) and warm (the
// same DATA_DIR again), against the floor of the same runtime: `node --import tsx` starting a
// bare HTTP server. The Temporal CLI must already be built (it is cached after the first build).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../server/temporal.ts';
import { writeResult } from './lib.ts';

const ROOT = join(import.meta.dirname, '..');
const RUNS = Number(process.env.BENCH_RUNS ?? 3);

async function timeToReady(args: string[], env: Record<string, string>, path: string): Promise<number> {
  const port = await freePort();
  const t0 = performance.now();
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    // No drain on the SIGTERM that ends each run: the bench times start-up, not a rolling restart.
    env: { ...process.env, SHUTDOWN_DRAIN_SECONDS: '0', ...env, PORT: String(port), LOG_LEVEL: 'warn' },
    stdio: 'ignore',
  });
  try {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`exited with ${child.exitCode}`);
      try {
        if ((await fetch(`http://127.0.0.1:${port}${path}`)).status === 200) return performance.now() - t0;
      } catch {
        // not yet listening
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  }
}

const floorScript = join(tmpdir(), 'stageplane-floor.ts');
writeFileSync(
  floorScript,
  `import { createServer } from 'node:http';\ncreateServer((_q, s) => s.end('ok')).listen(Number(process.env.PORT), '127.0.0.1');\n`,
);

const rows = [];
for (let run = 1; run <= RUNS; run++) {
  const dataDir = mkdtempSync(join(tmpdir(), 'stageplane-start-'));
  const env = { DATA_DIR: dataDir, DATABASE_URL: '', TEMPORAL_ADDRESS: '', JWT_SECRET: '' };
  const cold = await timeToReady(['--import', 'tsx', 'server/main.ts', 'all'], env, '/readyz');
  const warm = await timeToReady(['--import', 'tsx', 'server/main.ts', 'all'], env, '/readyz');
  const floor = await timeToReady(['--import', 'tsx', floorScript], {}, '/');
  rmSync(dataDir, { recursive: true, force: true });
  rows.push({
    run,
    cold_s: +(cold / 1000).toFixed(2),
    warm_s: +(warm / 1000).toFixed(2),
    floor_s: +(floor / 1000).toFixed(2),
    warm_vs_floor: +(warm / floor).toFixed(1),
  });
  console.table(rows);
}
writeResult('startup', { target: 'warm start < 10 s', rows });
