// The pure identity rules (domain/identity.ts) and the OIDC_* configuration (config/index.ts).
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../config/index.ts';
import { issuerUrlProblem, rolesOfClaim, subjectMatcher } from '../../domain/identity.ts';

describe('subjectMatcher', () => {
  const matches = (pattern: string, subject: string) => subjectMatcher(pattern).test(subject);

  it('`*` matches any run of characters, `:` and `/` included, and none', () => {
    expect(matches('repo:acme/shop:*', 'repo:acme/shop:ref:refs/heads/main')).toBe(true);
    expect(matches('repo:acme/shop:*', 'repo:acme/shop:')).toBe(true);
    expect(matches('repo:*/shop:ref:refs/heads/main', 'repo:acme/x/shop:ref:refs/heads/main')).toBe(true);
    expect(matches('repo:acme/*:environment:prod', 'repo:acme/shop:environment:prod')).toBe(true);
  });

  it('is anchored at both ends', () => {
    expect(matches('repo:acme/shop', 'repo:acme/shop:ref:x')).toBe(false);
    expect(matches('repo:acme/shop', 'xrepo:acme/shop')).toBe(false);
    expect(matches('repo:acme/shop:*', 'repo:acme/shopping:ref:x')).toBe(false);
  });

  it('treats every other character literally, regex syntax included', () => {
    expect(matches('repo:acme/shop.js:*', 'repo:acme/shopXjs:ref')).toBe(false);
    expect(matches('repo:acme/shop.js:*', 'repo:acme/shop.js:ref')).toBe(true);
    for (const special of ['?', '+', '(', ')', '[', ']', '{2}', '^', '$', '|', '\\', '.']) {
      const pattern = `a${special}b`;
      expect(matches(pattern, pattern), pattern).toBe(true);
    }
    expect(matches('a?b', 'ab')).toBe(false);
    expect(matches('a[bc]d', 'abd')).toBe(false);
    expect(matches('a|b', 'a')).toBe(false);
    expect(matches('a*', 'a\nb')).toBe(true); // `*` is any run, newlines too (no special line mode)
  });
});

describe('issuerUrlProblem', () => {
  it('accepts https anywhere, http only on loopback outside production', () => {
    expect(issuerUrlProblem('https://token.actions.githubusercontent.com', true)).toBeNull();
    expect(issuerUrlProblem('https://login.example.com/realms/acme', true)).toBeNull();
    expect(issuerUrlProblem('http://127.0.0.1:8080', false)).toBeNull();
    expect(issuerUrlProblem('http://localhost:8080/idp', false)).toBeNull();
    expect(issuerUrlProblem('http://[::1]:8080', false)).toBeNull();
    expect(issuerUrlProblem('http://127.0.0.1:8080', true)).toMatch(/production/);
    expect(issuerUrlProblem('http://idp.example.com', false)).toMatch(/loopback/);
    expect(issuerUrlProblem('http://127.0.0.1.nip.io', false)).toMatch(/loopback/);
  });

  it('refuses what is not an issuer identifier', () => {
    for (const bad of [
      'idp.example.com',
      'ftp://idp.example.com',
      'https://idp.example.com?x=1',
      'https://idp.example.com#f',
      'https://u:p@idp.example.com',
      ' https://idp.example.com',
    ]) {
      expect(issuerUrlProblem(bad, false), bad).not.toBeNull();
    }
  });
});

describe('rolesOfClaim', () => {
  it('keeps Role names only, once each; a string is one entry; other shapes grant nothing', () => {
    expect(rolesOfClaim(['QA', 'qa', 'offline_access', 'QA', 'ADMIN'])).toEqual(['QA', 'ADMIN']);
    expect(rolesOfClaim('DEVELOPER')).toEqual(['DEVELOPER']);
    expect(rolesOfClaim({ ADMIN: true })).toEqual([]);
    expect(rolesOfClaim(undefined)).toEqual([]);
  });
});

describe('OIDC_* configuration', () => {
  const base = { NODE_ENV: 'test', JWT_SECRET: 'x'.repeat(32), DATA_DIR: '/tmp/stageplane-identity-unit' } as const;

  it('is off without OIDC_ISSUER, with the default claims when set', () => {
    expect(loadConfig({ ...base }).oidc).toBeNull();
    expect(loadConfig({ ...base, OIDC_ISSUER: 'https://idp.example.com', OIDC_AUDIENCE: 'stageplane' }).oidc).toEqual({
      issuer: 'https://idp.example.com',
      audience: 'stageplane',
      rolesClaim: 'roles',
      groupsClaim: 'groups',
      consoleClientId: undefined,
    });
  });

  it('refuses an issuer without its audience, companions without an issuer, and http outside loopback or in production', () => {
    expect(() => loadConfig({ ...base, OIDC_ISSUER: 'https://idp.example.com' })).toThrow(/OIDC_AUDIENCE: required/);
    expect(() => loadConfig({ ...base, OIDC_AUDIENCE: 'x' })).toThrow(/OIDC_AUDIENCE: needs OIDC_ISSUER/);
    expect(() => loadConfig({ ...base, OIDC_ISSUER: 'http://idp.example.com', OIDC_AUDIENCE: 'x' })).toThrow(/OIDC_ISSUER/);
    expect(() => loadConfig({ ...base, NODE_ENV: 'production', OIDC_ISSUER: 'http://127.0.0.1:9000', OIDC_AUDIENCE: 'x' })).toThrow(
      /OIDC_ISSUER: .*production/,
    );
    expect(loadConfig({ ...base, OIDC_ISSUER: 'http://127.0.0.1:9000', OIDC_AUDIENCE: 'x' }).oidc?.issuer).toBe('http://127.0.0.1:9000');
  });
});
