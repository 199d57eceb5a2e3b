// One execution per event, not one per subscriber. graphql-js runs a subscription's selection
// set once for every subscriber and every event; with 10k subscribers to one deployment that was
// most of the CPU of delivering an event (bench/subscriptions.ts). The event hub hands the same
// row object to every live subscriber, so subscribers whose operations select the same fields
// can share the result: it is computed once per (event row, document, operation, variables that
// the selection below the root field uses) and every subscriber's transport serializes it.
//
// Only root fields whose results cannot depend on who is asking are shared (their authorization
// happens at subscribe time, per subscriber, as before). Anything else runs as graphql-js would.
//
// Direct delivery: when the transport registered a DirectWriter for the operation (graphql-ws,
// server/websocket.ts), a shared operation's live rows do not travel back through graphql-js,
// Yoga and graphql-ws one subscriber at a time: the feed hands each row to a sink here, which
// looks up the shared result and has the writer send it (serialized once per result). A result
// with errors, and everything after it, take the ordinary path (live/feed.ts says why the two
// paths cannot overtake each other).
//
// It belongs with the live fan-out (it is the other half of delivering one hub row to many
// subscribers) and depends only on graphql-js, Yoga's Plugin type and the feed and transport
// handle beside it, never on schema/ or server/: server/yoga.ts installs the plugin.
import {
  createSourceEventStream,
  execute,
  getOperationAST,
  Kind,
  visit,
  type DocumentNode,
  type ExecutionArgs,
  type ExecutionResult,
} from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { Feed, type DirectSink } from './feed.ts';
import { takeDirectWriter, type DirectWriter } from './transport-closer.ts';

/** Subscription fields whose selection resolves from the event row alone (no context, no principal). */
export const SHAREABLE_SUBSCRIPTION_FIELDS: ReadonlySet<string> = new Set(['deploymentEvents', 'projectEvents']);

/** How an operation may share: the variables its result depends on, or null when it may not. */
type Sharing = { variables: readonly string[] } | null;

const sharingByDocument = new WeakMap<DocumentNode, Map<string, Sharing>>();
type Result = Promise<ExecutionResult> | ExecutionResult;
/** Per event row, per document: result by sharing key. Rows are dropped by the hub once delivered, and so is this. */
const resultsByEvent = new WeakMap<object, Map<DocumentNode, Map<string, Result>>>();

/** Decides once per document and operation (documents come from Yoga's parse cache). */
export function sharingOf(document: DocumentNode, operationName: string | null | undefined): Sharing {
  let byOperation = sharingByDocument.get(document);
  if (!byOperation) sharingByDocument.set(document, (byOperation = new Map()));
  const key = operationName ?? '';
  if (byOperation.has(key)) return byOperation.get(key)!;
  const sharing = decide(document, operationName);
  byOperation.set(key, sharing);
  return sharing;
}

function decide(document: DocumentNode, operationName: string | null | undefined): Sharing {
  const operation = getOperationAST(document, operationName);
  if (operation?.operation !== 'subscription') return null;
  const selections = operation.selectionSet.selections;
  const root = selections[0];
  if (selections.length !== 1 || root?.kind !== Kind.FIELD || !SHAREABLE_SUBSCRIPTION_FIELDS.has(root.name.value)) return null;
  if (root.directives?.length) return null;
  // The root field's arguments choose the stream (per subscriber); everything beneath it, and
  // every fragment, can change the result, so those variables are part of the key.
  const variables = new Set<string>();
  const collect = (node: Parameters<typeof visit>[0]) =>
    visit(node, {
      Variable(v) {
        variables.add(v.name.value);
      },
    });
  if (root.selectionSet) collect(root.selectionSet);
  for (const d of document.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) collect(d);
  return { variables: [...variables].sort() };
}

function sharingKey(args: ExecutionArgs, sharing: NonNullable<Sharing>): string {
  const values = (args.variableValues ?? {}) as Record<string, unknown>;
  return JSON.stringify([args.operationName ?? '', sharing.variables.map((name) => values[name] ?? null)]);
}

