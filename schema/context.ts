// The per-request context every resolver receives, over HTTP, SSE and WebSocket alike. Beside
// the builder: the GraphQL layer says what it needs; server/yoga.ts (process wiring) builds it.
import { initContextCache } from '@pothos/core';
import type { Logger } from 'pino';
import type { Database } from '../db/client.ts';
import { unauthenticated } from '../domain/errors.ts';
import type { Principal } from '../domain/permissions.ts';
import type { Scope, Services } from '../services/scope.ts';

export type { Services };

export interface Context {
  db: Database;
  services: Services;
  /** Null when the request carried no valid token; `authError` then says why. */
  principal: Principal | null;
  authError: string | null;
  log: Logger;
  /** Per-request memo of shared reads (e.g. a project's configuration for several fields). */
  cache: Map<string, Promise<unknown>>;
  /**
   * The instant (ms since the epoch) this answer may change by the clock alone, with no write:
   * the response cache (server/response-cache.ts) keeps the answer no longer. Every resolver that
   * reads the clock must lower it (`changesBy`); Infinity when none did.
   */
  changesAt: number;
}

/** A new context's Pothos context-cache key (its own object, so that it can be renewed: subscribed). */
export const contextCacheKey = initContextCache;

/**
 * A subscription is subscribed: what its context holds for the subscribe step alone is let go
 * (its context lives as long as the subscription). A fresh Pothos context-cache key drops the
 * caches kept under the old one (scope-auth's scopes and grants, the drizzle plugin's loaders);
 * an event's execution starts its own. The memo of shared reads goes too.
 */
export function subscribed(ctx: Context): void {
  Object.assign(ctx, initContextCache());
  ctx.cache.clear();
}

/** Says that the answer being built may change at `at` without any write (null: never). */
export function changesBy(ctx: Context, at: Date | null): void {
  if (at !== null && at.getTime() < ctx.changesAt) ctx.changesAt = at.getTime();
}

export function cached<T>(ctx: Context, key: string, load: () => Promise<T>): Promise<T> {
  let hit = ctx.cache.get(key) as Promise<T> | undefined;
  if (!hit) {
    hit = load();
    ctx.cache.set(key, hit);
  }
  return hit;
}

/** The signed-in principal, or UNAUTHENTICATED. */
export function principalOf(ctx: Context): Principal {
  if (!ctx.principal) throw unauthenticated(ctx.authError ?? undefined);
  return ctx.principal;
}

/** What a use case of services/ is given for this request: UNAUTHENTICATED without a principal. */
export function scopeOf(ctx: Context): Scope {
  return { db: ctx.db, actor: principalOf(ctx), services: ctx.services };
}
