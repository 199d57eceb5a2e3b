// The HTTP server: Yoga on /graphql (and /metrics), health endpoints, a request body limit, CORS
// on /graphql (server/cors.ts) and one log line per request (never a header value).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { context, propagation, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { Services } from '../services/scope.ts';
import { corsHeaders } from './cors.ts';
import { createGraphQLHandler, type GraphQLHandler, type GraphQLHandlerOptions } from './yoga.ts';

export interface ReadinessCheck {
  name: string;
  check: () => Promise<void>;
}

export interface App {
  server: Server;
  yoga: GraphQLHandler;
  /** Marks the app ready to take traffic once start-up work (migrations) is done. */
  setStarted(): void;
  listen(): Promise<{ port: number; host: string }>;
  /**
   * The first step of a graceful shutdown: /readyz answers 503 `{"status":"shutting down"}` from
   * now on, while every other request is still served (each response asks the client to close
   * its connection, so none is left idle to be cut later).
   */
  beginShutdown(): void;
  /**
   * Stops accepting connections and waits for in-flight requests to finish, for at most
   * `graceMs`. Streams (SSE) and upgraded sockets (WebSockets) are not waited for. Resolves with
   * how many requests were still running at the deadline.
   */
  drain(graceMs: number): Promise<{ unfinished: number }>;
  /** Drains (5 s unless drained already), then cuts what is left (SSE streams, stuck requests). */
  close(): Promise<void>;
  /** Extra routes (webhooks, console) register here: return true when handled. */
  routes: ((req: IncomingMessage, res: ServerResponse, body: Buffer) => Promise<boolean>)[];
  readiness: ReadinessCheck[];
  /**
   * Parts still starting that do not hold readiness back (the local Temporal `npm start` runs):
   * name → what it is doing, e.g. `starting (1.2 s)`; /readyz lists them under `pending`.
   */
  pending: Map<string, () => string>;
}

class BodyTooLarge extends Error {}

async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) throw new BodyTooLarge();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new BodyTooLarge();
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

function sendJson(res: ServerResponse, status: number, body: unknown) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

