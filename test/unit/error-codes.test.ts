// Request refusals (syntax, validation, graphql-armor limits, variable coercion) carry the
// contract's BAD_USER_INPUT, through the real Yoga handler (no database: a JWT needs none, and
// none of these requests reaches a resolver). HTTP statuses and redaction stay as they were.
import { GraphQLError } from 'graphql';
import pino from 'pino';
import { Registry } from 'prom-client';
import { beforeAll, describe, expect, it } from 'vitest';
import { signToken } from '../../server/auth.ts';
import type { Services } from '../../services/scope.ts';
import { isUncodedRequestError, withRequestErrorCodes } from '../../server/error-codes.ts';
import { createGraphQLHandler, type GraphQLHandler } from '../../server/yoga.ts';

const secret = new TextEncoder().encode('unit-test-secret-that-is-long-enough-0123456789');
let yoga: GraphQLHandler;
let token: string;

beforeAll(async () => {
  const services = {
    config: { jwtSecret: secret },
    database: { db: {} },
    log: pino({ level: 'silent' }),
    metrics: new Registry(),
  } as unknown as Services;
  yoga = createGraphQLHandler(services);
  token = await signToken(secret, 'unit', ['ADMIN']);
});

async function post(body: unknown, accept = 'application/graphql-response+json, application/json') {
  const response = await yoga.fetch('http://localhost/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept, authorization: `Bearer ${token}` },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await response.text();
  return {
    status: response.status,
    body: JSON.parse(text) as { data?: unknown; errors?: { message: string; extensions?: Record<string, unknown> }[] },
    text,
  };
}

const DEEP = `{ projects { edges { node { environments { promotesFrom { promotesFrom { promotesFrom { promotesFrom { promotesFrom { promotesFrom { promotesFrom { promotesFrom { promotesFrom { slug } } } } } } } } } } } } } }`;
const ALIASES = `{ ${Array.from({ length: 50 }, (_, i) => `a${i}: viewer { subject }`).join(' ')} }`;
const DIRECTIVES = `{ viewer { subject ${'@include(if: true) '.repeat(40)} } }`;
const TOKENS = `{ viewer { ${'subject '.repeat(4000)} } }`;
const SET_VALUE = `mutation($i: SetSecretValueInput!) { setSecretValue(input: $i) { isSet } }`;

describe('request refusals carry BAD_USER_INPUT over HTTP', () => {
  it.each([
    ['depth limit', { query: DEEP }, /depth limit/],
    ['alias limit', { query: ALIASES }, /alias/i],
    ['directive limit', { query: DIRECTIVES }, /directive/i],
    ['token limit', { query: TOKENS }, /Token limit/],
    ['syntax error', { query: '{ viewer { subject ' }, /Syntax Error/],
    ['unknown field', { query: '{ viewer { subject passwordHash } }' }, /Cannot query field "passwordHash"/],
    ['unknown mutation', { query: 'mutation { dropAllTables }' }, /dropAllTables/],
    ['undefined variable type', { query: 'query($x: Nope) { viewer { subject } }' }, /Unknown type "Nope"/],
    ['missing required field', { query: SET_VALUE, variables: { i: { secretId: 'x', value: 'sk_live_SECRET' } } }, /environment/],
    ['wrong type', { query: SET_VALUE, variables: { i: { secretId: 'x', environment: 'dev', value: 42 } } }, /String cannot represent/],
    ['null for non-null', { query: SET_VALUE, variables: { i: null } }, /must not be null/],
    ['variable not given', { query: SET_VALUE }, /was not provided/],
    ['unknown input field', { query: SET_VALUE, variables: { i: { secretId: 'x', environment: 'dev', value: 'v', nope: 1 } } }, /nope/],
  ])('%s', async (_kind, body, message) => {
    const r = await post(body);
    expect(r.status).toBeLessThan(500);
    expect(r.body.data ?? null).toBeNull();
    expect(r.body.errors?.length).toBeGreaterThan(0);
    for (const e of r.body.errors!) {
      expect(e.extensions?.code, r.text).toBe('BAD_USER_INPUT');
    }
    expect(r.body.errors!.map((e) => e.message).join('\n')).toMatch(message);
    // Never the value of a variable (it could be a secret).
    expect(r.text).not.toContain('sk_live_SECRET');
  });

  it('keeps the HTTP statuses: 400 for validation, syntax and coercion errors with graphql-response+json', async () => {
    expect((await post({ query: '{ viewer { subject passwordHash } }' })).status).toBe(400);
    expect((await post({ query: '{ viewer { subject ' })).status).toBe(400);
    expect((await post({ query: SET_VALUE, variables: { i: { secretId: 'x', value: 'v' } } })).status).toBe(400);
  });

  it('is stable when Yoga answers the same bad document from its parse and validation caches', async () => {
    for (const query of ['{ viewer { nope } }', '{ viewer { ', DEEP]) {
      const first = await post({ query });
      const second = await post({ query });
      expect(second.status).toBe(first.status);
      expect(second.body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    }
  });

  it('answers a body that is not a GraphQL request with BAD_USER_INPUT too', async () => {
    const r = await post('"{ viewer { subject } }"');
    expect(r.status).toBe(400);
    expect(r.body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });

  it('leaves a good request and an authentication refusal alone', async () => {
    const ok = await post({ query: '{ viewer { subject } }' });
    expect(ok.status).toBe(200);
    expect(ok.body).toEqual({ data: { viewer: { subject: 'unit' } } });
    const response = await yoga.fetch('http://localhost/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({ query: '{ viewer { subject } }' }),
    });
    expect(((await response.json()) as { errors: { extensions: { code: string } }[] }).errors[0]!.extensions.code).toBe('UNAUTHENTICATED');
  });
});

describe('request refusals carry BAD_USER_INPUT over SSE', () => {
  it.each([
    ['syntax error', { query: 'subscription { deploymentEvents(' }],
    ['unknown field', { query: 'subscription { nope }' }],
    ['depth limit', { query: DEEP }],
    ['variable coercion', { query: 'subscription($id: ID!) { deploymentEvents(deploymentId: $id) { seq } }', variables: { id: true } }],
  ])('%s', async (_kind, body) => {
    const response = await yoga.fetch('http://localhost/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${token}` },
      body: JSON.stringify(body),
    });
    const text = await response.text();
    expect(response.status, text).toBeLessThan(500);
    const events = text
      .split('\n')
      .filter((line) => line.startsWith('data: ') && line.length > 'data: '.length)
      .map((line) => JSON.parse(line.slice('data: '.length)) as { errors?: { extensions?: { code?: string } }[] });
    const errors = events.flatMap((e) => e.errors ?? []);
    expect(errors.length, text).toBeGreaterThan(0);
    for (const e of errors) expect(e.extensions?.code, text).toBe('BAD_USER_INPUT');
    expect(text).not.toContain('sk_live_SECRET');
  });
});

describe('withRequestErrorCodes', () => {
  it('codes errors without a code or with a request code, keeping message and http', () => {
    const plain = new GraphQLError('Syntax Error: Query depth limit of 12 exceeded, found 14.');
    const validation = new GraphQLError('Cannot query field "x"', {
      extensions: { code: 'GRAPHQL_VALIDATION_FAILED', http: { status: 400 } },
    });
    const [a, b] = withRequestErrorCodes([plain, validation]);
    expect(a!.message).toBe(plain.message);
    expect(a!.extensions).toEqual({ code: 'BAD_USER_INPUT' });
    expect(b!.extensions).toEqual({ code: 'BAD_USER_INPUT', http: { status: 400 } });
  });

  it('leaves contract codes, internal errors and wrapped non-GraphQL errors alone', () => {
    const coded = new GraphQLError('no', { extensions: { code: 'FORBIDDEN' } });
    const internal = new GraphQLError('Unexpected error.', { extensions: { code: 'INTERNAL_SERVER_ERROR' } });
    const unexpected = new GraphQLError('boom', { extensions: { unexpected: true } });
    const wrapped = new GraphQLError('boom', { originalError: new Error('boom') });
    const errors = [coded, internal, unexpected, wrapped];
    expect(withRequestErrorCodes(errors)).toBe(errors);
    expect(errors.map(isUncodedRequestError)).toEqual([false, false, false, false]);
  });
});
