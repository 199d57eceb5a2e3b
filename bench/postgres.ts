// A private PostgreSQL 15 cluster for the benches, with pg_stat_statements preloaded (it needs
// `shared_preload_libraries`, which only a restart sets: the shared local cluster that other
// tests use is left alone). Null when it cannot be started (no initdb, or no `postgres` user to
// run it as when we are root): the benches then count statements by the driver's logger only.
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import { freePort } from '../server/temporal.ts';

const BIN = process.env.PG_BIN ?? '/usr/lib/postgresql/15/bin';

export interface PrivatePostgres {
  adminUrl: string;
  /** Statements executed in `database` since the last reset, by pg_stat_statements. */
  statements(database: string): Promise<{ calls: number; query: string }[]>;
  reset(): Promise<void>;
  stop(): Promise<void>;
}

export async function startPrivatePostgres(): Promise<PrivatePostgres | { unavailable: string }> {
  if (!existsSync(join(BIN, 'initdb'))) return { unavailable: `no ${BIN}/initdb` };
  const asRoot = process.getuid?.() === 0;
  const run = (cmd: string, args: string[]) =>
    asRoot
      ? execFileSync('runuser', ['-u', 'postgres', '--', cmd, ...args], { stdio: 'pipe' })
      : execFileSync(cmd, args, { stdio: 'pipe' });
  const dir = mkdtempSync(join(tmpdir(), 'stageplane-bench-pg-'));
  chmodSync(dir, 0o777); // initdb runs as `postgres` when we are root
  const data = join(dir, 'data');
  const port = await freePort();
  try {
    run(join(BIN, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync']);
    run(join(BIN, 'pg_ctl'), [
      '-D',
      data,
      '-l',
      join(dir, 'log'),
      '-w',
      '-o',
      `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track=all -c fsync=off -c max_connections=200`,
      'start',
    ]);
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    return { unavailable: `could not start a private cluster: ${(e as Error).message.split('\n')[0]}` };
  }
  const adminUrl = `postgres://postgres@127.0.0.1:${port}/postgres`;
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  await admin`create extension if not exists pg_stat_statements`;
  return {
    adminUrl,
    async statements(database) {
      const rows = await admin`
        select s.calls::int as calls, s.query from pg_stat_statements s join pg_database d on d.oid = s.dbid
        where d.datname = ${database} order by s.calls desc`;
      return rows.map((r) => ({ calls: r.calls as number, query: r.query as string }));
    },
    async reset() {
      await admin`select pg_stat_statements_reset()`;
    },
    async stop() {
      await admin.end();
      spawnSync(asRoot ? 'runuser' : join(BIN, 'pg_ctl'), [
        ...(asRoot ? ['-u', 'postgres', '--', join(BIN, 'pg_ctl')] : []),
        '-D',
        data,
        '-m',
        'immediate',
        'stop',
      ]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
