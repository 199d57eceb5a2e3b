// A plain GraphQL-over-HTTP client for a server at a URL (child processes, replicas).
import type { Role } from '../../domain/types.ts';
import { signToken } from '../../server/auth.ts';

export function jwtFor(secret: string, subject: string, roles: Role[]) {
  return signToken(new TextEncoder().encode(secret), subject, roles, '1h');
}

export async function gqlAt(url: string, token: string, query: string, variables: Record<string, unknown> = {}) {
  const r = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
  });
  return (await r.json()) as { data?: any; errors?: { message: string; extensions?: { code?: string } }[] };
}

/** Tokens every endpoint must refuse, derived from a good one: forged signature, `alg: none`, expired. */
export async function badJwts(goodToken: string, secret: Uint8Array) {
  const [header, payload] = goodToken.split('.');
  const { SignJWT } = await import('jose');
  return {
    forged: `${header}.${payload}.${'A'.repeat(43)}`,
    none: `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')}.${payload}.`,
    expired: await new SignJWT({ roles: ['ADMIN'] })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('old')
      .setExpirationTime(Math.floor(Date.now() / 1000) - 60)
      .sign(secret),
  };
}
