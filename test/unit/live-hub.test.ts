// live/hub.ts through its seams: an in-memory notification source and an in-memory event log
// stand in for PostgreSQL (LISTEN/NOTIFY and deployment_events), so the fan-out itself is tested
// without a database: replay then live without gap or duplicate, several subscribers, slow
// consumers, notifications nobody wants, unsubscribing, and the read-back after a lost LISTEN.
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { EVENTS_CHANNEL, notificationOf, type EventNotification } from '../../db/event-log.ts';
import type { EventLogReader, EventRow, SeqGap } from '../../live/event-log-reader.ts';
import { SlowConsumerError, type DirectSink } from '../../live/feed.ts';
import { EventHub, type EventHubOptions } from '../../live/hub.ts';
import type { NotificationSource } from '../../live/notification-source.ts';
import { closeTransport, setTransportCloser, SLOW_CONSUMER_CLOSE_CODE } from '../../live/transport-closer.ts';

/** LISTEN/NOTIFY in memory. `down()` loses notifications until `up()` re-LISTENs (as postgres.js does). */
class MemorySource implements NotificationSource {
  channels: string[] = [];
  closed = false;
  private onNotify: ((payload: string) => void) | null = null;
  private onListen: (() => void) | null = null;
  private connected = true;

  async listen(channel: string, onNotify: (payload: string) => void, onListen: () => void) {
    this.channels.push(channel);
    this.onNotify = onNotify;
    this.onListen = onListen;
    onListen();
    return async () => {
      this.onNotify = null;
    };
  }
  async close() {
    this.closed = true;
  }
  notify(payload: string) {
    if (this.connected) this.onNotify?.(payload);
  }
  down() {
    this.connected = false;
  }
  /** Back; `relisten: false` leaves out the re-LISTEN callback (only later notifications flow). */
  up(relisten = true) {
    this.connected = true;
    if (relisten) this.onListen?.();
  }
}

/** deployment_events in memory, with the appends of db/event-log.ts (next seq, then NOTIFY). */
class MemoryLog implements EventLogReader {
  rows: EventRow[] = [];
  /** Notifications carry their rows (db/event-log.ts notificationOf), as the database's do. */
  carryRows = false;
  /** Ids asked for by each notification load. */
  loads: number[][] = [];
  /** Called around each replay read (to commit events at awkward moments). */
  beforeRead: ((deploymentId: string) => Promise<void> | void) | null = null;
  private lastId = 0;
  private lastSeq = new Map<string, number>();

  constructor(private readonly source: MemorySource) {}

  append(
    deploymentId: string,
    projectId: string,
    status: EventRow['status'] = 'RUNNING',
    type: EventRow['type'] = 'STEP_PROGRESS',
  ): EventRow {
    const seq = (this.lastSeq.get(deploymentId) ?? 0) + 1;
    this.lastSeq.set(deploymentId, seq);
    const row: EventRow = {
      id: ++this.lastId,
      deploymentId,
      projectId,
      seq,
      type,
      status,
      step: null,
      progress: null,
      message: null,
      idempotencyKey: null,
      at: new Date(),
    };
    this.rows.push(row);
    const note: EventNotification = { id: row.id, deploymentId, projectId, seq };
    this.source.notify(this.carryRows ? notificationOf(row) : JSON.stringify(note));
    return row;
  }

  finish(deploymentId: string, projectId: string) {
    return this.append(deploymentId, projectId, 'SUCCEEDED', 'SUCCEEDED');
  }

  async readDeployment(deploymentId: string, afterSeq: number, limit: number) {
    await this.beforeRead?.(deploymentId);
    return this.rows
      .filter((r) => r.deploymentId === deploymentId && r.seq > afterSeq)
      .sort((a, b) => a.seq - b.seq)
      .slice(0, limit)
      .map((r) => ({ ...r }));
  }

  async loadNotified(ids: number[], gaps: SeqGap[]) {
    this.loads.push([...ids]);
    return this.rows
      .filter((r) => ids.includes(r.id) || gaps.some((g) => g.deploymentId === r.deploymentId && r.seq > g.afterSeq && r.seq < g.beforeSeq))
      .sort((a, b) => a.id - b.id);
  }

  async readDeploymentsAfter(known: { deploymentId: string; from: number }[]) {
    return this.rows.filter((r) => known.some((k) => k.deploymentId === r.deploymentId && r.seq > k.from)).sort((a, b) => a.id - b.id);
  }

