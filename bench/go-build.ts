// The first start's Temporal CLI build (scripts/lib/go-tool.sh), cold, with different `go install`
// flags. Each variant builds into its own empty GOCACHE and GOBIN, with CGO_ENABLED=0 as
// go-tool.sh does, and the shared module cache as the only proxy (GOPROXY=file://…/cache/download),
// so the modules must already be there (any `npm start` or scripts/temporal.sh run puts them there)
// and the figures are compile + link only, no downloads. Measured: wall and user+sys CPU seconds of
// the whole build (from /usr/bin/time; CPU seconds move less with other load on a shared machine),
// the largest process's peak RSS, the binary's size and what GOCACHE holds afterwards (MB = 10^6
// bytes). Every binary must answer `server start-dev --help`.
// Long (about 5 minutes per build on 2 cores): not part of `npm run bench`.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { printVerdicts, writeResult } from './lib.ts';

const VERSION = process.env.TEMPORAL_CLI_VERSION ?? 'v1.5.1';
const MODULE = `github.com/temporalio/cli/cmd/temporal@${VERSION}`;
const RUNS = Number(process.env.BENCH_RUNS ?? 1);
/** Worth keeping: at least this much less wall AND CPU time than the baseline. */
const KEEP_BELOW = 0.95;
/** Where to keep each variant's binary (<dir>/<variant>/temporal) to test it further; unset: dropped. */
const KEEP_DIR = process.env.BENCH_KEEP_DIR;

const VARIANTS: Record<string, string[]> = {
  // Today's scripts/lib/go-tool.sh.
  baseline: [],
  // No module paths in the binary, no symbol table or DWARF from the linker.
  'trimpath-s-w': ['-trimpath', '-ldflags=-s -w'],
  // ... and no DWARF from the compiler either (the linker would drop it anyway).
  'trimpath-s-w-nodwarf': ['-trimpath', '-ldflags=-s -w', '-gcflags=all=-dwarf=false'],
  // ... and twice GOMAXPROCS packages at once (the default -p is GOMAXPROCS).
  'trimpath-s-w-p4': ['-trimpath', '-ldflags=-s -w', '-p=4'],
};
const chosen = (process.env.BENCH_VARIANTS ?? Object.keys(VARIANTS).join(',')).split(',');
for (const name of chosen) if (!VARIANTS[name]) throw new Error(`unknown variant ${name}: ${Object.keys(VARIANTS)}`);
// In the order given (baseline first unless listed elsewhere); later runs alternate it.
if (!chosen.includes('baseline')) chosen.unshift('baseline');

function findGo(): string {
  if (process.env.GO) return process.env.GO;
  const onPath = spawnSync('sh', ['-c', 'command -v go'], { encoding: 'utf8' }).stdout.trim();
  if (onPath) return onPath;
  if (existsSync('/usr/local/go/bin/go')) return '/usr/local/go/bin/go';
  throw new Error('no go: install Go 1.24 or newer');
}
const GO = findGo();
const goVersion = spawnSync(GO, ['version'], { encoding: 'utf8' }).stdout.trim();
const modCache = spawnSync(GO, ['env', 'GOMODCACHE'], { encoding: 'utf8' }).stdout.trim();

interface Row {
  variant: string;
  run: number;
  wall_s: number;
  cpu_s: number;
  user_s: number;
  sys_s: number;
  max_rss_mb: number;
  binary_mb: number;
  /** What the build left in GOCACHE (a first start leaves it in the user's). */
  gocache_mb: number;
}

