// The transport-side handle of an operation: how a dropped subscriber's transport is closed, and
// how its results may be written to the transport directly. The hub only calls a feed's `onDrop`
// hook; the GraphQL field (schema/subscriptions.ts) turns that into closeTransport on its
// operation context, and the transport that runs the operation (server/websocket.ts) registered
// how to close it. Likewise the transport registers a DirectWriter, which the shared execution
// (live/shared-executions.ts) hands to the operation's feed. Kept here so that neither side
// imports the other.
import type { ExecutionResult } from 'graphql';

/** WebSocket close code for a subscriber dropped because it did not keep up (graphql-ws clients retry it). */
export const SLOW_CONSUMER_CLOSE_CODE = 4008;

/**
 * Writes one operation's results to its transport without the transport's per-result machinery
 * (graphql-ws: one `next` message around the result's JSON, encoded once per result object).
 * Only results without errors: those keep the transport's own path.
 */
export interface DirectWriter {
  /** False once the operation is over (completed, cancelled) or its transport is closed. */
  live(): boolean;
  /** Writes the result; `done` once the transport took it (one message in flight, as before). */
  write(result: ExecutionResult, done: () => void): void;
}

type Closer = (code: number, reason: string) => void;

/**
 * How a subscription closes the transport it runs on when it is dropped (WebSocket: a close code).
 * Registered by the transport per operation context; SSE has none (its stream errors instead).
 */
const transportClosers = new WeakMap<object, Closer>();
const directWriters = new WeakMap<object, DirectWriter>();

export function setTransportCloser(context: object, close: Closer) {
  transportClosers.set(context, close);
}

export function closeTransport(context: object, code: number, reason: string) {
  transportClosers.get(context)?.(code, reason);
}

/** How to close the operation's transport, taken once at subscribe time (so the context need not be kept). */
export function transportCloserOf(context: object): Closer | undefined {
  return transportClosers.get(context);
}

export function setDirectWriter(context: object, writer: DirectWriter) {
  directWriters.set(context, writer);
}

/** The operation's direct writer, handed over once: the registry forgets it. */
export function takeDirectWriter(context: object): DirectWriter | undefined {
  const writer = directWriters.get(context);
  directWriters.delete(context);
  return writer;
}
