// What every subscriber of the event hub is: a bounded queue of event rows read as an async
// iterator. The hub offers rows and never waits for a reader; a feed whose queue overflows fails
// as a slow consumer. Waiting readers are handed their rows by the hub's wake-up rounds (batches
// per event-loop turn). The two kinds of feed build on this: live/project-feed.ts and
// live/deployment-feed.ts. A feed sees its hub only through FeedHost (no import of live/hub.ts).
//
// Direct delivery: a feed given a DirectSink (live/shared-executions.ts attaches one when the
// transport registered a writer for the operation, server/websocket.ts) hands its live rows to
// the sink in the hub's wake-up rounds instead of resolving its reader: the reader stays parked
// on its pending next(), so nothing the transport's own path sends can be overtaken (a direct
// write only happens while the reader waits, i.e. after everything it was given went out). A
// row the sink refuses (a result with errors) goes to the reader, and so does every later row.
import { GraphQLError } from 'graphql';
import { TERMINAL_STATUSES } from '../domain/values.ts';
import type { EventRow } from './event-log-reader.ts';

const TERMINAL = new Set<string>(TERMINAL_STATUSES);
export const isTerminalStatus = (status: string) => TERMINAL.has(status);

export interface FeedHooks {
  /** Called once when the subscriber is dropped as a slow consumer (close its transport). */
  onDrop?: (error: Error) => void;
}

/** What a feed needs from the hub that feeds it (live/hub.ts's EventHub). */
export interface FeedHost {
  readonly options: { readonly maxBuffered: number; readonly replayPageSize: number };
  readonly counters: { delivered: number; dropped: number };
  /** The feed is over: stop offering it rows and release what the hub holds for it. */
  unregister(feed: Feed): void;
  /** The feed has a queued row and a waiting reader: hand it over on the next round. */
  wake(feed: Feed): void;
  /** Waits for the first LISTEN (or for the hub's stop). */
  whenReady(): Promise<void>;
  /** Events of one deployment with seq > afterSeq, in order, at most `limit`. */
  readLog(deploymentId: string, afterSeq: number, limit: number): Promise<EventRow[]>;
  logError(error: unknown, deploymentId: string): void;
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

/**
 * Writes live rows to a subscriber's transport itself (live/shared-executions.ts). `offer` says
 * what became of the row: 'sent' (written, or dropped because the operation or its transport is
 * over), 'later' (a write or execution is in flight: the row stays queued and the sink calls the
 * feed's `resume` when it may go on, so backpressure is as with the reader: one message in flight),
 * 'refused' (the reader's path takes this row and every later one).
 */
export interface DirectSink {
  offer(row: EventRow): 'sent' | 'later' | 'refused';
}

type Waiter = { resolve: (r: IteratorResult<EventRow>) => void; reject: (e: unknown) => void };

export const DONE: IteratorResult<EventRow> = { done: true, value: undefined };

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
  peek(): T | undefined {
    return this.head < this.items.length ? this.items[this.head] : undefined;
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
export abstract class Feed implements AsyncIterableIterator<EventRow> {
  protected readonly queue = new Queue<EventRow>();
  protected waiter: Waiter | null = null;
  protected finished = false;
  protected failure: Error | null = null;
  /** A terminal row was handed over: the next read ends the stream. */
  protected ended = false;
  private sink: DirectSink | null = null;

  constructor(
    protected readonly hub: FeedHost,
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

  /** Live rows go to `sink` from now on, while it takes them (see DirectSink). */
  attachSink(sink: DirectSink) {
    if (!this.finished) this.sink = sink;
  }

  /** The sink may take rows again: hand it what is queued. */
  resume() {
    if (this.waiter && !this.finished && this.queue.length > 0) this.hub.wake(this);
  }

  /** Ends the feed normally: pending and later next() calls are done. */
  protected finish() {
    if (this.finished) return;
    this.finished = true;
    this.sink = null;
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
    this.sink = null;
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

  /** The next queued row to hand over, if any, left at the head of the queue. */
  protected peekLive(): EventRow | undefined {
    return this.queue.peek();
  }

  /** The next queued row to hand over, if any. */
  protected nextLive(): EventRow | undefined {
    const row = this.peekLive();
    if (row) this.queue.shift();
    return row;
  }

  /**
   * @internal Hands queued rows to the sink, or the oldest to the waiting reader (the hub calls
   * it in batches). Only while a reader waits: then all it was handed has gone out.
   */
  deliver() {
    this.woken = false;
    const waiter = this.waiter;
    if (!waiter || this.finished) return;
    if (this.sink && this.deliverDirect()) return;
    const row = this.nextLive();
    if (!row) return;
    this.waiter = null;
    this.hub.counters.delivered++;
    waiter.resolve(this.yielded(row));
  }

  /** Hands queued rows to the sink; false when the reader is to take the next one (refused). */
  private deliverDirect(): boolean {
    for (let row = this.peekLive(); row; row = this.peekLive()) {
      const outcome = this.sink!.offer(row);
      if (outcome === 'later') return true;
      if (outcome === 'refused') {
        this.sink = null;
        return false;
      }
      this.queue.shift();
      this.hub.counters.delivered++;
      this.yielded(row);
      // After a terminal row: the reader's next() ends the stream (the transport's `complete`).
      if (this.ended) {
        this.finish();
        return true;
      }
    }
    return true;
  }

  /** Bookkeeping for a row handed to the reader; returns its iterator result. */
  protected yielded(row: EventRow): IteratorResult<EventRow> {
    return { done: false, value: row };
  }
}
