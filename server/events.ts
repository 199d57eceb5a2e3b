// Live deployment events: the per-process fan-out hub behind the `deploymentEvents` and
// `projectEvents` subscriptions.
//
// One LISTEN per process on EVENTS_CHANNEL. A notification names an event row; the hub loads the
// rows of every notification that arrived together in ONE query, and only when some subscriber
// of this process wants them, then hands each row to every matching subscriber (by deployment
// and by project). Subscribers are bounded queues: dispatch never waits for a client, and a
// subscriber whose queue overflows is dropped (its transport closed with SLOW_CONSUMER_CLOSE_CODE).
//
// Ordering and completeness. Per deployment, appendDeploymentEvent assigns seq under the
// deployment's row lock, so commits (and notifications) of one deployment arrive in seq order.
// The hub remembers, per deployment it has dispatched for, the last seq it dispatched: a
// notification at or below it is a duplicate, one more than a seq ahead reveals a gap, which the
// same batch query fills from the log. When the LISTEN connection is lost (database restart,
// network), postgres.js re-LISTENs with backoff; the hub then replays from the log what it may
// have missed: exactly by seq for the deployments it follows, and by id above the highest id it
// saw for other deployments of the projects it follows.
//
// A deployment subscriber subscribes first, then replays from the log (in pages), then goes
// live, dropping anything at or below the last seq it yielded: an event that commits between
// the replay and the live feed arrives on one or both paths and is delivered exactly once.
// Waiting readers are woken in batches (`wakeBatch` per event-loop turn), so an event for many
// thousands of subscribers does not hold the event loop for the whole fan-out.
import { and, asc, eq, gt, gte, inArray, lt, notInArray, or, type SQL } from 'drizzle-orm';
import { GraphQLError } from 'graphql';
import type { Logger } from 'pino';
import postgres from 'postgres';
import { Counter, Gauge, type Registry } from 'prom-client';
import { reconnectBackoff, type Database, type DatabaseHandle } from '../db/client.ts';
import { EVENTS_CHANNEL, type EventNotification } from '../db/event-log.ts';
import { deploymentEvents, type DeploymentEventRow } from '../db/schema/index.ts';
import { TERMINAL_STATUSES } from '../domain/values.ts';

export type EventRow = DeploymentEventRow;

/** WebSocket close code for a subscriber dropped because it did not keep up (graphql-ws clients retry it). */
export const SLOW_CONSUMER_CLOSE_CODE = 4008;

const TERMINAL = new Set<string>(TERMINAL_STATUSES);
export const isTerminalStatus = (status: string) => TERMINAL.has(status);

export interface EventHubOptions {
  /** Live events buffered for one subscriber; one more and it is dropped as a slow consumer. */
  maxBuffered: number;
  /** Rows per replay query. */
  replayPageSize: number;
  /** Notifications loaded by one query at most. */
  maxBatch: number;
  /** How long the hub remembers the last seq of a finished deployment (dedup after a reconnect). */
  finishedRetentionMs: number;
  /** Wait before retrying a failed load (doubling up to 10 s). */
  retryDelayMs: number;
  /**
   * Subscribers woken per event-loop turn. An event for 10k subscribers runs 10k executions;
   * in batches, other requests (and the LISTEN socket) are served in between.
   */
  wakeBatch: number;
}

export const DEFAULT_HUB_OPTIONS: EventHubOptions = {
  maxBuffered: 1000,
  replayPageSize: 500,
  maxBatch: 1000,
  finishedRetentionMs: 120_000,
  retryDelayMs: 500,
  wakeBatch: 200,
};

/**
 * Where notifications come from. `onListen` runs every time the LISTEN is (re-)established: from
 * then on every commit is notified, and anything committed while it was down must be read back.
 */
