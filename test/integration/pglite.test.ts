// The embedded default: the same schema, migrations and code paths on PGlite in DATA_DIR, and
// what it stores survives a restart.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { expectGaplessEvents, push, setupProject, waitForStatus } from '../support/deployments.ts';
import { codeOf, startTestServer, type TestServer } from '../support/server.ts';

const dataDir = mkdtempSync(join(tmpdir(), 'stageplane-pglite-'));
let server: TestServer | null = null;
afterAll(async () => {
  await server?.stop();
});

describe('embedded PGlite', () => {
  it('serves the configuration API and runs a deployment', async () => {
    server = await startTestServer({ env: { DATA_DIR: dataDir } });
    expect(server.running.app).not.toBeNull();
    const p = await setupProject(server, 'embedded');
    const settings = await server.gql(
      `mutation($i: UpdateEnvironmentSettingsInput!) { updateEnvironmentSettings(input: $i) { settings { version logLevel } } }`,
      { i: { environmentId: p.staging, expectedVersion: 1, patch: { logLevel: 'WARN' } } },
    );
    expect(settings.data.updateEnvironmentSettings.settings).toEqual({ version: 2, logLevel: 'WARN' });
    const stale = await server.gql(`mutation($i: UpdateEnvironmentSettingsInput!) { updateEnvironmentSettings(input: $i) { id } }`, {
      i: { environmentId: p.staging, expectedVersion: 1, patch: { logLevel: 'ERROR' } },
    });
    expect(codeOf(stale)).toBe('CONFLICT');
    const dup = await server.gql(`mutation { createProject(input: { slug: "embedded", name: "again" }) { id } }`);
    expect(codeOf(dup)).toBe('CONFLICT');
    const pushed = await push(server, p.id, 'e1e1e1e1');
    const done = await waitForStatus(server, pushed.data.recordPush.deployments[0].id, ['SUCCEEDED']);
    expectGaplessEvents(done.events);
    const report = await server.gql(`{ project(slug: "embedded") { environment(slug: "production") { policyReport { passed } } } }`);
    expect(report.data.project.environment.policyReport.passed).toBe(true);
  });

  it('keeps its data across a restart on the same DATA_DIR', async () => {
    await server!.stop();
    server = await startTestServer({ env: { DATA_DIR: dataDir } });
    const r = await server.gql(
      `{ project(slug: "embedded") { environment(slug: "staging") { settings { version logLevel } } releases { edges { node { commitSha } } } auditLog { edges { node { action } } } } }`,
    );
    expect(r.data.project.environment.settings).toEqual({ version: 2, logLevel: 'WARN' });
    expect(r.data.project.releases.edges.map((e: any) => e.node.commitSha)).toEqual(['e1e1e1e1']);
    expect(r.data.project.auditLog.edges.map((e: any) => e.node.action)).toContain('project.create');
  });
});
