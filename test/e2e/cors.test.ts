// CORS_ORIGINS as a real browser judges it (Debian's Chromium): a page on an allowed origin can
// call /graphql (fetch, with credentials, SSE) and open the WebSocket; the same page on another
// origin can do none of it. The pages come from a tiny server of their own on 127.0.0.1 and, as a
// second origin, localhost (same port, another host: another origin).
import { createServer, type Server } from 'node:http';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../server/temporal.ts';
import { createTestDatabase } from '../support/database.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

let api: TestServer;
let pages: Server;
let pagePort: number;
let browser: Browser;
let token: string;
let dropDb: () => Promise<void>;

beforeAll(async () => {
  pagePort = await freePort();
  pages = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end('<!doctype html><title>another site</title>');
  });
  await new Promise<void>((resolve) => pages.listen(pagePort, '127.0.0.1', resolve));
  const db = await createTestDatabase();
  dropDb = db.drop;
  [api, browser] = await Promise.all([
    startTestServer({
      databaseUrl: db.url,
      env: { CORS_ORIGINS: `http://127.0.0.1:${pagePort}`, CORS_ALLOW_CREDENTIALS: 'true' },
    }),
    chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS }),
  ]);
  token = await api.token('admin', ['ADMIN']);
});
afterAll(async () => {
  await browser?.close();
  await api?.stop();
  await new Promise((resolve) => pages?.close(resolve));
  await dropDb?.();
});

/** What a page on `origin` gets when it calls the API every way a console would. */
async function attempts(origin: string) {
  const page: Page = await browser.newPage();
  try {
    await page.goto(`${origin}/`);
    return await page.evaluate(
      async ({ api, token }) => {
        const body = JSON.stringify({ query: '{ viewer { subject } }' });
        const headers = { 'content-type': 'application/json', authorization: `Bearer ${token}` };
        const attempt = async (run: () => Promise<string>) => {
          try {
            return await run();
          } catch (error) {
            return `blocked: ${(error as Error).name}`;
          }
        };
        return {
          // A preflighted POST (Authorization and a JSON content type are not "simple").
          post: await attempt(
            async () => (await (await fetch(`${api}/graphql`, { method: 'POST', headers, body })).json()).data.viewer.subject,
          ),
          credentials: await attempt(
            async () =>
              (await (await fetch(`${api}/graphql`, { method: 'POST', headers, body, credentials: 'include' })).json()).data.viewer.subject,
          ),
          sse: await attempt(async () => {
            const r = await fetch(`${api}/graphql`, { method: 'POST', headers: { ...headers, accept: 'text/event-stream' }, body });
            const reader = r.body!.getReader();
            const { value } = await reader.read();
            await reader.cancel();
            return new TextDecoder().decode(value).includes('"subject":"admin"') ? 'admin' : 'no event';
          }),
          websocket: await new Promise<string>((resolve) => {
            const ws = new WebSocket(`${api.replace('http', 'ws')}/graphql`, 'graphql-transport-ws');
            ws.onopen = () => {
              ws.close();
              resolve('open');
            };
            ws.onerror = () => resolve('blocked');
          }),
        };
      },
      { api: api.url, token },
    );
  } finally {
    await page.close();
  }
}

describe('CORS_ORIGINS in a real browser', () => {
  it('lets a page on an allowed origin call /graphql and open the WebSocket', async () => {
    expect(await attempts(`http://127.0.0.1:${pagePort}`)).toEqual({
      post: 'admin',
      credentials: 'admin',
      sse: 'admin',
      websocket: 'open',
    });
  });

  it('stops a page on any other origin: the browser withholds every answer, the upgrade is refused', async () => {
    expect(await attempts(`http://localhost:${pagePort}`)).toEqual({
      post: 'blocked: TypeError',
      credentials: 'blocked: TypeError',
      sse: 'blocked: TypeError',
      websocket: 'blocked',
    });
  });
});