/**
 * Maps a source stream through `map`, as graphql-js does: once the source or `map` fails, the
 * error reaches the reader once and the stream is over (Yoga turns that error into a last result
 * and asks again; a source that keeps failing must not make that a loop).
 */
function mapStream<T, U>(source: AsyncIterable<T>, map: (value: T) => Promise<U> | U): AsyncIterableIterator<U> {
  const iterator = source[Symbol.asyncIterator]();
  let over = false;
  const done = (): IteratorResult<U> => ({ done: true, value: undefined });
  const close = async () => {
    if (over) return;
    over = true;
    await iterator.return?.();
  };
  return {
    async next() {
      if (over) return done();
      try {
        const step = await iterator.next();
        if (step.done) {
          over = true;
          return done();
        }
        return { done: false, value: await map(step.value) };
      } catch (error) {
        await close().catch(() => {});
        throw error;
      }
    },
    async return() {
      await close();
      return done();
    },
    async throw(error: unknown) {
      await close();
      throw error;
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}

const isPromise = (value: Result): value is Promise<ExecutionResult> => typeof (value as Promise<unknown>).then === 'function';

/** The result of `args` for one event row: executed by the first subscriber that asks, shared by the others. */
function sharedResult(args: ExecutionArgs, key: string, payload: object): Result {
  let byDocument = resultsByEvent.get(payload);
  if (!byDocument) resultsByEvent.set(payload, (byDocument = new Map()));
  let results = byDocument.get(args.document);
  if (!results) byDocument.set(args.document, (results = new Map()));
  let result = results.get(key);
  if (!result) {
    result = execute({ ...args, rootValue: payload });
    results.set(key, result);
    // Later subscribers (and direct sinks) get the value itself once it is there.
    if (isPromise(result)) result.then((value) => results.set(key, value)).catch(() => {});
  }
  return result;
}

/**
 * A feed's sink (live/feed.ts DirectSink) for one operation: the shared result of each row goes to
 * `writer`, one message in flight at a time (the writer says when it went out), as graphql-ws did.
 */
function directSink(feed: Feed, writer: DirectWriter, resultOf: (row: object) => Result): DirectSink {
  let busy = false;
  const done = () => {
    busy = false;
    feed.resume();
  };
  return {
    offer(row) {
      if (busy) return 'later';
      // Completed, cancelled, or its socket closed: nothing more goes out (the transport ends the feed).
      if (!writer.live()) return 'sent';
      const result = resultOf(row);
      if (isPromise(result)) {
        busy = true;
        result.then(done, done);
        return 'later';
      }
      if (result.errors !== undefined) return 'refused';
      busy = true;
      writer.write(result, done);
      return 'sent';
    },
  };
}

/** graphql-js subscribe, except that a shareable operation executes each event row once. */
export async function sharedSubscribe(args: ExecutionArgs): Promise<AsyncIterableIterator<ExecutionResult> | ExecutionResult> {
  const sharing = sharingOf(args.document, args.operationName);
  const writer = sharing ? takeDirectWriter(args.contextValue as object) : undefined;
  const source = await createSourceEventStream(args);
  if (!(Symbol.asyncIterator in (source as object))) return source as ExecutionResult;
  const key = sharing ? sharingKey(args, sharing) : null;
  const resultOf = (payload: object) => sharedResult(args, key!, payload);
  if (key !== null && writer && source instanceof Feed) source.attachSink(directSink(source, writer, resultOf));
  return mapStream(source as AsyncIterable<unknown>, (payload) => {
    if (key === null || typeof payload !== 'object' || payload === null) return execute({ ...args, rootValue: payload });
    return resultOf(payload);
  });
}

/** The Yoga plugin. Put it last, so that no later plugin replaces the subscribe function again. */
export function useSharedSubscriptionExecution(): Plugin {
  return {
    onSubscribe({ setSubscribeFn }) {
      setSubscribeFn(sharedSubscribe as never);
    },
  };
}
