// The console's part of verification and automatic rollback (v2), in a real browser against a
// real Stageplane process: a deployment that fails its verification against a real HTTP target
// shows the verification and links to its automatic rollback (and back); the environment's card
// shows the quarantine and the paused auto-deploy, and lifts both with the keyboard.
// @axe-core/playwright is not installed here: the checks below are by role and accessible name
// (what axe's button-name/link-name/region rules look at), plus keyboard-only operation.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { expectAccessible } from '../support/axe.ts';
import { until } from '../../scripts/lib/until.ts';
import { freePort } from '../../server/temporal.ts';
import { gqlAt, jwtFor } from '../support/client.ts';
import { createTestDatabase } from '../support/database.ts';
import { spawnStageplane, type StageplaneProcess } from '../support/process.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const JWT_SECRET = 'e2e-verification-secret-0123456789-abcdef';

let browser: Browser;
let server: StageplaneProcess;
let dropDb: () => Promise<void>;
let dataDir: string;
let admin: string;
let healthy = true;
const target = createServer((_req, res) => res.writeHead(healthy ? 200 : 500).end());
const ids: { env?: string; good?: string; bad?: string; badVersion?: string; goodVersion?: string; rollback?: string } = {};

const gql = (query: string, variables: Record<string, unknown> = {}) => gqlAt(server.url, admin, query, variables);
const STATUS = `query($id: ID!) { deployment(id: $id) { status rolledBackBy { id status } } }`;
const ended = (id: string) =>
  until(
    `deployment ${id} to end`,
    async () => {
      const d = (await gql(STATUS, { id })).data?.deployment;
      return d && ['SUCCEEDED', 'FAILED', 'CANCELLED'].includes(d.status) ? d : null;
    },
    { timeoutMs: 60_000, intervalMs: 200 },
  );

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`No Chromium at ${CHROMIUM}`);
  const build = spawnSync(process.execPath, ['--import', 'tsx', 'console/build.ts', '--if-stale'], { cwd: ROOT, encoding: 'utf8' });
  if (build.status !== 0) throw new Error(`console build failed:\n${build.stdout}${build.stderr}`);
  await new Promise<void>((r) => target.listen(0, '127.0.0.1', () => r()));
  const db = await createTestDatabase();
  dropDb = db.drop;
  const port = await freePort();
  dataDir = mkdtempSync(join(tmpdir(), 'stageplane-e2e-verify-'));
  [server, browser] = await Promise.all([
    spawnStageplane(
      'all',
      {
        DATABASE_URL: db.url,
        DATA_DIR: dataDir,
        JWT_SECRET,
        TEMPORAL_ADDRESS: inject('temporalAddress'),
        TEMPORAL_TASK_QUEUE: `e2e-verify-${port}`,
      },
      port,
    ),
    chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu'] }),
  ]);
  admin = await jwtFor(JWT_SECRET, 'ada', ['ADMIN']);
  const created = await gql(
    `mutation { createProject(input: { slug: "guarded", name: "Guarded" }) { id environment(slug: "development") { id } } }`,
  );
  expect(created.errors).toBeUndefined();
  const projectId = created.data.createProject.id;
  ids.env = created.data.createProject.environment.id;
  const url = `http://127.0.0.1:${(target.address() as { port: number }).port}/health`;
  const u = await gql(`mutation($i: UpdateEnvironmentInput!) { updateEnvironment(input: $i) { id } }`, {
    i: {
      id: ids.env,
      policy: { autoRollback: true },
      deployTarget: {
        provider: 'SIMULATED',
        stepSeconds: 0,
        verification: { url, intervalSeconds: 0.5, successThreshold: 2, failureThreshold: 2 },
      },
    },
  });
  expect(u.errors).toBeUndefined();
  const PUSH = `mutation($i: RecordPushInput!) { recordPush(input: $i) { release { version } deployments { id } } }`;
  const good = await gql(PUSH, { i: { projectId, branch: 'main', commitSha: 'aaaa1111' } });
  ids.good = good.data.recordPush.deployments[0].id;
  ids.goodVersion = good.data.recordPush.release.version;
  expect((await ended(ids.good!)).status).toBe('SUCCEEDED');
  healthy = false;
  const bad = await gql(PUSH, { i: { projectId, branch: 'main', commitSha: 'bbbb2222' } });
  ids.bad = bad.data.recordPush.deployments[0].id;
  ids.badVersion = bad.data.recordPush.release.version;
  const failed = await ended(ids.bad!);
  healthy = true;
  expect(failed.status).toBe('FAILED');
  ids.rollback = failed.rolledBackBy.id;
  expect((await ended(ids.rollback!)).status).toBe('SUCCEEDED');
}, 240_000);

