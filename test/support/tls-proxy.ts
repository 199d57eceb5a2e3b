// Secured front doors for a plaintext Temporal dev server, as a secured cluster or Temporal Cloud
// would present them, on 127.0.0.1:
// - tlsTerminator: node:tls (mTLS when a client CA is given) piping the bytes to the dev server;
// - apiKeyProxy: a node:http2 TLS server proxying each gRPC stream to the dev server, answering
//   UNAUTHENTICATED (gRPC status 16) unless the call carries `authorization: Bearer <key>` — the
//   check Temporal Cloud makes, so the test sees the key the SDK really sends.
import { connect as http2Connect, constants, createSecureServer, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http2';
import { connect as netConnect, type AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { createServer as createTlsServer } from 'node:tls';

export interface SecuredProxy {
  address: string;
  /** Handshakes that failed, with the reason node:tls gave (e.g. an expired client certificate). */
  tlsErrors: string[];
  /** The authorization header of each gRPC call the API-key proxy saw. */
  authorizations: string[];
  /** Completed TLS handshakes (with a client certificate the CA signed, for mTLS). */
  readonly secured: number;
  close(): Promise<void>;
}

function split(address: string) {
  const i = address.lastIndexOf(':');
  return { host: address.slice(0, i), port: Number(address.slice(i + 1)) };
}

export async function tlsTerminator(options: { target: string; cert: string; key: string; clientCa?: string }): Promise<SecuredProxy> {
  const target = split(options.target);
  const tlsErrors: string[] = [];
  let secured = 0;
  const sockets = new Set<import('node:net').Socket>();
  const server = createTlsServer(
    {
      cert: readFileSync(options.cert),
      key: readFileSync(options.key),
      ...(options.clientCa ? { ca: readFileSync(options.clientCa), requestCert: true, rejectUnauthorized: true } : {}),
      ALPNProtocols: ['h2'], // gRPC clients (rustls, grpc-js) insist on h2
    },
    (client) => {
      secured++;
      const upstream = netConnect(target.port, target.host);
      sockets.add(client).add(upstream);
      client.on('close', () => sockets.delete(client));
      upstream.on('close', () => sockets.delete(upstream));
      client.pipe(upstream).pipe(client);
      client.on('error', () => upstream.destroy());
      upstream.on('error', () => client.destroy());
    },
  );
  server.on('tlsClientError', (err) => tlsErrors.push(err.message));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    address: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    tlsErrors,
    authorizations: [],
    get secured() {
      return secured;
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

const HOP_BY_HOP = new Set([':authority', ':scheme', 'connection', 'keep-alive', 'transfer-encoding', 'upgrade']);

export async function apiKeyProxy(options: { target: string; cert: string; key: string; apiKey: string }): Promise<SecuredProxy> {
  const authorizations: string[] = [];
  const tlsErrors: string[] = [];
  let secured = 0;
  const upstream = http2Connect(`http://${options.target}`);
  upstream.on('error', () => {});
  const server = createSecureServer({ cert: readFileSync(options.cert), key: readFileSync(options.key) });
  server.on('tlsClientError', (err) => tlsErrors.push(err.message));
  const sessions = new Set<import('node:http2').ServerHttp2Session>();
  server.on('session', (session) => {
    secured++;
    sessions.add(session);
    session.on('close', () => sessions.delete(session));
  });
  server.on('stream', (stream, headers) => {
    const authorization = String(headers.authorization ?? '');
    authorizations.push(authorization);
    stream.on('error', () => {});
    if (authorization !== `Bearer ${options.apiKey}`) {
      // A trailers-only gRPC answer, as Temporal Cloud gives a call without a valid key.
      stream.respond({
        ':status': 200,
        'content-type': 'application/grpc',
        'grpc-status': String(16),
        'grpc-message': 'Request unauthorized.',
      });
      stream.end();
      return;
    }
    const forward: OutgoingHttpHeaders = {};
    for (const [name, value] of Object.entries(headers)) if (!HOP_BY_HOP.has(name)) forward[name] = value;
    const call = upstream.request(forward, { waitForTrailers: false });
    call.on('error', () => stream.destroy());
    stream.on('close', () => {
      if (!call.closed) call.close(constants.NGHTTP2_CANCEL);
    });
    let trailers: IncomingHttpHeaders | null = null;
    call.on('response', (response, flags) => {
      const out: OutgoingHttpHeaders = {};
      for (const [name, value] of Object.entries(response)) if (!HOP_BY_HOP.has(name)) out[name] = value;
      // END_STREAM on the headers: a trailers-only answer (an error status); pass it on as such.
      if (flags & constants.NGHTTP2_FLAG_END_STREAM) {
        stream.respond(out, { endStream: true });
        return;
      }
      stream.respond(out, { waitForTrailers: true });
      call.pipe(stream);
    });
    call.on('trailers', (t) => {
      trailers = t;
    });
    stream.on('wantTrailers', () => {
      const out: OutgoingHttpHeaders = {};
      for (const [name, value] of Object.entries(trailers ?? { 'grpc-status': '0' })) if (!name.startsWith(':')) out[name] = value;
      stream.sendTrailers(out);
    });
    stream.pipe(call);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    address: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    tlsErrors,
    authorizations,
    get secured() {
      return secured;
    },
    close: async () => {
      upstream.destroy();
      // A still-connected client's session would hold close() open.
      for (const session of sessions) session.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
