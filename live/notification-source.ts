// The seam between the event hub and the database's notifications: where the hub's LISTEN comes
// from. The hub only needs `listen` and `close`; tests give it an in-memory source instead.
import postgres from 'postgres';
import { postgresConnection } from '../config/database-tls.ts';
import { reconnectBackoff, type DatabaseHandle } from '../db/client.ts';

/**
 * Where notifications come from. `onListen` runs every time the LISTEN is (re-)established: from
 * then on every commit is notified, and anything committed while it was down must be read back.
 */
export interface NotificationSource {
  listen(channel: string, onNotify: (payload: string) => void, onListen: () => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

/**
 * The process's LISTEN connection. With PostgreSQL it is a dedicated postgres.js client (one
 * connection, named `stageplane-events` in pg_stat_activity): postgres.js re-LISTENs after a lost
 * connection and calls `onlisten` each time, which DatabaseHandle.listen does not pass through.
 * Embedded PGlite is in-process: its own listen never drops.
 */
export function createNotificationSource(database: DatabaseHandle, url: string | undefined): NotificationSource {
  if (database.kind === 'postgres' && url) {
    const { url: plainUrl, ssl } = postgresConnection(url); // the same TLS as the pool's
    const client = postgres(plainUrl, {
      ssl,
      max: 1,
      onnotice: () => {},
      connect_timeout: 10,
      backoff: reconnectBackoff,
      connection: { application_name: 'stageplane-events' },
    });
    return {
      async listen(channel, onNotify, onListen) {
        const sub = await client.listen(channel, onNotify, onListen);
        return async () => {
          await sub.unlisten();
        };
      },
      close: () => client.end({ timeout: 2 }),
    };
  }
  return {
    async listen(channel, onNotify, onListen) {
      const unlisten = await database.listen(channel, onNotify);
      onListen();
      return unlisten;
    },
    async close() {},
  };
}
