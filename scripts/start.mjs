// `npm start`: server/main.ts run from a bundle of the project's own sources, built by esbuild
// (which tsx runs on) into .stageplane/build/server and rebuilt only when a source it was built
// from changed. Under `node --import tsx` every one of the ~2,300 modules the server loads, npm
// packages included, passes through tsx's loader hooks on their own thread; the bundle loads
// the packages natively (they stay external) and the sources as a few prebuilt files, which
// takes seconds off a warm start (README Benchmarks). Paths the sources compute from
// import.meta (migrations, scripts/temporal.sh, the workflows, console/dist) keep pointing at
// the sources. Should the bundle fail to build, it says so and runs the sources through tsx.
//
//   node scripts/start.mjs <all|api|worker>
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const OUT = join(ROOT, '.stageplane', 'build', 'server');
const MANIFEST = join(OUT, 'manifest.json');
const ENTRY = join(ROOT, 'server', 'main.ts');

/** The bundle is current when every input it was built from has the size and mtime it had then. */
function current() {
  if (!existsSync(MANIFEST)) return false;
  try {
    const manifest = JSON.parse(readFileSync(MANIFEST, 'utf8'));
    return Object.entries(manifest.inputs).every(([path, [size, mtimeMs]]) => {
      const s = statSync(join(ROOT, path));
      return s.size === size && s.mtimeMs === mtimeMs;
    });
  } catch {
    return false; // an input is gone, or the manifest is unreadable
  }
}

async function build() {
  const esbuild = await import('esbuild');
  rmSync(OUT, { recursive: true, force: true });
  const result = await esbuild.build({
    entryPoints: { main: ENTRY },
    absWorkingDir: ROOT, // the manifest's input paths are relative to the repository
    bundle: true,
    splitting: true, // dynamic imports stay lazy (the worker SDK, OpenTelemetry, the AWS SDK)
    format: 'esm',
    platform: 'node',
    target: 'node20',
    packages: 'external',
    outdir: OUT,
    chunkNames: 'chunks/[name]-[hash]',
    sourcemap: 'linked',
    metafile: true,
    logLevel: 'warning',
    plugins: [
      {
        name: 'source-import-meta',
        setup(b) {
          // Each source keeps its own import.meta.url / dirname / filename.
          b.onLoad({ filter: /\.[cm]?ts$/ }, async ({ path }) => {
            if (path.includes('/node_modules/')) return undefined;
            const text = await readFile(path, 'utf8');
            return {
              loader: 'ts',
              contents: text
                .replaceAll('import.meta.url', JSON.stringify(pathToFileURL(path).href))
                .replaceAll('import.meta.dirname', JSON.stringify(dirname(path)))
                .replaceAll('import.meta.filename', JSON.stringify(path)),
            };
          });
        },
      },
    ],
  });
  const inputs = {};
  for (const path of Object.keys(result.metafile.inputs)) {
    const s = statSync(join(ROOT, path));
    inputs[path] = [s.size, s.mtimeMs];
  }
  mkdirSync(OUT, { recursive: true });
  writeFileSync(MANIFEST, JSON.stringify({ esbuild: esbuild.version, inputs }));
}

let entry = join(OUT, 'main.js');
if (!current()) {
  try {
    await build();
  } catch (error) {
    console.error(`stageplane: could not bundle the server (${error.message.split('\n')[0]}); running the sources through tsx`);
    const { register } = await import('tsx/esm/api');
    register();
    entry = ENTRY;
  }
}
process.setSourceMapsEnabled(true); // stack traces name the sources, not the bundle
const { main } = await import(pathToFileURL(entry).href);
await main();
