// Rules of identity that need no I/O: which issuer URLs are acceptable, how a trust policy's
// subject glob matches, and which claim values become roles. server/oidc.ts (verification),
// config/ (OIDC_ISSUER) and services/trust-policies.ts (createTrustPolicy) share them.
import type { Role } from './types.ts';
import { isOneOf, ROLES } from './values.ts';

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/**
 * Why `value` is not an acceptable OpenID issuer URL, or null. The contract: https, or http on a
 * loopback address outside production. No query or fragment (OpenID Connect Discovery 1.0 §2),
 * no user info.
 */
export function issuerUrlProblem(value: string, production: boolean): string | null {
  // Compared as is with a token's `iss`: the URL parser would trim what `iss` never has.
  if (/\s/.test(value)) return 'must not contain spaces';
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return 'must be an absolute https:// URL';
  }
  const loopback = LOOPBACK_HOSTS.has(url.hostname) || /^127(\.\d{1,3}){3}$/.test(url.hostname);
  if (url.protocol === 'http:') {
    if (production) return 'must be an https:// URL (http:// is refused when NODE_ENV=production)';
    if (!loopback) return 'must be an https:// URL (http:// only for loopback addresses)';
  } else if (url.protocol !== 'https:') return 'must be an https:// URL';
  if (url.username || url.password) return 'must not contain user info';
  if (url.search || url.hash || value.includes('?') || value.includes('#')) return 'must not have a query or fragment';
  return null;
}

/** The discovery document of an issuer: `<issuer>/.well-known/openid-configuration`, the issuer's own path kept. */
export function discoveryUrl(issuer: string): string {
  return `${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
}

/**
 * A trust policy's subject glob as a whole-string RegExp: `*` matches any run of characters
 * (including none, and `:` and `/`); every other character is itself.
 */
export function subjectMatcher(pattern: string): RegExp {
  const body = pattern
    .split('*')
    .map((part) => part.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&'))
    .join('.*');
  return new RegExp(`^${body}$`, 's');
}

/**
 * The Role names in a roles claim. Entries that are not Role names are ignored: an identity
 * provider's roles claim commonly carries other applications' roles too, and refusing the whole
 * token for them would lock those users out. A single string counts as a one-entry list; any
 * other shape grants no role.
 */
export function rolesOfClaim(value: unknown): Role[] {
  const entries = typeof value === 'string' ? [value] : Array.isArray(value) ? value : [];
  return [...new Set(entries.filter((e): e is Role => typeof e === 'string' && isOneOf(ROLES, e)))];
}

/** The group names in a groups claim: strings only, a single string as one group. */
export function groupsOfClaim(value: unknown): string[] {
  const entries = typeof value === 'string' ? [value] : Array.isArray(value) ? value : [];
  return [...new Set(entries.filter((e): e is string => typeof e === 'string' && e.length > 0))];
}
