// The chart's pods as real processes: each Deployment's container (its args, and its environment
// with the Secret's values resolved, as the kubelet would pass them) starts Stageplane on the test
// PostgreSQL and Temporal, and the API answers its liveness and readiness probes. Only what
// cannot hold outside a cluster is replaced: the database and Temporal addresses, DATA_DIR, and
// HOST/PORT (a free port on 127.0.0.1 rather than 0.0.0.0:4000).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createTestDatabase } from '../support/database.ts';
import { container, find, helmBinary, type K8sObject, processEnv, render, values } from '../support/helm.ts';
import { freePort } from '../../server/temporal.ts';
import { type StageplaneProcess, spawnStageplane } from '../support/process.ts';

describe.skipIf(!helmBinary)('a release of the Helm chart', () => {
  let database: { url: string; drop: () => Promise<void> };
  let objects: K8sObject[];
  const processes: StageplaneProcess[] = [];
  const dataDirs: string[] = [];

  beforeAll(async () => {
    database = await createTestDatabase();
    // Its own task queue on the shared dev server, so this worker takes no other file's tasks.
    objects = render([values.required], [`temporal.taskQueue=helm-release-${process.pid}`]);
  });
  afterAll(async () => {
    for (const p of processes) await p.stop();
    await database?.drop();
    for (const dir of dataDirs) rmSync(dir, { recursive: true, force: true });
  });

  function podEnv(deployment: K8sObject): Record<string, string> {
    const dataDir = mkdtempSync(join(tmpdir(), 'stageplane-helm-pod-'));
    dataDirs.push(dataDir);
    return {
      ...processEnv(deployment, find(objects, 'Secret', 'stageplane')),
      DATABASE_URL: database.url,
      TEMPORAL_ADDRESS: inject('temporalAddress'),
      DATA_DIR: dataDir,
    };
  }

  it('the API container starts in production mode and passes its probes', async () => {
    const api = find(objects, 'Deployment', 'stageplane-api');
    const [mode] = container(api).args;
    expect(mode).toBe('api');
    const env = podEnv(api);
    expect(env.NODE_ENV).toBe('production');
    // The pod's PORT (4000) may be taken on this machine: a free one, passed over the pod's.
    const port = await freePort();
    const server = await spawnStageplane(mode, { ...env, HOST: '127.0.0.1', PORT: String(port) }, port, 'healthz');
    processes.push(server);
    const deadline = Date.now() + 60_000;
    while ((await fetch(`${server.url}/readyz`)).status !== 200) {
      if (Date.now() > deadline)
        throw new Error(`not ready: ${await (await fetch(`${server.url}/readyz`)).text()}\n${server.output().slice(-3000)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    // The probes' own paths, on the running server.
    for (const probe of ['livenessProbe', 'readinessProbe']) {
      const path = container(api)[probe].httpGet.path;
      const response = await fetch(`${server.url}${path}`);
      expect(response.status, `${probe} ${path}: ${await response.text()}`).toBe(200);
    }
    // What the ServiceMonitor scrapes.
    const monitorPath = '/metrics';
    expect((await fetch(`${server.url}${monitorPath}`)).status).toBe(200);
  }, 120_000);

  it('the worker container starts and polls the task queue the chart gives it', async () => {
    const worker = find(objects, 'Deployment', 'stageplane-worker');
    const [mode] = container(worker).args;
    expect(mode).toBe('worker');
    const env = podEnv(worker);
    const started = await spawnStageplane(mode, env);
    processes.push(started);
    const deadline = Date.now() + 90_000;
    while (!started.output().includes('"msg":"ready"')) {
      if (started.child.exitCode !== null) throw new Error(`the worker exited:\n${started.output().slice(-3000)}`);
      if (Date.now() > deadline) throw new Error(`the worker did not get ready:\n${started.output().slice(-3000)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(started.output()).toContain(`"taskQueue":"helm-release-${process.pid}"`);
    expect(started.output()).toContain('"msg":"worker running"');
  });
});
