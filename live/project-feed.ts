// A `projectEvents` subscriber: every event of one project from the moment of subscribing, live
// only (no replay: across a lost connection a client re-reads the log itself).
import type { EventRow } from './event-log-reader.ts';
import { DONE, Feed, type FeedHooks, type FeedHost } from './feed.ts';

/** `projectEvents`: every event of one project, live. */
export class ProjectFeed extends Feed {
  constructor(
    hub: FeedHost,
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
