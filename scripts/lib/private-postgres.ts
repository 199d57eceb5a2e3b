// A private PostgreSQL cluster: initdb in a temp dir, on a given port, listening on 127.0.0.1 (run
// as the `postgres` user when started as root). The fault drill restarts one; the TLS tests start
// one with ssl=on and a hostssl-only pg_hba.conf. Shared servers are never touched.
import { spawnSync } from 'node:child_process';
import { appendFileSync, chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface PrivatePostgres {
  url: string;
  port: number;
  /** The cluster's directory (data/, postgres.log, the socket, files written by `configure`). */
  dir: string;
  start(): void;
  stop(mode: 'fast' | 'immediate'): void;
  destroy(): void;
}

export interface ClusterFiles {
  dir: string;
  /** Writes a file into the cluster's directory, owned by the server's user (keys must be), and returns its path. */
  writeFile(name: string, content: string, mode?: number): string;
}

export interface PrivatePostgresOptions {
  /** Prefix of the temp directory's name. */
  prefix?: string;
  /** Runs after initdb, before the first start: extra postgresql.conf lines, a pg_hba.conf to replace initdb's. */
  configure?: (files: ClusterFiles) => { conf?: string; hba?: string };
}

/** The PostgreSQL server binaries: PG_BIN, else the newest /usr/lib/postgresql/<v>/bin, else PATH. */
export function postgresBin(): string {
  if (process.env.PG_BIN) return process.env.PG_BIN;
  const base = '/usr/lib/postgresql';
  const versions = existsSync(base) ? readdirSync(base).filter((v) => existsSync(join(base, v, 'bin', 'initdb'))) : [];
  versions.sort((a, b) => Number(b) - Number(a));
  return versions.length ? join(base, versions[0]!, 'bin') : '';
}

export function startPrivatePostgres(port: number, options: PrivatePostgresOptions = {}): PrivatePostgres {
  const bin = postgresBin();
  const dir = mkdtempSync(join(tmpdir(), options.prefix ?? 'stageplane-drill-pg-'));
  const data = join(dir, 'data');
  const logfile = join(dir, 'postgres.log');
  // initdb refuses to run as root: run the cluster as the `postgres` user then.
  const asRoot = process.getuid?.() === 0;
  const owner = asRoot
    ? (['-u', '-g'] as const).map((flag) => Number(spawnSync('id', [flag, 'postgres'], { encoding: 'utf8' }).stdout.trim()))
    : null;
  if (owner) chownSync(dir, owner[0]!, owner[1]!);
  const run = (tool: string, args: string[]) => {
    const command = bin ? join(bin, tool) : tool;
    const r = asRoot
      ? spawnSync('runuser', ['-u', 'postgres', '--', command, ...args], { encoding: 'utf8' })
      : spawnSync(command, args, { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${tool} ${args.join(' ')} failed (${r.status}): ${r.stderr || r.error?.message}`);
  };
  try {
    run('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync']);
    appendFileSync(
      join(data, 'postgresql.conf'),
      `\nport = ${port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '${dir}'\nmax_connections = 50\n`,
    );
    if (options.configure) {
      const custom = options.configure({
        dir,
        writeFile(name, content, mode = 0o644) {
          const path = join(dir, name);
          writeFileSync(path, content, { mode });
          if (owner) chownSync(path, owner[0]!, owner[1]!);
          return path;
        },
      });
      if (custom.conf) appendFileSync(join(data, 'postgresql.conf'), `\n${custom.conf}\n`);
      if (custom.hba !== undefined) writeFileSync(join(data, 'pg_hba.conf'), `${custom.hba}\n`);
    }
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  const pg: PrivatePostgres = {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    dir,
    start: () => run('pg_ctl', ['-D', data, '-l', logfile, '-w', '-t', '60', 'start']),
    stop: (mode) => run('pg_ctl', ['-D', data, '-m', mode, '-w', '-t', '60', 'stop']),
    destroy: () => {
      try {
        pg.stop('immediate');
      } catch {
        // not running
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    pg.start();
  } catch (error) {
    // pg_ctl only says it failed; the server's log says why (a bad ssl_key_file, a port in use).
    const log = existsSync(logfile) ? readFileSync(logfile, 'utf8').split('\n').slice(-15).join('\n') : '';
    pg.destroy();
    throw new Error(`${(error as Error).message}\n${log}`);
  }
  return pg;
}
