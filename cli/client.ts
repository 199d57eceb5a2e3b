// GraphQL over HTTP to the public API, with typed documents (cli/operations.ts). The token goes
// in the Authorization header and nowhere else: no error, message or log line carries it.
import { print } from 'graphql';
import type { ResultOf, TadaDocumentNode, VariablesOf } from './graphql.ts';
import { ApiError, UnreachableError, UsageError } from './errors.ts';

export const DEFAULT_URL = 'http://127.0.0.1:4000';

export interface Endpoint {
  /** The GraphQL endpoint over HTTP, e.g. http://127.0.0.1:4000/graphql (no credentials in it). */
  httpUrl: string;
  /** The same endpoint for graphql-ws, e.g. ws://127.0.0.1:4000/graphql. */
  wsUrl: string;
  token: string | null;
}

/**
 * `--url`/`STAGEPLANE_URL`: the server (`http://host:port`) or its GraphQL endpoint
 * (`.../graphql`). Credentials in the URL are refused: they would end up in messages.
 */
export function endpointFrom(rawUrl: string, token: string | null): Endpoint {
  let url: URL;
  try {
    url = new URL(rawUrl);
  } catch {
    throw new UsageError(`--url must be an http(s) URL such as ${DEFAULT_URL}, not ${JSON.stringify(rawUrl)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UsageError(`--url must be an http(s) URL such as ${DEFAULT_URL}`);
  }
  if (url.username || url.password) throw new UsageError('--url must not contain credentials; use --token or STAGEPLANE_TOKEN');
  url.search = '';
  url.hash = '';
  if (!/\/graphql\/?$/.test(url.pathname)) url.pathname = `${url.pathname.replace(/\/+$/, '')}/graphql`;
  url.pathname = url.pathname.replace(/\/+$/, '');
  const httpUrl = url.toString();
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  return { httpUrl, wsUrl: url.toString(), token: token?.trim() ? token.trim() : null };
}

/** The text of a document, as sent. */
export const documentText = (document: TadaDocumentNode<any, any, any>) => print(document);

interface GraphQLResponseBody {
  data?: unknown;
  errors?: { message?: string; extensions?: Record<string, unknown> }[];
}

/** The first error of a response as an ApiError (code INTERNAL_SERVER_ERROR when it has none). */
export function apiErrorOf(errors: readonly { message?: string; extensions?: Record<string, unknown> | undefined }[]): ApiError {
  const first = errors[0] ?? {};
  const extensions = first.extensions ?? {};
  const code = typeof extensions.code === 'string' ? extensions.code : 'INTERNAL_SERVER_ERROR';
  return new ApiError(code, first.message ?? 'The server refused the operation', extensions);
}

/** Why fetch failed, in a few words (ECONNREFUSED, ENOTFOUND, timed out ...). */
export function networkReason(error: unknown): string {
  const e = error as { name?: string; message?: string; cause?: { code?: string; message?: string; errors?: { code?: string }[] } };
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError') return 'no answer in time';
  const cause = e?.cause;
  const code = cause?.code ?? cause?.errors?.find((x) => x.code)?.code;
  if (code) return code;
  return cause?.message ?? e?.message ?? 'network error';
}

export class Client {
  constructor(
    readonly endpoint: Endpoint,
    private readonly timeoutMs = 120_000,
  ) {}

  /** Sends a query or mutation; a GraphQL error becomes an ApiError, a network failure an UnreachableError. */
  async request<D extends TadaDocumentNode<any, any, any>>(document: D, variables: VariablesOf<D>): Promise<ResultOf<D>> {
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      accept: 'application/graphql-response+json, application/json',
    };
    if (this.endpoint.token) headers.authorization = `Bearer ${this.endpoint.token}`;
    let response: Response;
    try {
      response = await fetch(this.endpoint.httpUrl, {
        method: 'POST',
        headers,
        body: JSON.stringify({ query: documentText(document), variables }),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (error) {
      throw new UnreachableError(this.endpoint.httpUrl, networkReason(error));
    }
    let text: string;
    try {
      text = await response.text();
    } catch (error) {
      throw new UnreachableError(this.endpoint.httpUrl, networkReason(error));
    }
    let body: GraphQLResponseBody | null = null;
    try {
      body = JSON.parse(text) as GraphQLResponseBody;
    } catch {
      body = null;
    }
    if (!body || typeof body !== 'object' || (!('data' in body) && !('errors' in body))) {
      if (response.status === 502 || response.status === 503 || response.status === 504) {
        throw new UnreachableError(this.endpoint.httpUrl, `HTTP ${response.status}`);
      }
      throw new ApiError(
        'BAD_RESPONSE',
        `the server at ${this.endpoint.httpUrl} answered HTTP ${response.status} without a GraphQL result; is --url the Stageplane API?`,
      );
    }
    if (body.errors?.length) throw apiErrorOf(body.errors);
    if (body.data == null) throw new ApiError('BAD_RESPONSE', 'the server answered without data');
    return body.data as ResultOf<D>;
  }
}