  async readProjectsAfter(projectIds: string[], afterId: number, exceptDeploymentIds: string[]) {
    return this.rows
      .filter((r) => projectIds.includes(r.projectId) && r.id > afterId && !exceptDeploymentIds.includes(r.deploymentId))
      .sort((a, b) => a.id - b.id);
  }
}

const P = 'project-1';
const D = 'deployment-1';

let hubs: EventHub[] = [];

async function setup(options: Partial<EventHubOptions> = {}) {
  const source = new MemorySource();
  const log = new MemoryLog(source);
  const hub = new EventHub({ eventLog: log, source, log: pino({ level: 'silent' }), options });
  hubs.push(hub);
  await hub.start();
  return { source, log, hub };
}

afterEach(async () => {
  await Promise.all(hubs.map((h) => h.stop()));
  hubs = [];
});

/** Reads `n` rows from a feed. */
async function take(feed: AsyncIterator<EventRow>, n: number): Promise<EventRow[]> {
  const rows: EventRow[] = [];
  for (let i = 0; i < n; i++) {
    const step = await feed.next();
    if (step.done) throw new Error(`feed ended after ${rows.length} rows (wanted ${n})`);
    rows.push(step.value);
  }
  return rows;
}

/** Reads a feed to its end. */
async function drain(feed: AsyncIterable<EventRow>): Promise<number[]> {
  const seqs: number[] = [];
  for await (const row of feed) seqs.push(row.seq);
  return seqs;
}

