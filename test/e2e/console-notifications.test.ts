// The project settings page end to end in Chromium: reached from the project's page, it lists the
// notification channels (name, kind, host, events, environments) with their recent deliveries, sends
// a test (by keyboard), adds a channel (by keyboard), shows a refusal, and deletes one through its
// confirmation dialog. Accessibility is checked in the page (WCAG 2.1 AA essentials: names of
// controls, one h1, heading order, text contrast ≥ 4.5:1); the URL's secret never reaches the page.
import { randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { expectAccessible } from '../support/axe.ts';
import { freePort } from '../../server/temporal.ts';
import { gqlAt, jwtFor } from '../support/client.ts';
import { createTestDatabase } from '../support/database.ts';
import { spawnStageplane, type StageplaneProcess } from '../support/process.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const JWT_SECRET = 'e2e-notify-secret-0123456789-abcdefghijkl';
const TOKEN = `e2etok${randomBytes(10).toString('hex')}`;

let browser: Browser;
let server: StageplaneProcess;
let env: Record<string, string>;
let dropDb: () => Promise<void>;
let admin: string;
let hookUrl = '';
const hits: string[] = [];
const receiver = createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    hits.push(req.url ?? '');
    res.writeHead(200).end();
  });
});
const seen: string[] = [];

async function eventually<T>(check: () => Promise<T>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** WCAG essentials checked in the page; returns the problems found. */
function accessibilityProblems(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const problems: string[] = [];
    const parse = (c: string) => (c.match(/[\d.]+/g) ?? []).map(Number);
    const lum = ([r, g, b]: number[]) => {
      const f = (v: number) => {
        const s = v / 255;
        return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
      };
      return 0.2126 * f(r!) + 0.7152 * f(g!) + 0.0722 * f(b!);
    };
    const background = (el: Element | null): number[] => {
      for (let e = el; e; e = e.parentElement) {
        const c = parse(getComputedStyle(e).backgroundColor);
        if (c.length >= 3 && (c.length < 4 || c[3]! > 0.5)) return c.slice(0, 3);
      }
      return [255, 255, 255];
    };
    const root = document.querySelector('main') ?? document.body;
    for (const control of root.querySelectorAll('input, select, textarea')) {
      const el = control as HTMLInputElement;
      if (el.type === 'hidden') continue;
      const named = (el.labels?.length ?? 0) > 0 || el.getAttribute('aria-label') || el.getAttribute('aria-labelledby');
      if (!named) problems.push(`unnamed control ${el.outerHTML.slice(0, 80)}`);
    }
    for (const b of root.querySelectorAll('button, a[href]'))
      if (!b.textContent?.trim() && !b.getAttribute('aria-label')) problems.push(`unnamed ${b.tagName}`);
    if (document.querySelectorAll('h1').length !== 1) problems.push(`${document.querySelectorAll('h1').length} h1 elements`);
    let last = 0;
    for (const h of document.querySelectorAll('h1, h2, h3, h4, h5, h6')) {
      const level = Number(h.tagName[1]);
      if (last && level > last + 1) problems.push(`heading ${h.tagName} "${h.textContent}" skips a level`);
      last = level;
    }
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      const el = n.parentElement!;
      if (!n.textContent?.trim() || el.closest('.visually-hidden')) continue;
      const style = getComputedStyle(el);
      if (style.visibility === 'hidden' || style.display === 'none' || el.getClientRects().length === 0) continue;
      if ((el as HTMLButtonElement).disabled) continue;
      const fg = parse(style.color);
      const [l1, l2] = [lum(fg), lum(background(el))].sort((a, b) => b - a);
      const ratio = (l1! + 0.05) / (l2! + 0.05);
      const large =
        Number.parseFloat(style.fontSize) >= 24 || (Number.parseFloat(style.fontSize) >= 18.66 && Number(style.fontWeight) >= 700);
      if (ratio < (large ? 3 : 4.5)) problems.push(`contrast ${ratio.toFixed(2)} for "${n.textContent.trim().slice(0, 40)}"`);
    }
    return problems;
  });
}

