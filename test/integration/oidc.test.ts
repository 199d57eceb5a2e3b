// OIDC bearer tokens against real OpenID providers on 127.0.0.1 (oauth2-mock-server: discovery,
// JWKS, keys RSA, EC and Ed25519 generated here): people signed in through OIDC_ISSUER, the
// classic attacks, key rotation with jose's 30 s cooldown, an issuer that is down or hangs while
// everything else keeps serving, and JWT_SECRET and API tokens working unchanged beside them.
import { createPublicKey } from 'node:crypto';
import { generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pino from 'pino';
import { createDatabase } from '../../db/client.ts';
import { JWKS_COOLDOWN_MS, OidcIdentity } from '../../server/oidc.ts';
import { createTestDatabase } from '../support/database.ts';
import { startIssuer, type TestIssuer } from '../support/oidc-issuer.ts';
import { codeOf, startTestServer, type TestServer } from '../support/server.ts';

const AUDIENCE = 'stageplane';
let idp: TestIssuer;
let other: TestIssuer;
let server: TestServer;
let dropDb: () => Promise<void>;
let dbUrl: string;
let apiToken: string;
let secretToken: string;

const VIEWER = `query { viewer { subject roles issuer } }`;
const viewerWith = (token: string) => server.gql(VIEWER, {}, token);
const person = (claims: Record<string, unknown> = {}, opts: { kid?: string; expiresIn?: number } = {}) =>
  idp.token({ sub: 'ana@example.com', aud: AUDIENCE, roles: ['DEVELOPER'], groups: ['shop-team'], ...claims }, opts);

/** The other tokens must keep working whatever the OIDC side is doing. */
async function othersStillServe() {
  const bySecret = await viewerWith(secretToken);
  expect(bySecret.data?.viewer).toEqual({ subject: 'local-admin', roles: ['ADMIN'], issuer: null });
  const byApiToken = await viewerWith(apiToken);
  expect(byApiToken.data?.viewer).toEqual({ subject: 'token:ci-classic', roles: ['VIEWER'], issuer: null });
}

beforeAll(async () => {
  idp = await startIssuer([
    { alg: 'RS256', kid: 'rsa-1' },
    { alg: 'ES256', kid: 'ec-1' },
  ]);
  other = await startIssuer([{ alg: 'RS256', kid: 'other-rsa' }]);
  const db = await createTestDatabase();
  dropDb = db.drop;
  dbUrl = db.url;
  server = await startTestServer({ databaseUrl: db.url, env: { OIDC_ISSUER: idp.url, OIDC_AUDIENCE: AUDIENCE } });
  secretToken = await server.token('local-admin', ['ADMIN']);
  const created = await server.gql(`mutation { createApiToken(input: { name: "ci-classic", roles: [VIEWER] }) { token } }`);
  apiToken = created.data.createApiToken.token;
}, 60_000);

afterAll(async () => {
  await server?.stop();
  await idp?.stop();
  await other?.stop();
  await dropDb?.();
});

describe('people signed in through OIDC_ISSUER', () => {
  it('accepts RS256 and ES256 tokens of the issuer, with roles from the roles claim and its issuer on the viewer', async () => {
    for (const kid of ['rsa-1', 'ec-1']) {
      const r = await viewerWith(await person({}, { kid }));
      expect(r.errors).toBeUndefined();
      expect(r.data.viewer).toEqual({ subject: 'ana@example.com', roles: ['DEVELOPER'], issuer: idp.url });
    }
    // Discovered once, its key set fetched once, for both tokens.
    expect(idp.hits.get('/.well-known/openid-configuration')).toBe(1);
    expect(idp.hits.get('/jwks')).toBe(1);
  });

  it('ignores entries of the roles claim that are not Role names, and a missing claim grants no global role', async () => {
    const mixed = await viewerWith(await person({ sub: 'bo', roles: ['QA', 'billing-admin', 42, 'ADMIN '] }));
    expect(mixed.data.viewer.roles).toEqual(['QA']);
    const none = await viewerWith(await person({ sub: 'cy', roles: null }));
    // Authenticated (not UNAUTHENTICATED): with no role anywhere it may read nothing.
    expect(codeOf(none)).toBe('FORBIDDEN');
  });

  it('reads groups from OIDC_GROUPS_CLAIM and roles from OIDC_ROLES_CLAIM, whatever their names', async () => {
    const handle = await createDatabase({ url: dbUrl, dataDir: '/tmp', poolSize: 1 });
    try {
      const log = pino({ level: 'silent' });
      const standard = new OidcIdentity(handle.db, server.config.oidc, log);
      const r = await standard.authenticate(await person({ groups: ['shop-team', 7, '', 'ops', 'ops'] }));
      expect(r.principal).toEqual({
        subject: 'ana@example.com',
        roles: ['DEVELOPER'],
        groups: ['shop-team', 'ops'],
        kind: 'oidc',
        issuer: idp.url,
      });
      expect(r.principal?.boundTo).toBeUndefined();
      const custom = new OidcIdentity(
        handle.db,
        { ...server.config.oidc!, rolesClaim: 'https://stageplane.example.com/roles', groupsClaim: 'teams' },
        log,
      );
      const token = await person({ 'https://stageplane.example.com/roles': ['QA'], teams: 'payments', roles: ['ADMIN'] });
      expect((await custom.authenticate(token)).principal).toMatchObject({ roles: ['QA'], groups: ['payments'] });
    } finally {
      await handle.close();
    }
  });

  it('uses the verified-token cache: the same token again is not fetched or verified anew, and stops at its exp', async () => {
    const token = await person({ sub: 'short' }, { expiresIn: 2 });
    expect((await viewerWith(token)).data.viewer.subject).toBe('short');
    expect((await viewerWith(token)).data.viewer.subject).toBe('short');
    await new Promise((r) => setTimeout(r, 2100));
    const late = await viewerWith(token);
    expect(codeOf(late)).toBe('UNAUTHENTICATED');
    expect(late.errors![0]!.message).toMatch(/expired/);
  });
});

describe('the classic attacks get UNAUTHENTICATED and the server keeps serving', () => {
  const refused = async (token: string, message?: RegExp) => {
    const r = await viewerWith(token);
    expect(codeOf(r), JSON.stringify(r.errors)).toBe('UNAUTHENTICATED');
    expect(r.status).toBe(401);
    if (message) expect(r.errors![0]!.message).toMatch(message);
    await othersStillServe();
  };

  it('HS256 signed with the issuer public key (algorithm confusion)', async () => {
    const jwk = idp.issuer.keys.get('rsa-1')!;
    const pem = createPublicKey({ key: { kty: 'RSA', n: jwk.n as string, e: jwk.e as string }, format: 'jwk' }).export({
      type: 'spki',
      format: 'pem',
    });
    for (const secret of [Buffer.from(pem as string), Buffer.from(JSON.stringify({ kty: 'RSA', n: jwk.n, e: jwk.e }))]) {
      const forged = await new SignJWT({ roles: ['ADMIN'] })
        .setProtectedHeader({ alg: 'HS256', kid: 'rsa-1' })
        .setIssuer(idp.url)
        .setAudience(AUDIENCE)
        .setSubject('mallory')
        .setExpirationTime('1h')
        .sign(secret);
      await refused(forged, /algorithm/);
    }
  });

  it('an HS256 token signed with JWT_SECRET itself but naming the OIDC issuer is the issuer’s to verify, not the secret’s', async () => {
    const token = await new SignJWT({ roles: ['ADMIN'] })
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer(idp.url)
      .setAudience(AUDIENCE)
      .setSubject('mallory')
      .setExpirationTime('1h')
      .sign(server.config.jwtSecret);
    await refused(token);
  });

  it('alg: none', async () => {
    const good = await person();
    const [, payload] = good.split('.');
    const header = Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT', kid: 'rsa-1' })).toString('base64url');
    await refused(`${header}.${payload}.`);
    const payloadAdmin = Buffer.from(
      JSON.stringify({ iss: idp.url, aud: AUDIENCE, sub: 'mallory', roles: ['ADMIN'], exp: Math.floor(Date.now() / 1000) + 600 }),
    ).toString('base64url');
    await refused(`${header}.${payloadAdmin}.`);
  });

  it('a token of another issuer with a valid signature, under its own iss and under OIDC_ISSUER’s', async () => {
    await refused(await other.token({ sub: 'ana@example.com', aud: AUDIENCE, roles: ['ADMIN'] }));
    await refused(await other.token({ iss: idp.url, sub: 'ana@example.com', aud: AUDIENCE, roles: ['ADMIN'] }));
  });

  it('a kid that is not in the set, and a key not in the set under a kid that is', async () => {
    const { privateKey } = await generateKeyPair('RS256');
    for (const kid of ['rogue', 'rsa-1']) {
      const token = await new SignJWT({ roles: ['ADMIN'] })
        .setProtectedHeader({ alg: 'RS256', kid })
        .setIssuer(idp.url)
        .setAudience(AUDIENCE)
        .setSubject('mallory')
        .setExpirationTime('1h')
        .sign(privateKey);
      await refused(token);
    }
  });

  it('expired, nbf in the future, wrong aud, no aud, no exp, tampered payload', async () => {
    await refused(await person({}, { expiresIn: -60 }), /expired/);
    await refused(await person({ nbf: Math.floor(Date.now() / 1000) + 600 }), /not yet valid/);
    await refused(await person({ aud: 'someone-else' }), /aud/);
    await refused(await person({ aud: null }), /aud/);
    await refused(await person({ exp: null }), /exp/);
    const [h, , s] = (await person()).split('.');
    const p = Buffer.from(JSON.stringify({ iss: idp.url, aud: AUDIENCE, sub: 'ana', roles: ['ADMIN'], exp: 9999999999 })).toString(
      'base64url',
    );
    await refused(`${h}.${p}.${s}`, /signature/);
  });
});

describe('key rotation and the JWKS cooldown', () => {
  it(
    'refetches for an unknown kid at most once per 30 s, and accepts a rotated key after one refetch',
    async () => {
      const fetches = () => idp.hits.get('/jwks') ?? 0;
      // A kid unknown to the cached set while the cooldown runs: refused, no refetch at all.
      await idp.generate('ES256', 'ec-2');
      const rotated = await person({ sub: 'rotated' }, { kid: 'ec-2' });
      const before = fetches();
      const started = Date.now();
      // The last fetch was at most a few seconds ago (the tests above): within the cooldown.
      for (let i = 0; i < 5; i++) expect(codeOf(await viewerWith(rotated))).toBe('UNAUTHENTICATED');
      expect(fetches()).toBe(before);
      // Once 30 s have passed since that fetch, the next unknown kid refetches once and finds the new key.
      await new Promise((r) => setTimeout(r, JWKS_COOLDOWN_MS - (Date.now() - started) + 500));
      const r = await viewerWith(rotated);
      expect(r.errors).toBeUndefined();
      expect(r.data.viewer.subject).toBe('rotated');
      expect(fetches()).toBe(before + 1);
      // Right after that refetch, a kid still unknown is refused without another one.
      const { privateKey } = await generateKeyPair('ES256');
      const rogue = await new SignJWT({})
        .setProtectedHeader({ alg: 'ES256', kid: 'ec-3' })
        .setIssuer(idp.url)
        .setAudience(AUDIENCE)
        .setSubject('mallory')
        .setExpirationTime('1h')
        .sign(privateKey);
      for (let i = 0; i < 3; i++) expect(codeOf(await viewerWith(rogue))).toBe('UNAUTHENTICATED');
      expect(fetches()).toBe(before + 1);
      // The older keys keep working from the refreshed set.
      expect((await viewerWith(await person({}, { kid: 'rsa-1' }))).errors).toBeUndefined();
    },
    JWKS_COOLDOWN_MS + 20_000,
  );
});

describe('an issuer that cannot be reached', () => {
  it('fails only the tokens that need it; JWT_SECRET, API tokens and cached keys keep serving', async () => {
    // A second API server whose OIDC_ISSUER hangs: the discovery never answers.
    const db = await createTestDatabase();
    const hanging = await startIssuer([{ alg: 'RS256', kid: 'h' }]);
    const lone = await startTestServer({ databaseUrl: db.url, env: { OIDC_ISSUER: hanging.url, OIDC_AUDIENCE: AUDIENCE } });
    try {
      const token = await hanging.token({ sub: 'ana', aud: AUDIENCE, roles: ['ADMIN'] });
      hanging.mode = 'hang';
      const pending = lone.gql(VIEWER, {}, token);
      // Meanwhile everything else is served at once.
      const t0 = Date.now();
      const bySecret = await lone.gql(VIEWER, {}, await lone.token('local', ['VIEWER']));
      expect(bySecret.data.viewer.subject).toBe('local');
      const created = await lone.gql(`mutation { createApiToken(input: { name: "x", roles: [VIEWER] }) { token } }`);
      expect((await lone.gql(VIEWER, {}, created.data.createApiToken.token)).data.viewer.subject).toBe('token:x');
      expect(Date.now() - t0).toBeLessThan(2_000);
      const r = await pending;
      expect(codeOf(r)).toBe('UNAUTHENTICATED');
      expect(r.errors![0]!.message).toMatch(/unreachable/);
      // Down (connections reset): refused at once, not an internal error.
      hanging.mode = 'down';
      await new Promise((r) => setTimeout(r, 5_100)); // past the discovery retry pause
      const down = await lone.gql(VIEWER, {}, token);
      expect(codeOf(down)).toBe('UNAUTHENTICATED');
      // Back up: the next try after the pause discovers it and the token works.
      hanging.mode = 'up';
      await new Promise((r) => setTimeout(r, 5_100));
      expect((await lone.gql(VIEWER, {}, token)).data?.viewer).toEqual({ subject: 'ana', roles: ['ADMIN'], issuer: hanging.url });
      expect(lone.logs.join('')).not.toContain(token);
    } finally {
      await lone.stop();
      await hanging.stop();
      await db.drop();
    }
  }, 40_000);

  it('with its key set cached, an issuer going down fails only tokens whose kid needs a refetch', async () => {
    idp.mode = 'down';
    try {
      const r = await viewerWith(await person({ sub: 'cached-keys' }, { kid: 'ec-1' }));
      expect(r.data?.viewer.subject).toBe('cached-keys');
      const { privateKey } = await generateKeyPair('RS256');
      const unknown = await new SignJWT({})
        .setProtectedHeader({ alg: 'RS256', kid: 'not-yet-published' })
        .setIssuer(idp.url)
        .setAudience(AUDIENCE)
        .setSubject('x')
        .setExpirationTime('1h')
        .sign(privateKey);
      expect(codeOf(await viewerWith(unknown))).toBe('UNAUTHENTICATED');
      await othersStillServe();
    } finally {
      idp.mode = 'up';
    }
  });
});
