// A real OpenID provider on 127.0.0.1 for tests: oauth2-mock-server's issuer and request handler
// (discovery, JWKS, token endpoint) behind our own HTTP server, which counts the requests each
// path gets and can play an issuer that is down (connections reset) or hanging (never answers).
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { OAuth2Issuer, OAuth2Service, type JWK } from 'oauth2-mock-server';

export type IssuerMode = 'up' | 'down' | 'hang';

export interface TestIssuer {
  url: string;
  issuer: OAuth2Issuer;
  service: OAuth2Service;
  /** Requests per path (`/jwks`, `/.well-known/openid-configuration`, ...). */
  hits: Map<string, number>;
  mode: IssuerMode;
  /** A JWT signed by this issuer: `kid` picks the key; `claims` are merged into (or, when null, removed from) the payload. */
  token(claims?: Record<string, unknown>, opts?: { kid?: string; expiresIn?: number }): Promise<string>;
  generate(alg: string, kid: string): Promise<JWK>;
  stop(): Promise<void>;
}

export async function startIssuer(keys: { alg: string; kid: string }[]): Promise<TestIssuer> {
  const issuer = new OAuth2Issuer();
  for (const k of keys) await issuer.keys.generate(k.alg, { kid: k.kid });
  const service = new OAuth2Service(issuer);
  const handler = service.requestHandler;
  const hits = new Map<string, number>();
  const hanging = new Set<ServerResponse>();
  const state = { mode: 'up' as IssuerMode };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    hits.set(path, (hits.get(path) ?? 0) + 1);
    if (state.mode === 'down') return req.socket.destroy();
    if (state.mode === 'hang') return void hanging.add(res);
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  issuer.url = url;
  return {
    url,
    issuer,
    service,
    hits,
    get mode() {
      return state.mode;
    },
    set mode(mode: IssuerMode) {
      state.mode = mode;
      if (mode !== 'hang') for (const res of hanging) res.socket?.destroy();
      if (mode !== 'hang') hanging.clear();
    },
    token: (claims = {}, opts = {}) =>
      issuer.buildToken({
        ...(opts.kid ? { kid: opts.kid } : {}),
        ...(opts.expiresIn !== undefined ? { expiresIn: opts.expiresIn } : {}),
        scopesOrTransform: (_header, payload) => {
          for (const [k, v] of Object.entries(claims)) {
            if (v === null) delete payload[k];
            else payload[k] = v;
          }
        },
      }),
    generate: (alg, kid) => issuer.keys.generate(alg, { kid }),
    async stop() {
      for (const res of hanging) res.socket?.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
