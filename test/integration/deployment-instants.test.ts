// The instants Project.insights reads off each deployment's row are what its event log says:
// as appendDeploymentEvent writes them (PostgreSQL and PGlite), as the migration's backfill
// derives them, and — on a generated history with deployments decided more than once — the
// statement on the rows answers exactly what the statement on the event log answered.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MIGRATIONS_FOLDER } from '../../db/client.ts';
import { DEPLOYMENT_INSTANTS_BACKFILL } from '../../db/deployment-instants.ts';
import { appendDeploymentEvent, type NewDeploymentEvent } from '../../db/event-log.ts';
import { insightsQuery } from '../../services/insights.ts';
import { createTestDatabase } from '../support/database.ts';
import { INSTANT_COLUMNS, instantsOfEveryDeployment } from '../support/deployment-instants.ts';
import { rows, startHistoryApi, type HistoryApi } from '../support/history.ts';
import { seedInsightsHistory } from '../support/insights-history.ts';
import { eventLogInsightsQuery } from '../support/insights-oracle.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const ev = (type: string, status: string): NewDeploymentEvent => ({ type, status }) as NewDeploymentEvent;

it("the migration's backfill is db/deployment-instants.ts word for word", () => {
  const folder = readdirSync(MIGRATIONS_FOLDER).find((f) => f.endsWith('_insights_deployment_instants'))!;
  const migration = readFileSync(join(MIGRATIONS_FOLDER, folder, 'migration.sql'), 'utf8');
  const statements = migration.split('--> statement-breakpoint').map((s) => s.replace(/^\s*(--[^\n]*\n)*/, '').trim());
  for (const backfill of DEPLOYMENT_INSTANTS_BACKFILL) expect(statements).toContain(backfill);
});

