// Project.insights over a known history: deployments, releases and events written with fixed
// timestamps straight into the database (the deployments' instants derived from those events by
// the migration's backfill), then every figure checked exactly through the GraphQL
// API — on PostgreSQL and on PGlite (what `npm start` runs without DATABASE_URL). Percentiles are
// PostgreSQL's percentile_cont: linear interpolation, so p50 of two values is their mean and p90
// of 1800, 3600, 14400 is 3600 + 0.8 × (14400 − 3600).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEPLOYMENT_INSTANTS_BACKFILL } from '../../db/deployment-instants.ts';
import { createTestDatabase } from '../support/database.ts';
import { rows, startHistoryApi, type HistoryApi } from '../support/history.ts';

const INSIGHTS = `query($slug: String!, $env: String!, $from: DateTime!, $to: DateTime!) {
  project(slug: $slug) { insights(environment: $env, from: $from, to: $to) {
    environment from to deployments successes failures rollbacks deploymentsPerDay changeFailureRate
    leadTimeSeconds { p50 p90 } timeToRestoreSeconds { p50 p90 } approvalWaitSeconds { p50 p90 }
    series { day deployments failures }
  } } }`;

type Event = [type: string, status: string, at: string];

const HOUR = 3600;

for (const driver of ['postgres', 'pglite'] as const) {
  describe(`Project.insights on ${driver}`, () => {
    let api: HistoryApi;
    let drop: (() => Promise<void>) | undefined;
    let env: Record<string, string>;
    let projectId: string;

    beforeAll(async () => {
      let url: string | undefined;
      if (driver === 'postgres') {
        const db = await createTestDatabase();
        url = db.url;
        drop = db.drop;
      }
      api = await startHistoryApi(url);
      const created = await api.gql(`mutation { createProject(input: { slug: "shop", name: "Shop" }) { id environments { id slug } } }`);
      env = Object.fromEntries(
        created.createProject.environments.map((e: { id: string; slug: string }) => [
          e.slug,
          Buffer.from(e.id, 'base64').toString().split(':')[1],
        ]),
      );
      projectId = (await rows(api.database, `select id from projects where slug = 'shop'`))[0]!.id;
      await seedKnownHistory();
    }, 60_000);
    afterAll(async () => {
      await api?.close();
      await drop?.();
    });

    const release = async (sha: string, createdAt: string) =>
      (
        await rows(
          api.database,
          `insert into releases (project_id, version, commit_sha, branch, created_at) values ($1, $2, $2, 'main', $3) returning id`,
          [projectId, sha, createdAt],
        )
      )[0]!.id as string;

    /** One deployment with its events (seq in the order given); its status is the last event's. */
    async function deployment(environment: string, releaseId: string, kind: string, events: Event[]) {
      const status = events.at(-1)![1];
      const [d] = await rows(
        api.database,
        `insert into deployments (project_id, environment_id, release_id, kind, status, requested_by, snapshot, workflow_id, last_seq, created_at)
         values ($1, $2, $3, $4, $5, 'dev', '{}', gen_random_uuid()::text, $6, $7) returning id`,
        [projectId, env[environment], releaseId, kind, status, events.length, events[0]![2]],
      );
      for (const [i, [type, st, at]] of events.entries()) {
        await rows(
          api.database,
          `insert into deployment_events (deployment_id, project_id, seq, type, status, created_at) values ($1, $2, $3, $4, $5, $6)`,
          [d!.id, projectId, i + 1, type, st, at],
        );
      }
    }

    // Production's history around the range [2026-03-01T12:00Z, 2026-03-04T06:00Z) (2.75 days,
    // touching four UTC days). Times are UTC.
    async function seedKnownHistory() {
      const r1 = await release('a000001', '2026-03-01T10:00:00Z');
      const r2 = await release('a000002', '2026-03-02T00:00:00Z');
      const r3 = await release('a000003', '2026-03-03T00:00:00Z');
      const queued = (at: string): Event => ['CREATED', 'QUEUED', at];
      // D0: succeeded a millisecond before the range (on its first day): not counted.
      await deployment('production', r1, 'PUSH', [queued('2026-03-01T11:00:00Z'), ['SUCCEEDED', 'SUCCEEDED', '2026-03-01T11:59:59.999Z']]);
      // D1: requested before the range, approved (for good) and succeeded at `from` exactly.
      // Lead time 2 h; approval wait 1 h.
      await deployment('production', r1, 'PROMOTION', [
        queued('2026-03-01T11:00:00Z'),
        ['APPROVAL_REQUESTED', 'PENDING_APPROVAL', '2026-03-01T11:00:00Z'],
        ['APPROVED', 'QUEUED', '2026-03-01T12:00:00Z'],
        ['STARTED', 'RUNNING', '2026-03-01T12:00:00Z'],
        ['SUCCEEDED', 'SUCCEEDED', '2026-03-01T12:00:00Z'],
      ]);
      // D2, D3: two failures on day 2; D4, a rollback, restores both (3 h and 2 h later).
      await deployment('production', r2, 'PUSH', [queued('2026-03-02T00:30:00Z'), ['FAILED', 'FAILED', '2026-03-02T01:00:00Z']]);
      await deployment('production', r2, 'MANUAL', [
        queued('2026-03-02T01:30:00Z'),
        ['STARTED', 'RUNNING', '2026-03-02T01:31:00Z'],
        ['LOG', 'RUNNING', '2026-03-02T01:32:00Z'],
        ['FAILED', 'FAILED', '2026-03-02T02:00:00Z'],
      ]);
      await deployment('production', r1, 'ROLLBACK', [queued('2026-03-02T03:00:00Z'), ['SUCCEEDED', 'SUCCEEDED', '2026-03-02T04:00:00Z']]);
      // D5: two approvals needed (the first leaves it PENDING_APPROVAL); decided after 30 min,
      // succeeded 1 h after its release.
      await deployment('production', r3, 'PROMOTION', [
        queued('2026-03-03T00:00:00Z'),
        ['APPROVAL_REQUESTED', 'PENDING_APPROVAL', '2026-03-03T00:00:00Z'],
        ['APPROVED', 'PENDING_APPROVAL', '2026-03-03T00:10:00Z'],
        ['APPROVED', 'QUEUED', '2026-03-03T00:30:00Z'],
        ['SUCCEEDED', 'SUCCEEDED', '2026-03-03T01:00:00Z'],
      ]);
      // D6: rejected after 4 h.
      await deployment('production', r3, 'PROMOTION', [
        queued('2026-03-03T02:00:00Z'),
        ['APPROVAL_REQUESTED', 'PENDING_APPROVAL', '2026-03-03T02:00:00Z'],
        ['REJECTED', 'REJECTED', '2026-03-03T06:00:00Z'],
      ]);
      // D7: fails a millisecond before `to`; D8 restores it at `to`,
      // outside the range: D7 has no time to restore in the range.
      await deployment('production', r3, 'PUSH', [
        queued('2026-03-04T05:00:00Z'),
        ['LOG', 'RUNNING', '2026-03-04T05:30:00Z'],
        ['FAILED', 'FAILED', '2026-03-04T05:59:59.999Z'],
      ]);
      await deployment('production', r3, 'MANUAL', [
        queued('2026-03-04T05:59:59.999Z'),
        ['SUCCEEDED', 'SUCCEEDED', '2026-03-04T06:00:00Z'],
      ]);
      // Not counted anywhere: expired, cancelled and running ones; another environment's.
      await deployment('production', r2, 'PROMOTION', [
        queued('2026-03-02T10:00:00Z'),
        ['APPROVAL_REQUESTED', 'PENDING_APPROVAL', '2026-03-02T10:00:00Z'],
        ['EXPIRED', 'EXPIRED', '2026-03-02T20:00:00Z'],
      ]);
      await deployment('production', r2, 'MANUAL', [queued('2026-03-02T11:00:00Z'), ['CANCELLED', 'CANCELLED', '2026-03-02T11:05:00Z']]);
      await deployment('production', r3, 'MANUAL', [queued('2026-03-03T12:00:00Z'), ['STARTED', 'RUNNING', '2026-03-03T12:01:00Z']]);
      await deployment('staging', r2, 'PUSH', [queued('2026-03-02T00:00:00Z'), ['SUCCEEDED', 'SUCCEEDED', '2026-03-02T00:10:00Z']]);
      await deployment('staging', r2, 'PUSH', [queued('2026-03-02T00:20:00Z'), ['FAILED', 'FAILED', '2026-03-02T00:30:00Z']]);
      // The instants insights read, derived from these events as the migration derived them.
      for (const statement of DEPLOYMENT_INSTANTS_BACKFILL) await rows(api.database, statement);
    }

    const insights = async (environment: string, from: string, to: string) =>
      (await api.gql(INSIGHTS, { slug: 'shop', env: environment, from, to })).project.insights;
    const errorOf = (environment: string, from: string, to: string) =>
      insights(environment, from, to).then(
        () => null,
        (e: Error) => JSON.parse(e.message)[0] as { message: string; extensions: { code: string } },
      );

    it('every figure of a range whose edges are not at midnight', async () => {
      expect(await insights('production', '2026-03-01T12:00:00Z', '2026-03-04T06:00:00Z')).toEqual({
        environment: 'production',
        from: '2026-03-01T12:00:00.000Z',
        to: '2026-03-04T06:00:00.000Z',
        // D1, D2, D3, D4, D5, D7
        deployments: 6,
        successes: 3,
        failures: 3,
        rollbacks: 1,
        deploymentsPerDay: 3 / 2.75,
        changeFailureRate: 0.5,
        // D1 2 h, D5 1 h (the rollback D4 ships no change): an even count.
        leadTimeSeconds: { p50: 1.5 * HOUR, p90: HOUR + 0.9 * HOUR },
        // D2 → D4 3 h, D3 → D4 2 h; D7 not restored within the range.
        timeToRestoreSeconds: { p50: 2.5 * HOUR, p90: 2 * HOUR + 0.9 * HOUR },
        // D5 30 min, D1 1 h, D6 4 h: an odd count.
        approvalWaitSeconds: { p50: HOUR, p90: HOUR + 0.8 * (4 * HOUR - HOUR) },
        series: [
          { day: '2026-03-01', deployments: 1, failures: 0 },
          { day: '2026-03-02', deployments: 3, failures: 2 },
          { day: '2026-03-03', deployments: 1, failures: 0 },
          { day: '2026-03-04', deployments: 1, failures: 1 },
        ],
      });
    });

    it('an empty range: zero counts, null percentiles and rate, a zero bucket per day (to at midnight adds none)', async () => {
      expect(await insights('production', '2026-02-01T00:00:00Z', '2026-02-03T00:00:00Z')).toEqual({
        environment: 'production',
        from: '2026-02-01T00:00:00.000Z',
        to: '2026-02-03T00:00:00.000Z',
        deployments: 0,
        successes: 0,
        failures: 0,
        rollbacks: 0,
        deploymentsPerDay: 0,
        changeFailureRate: null,
        leadTimeSeconds: { p50: null, p90: null },
        timeToRestoreSeconds: { p50: null, p90: null },
        approvalWaitSeconds: { p50: null, p90: null },
        series: [
          { day: '2026-02-01', deployments: 0, failures: 0 },
          { day: '2026-02-02', deployments: 0, failures: 0 },
        ],
      });
      // An environment with no deployment at all, and an hour inside one day.
      const development = await insights('development', '2026-03-02T10:15:00Z', '2026-03-02T11:15:00Z');
      expect(development).toMatchObject({ deployments: 0, changeFailureRate: null, leadTimeSeconds: { p50: null, p90: null } });
      expect(development.series).toEqual([{ day: '2026-03-02', deployments: 0, failures: 0 }]);
    });

    it('a range with one deployment: both percentiles are its value', async () => {
      expect(await insights('production', '2026-03-03T00:00:00Z', '2026-03-03T02:00:00Z')).toMatchObject({
        deployments: 1,
        successes: 1,
        failures: 0,
        rollbacks: 0,
        deploymentsPerDay: 12,
        changeFailureRate: 0,
        leadTimeSeconds: { p50: HOUR, p90: HOUR },
        timeToRestoreSeconds: { p50: null, p90: null },
        // D5 was decided in it; D6 was requested at `to` and decided later.
        approvalWaitSeconds: { p50: 1800, p90: 1800 },
        series: [{ day: '2026-03-03', deployments: 1, failures: 0 }],
      });
    });

    it('a failure before the range is not restored in it; a range of only a rollback has no lead time', async () => {
      expect(await insights('production', '2026-03-02T01:30:00Z', '2026-03-02T05:00:00Z')).toMatchObject({
        deployments: 2,
        successes: 1,
        failures: 1,
        rollbacks: 1,
        changeFailureRate: 0.5,
        leadTimeSeconds: { p50: null, p90: null },
        timeToRestoreSeconds: { p50: 2 * HOUR, p90: 2 * HOUR },
        approvalWaitSeconds: { p50: null, p90: null },
      });
    });

    it("another environment's deployments only: staging", async () => {
      expect(await insights('staging', '2026-03-01T00:00:00Z', '2026-03-05T00:00:00Z')).toMatchObject({
        deployments: 2,
        successes: 1,
        failures: 1,
        changeFailureRate: 0.5,
        // Its failure (00:30) has no later success there.
        timeToRestoreSeconds: { p50: null, p90: null },
        leadTimeSeconds: { p50: 600, p90: 600 },
        series: [
          { day: '2026-03-01', deployments: 0, failures: 0 },
          { day: '2026-03-02', deployments: 2, failures: 1 },
          { day: '2026-03-03', deployments: 0, failures: 0 },
          { day: '2026-03-04', deployments: 0, failures: 0 },
        ],
      });
    });

    it('366 days is the longest range; 366 days and a millisecond, from = to and from > to are BAD_USER_INPUT', async () => {
      const longest = await insights('production', '2025-03-04T06:00:00Z', '2026-03-05T06:00:00Z');
      expect(longest.series).toHaveLength(367); // 366 days from 06:00 touch 367 UTC days
      expect(longest).toMatchObject({ deployments: 8, successes: 5, failures: 3 });
      for (const [from, to] of [
        ['2025-03-04T06:00:00Z', '2026-03-05T06:00:00.001Z'],
        ['2026-03-01T00:00:00Z', '2026-03-01T00:00:00Z'],
        ['2026-03-02T00:00:00Z', '2026-03-01T00:00:00Z'],
      ]) {
        const error = await errorOf('production', from!, to!);
        expect({ from, to, code: error?.extensions.code }).toEqual({ from, to, code: 'BAD_USER_INPUT' });
        expect(error?.message).toMatch(/^to: /);
      }
      expect((await errorOf('production', 'yesterday', '2026-03-01T00:00:00Z'))?.extensions.code).toBe('BAD_USER_INPUT');
    });

    it('an unknown environment is NOT_FOUND', async () => {
      const error = await errorOf('nowhere', '2026-03-01T00:00:00Z', '2026-03-02T00:00:00Z');
      expect(error).toMatchObject({ message: 'No environment "nowhere" in project shop', extensions: { code: 'NOT_FOUND' } });
    });
  });
}