function build(variant: string, run: number): Row {
  const goCache = mkdtempSync(join(tmpdir(), 'stageplane-gocache-'));
  const goBin = mkdtempSync(join(tmpdir(), 'stageplane-gobin-'));
  const timeFile = join(goBin, 'time.txt');
  try {
    const args = ['install', ...VARIANTS[variant]!, MODULE];
    console.log(`${variant} (run ${run}): go ${args.join(' ')}`);
    const r = spawnSync('/usr/bin/time', ['-o', timeFile, '-f', '%e %U %S %M', GO, ...args], {
      env: {
        ...process.env,
        GOCACHE: goCache,
        GOBIN: goBin,
        CGO_ENABLED: '0',
        // Only what is in the module cache: the bench times compile + link, never a download.
        // (GOPROXY=off would refuse `go install`'s deprecation lookup; the cache answers it.)
        GOPROXY: `file://${modCache}/cache/download`,
        GOSUMDB: 'off', // checked when the modules were downloaded
        GOFLAGS: '',
        GOTOOLCHAIN: 'local',
      },
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    if (r.status !== 0)
      throw new Error(`${variant}: go install exited with ${r.status} (are the modules cached? run scripts/temporal.sh once)`);
    const [wall, user, sys, rssKb] = readFileSync(timeFile, 'utf8').trim().split('\n').pop()!.split(' ').map(Number);
    const bin = join(goBin, 'temporal');
    const help = spawnSync(bin, ['server', 'start-dev', '--help'], { encoding: 'utf8' });
    if (help.status !== 0 || !help.stdout.includes('start-dev'))
      throw new Error(`${variant}: ${bin} server start-dev --help failed: ${help.stderr}`);
    const size = statSync(bin).size;
    const goCacheKb = Number(spawnSync('du', ['-sk', goCache], { encoding: 'utf8' }).stdout.split('\t')[0]);
    if (KEEP_DIR) {
      mkdirSync(join(KEEP_DIR, variant), { recursive: true });
      renameSync(bin, join(KEEP_DIR, variant, 'temporal'));
    }
    const s = (n: number) => +n.toFixed(1);
    return {
      variant,
      run,
      wall_s: s(wall!),
      cpu_s: s(user! + sys!),
      user_s: s(user!),
      sys_s: s(sys!),
      max_rss_mb: Math.round((rssKb! * 1024) / 1e6),
      binary_mb: s(size / 1e6),
      gocache_mb: Math.round((goCacheKb * 1024) / 1e6),
    };
  } finally {
    rmSync(goCache, { recursive: true, force: true });
    rmSync(goBin, { recursive: true, force: true });
  }
}

console.log(`${goVersion}; ${MODULE}; GOMODCACHE ${modCache}; ${RUNS} run(s) of ${chosen.join(', ')}`);
const rows: Row[] = [];
for (let run = 1; run <= RUNS; run++) {
  // Alternate the order so a trend in the machine's load does not favour one variant.
  const order = run % 2 === 1 ? chosen : [...chosen].reverse();
  for (const variant of order) {
    rows.push(build(variant, run));
    console.table(rows);
  }
}

const median = (variant: string, key: 'wall_s' | 'cpu_s' | 'binary_mb') => {
  const values = rows
    .filter((r) => r.variant === variant)
    .map((r) => r[key])
    .sort((a, b) => a - b);
  return values[Math.floor(values.length / 2)]!;
};
const summary = chosen.map((variant) => ({
  variant,
  flags: VARIANTS[variant]!.join(' ') || '(none)',
  wall_s: median(variant, 'wall_s'),
  cpu_s: median(variant, 'cpu_s'),
  binary_mb: median(variant, 'binary_mb'),
  wall_vs_baseline: +(median(variant, 'wall_s') / median('baseline', 'wall_s')).toFixed(3),
  cpu_vs_baseline: +(median(variant, 'cpu_s') / median('baseline', 'cpu_s')).toFixed(3),
  size_vs_baseline: +(median(variant, 'binary_mb') / median('baseline', 'binary_mb')).toFixed(3),
}));
console.log('\nmedians (compile + link only: the modules were already in the module cache)');
console.table(summary);
const verdicts = summary
  .filter((s) => s.variant !== 'baseline')
  .map((s) => ({
    target: `${s.variant}: wall and CPU <= ${KEEP_BELOW}x baseline`,
    measured: `wall ${s.wall_vs_baseline}x, CPU ${s.cpu_vs_baseline}x, binary ${s.binary_mb} MB`,
    met: s.wall_vs_baseline <= KEEP_BELOW && s.cpu_vs_baseline <= KEEP_BELOW,
  }));
printVerdicts('go-build', verdicts);
writeResult('go-build', { go: goVersion, module: MODULE, modCache, runs: RUNS, rows, summary, verdicts });
