// CORS by allowlist (CORS_ORIGINS, CORS_ALLOW_CREDENTIALS) on /graphql over HTTP, SSE and
// WebSocket, and the raw header block of every route: no header name twice. Real servers on
// 127.0.0.1; headers are read from the bytes on the wire (node:net), not through a client that
// would merge or refuse duplicates.
import { spawnSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { freePort } from '../../server/temporal.ts';
import { createTestDatabase } from '../support/database.ts';
import { startTestServer, TEST_JWT_SECRET, type TestServer } from '../support/server.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const WEBHOOK_SECRET = 'webhook-secret-for-header-tests';
const CONSOLE = 'https://console.example';
const DEV_CONSOLE = 'http://localhost:5173';
const EVIL = 'https://evil.example';

/** No CORS_ORIGINS (the API's own origin only), no WEBHOOK_SECRET. */
let plain: TestServer;
/** Two allowed origins with credentials, and the push webhook. */
let listed: TestServer;
/** One allowed origin, no credentials. */
let uncredentialed: TestServer;
/** CORS_ORIGINS=*. */
let star: TestServer;
let token: string;
let asset: string;
let dropDb: () => Promise<void>;

beforeAll(async () => {
  // The console's routes are among those checked: build it if missing or stale.
  const build = spawnSync(process.execPath, ['--import', 'tsx', 'console/build.ts', '--if-stale'], { cwd: ROOT, encoding: 'utf8' });
  if (build.status !== 0) throw new Error(`console build failed:\n${build.stdout}${build.stderr}`);
  asset = `/assets/${readdirSync(join(ROOT, 'console', 'dist', 'assets')).find((f) => f.endsWith('.js'))}`;
  const db = await createTestDatabase();
  dropDb = db.drop;
  // One database for all four: each server only migrates it (idempotent) and reads.
  plain = await startTestServer({ databaseUrl: db.url });
  [listed, uncredentialed, star] = await Promise.all([
    startTestServer({
      databaseUrl: db.url,
      env: {
        CORS_ORIGINS: ` ${CONSOLE}, ${DEV_CONSOLE} `,
        CORS_ALLOW_CREDENTIALS: 'true',
        WEBHOOK_SECRET,
        PUBLIC_URL: 'https://stageplane.example/',
      },
    }),
    startTestServer({ databaseUrl: db.url, env: { CORS_ORIGINS: CONSOLE } }),
    startTestServer({ databaseUrl: db.url, env: { CORS_ORIGINS: '*' } }),
  ]);
  token = await plain.token('admin', ['ADMIN']);
});
afterAll(async () => {
  await Promise.all([plain?.stop(), listed?.stop(), uncredentialed?.stop(), star?.stop()]);
  await dropDb?.();
});

interface RawResponse {
  status: number;
  /** Every header line as sent: [name, value], in order, names as cased on the wire. */
  headers: [string, string][];
}

/**
 * One HTTP/1.1 request on a fresh socket; resolves with the status line and header block as
 * received (the body is not awaited, so an SSE stream or a 413 cut short both work).
 */
function raw(
  server: TestServer,
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: string,
  declaredLength?: number,
): Promise<RawResponse> {
  const { hostname, port } = new URL(server.url);
  const lines = [`${method} ${path} HTTP/1.1`, `Host: ${hostname}:${port}`, 'Connection: close'];
  for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
  if (body !== undefined) lines.push(`Content-Length: ${declaredLength ?? Buffer.byteLength(body)}`);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    let received = Buffer.alloc(0);
    socket.on('error', reject);
    socket.on('close', () => reject(new Error(`connection closed before the header block ended: ${received.toString('latin1')}`)));
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      const end = received.indexOf('\r\n\r\n');
      if (end < 0) return;
      const [statusLine, ...headerLines] = received.subarray(0, end).toString('latin1').split('\r\n');
      socket.removeAllListeners('close');
      socket.destroy();
      resolve({
        status: Number(statusLine!.split(' ')[1]),
        headers: headerLines.map((line) => {
          const colon = line.indexOf(':');
          return [line.slice(0, colon), line.slice(colon + 1).trim()];
        }),
      });
    });
    socket.write(`${lines.join('\r\n')}\r\n\r\n${body ?? ''}`);
  });
}

