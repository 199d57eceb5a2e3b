// The console's Pipeline document costs at most 2 SQL statements (README Benchmarks): the planned
// relational query of the selection, and one for the project configuration every policyReport
// reads (environments, secrets, their values, database connection values). That is the planned
// path, measured here with the response cache off; with it on, a repeated read is 1 statement
// (the check that nothing was written) and a read after a write that check plus the planned path. Counted through the
// driver's logger, on both drivers, on a project with history, secrets and database connections;
// and the reports those statements feed still see every secret and connection.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PIPELINE } from '../../console/src/operations.ts';
import { createTestDatabase } from '../support/database.ts';
import { rows, seedHistory, startHistoryApi, type History, type HistoryApi } from '../support/history.ts';

describe.each(['postgres', 'pglite'] as const)('Pipeline statements (%s)', (driver) => {
  let api: HistoryApi;
  let cachedApi: HistoryApi;
  let history: History;
  let drop: (() => Promise<void>) | undefined;

  beforeAll(async () => {
    const db = driver === 'postgres' ? await createTestDatabase() : null;
    drop = db?.drop;
    api = await startHistoryApi(db?.url, { RESPONSE_CACHE_ENTRIES: '0' });
    cachedApi = await startHistoryApi(db?.url);
    history = await seedHistory(api, { slug: 'statements', deployments: 300 });
    const { development, staging, production } = history.environmentIds;
    // Secret metadata and connection values as the services write them (the API reads only these
    // tables): SECRET_0..3 set everywhere but SECRET_3 in production; `main` without ssl in production.
    for (let i = 0; i < 4; i++) {
      const [secret] = await rows(api.database, `insert into secrets (project_id, name) values ($1, $2) returning id`, [
        history.projectId,
        `SECRET_${i}`,
      ]);
      for (const env of i === 3 ? [development, staging] : [development, staging, production])
        await rows(
          api.database,
          `insert into secret_values (secret_id, environment_id, version_id, updated_by) values ($1, $2, $3, 'test')`,
          [secret!.id, env, `v-${i}`],
        );
    }
    for (const name of ['main', 'analytics']) {
      const [connection] = await rows(api.database, `insert into database_connections (project_id, name) values ($1, $2) returning id`, [
        history.projectId,
        name,
      ]);
      for (const env of [development, staging, production])
        await rows(
          api.database,
          `insert into database_connection_values (connection_id, environment_id, host, database, ssl) values ($1, $2, 'db.internal', 'app', $3)`,
          [connection!.id, env, !(name === 'main' && env === production)],
        );
    }
  }, 120_000);

  afterAll(async () => {
    await cachedApi?.close();
    await api?.close();
    await drop?.();
  });

  it('answers the whole page in at most 2 statements, whatever the number of environments', async () => {
    await api.gql(PIPELINE, { slug: 'statements' }); // first request: nothing lazy is counted below
    api.take();
    const data = await api.gql(PIPELINE, { slug: 'statements' });
    const statements = api.take();
    expect(data.project.environments).toHaveLength(3);
    expect(statements.length, statements.map((q) => JSON.stringify(q).slice(0, 400)).join('\n---\n')).toBeLessThanOrEqual(2);

    // A fourth and fifth environment: still the same statements (no per-environment reads).
    for (const slug of ['qa', 'perf'])
      await api.gql(`mutation($i: CreateEnvironmentInput!) { createEnvironment(input: $i) { id } }`, {
        i: { projectId: Buffer.from(`Project:${history.projectId}`).toString('base64'), slug, name: slug, type: 'STAGING' },
      });
    api.take();
    const more = await api.gql(PIPELINE, { slug: 'statements' });
    expect(more.project.environments).toHaveLength(5);
    expect(api.take().length).toBe(statements.length);
  });

  it('with the response cache: a repeated read is one statement, a read after a write the check and the planned ones', async () => {
    await seedHistory(cachedApi, { slug: 'cached', deployments: 30 });
    const first = await cachedApi.gql(PIPELINE, { slug: 'cached' });
    cachedApi.take();
    const again = await cachedApi.gql(PIPELINE, { slug: 'cached' });
    expect(cachedApi.take()).toHaveLength(1);
    expect(again).toEqual(first);
    const env = first.project.environments[0];
    await cachedApi.gql(`mutation($i: UpdateEnvironmentInput!) { updateEnvironment(input: $i) { id } }`, {
      i: { id: env.id, name: `${env.name} renamed` },
    });
    cachedApi.take();
    const after = await cachedApi.gql(PIPELINE, { slug: 'cached' });
    expect(after.project.environments[0].name).toBe(`${env.name} renamed`);
    expect(cachedApi.take().length).toBeLessThanOrEqual(3);
    await cachedApi.gql(PIPELINE, { slug: 'cached' });
    expect(cachedApi.take()).toHaveLength(1);
  });

  it('reports from every secret and connection value the one statement read', async () => {
    const data = await api.gql(PIPELINE, { slug: 'statements' });
    const report = (slug: string) =>
      Object.fromEntries(
        (
          data.project.environments.find((e: { slug: string }) => e.slug === slug).policyReport.checks as { id: string; passed: boolean }[]
        ).map((c) => [c.id, c.passed]),
      );
    expect(report('development')['secrets.all-set']).toBe(true);
    expect(report('staging')['secrets.all-set']).toBe(true);
    expect(report('production')['secrets.all-set']).toBe(false);
    expect(report('production')['production.database-ssl']).toBe(false);
    const detail = await api.gql(
      `query($slug: String!) { project(slug: $slug) { environment(slug: "production") { policyReport { checks { id detail } } } } }`,
      {
        slug: 'statements',
      },
    );
    const checks = detail.project.environment.policyReport.checks as { id: string; detail: string | null }[];
    expect(checks.find((c) => c.id === 'secrets.all-set')!.detail).toBe('Secrets without a value here: SECRET_3');
    expect(checks.find((c) => c.id === 'production.database-ssl')!.detail).toBe('Database connections without ssl: main');
  });
});