export interface NotificationSource {
  listen(channel: string, onNotify: (payload: string) => void, onListen: () => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

/**
 * The process's LISTEN connection. With PostgreSQL it is a dedicated postgres.js client (one
 * connection, named `stageplane-events` in pg_stat_activity): postgres.js re-LISTENs after a lost
 * connection and calls `onlisten` each time, which DatabaseHandle.listen does not pass through.
 * Embedded PGlite is in-process: its own listen never drops.
 */
export function createNotificationSource(database: DatabaseHandle, url: string | undefined): NotificationSource {
  if (database.kind === 'postgres' && url) {
    const client = postgres(url, {
      max: 1,
      onnotice: () => {},
      connect_timeout: 10,
      backoff: reconnectBackoff,
      connection: { application_name: 'stageplane-events' },
    });
    return {
      async listen(channel, onNotify, onListen) {
        const sub = await client.listen(channel, onNotify, onListen);
        return async () => {
          await sub.unlisten();
        };
      },
      close: () => client.end({ timeout: 2 }),
    };
  }
  return {
    async listen(channel, onNotify, onListen) {
      const unlisten = await database.listen(channel, onNotify);
      onListen();
      return unlisten;
    },
    async close() {},
  };
}

export interface HubStats {
  /** A LISTEN has been established (postgres.js re-establishes it on its own after a loss). */
  listening: boolean;
  /** How many times the LISTEN was re-established after a loss. */
  relistens: number;
  deploymentSubscribers: number;
  projectSubscribers: number;
  /** Deployments whose last dispatched seq the hub remembers. */
  cursors: number;
  notifications: number;
  /** Queries that loaded notified events (one per batch), and rows they returned. */
  loads: number;
  loadedRows: number;
  /** Rows handed to subscribers (one per subscriber per event). */
  delivered: number;
  dropped: number;
  recoveries: number;
}

export interface FeedHooks {
  /** Called once when the subscriber is dropped as a slow consumer (close its transport). */
  onDrop?: (error: Error) => void;
}

/**
 * Ends a dropped subscriber. Over WebSocket its socket is closed with SLOW_CONSUMER_CLOSE_CODE
 * first; over SSE the stream ends with this error (then `complete`, which a deploymentEvents
 * client tells apart from a real end: no terminal event came).
 */
export class SlowConsumerError extends GraphQLError {
  constructor(limit: number) {
    super(`Dropped: more than ${limit} events were waiting for this subscriber (slow consumer); subscribe again with afterSeq to resume`, {
      extensions: { code: 'PRECONDITION_FAILED', reason: 'SLOW_CONSUMER' },
    });
  }
}

/** A subscription started while the process shuts down. */
export class HubStoppedError extends GraphQLError {
  constructor() {
    super('The server is shutting down; subscribe again (with afterSeq) to resume', {
      extensions: { code: 'PRECONDITION_FAILED', reason: 'SHUTTING_DOWN' },
    });
  }
}

interface Cursor {
  seq: number;
  projectId: string;
  finishedAt: number | null;
}

type Waiter = { resolve: (r: IteratorResult<EventRow>) => void; reject: (e: unknown) => void };

const DONE: IteratorResult<EventRow> = { done: true, value: undefined };

/** A bounded FIFO with O(1) shift. */
class Queue<T> {
  private items: (T | undefined)[] = [];
  private head = 0;
  get length() {
    return this.items.length - this.head;
  }
  push(item: T) {
    this.items.push(item);
  }
  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head];
    this.items[this.head++] = undefined;
    if (this.head > 64 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }
  clear() {
    this.items = [];
    this.head = 0;
  }
}

/** One subscriber: an async iterator over event rows fed by the hub. */
abstract class Feed implements AsyncIterableIterator<EventRow> {
  protected readonly queue = new Queue<EventRow>();
  protected waiter: Waiter | null = null;
  protected finished = false;
  protected failure: Error | null = null;

  constructor(
    protected readonly hub: EventHub,
    protected readonly hooks: FeedHooks,
  ) {}

  /** Hands over one live row; never blocks. */
  abstract offer(row: EventRow): void;
  abstract next(): Promise<IteratorResult<EventRow>>;
  /** Where this feed is in its deployment's stream (for replay after a lost LISTEN). */
  position(): number | null {
    return null;
  }

  [Symbol.asyncIterator]() {
    return this;
  }