export function createApp(services: Services, options: GraphQLHandlerOptions = {}): App {
  const yoga = createGraphQLHandler(services, options);
  const { config, log } = services;
  let started = false;
  let shuttingDown = false;
  const sockets = new Set<Socket>();
  // Requests that have not answered yet; a request becomes a stream (SSE) once its headers are
  // sent, and is then not waited for by drain() (it never ends by itself: clients resume).
  const inFlight = new Set<ServerResponse>();
  const streams = new Set<ServerResponse>();
  let onIdle: (() => void) | null = null;
  const settled = (res: ServerResponse) => {
    inFlight.delete(res);
    streams.delete(res);
    if (inFlight.size === 0) onIdle?.();
  };
  let draining: Promise<{ unfinished: number }> | null = null;
  let closing: Promise<void> | null = null;
  const closed = () =>
    new Promise<void>((resolvePromise) => {
      if (!app.server.listening) return resolvePromise();
      app.server.close(() => resolvePromise());
    });
  let serverClosed: Promise<void> | null = null;
  const app: App = {
    server: undefined as unknown as Server,
    yoga,
    routes: [],
    readiness: [{ name: 'database', check: () => services.database.ping() }],
    pending: new Map(),
    setStarted: () => {
      started = true;
    },
    listen: () =>
      new Promise((resolvePromise, reject) => {
        app.server.once('error', reject);
        app.server.listen(config.port, config.host, () => {
          app.server.off('error', reject);
          const address = app.server.address();
          const port = typeof address === 'object' && address ? address.port : config.port;
          resolvePromise({ port, host: config.host });
        });
      }),
    beginShutdown: () => {
      shuttingDown = true;
    },
    drain: (graceMs) => {
      draining ??= (async () => {
        serverClosed = closed(); // no new connections from here on
        // Idle keep-alive connections would hold close() open; busy ones close after their answer.
        app.server.closeIdleConnections();
        if (inFlight.size > 0) {
          await new Promise<void>((resolvePromise) => {
            const timer = setTimeout(resolvePromise, graceMs);
            timer.unref();
            onIdle = () => {
              clearTimeout(timer);
              resolvePromise();
            };
          });
          onIdle = null;
        }
        if (inFlight.size > 0) log.warn({ requests: inFlight.size, graceMs }, 'requests still running after the grace period');
        return { unfinished: inFlight.size };
      })();
      return draining;
    },
    close: () => {
      closing ??= (async () => {
        await app.drain(5000);
        // What is left: SSE streams (clients resume with afterSeq), requests past the grace period,
        // WebSockets the endpoint did not close. Idle connections that came back are closed too.
        app.server.closeIdleConnections();
        for (const res of streams) res.destroy();
        for (const socket of sockets) socket.destroy();
        await serverClosed;
        await yoga.dispose(); // plugins' timers (server/response-cache.ts)
      })();
      return closing;
    },
  };

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname === '/healthz') return sendJson(res, 200, { status: 'ok' });
    if (url.pathname === '/readyz') {
      // At once, without checks: the load balancer must stop sending traffic here.
      if (shuttingDown) return sendJson(res, 503, { status: 'shutting down' });
      const failures: Record<string, string> = {};
      if (!started) failures.startup = 'starting';
      await Promise.all(
        app.readiness.map(async (r) => {
          try {
            await withTimeout(r.check(), 2000);
          } catch (error) {
            failures[r.name] = (error as Error).message || 'unavailable';
          }
        }),
      );
      const ready = Object.keys(failures).length === 0;
      const pending = app.pending.size ? { pending: Object.fromEntries([...app.pending].map(([name, state]) => [name, state()])) } : {};
      return sendJson(res, ready ? 200 : 503, ready ? { status: 'ready', ...pending } : { status: 'unavailable', failures, ...pending });
    }
    let body: Buffer;
    try {
      body = req.method === 'GET' || req.method === 'HEAD' ? Buffer.alloc(0) : await readBody(req, config.maxBodyBytes);
    } catch (error) {
      if (error instanceof BodyTooLarge) {
        res.setHeader('connection', 'close');
        return sendJson(res, 413, {
          errors: [{ message: `Request body exceeds ${config.maxBodyBytes} bytes`, extensions: { code: 'BAD_USER_INPUT' } }],
        });
      }
      throw error;
    }
    if (url.pathname === '/graphql' && req.method === 'OPTIONS') {
      // A preflight, allowed or not, is a 204 (server/cors.ts says why); Safari waits for a body
      // on a 204 without Content-Length.
      res.writeHead(204, { ...corsHeaders(config.cors, req.headers, true), 'content-length': '0' });
      return void res.end();
    }
    for (const route of app.routes) if (await route(req, res, body)) return;
    if (url.pathname === '/graphql') return forwardToYoga(req, res, body, url, corsHeaders(config.cors, req.headers, false));
    if (url.pathname === '/metrics') return forwardToYoga(req, res, body, url, {});
    sendJson(res, 404, { error: 'not found' });
  }

  async function forwardToYoga(req: IncomingMessage, res: ServerResponse, body: Buffer, url: URL, cors: Record<string, string>) {
    const abort = new AbortController();
    // Only a client that left early aborts: abort() builds a DOMException, too dear for every request.
    res.on('close', () => {
      if (!res.writableFinished) abort.abort();
    });
    // Yoga's own fetch ponyfill: building an undici Request cost more than the rest of the HTTP path.
    const { Headers, Request } = yoga.fetchAPI;
    const headers = new Headers();
    for (const [key, value] of Object.entries(req.headers)) {
      if (value === undefined) continue;
      for (const v of Array.isArray(value) ? value : [value]) headers.append(key, v);
    }
    const request = new Request(`http://${req.headers.host ?? 'localhost'}${url.pathname}${url.search}`, {
      method: req.method ?? 'GET',
      headers,
      body: body.length > 0 ? (body as Uint8Array<ArrayBuffer>) : undefined,
      signal: abort.signal,
    });
    const response = await yoga.fetch(request, {});
    // Lower-cased: the fetch ponyfill's Headers keep the case they were given, so `Content-Length`
    // from a plugin and our `content-length` below would both go out (a duplicate length, which
    // Node's fetch refuses and strict proxies read as request smuggling).
    const outHeaders: Record<string, string | string[]> = { ...cors };
    response.headers.forEach((value, key) => {
      const name = key.toLowerCase();
      const previous = outHeaders[name];
      if (name === 'vary' && previous) outHeaders.vary = `${previous}, ${value}`;
      else if (name === 'set-cookie' && previous) outHeaders[name] = [previous, value].flat();
      else outHeaders[name] = value;
    });
    const contentType = response.headers.get('content-type') ?? '';
    if (!response.body || !/text\/event-stream|multipart\/mixed/.test(contentType)) {
      // One write for ordinary responses: headers and body leave in one packet.
      const body = Buffer.from(await response.arrayBuffer());
      outHeaders['content-length'] = String(body.length);
      res.writeHead(response.status, outHeaders);
      return void res.end(body);
    }
    res.writeHead(response.status, outHeaders);
    inFlight.delete(res);
    streams.add(res);
    if (inFlight.size === 0) onIdle?.();
    // Streams SSE subscriptions chunk by chunk; stops reading when the client goes away.
    const reader = response.body.getReader();
    res.on('close', () => void reader.cancel().catch(() => {}));
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (!res.write(value)) await new Promise((r) => res.once('drain', r));
    }
    res.end();
  }

  const tracing = config.telemetry !== null;
  app.server = createServer((req, res) => {
    if (tracing) return traceRequest(req, res, serve);
    serve(req, res);
  });
  function serve(req: IncomingMessage, res: ServerResponse) {
    const start = process.hrtime.bigint();
    inFlight.add(res);
    res.once('close', () => settled(res));
    // While shutting down, no connection is kept alive for a next request that may come too late.
    if (shuttingDown) res.setHeader('connection', 'close');
    res.on('finish', () => {
      if (req.url === '/healthz' || req.url === '/readyz') return;
      log.info(
        {
          method: req.method,
          path: (req.url ?? '').split('?')[0],
          status: res.statusCode,
          ms: Number(process.hrtime.bigint() - start) / 1e6,
        },
        'request',
      );
    });
    handle(req, res).catch((error) => {
      log.error({ err: error }, 'request failed');
      if (!res.headersSent) sendJson(res, 500, { errors: [{ message: 'Internal server error' }] });
      else res.destroy();
    });
  }
  app.server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  return app;
}