for (const driver of ['postgres', 'pglite'] as const) {
  describe(`appendDeploymentEvent on ${driver}`, () => {
    let api: HistoryApi;
    let drop: (() => Promise<void>) | undefined;
    let projectId: string;
    let environmentId: string;
    let releaseId: string;
    const query = (text: string) => rows(api.database, text);

    beforeAll(async () => {
      let url: string | undefined;
      if (driver === 'postgres') {
        const db = await createTestDatabase();
        url = db.url;
        drop = db.drop;
      }
      api = await startHistoryApi(url);
      const created = await api.gql(`mutation { createProject(input: { slug: "instants", name: "Instants" }) { environments { id } } }`);
      environmentId = Buffer.from(created.createProject.environments[2].id, 'base64').toString().split(':')[1]!;
      projectId = (await query(`select id from projects where slug = 'instants'`))[0]!.id;
      releaseId = (
        await rows(
          api.database,
          `insert into releases (project_id, version, commit_sha, branch, created_at) values ($1, 'v1', 'abcdef1', 'main', '2026-01-01T00:00:00Z') returning id`,
          [projectId],
        )
      )[0]!.id;
    }, 60_000);
    afterAll(async () => {
      await api?.close();
      await drop?.();
    });

    async function newDeployment(): Promise<string> {
      const [d] = await rows(
        api.database,
        `insert into deployments (project_id, environment_id, release_id, kind, status, requested_by, snapshot, workflow_id)
         values ($1, $2, $3, 'PROMOTION', 'QUEUED', 'dev', '{}', gen_random_uuid()::text) returning id`,
        [projectId, environmentId, releaseId],
      );
      return d!.id;
    }

    /** Each event in its own transaction, a few milliseconds apart, as the workflow's activities append them. */
    async function history(events: NewDeploymentEvent[]): Promise<string> {
      const id = await newDeployment();
      for (const e of events) {
        await api.database.db.transaction((tx) => appendDeploymentEvent(tx, id, e));
        await sleep(3);
      }
      return id;
    }

    it('keeps each instant the log defines, and the backfill derives the same', async () => {
      const redecided = await history([
        ev('CREATED', 'QUEUED'),
        ev('APPROVAL_REQUESTED', 'PENDING_APPROVAL'),
        ev('APPROVED', 'PENDING_APPROVAL'),
        ev('APPROVED', 'QUEUED'),
        ev('APPROVALS_INVALIDATED', 'PENDING_APPROVAL'),
        ev('APPROVED', 'QUEUED'),
        ev('STARTED', 'RUNNING'),
        ev('VERIFICATION_FAILED', 'RUNNING'),
        ev('FAILED', 'FAILED'),
      ]);
      const rejected = await history([
        ev('CREATED', 'QUEUED'),
        // A break-glass override is recorded before the request: the first PENDING_APPROVAL event.
        ev('FREEZE_OVERRIDDEN', 'PENDING_APPROVAL'),
        ev('APPROVAL_REQUESTED', 'PENDING_APPROVAL'),
        ev('REJECTED', 'REJECTED'),
      ]);
      await history([ev('CREATED', 'QUEUED'), ev('APPROVAL_REQUESTED', 'PENDING_APPROVAL'), ev('EXPIRED', 'EXPIRED')]);
      const succeeded = await history([
        ev('CREATED', 'QUEUED'),
        ev('STARTED', 'RUNNING'),
        ev('LOG', 'RUNNING'),
        ev('SUCCEEDED', 'SUCCEEDED'),
      ]);
      await history([ev('CREATED', 'QUEUED'), ev('STARTED', 'RUNNING'), ev('CANCELLED', 'CANCELLED')]);
      await history([ev('CREATED', 'QUEUED'), ev('STARTED', 'RUNNING')]);
      // A retried append (same idempotency key) adds nothing and moves nothing.
      const decide = () =>
        api.database.db.transaction((tx) =>
          appendDeploymentEvent(tx, redecided, { type: 'APPROVED', status: 'QUEUED', idempotencyKey: 'decision:retried' }),
        );
      const row = async () => (await query(`select last_seq, ${INSTANT_COLUMNS.join(', ')} from deployments where id = '${redecided}'`))[0];
      await decide();
      const once = await row();
      await sleep(5);
      await decide();
      expect(await row()).toEqual(once);
      const written = await instantsOfEveryDeployment(query);
      expect(written).toHaveLength(6);
      for (const d of written) expect({ id: d.id, instants: d.actual }).toEqual({ id: d.id, instants: d.expected });
      const byId = new Map(written.map((d) => [d.id, d.actual]));
      expect(byId.get(redecided)!.approval_first_decided_at! < byId.get(redecided)!.approval_decided_at!).toBe(true);
      expect(byId.get(redecided)!.outcome_at).not.toBeNull();
      expect(byId.get(rejected)).toMatchObject({ outcome_at: null, approval_decided_at: expect.any(String) });
      expect(byId.get(succeeded)).toMatchObject({ release_created_at: '2026-01-01T00:00:00.000Z', approval_requested_at: null });

      // Forget them; the migration's backfill derives the very same from the log.
      await query(`update deployments set ${INSTANT_COLUMNS.map((c) => `${c} = null`).join(', ')}`);
      for (const statement of DEPLOYMENT_INSTANTS_BACKFILL) await query(statement);
      const backfilled = await instantsOfEveryDeployment(query);
      expect(backfilled.map((d) => d.actual)).toEqual(written.map((d) => d.actual));
    });

    if (driver === 'postgres') {
      it('keeps the earliest and the latest decision when a transaction that began earlier appends later', async () => {
        const id = await history([ev('CREATED', 'QUEUED'), ev('APPROVAL_REQUESTED', 'PENDING_APPROVAL')]);
        let began!: () => void;
        let go!: () => void;
        const started = new Promise<void>((r) => (began = r));
        const gate = new Promise<void>((r) => (go = r));
        const early = api.database.db.transaction(async (tx) => {
          await tx.execute(sql`select now()`);
          began();
          await gate;
          await appendDeploymentEvent(tx, id, ev('REJECTED', 'REJECTED'));
        });
        await started;
        await sleep(5);
        await api.database.db.transaction((tx) => appendDeploymentEvent(tx, id, ev('APPROVED', 'QUEUED')));
        go();
        await early;
        const [d] = (await instantsOfEveryDeployment(query)).filter((x) => x.id === id);
        const log = await query(`select type::text as type, created_at from deployment_events where deployment_id = '${id}' order by seq`);
        // Appended last, yet the earlier instant.
        expect(log.at(-1)!.type).toBe('REJECTED');
        const at = (e: Record<string, any>) => new Date(e.created_at);
        expect(at(log.at(-1)!).getTime()).toBeLessThan(at(log.at(-2)!).getTime());
        expect(d!.actual).toEqual(d!.expected);
        expect(d!.actual.approval_first_decided_at).toBe(at(log.at(-1)!).toISOString());
      });
    }
  });
}

