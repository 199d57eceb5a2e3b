// GraphQL over WebSocket (graphql-ws, subprotocol `graphql-transport-ws`) on /graphql, in the
// same http server as Yoga. Every operation goes through `yoga.getEnveloped`, so the same
// context, auth, graphql-armor limits, error masking and metrics apply as over HTTP and SSE.
//
// - Auth: `connectionParams.authorization` ("Bearer <token>") at connection_init. Missing: close
//   4401; invalid, expired, revoked: close 4403. Each operation re-authenticates through the
//   context (an expired token fails later operations with UNAUTHENTICATED).
// - At most `maxOperations` operations in flight per socket; one more fails alone.
// - Origin: a browser's upgrade from an origin neither the API's own nor in CORS_ORIGINS is
//   refused with 403 (server/cors.ts): WebSockets have no CORS, so this is what keeps a page
//   elsewhere from opening one. Clients without Origin (the CLI, scripts) are not browsers.
// - Keep-alive: a WebSocket ping every `keepAliveMs`; a peer that does not pong in time is cut.
// - A subscriber dropped as a slow consumer closes its socket with SLOW_CONSUMER_CLOSE_CODE.
// - Malformed protocol messages close only that socket (graphql-ws: 4400).
// - close(): every socket is closed with 1001 (clients reconnect elsewhere and resume).
// - A result shared by many subscribers (live/shared-executions.ts: one object per event and
//   selection) is serialized once: its JSON is made on first send and every subscriber's `next`
//   message is written around it (see sharedPayloads below). Live results of a shared
//   subscription skip graphql-ws and envelop altogether: each operation registers a DirectWriter
//   (live/transport-closer.ts) that writes its `next` messages to the socket itself; results with
//   errors keep graphql-ws' path.
import type { IncomingMessage } from 'node:http';
import { GraphQLError, type ExecutionArgs } from 'graphql';
import { MessageType, type Context as GraphQLWsContext } from 'graphql-ws';
import { useServer, type Extra } from 'graphql-ws/use/ws';
import { Counter, Gauge } from 'prom-client';
import { WebSocketServer, type WebSocket } from 'ws';
import { authenticate } from './auth.ts';
import { identityOf } from './oidc.ts';
import { isAllowedUpgrade } from './cors.ts';
import type { Services } from '../services/scope.ts';
import { subscribed, type Context } from './yoga.ts';
import { withRequestErrorCodes } from './error-codes.ts';
import { setDirectWriter, setTransportCloser, type DirectWriter } from '../live/transport-closer.ts';
import type { App } from './http.ts';

export interface WebSocketOptions {
  path: string;
  /** Interval of WebSocket pings; a peer silent for as long again is disconnected. */
  keepAliveMs: number;
  /** Operations (subscriptions, queries, mutations) in flight per socket. */
  maxOperations: number;
  /** Largest message accepted from a client, in bytes. */
  maxPayload: number;
  /** connection_init must arrive within this. */
  connectionInitWaitMs: number;
  /** On close(), how long sockets get to finish the closing handshake before they are cut. */
  closeGraceMs: number;
  /** After closing a slow consumer's socket, how long before it is cut if it does not read. */
  slowConsumerGraceMs: number;
}

export interface WebSocketEndpoint {
  server: WebSocketServer;
  /** Open sockets. */
  connections(): number;
  close(): Promise<void>;
}

type Enveloped = ReturnType<App['yoga']['getEnveloped']>;

/**
 * One serialization per result object, whatever the number of subscribers it goes to. graphql-ws
 * stringifies each `next` message itself, through our `jsonMessageReplacer`: for the message's
 * `payload` the replacer hands back a placeholder (so JSON.stringify does not walk the result
 * again) and keeps the result's JSON, made once per result object; the socket's `send`, which
 * graphql-ws calls synchronously with that very string, writes the message's own head and tail
 * (its id) around it. A message whose payload came from elsewhere passes as it was. Direct
 * writes (`json`, below) use the same JSON.
 */
function sharedPayloads(onSerialized: () => void) {
  const PLACEHOLDER = '\u0000stageplane-shared-payload';
  const tail = `"payload":${JSON.stringify(PLACEHOLDER)}}`;
  const jsonByResult = new WeakMap<object, string>();
  let pending: string | null = null; // the payload of the message being stringified right now
  const json = (value: object) => {
    let text = jsonByResult.get(value);
    if (text === undefined) {
      jsonByResult.set(value, (text = JSON.stringify(value)));
      onSerialized();
    }
    return text;
  };
  return {
    json,
    replacer(this: unknown, key: string, value: unknown) {
      const holder = this as { type?: unknown; id?: unknown };
      if (key !== 'payload' || holder.type !== 'next' || typeof holder.id !== 'string' || typeof value !== 'object' || value === null)
        return value;
      pending = json(value);
      return PLACEHOLDER;
    },
    /** Makes `socket.send` write a message that carries a placeholder with the payload's JSON. */
    wrap(socket: WebSocket) {
      const send = socket.send.bind(socket) as (data: unknown, options: { binary: boolean }, cb?: (err?: Error) => void) => void;
      socket.send = ((data: unknown, ...rest: unknown[]) => {
        const cb = rest.find((r) => typeof r === 'function') as ((err?: Error) => void) | undefined;
        const payload = pending;
        pending = null;
        if (payload !== null && typeof data === 'string' && data.endsWith(tail)) {
          return send(`${data.slice(0, -tail.length)}"payload":${payload}}`, { binary: false }, cb);
        }
        return send(data, { binary: false }, cb);
      }) as WebSocket['send'];
    },
  };
}

