// Start-up as a user meets it: configuration errors stop the process with one clear line.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');

function startWith(env: Record<string, string>) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'server/main.ts', 'api'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', DATA_DIR: '/tmp/stageplane-startup-test', ...env },
    encoding: 'utf8',
    timeout: 30_000,
  });
  return { status: r.status, stderr: r.stderr.trim() };
}

describe('configuration errors', () => {
  it.each([
    [{ PORT: 'eighty' }, 'PORT'],
    [{ PORT: '70000' }, 'PORT'],
    [{ DATABASE_URL: 'mysql://x' }, 'DATABASE_URL'],
    [{ NODE_ENV: 'production' }, 'JWT_SECRET'],
    [{ JWT_SECRET: 'short' }, 'JWT_SECRET'],
    [{ TEMPORAL_ADDRESS: 'no-port' }, 'TEMPORAL_ADDRESS'],
    [{ SECRETS_BACKEND: 'vault' }, 'SECRETS_BACKEND'],
    [{ SECRETS_BACKEND: 'aws' }, 'AWS_REGION'],
  ])('%o stops with one line naming %s', (env, variable) => {
    const r = startWith(env);
    expect(r.status).toBe(1);
    expect(r.stderr.split('\n')).toHaveLength(1);
    expect(r.stderr).toContain(variable);
  });
});
