// The ops console end to end, as a person uses it: a real Stageplane process (`server/main.ts all`
// on real PostgreSQL and Temporal, serving the built console/dist at `/`) and Debian's Chromium
// driven by playwright-core. Screenshots of every page (1280x800 and phone-sized) are written to
// test/output/e2e/, with metrics.json (push-to-page latency, bundle size).
//
// One release goes from push to production: sign-in (bad and good token), a push that moves
// development to SUCCEEDED live, promote to staging, promote to production, the requester refused
// when approving, a second browser (an APPROVER) approving, the first page following live; then a
// deployment page across a restart of the server (reconnecting, resumed, no duplicate rows).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Locator, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { bundleSizes } from '../../console/build.ts';
import { freePort } from '../../server/temporal.ts';
import { expectAccessible } from '../support/axe.ts';
import { gqlAt, jwtFor } from '../support/client.ts';
import { createTestDatabase } from '../support/database.ts';
import { spawnStageplane, type StageplaneProcess } from '../support/process.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const OUT = join(ROOT, 'test', 'output', 'e2e');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const JWT_SECRET = 'e2e-console-secret-0123456789-abcdefghijkl';
const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };
const SLUG = 'shop';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Retries `check` (an assertion) until it passes or `timeoutMs` runs out. */
async function eventually<T>(check: () => Promise<T>, timeoutMs = 20_000, interval = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await sleep(interval);
    }
  }
}

interface Tab {
  context: BrowserContext;
  page: Page;
}

let browser: Browser;
let server: StageplaneProcess;
let env: Record<string, string>;
let port: number;
let dropDb: () => Promise<void>;
let adminToken: string;
let aliceToken: string; // DEVELOPER and APPROVER: pushes, promotes, and may not approve her own
let bobToken: string; // APPROVER
let projectId: string;
const envIds: Record<string, string> = {};
const tabs: Tab[] = [];
/** Every URL any page requested (HTTP and WebSocket) and every console line, to look for tokens. */
const requested: string[] = [];
const consoleLines: string[] = [];
const metrics: Record<string, unknown> = {};

const gql = (query: string, variables: Record<string, unknown> = {}, token = adminToken) => gqlAt(server.url, token, query, variables);

async function open(viewport = DESKTOP): Promise<Tab> {
  const context = await browser.newContext({ viewport, deviceScaleFactor: 1 });
  const page = await context.newPage();
  page.on('request', (r) => requested.push(r.url()));
  page.on('websocket', (ws) => requested.push(ws.url()));
  page.on('console', (m) => consoleLines.push(m.text()));
  page.on('pageerror', (e) => consoleLines.push(`pageerror: ${e.message}`));
  const tab = { context, page };
  tabs.push(tab);
  return tab;
}

/** Opens a page signed in through `/#token=` (read once, then dropped from the address). */
async function openSignedIn(token: string, path: string, viewport = DESKTOP): Promise<Tab> {
  const tab = await open(viewport);
  await tab.page.goto(`${server.url}${path}#token=${encodeURIComponent(token)}`);
  await tab.page.getByRole('button', { name: 'Sign out' }).waitFor();
  return tab;
}

const region = (page: Page, name: string) => page.getByRole('region', { name, exact: true });

/** A screenshot of the page as it stands, and axe on it: every state photographed is held to WCAG 2.1 AA. */
async function shot(page: Page, name: string) {
  await page.screenshot({ path: join(OUT, `${name}.png`), fullPage: true });
  await expectAccessible(page, name);
}

async function text(locator: Locator) {
  return (await locator.innerText()).replace(/\s+/g, ' ');
}

/** Resolves with the time (ms since the epoch, browser clock) when an environment's region first contains `needle`. */
function whenRegionShows(page: Page, envName: string, needle: string) {
  return page.evaluate(
    ({ envName, needle }) =>
      new Promise<number>((resolve) => {
        const check = () => {
          const heading = [...document.querySelectorAll('section h2')].find((h) => h.textContent === envName);
          if (heading?.closest('section')?.textContent?.includes(needle)) {
            observer.disconnect();
            resolve(Date.now());
          }
        };
        const observer = new MutationObserver(check);
        observer.observe(document.body, { subtree: true, childList: true, characterData: true, attributes: true });
        check();
      }),
    { envName, needle },
  );
}

