// The contract: every failed operation carries an extensions.code of its own list. Refusals of the
// request itself come from graphql-js, Yoga and graphql-armor with no code (syntax errors, variable
// coercion, armor's depth/alias/directive/token limits) or with one the contract does not know
// (GRAPHQL_VALIDATION_FAILED for unknown fields and other validation errors, BAD_REQUEST for a body
// Yoga cannot read). Each is the client's mistake, so each becomes BAD_USER_INPUT. Only `code`
// changes: the message (already redacted by server/redact.ts) and extensions.http (so the HTTP
// status) stay as they are. Only results without `data` (the operation never ran) are looked at:
// errors of resolvers come with `data`, and Yoga's masking gives those a code.
import { GraphQLError, type ExecutionResult } from 'graphql';
import type { Plugin } from 'graphql-yoga';

/** Codes Yoga and graphql-js give request refusals that the contract calls BAD_USER_INPUT. */
const REQUEST_ERROR_CODES = new Set(['GRAPHQL_VALIDATION_FAILED', 'GRAPHQL_PARSE_FAILED', 'BAD_REQUEST']);

/** A GraphQLError made by GraphQL itself (not wrapping a thrown non-GraphQL error). */
function isOriginalGraphQLError(error: GraphQLError): boolean {
  for (let e: unknown = error; e; e = (e as GraphQLError).originalError) {
    if (!(e instanceof GraphQLError)) return false;
  }
  return true;
}

/** Whether `error` refuses the request itself and lacks a contract code. */
export function isUncodedRequestError(error: GraphQLError): boolean {
  const extensions = error.extensions ?? {};
  const code = extensions.code;
  if (code === undefined) return extensions.unexpected !== true && isOriginalGraphQLError(error);
  return typeof code === 'string' && REQUEST_ERROR_CODES.has(code);
}

function withBadUserInput(error: GraphQLError): GraphQLError {
  return new GraphQLError(error.message, {
    nodes: error.nodes ?? null,
    source: error.source ?? null,
    positions: error.positions ?? null,
    path: error.path ?? null,
    originalError: error.originalError ?? null,
    extensions: { ...error.extensions, code: 'BAD_USER_INPUT' },
  });
}

/** `errors` with BAD_USER_INPUT on every request refusal that lacks a contract code; the same array when none does. */
export function withRequestErrorCodes<E extends GraphQLError>(errors: readonly E[]): readonly GraphQLError[] {
  if (!errors.some((e) => e instanceof GraphQLError && isUncodedRequestError(e))) return errors;
  return errors.map((e) => (e instanceof GraphQLError && isUncodedRequestError(e) ? withBadUserInput(e) : e));
}

/** A result that refuses the request (no `data` at all: nothing ran), with codes put on; null when unchanged. */
function codedResult<R extends ExecutionResult>(result: R): R | null {
  if (!result.errors?.length || 'data' in result) return null;
  const errors = withRequestErrorCodes(result.errors);
  return errors === result.errors ? null : { ...result, errors };
}

const isIterable = (value: unknown) => typeof value === 'object' && value !== null && Symbol.asyncIterator in value;

/**
 * Puts BAD_USER_INPUT on request refusals. Variable coercion errors come out of execute/subscribe
 * (every transport, WebSocket included); syntax, validation and graphql-armor errors are thrown or
 * returned before execution and reach the HTTP/SSE response through onResultProcess (server/websocket.ts
 * codes them itself, with withRequestErrorCodes). Register after useRedactInvalidValues.
 */
export function useRequestErrorCodes(): Plugin {
  const onDone = ({ result, setResult }: { result: unknown; setResult: (r: ExecutionResult) => void }) => {
    if (!result || isIterable(result)) return;
    const coded = codedResult(result as ExecutionResult);
    if (coded) setResult(coded);
  };
  return {
    onExecute: () => ({ onExecuteDone: onDone }),
    onSubscribe: () => ({ onSubscribeResult: onDone }),
    onResultProcess({ result, setResult }) {
      if (isIterable(result)) return;
      if (Array.isArray(result)) {
        const coded = result.map((r) => codedResult(r) ?? r);
        if (coded.some((r, i) => r !== result[i])) setResult(coded);
        return;
      }
      const coded = codedResult(result as ExecutionResult);
      if (coded) setResult(coded as typeof result);
    },
  };
}
