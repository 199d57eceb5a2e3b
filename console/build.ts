// Builds the ops console into console/dist with Vite. `npm install` runs it (postinstall), and
// `npm start` runs it with --if-stale first (prestart), so the page is there after the README's
// two commands and stays in step with the sources after a `git pull`.
//
//   tsx console/build.ts             build now
//   tsx console/build.ts --if-stale  build only when console/dist is missing or older than a source
//
// Without Vite (a production install, `npm ci --omit=dev`) it says so and exits 0; the API then
// serves a page that says how to build the console.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { hasSources, isStale } from './stale.mjs';

const CONSOLE_DIR = dirname(fileURLToPath(import.meta.url));
const ROOT = join(CONSOLE_DIR, '..');
const DIST = join(CONSOLE_DIR, 'dist');

function files(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    return entry.isDirectory() ? files(path) : [path];
  });
}

function viteBin(): string | null {
  try {
    const pkg = createRequire(import.meta.url).resolve('vite/package.json');
    return join(dirname(pkg), 'bin', 'vite.js');
  } catch {
    return null;
  }
}

/** Sizes of the built JavaScript and CSS, raw and gzip-compressed (what a browser downloads). */
export function bundleSizes(dist = DIST) {
  const assets = files(join(dist, 'assets')).filter((f) => /\.(js|css)$/.test(f));
  const sizes = assets.map((f) => {
    const bytes = readFileSync(f);
    return { file: relative(dist, f), bytes: bytes.length, gzip: gzipSync(bytes, { level: 9 }).length };
  });
  return { files: sizes, bytes: sizes.reduce((a, s) => a + s.bytes, 0), gzip: sizes.reduce((a, s) => a + s.gzip, 0) };
}

function main() {
  const ifStale = process.argv.includes('--if-stale');
  if (!hasSources()) {
    console.log('console: no sources here (console/index.html), nothing to build');
    return;
  }
  if (ifStale && !isStale()) return;
  const vite = viteBin();
  if (!vite || !existsSync(vite)) {
    console.log(
      'console: Vite is not installed (production install?): the ops console is not built. Run `npm install` and `npm run console:build`.',
    );
    return;
  }
  const started = Date.now();
  console.log(`console: building ${relative(process.cwd(), DIST) || DIST} with Vite`);
  const result = spawnSync(
    process.execPath,
    [vite, 'build', '--config', join(CONSOLE_DIR, 'vite.config.ts'), '--mode', 'production', '--logLevel', 'warn'],
    {
      cwd: ROOT,
      stdio: 'inherit',
      // Always React's production build, whatever NODE_ENV the caller runs with (tests run with `test`).
      env: { ...process.env, NODE_ENV: 'production' },
    },
  );
  if (result.status !== 0) {
    if (ifStale) {
      // Before `npm start`: the API starts anyway, serving the previous build or a page that says so.
      console.error('console: the Vite build failed; the API starts without an up-to-date console');
      return;
    }
    console.error('console: the Vite build failed');
    process.exit(result.status ?? 1);
  }
  const sizes = bundleSizes();
  const kB = (n: number) => (n / 1024).toFixed(1);
  console.log(
    `console: built in ${((Date.now() - started) / 1000).toFixed(1)} s: ${kB(sizes.bytes)} kB of JS and CSS, ${kB(sizes.gzip)} kB gzip`,
  );
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) main();
