// One real Temporal dev server for the whole integration run (built by scripts/temporal.sh on
// first use); each test file gets its own task queue on it.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import type { TestProject } from 'vitest/node';
import { startLocalTemporal } from '../../server/temporal.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    temporalAddress: string;
  }
}

export default async function setup(project: TestProject) {
  const dataDir = mkdtempSync(join(tmpdir(), 'stageplane-temporal-'));
  const temporal = await startLocalTemporal({ dataDir, namespace: 'default', log: pino({ level: 'warn' }) });
  project.provide('temporalAddress', temporal.address);
  return async () => {
    await temporal.stop();
    rmSync(dataDir, { recursive: true, force: true });
  };
}
