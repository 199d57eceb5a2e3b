// `npm start` serves the API as soon as the database is open, before its local Temporal is up:
// /readyz answers 200 with `pending.temporal`, reads and configuration mutations work, and a
// deployment mutation answers PRECONDITION_FAILED saying why, writing nothing. Once Temporal is
// up the same push deploys. The dev server is the real one, held back by a gate (TEMPORAL_CLI
// names a wrapper that waits for a file before it execs the real binary), so the window is not
// a race against a timer.
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { provisionTemporalCli } from '../../server/temporal.ts';
import { gqlAt, jwtFor } from '../support/client.ts';
import { createTestDatabase } from '../support/database.ts';
import { spawnStageplane, type StageplaneProcess } from '../support/process.ts';

const SECRET = 'startup-gate-secret-0123456789-0123456789-abc';
const PUSH = `mutation($i: RecordPushInput!) { recordPush(input: $i) { release { version } deployments { id status } } }`;

let dir: string;
let gate: string;
let db: { url: string; drop(): Promise<void> };
let api: StageplaneProcess;
let token: string;
let projectId: string;

async function readyz() {
  const r = await fetch(`${api.url}/readyz`);
  return { status: r.status, body: (await r.json()) as { status: string; pending?: Record<string, string> } };
}

const gql = (query: string, variables: Record<string, unknown> = {}) => gqlAt(api.url, token, query, variables);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'stageplane-gate-'));
  gate = join(dir, 'open');
  const wrapper = join(dir, 'temporal');
  writeFileSync(wrapper, `#!/bin/sh\nwhile [ ! -e '${gate}' ]; do sleep 0.1; done\nexec '${await provisionTemporalCli()}' "$@"\n`);
  chmodSync(wrapper, 0o755);
  db = await createTestDatabase();
  api = await spawnStageplane(
    'all',
    { DATABASE_URL: db.url, DATA_DIR: join(dir, 'data'), JWT_SECRET: SECRET, TEMPORAL_ADDRESS: '', TEMPORAL_CLI: wrapper },
    undefined,
    'readyz-200',
  );
  token = await jwtFor(SECRET, 'starter', ['ADMIN', 'DEVELOPER']);
}, 120_000);

afterAll(async () => {
  writeFileSync(gate, ''); // a dev server still waiting exits with us either way
  await api?.stop();
  await db?.drop();
  rmSync(dir, { recursive: true, force: true });
});

describe('before the local Temporal is up', () => {
  it('is ready for the API, and /readyz says Temporal is starting and for how long', async () => {
    const first = await readyz();
    expect(first.status).toBe(200);
    expect(first.body.status).toBe('ready');
    expect(first.body.pending?.temporal).toMatch(/^starting \(\d+\.\d s\)$/);
    await new Promise((r) => setTimeout(r, 300));
    const later = (await readyz()).body.pending!.temporal!;
    expect(Number(/\((\d+\.\d) s\)/.exec(later)![1])).toBeGreaterThan(Number(/\((\d+\.\d) s\)/.exec(first.body.pending!.temporal!)![1]));
  });

  it('serves queries and configuration mutations', async () => {
    const created = await gql(`mutation { createProject(input: { slug: "gate", name: "Gate" }) { id environments { id slug } } }`);
    expect(created.errors).toBeUndefined();
    projectId = created.data.createProject.id;
    const development = created.data.createProject.environments.find((e: { slug: string }) => e.slug === 'development').id;
    const updated = await gql(`mutation($i: UpdateEnvironmentInput!) { updateEnvironment(input: $i) { id } }`, {
      i: { id: development, deployTarget: { provider: 'SIMULATED', stepSeconds: 0 } },
    });
    expect(updated.errors).toBeUndefined();
    const read = await gql(`{ project(slug: "gate") { environments { slug } } }`);
    expect(read.data.project.environments.map((e: { slug: string }) => e.slug)).toEqual(['development', 'staging', 'production']);
  });

  it('answers a deployment mutation PRECONDITION_FAILED, saying Temporal is starting, and writes nothing', async () => {
    const r = await gql(PUSH, { i: { projectId, branch: 'main', commitSha: 'aaaaaaa1' } });
    expect(r.data).toBeNull();
    expect(r.errors![0]!.extensions?.code).toBe('PRECONDITION_FAILED');
    expect(r.errors![0]!.message).toMatch(/Temporal.*starting \(\d+\.\d s\)/);
    const after = await gql(
      `{ project(slug: "gate") { deployments(first: 5) { edges { node { id } } } releases(first: 5) { edges { node { id } } } } }`,
    );
    expect(after.errors).toBeUndefined();
    expect(after.data.project.deployments.edges).toEqual([]);
    expect(after.data.project.releases.edges).toEqual([]);
    expect((await readyz()).body.pending?.temporal).toMatch(/^starting/);
  });
});

describe('once the local Temporal is up', () => {
  it('drops `pending` from /readyz and deploys the same push', async () => {
    writeFileSync(gate, '');
    const deadline = Date.now() + 60_000;
    let last = await readyz();
    while (last.body.pending && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      last = await readyz();
    }
    expect(last).toEqual({ status: 200, body: { status: 'ready' } });
    const r = await gql(PUSH, { i: { projectId, branch: 'main', commitSha: 'aaaaaaa1' } });
    expect(r.errors).toBeUndefined();
    const [deployment] = r.data.recordPush.deployments;
    let status = deployment.status;
    while (!['SUCCEEDED', 'FAILED'].includes(status) && Date.now() < deadline) {
      await new Promise((res) => setTimeout(res, 100));
      status = (await gql(`query($id: ID!) { deployment(id: $id) { status } }`, { id: deployment.id })).data.deployment.status;
    }
    expect(status).toBe('SUCCEEDED'); // the worker started behind the API too
  }, 90_000);
});
