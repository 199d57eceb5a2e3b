// What every use case is given besides its input: the database (or the transaction it runs in),
// who is acting, and the process's collaborators. Never a GraphQL context: the API, the push
// webhook, Temporal activities and scripts all call the same functions with the same scope.
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Database, DatabaseHandle } from '../db/client.ts';
import type { Principal } from '../domain/permissions.ts';
import type { SecretStore } from '../secrets/store.ts';
import type { CredentialSealer } from '../secrets/credentials.ts';
import type { WorkflowGateway } from '../workflows/client.ts';
import type { Config } from '../config/index.ts';
import type { OutboundRule } from '../domain/outbound-url.ts';
import type { EventHub } from '../live/hub.ts';

/** The process's collaborators a use case may need (a structural subset of the server's Services). */
export interface ServiceDeps {
  log: Logger;
  /**
   * Where secret values live (SECRETS_BACKEND). server/main.ts always sets it; optional only so
   * harnesses that build services by hand without secrets keep compiling (secret use cases then
   * fail as an internal error).
   */
  secrets?: SecretStore;
  /**
   * What URLs set through the API may point at (config.outbound, domain/outbound-url.ts).
   * server/main.ts always sets it; absent in hand-built harnesses: the development defaults.
   */
  outbound?: OutboundRule;
  /** The length of an hour for previews' ttlHours, in seconds (PREVIEW_HOUR_SECONDS; 3600 but in tests). */
  previewHourSeconds?: number;
  /** Seals notification channel URLs (secrets/credentials.ts); absent: channels cannot be created. */
  credentials?: CredentialSealer | null;
  /** Where console links point (PUBLIC_URL) and how deliveries are retried; absent: development defaults. */
  notify?: Pick<Config, 'publicUrl' | 'notify'>;
  /** Starts and messages deployment workflows; absent in processes without Temporal. */
  workflows?: WorkflowGateway;
  /**
   * While `workflows` is absent because the local Temporal is still starting (`npm start`): what
   * it is doing, e.g. `starting (1.2 s)`, for the error deployment mutations answer meanwhile.
   */
  workflowsPending?: () => string | null;
}

/** What lives for the whole process and is shared by every request (server/main.ts builds it). */
export interface Services extends ServiceDeps {
  config: Config;
  database: DatabaseHandle;
  /** The process's Prometheus metrics, served on /metrics. */
  metrics: Registry;
  /** The process's live-event fan-out (subscriptions). */
  events: EventHub;
}

export interface Scope {
  db: Database;
  actor: Principal;
  services: ServiceDeps;
}