/** Header names (lower-cased) that appear more than once. */
const duplicated = (r: RawResponse) => {
  const names = r.headers.map(([name]) => name.toLowerCase());
  return [...new Set(names.filter((name, i) => names.indexOf(name) !== i))];
};
/** The values of one header, every line of it. */
const values = (r: RawResponse, name: string) => r.headers.filter(([n]) => n.toLowerCase() === name).map(([, v]) => v);
const header = (r: RawResponse, name: string) => values(r, name).join(', ') || undefined;
const corsNames = (r: RawResponse) => r.headers.map(([n]) => n.toLowerCase()).filter((n) => n.startsWith('access-control-'));

const sign = (body: string) => `sha256=${createHmac('sha256', WEBHOOK_SECRET).update(body).digest('hex')}`;
const json = { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json' };
const auth = () => ({ authorization: `Bearer ${token}` });
const preflight = (origin: string) => ({
  origin,
  'access-control-request-method': 'POST',
  'access-control-request-headers': 'authorization, content-type',
});

describe('CORS on /graphql by CORS_ORIGINS', () => {
  it('by default (the API origin only) answers a cross-origin preflight 204 without any CORS header', async () => {
    const r = await raw(plain, 'OPTIONS', '/graphql', preflight(EVIL));
    expect(r.status).toBe(204);
    expect(corsNames(r)).toEqual([]);
    expect(header(r, 'vary')).toBe('Origin');
    expect(values(r, 'content-length')).toEqual(['0']);
  });

  it('by default serves a cross-origin POST (a token is a token) without CORS headers, so a browser withholds it', async () => {
    const body = JSON.stringify({ query: '{ viewer { subject } }' });
    const r = await raw(plain, 'POST', '/graphql', { ...json, ...auth(), origin: EVIL }, body);
    expect(r.status).toBe(200);
    expect(corsNames(r)).toEqual([]);
    expect(header(r, 'vary')).toBe('Origin');
  });

  it('answers an allowed origin: its own origin echoed, credentials as configured, Vary: Origin', async () => {
    for (const origin of [CONSOLE, DEV_CONSOLE]) {
      const r = await raw(listed, 'OPTIONS', '/graphql', preflight(origin));
      expect(r.status).toBe(204);
      expect(header(r, 'access-control-allow-origin')).toBe(origin);
      expect(header(r, 'access-control-allow-credentials')).toBe('true');
      expect(header(r, 'access-control-allow-methods')).toBe('GET, POST, OPTIONS');
      // Authorization must be named: a `*` in Allow-Headers never covers it.
      expect(header(r, 'access-control-allow-headers')?.split(', ')).toEqual(expect.arrayContaining(['authorization', 'content-type']));
      expect(header(r, 'access-control-max-age')).toBe('600');
      expect(header(r, 'vary')).toBe('Origin');
    }
    const r = await raw(uncredentialed, 'OPTIONS', '/graphql', preflight(CONSOLE));
    expect(header(r, 'access-control-allow-origin')).toBe(CONSOLE);
    expect(header(r, 'access-control-allow-credentials')).toBeUndefined();
  });

  it('gives near misses of an allowed origin nothing (exact comparison: scheme, host, port)', async () => {
    for (const origin of [
      EVIL,
      'http://console.example',
      'https://console.example:8443',
      'https://console.example.evil.example',
      'https://sub.console.example',
      'https://CONSOLE.example',
      'https://console.example/',
      'null',
      'https://console.example, https://evil.example',
    ]) {
      const r = await raw(listed, 'OPTIONS', '/graphql', preflight(origin));
      expect(r.status, origin).toBe(204);
      expect(corsNames(r), origin).toEqual([]);
      expect(header(r, 'vary'), origin).toBe('Origin');
    }
  });

  it('puts the same headers on GET, POST and SSE answers to an allowed origin, and none for another', async () => {
    const query = encodeURIComponent('{ viewer { subject } }');
    const body = JSON.stringify({ query: '{ viewer { subject } }' });
    const sse = { ...auth(), 'content-type': 'application/json', accept: 'text/event-stream' };
    for (const [origin, allowed] of [
      [CONSOLE, true],
      [EVIL, false],
    ] as const) {
      const answers = [
        await raw(listed, 'GET', `/graphql?query=${query}`, { accept: 'application/json', ...auth(), origin }),
        await raw(listed, 'POST', '/graphql', { ...json, ...auth(), origin }, body),
        await raw(listed, 'POST', '/graphql', { ...sse, origin }, body),
        // An error answer too: the browser must be able to read why it was refused.
        await raw(listed, 'POST', '/graphql', { ...json, origin }, body),
      ];
      expect(header(answers[2]!, 'content-type')).toMatch(/^text\/event-stream/);
      expect(answers[3]!.status).toBe(401);
      for (const r of answers) {
        expect(r.status === 200 || r.status === 401).toBe(true);
        expect(header(r, 'access-control-allow-origin')).toBe(allowed ? origin : undefined);
        expect(header(r, 'access-control-allow-credentials')).toBe(allowed ? 'true' : undefined);
        // The preflight's own headers belong to the preflight only.
        expect(header(r, 'access-control-allow-methods')).toBeUndefined();
        expect(header(r, 'vary')).toBe('Origin');
      }
    }
  });

  it('with CORS_ORIGINS=* answers any origin with `*`, never with credentials', async () => {
    const r = await raw(star, 'OPTIONS', '/graphql', preflight(EVIL));
    expect(r.status).toBe(204);
    expect(header(r, 'access-control-allow-origin')).toBe('*');
    expect(header(r, 'access-control-allow-credentials')).toBeUndefined();
    const body = JSON.stringify({ query: '{ viewer { subject } }' });
    const post = await raw(star, 'POST', '/graphql', { ...json, ...auth(), origin: EVIL }, body);
    expect(header(post, 'access-control-allow-origin')).toBe('*');
    expect(header(post, 'access-control-allow-credentials')).toBeUndefined();
    // The same answer for every origin: nothing to vary on.
    expect(header(post, 'vary')).toBeUndefined();
  });

  it('puts no CORS headers on the other routes (health, metrics, webhooks, console)', async () => {
    for (const path of ['/healthz', '/readyz', '/metrics', '/webhooks/push', '/', asset]) {
      const r = await raw(listed, 'GET', path, { origin: CONSOLE });
      expect(corsNames(r), path).toEqual([]);
    }
  });

  it("answers a preflight Node's own fetch can read (it refuses a duplicate Content-Length)", async () => {
    const r = await fetch(`${listed.url}/graphql`, { method: 'OPTIONS', headers: preflight(CONSOLE) });
    expect(r.status).toBe(204);
    expect(r.headers.get('access-control-allow-origin')).toBe(CONSOLE);
  });
});

describe('the WebSocket upgrade checks Origin (no CORS for WebSockets: cross-site WebSocket hijacking)', () => {
  /** The status of the upgrade: 101 when the socket opened. */
  const upgrade = (server: TestServer, origin?: string, headers: Record<string, string> = {}) =>
    new Promise<number>((resolve, reject) => {
      const ws = new WebSocket(`${server.url.replace('http', 'ws')}/graphql`, 'graphql-transport-ws', {
        ...(origin === undefined ? {} : { origin }),
        headers,
      });
      ws.on('open', () => {
        ws.close();
        resolve(101);
      });
      ws.on('unexpected-response', (_req, res) => {
        resolve(res.statusCode ?? 0);
        res.resume();
        ws.terminate();
      });
      ws.on('error', reject);
    });

  it('refuses an origin not allowed with 403, on every configuration but *', async () => {
    for (const server of [plain, listed, uncredentialed]) expect(await upgrade(server, EVIL)).toBe(403);
    for (const origin of ['null', 'http://console.example', 'https://console.example.evil.example', 'not an origin']) {
      expect(await upgrade(listed, origin), origin).toBe(403);
    }
  });

  it('lets the API origin itself (the console), allowed origins and clients without Origin open a socket', async () => {
    for (const server of [plain, listed]) {
      expect(await upgrade(server, server.url)).toBe(101);
      // Behind a TLS proxy the page is https://, the Host the same.
      expect(await upgrade(server, server.url.replace('http:', 'https:'))).toBe(101);
      expect(await upgrade(server)).toBe(101);
    }
    expect(await upgrade(listed, CONSOLE)).toBe(101);
    expect(await upgrade(listed, DEV_CONSOLE)).toBe(101);
    expect(await upgrade(star, EVIL)).toBe(101);
    // The API's own origin is the host the request was sent to (Host: a page cannot set it)...
    expect(await upgrade(plain, 'http://api.example', { host: 'api.example' })).toBe(101);
    expect(await upgrade(plain, 'http://api.example')).toBe(403);
    expect(await upgrade(plain, 'http://api.example:8080', { host: 'api.example' })).toBe(403);
    // ...or PUBLIC_URL's, for a proxy that rewrites Host; only the origin itself, not a look-alike.
    expect(await upgrade(listed, 'https://stageplane.example')).toBe(101);
    expect(await upgrade(listed, 'http://stageplane.example')).toBe(403);
    expect(await upgrade(plain, 'https://stageplane.example')).toBe(403);
  });

  it('an allowed socket works end to end (the check does not stop graphql-ws)', async () => {
    const ws = new WebSocket(`${listed.url.replace('http', 'ws')}/graphql`, 'graphql-transport-ws', { origin: CONSOLE });
    const messages: unknown[] = [];
    const done = new Promise<void>((resolve, reject) => {
      ws.on('message', (data) => {
        const message = JSON.parse(String(data));
        messages.push(message);
        if (message.type === 'connection_ack') {
          ws.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: '{ viewer { subject } }' } }));
        }
        if (message.type === 'complete') resolve();
      });
      ws.on('error', reject);
    });
    ws.on('open', () => ws.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } })));
    await done;
    ws.close();
    expect(messages).toContainEqual({ id: '1', type: 'next', payload: { data: { viewer: { subject: 'admin' } } } });
  });
});