beforeAll(async () => {
  const build = spawnSync(process.execPath, ['--import', 'tsx', 'console/build.ts', '--if-stale'], { cwd: ROOT, encoding: 'utf8' });
  if (build.status !== 0 || !existsSync(join(ROOT, 'console', 'dist', 'index.html')))
    throw new Error(`console build failed:\n${build.stdout}${build.stderr}`);
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', () => r()));
  hookUrl = `http://127.0.0.1:${(receiver.address() as { port: number }).port}/hooks/${TOKEN}`;
  const db = await createTestDatabase();
  dropDb = db.drop;
  const port = await freePort();
  env = {
    DATABASE_URL: db.url,
    DATA_DIR: mkdtempSync(join(tmpdir(), 'stageplane-e2e-notify-')),
    JWT_SECRET,
    WEBHOOK_SECRET: 'e2e-notify-webhook-secret-0123',
    TEMPORAL_ADDRESS: inject('temporalAddress'),
    TEMPORAL_TASK_QUEUE: `e2e-notify-${port}`,
  };
  [server, browser] = await Promise.all([
    spawnStageplane('all', env, port),
    chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu'] }),
  ]);
  admin = await jwtFor(JWT_SECRET, 'ada', ['ADMIN']);
  const created = await gqlAt(server.url, admin, `mutation { createProject(input: { slug: "shop", name: "Shop" }) { id } }`);
  expect(created.errors).toBeUndefined();
  const channel = await gqlAt(
    server.url,
    admin,
    `mutation($i: CreateNotificationChannelInput!) { createNotificationChannel(input: $i) { id } }`,
    {
      i: {
        projectId: created.data.createProject.id,
        name: 'ops hook',
        kind: 'WEBHOOK',
        url: hookUrl,
        events: ['APPROVAL_REQUESTED', 'DEPLOYMENT_FAILED'],
        environmentSlugs: ['prod*'],
      },
    },
  );
  expect(channel.errors).toBeUndefined();
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await server?.stop();
  await dropDb?.();
  await new Promise((r) => receiver.close(r));
  if (env?.DATA_DIR) rmSync(env.DATA_DIR, { recursive: true, force: true });
});

describe('the project settings page', () => {
  it('lists channels and deliveries, sends a test and adds and deletes channels by keyboard, accessibly', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    page.on('request', (r) => seen.push(r.url()));
    page.on('console', (m) => seen.push(m.text()));
    await page.goto(`${server.url}/projects/shop#token=${encodeURIComponent(admin)}`);
    await page.getByRole('link', { name: 'Settings and notifications' }).click();
    await page.getByRole('heading', { level: 1, name: 'Shop settings' }).waitFor();
    const card = page.getByRole('article', { name: 'ops hook' });
    await expect(card.innerText()).resolves.toMatch(
      /Signed webhook[\s\S]*127\.0\.0\.1:\d+[\s\S]*Approval requested, Deployment failed[\s\S]*prod\*/,
    );
    await expect(card.innerText()).resolves.toContain('No deliveries yet');
    expect(await accessibilityProblems(page)).toEqual([]);

    // Send test, by keyboard: Tab until the button has focus, then Enter.
    await expectAccessible(page, 'project settings');
    const sendTest = page.getByRole('button', { name: 'Send test to ops hook' });
    for (let i = 0; i < 40 && !(await sendTest.evaluate((b) => b === document.activeElement)); i++) await page.keyboard.press('Tab');
    await expect(sendTest.evaluate((b) => b === document.activeElement)).resolves.toBe(true);
    await page.keyboard.press('Enter');
    await page.getByRole('status').filter({ hasText: 'Test sent to ops hook' }).waitFor();
    await eventually(async () => expect(await card.getByRole('table').innerText()).toMatch(/Test\s+✓\s*Delivered\s+1\s+HTTP 200/));
    expect(hits).toHaveLength(1);
    expect(await accessibilityProblems(page)).toEqual([]);

    // A refusal: a non-http(s) URL.
    await page.getByLabel('Name').fill('bad');
    await page.getByLabel('Receiver URL').fill(`ftp://127.0.0.1/${TOKEN}`);
    await page.getByLabel('Receiver URL').press('Enter');
    await page.getByText(/input\.url: must be an http/).waitFor();
    expect(await page.getByRole('article').count()).toBe(1);

    // Add by keyboard: type into labelled fields, toggle a checkbox with Space, submit with Enter.
    await page.getByLabel('Name').fill('slack ops');
    await page.getByLabel('Kind').selectOption('SLACK');
    await page.getByLabel('Receiver URL').fill(`${hookUrl}/slack`);
    await page.getByRole('checkbox', { name: 'Deployment succeeded' }).focus();
    await page.keyboard.press('Space');
    await page.getByLabel('Environments').fill('staging, prod*');
    await page.getByLabel('Environments').press('Enter');
    const slack = page.getByRole('article', { name: 'slack ops' });
    await slack.waitFor();
    await expect(slack.innerText()).resolves.toMatch(
      /Slack[\s\S]*Approval requested, Deployment failed, Deployment succeeded[\s\S]*staging, prod\*/,
    );
    expect(await accessibilityProblems(page)).toEqual([]);

    // Delete through the dialog, confirmed with Enter on its button.
    await page.getByRole('button', { name: 'Delete slack ops' }).click();
    const dialog = page.getByRole('dialog', { name: 'Delete slack ops?' });
    await dialog.waitFor();
    await dialog.getByRole('button', { name: 'Delete channel' }).press('Enter');
    await slack.waitFor({ state: 'detached' });
    await page.getByRole('status').filter({ hasText: 'Deleted slack ops' }).waitFor();

    // The URL's secret part never reached the browser.
    expect(await page.content()).not.toContain(TOKEN);
    expect(seen.join('\n')).not.toContain(TOKEN);
    await context.close();
  });
});