const TRACED_ROUTES = new Set(['/graphql', '/healthz', '/readyz', '/metrics', '/webhooks/push']);

/**
 * One server span per request (probes included), continuing an incoming `traceparent`. It records
 * the method, the path without its query string and the status: never a header or the body.
 */
function traceRequest(req: IncomingMessage, res: ServerResponse, serve: (req: IncomingMessage, res: ServerResponse) => void) {
  const path = (req.url ?? '/').split('?')[0]!;
  const method = req.method ?? 'GET';
  const parent = propagation.extract(context.active(), req.headers);
  // The span's name has the route only for the fixed ones: console asset paths would make names unbounded.
  const route = TRACED_ROUTES.has(path) ? path : undefined;
  const span = trace
    .getTracer('stageplane.http')
    .startSpan(
      route ? `${method} ${route}` : method,
      { kind: SpanKind.SERVER, attributes: { 'http.request.method': method, 'url.path': path, ...(route ? { 'http.route': route } : {}) } },
      parent,
    );
  let ended = false;
  const end = () => {
    if (ended) return;
    ended = true;
    span.setAttribute('http.response.status_code', res.statusCode);
    if (res.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
    if (!res.writableFinished) span.setAttribute('stageplane.aborted', true); // the client left first
    span.end();
  };
  res.once('finish', end);
  res.once('close', end);
  context.with(trace.setSpan(parent, span), () => serve(req, res));
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    promise.then(
      (v) => {
        clearTimeout(timer);
        resolvePromise(v);
      },
      (e) => {
        clearTimeout(timer);
        reject(e);
      },
    );
  });
}