/** Progress values the page showed in an environment's progress bar, collected in the page. */
async function recordProgress(page: Page, envName: string) {
  await page.evaluate((envName) => {
    const seen: number[] = [];
    (window as unknown as { __progress: number[] }).__progress = seen;
    const check = () => {
      const heading = [...document.querySelectorAll('section h2')].find((h) => h.textContent === envName);
      const bar = heading?.closest('section')?.querySelector('[role=progressbar]');
      const value = bar ? Number(bar.getAttribute('aria-valuenow')) : NaN;
      if (!Number.isNaN(value) && seen[seen.length - 1] !== value) seen.push(value);
    };
    new MutationObserver(check).observe(document.body, { subtree: true, childList: true, characterData: true, attributes: true });
  }, envName);
  return () => page.evaluate(() => (window as unknown as { __progress: number[] }).__progress);
}

const PUSH = `mutation($i: RecordPushInput!) { recordPush(input: $i) { release { id version } deployments { id status environment { slug } } } }`;
const DEPLOYMENT = `query($id: ID!) { deployment(id: $id) { id status finishedAt snapshot { digest } approvals { approver decision } events { seq type } } }`;

async function push(sha: string, message: string) {
  const r = await gql(PUSH, { i: { projectId, branch: 'main', commitSha: sha, message, author: 'alice' } }, aliceToken);
  expect(r.errors).toBeUndefined();
  return r.data.recordPush as {
    release: { id: string; version: string };
    deployments: { id: string; status: string; environment: { slug: string } }[];
  };
}

async function setStepSeconds(slug: string, stepSeconds: number) {
  const r = await gql(`mutation($i: UpdateEnvironmentInput!) { updateEnvironment(input: $i) { id } }`, {
    i: { id: envIds[slug], deployTarget: { provider: 'SIMULATED', stepSeconds } },
  });
  expect(r.errors).toBeUndefined();
}

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`No Chromium at ${CHROMIUM}: apt-get install -y chromium (or set CHROMIUM_PATH)`);
  mkdirSync(OUT, { recursive: true });
  // The page the server serves: built now if console/dist is missing or older than its sources.
  const build = spawnSync(process.execPath, ['--import', 'tsx', 'console/build.ts', '--if-stale'], { cwd: ROOT, encoding: 'utf8' });
  if (build.status !== 0 || !existsSync(join(ROOT, 'console', 'dist', 'index.html')))
    throw new Error(`console build failed:\n${build.stdout}${build.stderr}`);

  const db = await createTestDatabase();
  dropDb = db.drop;
  port = await freePort();
  env = {
    DATABASE_URL: db.url,
    DATA_DIR: mkdtempSync(join(tmpdir(), 'stageplane-e2e-')),
    JWT_SECRET,
    TEMPORAL_ADDRESS: inject('temporalAddress'),
    TEMPORAL_TASK_QUEUE: `e2e-${port}`,
  };
  [server, browser] = await Promise.all([
    spawnStageplane('all', env, port),
    chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS }),
  ]);
  adminToken = await jwtFor(JWT_SECRET, 'ada', ['ADMIN']);
  aliceToken = await jwtFor(JWT_SECRET, 'alice', ['DEVELOPER', 'APPROVER']);
  bobToken = await jwtFor(JWT_SECRET, 'bob', ['APPROVER']);

  const created = await gql(`mutation($i: CreateProjectInput!) { createProject(input: $i) { id environments { id slug } } }`, {
    i: { slug: SLUG, name: 'Shop' },
  });
  expect(created.errors).toBeUndefined();
  projectId = created.data.createProject.id;
  for (const e of created.data.createProject.environments as { id: string; slug: string }[]) envIds[e.slug] = e.id;
  // A run long enough to see its progress bar; the later stages quicker.
  await setStepSeconds('development', 1);
  await setStepSeconds('staging', 0.3);
  await setStepSeconds('production', 0.3);
}, 180_000);

afterAll(async () => {
  for (const tab of tabs) await tab.context.close().catch(() => {});
  await browser?.close();
  await server?.stop();
  await dropDb?.();
  if (env?.DATA_DIR) rmSync(env.DATA_DIR, { recursive: true, force: true });
  writeFileSync(join(OUT, 'metrics.json'), `${JSON.stringify(metrics, null, 2)}\n`);
});

