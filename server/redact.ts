// graphql-js echoes a whole input object when one of its fields fails to coerce
// ('Variable "$i" got invalid value { value: "sk_live_…" }; Field "environment" … was not
// provided.'), which would put a secret value in an error. This rewrites such messages to name
// the variable and the problem, without the value.
import type { ExecutionResult, GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';

const PREFIX = /^Variable "\$[^"]+" got invalid value /;

/** The index just past a JSON-like value (graphql's inspect output) starting at `from`. */
function endOfValue(text: string, from: number): number {
  let depth = 0;
  for (let i = from; i < text.length; i++) {
    const c = text[i]!;
    if (c === '"') {
      for (i++; i < text.length && text[i] !== '"'; i++) if (text[i] === '\\') i++;
      if (depth === 0) return i + 1;
    } else if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') {
      depth--;
      if (depth === 0) return i + 1;
    } else if (depth === 0 && (c === ' ' || c === ';')) return i;
  }
  return text.length;
}

// The scalar's or enum's own reason repeats the value too: 'String cannot represent a non string
// value: { secret: "…" }', 'Value "…" does not exist in "Role" enum.'
const SCALAR_REASON = /( cannot represent [^:;]*): .*$/s;
const ENUM_REASON = /Value ".*" does not exist in ("[^"]+" enum)/s;

export function redactInvalidValue(message: string): string {
  const m = PREFIX.exec(message);
  if (!m) return message;
  const start = m[0].length;
  const rest = message
    .slice(endOfValue(message, start))
    .replace(SCALAR_REASON, '$1: (value not shown)')
    .replace(ENUM_REASON, 'Value (not shown) does not exist in $1');
  return message.slice(0, start) + '(value not shown)' + rest;
}

function redactResult(result: ExecutionResult): ExecutionResult | null {
  if (!result.errors?.some((e) => PREFIX.test(e.message))) return null;
  return {
    ...result,
    errors: result.errors.map((e) => {
      if (!PREFIX.test(e.message)) return e;
      const copy = Object.create(Object.getPrototypeOf(e)) as GraphQLError;
      Object.assign(copy, e);
      Object.defineProperty(copy, 'message', { value: redactInvalidValue(e.message), enumerable: true, writable: true });
      return copy;
    }),
  };
}

export function useRedactInvalidValues(): Plugin {
  return {
    onExecute: () => ({
      onExecuteDone({ result, setResult }) {
        if (result && !(Symbol.asyncIterator in result)) {
          const redacted = redactResult(result as ExecutionResult);
          if (redacted) setResult(redacted);
        }
      },
    }),
    onSubscribe: () => ({
      onSubscribeResult({ result, setResult }) {
        if (result && !(Symbol.asyncIterator in result)) {
          const redacted = redactResult(result as ExecutionResult);
          if (redacted) setResult(redacted);
        }
      },
    }),
  };
}
