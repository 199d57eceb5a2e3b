// The console's insights page end to end, in the harness of console.test.ts: a real Stageplane
// process (`server/main.ts all` on real PostgreSQL and Temporal, serving console/dist) and Debian's
// Chromium through playwright-core, over a history written into the database a few days back.
// Checked: reached from the project's page, the figures the API computed, the chart and its table,
// the environment and range controls by keyboard alone, and WCAG 2.1 AA checks in the page (names
// of controls, table headers, text contrast >= 4.5:1, a visible focus) — @axe-core/playwright is
// not installed in this repository, so these are the harness's own checks.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { DEPLOYMENT_INSTANTS_BACKFILL } from '../../db/deployment-instants.ts';
import { expectAccessible } from '../support/axe.ts';
import { freePort } from '../../server/temporal.ts';
import { gqlAt, jwtFor } from '../support/client.ts';
import { createTestDatabase } from '../support/database.ts';
import { spawnStageplane, type StageplaneProcess } from '../support/process.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const OUT = join(ROOT, 'test', 'output', 'e2e');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const JWT_SECRET = 'e2e-insights-secret-0123456789-abcdefghijk';
const DAY = 86_400_000;

let browser: Browser;
let server: StageplaneProcess;
let dataDir: string;
let dropDb: () => Promise<void>;
let token: string;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`No Chromium at ${CHROMIUM}: apt-get install -y chromium (or set CHROMIUM_PATH)`);
  mkdirSync(OUT, { recursive: true });
  const build = spawnSync(process.execPath, ['--import', 'tsx', 'console/build.ts', '--if-stale'], { cwd: ROOT, encoding: 'utf8' });
  if (build.status !== 0) throw new Error(`console build failed:\n${build.stdout}${build.stderr}`);
  const db = await createTestDatabase();
  dropDb = db.drop;
  const port = await freePort();
  dataDir = mkdtempSync(join(tmpdir(), 'stageplane-e2e-insights-'));
  [server, browser] = await Promise.all([
    spawnStageplane(
      'all',
      {
        DATABASE_URL: db.url,
        DATA_DIR: dataDir,
        JWT_SECRET,
        TEMPORAL_ADDRESS: inject('temporalAddress'),
        TEMPORAL_TASK_QUEUE: `e2e-insights-${port}`,
      },
      port,
    ),
    chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS }),
  ]);
  token = await jwtFor(JWT_SECRET, 'vera', ['VIEWER']);
  const admin = await jwtFor(JWT_SECRET, 'ada', ['ADMIN']);
  const created = await gqlAt(server.url, admin, `mutation { createProject(input: { slug: "shop", name: "Shop" }) { id } }`);
  expect(created.errors).toBeUndefined();
  // Production: 3 days ago a success (lead time 1 day), 2 days ago a failure restored an hour later.
  const sql = postgres(db.url, { max: 1, onnotice: () => {} });
  try {
    const [project] = await sql`select id from projects where slug = 'shop'`;
    const [production] = await sql`select id from environments where project_id = ${project!.id} and slug = 'production'`;
    const now = Date.now();
    const ago = (days: number) => new Date(now - days * DAY);
    const [release] = await sql`insert into releases (project_id, version, commit_sha, branch, created_at)
      values (${project!.id}, 'v1', 'abc1234', 'main', ${ago(4)}) returning id`;
    for (const [i, [days, status]] of (
      [
        [3, 'SUCCEEDED'],
        [2, 'FAILED'],
        [2 - 1 / 24, 'SUCCEEDED'],
      ] as const
    ).entries()) {
      const [d] =
        await sql`insert into deployments (project_id, environment_id, release_id, kind, status, requested_by, snapshot, workflow_id, last_seq, created_at)
        values (${project!.id}, ${production!.id}, ${release!.id}, 'MANUAL', ${status}, 'dev', '{}', ${`e2e-insights-${i}`}, 2, ${ago(days + 0.01)}) returning id`;
      await sql`insert into deployment_events (deployment_id, project_id, seq, type, status, created_at) values
        (${d!.id}, ${project!.id}, 1, 'CREATED', 'QUEUED', ${ago(days + 0.01)}),
        (${d!.id}, ${project!.id}, 2, ${status}, ${status}, ${ago(days)})`;
    }
    // The instants insights read, derived from those events as the migration derived them.
    for (const statement of DEPLOYMENT_INSTANTS_BACKFILL) await sql.unsafe(statement);
  } finally {
    await sql.end();
  }
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await server?.stop();
  await dropDb?.();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