describe('ops console in Chromium', () => {
  let alice: Tab;
  let release1: { id: string; version: string };

  it('signs in: a bad token shows the server’s error and stays on sign-in; a good one is kept in this tab only', async () => {
    const tab = await open();
    const { page } = tab;
    await page.goto(`${server.url}/`);
    await shot(page, 'signin');
    await page.getByLabel('Token').fill('not-a-token');
    await page.getByRole('button', { name: 'Sign in' }).click();
    const alert = page.getByRole('alert');
    await alert.waitFor();
    const serverSaid = (await gqlAt(server.url, 'not-a-token', '{ viewer { subject } }')).errors![0]!;
    expect(serverSaid.extensions?.code).toBe('UNAUTHENTICATED');
    expect(await text(alert)).toContain(`UNAUTHENTICATED ${serverSaid.message}`);
    expect(await page.getByLabel('Token').isVisible()).toBe(true);
    expect(await page.evaluate(() => [sessionStorage.length, localStorage.length])).toEqual([0, 0]);
    await shot(page, 'signin-bad-token');

    await page.getByLabel('Token').fill(aliceToken);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Projects', level: 1 }).waitFor();
    const link = page.getByRole('link', { name: 'Shop', exact: true });
    await link.waitFor();
    expect(await link.getAttribute('href')).toBe(`/projects/${SLUG}`);
    expect(await page.evaluate(() => Object.keys(sessionStorage).map((k) => sessionStorage.getItem(k)))).toEqual([aliceToken]);
    expect(await page.evaluate(() => localStorage.length)).toBe(0);
    expect(await tab.context.cookies()).toEqual([]);
    await page.getByRole('status').filter({ hasText: 'Live' }).waitFor();
    await shot(page, 'projects');

    // The tab keeps it across a reload; Sign out forgets it.
    await page.reload();
    await page.getByRole('heading', { name: 'Projects', level: 1 }).waitFor();
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('Token').waitFor();
    expect(await page.evaluate(() => sessionStorage.length)).toBe(0);

    // `/#token=` signs in once and leaves no token in the address.
    await page.goto(`${server.url}/projects/${SLUG}#token=${aliceToken}`);
    await region(page, 'Development').waitFor();
    expect(page.url()).toBe(`${server.url}/projects/${SLUG}`);
    expect(await page.evaluate(() => sessionStorage.getItem('stageplane.token'))).toBe(aliceToken);

    // A phone-sized sign-in page.
    const phone = await open(PHONE);
    await phone.page.goto(`${server.url}/`);
    await phone.page.getByLabel('Token').waitFor();
    await shot(phone.page, 'phone-signin');
    alice = tab;
  });

  it('a push moves development to SUCCEEDED on the open pipeline, live, without a reload', async () => {
    const { page } = alice;
    await page.goto(`${server.url}/projects/${SLUG}`);
    const dev = region(page, 'Development');
    await dev.waitFor();
    await page.getByRole('status').filter({ hasText: 'Live' }).waitFor();
    // The environments, left to right in pipeline order.
    const names = await page.getByRole('region').evaluateAll((sections) => sections.map((s) => s.querySelector('h2')?.textContent));
    expect(names).toEqual(['Development', 'Staging', 'Production']);
    const boxes = await Promise.all(['Development', 'Staging', 'Production'].map((n) => region(page, n).boundingBox()));
    expect(boxes[0]!.x).toBeLessThan(boxes[1]!.x);
    expect(boxes[1]!.x).toBeLessThan(boxes[2]!.x);
    expect(await text(dev)).toContain('DEVELOPMENT');
    await page.evaluate(() => ((window as unknown as { __sameDocument: boolean }).__sameDocument = true));
    const progressSeen = await recordProgress(page, 'Development');

    const sha = 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678';
    const shown = whenRegionShows(page, 'Development', 'a1b2c3d');
    const succeededShown = whenRegionShows(page, 'Development', 'Succeeded');
    const pushedAt = Date.now();
    const pushed = await push(sha, 'First release');
    const answeredAt = Date.now();
    release1 = pushed.release;
    const deploymentId = pushed.deployments.find((d) => d.environment.slug === 'development')!.id;

    const shownAt = await shown;
    // Where the time went: the page's queries after the push (it reads the pipeline again when an
    // event names a deployment it does not show yet).
    metrics.queriesAfterPush = await page.evaluate(
      ({ from, to }) =>
        performance
          .getEntriesByType('resource')
          .filter((e) => e.name.endsWith('/graphql'))
          .map((e) => ({ startMs: Math.round(performance.timeOrigin + e.startTime - from), durationMs: Math.round(e.duration) }))
          .filter((e) => e.startMs >= 0 && e.startMs <= to - from),
      { from: pushedAt, to: shownAt },
    );
    // While it runs: a progress bar with a value.
    const bar = dev.getByRole('progressbar');
    await bar.waitFor({ timeout: 10_000 });
    const now = Number(await bar.getAttribute('aria-valuenow'));
    expect(now).toBeGreaterThanOrEqual(0);
    expect(now).toBeLessThanOrEqual(100);
    await shot(page, 'pipeline-development-running');

    const succeededAt = await succeededShown;
    await eventually(async () => {
      const t = await text(dev);
      expect(t).toMatch(/Current release a1b2c3d a1b2c3d/);
      expect(t).toContain('Succeeded');
    });
    expect(await dev.getByRole('progressbar').count()).toBe(0);
    const progress = await progressSeen();
    expect(progress.length).toBeGreaterThan(1);
    expect(progress.some((v) => v > 0 && v < 100)).toBe(true);
    expect(await page.evaluate(() => (window as unknown as { __sameDocument?: boolean }).__sameDocument)).toBe(true);

    const d = (await gql(DEPLOYMENT, { id: deploymentId })).data.deployment;
    expect(d.status).toBe('SUCCEEDED');
    metrics.pushToPageMs = shownAt - pushedAt;
    metrics.pushAnsweredToPageMs = shownAt - answeredAt;
    metrics.succeededEventToPageMs = succeededAt - Date.parse(d.finishedAt);
    metrics.progressValuesShown = progress;
    await shot(page, 'pipeline-development-succeeded');
    console.log(
      `push → page shows the deployment: ${shownAt - pushedAt} ms (${shownAt - answeredAt} ms after the mutation answered); ` +
        `SUCCEEDED committed → page shows it: ${succeededAt - Date.parse(d.finishedAt)} ms`,
    );
  });

  it('promotes to staging through the confirmation dialog', async () => {
    const { page } = alice;
    const staging = region(page, 'Staging');
    await staging.getByRole('button', { name: 'Promote' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.waitFor();
    expect(await text(dialog)).toContain(release1.version);
    // Modal: the page behind it is out of the way, so the only button named Promote is the dialog's.
    expect(await page.getByRole('button', { name: 'Promote' }).count()).toBe(1);
    await shot(page, 'promote-dialog');
    await dialog.getByRole('button', { name: 'Promote' }).click();
    await dialog.waitFor({ state: 'hidden' });
    await eventually(async () => {
      const t = await text(staging);
      expect(t).toContain('Succeeded');
      expect(t).toContain(`Current release ${release1.version}`);
    });
  });

  it('promotes to production; the requester may not approve; an APPROVER in another browser approves; the first page shows SUCCEEDED live', async () => {
    const { page } = alice;
    const production = region(page, 'Production');
    await production.getByRole('button', { name: 'Promote' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Promote' }).click();
    await eventually(async () => expect(await text(production)).toMatch(/Pending approval/));
    await production.getByRole('button', { name: 'Approve' }).waitFor();
    expect(await production.getByRole('button', { name: 'Reject' }).isVisible()).toBe(true);
    await shot(page, 'pipeline-production-pending-approval');

    // Alice requested it: the server refuses her approval, and the page shows what it said.
    await production.getByRole('button', { name: 'Approve' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Approve' }).click();
    const refusal = production.getByRole('alert');
    await refusal.waitFor();
    const pending = (await gql(`{ project(slug: "${SLUG}") { environment(slug: "production") { activeDeployment { id } } } }`)).data.project
      .environment.activeDeployment.id as string;
    const serverSaid = (
      await gql(`mutation($i: DecisionInput!) { approveDeployment(input: $i) { id } }`, { i: { deploymentId: pending } }, aliceToken)
    ).errors![0]!;
    expect(serverSaid.extensions?.code).toBe('FORBIDDEN');
    expect(await text(refusal)).toContain(`FORBIDDEN ${serverSaid.message}`);
    expect(await text(production)).toMatch(/Pending approval/);
    await shot(page, 'pipeline-approval-refused');

    // Bob, an APPROVER, in a second browser context.
    const bob = await openSignedIn(bobToken, `/projects/${SLUG}`);
    const bobProduction = region(bob.page, 'Production');
    await bobProduction.getByRole('button', { name: 'Approve' }).click();
    const dialog = bob.page.getByRole('dialog');
    await dialog.getByLabel('Comment (optional)').fill('Looks good');
    await dialog.getByRole('button', { name: 'Approve' }).click();

    // Alice's page follows: production SUCCEEDED, no reload.
    await eventually(async () => {
      const t = await text(production);
      expect(t).toContain('Succeeded');
      expect(t).toContain(`Current release ${release1.version}`);
    }, 30_000);
    expect(await page.evaluate(() => (window as unknown as { __sameDocument?: boolean }).__sameDocument)).toBe(true);
    await shot(page, 'pipeline-production-succeeded');
    await eventually(async () => expect(await text(bobProduction)).toContain('Succeeded'));

    // The deployment's page: status, who approved and when, the snapshot digest, the timeline.
    await bobProduction.getByRole('link', { name: /^Details/ }).click();
    await bob.page.getByRole('heading', { level: 1, name: `${release1.version} to Production` }).waitFor();
    expect(bob.page.url()).toBe(`${server.url}/deployments/${encodeURIComponent(pending)}`);
    const d = (await gql(DEPLOYMENT, { id: pending })).data.deployment;
    await eventually(async () => {
      const body = await text(bob.page.locator('main'));
      expect(body).toMatch(/Status \W*Succeeded/);
      expect(body).toMatch(/bob Approved \S+/);
      expect(body).toContain(d.snapshot.digest);
    });
    const rows = await bob.page
      .locator('table.timeline tbody tr')
      .evaluateAll((trs) => trs.map((tr) => Number((tr as HTMLElement).dataset.seq)));
    expect(rows).toEqual(d.events.map((e: { seq: number }) => e.seq));
    await shot(bob.page, 'deployment-production');
  });

  it('compares two environments and shows a policy report', async () => {
    const { page } = alice;
    await page.getByRole('link', { name: 'Compare environments' }).click();
    await page.getByRole('heading', { level: 1, name: 'Compare environments' }).waitFor();
    await page.getByLabel('Base').selectOption('development');
    await page.getByLabel('Target').selectOption('production');
    await page.getByRole('button', { name: 'Compare' }).click();
    const table = page.getByRole('table');
    await table.waitFor();
    const diff = (
      await gql(`{ project(slug: "${SLUG}") { compareEnvironments(base: "development", target: "production") { differences { path } } } }`)
    ).data.project.compareEnvironments.differences as { path: string }[];
    expect(diff.length).toBeGreaterThan(0);
    expect(await table.locator('tbody tr').count()).toBe(diff.length);
    expect(await text(table)).toContain('settings.logLevel');
    await shot(page, 'compare-development-production');

    await page.goto(`${server.url}/projects/${SLUG}`);
    await region(page, 'Production')
      .getByRole('link', { name: /^Policy/ })
      .click();
    await page.getByRole('heading', { level: 1, name: 'Policy report: Production' }).waitFor();
    const checks = page.locator('table.policy tbody tr');
    await checks.first().waitFor();
    expect(await text(page.locator('table.policy'))).toContain('production.rate-limiting');
    await shot(page, 'policy-production');
  });

  it('works on a phone-sized screen', async () => {
    const phone = await openSignedIn(aliceToken, `/projects/${SLUG}`, PHONE);
    const { page } = phone;
    await region(page, 'Production').waitFor();
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    for (const name of ['Development', 'Staging', 'Production']) expect(await region(page, name).isVisible()).toBe(true);
    await shot(page, 'phone-pipeline');
    await region(page, 'Production')
      .getByRole('link', { name: /^Details/ })
      .click();
    await page.getByRole('heading', { level: 1 }).filter({ hasText: 'Production' }).waitFor();
    await page.locator('table.timeline tbody tr').first().waitFor();
    await shot(page, 'phone-deployment');
    await page.goto(`${server.url}/`);
    await page.getByRole('link', { name: 'Shop', exact: true }).waitFor();
    await shot(page, 'phone-projects');
  });

  it('a deployment page survives a server restart: reconnecting, then resumed from the last seq with no duplicate row', async () => {
    const { page } = alice;
    await setStepSeconds('development', 2);
    const subscribes: { afterSeq: number; at: number }[] = [];
    page.on('websocket', (ws) =>
      ws.on('framesent', (frame) => {
        const message = JSON.parse(String(frame.payload)) as {
          type: string;
          payload?: { query: string; variables?: { afterSeq?: number } };
        };
        if (message.type === 'subscribe' && message.payload?.query.includes('deploymentEvents')) {
          subscribes.push({ afterSeq: message.payload.variables?.afterSeq ?? 0, at: Date.now() });
        }
      }),
    );
    const pushed = await push('b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8091a2b', 'Second release');
    const id = pushed.deployments.find((d) => d.environment.slug === 'development')!.id;
    await page.goto(`${server.url}/deployments/${encodeURIComponent(id)}`);
    await page.getByRole('heading', { level: 1, name: 'b2c3d4e to Development' }).waitFor();
    const rows = page.locator('table.timeline tbody tr');
    await eventually(async () => expect(await text(page.locator('table.timeline'))).toContain('Step progress'));
    const before = await rows.count();

    await server.stop();
    const banner = page.getByText('Reconnecting', { exact: false }).first();
    await banner.waitFor({ timeout: 10_000 });
    await shot(page, 'deployment-reconnecting');
    const restartedAt = Date.now();
    server = await spawnStageplane('all', env, port);

    await eventually(
      async () => expect(await text(page.getByRole('status').filter({ hasText: /^(Live|Reconnecting…|Connecting…)$/ }))).toBe('Live'),
      30_000,
    );
    await eventually(
      async () => expect(await text(page.locator('.status-line').filter({ hasText: 'Status' }))).toContain('Succeeded'),
      60_000,
    );
    const d = (await gql(DEPLOYMENT, { id })).data.deployment;
    expect(d.status).toBe('SUCCEEDED');
    await eventually(async () => {
      const seqs = await rows.evaluateAll((trs) => trs.map((tr) => Number((tr as HTMLElement).dataset.seq)));
      expect(seqs).toEqual(d.events.map((e: { seq: number }) => e.seq));
    });
    const seqs = await rows.evaluateAll((trs) => trs.map((tr) => Number((tr as HTMLElement).dataset.seq)));
    expect(new Set(seqs).size).toBe(seqs.length);
    expect(seqs).toEqual(seqs.map((_, i) => i + 1));
    // Sent again after the restart, from the last seq seen then, not from the start.
    const resumed = subscribes.filter((s) => s.at >= restartedAt);
    expect(resumed.length).toBeGreaterThan(0);
    expect(resumed[0]!.afterSeq).toBeGreaterThanOrEqual(before);
    expect(await page.getByText('Reconnecting', { exact: false }).count()).toBe(0);
    metrics.restart = { rowsBeforeRestart: before, resumedAfterSeq: resumed[0]!.afterSeq, events: seqs.length };
    await shot(page, 'deployment-after-restart');
  });

  it('rolls development back to the earlier release', async () => {
    const { page } = alice;
    await setStepSeconds('development', 0.3);
    await page.goto(`${server.url}/projects/${SLUG}`);
    const dev = region(page, 'Development');
    await eventually(async () => expect(await text(dev)).toContain('Current release b2c3d4e'));
    await dev.getByRole('button', { name: 'Roll back' }).click();
    const dialog = page.getByRole('dialog');
    expect(await text(dialog)).toContain(release1.version);
    await dialog.getByRole('button', { name: 'Roll back' }).click();
    await eventually(async () => {
      const t = await text(dev);
      expect(t).toContain(`Current release ${release1.version}`);
      expect(t).toContain('Succeeded');
      expect(t).toContain('rollback of');
    }, 30_000);
    await shot(page, 'pipeline-rolled-back');
  });

  it('marks frozen environments and failed policy checks; a refused promote shows PRECONDITION_FAILED with the failed checks', async () => {
    const { page } = alice;
    const update = async (query: string, i: Record<string, unknown>) => expect((await gql(query, { i })).errors).toBeUndefined();
    const UPDATE_ENV = `mutation($i: UpdateEnvironmentInput!) { updateEnvironment(input: $i) { id } }`;
    const UPDATE_SETTINGS = `mutation($i: UpdateEnvironmentSettingsInput!) { updateEnvironmentSettings(input: $i) { id } }`;
    await update(UPDATE_ENV, { id: envIds.staging, frozen: true });
    await update(UPDATE_SETTINGS, { environmentId: envIds.production, patch: { logLevel: 'DEBUG' } });
    try {
      await page.goto(`${server.url}/projects/${SLUG}`);
      const staging = region(page, 'Staging');
      const production = region(page, 'Production');
      await staging.getByText(/Frozen/).waitFor();
      await production.getByRole('link', { name: /Policy failed: 1 error/ }).waitFor();

      const PROMOTE = `mutation($i: PromoteInput!) { promote(input: $i) { id } }`;
      const frozenSaid = (await gql(PROMOTE, { i: { environmentId: envIds.staging } }, aliceToken)).errors![0]!;
      const policySaid = (await gql(PROMOTE, { i: { environmentId: envIds.production } }, aliceToken)).errors![0]!;
      expect([frozenSaid.extensions?.code, policySaid.extensions?.code]).toEqual(['PRECONDITION_FAILED', 'PRECONDITION_FAILED']);

      await staging.getByRole('button', { name: 'Promote' }).click();
      await page.getByRole('dialog').getByRole('button', { name: 'Promote' }).click();
      await staging.getByRole('alert').waitFor();
      expect(await text(staging.getByRole('alert'))).toContain(`PRECONDITION_FAILED ${frozenSaid.message}`);

      await production.getByRole('button', { name: 'Promote' }).click();
      await page.getByRole('dialog').getByRole('button', { name: 'Promote' }).click();
      const refusal = production.getByRole('alert');
      await refusal.waitFor();
      expect(await text(refusal)).toContain(`PRECONDITION_FAILED ${policySaid.message}`);
      expect(await refusal.getByRole('list', { name: 'Failed checks' }).innerText()).toContain('production.log-level');
      await shot(page, 'pipeline-frozen-and-policy-refused');
    } finally {
      await update(UPDATE_ENV, { id: envIds.staging, frozen: false });
      await update(UPDATE_SETTINGS, { environmentId: envIds.production, patch: { logLevel: 'WARN' } });
    }
  });

  it('groups preview environments under the pipeline with their branch, expiry and a link, live and by keyboard', async () => {
    // A project of its own, so the other tests' pipeline stays as it is.
    const created = await gql(
      `mutation($i: CreateProjectInput!) { createProject(input: $i) { id environment(slug: "development") { id } } }`,
      {
        i: { slug: 'previews', name: 'Previews shop' },
      },
    );
    expect(created.errors).toBeUndefined();
    const pid = created.data.createProject.id;
    const dev = await gql(`mutation($i: UpdateEnvironmentInput!) { updateEnvironment(input: $i) { id } }`, {
      i: { id: created.data.createProject.environment.id, deployTarget: { provider: 'SIMULATED', stepSeconds: 0.2 } },
    });
    expect(dev.errors).toBeUndefined();
    const policy = await gql(`mutation($i: SetPreviewPolicyInput!) { setPreviewPolicy(input: $i) { id } }`, {
      i: { projectId: pid, enabled: true, branchPattern: 'feature/*', ttlHours: 24 },
    });
    expect(policy.errors).toBeUndefined();
    const { page } = await openSignedIn(aliceToken, '/projects/previews');
    await region(page, 'Development').waitFor();
    // No previews yet: no group.
    expect(await page.getByRole('heading', { name: 'Previews', exact: true }).count()).toBe(0);

    // A push of a matching branch: the preview appears live, in its group, not in the pipeline.
    const pushed = await gql(
      PUSH,
      { i: { projectId: pid, branch: 'feature/Checkout', commitSha: 'feedbeef01', message: 'preview' } },
      aliceToken,
    );
    expect(pushed.errors).toBeUndefined();
    const previewName = 'Preview feature/Checkout';
    const card = region(page, previewName);
    await card.waitFor();
    await page.getByRole('heading', { level: 2, name: 'Previews', exact: true }).waitFor();
    const list = page.getByRole('list', { name: 'Previews', exact: true });
    const item = list.getByRole('listitem');
    expect(await item.count()).toBe(1);
    expect(await text(item)).toMatch(/Preview feature\/Checkout: branch feature\/Checkout, expires /);
    const expires = (await gql(`{ project(slug: "previews") { environment(slug: "feature-checkout") { expiresAt } } }`)).data.project
      .environment.expiresAt;
    expect(await item.locator('time').getAttribute('datetime')).toBe(expires);
    expect(await page.getByRole('list', { name: 'Pipeline' }).getByRole('region', { name: previewName }).count()).toBe(0);
    expect(await page.getByRole('list', { name: 'Preview environments' }).getByRole('region', { name: previewName }).count()).toBe(1);
    expect(await text(card)).toContain('Preview of feature/Checkout');
    await card.getByText('Succeeded').waitFor();

    // The link, by keyboard: focus it, Enter, and the preview's region is where focus and view go.
    const link = list.getByRole('link', { name: previewName });
    await link.focus();
    await page.keyboard.press('Enter');
    await eventually(async () => expect(page.url()).toContain('#env-feature-checkout'));
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('env-feature-checkout');
    expect(await card.isVisible()).toBe(true);
    // The page's accessible structure: one h1, h2s below it, every region named.
    const outline = await page.evaluate(() => ({
      h1: document.querySelectorAll('h1').length,
      unnamedRegions: [...document.querySelectorAll('section')].filter(
        (s) => !s.getAttribute('aria-labelledby') && !s.getAttribute('aria-label'),
      ).length,
      linksWithoutText: [...document.querySelectorAll('a')].filter((a) => !(a.textContent ?? '').trim()).length,
    }));
    expect(outline).toEqual({ h1: 1, unnamedRegions: 0, linksWithoutText: 0 });
    await shot(page, 'pipeline-previews');

    // Archived (as a deletion push or expiry would): gone from the page once it is read again.
    const archived = await gql(`mutation($id: ID!) { archiveEnvironment(id: $id) { id } }`, {
      id: (await gql(`{ project(slug: "previews") { environment(slug: "feature-checkout") { id } } }`)).data.project.environment.id,
    });
    expect(archived.errors).toBeUndefined();
    await page.reload();
    await region(page, 'Development').waitFor();
    expect(await page.getByRole('heading', { name: 'Previews', exact: true }).count()).toBe(0);
  });

  it('shows a freeze window on its environment (name, reason, until) and the next one; an ADMIN overrides it from Promote, by keyboard, with a reason', async () => {
    const CREATE = `mutation($i: CreateFreezeWindowInput!) { createFreezeWindow(input: $i) { id nextOccurrence { endsAt } } }`;
    const pushed = await push('e2ef1ee5', 'before the freeze');
    await eventually(async () => {
      const d = (await gql(DEPLOYMENT, { id: pushed.deployments[0]!.id })).data.deployment;
      expect(d.status).toBe('SUCCEEDED');
    }, 30_000);
    const now = Date.now();
    const holiday = await gql(CREATE, {
      i: {
        projectId,
        name: 'Holiday freeze',
        reason: 'code freeze',
        environmentSlugs: ['staging'],
        startsAt: new Date(now - 1000).toISOString(),
        endsAt: new Date(now + 3_600_000).toISOString(),
      },
    });
    const later = await gql(CREATE, {
      i: {
        projectId,
        name: 'Quarter end',
        reason: 'books closing',
        environmentTypes: ['PRODUCTION'],
        startsAt: new Date(now + 86_400_000).toISOString(),
        endsAt: new Date(now + 2 * 86_400_000).toISOString(),
      },
    });
    expect([holiday.errors, later.errors]).toEqual([undefined, undefined]);
    let deploymentId: string | undefined;
    try {
      const { page } = await openSignedIn(adminToken, `/projects/${SLUG}`);
      const staging = region(page, 'Staging');
      const production = region(page, 'Production');
      await staging.getByText('Freeze: Holiday freeze').waitFor();
      expect(await text(staging)).toMatch(/Frozen until .+ Holiday freeze: code freeze/);
      expect(await text(production)).toMatch(/Next freeze Quarter end, .+ to .+/);
      expect(await text(staging.locator('time').first())).not.toBe('');
      expect(await staging.locator('time').first().getAttribute('datetime')).toBe(holiday.data.createFreezeWindow.nextOccurrence.endsAt);

      // By keyboard: focus Promote, Enter opens the dialog, the labelled reason field, Enter on the confirm button.
      await staging.getByRole('button', { name: 'Promote' }).focus();
      await page.keyboard.press('Enter');
      const dialog = page.getByRole('dialog');
      await dialog.waitFor();
      expect(await text(dialog)).toContain('frozen by Holiday freeze (code freeze)');
      const reason = dialog.getByLabel('Reason for overriding the freeze');
      await reason.focus();
      await page.keyboard.type('payment outage');
      await dialog.getByRole('button', { name: 'Promote' }).focus();
      await shot(page, 'promote-override-freeze');
      await page.keyboard.press('Enter');
      await dialog.waitFor({ state: 'hidden' });
      const list = await eventually(async () => {
        const r = await gql(
          `query($s: String!) { project(slug: $s) { environment(slug: "staging") { deployments(first: 1) { edges { node { id status freezeOverride { reason by window { name } } } } } } } }`,
          { s: SLUG },
        );
        const node = r.data.project.environment.deployments.edges[0]?.node;
        expect(node?.freezeOverride).toEqual({ reason: 'payment outage', by: 'ada', window: { name: 'Holiday freeze' } });
        return node;
      });
      deploymentId = list.id;
      expect(list.status).toBe('PENDING_APPROVAL');
    } finally {
      if (deploymentId) await gql(`mutation($id: ID!) { cancelDeployment(id: $id) { id } }`, { id: deploymentId });
      for (const w of [holiday, later]) {
        if (w.data?.createFreezeWindow)
          await gql(`mutation($id: ID!) { deleteFreezeWindow(id: $id) }`, { id: w.data.createFreezeWindow.id });
      }
    }
  });

  it('never puts a token in a requested URL or a console line; notes the bundle size', () => {
    expect(requested.length).toBeGreaterThan(0);
    for (const token of [aliceToken, bobToken]) {
      expect(requested.filter((u) => u.includes(token))).toEqual([]);
      expect(consoleLines.filter((l) => l.includes(token))).toEqual([]);
    }
    expect(consoleLines.filter((l) => l.startsWith('pageerror'))).toEqual([]);
    const sizes = bundleSizes();
    metrics.bundle = { bytes: sizes.bytes, gzipBytes: sizes.gzip, files: sizes.files };
    // A budget: React's production build and the page's code (a development build is twice this).
    // The insights page's chunk (its chart library) loads only when that page opens: its own budget.
    const lazyChunk = (f: { file: string }) => /(^|\/)Insights-[^/]*\.(js|css)$/.test(f.file);
    const gzip = (files: typeof sizes.files) => files.reduce((n, f) => n + f.gzip, 0);
    expect(sizes.files.some(lazyChunk)).toBe(true);
    expect(gzip(sizes.files.filter((f) => !lazyChunk(f)))).toBeLessThan(110 * 1024);
    expect(gzip(sizes.files.filter(lazyChunk))).toBeLessThan(30 * 1024);
    console.log(`console bundle: ${(sizes.bytes / 1024).toFixed(1)} kB, ${(sizes.gzip / 1024).toFixed(1)} kB gzip`);
  });
});