  async return(): Promise<IteratorResult<EventRow>> {
    this.finish();
    return DONE;
  }

  async throw(error: unknown): Promise<IteratorResult<EventRow>> {
    this.finish();
    throw error;
  }

  /** Ends the feed normally: pending and later next() calls are done. */
  protected finish() {
    if (this.finished) return;
    this.finished = true;
    this.queue.clear();
    this.hub.unregister(this);
    const waiter = this.waiter;
    this.waiter = null;
    waiter?.resolve(DONE);
  }

  /** Ends the feed with an error (slow consumer, shutdown); the error reaches its reader. */
  fail(error: Error, drop = false) {
    if (this.finished) return;
    this.failure = error;
    this.finished = true;
    this.queue.clear();
    this.hub.unregister(this);
    const waiter = this.waiter;
    this.waiter = null;
    if (waiter) waiter.reject(error);
    if (drop) this.hooks.onDrop?.(error);
  }

  protected overflow() {
    this.hub.counters.dropped++;
    this.fail(new SlowConsumerError(this.hub.options.maxBuffered), true);
  }

  protected wait(): Promise<IteratorResult<EventRow>> {
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
    });
  }

  /** Set while the feed waits on the hub's wake list. */
  woken = false;

  /** Queues a live row (bounded); a waiting reader gets it on the hub's next wake-up round. */
  protected enqueueLive(row: EventRow) {
    if (this.queue.length >= this.hub.options.maxBuffered) return this.overflow();
    this.queue.push(row);
    if (this.waiter) this.hub.wake(this);
  }

  /** The next queued row to hand over, if any. */
  protected nextLive(): EventRow | undefined {
    return this.queue.shift();
  }

  /** @internal Hands the oldest queued row to the waiting reader (the hub calls it in batches). */
  deliver() {
    this.woken = false;
    const waiter = this.waiter;
    if (!waiter || this.finished) return;
    const row = this.nextLive();
    if (!row) return;
    this.waiter = null;
    this.hub.counters.delivered++;
    waiter.resolve(this.yielded(row));
  }

  /** Bookkeeping for a row handed to the reader; returns its iterator result. */
  protected yielded(row: EventRow): IteratorResult<EventRow> {
    return { done: false, value: row };
  }
}

/** `projectEvents`: every event of one project, live. */
export class ProjectFeed extends Feed {
  constructor(
    hub: EventHub,
    readonly projectId: string,
    hooks: FeedHooks,
  ) {
    super(hub, hooks);
  }

  offer(row: EventRow) {
    if (this.finished) return;
    this.enqueueLive(row);
  }

  async next(): Promise<IteratorResult<EventRow>> {
    if (this.failure) throw this.failure;
    if (this.finished) return DONE;
    const row = this.nextLive();
    if (row) {
      this.hub.counters.delivered++;
      return { done: false, value: row };
    }
    return this.wait();
  }
}

/**
 * `deploymentEvents`: the deployment's events after `afterSeq`, replayed from the log and then
 * live, each seq once and in order; ends after the event whose status is terminal.
 */
export class DeploymentFeed extends Feed {
  private phase: 'replay' | 'live' = 'replay';
  /** The last seq handed to the reader (or afterSeq). */
  private lastSeq: number;
  private lastStatus: string | null = null;
  /** Replay: rows fetched and not yet yielded, the seq of the last one fetched, and whether the log is exhausted. */
  private page: EventRow[] = [];
  private pageIndex = 0;
  private fetchedSeq: number;
  private replayFinal = false;
  private firstPage = true;
  /** Live rows discarded while replaying (the log still has them): the replay must read again. */
  private discards = 0;
  /** A terminal event was yielded: the next read ends the stream. */
  private ended = false;

  constructor(
    hub: EventHub,
    readonly deploymentId: string,
    readonly projectId: string,
    readonly afterSeq: number,
    hooks: FeedHooks,
  ) {
    super(hub, hooks);
    this.lastSeq = afterSeq;
    this.fetchedSeq = afterSeq;
  }

