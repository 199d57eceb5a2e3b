// A transition (services/deployment-runs.ts) locks the deployment's row and checks its event's
// idempotency key in one statement, whose snapshot predates any wait for that lock. These force
// the wait with two real transactions: the first holds the lock and appends, the second is seen
// waiting in pg_stat_activity, then the first commits. The second must see what the first
// appended (so a retried transition records nothing twice) and take the next seq, gap-free, and
// its NOTIFY must reach a listener. Also: an uncontended transition is 3 statements.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendDeploymentEvent, EVENTS_CHANNEL, type EventNotification } from '../../db/event-log.ts';
import { deploymentRuns } from '../../services/deployment-runs.ts';
import { createTestDatabase } from '../support/database.ts';
import { rows, startHistoryApi, type HistoryApi } from '../support/history.ts';

describe('a transition that waits for the deployment row lock (postgres)', () => {
  let api: HistoryApi;
  let drop: () => Promise<void>;
  const notes: EventNotification[] = [];
  let unlisten: () => Promise<void>;

  beforeAll(async () => {
    const db = await createTestDatabase();
    drop = db.drop;
    api = await startHistoryApi(db.url);
    unlisten = await api.database.listen(EVENTS_CHANNEL, (payload) => notes.push(JSON.parse(payload)));
  }, 60_000);
  afterAll(async () => {
    await unlisten?.();
    await api?.close();
    await drop?.();
  });

  let projects = 0;
  /** A RUNNING deployment with CREATED and STARTED in its log (seqs 1, 2), in a project of its own (one RUNNING per environment). */
  async function runningDeployment(): Promise<{ id: string; projectId: string; environmentId: string }> {
    const slug = `lock-wait-${projects++}`;
    const created = await api.gql(`mutation($i: CreateProjectInput!) { createProject(input: $i) { environments { id } } }`, {
      i: { slug, name: slug },
    });
    const environmentId = Buffer.from(created.createProject.environments[0].id, 'base64').toString().split(':')[1]!;
    const projectId = (await rows(api.database, `select id from projects where slug = $1`, [slug]))[0]!.id;
    const [release] = await rows(
      api.database,
      `insert into releases (project_id, version, commit_sha, branch) values ($1, 'v1', 'abcdef1', 'main') returning id`,
      [projectId],
    );
    const [d] = await rows(
      api.database,
      `insert into deployments (project_id, environment_id, release_id, kind, status, requested_by, snapshot, workflow_id)
       values ($1, $2, $3, 'PROMOTION', 'RUNNING', 'dev', '{}', gen_random_uuid()::text) returning id`,
      [projectId, environmentId, release!.id],
    );
    for (const [type, key] of [
      ['CREATED', 'created'],
      ['STARTED', 'started'],
    ] as const)
      await api.database.db.transaction((tx) => appendDeploymentEvent(tx, d!.id, { type, status: 'RUNNING', idempotencyKey: key }));
    return { id: d!.id, projectId, environmentId };
  }

  const log = (id: string) =>
    rows(
      api.database,
      `select seq, type::text as type, idempotency_key as key from deployment_events where deployment_id = $1 order by seq`,
      [id],
    );

  /**
   * Holds the row lock of `id` in one transaction that appends `key` (as the first attempt of a
   * transition would), runs `second` meanwhile, commits once `second` waits for the lock.
   */
  async function whileLocked<T>(id: string, key: string, second: () => Promise<T>): Promise<T> {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let locked!: () => void;
    const holding = new Promise<void>((r) => (locked = r));
    const first = api.database.db.transaction(async (tx) => {
      await tx.execute(`select id from deployments where id = '${id}' for update`);
      await appendDeploymentEvent(tx, id, { type: 'STEP_STARTED', status: 'RUNNING', step: 'build', progress: 0, idempotencyKey: key });
      locked();
      await gate;
    });
    await holding;
    const result = second();
    result.catch(() => {}); // awaited below
    // Until the second transaction is seen waiting for a lock in this database.
    for (;;) {
      const [w] = await rows(
        api.database,
        `select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`,
      );
      if (w!.n > 0) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    release();
    await first;
    return result;
  }

  it('a retried transition arriving during the wait records nothing again', async () => {
    const { id } = await runningDeployment();
    const runs = deploymentRuns(api.database.db);
    // recordStep(0, started) keys its event step:0:started, which the holder appends first.
    await whileLocked(id, 'step:0:started', () => runs.recordStep(id, 0, { kind: 'started' }));
    expect(await log(id)).toEqual([
      { seq: 1, type: 'CREATED', key: 'created' },
      { seq: 2, type: 'STARTED', key: 'started' },
      { seq: 3, type: 'STEP_STARTED', key: 'step:0:started' },
    ]);
    expect((await rows(api.database, `select last_seq from deployments where id = $1`, [id]))[0]!.last_seq).toBe(3);
  });

  it('a transition waiting behind another append takes the next seq, and its NOTIFY reaches a listener', async () => {
    const { id, projectId } = await runningDeployment();
    const runs = deploymentRuns(api.database.db);
    await whileLocked(id, 'log:other', () => runs.recordStep(id, 0, { kind: 'started' }));
    const events = await log(id);
    expect(events.map((e) => [e.seq, e.key])).toEqual([
      [1, 'created'],
      [2, 'started'],
      [3, 'log:other'],
      [4, 'step:0:started'],
    ]);
    for (let i = 0; i < 100 && notes.filter((n) => n.deploymentId === id).length < 4; i++) await new Promise((r) => setTimeout(r, 20));
    expect(notes.filter((n) => n.deploymentId === id).map((n) => [n.seq, n.projectId])).toEqual([1, 2, 3, 4].map((s) => [s, projectId]));
  });

  it('an uncontended transition is 3 statements: lock and check, the row with its seq, the event with its NOTIFY', async () => {
    const { id } = await runningDeployment();
    const runs = deploymentRuns(api.database.db);
    api.take();
    await runs.recordStep(id, 0, { kind: 'started' });
    const statements = api.take();
    expect(statements, statements.map((s) => s.sql).join('\n---\n')).toHaveLength(3);
    // A retry: the lock and the check, nothing written.
    await runs.recordStep(id, 0, { kind: 'started' });
    expect(api.take()).toHaveLength(1);
    expect((await log(id)).map((e) => e.seq)).toEqual([1, 2, 3]);
  });

  it('so does recordInstantSteps (steps that take no time): the step recorded during the wait is not recorded again', async () => {
    const { id, environmentId } = await runningDeployment();
    await rows(api.database, `update environments set deploy_target = deploy_target || '{"stepSeconds": 0}' where id = $1`, [
      environmentId,
    ]);
    const runs = deploymentRuns(api.database.db);
    expect(await whileLocked(id, 'step:0:started', () => runs.recordInstantSteps(id))).toBe(true);
    const events = await log(id);
    expect(events.filter((e) => e.key === 'step:0:started')).toHaveLength(1);
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    expect(events.at(-1)!.type).toBe('STEP_SUCCEEDED');
  });
});
