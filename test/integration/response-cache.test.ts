// The response cache (server/response-cache.ts) on two real API processes sharing one database,
// against a third with the cache off as the oracle: after every write, through either replica or
// straight in SQL, both replicas answer the console's Pipeline page exactly as the oracle does, at
// once (no waiting for a NOTIFY), while repeated reads are answered from memory. And the clock: a
// freeze window that starts or ends changes the cached page with no write at all.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { print } from 'graphql';
import { PIPELINE } from '../../console/src/operations.ts';
import { createDatabase, type DatabaseHandle } from '../../db/client.ts';
import { signToken } from '../../server/auth.ts';
import { createTestDatabase } from '../support/database.ts';
import { gqlAt } from '../support/client.ts';
import { TEST_JWT_SECRET } from '../support/server.ts';
import { sleep, spawnApi, type ApiProcess } from '../support/live-clients.ts';
import { sql } from 'drizzle-orm';

let database: DatabaseHandle;
let dropDb: () => Promise<void>;
let a: ApiProcess;
let b: ApiProcess;
let oracle: ApiProcess;
const secret = new TextEncoder().encode(TEST_JWT_SECRET);
const PIPELINE_QUERY = print(PIPELINE);
let admin: string;
let dev: string;

async function gql(url: string, token: string, query: string, variables: Record<string, unknown> = {}) {
  const body = await gqlAt(url, token, query, variables);
  expect(body.errors).toBeUndefined();
  return body.data;
}

async function cacheCount(url: string, outcome: 'hit' | 'miss' | 'stale'): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`stageplane_response_cache_total{outcome="${outcome}"}`));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

const page = (url: string, token: string, slug: string) => gql(url, token, PIPELINE_QUERY, { slug });

beforeAll(async () => {
  const db = await createTestDatabase();
  dropDb = db.drop;
  database = await createDatabase({ url: db.url, poolSize: 2 });
  await database.migrate();
  const spawn = (name: string, env: Record<string, string> = {}) =>
    spawnApi(db.url, {
      env: { TEMPORAL_ADDRESS: inject('temporalAddress'), TEMPORAL_TASK_QUEUE: `response-cache-${process.pid}-${name}`, ...env },
    });
  [a, b, oracle] = await Promise.all([spawn('a'), spawn('b'), spawn('oracle', { RESPONSE_CACHE_ENTRIES: '0' })]);
  admin = await signToken(secret, 'root', ['ADMIN']);
  dev = await signToken(secret, 'dora', ['DEVELOPER']);
}, 120_000);

afterAll(async () => {
  await Promise.all([a, b, oracle].map((p) => p?.kill('SIGKILL')));
  await database?.close();
  await dropDb?.();
});