  override position() {
    return this.phase === 'replay' ? this.fetchedSeq : this.lastSeq;
  }

  offer(row: EventRow) {
    if (this.finished || row.seq <= this.lastSeq) return;
    if (this.phase === 'replay') {
      if (row.seq <= this.fetchedSeq) return;
      if (!this.replayFinal && this.queue.length >= this.hub.options.maxBuffered) {
        // Still reading the log: forget the live backlog and read it from the log instead.
        this.queue.clear();
        this.discards++;
      }
      if (this.queue.length >= this.hub.options.maxBuffered) return this.overflow();
      this.queue.push(row);
      return;
    }
    this.enqueueLive(row);
  }

  /** Live rows at or below the last seq handed over (replayed already) are skipped. */
  protected override nextLive(): EventRow | undefined {
    for (let row = this.queue.shift(); row; row = this.queue.shift()) if (row.seq > this.lastSeq) return row;
    return undefined;
  }

  protected override yielded(row: EventRow): IteratorResult<EventRow> {
    this.lastSeq = row.seq;
    this.lastStatus = row.status;
    if (isTerminalStatus(row.status)) {
      // Nothing follows a terminal event: stop receiving now, end on the next read.
      this.hub.unregister(this);
      this.ended = true;
    }
    return { done: false, value: row };
  }

  async next(): Promise<IteratorResult<EventRow>> {
    try {
      return await this.step();
    } catch (error) {
      if (error === this.failure) throw error;
      // A failed read of the log ends the subscription (the client resumes with afterSeq); the
      // database's message stays in the log, not in the client's error.
      this.hub.logError(error, this.deploymentId);
      const failure = new Error('Reading the event log failed; subscribe again with afterSeq to resume');
      this.fail(failure);
      throw failure;
    }
  }

  private async step(): Promise<IteratorResult<EventRow>> {
    if (this.failure) throw this.failure;
    if (this.finished) return DONE;
    if (this.ended) {
      this.finish();
      return DONE;
    }
    while (this.phase === 'replay') {
      const row = this.page[this.pageIndex];
      if (row) {
        this.page[this.pageIndex++] = undefined as unknown as EventRow;
        this.hub.counters.delivered++;
        return this.yielded(row);
      }
      if (this.replayFinal) {
        this.page = [];
        this.phase = 'live';
        if (this.lastStatus && isTerminalStatus(this.lastStatus)) {
          this.finish();
          return DONE;
        }
        break;
      }
      await this.fetchPage();
      if (this.failure) throw this.failure;
      if (this.finished) return DONE;
    }
    const row = this.nextLive();
    if (row) {
      this.hub.counters.delivered++;
      return this.yielded(row);
    }
    return this.wait();
  }

  private async fetchPage() {
    const size = this.hub.options.replayPageSize;
    const epoch = this.discards;
    // The first page of a resumed stream also reads the event at afterSeq, for its status only:
    // resuming after a terminal event ends at once.
    const includeFrom = this.firstPage && this.afterSeq > 0;
    if (this.firstPage) await this.hub.whenReady();
    const rows = await this.hub.readLog(this.deploymentId, includeFrom ? this.afterSeq - 1 : this.fetchedSeq, size);
    const full = rows.length === size;
    if (includeFrom && rows[0]?.seq === this.afterSeq) {
      this.lastStatus = rows[0].status;
      rows.shift();
    }
    this.firstPage = false;
    this.page = rows;
    this.pageIndex = 0;
    if (rows.length > 0) this.fetchedSeq = rows[rows.length - 1]!.seq;
    // Short page: the log is exhausted as of this query, which began after this feed was
    // registered; anything later reaches the live queue, unless it was discarded meanwhile.
    if (!full && this.discards === epoch) this.replayFinal = true;
  }
}

type Pending = EventNotification;

export interface EventHubDeps {
  db: Database;
  source: NotificationSource;
  log: Logger;
  options?: Partial<EventHubOptions>;
}