afterAll(async () => {
  await browser?.close();
  await server?.stop();
  await dropDb?.();
  await new Promise((r) => target.close(r));
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

async function signedIn(path: string): Promise<Page> {
  const page = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
  await page.goto(`${server.url}${path}#token=${encodeURIComponent(admin)}`);
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
  return page;
}

/** Moves the keyboard focus forward until `locator` has it, then presses Enter (no mouse). */
async function pressByKeyboard(page: Page, locator: ReturnType<Page['getByRole']>) {
  for (let i = 0; i < 80; i++) {
    await page.keyboard.press('Tab');
    if (await locator.evaluate((el) => el === document.activeElement)) {
      await page.keyboard.press('Enter');
      return;
    }
  }
  throw new Error('the control is not reachable by keyboard');
}

describe('verification in the console', () => {
  it('shows the failed verification and links to the rollback and back, by keyboard', async () => {
    const page = await signedIn(`/deployments/${encodeURIComponent(ids.bad!)}`);
    const section = page.getByRole('region', { name: 'Verification', exact: true });
    await expect.poll(() => section.innerText(), { timeout: 20_000 }).toContain('HTTP 500 (expected 200)');
    const text = (await section.innerText()).replace(/\s+/g, ' ');
    expect(text).toContain('Failed');
    expect(text).toMatch(/passes after 2 consecutive HTTP 200, fails after 2 consecutive failures/);
    expect(text).toContain('Last status 500');
    const toRollback = section.getByRole('link', { name: `the rollback to ${ids.goodVersion}` });
    await pressByKeyboard(page, toRollback);
    await page.waitForURL(`**/deployments/${encodeURIComponent(ids.rollback!)}`);
    const back = page.getByRole('region', { name: 'Verification', exact: true }).getByRole('link', {
      name: `the failed deployment of ${ids.badVersion}`,
    });
    await back.waitFor({ timeout: 20_000 });
    await expectAccessible(page, 'deployment page with a rollback');
    expect((await page.getByRole('region', { name: 'Verification', exact: true }).innerText()).replace(/\s+/g, ' ')).toContain('Passed');
    await page.context().close();
  }, 60_000);

  it('shows quarantine and the paused auto-deploy on the card, and lifts both by keyboard', async () => {
    const page = await signedIn('/projects/guarded');
    const card = page.getByRole('region', { name: 'Development', exact: true });
    await card.getByText('Auto-deploy paused').waitFor({ timeout: 20_000 });
    await expectAccessible(page, 'pipeline with quarantine and paused auto-deploy');
    expect(await card.innerText()).toContain(ids.badVersion);
    await pressByKeyboard(page, card.getByRole('button', { name: 'Resume auto-deploy' }));
    await card.getByRole('status').filter({ hasText: 'Auto-deploy resumed.' }).waitFor();
    await expect.poll(() => card.getByText('Auto-deploy paused').count()).toBe(0);
    await pressByKeyboard(page, card.getByRole('button', { name: `Release ${ids.badVersion} from quarantine in Development` }));
    await expect.poll(() => card.getByText('Quarantined here').count(), { timeout: 20_000 }).toBe(0);
    const env = await gql(
      `{ project(slug: "guarded") { environment(slug: "development") { autoDeployPaused quarantinedReleases { id } } } }`,
    );
    expect(env.data.project.environment).toEqual({ autoDeployPaused: false, quarantinedReleases: [] });
    await page.context().close();
  }, 60_000);
});
