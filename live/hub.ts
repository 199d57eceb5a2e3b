// Live deployment events: the per-process fan-out hub behind the `deploymentEvents` and
// `projectEvents` subscriptions.
//
// One LISTEN per process on EVENTS_CHANNEL. A notification names an event row and mostly carries
// it (db/event-log.ts notificationOf); the hub loads the rows of every notification that arrived
// together without theirs in ONE query, and only when some subscriber of this process wants
// them, then hands each row to every matching subscriber (by deployment and by project). Subscribers are bounded queues: dispatch never waits for a client, and a
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
// Waiting readers are woken in batches (`wakeBatch` per event-loop turn), so an event for many
// thousands of subscribers does not hold the event loop for the whole fan-out.
//
// The hub sees the database through two seams, live/notification-source.ts (the LISTEN) and
// live/event-log-reader.ts (the reads); its subscribers are live/deployment-feed.ts and
// live/project-feed.ts; its metrics are live/metrics.ts.
import { GraphQLError } from 'graphql';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { DatabaseHandle } from '../db/client.ts';
import { EVENTS_CHANNEL, notifiedRow, type EventNotification } from '../db/event-log.ts';
import { DeploymentFeed } from './deployment-feed.ts';
import { createEventLogReader, type EventLogReader, type EventRow, type SeqGap } from './event-log-reader.ts';
import { isTerminalStatus, type Feed, type FeedHooks, type FeedHost } from './feed.ts';
import { registerHubMetrics } from './metrics.ts';
import { createNotificationSource, type NotificationSource } from './notification-source.ts';
import { ProjectFeed } from './project-feed.ts';

export type { EventRow } from './event-log-reader.ts';

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

type Pending = EventNotification;

export interface EventHubDeps {
  /** What the hub reads from the event log (replays, notified rows, read-back after a lost LISTEN). */
  eventLog: EventLogReader;
  source: NotificationSource;
  log: Logger;
  options?: Partial<EventHubOptions>;
}

export class EventHub implements FeedHost {
  readonly options: EventHubOptions;
  readonly counters = { notifications: 0, loads: 0, loadedRows: 0, delivered: 0, dropped: 0, recoveries: 0, relistens: 0 };
  private readonly eventLog: EventLogReader;
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
    this.eventLog = deps.eventLog;
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
    return 'deploymentId' in target
      ? (this.byDeployment.get(target.deploymentId)?.size ?? 0)
      : (this.byProject.get(target.projectId)?.size ?? 0);
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
    const batch =
      this.wakeList.length <= this.options.wakeBatch ? this.wakeList.splice(0) : this.wakeList.splice(0, this.options.wakeBatch);
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
    return this.eventLog.readDeployment(deploymentId, afterSeq, limit);
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
    if (
      typeof note?.id !== 'number' ||
      typeof note.deploymentId !== 'string' ||
      typeof note.projectId !== 'string' ||
      typeof note.seq !== 'number'
    )
      return;
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
    const carried: EventRow[] = [];
    // Per deployment, the lowest notified seq, to detect a gap after the last dispatched one.
    const lowest = new Map<string, number>();
    for (const note of batch) {
      if (!this.wants(note.deploymentId, note.projectId)) continue;
      const cursor = this.cursors.get(note.deploymentId);
      if (cursor && note.seq <= cursor.seq) continue;
      const row = notifiedRow(note);
      if (row) carried.push(row);
      else ids.push(note.id);
      const low = lowest.get(note.deploymentId);
      if (low === undefined || note.seq < low) lowest.set(note.deploymentId, note.seq);
    }
    if (ids.length === 0 && carried.length === 0) return;
    const gaps: SeqGap[] = [];
    for (const [deploymentId, low] of lowest) {
      const cursor = this.cursors.get(deploymentId);
      if (cursor && low > cursor.seq + 1) gaps.push({ deploymentId, afterSeq: cursor.seq, beforeSeq: low });
    }
    let rows = carried;
    if (ids.length > 0 || gaps.length > 0) {
      const loaded = await this.eventLog.loadNotified(ids, gaps);
      this.counters.loads++;
      this.counters.loadedRows += loaded.length;
      rows = carried.length === 0 ? loaded : [...carried, ...loaded].sort((a, b) => a.id - b.id);
    }
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
    const rows: EventRow[] = [...(await this.eventLog.readDeploymentsAfter(known))];
    if (projects.length > 0) {
      const knownIds = known.map((k) => k.deploymentId);
      rows.push(...(await this.eventLog.readProjectsAfter(projects, this.maxSeenId, knownIds)));
    }
    rows.sort((a, b) => a.id - b.id);
    this.log.info(
      { rows: rows.length, deployments: known.length, projects: projects.length },
      'replayed events missed while LISTEN was down',
    );
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
      if (cursor.finishedAt !== null && cursor.finishedAt < before && !this.byDeployment.has(deploymentId))
        this.cursors.delete(deploymentId);
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
    eventLog: createEventLogReader(deps.database.db),
    source: createNotificationSource(deps.database, deps.databaseUrl),
    log: deps.log,
    options: deps.options,
  });
  if (deps.metrics) registerHubMetrics(deps.metrics, hub);
  return hub;
}
