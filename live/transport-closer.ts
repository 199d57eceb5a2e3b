// How a dropped subscriber's transport is closed. The hub only calls a feed's `onDrop` hook; the
// GraphQL field (schema/subscriptions.ts) turns that into closeTransport on its operation context,
// and the transport that runs the operation (server/websocket.ts) registered how to close it.
// Kept here so that neither side imports the other.

/** WebSocket close code for a subscriber dropped because it did not keep up (graphql-ws clients retry it). */
export const SLOW_CONSUMER_CLOSE_CODE = 4008;

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