export class EventHub {
  readonly options: EventHubOptions;
  readonly counters = { notifications: 0, loads: 0, loadedRows: 0, delivered: 0, dropped: 0, recoveries: 0, relistens: 0 };
  private readonly db: Database;
  private readonly source: NotificationSource;
  private readonly log: Logger;
  private readonly byDeployment = new Map<string, Set<DeploymentFeed>>();
  private readonly byProject = new Map<string, Set<ProjectFeed>>();
  private readonly cursors = new Map<string, Cursor>();
  private pending: Pending[] = [];
  private recoverPending = false;
  private pumping: Promise<void> | null = null;
  private maxSeenId = 0;
  private listenCount = 0;
  private unlisten: (() => Promise<void>) | null = null;
  private sweepTimer: NodeJS.Timeout | null = null;
  private stopped = false;
  private listening = false;
  private markReady!: () => void;
  /** Resolves once the first LISTEN is in place; replays start after it, so nothing falls in between. */
  readonly ready = new Promise<void>((resolve) => (this.markReady = resolve));

  constructor(deps: EventHubDeps) {
    this.db = deps.db;
    this.source = deps.source;
    this.log = deps.log.child({ component: 'events' });
    this.options = { ...DEFAULT_HUB_OPTIONS, ...deps.options };
  }

  /** LISTENs; resolves once notifications flow. */
  async start(): Promise<void> {
    if (this.unlisten || this.stopped) return;
    this.unlisten = await this.source.listen(
      EVENTS_CHANNEL,
      (payload) => this.onNotify(payload),
      () => this.onListen(),
    );
    this.sweepTimer = setInterval(() => this.sweep(), Math.max(1000, this.options.finishedRetentionMs / 2));
    this.sweepTimer.unref();
  }

