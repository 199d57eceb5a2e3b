// A preview's expiry is a durable Temporal timer, not a loop in some process: the API, the
// worker and the local Temporal they started are all SIGKILLed, the expiry passes while they are
// down, and after the restart the preview is archived, by its workflow (actor system:preview-expiry).
// PREVIEW_HOUR_SECONDS=3: ttlHours 1 is 3 s here.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { until } from '../../scripts/lib/until.ts';
import { gqlAt, jwtFor } from '../support/client.ts';
import { createTestDatabase } from '../support/database.ts';
import { spawnStageplane, type StageplaneProcess } from '../support/process.ts';

const JWT_SECRET = 'preview-expiry-test-secret-0123456789-abcd';
let db: Awaited<ReturnType<typeof createTestDatabase>>;
let env: Record<string, string>;
let proc: StageplaneProcess | null = null;
let admin: string;

beforeAll(async () => {
  db = await createTestDatabase();
  // TEMPORAL_ADDRESS unset: the process starts its own Temporal, state in DATA_DIR, killed with it.
  env = {
    DATABASE_URL: db.url,
    DATA_DIR: mkdtempSync(join(tmpdir(), 'stageplane-preview-')),
    JWT_SECRET,
    TEMPORAL_ADDRESS: '',
    PREVIEW_HOUR_SECONDS: '3',
  };
  proc = await spawnStageplane('all', env);
  admin = await jwtFor(JWT_SECRET, 'ada', ['ADMIN']);
}, 180_000);
afterAll(async () => {
  await proc?.stop();
  await db?.drop();
});

const gql = async (query: string, variables: Record<string, unknown> = {}) => {
  const r = await gqlAt(proc!.url, admin, query, variables);
  expect(r.errors).toBeUndefined();
  return r.data;
};
const preview = async () =>
  (
    await gql(`{ project(slug: "pv-restart") { environments(includeArchived: true) { slug previewBranch expiresAt archivedAt } } }`)
  ).project.environments.find((e: any) => e.previewBranch === 'feature/durable');

describe('preview expiry across a restart of every process', () => {
  it('archives the preview whose expiry passed while the API, the worker and Temporal were down', { timeout: 240_000 }, async () => {
    const created = await gql(`mutation { createProject(input: { slug: "pv-restart", name: "pv-restart" }) { id } }`);
    const projectId = created.createProject.id;
    await gql(`mutation($i: SetPreviewPolicyInput!) { setPreviewPolicy(input: $i) { id } }`, {
      i: { projectId, enabled: true, branchPattern: 'feature/*', ttlHours: 2 },
    });
    await gql(`mutation($i: RecordPushInput!) { recordPush(input: $i) { deployments { id } } }`, {
      i: { projectId, branch: 'feature/durable', commitSha: 'abc00001' },
    });
    const made = await preview();
    expect(made).toMatchObject({ slug: 'feature-durable', archivedAt: null });
    const expiresAt = Date.parse(made.expiresAt);
    expect(expiresAt - Date.now()).toBeGreaterThan(1000);

    await proc!.killHard();
    proc = null;
    // Down until well past the expiry: no process is left to remember it but Temporal's own state.
    await new Promise((r) => setTimeout(r, Math.max(0, expiresAt - Date.now()) + 2000));
    proc = await spawnStageplane('all', env);

    const archived = await until(
      'the preview to be archived after the restart',
      async () => {
        const e = await preview();
        return e?.archivedAt ? e : null;
      },
      { timeoutMs: 60_000, intervalMs: 250, ignoreErrors: true, context: () => proc?.output().slice(-2000) },
    );
    expect(Date.parse(archived.archivedAt)).toBe(expiresAt);
    // Newest first. The push's deployment may still be running when the preview expires; the
    // archive then cancels it, audited after the expiry (system:archive, deployment.cancel).
    const audit = await gql(`{ project(slug: "pv-restart") { auditLog(first: 5) { edges { node { actor action } } } } }`);
    const entries = audit.project.auditLog.edges.map((e: any) => e.node);
    const expiry = entries.findIndex((n: any) => n.action === 'environment.expire');
    expect(entries[expiry]).toEqual({ actor: 'system:preview-expiry', action: 'environment.expire' });
    for (const later of entries.slice(0, expiry)) expect(later).toEqual({ actor: 'system:archive', action: 'deployment.cancel' });
    expect(expiry).toBeLessThanOrEqual(1);
  });
});