/** Waits for the hub's wake-up rounds (setImmediate) to have run. */
async function waitFor(check: () => boolean) {
  while (!check()) await new Promise((r) => setImmediate(r));
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('EventHub through its seams', { timeout: 10_000 }, () => {
  it('LISTENs once on the events channel and closes its source on stop', async () => {
    const { source, hub } = await setup();
    expect(source.channels).toEqual([EVENTS_CHANNEL]);
    expect(hub.stats().listening).toBe(true);
    await hub.stop();
    expect(source.closed).toBe(true);
  });

  it('replays after a seq, then goes live: every seq once, in order, ending after the terminal event', async () => {
    const { log, hub } = await setup({ replayPageSize: 2 });
    for (let i = 0; i < 5; i++) log.append(D, P);
    // Events commit while the replay reads its pages: each is on the live path, and some also in
    // the log pages still to be read.
    let reads = 0;
    log.beforeRead = () => {
      if (reads++ < 2) log.append(D, P);
    };
    const feed = hub.followDeployment({ deploymentId: D, projectId: P, afterSeq: 2 });
    const first = await take(feed, 4);
    expect(first.map((r) => r.seq)).toEqual([3, 4, 5, 6]);
    log.beforeRead = null;
    log.append(D, P);
    log.finish(D, P);
    expect(await drain(feed)).toEqual([7, 8, 9]);
    expect(hub.subscribers({ deploymentId: D })).toBe(0);
  });

  it('fills a gap behind a lost notification from the log, in the same load', async () => {
    const { source, log, hub } = await setup();
    // A project subscriber is live only: what it receives, the hub has dispatched.
    const feed = hub.followProject(P);
    log.append(D, P);
    expect((await take(feed, 1)).map((r) => r.seq)).toEqual([1]);
    source.down();
    log.append(D, P); // seq 2: never notified
    source.up(false);
    log.append(D, P); // seq 3: one ahead of the last dispatched seq
    expect((await take(feed, 2)).map((r) => r.seq)).toEqual([2, 3]);
    expect(hub.stats()).toMatchObject({ recoveries: 0, loads: 2 });
    await feed.return();
  });

  it('reads back what a lost LISTEN missed once it is re-established', async () => {
    const { source, log, hub } = await setup();
    const other = 'deployment-2';
    const feed = hub.followDeployment({ deploymentId: D, projectId: P, afterSeq: 0 });
    const project = hub.followProject(P);
    log.append(D, P);
    expect((await take(feed, 1)).map((r) => r.seq)).toEqual([1]);
    expect((await take(project, 1)).map((r) => r.id)).toEqual([1]);
    source.down();
    log.append(D, P);
    log.append(other, P);
    source.up();
    expect((await take(feed, 1)).map((r) => r.seq)).toEqual([2]);
    expect((await take(project, 2)).map((r) => [r.deploymentId, r.seq])).toEqual([
      [D, 2],
      [other, 1],
    ]);
    expect(hub.stats()).toMatchObject({ relistens: 1, recoveries: 1 });
    await feed.return();
    await project.return();
  });

  it('hands each event to several subscribers of one deployment (and of its project), loaded once', async () => {
    const { log, hub } = await setup();
    log.append(D, P);
    log.append(D, P);
    const fromStart = hub.followDeployment({ deploymentId: D, projectId: P, afterSeq: 0 });
    const resumed = hub.followDeployment({ deploymentId: D, projectId: P, afterSeq: 2 });
    const project = hub.followProject(P);
    expect(hub.subscribers({ deploymentId: D })).toBe(2);
    expect(hub.subscribers({ projectId: P })).toBe(1);
    expect((await take(fromStart, 2)).map((r) => r.seq)).toEqual([1, 2]);
    const loadsBefore = hub.stats().loads;
    const third = log.append(D, P);
    const [a] = await take(fromStart, 1);
    const [b] = await take(resumed, 1);
    const [c] = await take(project, 1);
    expect([a!.seq, b!.seq, c!.seq]).toEqual([3, 3, 3]);
    // One load for the notification, whatever the number of subscribers; the same row object for all.
    expect(hub.stats().loads - loadsBefore).toBe(1);
    expect(log.loads.at(-1)).toEqual([third.id]);
    // The live subscribers get the very row object the hub loaded (what lets live/shared-executions.ts share results).
    expect(c).toBe(a);
    log.finish(D, P);
    expect(await drain(fromStart)).toEqual([4]);
    expect(await drain(resumed)).toEqual([4]);
    expect((await take(project, 1))[0]!.status).toBe('SUCCEEDED');
    await project.return();
  });

  it('drops a subscriber that stops reading (SLOW_CONSUMER, close code 4008) without holding back the others', async () => {
    const { log, hub } = await setup({ maxBuffered: 3 });
    const closed: { code: number; reason: string }[] = [];
    // As schema/subscriptions.ts and server/websocket.ts wire it: onDrop closes the operation's transport.
    const context = {};
    setTransportCloser(context, (code, reason) => closed.push({ code, reason }));
    const drops: Error[] = [];
    const slow = hub.followDeployment(
      { deploymentId: D, projectId: P, afterSeq: 0 },
      {
        onDrop: (error) => {
          drops.push(error);
          closeTransport(context, SLOW_CONSUMER_CLOSE_CODE, error.message);
        },
      },
    );
    const reader = hub.followDeployment({ deploymentId: D, projectId: P, afterSeq: 0 });
    log.append(D, P);
    expect((await take(slow, 1)).map((r) => r.seq)).toEqual([1]);
    expect((await take(reader, 1)).map((r) => r.seq)).toEqual([1]);
    // The slow subscriber reads no more; the other reads every event as it comes.
    const read: number[] = [];
    for (let i = 0; i < 5; i++) {
      log.append(D, P);
      read.push(...(await take(reader, 1)).map((r) => r.seq));
    }
    expect(read).toEqual(range(2, 6));
    expect(drops).toHaveLength(1);
    expect(drops[0]).toBeInstanceOf(SlowConsumerError);
    expect((drops[0] as SlowConsumerError).extensions).toMatchObject({ code: 'PRECONDITION_FAILED', reason: 'SLOW_CONSUMER' });
    expect(closed).toEqual([{ code: SLOW_CONSUMER_CLOSE_CODE, reason: drops[0]!.message }]);
    expect(SLOW_CONSUMER_CLOSE_CODE).toBe(4008);
    // Its reader gets the error (SSE ends the stream with it).
    await expect(slow.next()).rejects.toBe(drops[0]);
    expect(hub.stats()).toMatchObject({ dropped: 1, deploymentSubscribers: 1 });
    log.finish(D, P);
    expect(await drain(reader)).toEqual([7]);
  });

  it('ignores a notification for a deployment nobody follows (no load)', async () => {
    const { log, hub } = await setup();
    const feed = hub.followProject(P);
    const ignored = log.append('deployment-elsewhere', 'project-elsewhere');
    const followed = log.append(D, P);
    expect((await take(feed, 1)).map((r) => r.id)).toEqual([followed.id]);
    expect(log.loads.flat()).not.toContain(ignored.id);
    expect(hub.stats()).toMatchObject({ notifications: 2, loadedRows: 1, cursors: 1 });
    await feed.return();

    // Nobody follows D or P any more: its next notification loads nothing. Notifications are
    // handled in order, so once a later one reached its subscriber, this one was handled too.
    const sentinelFeed = hub.followProject('project-2');
    const loads = hub.stats().loads;
    const unwanted = log.append(D, P);
    const sentinel = log.append('deployment-2', 'project-2');
    expect((await take(sentinelFeed, 1)).map((r) => r.id)).toEqual([sentinel.id]);
    expect(log.loads.flat()).not.toContain(unwanted.id);
    expect(hub.stats().loads - loads).toBe(1);
    expect(hub.stats().notifications).toBe(4);
    await sentinelFeed.return();
  });

  it('releases a subscriber on unsubscribe: a pending read ends, the hub forgets the deployment and stops loading its events', async () => {
    const { log, hub } = await setup();
    const deployment = hub.followDeployment({ deploymentId: D, projectId: P, afterSeq: 0 });
    const project = hub.followProject(P);
    log.append(D, P);
    expect((await take(deployment, 1)).map((r) => r.seq)).toEqual([1]);
    expect((await take(project, 1)).map((r) => r.seq)).toEqual([1]);
    expect(hub.stats()).toMatchObject({ deploymentSubscribers: 1, projectSubscribers: 1, cursors: 1 });

    const pending = deployment.next();
    await deployment.return();
    await expect(pending).resolves.toEqual({ done: true, value: undefined });
    await expect(deployment.next()).resolves.toEqual({ done: true, value: undefined });
    expect(hub.subscribers({ deploymentId: D })).toBe(0);
    // The project subscriber still follows the deployment's events.
    log.append(D, P);
    expect((await take(project, 1)).map((r) => r.seq)).toEqual([2]);
    expect(hub.stats().cursors).toBe(1);

    await project.return();
    expect(hub.stats()).toMatchObject({ deploymentSubscribers: 0, projectSubscribers: 0, cursors: 0 });
    // A subscriber elsewhere proves the hub handled the next notification (in order) without loading it.
    const elsewhere = hub.followProject('project-2');
    const loads = hub.stats().loads;
    const unwanted = log.append(D, P);
    const sentinel = log.append('deployment-2', 'project-2');
    expect((await take(elsewhere, 1)).map((r) => r.id)).toEqual([sentinel.id]);
    expect(log.loads.flat()).not.toContain(unwanted.id);
    expect(hub.stats().loads - loads).toBe(1);
    await elsewhere.return();
  });

  it('dispatches rows their notifications carry without loading them', async () => {
    const { log, hub } = await setup();
    log.carryRows = true;
    const feed = hub.followProject(P);
    log.append(D, P);
    log.append(D, P);
    const rows = await take(feed, 2);
    expect(rows.map((r) => r.seq)).toEqual([1, 2]);
    expect(rows[0]!.at).toBeInstanceOf(Date);
    expect(rows[0]).toEqual(log.rows[0]);
    expect(log.loads).toEqual([]);
    await feed.return();
  });

  it('hands live rows to a direct sink while the reader waits, one write in flight, and drops a sink that falls behind', async () => {
    const { log, hub } = await setup({ maxBuffered: 3 });
    const feed = hub.followProject(P);
    const written: number[] = [];
    let inFlight = false;
    let refuseFrom = Number.POSITIVE_INFINITY;
    const sink: DirectSink = {
      offer(row) {
        if (row.seq >= refuseFrom) return 'refused';
        if (inFlight) return 'later';
        inFlight = true;
        written.push(row.seq);
        return 'sent';
      },
    };
    feed.attachSink(sink);
    const reading = feed.next(); // parked, as graphql-ws' for-await is
    log.append(D, P);
    log.append(D, P);
    await waitFor(() => written.length === 1);
    expect(written).toEqual([1]); // seq 2 waits for the write in flight
    inFlight = false;
    feed.resume();
    await waitFor(() => written.length === 2);
    expect(written).toEqual([1, 2]);
    // Refused (a result with errors): that row and every later one go to the reader.
    refuseFrom = 3;
    inFlight = false;
    log.append(D, P);
    expect((await reading).value!.seq).toBe(3);
    log.append(D, P);
    expect((await feed.next()).value!.seq).toBe(4);
    expect(written).toEqual([1, 2]);
    await feed.return();

    // A sink whose write never completes: its backlog overflows like a reader's.
    const slow = hub.followProject(P);
    slow.attachSink({ offer: () => 'later' });
    const parked = slow.next();
    for (let i = 0; i < 4; i++) log.append(D, P);
    await expect(parked).rejects.toBeInstanceOf(SlowConsumerError);
  });

  it('refuses new subscriptions once stopped (SHUTTING_DOWN)', async () => {
    const { hub } = await setup();
    await hub.stop();
    const feed = hub.followProject(P);
    await expect(feed.next()).rejects.toMatchObject({ extensions: { reason: 'SHUTTING_DOWN' } });
    expect(hub.stats().projectSubscribers).toBe(0);
  });
});