/**
 * The operation's DirectWriter (live/transport-closer.ts): its `next` messages written straight to
 * the socket, `{"id":…,"type":"next","payload":` + the result's JSON (once per result) + `}`, the
 * bytes graphql-ws would send. Nothing is written once the operation is no longer graphql-ws'
 * (complete from the client, cancelled, ended) or the socket is not open.
 */
function directWriter(
  ctx: GraphQLWsContext,
  id: string,
  socket: WebSocket,
  json: (result: object) => string,
  onWrite: () => void,
): DirectWriter {
  const head = `{"id":${JSON.stringify(id)},"type":"${MessageType.Next}","payload":`;
  return {
    live: () => socket.readyState === socket.OPEN && id in ctx.subscriptions,
    write(result, done) {
      onWrite();
      socket.send(`${head}${json(result)}}`, { binary: false }, () => done());
    },
  };
}

export function attachWebSocket(app: App, services: Services, overrides: Partial<WebSocketOptions> = {}): WebSocketEndpoint {
  const options: WebSocketOptions = {
    path: '/graphql',
    keepAliveMs: 12_000,
    maxOperations: 100,
    maxPayload: services.config.maxBodyBytes,
    connectionInitWaitMs: 5_000,
    closeGraceMs: 3_000,
    slowConsumerGraceMs: 10_000,
    ...overrides,
  };
  const log = services.log.child({ component: 'websocket' });
  const wss = new WebSocketServer({
    server: app.server,
    path: options.path,
    maxPayload: options.maxPayload,
    perMessageDeflate: false,
    verifyClient: ({ req }, done) => {
      if (isAllowedUpgrade(services.config.cors, req.headers, services.config.publicUrl)) return done(true);
      log.debug({ origin: req.headers.origin }, 'refused a WebSocket upgrade from an origin not allowed');
      done(false, 403, 'Forbidden: origin not allowed (CORS_ORIGINS)');
    },
  });
  // The enveloped functions of each operation, found again from its context in execute/subscribe
  // and forgotten then (a subscription's context lives as long as it does; its envelope need not).
  const envelopedByContext = new WeakMap<object, Enveloped>();
  const enveloped = (args: ExecutionArgs) => {
    const found = envelopedByContext.get(args.contextValue as object);
    if (!found) throw new Error('operation context without its envelope');
    envelopedByContext.delete(args.contextValue as object);
    return found;
  };

  const serialized = new Counter({
    name: 'stageplane_websocket_payloads_serialized_total',
    help: 'Results serialized for WebSocket `next` messages: once per result, however many subscribers share it',
    registers: [services.metrics],
  });
  const shared = sharedPayloads(() => serialized.inc());
  const directWrites = new Counter({
    name: 'stageplane_websocket_direct_writes_total',
    help: 'Live results of shared subscriptions written straight to their socket (not through graphql-ws)',
    registers: [services.metrics],
  });
  const countDirectWrite = () => directWrites.inc();
  // Before graphql-ws sends anything on it (useServer's own `connection` listener only registers).
  wss.on('connection', (socket: WebSocket) => shared.wrap(socket));

  useServer<Record<string, unknown>, Record<PropertyKey, never>>(
    {
      connectionInitWaitTimeout: options.connectionInitWaitMs,
      jsonMessageReplacer: shared.replacer,
      // The result object itself, not graphql-ws's per-subscriber copy of it: a result shared by
      // many subscribers is then one object, serialized once (sharedPayloads). Its errors are
      // GraphQLErrors, which JSON.stringify writes through their toJSON, as graphql-ws does.
      onNext: (_ctx, _id, _payload, _args, result) => result,
      async onConnect(ctx) {
        const authorization = ctx.connectionParams?.authorization;
        const socket = ctx.extra.socket;
        if (typeof authorization !== 'string' || authorization.trim() === '') {
          socket.close(4401, 'Unauthorized: connectionParams.authorization must be "Bearer <token>"');
          return false;
        }
        let auth;
        try {
          auth = await authenticate(services.database.db, services.config.jwtSecret, authorization, identityOf(services));
        } catch (error) {
          // An API token is looked up in the database; while that is down, say so (clients retry
          // 1013) without the driver's message, which graphql-ws would otherwise put in the reason.
          log.warn({ err: error }, 'could not authenticate a WebSocket connection');
          socket.close(1013, 'Try again later: authentication is unavailable');
          return false;
        }
        if (!auth.principal) {
          socket.close(4403, `Forbidden: ${auth.error}`.slice(0, 120));
          return false;
        }
        if (auth.principal.kind === 'callback') {
          socket.close(4403, 'Forbidden: a callback token may not open a connection');
          return false;
        }
        return true;
      },
      async onSubscribe(ctx, id, payload) {
        // ctx.subscriptions already holds this operation.
        if (Object.keys(ctx.subscriptions).length > options.maxOperations) {
          return [
            new GraphQLError(`At most ${options.maxOperations} operations may run at once on one connection`, {
              extensions: { code: 'PRECONDITION_FAILED' },
            }),
          ];
        }
        const authorization = ctx.connectionParams?.authorization;
        const env = app.yoga.getEnveloped({
          authorization: typeof authorization === 'string' ? authorization : null,
          params: payload,
          req: ctx.extra.request,
          socket: ctx.extra.socket,
        } as unknown as Parameters<App['yoga']['getEnveloped']>[0]);
        let document;
        try {
          document = env.parse(payload.query);
        } catch (error) {
          // Syntax errors and the token limit (graphql-armor hooks parse) fail the operation, not the
          // socket; like every request refusal, with BAD_USER_INPUT (server/error-codes.ts).
          return withRequestErrorCodes([
            error instanceof GraphQLError
              ? error
              : new GraphQLError('Could not parse the query', { extensions: { code: 'BAD_USER_INPUT' } }),
          ]);
        }
        let errors: readonly GraphQLError[];
        try {
          errors = env.validate(env.schema, document);
        } catch (error) {
          // graphql-armor's rules throw their rejection (depth, cost, aliases...).
          if (error instanceof GraphQLError) return withRequestErrorCodes([error]);
          throw error;
        }
        if (errors.length > 0) return withRequestErrorCodes(errors);
        let contextValue: Context;
        try {
          contextValue = (await env.contextFactory()) as unknown as Context;
        } catch (error) {
          log.error({ err: error }, 'building the operation context failed');
          return [new GraphQLError('Internal server error', { extensions: { code: 'INTERNAL_SERVER_ERROR' } })];
        }
        envelopedByContext.set(contextValue, env);
        const socket = ctx.extra.socket;
        setTransportCloser(contextValue, (code, reason) => closeSlowConsumer(socket, code, reason));
        // Live results of a shared subscription go straight to the socket (live/shared-executions.ts).
        setDirectWriter(contextValue, directWriter(ctx, id, socket, shared.json, countDirectWrite));
        return {
          schema: env.schema,
          document,
          operationName: payload.operationName ?? null,
          variableValues: payload.variables ?? null,
          contextValue,
        };
      },
      execute: (args) => enveloped(args).execute(args),
      async subscribe(args) {
        const result = await enveloped(args).subscribe(args);
        subscribed(args.contextValue as Context);
        return result;
      },
      onClose(_ctx, code) {
        log.debug({ code }, 'websocket closed');
      },
    },
    wss,
    options.keepAliveMs,
  );

  function closeSlowConsumer(socket: WebSocket, code: number, reason: string) {
    if (socket.readyState !== socket.OPEN) return;
    log.warn({ code }, 'closing a slow subscriber');
    // The close frame queues behind what the client has not read yet; a client that never reads
    // is cut after the grace period.
    socket.close(code, reason.slice(0, 120));
    const timer = setTimeout(() => socket.terminate(), options.slowConsumerGraceMs);
    timer.unref();
    socket.once('close', () => clearTimeout(timer));
  }

  new Gauge({
    name: 'stageplane_websocket_connections',
    help: 'Open GraphQL WebSocket connections',
    registers: [services.metrics],
    collect() {
      this.set(wss.clients.size);
    },
  });
  wss.on('error', (err) => log.error({ err }, 'websocket server error'));
  wss.on('connection', (_socket: WebSocket, _request: IncomingMessage) => {
    log.debug({ connections: wss.clients.size }, 'websocket opened');
  });

  let closing: Promise<void> | null = null;
  return {
    server: wss,
    connections: () => wss.clients.size,
    close() {
      closing ??= (async () => {
        const closed = new Promise<void>((resolve) => wss.close(() => resolve()));
        for (const socket of wss.clients) socket.close(1001, 'Server shutting down');
        const timeout = new Promise<void>((resolve) => setTimeout(resolve, options.closeGraceMs).unref());
        await Promise.race([closed, timeout]);
        for (const socket of wss.clients) socket.terminate();
        await closed;
      })();
      return closing;
    },
  };
}

export type { Extra };
