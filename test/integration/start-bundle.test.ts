// `npm start` runs the server from an esbuild bundle of the sources (scripts/start.mjs). The
// bundled server must be the same server: migrations found (db/client.ts computes their folder
// from import.meta), the worker's workflows found (workflows/worker.ts does too), a deployment
// run end to end; and a second start reuses the bundle instead of building it again.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { freePort } from '../../server/temporal.ts';
import { gqlAt, jwtFor } from '../support/client.ts';
import { createTestDatabase } from '../support/database.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const MANIFEST = join(ROOT, '.stageplane', 'build', 'server', 'manifest.json');
const SECRET = 'start-bundle-secret-0123456789-0123456789-abc';

let db: { url: string; drop(): Promise<void> };
let dataDir: string;
let taskQueue: string;

async function startBundled(): Promise<{ url: string; child: ChildProcess; stop(): Promise<void> }> {
  const port = await freePort();
  const child = spawn(process.execPath, ['scripts/start.mjs', 'all'], {
    cwd: ROOT,
    env: {
      ...process.env,
      NODE_ENV: 'test',
      PORT: String(port),
      HOST: '127.0.0.1',
      DATABASE_URL: db.url,
      DATA_DIR: dataDir,
      JWT_SECRET: SECRET,
      TEMPORAL_ADDRESS: inject('temporalAddress'),
      TEMPORAL_TASK_QUEUE: taskQueue,
      LOG_LEVEL: 'warn',
      SHUTDOWN_DRAIN_SECONDS: '0',
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 150_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`scripts/start.mjs exited with ${child.exitCode}:\n${err}`);
    if (Date.now() > deadline) throw new Error(`not ready:\n${err}`);
    try {
      if ((await fetch(`${url}/readyz`)).status === 200) break;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    child,
    stop: async () => {
      child.kill('SIGTERM');
      if (child.exitCode === null) await new Promise((r) => child.once('exit', r));
    },
  };
}

beforeAll(async () => {
  db = await createTestDatabase();
  dataDir = mkdtempSync(join(tmpdir(), 'stageplane-bundle-'));
  taskQueue = `bundle-${randomBytes(4).toString('hex')}`;
});
afterAll(async () => {
  await db?.drop();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('npm start (scripts/start.mjs)', () => {
  it('runs the bundled server: it migrates, serves, and its worker runs a deployment', async () => {
    const server = await startBundled();
    try {
      const manifest = JSON.parse(readFileSync(MANIFEST, 'utf8'));
      expect(Object.keys(manifest.inputs)).toEqual(expect.arrayContaining(['server/main.ts', 'db/client.ts', 'workflows/worker.ts']));
      expect(Object.keys(manifest.inputs).some((path) => path.includes('node_modules'))).toBe(false); // packages stay external
      const token = await jwtFor(SECRET, 'bundled', ['ADMIN', 'DEVELOPER']);
      const created = await gqlAt(
        server.url,
        token,
        `mutation { createProject(input: { slug: "bundled", name: "Bundled" }) { id environments { id slug } } }`,
      );
      expect(created.errors).toBeUndefined();
      const project = created.data.createProject;
      const development = project.environments.find((e: { slug: string }) => e.slug === 'development').id;
      await gqlAt(server.url, token, `mutation($i: UpdateEnvironmentInput!) { updateEnvironment(input: $i) { id } }`, {
        i: { id: development, deployTarget: { provider: 'SIMULATED', stepSeconds: 0 } },
      });
      const pushed = await gqlAt(server.url, token, `mutation($i: RecordPushInput!) { recordPush(input: $i) { deployments { id } } }`, {
        i: { projectId: project.id, branch: 'main', commitSha: 'bbbbbbb1' },
      });
      expect(pushed.errors).toBeUndefined();
      const id = pushed.data.recordPush.deployments[0].id;
      let status = '';
      for (const deadline = Date.now() + 90_000; !['SUCCEEDED', 'FAILED'].includes(status) && Date.now() < deadline; ) {
        await new Promise((r) => setTimeout(r, 200));
        status = (await gqlAt(server.url, token, `query($id: ID!) { deployment(id: $id) { status } }`, { id })).data.deployment.status;
      }
      expect(status).toBe('SUCCEEDED');
    } finally {
      await server.stop();
    }
  }, 240_000);

  it('reuses the bundle on the next start while no source changed', async () => {
    expect(existsSync(MANIFEST)).toBe(true);
    const built = statSync(MANIFEST).mtimeMs;
    const server = await startBundled();
    try {
      expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
      expect(statSync(MANIFEST).mtimeMs).toBe(built);
    } finally {
      await server.stop();
    }
  }, 180_000);
});
