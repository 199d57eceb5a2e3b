// A new event's NOTIFY carries the row when it fits (live/hub.ts then dispatches it without loading
// it). One append makes that payload in its insert's RETURNING (db/event-log.ts notificationSql), a
// batch in JavaScript (notificationOf): both must carry the very row a later read returns, and the
// database's payload must stay under PostgreSQL's 8000 bytes whatever the message's length (a
// NOTIFY over it fails the insert, and with it the transition). On both drivers.
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDatabase, type DatabaseHandle } from '../../db/client.ts';
import {
  appendDeploymentEvent,
  appendDeploymentEvents,
  EVENTS_CHANNEL,
  notificationOf,
  notifiedRow,
  type EventNotification,
} from '../../db/event-log.ts';
import { deploymentEvents } from '../../db/schema/index.ts';
import { createTestDatabase } from '../support/database.ts';
import { rows } from '../support/history.ts';

const drivers = [
  ['postgres', async () => createTestDatabase()],
  ['pglite', async () => ({ url: undefined, drop: async () => {} })],
] as const;

describe.each(drivers)('event notifications (%s)', (_kind, create) => {
  let database: DatabaseHandle;
  let drop: () => Promise<void>;
  let unlisten: () => Promise<void>;
  const payloads: string[] = [];
  let deploymentId: string;

  beforeAll(async () => {
    const made = await create();
    drop = made.drop;
    database = await createDatabase({ url: made.url });
    await database.migrate();
    unlisten = await database.listen(EVENTS_CHANNEL, (payload) => payloads.push(payload));
    const [p] = await rows(database, `insert into projects (slug, name) values ('notes', 'notes') returning id`);
    const [e] = await rows(
      database,
      `insert into environments (project_id, slug, name, type, position, policy, deploy_target, settings)
       values ($1, 'dev', 'dev', 'DEVELOPMENT', 0, '{}', '{}', '{}') returning id`,
      [p!.id],
    );
    const [r] = await rows(
      database,
      `insert into releases (project_id, version, commit_sha, branch) values ($1, 'v1', 'abcdef1', 'main') returning id`,
      [p!.id],
    );
    const [d] = await rows(
      database,
      `insert into deployments (project_id, environment_id, release_id, kind, status, requested_by, snapshot, workflow_id)
       values ($1, $2, $3, 'PROMOTION', 'RUNNING', 'dev', '{}', gen_random_uuid()::text) returning id`,
      [p!.id, e!.id, r!.id],
    );
    deploymentId = d!.id;
  }, 60_000);
  afterAll(async () => {
    await unlisten?.();
    await database?.close();
    await drop?.();
  });

  const received = async (count: number) => {
    for (let i = 0; i < 200 && payloads.length < count; i++) await new Promise((r) => setTimeout(r, 10));
    expect(payloads).toHaveLength(count);
    return payloads.splice(0).map((p) => ({ text: p, note: JSON.parse(p) as EventNotification }));
  };
  const stored = async (ids: number[]) =>
    new Map(
      (
        await database.db
          .select()
          .from(deploymentEvents)
          .where(sql`${deploymentEvents.id} in (${sql.join(ids, sql`, `)})`)
      ).map((row) => [row.id, row]),
    );

  it('carries the stored row, from one append and from a batch, and names only what does not fit', async () => {
    // Messages around the limit, the longest carried and the shortest not: one append's unit is 8
    // bytes of JSON (é, a quote, a backslash and a newline), a batch's 1.
    const units = [0, 1, 25, ...Array.from({ length: 50 }, (_, i) => 880 + i * 2), 2_000];
    const lengths = [0, 1, 100, ...Array.from({ length: 50 }, (_, i) => 7_500 + i * 10), 20_000];
    let seq = 0;
    for (const n of units) {
      await database.db.transaction((tx) =>
        appendDeploymentEvent(tx, deploymentId, {
          type: 'STEP_STARTED',
          status: 'RUNNING',
          step: `step ${seq}`,
          progress: seq % 2 ? 0.1 * seq : null,
          message: 'é"\\\n'.repeat(n),
          idempotencyKey: `one:${seq++}`,
        }),
      );
    }
    await database.db.transaction((tx) =>
      appendDeploymentEvents(
        tx,
        deploymentId,
        lengths.map((length, i) => ({
          type: 'STEP_STARTED',
          status: 'RUNNING',
          message: 'x'.repeat(length),
          idempotencyKey: `batch:${i}`,
        })),
      ),
    );
    const notes = await received(units.length + lengths.length);
    const byId = await stored(notes.map((n) => n.note.id));
    let carried = 0;
    for (const { text, note } of notes) {
      expect(Buffer.byteLength(text)).toBeLessThan(8000);
      const row = byId.get(note.id)!;
      expect(note).toMatchObject({ id: row.id, deploymentId, projectId: row.projectId, seq: row.seq });
      const fromNote = notifiedRow(note);
      if (fromNote) {
        carried++;
        expect(fromNote).toEqual(row);
      } else expect(note.row).toBeUndefined();
    }
    // Both ways carry the short rows and name the long ones (not all carried, not none).
    const carriedBy = (from: number, to: number) => notes.slice(from, to).filter((n) => notifiedRow(n.note)).length;
    expect(carriedBy(0, 3)).toBe(3);
    expect(carriedBy(units.length, units.length + 3)).toBe(3);
    expect(carriedBy(units.length - 1, units.length) + carriedBy(notes.length - 1, notes.length)).toBe(0);
    expect(carried).toBeGreaterThan(3 + 3 + 10);
    expect(carried).toBeLessThan(notes.length - 10);
    // What JavaScript would have sent for a row the database carried says the same.
    for (const { note } of notes.filter((n) => notifiedRow(n.note)))
      expect(notifiedRow(JSON.parse(notificationOf(byId.get(note.id)!)))).toEqual(notifiedRow(note));
  });

  it('names a row whose progress JSON cannot carry', async () => {
    await database.db.transaction((tx) =>
      appendDeploymentEvent(tx, deploymentId, { type: 'STEP_STARTED', status: 'RUNNING', progress: Number.NaN, idempotencyKey: 'nan' }),
    );
    const [{ note }] = (await received(1)) as unknown as [{ note: EventNotification }];
    expect(note.row).toBeUndefined();
    expect(Number.isNaN((await stored([note.id])).get(note.id)!.progress)).toBe(true);
  });
});
