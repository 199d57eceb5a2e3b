// Per-deployment callback tokens for WEBHOOK receivers: derived from a server key, so a retried
// webhook carries the same token and nothing needs storing; accepted only for that deployment.
import { createHmac, timingSafeEqual } from 'node:crypto';

const CALLBACK_PREFIX = 'spcb_';

/** The token a WEBHOOK receiver uses for one deployment: derived, so retries send the same one. */
export function callbackTokenFor(key: Uint8Array, deploymentId: string): string {
  return `${CALLBACK_PREFIX}${deploymentId}_${createHmac('sha256', key).update(`callback:${deploymentId}`).digest('base64url')}`;
}

/** The deployment a callback token belongs to, or null for anything else. */
export function deploymentOfCallbackToken(key: Uint8Array, token: string): string | null {
  const m = /^spcb_([0-9a-f-]{36})_([A-Za-z0-9_-]{43})$/.exec(token);
  if (!m) return null;
  const expected = Buffer.from(callbackTokenFor(key, m[1]!));
  const given = Buffer.from(token);
  return expected.length === given.length && timingSafeEqual(expected, given) ? m[1]! : null;
}
