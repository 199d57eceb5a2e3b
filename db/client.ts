// The one database factory: postgres.js when a URL is given, otherwise embedded PGlite in a
// directory. Both get the same schema, migrations and relational queries.
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PGlite } from '@electric-sql/pglite';
import { context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { sql } from 'drizzle-orm';
import type { Logger } from 'drizzle-orm/logger';
import type { PgAsyncDatabase, PgAsyncTransaction, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js';
import { migrate as migratePostgres } from 'drizzle-orm/postgres-js/migrator';
import postgres from 'postgres';
import { postgresConnection } from '../config/database-tls.ts';
import { relations } from './relations.ts';

export type Relations = typeof relations;
export type Database = PgAsyncDatabase<PgQueryResultHKT, Relations>;
export type Transaction = PgAsyncTransaction<PgQueryResultHKT, Relations>;
/** Anything that runs queries: the database or a transaction. */
export type Queryable = Database | Transaction;

/** The first row of a raw `db.execute`: postgres.js answers an array of rows, PGlite `{ rows }`. */
export const firstRow = <T>(result: unknown): T | undefined =>
  (Array.isArray(result) ? result[0] : (result as { rows: unknown[] }).rows[0]) as T | undefined;

export const MIGRATIONS_FOLDER = join(dirname(fileURLToPath(import.meta.url)), 'migrations');

/** A notification from LISTEN, as both drivers deliver it. */
export type NotificationHandler = (payload: string) => void;

export interface DatabaseHandle {
  kind: 'postgres' | 'pglite';
  db: Database;
  /** Applies pending migrations; safe to call from several processes at once. */
  migrate(): Promise<void>;
  /** Resolves when the database answers a trivial query. */
  ping(): Promise<void>;
  /** LISTEN on a channel; returns an unlisten function. */
  listen(channel: string, onNotify: NotificationHandler): Promise<() => Promise<void>>;
  notify(channel: string, payload: string): Promise<void>;
  close(): Promise<void>;
}

export interface DatabaseOptions {
  /** A PostgreSQL URL; when absent, PGlite persisted in `dataDir` (or in memory without one). */
  url?: string | undefined;
  dataDir?: string | undefined;
  poolSize?: number;
  /** Sees every SQL statement (statement counting in benchmarks, debugging). */
  logger?: Logger;
  /**
   * A client span per query (OpenTelemetry, server/telemetry.ts), with the SQL text and never its
   * parameters. Off: the driver is not wrapped at all.
   */
  tracing?: boolean;
}

// A fixed key for pg_advisory_lock so replicas starting together migrate one at a time.
const MIGRATION_LOCK_KEY = 7_135_002_611;

export async function createDatabase(options: DatabaseOptions): Promise<DatabaseHandle> {
  return options.url ? createPostgres(options.url, options) : createPglite(options);
}

/**
 * Seconds before postgres.js reconnects. Its default, (0.5..1) x min(3^retries / 100, 20), counts
 * retries for the whole pool, so after a 3 s PostgreSQL restart some connections waited up to ~20 s
 * (npm run faults: readyz 200 after 2-6 s, live events after 5-14 s). Capped at 2 s with jitter.
 */
export const reconnectBackoff = (retries: number) => (0.5 + Math.random() / 2) * Math.min(0.1 * 2 ** retries, 2);

async function createPostgres(databaseUrl: string, options: DatabaseOptions): Promise<DatabaseHandle> {
  // sslmode/sslrootcert become postgres.js's `ssl` option (config/database-tls.ts); ConfigError if bad.
  const { url, ssl } = postgresConnection(databaseUrl);
  const client = postgres(url, {
    ssl,
    max: options.poolSize ?? 10,
    onnotice: () => {},
    // Connection errors surface as query errors; keep idle connections from piling up.
    idle_timeout: 30,
    connect_timeout: 10,
    backoff: reconnectBackoff,
  });
  const wrapped = preparing(options.tracing ? traced(client) : client);
  const db = drizzlePostgres({ client: wrapped, relations, logger: options.logger ?? false }) as unknown as Database;
  return {
    kind: 'postgres',
    db,
    async migrate() {
      // A dedicated connection: advisory locks belong to a session.
      const lockClient = postgres(url, { ssl, max: 1, onnotice: () => {} });
      try {
        await lockClient`select pg_advisory_lock(${MIGRATION_LOCK_KEY})`;
        await migratePostgres(drizzlePostgres({ client: lockClient, relations }), {
          migrationsFolder: MIGRATIONS_FOLDER,
        });
        await lockClient`select pg_advisory_unlock(${MIGRATION_LOCK_KEY})`;
      } finally {
        await lockClient.end({ timeout: 5 });
      }
    },
    async ping() {
      await client`select 1`;
    },
    async listen(channel, onNotify) {
      const sub = await client.listen(channel, onNotify);
      return async () => {
        await sub.unlisten();
      };
    },
    async notify(channel, payload) {
      await client.notify(channel, payload);
    },
    async close() {
      await client.end({ timeout: 5 });
    },
  };
}

/**
 * Drizzle sends its queries unprepared, so postgres.js asks PostgreSQL to parse and plan each one
 * again and, when it has parameters, spends a second round trip describing it first. The same few
 * query shapes (one per GraphQL selection) run all day: prepared, each connection parses and plans
 * a shape once, and every later run is one round trip (the pipeline query: ~0.9 ms of PostgreSQL
 * time and two round trips down to ~0.15 ms and one). postgres.js keys its statement cache by the
 * SQL text, per connection; connections are recycled (idle_timeout, max_lifetime), which bounds it.
 * Statements inside transactions go through `begin`'s own client and stay unprepared.
 */
function preparing(client: postgres.Sql): postgres.Sql {
  return new Proxy(client, {
    get(target, property, receiver) {
      if (property === 'unsafe') {
        return (query: string, parameters?: unknown[], queryOptions?: postgres.UnsafeQueryOptions) =>
          target.unsafe(query, parameters as never, { ...queryOptions, prepare: true });
      }
      return Reflect.get(target, property, receiver);
    },
  });
}

const tracer = () => trace.getTracer('stageplane.db');

/** The first keyword of a statement (SELECT, INSERT, ...), for the span's name. */
export function operationOf(query: string): string {
  return /^\s*([a-z]+)/i.exec(query)?.[1]?.toUpperCase() ?? 'QUERY';
}

/** Starts a query's span under the active context (a GraphQL operation, an activity). */
function querySpan(query: string) {
  const operation = operationOf(query);
  return tracer().startSpan(operation, {
    kind: SpanKind.CLIENT,
    attributes: { 'db.system': 'postgresql', 'db.operation.name': operation, 'db.query.text': query },
  });
}

function endSpan(span: ReturnType<typeof querySpan>, error?: unknown) {
  if (error !== undefined) {
    // The error's class and SQLSTATE only: a driver message may quote a value.
    const code = (error as { code?: unknown }).code;
    span.setStatus({ code: SpanStatusCode.ERROR, message: typeof code === 'string' ? `SQLSTATE ${code}` : 'query failed' });
    span.setAttribute('error.type', typeof code === 'string' ? code : (error as Error)?.name || 'Error');
  }
  span.end();
}

/**
 * postgres.js with a span per `unsafe` query (what Drizzle sends), inside transactions and
 * savepoints too. postgres.js runs a `begin` callback when a connection is free, which can be in
 * another async context (a queued transaction), so the caller's context is carried in by hand.
 */
function traced(client: postgres.Sql): postgres.Sql {
  return new Proxy(client, {
    get(target, property, receiver) {
      if (property === 'unsafe') {
        return (query: string, parameters?: unknown[], queryOptions?: postgres.UnsafeQueryOptions) => {
          const span = querySpan(query);
          const pending = target.unsafe(query, parameters as never, queryOptions);
          // Promise.prototype.then, not the query's own: that would execute the lazy query before
          // Drizzle has chosen its row format (.values()).
          Promise.prototype.then.call(
            pending,
            () => endSpan(span),
            (error: unknown) => endSpan(span, error ?? new Error('query failed')),
          );
          return pending;
        };
      }
      if (property === 'begin' || property === 'savepoint') {
        const original = Reflect.get(target, property, receiver) as (...args: unknown[]) => Promise<unknown>;
        return (...args: unknown[]) => {
          const active = context.active();
          const at = args.findIndex((a) => typeof a === 'function');
          const callback = args[at] as (sql: postgres.Sql) => unknown;
          args[at] = (sql: postgres.Sql) => context.with(active, () => callback(traced(sql)));
          return original.apply(target, args);
        };
      }
      return Reflect.get(target, property, receiver);
    },
  });
}

async function createPglite(options: DatabaseOptions): Promise<DatabaseHandle> {
  let dataDir: string | undefined;
  if (options.dataDir) {
    dataDir = join(options.dataDir, 'pgdata');
    mkdirSync(dataDir, { recursive: true });
  }
  const client = dataDir ? await PGlite.create({ dataDir }) : await PGlite.create();
  const db = drizzlePglite({
    client: options.tracing ? tracedPglite(client) : client,
    relations,
    logger: options.logger ?? false,
  }) as unknown as Database;
  return {
    kind: 'pglite',
    db,
    async migrate() {
      // One process owns an embedded database, so no lock is needed.
      await migratePglite(drizzlePglite({ client, relations }), { migrationsFolder: MIGRATIONS_FOLDER });
    },
    async ping() {
      await db.execute(sql`select 1`);
    },
    async listen(channel, onNotify) {
      return client.listen(channel, onNotify);
    },
    async notify(channel, payload) {
      await client.query('select pg_notify($1, $2)', [channel, payload]);
    },
    async close() {
      await client.close();
    },
  };
}

/** PGlite with a span per query, as traced() does for postgres.js. */
function tracedPglite<T extends object>(client: T): T {
  return new Proxy(client, {
    get(target, property) {
      if (property === 'query') {
        return async (query: string, ...rest: unknown[]) => {
          const span = querySpan(query);
          try {
            const result = await (Reflect.get(target, property) as (...a: unknown[]) => Promise<unknown>).call(target, query, ...rest);
            endSpan(span);
            return result;
          } catch (error) {
            endSpan(span, error);
            throw error;
          }
        };
      }
      if (property === 'transaction') {
        // The transaction's own client runs its queries: traced too.
        const transaction = Reflect.get(target, property) as PGlite['transaction'];
        return (callback: Parameters<PGlite['transaction']>[0]) => {
          const active = context.active(); // PGlite runs the callback when its lock is free
          return transaction.call(target, (tx) => context.with(active, () => callback(tracedPglite(tx))));
        };
      }
      // PGlite's methods use private fields: they must run on the PGlite, not on this proxy.
      const value = Reflect.get(target, property);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}
