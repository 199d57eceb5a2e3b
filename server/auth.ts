// Authentication: a bearer token is an HS256 JWT signed with JWT_SECRET, an OIDC token of
// OIDC_ISSUER or of a trust policy's issuer (server/oidc.ts: routed by its unverified `iss`, then
// verified against that issuer's keys only), or an API token from createApiToken (looked up by
// its hash). Each becomes a Principal; anything else is refused.
import { errors as joseErrors, jwtVerify, SignJWT } from 'jose';
import type { Database } from '../db/client.ts';
import type { Role } from '../domain/types.ts';
import { ROLES } from '../domain/values.ts';
import type { Principal } from '../domain/permissions.ts';
import { API_TOKEN_PREFIX, principalOfApiToken } from '../services/access.ts';
import { deploymentOfCallbackToken } from '../domain/callback-token.ts';
import type { OidcIdentity } from './oidc.ts';

export type AuthResult = { principal: Principal; error: null } | { principal: null; error: string };

const isRole = (r: unknown): r is Role => typeof r === 'string' && (ROLES as readonly string[]).includes(r);

export function bearerToken(header: string | null | undefined): string | null {
  if (!header) return null;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match ? match[1]! : null;
}

/** `identity`: the process's OIDC verifier (server/oidc.ts `identityOf`); without it only JWT_SECRET JWTs. */
export async function authenticate(
  db: Database,
  secret: Uint8Array,
  authorization: string | null | undefined,
  identity?: OidcIdentity,
): Promise<AuthResult> {
  if (!authorization) return { principal: null, error: 'Missing Authorization: Bearer <token>' };
  const token = bearerToken(authorization);
  if (!token) return { principal: null, error: 'Authorization must be "Bearer <token>"' };
  if (token.startsWith(API_TOKEN_PREFIX)) return principalOfApiToken(db, token);
  if (token.startsWith('spcb_')) {
    const deploymentId = deploymentOfCallbackToken(secret, token);
    if (!deploymentId) return { principal: null, error: 'Token is invalid' };
    return { principal: { subject: `callback:${deploymentId}`, roles: [], kind: 'callback' }, error: null };
  }
  // A JWT whose `iss` names an OIDC issuer is that issuer's to verify (asymmetric keys only),
  // never JWT_SECRET's: an HS256 token signed with the issuer's public key goes nowhere.
  if (identity && (await identity.claims(token))) return identity.authenticate(token);
  return authenticateJwt(secret, token);
}

// Verified JWTs by token string, per secret, until their exp: the same token is verified with
// WebCrypto once, not on every request (it was ~6% of a query's CPU). Only successes are kept,
// and a cached one is refused again from its exp on, as jose would. Bounded: oldest out first.
const VERIFIED_CACHE_SIZE = 10_000;
const verifiedJwts = new WeakMap<Uint8Array, Map<string, { principal: Principal; expiresAtMs: number }>>();

async function authenticateJwt(secret: Uint8Array, token: string): Promise<AuthResult> {
  let cache = verifiedJwts.get(secret);
  if (!cache) verifiedJwts.set(secret, (cache = new Map()));
  const hit = cache.get(token);
  if (hit) {
    if (hit.expiresAtMs > Date.now()) return { principal: hit.principal, error: null };
    cache.delete(token);
    return { principal: null, error: 'Token has expired' };
  }
  const result = await verifyJwt(secret, token);
  if (result.principal && result.expiresAtMs !== undefined) {
    if (cache.size >= VERIFIED_CACHE_SIZE) cache.delete(cache.keys().next().value!);
    cache.set(token, { principal: result.principal, expiresAtMs: result.expiresAtMs });
  }
  return result.principal ? { principal: result.principal, error: null } : { principal: null, error: result.error! };
}

async function verifyJwt(
  secret: Uint8Array,
  token: string,
): Promise<{ principal: Principal; expiresAtMs?: number; error?: undefined } | { principal: null; error: string }> {
  try {
    // Only HS256: `alg: none` and every other algorithm are refused by jose here.
    const { payload } = await jwtVerify(token, secret, { algorithms: ['HS256'], requiredClaims: ['sub', 'exp'] });
    if (typeof payload.sub !== 'string' || payload.sub.length === 0) return { principal: null, error: 'Token has no subject' };
    const roles = payload.roles;
    if (!Array.isArray(roles) || !roles.every(isRole)) return { principal: null, error: 'Token roles must be a list of Role names' };
    const principal: Principal = Object.freeze({ subject: payload.sub, roles: Object.freeze([...new Set(roles)]) as Role[], kind: 'jwt' });
    return { principal, ...(typeof payload.exp === 'number' ? { expiresAtMs: payload.exp * 1000 } : {}) };
  } catch (error) {
    if (error instanceof joseErrors.JWTExpired) return { principal: null, error: 'Token has expired' };
    if (error instanceof joseErrors.JWTClaimValidationFailed) return { principal: null, error: `Token is invalid: ${error.claim} claim` };
    return { principal: null, error: 'Token is invalid' };
  }
}

/** Mints a JWT for local use (`npm run token`) and tests. */
export async function signToken(secret: Uint8Array, subject: string, roles: Role[], expiresIn = '12h'): Promise<string> {
  return new SignJWT({ roles })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(subject)
    .setIssuedAt()
    .setExpirationTime(expiresIn)
    .sign(secret);
}
