// The per-request context every resolver receives, over HTTP, SSE and WebSocket alike.
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Database, DatabaseHandle } from '../db/client.ts';
import type { Principal } from '../domain/permissions.ts';
import type { SecretStore } from '../secrets/store.ts';
import type { WorkflowGateway } from '../workflows/client.ts';
import type { Config } from '../config/index.ts';
import type { EventHub } from './events.ts';

/** What lives for the whole process and is shared by every request. */
export interface Services {
  config: Config;
  database: DatabaseHandle;
  log: Logger;
  /** The process's Prometheus metrics, served on /metrics. */
  metrics: Registry;
  /** The process's live-event fan-out (subscriptions). */
  events: EventHub;
  /**
   * Where secret values live (SECRETS_BACKEND). server/main.ts always sets it; optional only so
   * harnesses that build Services by hand without secrets keep compiling (secret mutations then
   * fail as an internal error).
   */
  secrets?: SecretStore;
  /** Starts and messages deployment workflows; absent in processes without Temporal. */
  workflows?: WorkflowGateway;
}

export interface Context {
  db: Database;
  services: Services;
  /** Null when the request carried no valid token; `authError` then says why. */
  principal: Principal | null;
  authError: string | null;
  log: Logger;
  /** Per-request memo of shared reads (e.g. a project's configuration for several fields). */
  cache: Map<string, Promise<unknown>>;
}

export function cached<T>(ctx: Context, key: string, load: () => Promise<T>): Promise<T> {
  let hit = ctx.cache.get(key) as Promise<T> | undefined;
  if (!hit) {
    hit = load();
    ctx.cache.set(key, hit);
  }
  return hit;
}
