// The ops console: the built page (console/dist, see console/build.ts) served by the API process.
//
// - `GET /` and the page's own routes (/projects/..., /deployments/...) answer index.html with
//   `Cache-Control: no-cache` (revalidated by ETag), so a new build is picked up at once.
// - `/assets/*` are content-hashed by Vite: `public, max-age=31536000, immutable`.
// - Anything else (/graphql, /healthz, /readyz, /metrics, /webhooks/push, unknown paths) is left
//   to the other routes: this route only answers GET and HEAD on the paths above.
// - Files are read once per build (index.html's mtime tells a new build) and served from memory,
//   gzip or brotli compressed when the browser accepts it. Only files found in the build are
//   served: no request path is ever joined to a file system path.
// - Without a build, `/` says how to make one (503) instead of failing obscurely.
// - `/console-config.json`: what the page needs before signing in (the identity provider to offer,
//   when OIDC_ISSUER and OIDC_CONSOLE_CLIENT_ID are set); the page's CSP then lets it reach that
//   issuer's origin (discovery and the token endpoint: authorization code with PKCE in the page).
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { brotliCompress, constants as zlib, gzip } from 'node:zlib';
import type { Logger } from 'pino';

export const CONSOLE_DIST = fileURLToPath(new URL('../console/dist', import.meta.url));

const IMMUTABLE = 'public, max-age=31536000, immutable';
const REVALIDATE = 'no-cache';

/** The page's own routes: the client-side router renders them from index.html. */
const SPA_PATHS = /^\/(?:projects|deployments|auth)(?:\/.*)?$/;

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.woff2': 'font/woff2',
  '.map': 'application/json; charset=utf-8',
};
const COMPRESSIBLE = new Set(['.html', '.js', '.mjs', '.css', '.svg', '.json', '.txt', '.map']);

/**
 * The page may talk to its own origin only (HTTP and WebSocket), and to the identity provider's
 * origin when it signs in through one; no inline script, no framing.
 */
const contentSecurityPolicy = (issuerOrigin: string | null) =>
  [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    issuerOrigin ? `connect-src 'self' ${issuerOrigin}` : "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ');

const brotliAsync = promisify(brotliCompress);
const gzipAsync = promisify(gzip);

interface StaticFile {
  body: Buffer;
  /** Worth compressing: text of more than 512 bytes. */
  compress: boolean;
  /**
   * The compressed bodies, made on the first request that accepts each encoding, in libuv's
   * thread pool: brotli at quality 11 of the console's scripts takes most of a second of CPU,
   * which on the event loop (as it once was, synchronously at the first page load) stalls every
   * request and live subscriber of the process meanwhile.
   */
  encoded: Map<'br' | 'gzip', Promise<Buffer>>;
  type: string;
  etag: string;
  cacheControl: string;
}

interface Build {
  stamp: number;
  files: Map<string, StaticFile>;
}

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    if (entry.name.startsWith('.')) return [];
    const path = join(dir, entry.name);
    return entry.isDirectory() ? walk(path) : [path];
  });
}

