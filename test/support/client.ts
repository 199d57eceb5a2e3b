// A plain GraphQL-over-HTTP client for a server at a URL (child processes, replicas).
import { SignJWT } from 'jose';
import type { Role } from '../../domain/types.ts';

export function jwtFor(secret: string, subject: string, roles: Role[]) {
  return new SignJWT({ roles })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(subject)
    .setExpirationTime('1h')
    .sign(new TextEncoder().encode(secret));
}

export async function gqlAt(url: string, token: string, query: string, variables: Record<string, unknown> = {}) {
  const r = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
  });
  return (await r.json()) as { data?: any; errors?: { message: string; extensions?: { code?: string } }[] };
}