  /**
   * Stops listening. Open subscriptions are left to their transports, which the shutdown closes
   * without `complete` (WebSocket 1001, SSE connection cut), so clients resume with afterSeq.
   */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.markReady();
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    try {
      await this.unlisten?.();
    } catch {
      // The connection may already be gone.
    }
    await this.source.close().catch(() => {});
    await this.pumping?.catch(() => {});
  }

  stats(): HubStats {
    let deploymentSubscribers = 0;
    let projectSubscribers = 0;
    for (const s of this.byDeployment.values()) deploymentSubscribers += s.size;
    for (const s of this.byProject.values()) projectSubscribers += s.size;
    return {
      listening: this.listening,
      deploymentSubscribers,
      projectSubscribers,
      cursors: this.cursors.size,
      ...this.counters,
    };
  }

  /** Open subscriptions to one deployment's or one project's events in this process. */
  subscribers(target: { deploymentId: string } | { projectId: string }): number {
    return 'deploymentId' in target ? (this.byDeployment.get(target.deploymentId)?.size ?? 0) : (this.byProject.get(target.projectId)?.size ?? 0);
  }

  /** Subscribes to a deployment's events after `afterSeq`: replay, then live; ends after a terminal event. */
  followDeployment(target: { deploymentId: string; projectId: string; afterSeq: number }, hooks: FeedHooks = {}): DeploymentFeed {
    const feed = new DeploymentFeed(this, target.deploymentId, target.projectId, target.afterSeq, hooks);
    if (this.stopped) {
      feed.fail(new HubStoppedError());
      return feed;
    }
    // Registered before the replay's first query: whatever commits from now on reaches the feed live.
    let set = this.byDeployment.get(target.deploymentId);
    if (!set) this.byDeployment.set(target.deploymentId, (set = new Set()));
    set.add(feed);
    return feed;
  }

  /** Subscribes to every event of a project from now on. */
  followProject(projectId: string, hooks: FeedHooks = {}): ProjectFeed {
    const feed = new ProjectFeed(this, projectId, hooks);
    if (this.stopped) {
      feed.fail(new HubStoppedError());
      return feed;
    }
    let set = this.byProject.get(projectId);
    if (!set) this.byProject.set(projectId, (set = new Set()));
    set.add(feed);
    return feed;
  }

  /** @internal */
  unregister(feed: Feed) {
    if (feed instanceof DeploymentFeed) {
      const set = this.byDeployment.get(feed.deploymentId);
      if (!set?.delete(feed)) return;
      if (set.size === 0) {
        this.byDeployment.delete(feed.deploymentId);
        const cursor = this.cursors.get(feed.deploymentId);
        if (cursor && !this.byProject.has(cursor.projectId)) this.cursors.delete(feed.deploymentId);
      }
    } else if (feed instanceof ProjectFeed) {
      const set = this.byProject.get(feed.projectId);
      if (!set?.delete(feed)) return;
      if (set.size === 0) {
        this.byProject.delete(feed.projectId);
        // The hub follows a deployment only while someone listens to it or to its project: a
        // remembered seq from an earlier interest would make later gaps look like misses.
        for (const [deploymentId, cursor] of this.cursors) {
          if (cursor.projectId === feed.projectId && !this.byDeployment.has(deploymentId)) this.cursors.delete(deploymentId);
        }
      }
    }
  }

  private wakeList: Feed[] = [];
  private wakeScheduled = false;

  /** @internal A feed has a queued row and a waiting reader: hand it over on the next round. */
  wake(feed: Feed) {
    if (feed.woken) return;
    feed.woken = true;
    this.wakeList.push(feed);
    if (!this.wakeScheduled) {
      this.wakeScheduled = true;
      setImmediate(this.runWakes);
    }
  }

  private readonly runWakes = () => {
    this.wakeScheduled = false;
    const batch = this.wakeList.length <= this.options.wakeBatch ? this.wakeList.splice(0) : this.wakeList.splice(0, this.options.wakeBatch);
    for (const feed of batch) feed.deliver();
    if (this.wakeList.length > 0) {
      this.wakeScheduled = true;
      setImmediate(this.runWakes);
    }
  };

  /** @internal Waits for the first LISTEN (or for stop()). */
  whenReady(): Promise<void> {
    return this.ready;
  }

  /** @internal */
  logError(error: unknown, deploymentId: string) {
    this.log.warn({ err: error, deploymentId }, 'replaying deployment events failed');
  }

  /** @internal Events of one deployment with seq > afterSeq, in order, at most `limit`. */
  readLog(deploymentId: string, afterSeq: number, limit: number): Promise<EventRow[]> {
    return this.db
      .select()
      .from(deploymentEvents)
      .where(and(eq(deploymentEvents.deploymentId, deploymentId), gt(deploymentEvents.seq, afterSeq)))
      .orderBy(asc(deploymentEvents.seq))
      .limit(limit);
  }

  private onListen() {
    this.listening = true;
    this.listenCount++;
    this.markReady();
    if (this.listenCount === 1) return;
    // Re-LISTENed after a lost connection: commits in between were not notified.
    this.counters.relistens++;
    this.log.warn({ relistens: this.counters.relistens }, 'LISTEN re-established; replaying missed events from the log');
    this.recoverPending = true;
    this.schedule();
  }

  private onNotify(payload: string) {
    let note: Pending;
    try {
      note = JSON.parse(payload) as Pending;
    } catch {
      return;
    }
    if (typeof note?.id !== 'number' || typeof note.deploymentId !== 'string' || typeof note.projectId !== 'string' || typeof note.seq !== 'number') return;
    this.counters.notifications++;
    if (note.id > this.maxSeenId) this.maxSeenId = note.id;
    if (!this.wants(note.deploymentId, note.projectId)) return;
    this.pending.push(note);
    this.schedule();
  }

  private wants(deploymentId: string, projectId: string) {
    return this.byDeployment.has(deploymentId) || this.byProject.has(projectId);
  }

  private schedule() {
    if (this.pumping || this.stopped) return;
    // One macrotask later: notifications that arrive together (one TCP read) share one query.
    this.pumping = new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.pump());
  }

  /** Processes recoveries and notification batches one at a time, so rows are dispatched in commit order. */
  private async pump(): Promise<void> {
    let delay = this.options.retryDelayMs;
    try {
      while (!this.stopped && (this.recoverPending || this.pending.length > 0)) {
        try {
          if (this.recoverPending) {
            this.recoverPending = false;
            try {
              await this.recover();
            } catch (error) {
              this.recoverPending = true;
              throw error;
            }
            delay = this.options.retryDelayMs;
            continue;
          }
          const batch = this.pending.slice(0, this.options.maxBatch);
          await this.loadAndDispatch(batch);
          this.pending.splice(0, batch.length);
          delay = this.options.retryDelayMs;
        } catch (error) {
          if (this.stopped) return;
          this.log.warn({ err: error, retryInMs: delay }, 'loading events failed; retrying');
          await new Promise((r) => setTimeout(r, delay));
          delay = Math.min(delay * 2, 10_000);
        }
      }
    } finally {
      this.pumping = null;
      if (!this.stopped && (this.recoverPending || this.pending.length > 0)) this.schedule();
    }
  }

  private async loadAndDispatch(batch: Pending[]) {
    const ids: number[] = [];
    // Per deployment, the lowest notified seq, to detect a gap after the last dispatched one.
    const lowest = new Map<string, number>();
    for (const note of batch) {
      if (!this.wants(note.deploymentId, note.projectId)) continue;
      const cursor = this.cursors.get(note.deploymentId);
      if (cursor && note.seq <= cursor.seq) continue;
      ids.push(note.id);
      const low = lowest.get(note.deploymentId);
      if (low === undefined || note.seq < low) lowest.set(note.deploymentId, note.seq);
    }
    if (ids.length === 0) return;
    const conditions: SQL[] = [inArray(deploymentEvents.id, ids)];
    for (const [deploymentId, low] of lowest) {
      const cursor = this.cursors.get(deploymentId);
      if (cursor && low > cursor.seq + 1) {
        conditions.push(
          and(eq(deploymentEvents.deploymentId, deploymentId), gt(deploymentEvents.seq, cursor.seq), lt(deploymentEvents.seq, low))!,
        );
      }
    }
    const rows = await this.db
      .select()
      .from(deploymentEvents)
      .where(conditions.length === 1 ? conditions[0] : or(...conditions))
      .orderBy(asc(deploymentEvents.id));
    this.counters.loads++;
    this.counters.loadedRows += rows.length;
    for (const row of rows) this.dispatch(row);
  }

  /** Reads back what a lost LISTEN connection did not notify. */
  private async recover() {
    this.counters.recoveries++;
    const known: { deploymentId: string; from: number }[] = [];
    for (const [deploymentId, feeds] of this.byDeployment) {
      const cursor = this.cursors.get(deploymentId);
      let from = cursor?.seq;
      if (from === undefined) {
        from = Number.MAX_SAFE_INTEGER;
        for (const feed of feeds) from = Math.min(from, feed.position() ?? 0);
      }
      known.push({ deploymentId, from });
    }
    for (const [deploymentId, cursor] of this.cursors) {
      if (!this.byDeployment.has(deploymentId) && this.byProject.has(cursor.projectId)) known.push({ deploymentId, from: cursor.seq });
    }
    const projects = [...this.byProject.keys()];
    const rows: EventRow[] = [];
    const CHUNK = 2000;
    for (let i = 0; i < known.length; i += CHUNK) {
      const chunk = known.slice(i, i + CHUNK);
      rows.push(
        ...(await this.db
          .select()
          .from(deploymentEvents)
          .where(or(...chunk.map((k) => and(eq(deploymentEvents.deploymentId, k.deploymentId), gt(deploymentEvents.seq, k.from))!)))
          .orderBy(asc(deploymentEvents.id))),
      );
    }
    if (projects.length > 0) {
      const knownIds = known.map((k) => k.deploymentId);
      rows.push(
        ...(await this.db
          .select()
          .from(deploymentEvents)
          .where(
            and(
              inArray(deploymentEvents.projectId, projects),
              gte(deploymentEvents.id, this.maxSeenId + 1),
              knownIds.length > 0 ? notInArray(deploymentEvents.deploymentId, knownIds) : undefined,
            ),
          )
          .orderBy(asc(deploymentEvents.id))),
      );
    }
    rows.sort((a, b) => a.id - b.id);
    this.log.info({ rows: rows.length, deployments: known.length, projects: projects.length }, 'replayed events missed while LISTEN was down');
    for (const row of rows) {
      if (row.id > this.maxSeenId) this.maxSeenId = row.id;
      this.dispatch(row);
    }
  }

  private dispatch(row: EventRow) {
    const deploymentFeeds = this.byDeployment.get(row.deploymentId);
    const projectFeeds = this.byProject.get(row.projectId);
    if (!deploymentFeeds && !projectFeeds) return;
    const cursor = this.cursors.get(row.deploymentId);
    if (cursor && row.seq <= cursor.seq) return;
    if (cursor && row.seq > cursor.seq + 1) {
      this.log.warn({ deploymentId: row.deploymentId, after: cursor.seq, seq: row.seq }, 'gap in deployment events');
    }
    this.cursors.set(row.deploymentId, {
      seq: row.seq,
      projectId: row.projectId,
      finishedAt: isTerminalStatus(row.status) ? Date.now() : null,
    });
    if (deploymentFeeds) for (const feed of deploymentFeeds) feed.offer(row);
    if (projectFeeds) for (const feed of projectFeeds) feed.offer(row);
  }

  /** Forgets the seq of deployments finished long ago (nothing follows a terminal event). */
  private sweep() {
    const before = Date.now() - this.options.finishedRetentionMs;
    for (const [deploymentId, cursor] of this.cursors) {
      if (cursor.finishedAt !== null && cursor.finishedAt < before && !this.byDeployment.has(deploymentId)) this.cursors.delete(deploymentId);
    }
  }
}