function load(dist: string, stamp: number): Build {
  const files = new Map<string, StaticFile>();
  for (const path of walk(dist)) {
    const urlPath = '/' + relative(dist, path).split(sep).join('/');
    const ext = extname(path).toLowerCase();
    const body = readFileSync(path);
    files.set(urlPath, {
      body,
      compress: COMPRESSIBLE.has(ext) && body.length > 512,
      encoded: new Map(),
      type: TYPES[ext] ?? 'application/octet-stream',
      etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`,
      cacheControl: urlPath.startsWith('/assets/') ? IMMUTABLE : REVALIDATE,
    });
  }
  return { stamp, files };
}

/** `file`'s body in `encoding`, compressed once (a failure is forgotten, and the plain body served). */
function encodedBody(file: StaticFile, encoding: 'br' | 'gzip'): Promise<Buffer> {
  let body = file.encoded.get(encoding);
  if (!body) {
    body =
      encoding === 'br'
        ? brotliAsync(file.body, { params: { [zlib.BROTLI_PARAM_QUALITY]: 11, [zlib.BROTLI_PARAM_SIZE_HINT]: file.body.length } })
        : gzipAsync(file.body, { level: 9 });
    body.catch(() => file.encoded.delete(encoding));
    file.encoded.set(encoding, body);
  }
  return body;
}

const NOT_BUILT = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Stageplane: the console is not built</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 10vh auto; padding: 0 1rem">
<h1>The ops console is not built</h1>
<p>This API server has no <code>console/dist</code>. Build it once with <code>npm run console:build</code>
(<code>npm install</code> and <code>npm start</code> do it too), then reload this page.</p>
<p>The GraphQL API is at <a href="/graphql">/graphql</a>.</p>
</body></html>
`;

export interface ConsoleRouteOptions {
  /** The built console; console/dist by default. */
  dist?: string;
  log?: Logger;
  /** Sign-in through the identity provider (OIDC_ISSUER with OIDC_CONSOLE_CLIENT_ID); absent: token sign-in only. */
  signIn?: { issuer: string; clientId: string } | null;
}

/** The scopes the console asks for: an OpenID sign-in; its access token's audience is the IdP's to set (OIDC_AUDIENCE). */
const CONSOLE_SCOPE = 'openid profile';

export function consoleRoute(options: ConsoleRouteOptions = {}) {
  const dist = options.dist ?? CONSOLE_DIST;
  const index = join(dist, 'index.html');
  let build: Build | null = null;
  let warned = false;

  /** The current build, read again when index.html changed (a rebuild while the server runs). */
  function current(): Build | null {
    let stamp: number;
    try {
      stamp = statSync(index).mtimeMs;
    } catch {
      if (!warned) options.log?.warn({ dist }, 'the ops console is not built: run `npm run console:build`');
      warned = true;
      build = null;
      return null;
    }
    if (!build || build.stamp !== stamp) {
      try {
        build = load(dist, stamp);
      } catch (error) {
        // A build being written right now: serve the previous one if there is one.
        options.log?.warn({ err: error }, 'could not read the ops console build');
        if (!build) return null;
      }
    }
    return build;
  }
  if (!existsSync(index)) current(); // warns once at start-up
  const signIn = options.signIn ?? null;
  const csp = contentSecurityPolicy(signIn ? new URL(signIn.issuer).origin : null);
  const consoleConfig = Buffer.from(
    JSON.stringify({ signIn: signIn ? { issuer: signIn.issuer, clientId: signIn.clientId, scope: CONSOLE_SCOPE } : null }),
  );

  return async (req: IncomingMessage, res: ServerResponse): Promise<boolean> => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    const pathname = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (pathname === '/console-config.json') {
      const headers = {
        'content-type': 'application/json; charset=utf-8',
        'cache-control': 'no-cache',
        'x-content-type-options': 'nosniff',
      };
      send(req, res, 200, headers, consoleConfig);
      return true;
    }
    const isPage = pathname === '/' || pathname === '/index.html' || SPA_PATHS.test(pathname);
    const isAsset = pathname.startsWith('/assets/');
    const built = isPage || isAsset || pathname.lastIndexOf('/') === 0 ? current() : null;
    if (isPage && !built) {
      send(
        req,
        res,
        503,
        {
          'content-type': 'text/html; charset=utf-8',
          'cache-control': 'no-store',
          'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'",
        },
        Buffer.from(NOT_BUILT),
      );
      return true;
    }
    if (!built) return false;
    const file = isPage ? built.files.get('/index.html') : built.files.get(pathname);
    if (!file) {
      if (!isAsset) return false;
      send(req, res, 404, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' }, Buffer.from('Not found\n'));
      return true;
    }
    const headers: Record<string, string> = {
      'content-type': file.type,
      'cache-control': file.cacheControl,
      etag: file.etag,
      vary: 'Accept-Encoding',
      'x-content-type-options': 'nosniff',
    };
    if (file.type.startsWith('text/html')) {
      headers['content-security-policy'] = csp;
      headers['referrer-policy'] = 'no-referrer';
      headers['x-frame-options'] = 'DENY';
    }
    if (ifNoneMatch(req, file.etag)) {
      res.writeHead(304, headers);
      res.end();
      return true;
    }
    const accepted = String(req.headers['accept-encoding'] ?? '');
    const encoding = !file.compress ? null : /\bbr\b/.test(accepted) ? 'br' : /\bgzip\b/.test(accepted) ? 'gzip' : null;
    let body = file.body;
    if (encoding) {
      body = await encodedBody(file, encoding).catch(() => file.body);
      if (body !== file.body) headers['content-encoding'] = encoding;
    }
    send(req, res, 200, headers, body);
    return true;
  };
}

function ifNoneMatch(req: IncomingMessage, etag: string): boolean {
  const header = req.headers['if-none-match'];
  if (!header) return false;
  return header.split(',').some((tag) => tag.trim().replace(/^W\//, '') === etag || tag.trim() === '*');
}

function send(req: IncomingMessage, res: ServerResponse, status: number, headers: Record<string, string>, body: Buffer) {
  res.writeHead(status, { ...headers, 'content-length': String(body.length) });
  res.end(req.method === 'HEAD' ? undefined : body);
}
