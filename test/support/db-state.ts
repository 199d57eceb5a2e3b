// Reads a test database directly, to prove that a refused request wrote nothing: a fingerprint of
// every table (row count and a digest of the rows' text) taken before and after.
import postgres from 'postgres';

export type Sql = ReturnType<typeof postgres>;

export function openTestDatabase(url: string): Sql {
  return postgres(url, { max: 2, onnotice: () => {} });
}

/**
 * Row count and content digest of each table of the public schema, by table name. Not
 * project_writes: the triggers' note of which transaction wrote where (db/project-writes.ts) has
 * a row exactly when another table changed, so it says nothing more, and a written row's table
 * says which.
 */
export async function tableFingerprints(sql: Sql): Promise<Record<string, string>> {
  const tables = await sql<{ name: string }[]>`
    select table_name as name from information_schema.tables
    where table_schema = 'public' and table_type = 'BASE TABLE' and table_name <> 'project_writes' order by table_name`;
  if (tables.length === 0) return {};
  const parts = tables.map(
    ({ name }) =>
      `select '${name}' as t, count(*)::text || ':' || md5(coalesce(string_agg(x::text, '|' order by x::text), '')) as f from "${name}" x`,
  );
  const rows = await sql.unsafe<{ t: string; f: string }[]>(parts.join(' union all '));
  return Object.fromEntries(rows.map((r) => [r.t, r.f]));
}

/** The tables whose fingerprint differs between two readings (for a readable failure). */
export function changedTables(before: Record<string, string>, after: Record<string, string>): string[] {
  const names = new Set([...Object.keys(before), ...Object.keys(after)]);
  return [...names].filter((n) => before[n] !== after[n]).sort();
}

/**
 * Waits until no deployment is queued, waiting or running and the database stops changing
 * (workflows write their last events and release their lease after the status changes).
 * Returns at once when no deployment is unfinished and no deployment event is recent.
 */
export async function waitForQuiet(sql: Sql, { timeoutMs = 20_000, stableMs = 100, recentMs = 3_000 } = {}) {
  const [idle] = await sql<{ open: number; recent: number }[]>`
    select (select count(*)::int from deployments where status not in ('SUCCEEDED', 'FAILED', 'CANCELLED', 'REJECTED', 'EXPIRED')) as open,
           (select count(*)::int from deployment_events where created_at > now() - make_interval(secs => ${recentMs / 1000})) as recent`;
  if (idle!.open === 0 && idle!.recent === 0) return;
  const deadline = Date.now() + timeoutMs;
  let previous = await tableFingerprints(sql);
  for (;;) {
    await new Promise((r) => setTimeout(r, stableMs));
    const [active] = await sql<{ n: number }[]>`
      select count(*)::int as n from deployments where status in ('QUEUED', 'WAITING', 'RUNNING')`;
    const n = active!.n;
    const next = await tableFingerprints(sql);
    if (n === 0 && changedTables(previous, next).length === 0) return;
    if (Date.now() > deadline) throw new Error(`the database did not settle within ${timeoutMs} ms (${n} active deployments)`);
    previous = next;
  }
}
