// A `deploymentEvents` subscriber: one deployment's events after a seq, replayed from the log in
// pages and then live, each seq once and in order, ending after the terminal event.
//
// A deployment subscriber subscribes first, then replays from the log (in pages), then goes
// live, dropping anything at or below the last seq it yielded: an event that commits between
// the replay and the live feed arrives on one or both paths and is delivered exactly once.
import type { EventRow } from './event-log-reader.ts';
import { DONE, Feed, isTerminalStatus, type FeedHooks, type FeedHost } from './feed.ts';

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

  constructor(
    hub: FeedHost,
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
  protected override peekLive(): EventRow | undefined {
    for (let row = this.queue.peek(); row; row = this.queue.peek()) {
      if (row.seq > this.lastSeq) return row;
      this.queue.shift();
    }
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
