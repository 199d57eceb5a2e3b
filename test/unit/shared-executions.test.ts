// live/shared-executions.ts: which operations share one execution per event, and that a
// shared stream behaves like graphql-js's own (one execution per row and key, errors end it).
import { buildSchema, parse, type ExecutionResult } from 'graphql';
import { describe, expect, it } from 'vitest';
import { sharedSubscribe, sharingOf } from '../../live/shared-executions.ts';

describe('sharingOf', () => {
  it('shares a single deploymentEvents or projectEvents field, keyed by the variables beneath it', () => {
    const doc = parse('subscription S($id: ID!, $after: Int) { deploymentEvents(deploymentId: $id, afterSeq: $after) { seq message } }');
    expect(sharingOf(doc, 'S')).toEqual({ variables: [] });
    const withDirective = parse(
      'subscription($slug: String!, $full: Boolean!) { projectEvents(projectSlug: $slug) { seq message @include(if: $full) ...F } } fragment F on DeploymentEvent { step @skip(if: $brief) }',
    );
    expect(sharingOf(withDirective, null)).toEqual({ variables: ['brief', 'full'] });
  });

  it('does not share other fields, several root fields, directives on the root, queries or unknown operations', () => {
    expect(sharingOf(parse('subscription { other { a } }'), null)).toBeNull();
    expect(
      sharingOf(
        parse(
          'subscription($a: ID!, $b: ID!) { deploymentEvents(deploymentId: $a) { seq } x: deploymentEvents(deploymentId: $b) { seq } }',
        ),
        null,
      ),
    ).toBeNull();
    expect(
      sharingOf(parse('subscription($a: ID!, $c: Boolean!) { deploymentEvents(deploymentId: $a) @include(if: $c) { seq } }'), null),
    ).toBeNull();
    expect(sharingOf(parse('query { deploymentEvents { seq } }'), null)).toBeNull();
    expect(sharingOf(parse('subscription A { deploymentEvents { seq } } subscription B { deploymentEvents { seq } }'), null)).toBeNull();
    expect(sharingOf(parse('subscription A { deploymentEvents { seq } }'), 'Nope')).toBeNull();
  });
});

const schema = buildSchema(`
  type Query { ok: Boolean }
  type Event { seq: Int! message(upper: Boolean): String }
  type Subscription { deploymentEvents(deploymentId: ID!): Event  other: Event }
`);

/** Subscription fields over a source of the given rows (shared objects, as the hub's are). */
function schemaWith(rows: object[], options: { failWith?: Error; refuse?: Error } = {}) {
  const fields = schema.getSubscriptionType()!.getFields();
  for (const field of [fields.deploymentEvents!, fields.other!]) {
    field.subscribe = () => {
      if (options.refuse) throw options.refuse;
      return (async function* () {
        for (const row of rows) yield row;
        if (options.failWith) throw options.failWith;
      })();
    };
    field.resolve = (row: object) => row;
  }
  return schema;
}

async function drain(iterator: AsyncIterableIterator<ExecutionResult> | ExecutionResult) {
  const out: unknown[] = [];
  if (!(Symbol.asyncIterator in iterator)) throw new Error('not a stream');
  for (;;) {
    try {
      const step = await iterator.next();
      if (step.done) return out;
      out.push(step.value);
    } catch (error) {
      out.push({ thrown: (error as Error).message });
    }
    if (out.length > 20) throw new Error('the stream does not end');
  }
}

describe('sharedSubscribe', () => {
  it('executes each row once for subscribers with the same selection, and apart for different ones', async () => {
    let executions = 0;
    const rows = [1, 2, 3].map((seq) => ({
      seq,
      get message() {
        executions++;
        return `event ${seq}`;
      },
    }));
    const doc = parse('subscription($id: ID!) { deploymentEvents(deploymentId: $id) { seq message } }');
    const other = parse('subscription($id: ID!) { deploymentEvents(deploymentId: $id) { message } }');
    const run = (document: typeof doc, id: string) =>
      sharedSubscribe({ schema: schemaWith(rows), document, variableValues: { id } }).then(drain);
    const [a, b, c] = await Promise.all([run(doc, 'x'), run(doc, 'y'), run(other, 'x')]);
    expect(a).toEqual(rows.map((r) => ({ data: { deploymentEvents: { seq: r.seq, message: `event ${r.seq}` } } })));
    expect(b).toEqual(a);
    expect(c).toEqual(rows.map((r) => ({ data: { deploymentEvents: { message: `event ${r.seq}` } } })));
    expect(executions).toBe(6); // 3 rows x 2 distinct selections, not 3 x 3 subscribers
  });

  it('executes per subscriber where it may not share', async () => {
    let executions = 0;
    const rows = [
      {
        seq: 1,
        get message() {
          return `n${++executions}`;
        },
      },
    ];
    const doc = parse('subscription { other { seq message } }');
    await Promise.all([1, 2, 3].map(() => sharedSubscribe({ schema: schemaWith(rows), document: doc }).then(drain)));
    expect(executions).toBe(3);
  });

  it('hands a source error to the reader once, then ends', async () => {
    const doc = parse('subscription($id: ID!) { deploymentEvents(deploymentId: $id) { seq } }');
    const stream = await sharedSubscribe({
      schema: schemaWith([{ seq: 1 }], { failWith: new Error('dropped') }),
      document: doc,
      variableValues: { id: 'x' },
    });
    expect(await drain(stream)).toEqual([{ data: { deploymentEvents: { seq: 1 } } }, { thrown: 'dropped' }]);
  });

  it('answers a failing subscribe with its errors, not a stream', async () => {
    const doc = parse('subscription { deploymentEvents(deploymentId: "x") { seq } }');
    const result = (await sharedSubscribe({
      schema: schemaWith([], { refuse: new Error('not found') }),
      document: doc,
    })) as ExecutionResult;
    expect(result.errors?.[0]?.message).toBe('not found');
  });
});