/** The hub of a process, with its LISTEN source (and its metrics, when given a registry). */
export function createEventHub(deps: {
  database: DatabaseHandle;
  databaseUrl: string | undefined;
  log: Logger;
  metrics?: Registry;
  options?: Partial<EventHubOptions>;
}): EventHub {
  const hub = new EventHub({
    db: deps.database.db,
    source: createNotificationSource(deps.database, deps.databaseUrl),
    log: deps.log,
    options: deps.options,
  });
  if (deps.metrics) registerHubMetrics(deps.metrics, hub);
  return hub;
}

/** The hub's figures on /metrics, read when scraped. */
export function registerHubMetrics(registry: Registry, hub: EventHub) {
  new Gauge({
    name: 'stageplane_subscriptions',
    help: 'Open subscriptions in this process, by field',
    labelNames: ['field'],
    registers: [registry],
    collect() {
      const stats = hub.stats();
      this.set({ field: 'deploymentEvents' }, stats.deploymentSubscribers);
      this.set({ field: 'projectEvents' }, stats.projectSubscribers);
    },
  });
  const counter = (name: string, help: string, read: () => number) =>
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        this.reset();
        this.inc(read());
      },
    });
  counter('stageplane_event_notifications_total', 'Event notifications received on LISTEN', () => hub.counters.notifications);
  counter('stageplane_event_loads_total', 'Queries that loaded notified events (one per batch, whatever the subscribers)', () => hub.counters.loads);
  counter('stageplane_event_deliveries_total', 'Events handed to subscribers (one per subscriber per event)', () => hub.counters.delivered);
  counter('stageplane_subscriptions_dropped_total', 'Subscribers dropped as slow consumers', () => hub.counters.dropped);
  counter('stageplane_event_relistens_total', 'LISTEN connections re-established after a loss', () => hub.counters.relistens);
}

/**
 * How a subscription closes the transport it runs on when it is dropped (WebSocket: a close code).
 * Registered by the transport per operation context; SSE has none (its stream errors instead).
 */
const transportClosers = new WeakMap<object, (code: number, reason: string) => void>();

export function setTransportCloser(context: object, close: (code: number, reason: string) => void) {
  transportClosers.set(context, close);
}

export function closeTransport(context: object, code: number, reason: string) {
  transportClosers.get(context)?.(code, reason);
}