describe('every route sends each header once', () => {
  const graphqlBody = JSON.stringify({ query: '{ viewer { subject } }' });
  const issues = JSON.stringify({ action: 'opened' });
  const routes: { name: string; status: number; request: () => Parameters<typeof raw> }[] = [
    {
      name: 'GET /graphql',
      status: 200,
      request: () => [
        listed,
        'GET',
        `/graphql?query=${encodeURIComponent('{ viewer { subject } }')}`,
        { accept: 'application/json', ...auth() },
      ],
    },
    { name: 'POST /graphql', status: 200, request: () => [listed, 'POST', '/graphql', { ...json, ...auth() }, graphqlBody] },
    { name: 'POST /graphql unauthenticated', status: 401, request: () => [listed, 'POST', '/graphql', json, graphqlBody] },
    { name: 'OPTIONS /graphql (preflight)', status: 204, request: () => [listed, 'OPTIONS', '/graphql', preflight(CONSOLE)] },
    { name: 'OPTIONS /graphql (no Origin)', status: 204, request: () => [listed, 'OPTIONS', '/graphql'] },
    {
      name: 'SSE /graphql',
      status: 200,
      request: () => [
        listed,
        'POST',
        '/graphql',
        { ...auth(), 'content-type': 'application/json', accept: 'text/event-stream' },
        graphqlBody,
      ],
    },
    {
      name: 'SSE /graphql (GET)',
      status: 200,
      request: () => [
        listed,
        'GET',
        `/graphql?query=${encodeURIComponent('{ viewer { subject } }')}`,
        { ...auth(), accept: 'text/event-stream' },
      ],
    },
    { name: 'GraphiQL', status: 200, request: () => [listed, 'GET', '/graphql', { accept: 'text/html' }] },
    { name: '/healthz', status: 200, request: () => [listed, 'GET', '/healthz'] },
    { name: '/readyz', status: 200, request: () => [listed, 'GET', '/readyz'] },
    { name: '/metrics', status: 200, request: () => [listed, 'GET', '/metrics'] },
    { name: '/webhooks/push unconfigured', status: 404, request: () => [plain, 'POST', '/webhooks/push', {}, issues] },
    { name: '/webhooks/push GET', status: 405, request: () => [listed, 'GET', '/webhooks/push'] },
    {
      name: '/webhooks/push bad signature',
      status: 401,
      request: () => [listed, 'POST', '/webhooks/push', { 'x-hub-signature-256': 'sha256=00' }, issues],
    },
    {
      name: '/webhooks/push accepted',
      status: 202,
      request: () => [listed, 'POST', '/webhooks/push', { 'x-hub-signature-256': sign(issues), 'x-github-event': 'issues' }, issues],
    },
    { name: 'console /', status: 200, request: () => [listed, 'GET', '/', { 'accept-encoding': 'gzip, br' }] },
    { name: 'console page route', status: 200, request: () => [listed, 'GET', '/projects/shop'] },
    { name: 'console asset', status: 200, request: () => [listed, 'GET', asset, { 'accept-encoding': 'gzip' }] },
    { name: 'console asset HEAD', status: 200, request: () => [listed, 'HEAD', asset] },
    { name: 'console missing asset', status: 404, request: () => [listed, 'GET', '/assets/missing.js'] },
    { name: 'unknown path', status: 404, request: () => [listed, 'GET', '/nope'] },
    {
      name: 'body over the limit',
      status: 413,
      request: () => [listed, 'POST', '/graphql', { ...json, ...auth() }, '{"query":"', 2 * 1024 * 1024],
    },
    {
      name: 'malformed JSON',
      status: 400,
      request: () => [listed, 'POST', '/graphql', { ...json, ...auth() }, '{"query": "{ viewer { subject } }"'],
    },
  ];

  for (const route of routes) {
    it(route.name, async () => {
      // With an allowed, a refused and no Origin: CORS headers join the others.
      for (const origin of [CONSOLE, EVIL, undefined]) {
        const [server, method, path, headers = {}, body, declared] = route.request();
        const r = await raw(server, method, path, origin ? { ...headers, origin } : headers, body, declared);
        expect(r.status, `${route.name} from ${origin}`).toBe(route.status);
        expect(duplicated(r), `${route.name} from ${origin}: ${JSON.stringify(r.headers)}`).toEqual([]);
      }
    });
  }

  it('a refused WebSocket upgrade', async () => {
    const r = await raw(listed, 'GET', '/graphql', {
      upgrade: 'websocket',
      connection: 'Upgrade',
      'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
      'sec-websocket-version': '13',
      'sec-websocket-protocol': 'graphql-transport-ws',
      origin: EVIL,
    });
    expect(r.status).toBe(403);
    expect(duplicated(r)).toEqual([]);
  });
});