/** WCAG 2.1 AA problems the page itself can tell: unnamed controls, tables without headers, low contrast text. */
async function accessibilityProblems(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const problems: string[] = [];
    const rgb = (c: string) => (c.match(/[\d.]+/g) ?? []).map(Number);
    const luminance = ([r, g, b]: number[]) => {
      const f = (v: number) => ((v /= 255) <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
      return 0.2126 * f(r!) + 0.7152 * f(g!) + 0.0722 * f(b!);
    };
    const background = (el: Element | null): number[] => {
      for (let e = el; e; e = e.parentElement) {
        const c = rgb(getComputedStyle(e).backgroundColor);
        if (c.length === 3 || (c.length === 4 && c[3]! > 0)) return c.slice(0, 3);
      }
      return [255, 255, 255];
    };
    for (const el of document.querySelectorAll<HTMLElement>('main *')) {
      const own = [...el.childNodes].some((n) => n.nodeType === Node.TEXT_NODE && n.textContent!.trim());
      if (!own || !el.offsetParent) continue;
      const fg = luminance(rgb(getComputedStyle(el).color));
      const bg = luminance(background(el));
      const ratio = (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05);
      if (ratio < 4.5) problems.push(`contrast ${ratio.toFixed(2)} of "${el.textContent!.trim().slice(0, 40)}"`);
    }
    for (const control of document.querySelectorAll<HTMLInputElement | HTMLSelectElement>('main input, main select, main button')) {
      const named =
        control.labels?.length || control.getAttribute('aria-label') || (control.tagName === 'BUTTON' && control.textContent!.trim());
      if (!named) problems.push(`unnamed ${control.tagName.toLowerCase()}`);
    }
    // uPlot's legend is a table inside the chart (role img, named); the data table is below it.
    for (const table of document.querySelectorAll('main table:not([role=img] table)')) {
      if (!table.querySelector('caption') || !table.querySelector('th[scope=col]'))
        problems.push('a table without caption or column headers');
    }
    for (const img of document.querySelectorAll('main [role=img]'))
      if (!img.getAttribute('aria-label')) problems.push('an image without a name');
    return problems;
  });
}

describe('insights page in Chromium', () => {
  it('reached from the project page; the figures, the chart and its table; keyboard only; accessible', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${server.url}/projects/shop#token=${encodeURIComponent(token)}`);
    await page.getByRole('link', { name: 'Insights' }).click();
    await page.getByRole('heading', { name: 'Insights', level: 1 }).waitFor();
    expect(new URL(page.url()).pathname).toBe('/projects/shop/insights');

    // The last stage, the last 30 days, by default.
    const summary = page.getByRole('region', { name: 'production, last 30 days' });
    await summary.waitFor();
    const figure = async (term: string) =>
      (
        await summary
          .locator('div', { has: page.getByText(term, { exact: true }) })
          .locator('dd')
          .innerText()
      ).trim();
    expect(await figure('Deployments')).toBe('3 (2 succeeded, 1 failed, 0 rollbacks)');
    expect(await figure('Change failure rate')).toBe('33.3%');
    expect(await figure('Time to restore (failure to next success)')).toBe('median 1 h, 90th percentile 1 h');
    expect(await figure('Approval wait')).toBe('not measured');
    expect(await figure('Lead time (push to success)')).toMatch(/^median 1 d 12 h, 90th percentile 1 d 2\d h$/);

    // The chart (a canvas drawn by uPlot) with a name, a legend naming both lines, and the table.
    const chart = page.getByRole('img', { name: /Chart of deployments and failures per UTC day: 3 deployments, 1 failures/ });
    await chart.locator('canvas').waitFor();
    expect(await chart.locator('.u-legend').innerText()).toMatch(
      /Deployments \(solid line, open points\)[\s\S]*Failures \(dashed line, filled points\)/,
    );
    const table = page.getByRole('table', { name: 'Finished deployments and failures per UTC day' });
    const bodyRows = table.locator('tbody tr');
    expect(await bodyRows.count()).toBeGreaterThanOrEqual(30);
    const cells = await bodyRows.evaluateAll((trs) => trs.map((tr) => [...tr.children].map((c) => c.textContent)));
    expect(cells.reduce((n, [, d]) => n + Number(d), 0)).toBe(3);
    expect(cells.reduce((n, [, , f]) => n + Number(f), 0)).toBe(1);
    await page.screenshot({ path: join(OUT, 'insights.png'), fullPage: true });
    await expectAccessible(page, 'insights');
    expect(await accessibilityProblems(page)).toEqual([]);

    // Keyboard only: focus the environment select, choose staging with the arrow keys, then the
    // range radios: the figures follow, with a visible focus on each control.
    const select = page.getByLabel('Environment');
    await select.focus();
    expect(await select.evaluate((el) => getComputedStyle(el).outlineStyle !== 'none' || getComputedStyle(el).boxShadow !== 'none')).toBe(
      true,
    );
    await page.keyboard.press('ArrowUp');
    await page.getByRole('region', { name: 'staging, last 30 days' }).waitFor();
    expect(new URL(page.url()).search).toBe('?env=staging&days=30');
    await page.getByLabel('Environment').focus();
    await page.keyboard.press('ArrowDown');
    await page.getByRole('region', { name: 'production, last 30 days' }).waitFor();
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => (document.activeElement as HTMLInputElement).value)).toBe('30');
    await page.keyboard.press('ArrowRight');
    await page.getByRole('region', { name: 'production, last 90 days' }).waitFor();
    // The focus stays on the radio the page was updated from.
    expect(await page.evaluate(() => (document.activeElement as HTMLInputElement).value)).toBe('90');
    await page.keyboard.press('ArrowLeft');
    await page.keyboard.press('ArrowLeft');
    const week = page.getByRole('region', { name: 'production, last 7 days' });
    await week.waitFor();
    expect(await page.getByRole('table').locator('tbody tr').count()).toBeGreaterThanOrEqual(7);
    expect(await accessibilityProblems(page)).toEqual([]);

    // A phone-sized page.
    await page.setViewportSize({ width: 390, height: 844 });
    await page.screenshot({ path: join(OUT, 'insights-phone.png'), fullPage: true });
    await expectAccessible(page, 'insights-phone');
    expect(errors).toEqual([]);
    await context.close();
  });
});
