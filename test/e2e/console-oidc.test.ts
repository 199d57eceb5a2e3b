// Console sign-in through a real OpenID provider: panva's oidc-provider on 127.0.0.1 (its dev
// login interaction, PKCE enforced for the public client, JWT access tokens for OIDC_AUDIENCE
// through resource indicators), a real Stageplane process with OIDC_ISSUER and
// OIDC_CONSOLE_CLIENT_ID, and Debian's Chromium. The person clicks "Sign in with your identity
// provider", logs in at the provider, lands back signed in with the provider's token in the tab
// only; the token sign-in stays beside it; the sign-in page works by keyboard.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK, generateKeyPair } from 'jose';
import Provider from 'oidc-provider';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { expectAccessible } from '../support/axe.ts';
import { freePort } from '../../server/temporal.ts';
import { gqlAt, jwtFor } from '../support/client.ts';
import { createTestDatabase } from '../support/database.ts';
import { spawnStageplane, type StageplaneProcess } from '../support/process.ts';

// oidc-provider is untyped here (test/support/oidc-provider.d.ts): its koa context, loosely.
type Ctx = any;

const ROOT = join(import.meta.dirname, '..', '..');
const OUT = join(ROOT, 'test', 'output', 'e2e');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const JWT_SECRET = 'e2e-console-oidc-secret-0123456789-abcdefgh';
const AUDIENCE = 'https://stageplane.test';
const CLIENT_ID = 'stageplane-console';

let browser: Browser;
let server: StageplaneProcess;
let idp: Server;
let issuer: string;
let dropDb: () => Promise<void>;
let dataDir: string;
const tokenRequests: { pkce: boolean }[] = [];

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`No Chromium at ${CHROMIUM}`);
  mkdirSync(OUT, { recursive: true });
  const build = spawnSync(process.execPath, ['--import', 'tsx', 'console/build.ts', '--if-stale'], { cwd: ROOT, encoding: 'utf8' });
  if (build.status !== 0) throw new Error(`console build failed:\n${build.stdout}${build.stderr}`);

  const port = await freePort();
  const idpPort = await freePort();
  issuer = `http://127.0.0.1:${idpPort}`;
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const { privateKey: ecKey } = await generateKeyPair('ES256', { extractable: true });
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: CLIENT_ID,
        token_endpoint_auth_method: 'none', // a public client: PKCE is required for it
        redirect_uris: [`http://127.0.0.1:${port}/auth/callback`],
        grant_types: ['authorization_code'],
        response_types: ['code'],
      },
    ],
    jwks: {
      keys: [
        { ...(await exportJWK(privateKey)), kid: 'idp-rsa', alg: 'RS256', use: 'sig' },
        { ...(await exportJWK(ecKey)), kid: 'idp-ec', alg: 'ES256', use: 'sig' },
      ],
    },
    features: {
      devInteractions: { enabled: true },
      // The API is the resource: its access token is a JWT whose aud is OIDC_AUDIENCE.
      resourceIndicators: {
        enabled: true,
        defaultResource: () => AUDIENCE,
        useGrantedResource: () => true,
        getResourceServerInfo: () => ({ scope: 'openid profile', audience: AUDIENCE, accessTokenFormat: 'jwt', accessTokenTTL: 600 }),
      },
    },
    findAccount: (_ctx: Ctx, id: string) => ({ accountId: id, claims: () => ({ sub: id }) }),
    // The roles claim Stageplane reads (OIDC_ROLES_CLAIM), in the access token.
    extraTokenClaims: () => ({ roles: ['VIEWER', 'DEVELOPER'], groups: ['shop-team'] }),
    // No consent screen: this is the organization's own application.
    loadExistingGrant: async (ctx: Ctx) => {
      const grantId = ctx.oidc.result?.consent?.grantId ?? ctx.oidc.session!.grantIdFor(ctx.oidc.client!.clientId);
      if (grantId) return ctx.oidc.provider.Grant.find(grantId);
      const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client!.clientId, accountId: ctx.oidc.session!.accountId });
      grant.addOIDCScope('openid profile');
      grant.addResourceScope(AUDIENCE, 'openid profile');
      await grant.save();
      return grant;
    },
  });
  provider.on('grant.success', () => {});
  provider.use(async (ctx: Ctx, next: () => Promise<void>) => {
    if (ctx.path === '/token' && ctx.method === 'POST') tokenRequests.push({ pkce: false });
    await next();
    if (ctx.path === '/token' && ctx.method === 'POST') {
      const body = (ctx.oidc?.params ?? {}) as { code_verifier?: string };
      tokenRequests[tokenRequests.length - 1] = { pkce: typeof body.code_verifier === 'string' };
    }
  });
  idp = provider.listen(idpPort, '127.0.0.1') as unknown as Server;
  await new Promise((r) => idp.once('listening', r));
  expect((idp.address() as AddressInfo).port).toBe(idpPort);

  const db = await createTestDatabase();
  dropDb = db.drop;
  dataDir = mkdtempSync(join(tmpdir(), 'stageplane-e2e-oidc-'));
  const env = {
    DATABASE_URL: db.url,
    DATA_DIR: dataDir,
    JWT_SECRET,
    TEMPORAL_ADDRESS: inject('temporalAddress'),
    TEMPORAL_TASK_QUEUE: `e2e-oidc-${port}`,
    OIDC_ISSUER: issuer,
    OIDC_AUDIENCE: AUDIENCE,
    OIDC_CONSOLE_CLIENT_ID: CLIENT_ID,
  };
  [server, browser] = await Promise.all([
    spawnStageplane('all', env, port),
    chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS }),
  ]);
  const admin = await jwtFor(JWT_SECRET, 'ada', ['ADMIN']);
  const created = await gqlAt(server.url, admin, `mutation { createProject(input: { slug: "shop", name: "Shop" }) { id } }`);
  expect(created.errors).toBeUndefined();
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await server?.stop();
  await new Promise((r) => idp?.close(r));
  await dropDb?.();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