describe('CORS_ORIGINS at start-up', () => {
  it('stops a start with a malformed entry, naming CORS_ORIGINS', async () => {
    // The real entry point: a configuration error is one line on stderr and exit status 1.
    const run = spawnSync(process.execPath, ['--import', 'tsx', 'server/main.ts', 'api'], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 60_000,
      // A free port and a scratch DATA_DIR: were the entry accepted, the start would go on (and time out).
      env: {
        ...process.env,
        NODE_ENV: 'test',
        PORT: String(await freePort()),
        DATA_DIR: mkdtempSync(join(tmpdir(), 'stageplane-cors-')),
        JWT_SECRET: TEST_JWT_SECRET,
        CORS_ORIGINS: `${CONSOLE}, https://console.example/`,
      },
    });
    expect(run.stderr.trim()).toBe(
      'stageplane: Invalid CORS_ORIGINS: "https://console.example/" is not an origin (http(s)://host[:port], no path or trailing slash); did you mean "https://console.example"?',
    );
    expect(run.status).toBe(1);
  });
});

// The console must have been built for the asset routes above to mean anything.
it('found a console build', () => {
  expect(existsSync(join(ROOT, 'console', 'dist', 'index.html'))).toBe(true);
  expect(asset).toMatch(/^\/assets\/.+\.js$/);
});
