// Whether console/dist is missing or older than a source it is built from. Plain JavaScript, so
// `npm start`'s prestart asks it with bare node (no tsx: about half a second of every start)
// and runs console/build.ts only when a build is due. console/build.ts --if-stale asks it too.
//
//   node console/stale.mjs    exit 0: stale (build), 1: up to date
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const CONSOLE_DIR = dirname(fileURLToPath(import.meta.url));
const ROOT = join(CONSOLE_DIR, '..');

/** @param {string} dir @returns {string[]} */
function files(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    return entry.isDirectory() ? files(path) : [path];
  });
}

/** The newest source the build depends on, or null when there is none (e.g. sources not copied yet). @returns {number | null} */
function newestSource() {
  const sources = [
    join(CONSOLE_DIR, 'index.html'),
    join(CONSOLE_DIR, 'vite.config.ts'),
    join(ROOT, 'package-lock.json'),
    ...files(join(CONSOLE_DIR, 'src')),
    ...files(join(CONSOLE_DIR, 'public')),
  ].filter((f) => existsSync(f));
  if (!existsSync(join(CONSOLE_DIR, 'index.html'))) return null;
  return Math.max(...sources.map((f) => statSync(f).mtimeMs));
}

/** Whether the console's sources are here at all (a copy without them has nothing to build). */
export function hasSources() {
  return existsSync(join(CONSOLE_DIR, 'index.html'));
}

/** @param {string} dist @returns {boolean} */
export function isStale(dist = join(CONSOLE_DIR, 'dist')) {
  const index = join(dist, 'index.html');
  if (!existsSync(index)) return true;
  const newest = newestSource();
  return newest !== null && newest > statSync(index).mtimeMs;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) process.exit(isStale() ? 0 : 1);