describe('the response cache on two replicas', () => {
  it('every table that holds a project’s data notes its writers', async () => {
    const result = (await database.db.execute(sql`
      select c.relname as table, count(t.tgname)::int as triggers
      from pg_class c join pg_namespace n on n.oid = c.relnamespace
      left join pg_trigger t on t.tgrelid = c.oid and t.tgname like '%_notes_project_writes_%'
      where n.nspname = 'public' and c.relkind = 'r' and c.relname <> 'project_writes'
      group by c.relname order by c.relname`)) as unknown as { table: string; triggers: number }[];
    expect(result.length).toBeGreaterThan(20);
    // A new table must say how its rows name their project (migration project_writes).
    expect(result.filter((r) => r.triggers !== 3)).toEqual([]);
  });

  it('reads on either replica after a write through either one match the uncached oracle at once', { timeout: 120_000 }, async () => {
    const project = (
      await gql(a.url, admin, 'mutation { createProject(input: { slug: "cached", name: "Cached" }) { id environments { id name } } }')
    ).createProject as { id: string; environments: { id: string; name: string }[] };
    const env = project.environments[0]!;
    const windows: string[] = [];
    const writes: ((url: string, i: number) => Promise<unknown> | null)[] = [
      (url, i) =>
        gql(url, admin, 'mutation($i: UpdateEnvironmentInput!) { updateEnvironment(input: $i) { id } }', {
          i: { id: env.id, name: `Env ${i}` },
        }),
      (url, i) =>
        gql(url, admin, 'mutation($i: CreateFreezeWindowInput!) { createFreezeWindow(input: $i) { id } }', {
          i: {
            projectId: project.id,
            name: `w${i}`,
            reason: 'audit',
            startsAt: new Date(Date.now() + 86_400_000).toISOString(),
            endsAt: new Date(Date.now() + 2 * 86_400_000).toISOString(),
          },
        }).then((d) => windows.push(d.createFreezeWindow.id)),
      (url) => (windows.length ? gql(url, admin, 'mutation($id: ID!) { deleteFreezeWindow(id: $id) }', { id: windows.pop() }) : null),
      (url) =>
        gql(url, admin, 'mutation($i: SetProjectVisibilityInput!) { setProjectVisibility(input: $i) { id } }', {
          i: { projectId: project.id, visibility: 'PRIVATE' },
        }),
      (url) =>
        gql(url, admin, 'mutation($i: SetProjectVisibilityInput!) { setProjectVisibility(input: $i) { id } }', {
          i: { projectId: project.id, visibility: 'INTERNAL' },
        }),
      // A write no use case made: the triggers still see it.
      () =>
        database.db.execute(
          sql`update environments set frozen = not frozen where project_id = (select id from projects where slug = 'cached')`,
        ),
    ];
    const hitsBefore = (await cacheCount(a.url, 'hit')) + (await cacheCount(b.url, 'hit'));
    for (let i = 0; i < 36; i++) {
      const [writer, reader] = i % 2 === 0 ? [a, b] : [b, a];
      for (const token of [dev, admin]) await page(reader.url, token, 'cached'); // warm both
      await writes[i % writes.length]!(writer.url, i);
      for (const token of [dev, admin]) {
        const expected = await page(oracle.url, token, 'cached');
        // The instant after: no pause between the write's answer and these reads.
        expect(await page(reader.url, token, 'cached'), `read ${i} on the other replica`).toEqual(expected);
        expect(await page(writer.url, token, 'cached'), `read ${i} on the writer`).toEqual(expected);
        expect(await page(reader.url, token, 'cached'), `read ${i} again`).toEqual(expected);
      }
    }
    // Repeated reads were answered from memory, not only planned again.
    const hits = (await cacheCount(a.url, 'hit')) + (await cacheCount(b.url, 'hit')) - hitsBefore;
    expect(hits).toBeGreaterThan(36);
    expect(await cacheCount(oracle.url, 'hit')).toBe(0);
  });

  it('a freeze window that starts and ends changes the cached page without any write', { timeout: 60_000 }, async () => {
    const project = (await gql(a.url, admin, 'mutation { createProject(input: { slug: "clocked", name: "Clocked" }) { id } }'))
      .createProject as { id: string };
    const startsAt = Date.now() + 2_500;
    await gql(a.url, admin, 'mutation($i: CreateFreezeWindowInput!) { createFreezeWindow(input: $i) { id } }', {
      i: {
        projectId: project.id,
        name: 'soon',
        reason: 'release day',
        startsAt: new Date(startsAt).toISOString(),
        endsAt: new Date(startsAt + 2_500).toISOString(),
      },
    });
    const active = async () => (await page(b.url, dev, 'clocked')).project.environments.map((e: any) => e.activeFreeze?.name ?? null);
    const hits = await cacheCount(b.url, 'hit');
    expect(await active()).toEqual([null, null, null]);
    expect(await active()).toEqual([null, null, null]);
    expect(await cacheCount(b.url, 'hit')).toBeGreaterThan(hits);
    await sleep(startsAt - Date.now() + 100);
    expect(await active()).toEqual(['soon', 'soon', 'soon']);
    await sleep(startsAt + 2_500 - Date.now() + 100);
    expect(await active()).toEqual([null, null, null]);
  });
});