describe('the statement on the rows answers what the statement on the event log answered', () => {
  const END = new Date('2026-06-01T00:00:00Z');
  let api: HistoryApi;
  let drop: () => Promise<void>;
  let projectId: string;
  let environmentIds: string[];

  beforeAll(async () => {
    const db = await createTestDatabase();
    drop = db.drop;
    api = await startHistoryApi(db.url);
    const created = await api.gql(`mutation { createProject(input: { slug: "oracle", name: "Oracle" }) { environments { id } } }`);
    environmentIds = created.createProject.environments.map((e: { id: string }) => Buffer.from(e.id, 'base64').toString().split(':')[1]!);
    projectId = (await rows(api.database, `select id from projects where slug = 'oracle'`))[0]!.id;
    // 3,000 deployments over 30 days: 10 decided twice (approvals voided after the quorum).
    await seedInsightsHistory(api.database, {
      projectId,
      environmentIds: environmentIds as [string, string, string],
      deployments: 3000,
      days: 30,
      end: END,
    });
  }, 120_000);
  afterAll(async () => {
    await api?.close();
    await drop?.();
  });

  const first = async (q: ReturnType<typeof sql>) => {
    const result = await api.database.db.execute(q);
    return (Array.isArray(result) ? result[0] : (result as { rows: unknown[] }).rows[0]) as Record<string, any>;
  };
  const pair = (p: number[] | null) => ({ p50: p?.[0] ?? null, p90: p?.[1] ?? null });
  const fromRows = async (environmentId: string, from: Date, to: Date) => {
    const r = await first(insightsQuery(environmentId, from, to));
    return { ...counts(r), lead: pair(r.lead), restore: pair(r.restore), wait: pair(r.wait), series: r.series };
  };
  const fromLog = async (environmentId: string, from: Date, to: Date) => {
    const r = await first(eventLogInsightsQuery(projectId, environmentId, from, to));
    return {
      ...counts(r),
      lead: { p50: r.lead_p50, p90: r.lead_p90 },
      restore: { p50: r.restore_p50, p90: r.restore_p90 },
      wait: { p50: r.wait_p50, p90: r.wait_p90 },
      series: r.series,
    };
  };
  const counts = (r: Record<string, any>) => ({
    deployments: r.deployments,
    successes: r.successes,
    failures: r.failures,
    rollbacks: r.rollbacks,
  });

  it('on ranges around the decisions of deployments decided twice, and on random ranges', async () => {
    const twice = await rows(
      api.database,
      `select environment_id, approval_first_decided_at as first, approval_decided_at as last from deployments
       where approval_first_decided_at < approval_decided_at order by approval_decided_at`,
    );
    expect(twice.length).toBeGreaterThanOrEqual(10);
    const ms = (d: Date, delta: number) => new Date(d.getTime() + delta);
    const ranges: [string, Date, Date][] = [];
    for (const t of twice) {
      const [a, b] = [new Date(t.first), new Date(t.last)];
      ranges.push(
        [t.environment_id, a, ms(a, 1)], // only the earlier decision
        [t.environment_id, ms(a, -3_600_000), ms(a, 1)],
        [t.environment_id, ms(a, 1), ms(b, 1)], // only the later one
        [t.environment_id, a, ms(b, 1)], // both
        [t.environment_id, ms(a, -86_400_000), b], // the earlier one, `to` at the later one
      );
    }
    // A deterministic spread of ranges, 1 minute to 30 days, every environment.
    let seed = 7;
    const random = () => ((seed = (seed * 48271) % 2147483647) / 2147483647) as number;
    for (let i = 0; i < 30; i++) {
      const length = Math.round(60_000 + random() * 30 * 86_400_000);
      const to = ms(END, -Math.round(random() * 5 * 86_400_000));
      ranges.push([environmentIds[i % 3]!, ms(to, -length), to]);
    }
    let waitsFromEarlierDecisions = 0;
    for (const [environmentId, from, to] of ranges) {
      const reference = await fromLog(environmentId, from, to);
      expect({ from, to, ...(await fromRows(environmentId, from, to)) }).toEqual({ from, to, ...reference });
      if (reference.wait.p50 !== null && to.getTime() - from.getTime() === 1) waitsFromEarlierDecisions++;
    }
    // The one-millisecond ranges around an earlier decision did measure it.
    expect(waitsFromEarlierDecisions).toBeGreaterThanOrEqual(10);
  }, 120_000);
});
