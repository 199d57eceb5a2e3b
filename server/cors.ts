// CORS for /graphql (GET, POST, SSE) and the Origin check of its WebSocket upgrade, by the
// allowlist CORS_ORIGINS (config/index.ts). Yoga's own CORS is off (server/yoga.ts): by default it
// reflects any Origin with `Access-Control-Allow-Credentials: true`.
//
// - An allowed origin gets `Access-Control-Allow-Origin` echoing it (`*` when CORS_ORIGINS=*),
//   credentials only with CORS_ALLOW_CREDENTIALS=true.
// - Any other origin gets no CORS header at all, so the browser withholds the answer. Its preflight
//   is still a 204: a browser fails a preflight without Allow headers whatever the status, and a
//   204 tells a scanner nothing it could not read from the missing headers (it is what the `cors`
//   middleware and Yoga answer too). Non-browser clients (no Origin) never needed CORS.
// - Same-origin requests (the console, served by the API) need no CORS headers: browsers do not
//   check them. A WebSocket upgrade has no CORS, so its Origin is checked here: the API's own
//   origin or an allowed one, else 403 (cross-site WebSocket hijacking).
import type { IncomingHttpHeaders } from 'node:http';
import type { CorsConfig } from '../config/index.ts';

/** Request headers a browser client may send cross-origin (Authorization is never covered by `*`). */
const ALLOWED_HEADERS = 'accept, authorization, content-type, traceparent, tracestate';
const ALLOWED_METHODS = 'GET, POST, OPTIONS';
/** Browsers cap it anyway (Chromium at 2 h); 10 minutes lets a changed allowlist take effect soon. */
const PREFLIGHT_MAX_AGE = '600';

const single = (value: string | string[] | undefined) => (Array.isArray(value) ? value[0] : value);

export function isAllowedOrigin(cors: CorsConfig, origin: string): boolean {
  return cors.origins === '*' || cors.origins.includes(origin);
}

/**
 * The CORS headers of a /graphql response to this request (lower-case names, each once). `Vary:
 * Origin` whenever the answer depends on the Origin, on every response, so a cache never serves
 * one origin's answer to another.
 */
export function corsHeaders(cors: CorsConfig, headers: IncomingHttpHeaders, preflight: boolean): Record<string, string> {
  const out: Record<string, string> = {};
  if (cors.origins !== '*') out.vary = 'Origin';
  const origin = single(headers.origin);
  if (origin === undefined || !isAllowedOrigin(cors, origin)) return out;
  out['access-control-allow-origin'] = cors.origins === '*' ? '*' : origin;
  if (cors.allowCredentials) out['access-control-allow-credentials'] = 'true';
  if (preflight) {
    out['access-control-allow-methods'] = ALLOWED_METHODS;
    out['access-control-allow-headers'] = ALLOWED_HEADERS;
    out['access-control-max-age'] = PREFLIGHT_MAX_AGE;
  }
  return out;
}

/**
 * Whether a WebSocket upgrade may proceed. Without Origin (a non-browser client): yes. With one:
 * an allowed origin, PUBLIC_URL's (the API's public address, for proxies that rewrite Host), or
 * the API's own origin by the Host the request was sent to, compared by host[:port] (TLS usually
 * ends at a proxy, so the scheme the browser used is unknown here). A page cannot set Host.
 */
export function isAllowedUpgrade(cors: CorsConfig, headers: IncomingHttpHeaders, publicUrl: string): boolean {
  const origin = single(headers.origin);
  if (origin === undefined) return true;
  if (isAllowedOrigin(cors, origin) || origin === new URL(publicUrl).origin) return true;
  let host: string;
  try {
    const url = new URL(origin);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return false;
    host = url.host;
  } catch {
    return false; // `null` (a sandboxed frame, a file: page) and garbage
  }
  const requestHost = headers.host?.toLowerCase();
  if (!requestHost) return false;
  // The URL parser drops a default port; the Host header may carry it (host:80 / host:443).
  return host === requestHost || host === requestHost.replace(/:(?:80|443)$/, '');
}
