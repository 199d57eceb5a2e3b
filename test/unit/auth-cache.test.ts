// The verified-JWT cache in server/auth.ts must never widen what a token may do: a cached token
// still expires at its exp, a token signed with another secret is not taken from the cache, and a
// tampered copy of a cached token is verified (and refused) on its own.
import { SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { authenticate, signToken } from '../../server/auth.ts';
import type { Database } from '../../db/client.ts';

const noDatabase = null as unknown as Database; // JWTs never touch the database
const secret = new TextEncoder().encode('unit-secret-that-is-long-enough-for-hs256-0123456789');

describe('verified JWT cache', () => {
  it('answers a repeated token from the cache, and refuses it from its exp on', async () => {
    const token = await new SignJWT({ roles: ['DEVELOPER'] })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('ana')
      .setExpirationTime(Math.floor(Date.now() / 1000) + 2)
      .sign(secret);
    const first = await authenticate(noDatabase, secret, `Bearer ${token}`);
    expect(first.principal).toMatchObject({ subject: 'ana', roles: ['DEVELOPER'], kind: 'jwt' });
    const again = await authenticate(noDatabase, secret, `Bearer ${token}`);
    expect(again.principal).toEqual(first.principal);
    await new Promise((r) => setTimeout(r, 2100));
    expect(await authenticate(noDatabase, secret, `Bearer ${token}`)).toEqual({ principal: null, error: 'Token has expired' });
  });

  it('does not accept a cached token under another secret', async () => {
    const token = await signToken(secret, 'ana', ['ADMIN']);
    expect((await authenticate(noDatabase, secret, `Bearer ${token}`)).principal).not.toBeNull();
    const other = new TextEncoder().encode('another-secret-that-is-long-enough-for-hs256-987654321');
    expect(await authenticate(noDatabase, other, `Bearer ${token}`)).toEqual({ principal: null, error: 'Token is invalid' });
  });

  it('verifies a tampered copy of a cached token on its own and refuses it', async () => {
    const token = await signToken(secret, 'ana', ['DEVELOPER']);
    expect((await authenticate(noDatabase, secret, `Bearer ${token}`)).principal).not.toBeNull();
    const [header, , signature] = token.split('.');
    const payload = Buffer.from(JSON.stringify({ sub: 'ana', roles: ['ADMIN'], exp: Math.floor(Date.now() / 1000) + 3600 })).toString(
      'base64url',
    );
    expect(await authenticate(noDatabase, secret, `Bearer ${header}.${payload}.${signature}`)).toEqual({
      principal: null,
      error: 'Token is invalid',
    });
  });

  it('hands out principals nobody can change', async () => {
    const token = await signToken(secret, 'ana', ['DEVELOPER']);
    const { principal } = await authenticate(noDatabase, secret, `Bearer ${token}`);
    expect(() => (principal!.roles as string[]).push('ADMIN')).toThrow(TypeError);
    expect((await authenticate(noDatabase, secret, `Bearer ${token}`)).principal!.roles).toEqual(['DEVELOPER']);
  });
});