describe('console sign-in through the identity provider', () => {
  it('signs in with authorization code + PKCE and keeps the provider’s token in the tab only', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('pageerror', (e) => problems.push(e.message));
    const csp = (await (await fetch(`${server.url}/`)).headers.get('content-security-policy')) ?? '';
    expect(csp).toContain(`connect-src 'self' ${issuer}`);

    await page.goto(`${server.url}/projects/shop`);
    const button = page.getByRole('button', { name: 'Sign in with your identity provider' });
    await button.waitFor();
    // The token sign-in stays for local use.
    expect(await page.getByLabel('Token').isVisible()).toBe(true);
    await page.screenshot({ path: join(OUT, 'signin-oidc.png'), fullPage: true });
    await expectAccessible(page, 'signin-oidc');
    // Accessibility (axe is not installed here): the page's structure as assistive technology
    // reads it: one h1, a named section for the provider, every control named.
    const tree = await page.locator('main').ariaSnapshot();
    expect(tree).toContain('heading "Sign in to Stageplane" [level=1]');
    expect(tree).toContain('region "Your organization’s account"');
    expect(tree).toContain('button "Sign in with your identity provider"');
    expect(tree).toContain('textbox "Token"');
    expect(tree).toContain('button "Sign in"');
    expect(await page.evaluate(() => document.documentElement.lang)).toBe('en');

    // By keyboard: the provider's button is the first control.
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Sign in with your identity provider');
    await page.keyboard.press('Enter');

    // The provider's own login page (oidc-provider's dev interaction).
    await page.waitForURL((url) => url.origin === issuer);
    await page.locator('input[name="login"]').fill('ana@example.com');
    await page.locator('input[name="password"]').fill('any');
    await page.locator('button[type="submit"]').click();

    // Back on the console, signed in, at the page it started from.
    await page.getByRole('button', { name: 'Sign out' }).waitFor({ timeout: 20_000 });
    expect(page.url()).toBe(`${server.url}/projects/shop`);
    expect(await page.locator('.whoami').innerText()).toContain('ana@example.com');
    expect(tokenRequests.length).toBe(1);
    expect(tokenRequests[0]!.pkce).toBe(true);
    const stored = await page.evaluate(() => Object.fromEntries(Object.keys(sessionStorage).map((k) => [k, sessionStorage.getItem(k)])));
    expect(Object.keys(stored)).toEqual(['stageplane.token']);
    expect(await page.evaluate(() => localStorage.length)).toBe(0);
    // The kept token is the provider's JWT access token for the API, which the API accepts.
    const token = stored['stageplane.token']!;
    const claims = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString());
    expect(claims).toMatchObject({ iss: issuer, aud: AUDIENCE, sub: 'ana@example.com' });
    const viewer = await gqlAt(server.url, token, `{ viewer { subject roles issuer } }`);
    expect(viewer.data?.viewer).toEqual({ subject: 'ana@example.com', roles: ['VIEWER', 'DEVELOPER'], issuer });
    await page.screenshot({ path: join(OUT, 'signed-in-oidc.png'), fullPage: true });
    await expectAccessible(page, 'signed-in-oidc');

    // Sign out forgets it; the provider button is there again.
    await page.getByRole('button', { name: 'Sign out' }).click();
    await button.waitFor();
    expect(await page.evaluate(() => sessionStorage.length)).toBe(0);
    expect(problems).toEqual([]);
    await context.close();
  });

  it('a callback that was not started in this tab (or forged state) shows an error and stays on sign-in', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${server.url}/auth/callback?code=forged&state=forged&iss=${encodeURIComponent(issuer)}`);
    const alert = page.getByRole('alert');
    await alert.waitFor();
    expect(await alert.innerText()).toMatch(/not started in this tab/);
    expect(new URL(page.url()).search).toBe('');
    expect(await page.getByRole('button', { name: 'Sign in with your identity provider' }).isVisible()).toBe(true);
    expect(await page.evaluate(() => sessionStorage.length)).toBe(0);
    await context.close();
  });
});
