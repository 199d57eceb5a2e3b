// What the response cache asks the database (server/response-cache.ts): has the project an
// answer was read from been written since? Every statement writing a project's data notes its
// transaction in project_writes (triggers, migration project_writes), so the answer is exact,
// on every replica, whatever the write path — a use case, an activity, the relay, psql.
//
// An answer is labelled with a snapshot taken *before* it is read (`readPoint`). Later it still
// holds if no row of project_writes for that project comes from a transaction the snapshot did
// not see: every transaction that committed a write since is one (or was in flight then, which
// invalidates too — the conservative side). One indexed statement either way.
import { sql } from 'drizzle-orm';
import { firstRow, type Queryable } from './client.ts';

/** How long project_writes keeps its rows; a cached answer older than half of it is not trusted. */
export const PROJECT_WRITES_KEEP_MS = 10 * 60_000;

export interface ReadPoint {
  /** The project the slug names at `snapshot`; null when none does. */
  projectId: string | null;
  /** pg_current_snapshot() as text. */
  snapshot: string;
}

/** The snapshot to label an answer with, and the project the slug names in it. */
export async function readPoint(db: Queryable, slug: string): Promise<ReadPoint> {
  const row = firstRow<{ project_id: string | null; snapshot: string }>(
    await db.execute(sql`select pg_current_snapshot()::text as snapshot, (select id from projects where slug = ${slug}) as project_id`),
  );
  return { projectId: row?.project_id ?? null, snapshot: row!.snapshot };
}

/**
 * Whether an answer read after `point` still holds: the slug names the same project and nothing
 * wrote to it since. Also returns a new read point, for the answer that replaces a stale one.
 */
export async function unchangedSince(
  db: Queryable,
  slug: string,
  point: ReadPoint & { projectId: string },
): Promise<{ unchanged: boolean; now: ReadPoint }> {
  const row = firstRow<{ project_id: string | null; snapshot: string; written: boolean }>(
    await db.execute(sql`
      select pg_current_snapshot()::text as snapshot, p.id as project_id,
        exists (
          select 1 from project_writes w
          where w.project_id = ${point.projectId}
            and w.xid >= pg_snapshot_xmin(${point.snapshot}::pg_snapshot)
            and not pg_visible_in_snapshot(w.xid, ${point.snapshot}::pg_snapshot)
        ) as written
      from (select 1) one left join projects p on p.slug = ${slug}`),
  );
  const now = { projectId: row?.project_id ?? null, snapshot: row!.snapshot };
  return { unchanged: row!.project_id === point.projectId && !row!.written, now };
}

/** Drops rows no trusted answer can need any more. */
export async function pruneProjectWrites(db: Queryable, keepMs = PROJECT_WRITES_KEEP_MS): Promise<void> {
  await db.execute(sql`delete from project_writes where at < now() - make_interval(secs => ${keepMs / 1000})`);
}
