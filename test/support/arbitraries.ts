// fast-check arbitraries for GraphQL mutation inputs, sent as variables over HTTP.
//
// An input is described by a Shape (field name -> Field). From one Shape come three kinds of
// inputs, one per Mode:
// - 'typed': well-typed for GraphQL (variable coercion passes) but mostly valid with semantic
//   perturbations: empty, blank or huge strings, unicode, bad slugs, numbers out of the domain's
//   range, foreign or unknown global ids, stale expectedVersion, nulls, left-out optional fields;
// - 'hostile': a valid input with one string field carrying a NUL or an unpaired surrogate;
// - 'illTyped': a valid input with one or two perturbations GraphQL's variable coercion must
//   refuse: wrong JSON types, unknown enum values, ints beyond 32 bits, nulls in non-null fields,
//   missing required fields, unknown fields, or a variable that is not an object at all.
//
// Values that depend on fixtures created at run time (ids, the current settings version) are
// markers, resolved just before the request: {$ref: name}, {$version: delta}. Counterexamples
// print with the marker, which names the fixture.
import { encodeGlobalID } from '@pothos/plugin-relay';
import fc from 'fast-check';

/** The contract's error codes (shared contract README, "Errors"): the only legitimate ones. */
export const CONTRACT_ERROR_CODES = [
  'UNAUTHENTICATED',
  'FORBIDDEN',
  'NOT_FOUND',
  'BAD_USER_INPUT',
  'CONFLICT',
  'PRECONDITION_FAILED',
] as const;

export type Mode = 'typed' | 'hostile' | 'illTyped';

// ---------------------------------------------------------------- markers

export interface Ref {
  $ref: string;
}
export interface VersionRef {
  $version: number;
}
/** A fixture, by name, resolved when the run executes. */
export const ref = (name: string): Ref => ({ $ref: name });
/** The current settings version of the input's environment, plus delta (0: current, else stale). */
export const versionRef = (delta: number): VersionRef => ({ $version: delta });

/** A field left out of the input (fast-check records use this too, but we need it explicitly). */
export const ABSENT = '__absent__' as const;

/** Replaces {$ref} markers through lookup; {$version} markers through version(). */
export async function resolveMarkers(
  value: unknown,
  lookup: (name: string) => unknown,
  version: (delta: number, parent: Record<string, unknown>) => Promise<unknown>,
): Promise<unknown> {
  const walk = async (v: unknown, parent: Record<string, unknown> | null): Promise<unknown> => {
    if (Array.isArray(v)) return Promise.all(v.map((x) => walk(x, null)));
    if (v && typeof v === 'object') {
      if ('$ref' in v && typeof (v as Ref).$ref === 'string') return lookup((v as Ref).$ref);
      if ('$version' in v && typeof (v as VersionRef).$version === 'number') return version((v as VersionRef).$version, parent ?? {});
      const out: Record<string, unknown> = {};
      // ids first, so that a {$version} sibling sees its resolved environmentId
      const entries = Object.entries(v).sort(([, a], [, b]) => Number(isVersion(a)) - Number(isVersion(b)));
      for (const [k, x] of entries) if (x !== ABSENT) out[k] = await walk(x, out);
      return Object.fromEntries(
        Object.keys(v)
          .filter((k) => k in out)
          .map((k) => [k, out[k]]),
      );
    }
    return v;
  };
  return walk(value, null);
}
const isVersion = (v: unknown) => !!v && typeof v === 'object' && '$version' in v;

// ---------------------------------------------------------------- strings

/** Strings that are valid text (non-blank, well-formed, no NUL) yet unusual. */
export const UNICODE_SAMPLES = [
  'ünïcödé',
  '日本語の名前',
  '🚀🔥 rocket',
  'e\u0301\u0301 combining',
  '\u202Eevil rtl',
  'zero\u200Bwidth',
  'ﷺ',
  'Ω≈ç√∫',
  'tab\there',
  'line\nbreak',
  `quote'"\``,
  '<script>alert(1)</script>',
  '%s%n%x',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a template-injection probe, on purpose
  '${x}{{y}}',
  'back\\slash',
  "Robert'); DROP TABLE projects;--",
  '\u0001\u001f control',
  '\uFEFFbom',
  '👨‍👩‍👧‍👦',
];

const wellFormed = (s: string) => !s.includes('\u0000') && (s as string & { isWellFormed(): boolean }).isWellFormed();

/** Any well-formed string without NUL (may be empty or blank). */
export const anyText = (maxLength = 30) =>
  fc.oneof(fc.string({ maxLength, unit: 'grapheme' }), fc.string({ maxLength, unit: 'binary' })).filter(wellFormed);

/** Non-blank text of at most `max` characters, as the domain accepts it. */
export const validText = (max: number) =>
  fc
    .oneof(
      { weight: 4, arbitrary: fc.stringMatching(/^[A-Za-z][A-Za-z0-9 ._-]{0,20}$/) },
      { weight: 2, arbitrary: fc.constantFrom(...UNICODE_SAMPLES) },
      { weight: 1, arbitrary: anyText(Math.min(max, 40)) },
    )
    .filter((s) => s.trim().length >= 1 && s.trim().length <= max);

/** Text the domain must refuse (blank or too long) or edge cases around its bounds. */
export const badText = (max: number) =>
  fc.oneof(
    fc.constantFrom('', ' ', '\t\n ', '\u00a0', 'x'.repeat(max + 1), ' '.repeat(max + 5), 'y'.repeat(max), ` ${'z'.repeat(max)} `),
    hugeString(),
  );

/** Free text that may be empty, up to `max`. */
export const freeText = (max: number) => fc.oneof(fc.constant(''), validText(max), anyText(60));

export const hugeString = () => fc.constantFrom('h'.repeat(10_001), 'ü'.repeat(70_000), '🚀'.repeat(40_000), 'a-'.repeat(50_000));

/** A NUL or an unpaired surrogate, somewhere in an otherwise ordinary string. */
export const hostileString = () =>
  fc
    .tuple(
      fc.stringMatching(/^[a-z]{1,8}$/),
      fc.constantFrom('\u0000', '\ud800', '\udfff', '\u0000\u0000', '\udc00\ud800', 'a\u0000'),
      fc.stringMatching(/^[a-z]{0,8}$/),
      fc.boolean(),
    )
    .map(([a, bad, b, atStart]) => (atStart ? bad + a + b : a + bad + b));

// ---------------------------------------------------------------- slugs, names, numbers

export const SLUG = /^[a-z][a-z0-9-]{1,38}$/;
export const validSlug = () => fc.stringMatching(SLUG);
export const badSlug = () =>
  fc.oneof(
    fc.constantFrom('', 'a', '1abc', '-abc', 'Upper', 'has space', 'under_score', 'émoji', 'a/b', 'a'.repeat(40), 'dev\n', ' dev'),
    anyText(12).filter((s) => !SLUG.test(s)),
  );

export const SECRET_NAME = /^[A-Z][A-Z0-9_]{0,127}$/;
export const validSecretName = () => fc.stringMatching(/^[A-Z][A-Z0-9_]{0,20}$/);
export const badSecretName = () =>
  fc.oneof(
    fc.constantFrom('', 'lower', '1ABC', '_ABC', 'A-B', 'A B', 'Ä', 'A'.repeat(129)),
    anyText(10).filter((s) => !SECRET_NAME.test(s)),
  );

export const INT32_MIN = -2_147_483_648;
export const INT32_MAX = 2_147_483_647;
export const intIn = (min: number, max: number) => fc.integer({ min, max });
/** 32-bit ints outside [min, max] (GraphQL accepts them; the domain must not). */
export const intOutside = (min: number, max: number) =>
  fc.oneof(
    fc.constantFrom(min - 1, max + 1, INT32_MIN, INT32_MAX, -1, 0).filter((n) => (n < min || n > max) && n >= INT32_MIN && n <= INT32_MAX),
    fc.integer({ min: INT32_MIN, max: INT32_MAX }).filter((n) => n < min || n > max),
  );

// ---------------------------------------------------------------- ids

/** Global id of `typename` for a random (so unknown) uuid, or malformed ones. */
export const unknownId = (typename: string) =>
  fc.oneof(
    fc.uuid().map((u) => encodeGlobalID(typename, u)),
    fc.uuid(),
    fc.constantFrom(
      '',
      ' ',
      'null',
      '0',
      '-1',
      '%%%',
      'not-base64!!',
      encodeGlobalID(typename, 'not-a-uuid'),
      encodeGlobalID('', ''),
      encodeGlobalID(typename, "' or 1=1 --"),
      encodeGlobalID(typename, '00000000-0000-0000-0000-000000000000'),
      Buffer.from(`${typename}:`).toString('base64'),
      'x'.repeat(600),
    ),
    fc.integer({ min: INT32_MIN, max: INT32_MAX }),
    anyText(20),
  );

// ---------------------------------------------------------------- enums and dates

export const unknownEnum = (values: readonly string[]) =>
  fc
    .oneof(
      fc.constantFrom('NOPE', '', 'null', ...values.map((v) => v.toLowerCase()), ...values.map((v) => ` ${v}`)),
      fc.stringMatching(/^[A-Z_]{1,12}$/),
    )
    .filter((s) => !values.includes(s));

export const futureDateTime = () =>
  fc
    .date({ min: new Date('2100-01-01T00:00:00Z'), max: new Date('2400-01-01T00:00:00Z'), noInvalidDate: true })
    .map((d) => d.toISOString());
/** Well-formed for the DateTime scalar, but in the past (the domain wants the future). */
export const pastDateTime = () =>
  fc.oneof(
    fc
      .date({ min: new Date('1970-01-01T00:00:00Z'), max: new Date('2020-01-01T00:00:00Z'), noInvalidDate: true })
      .map((d) => d.toISOString()),
    fc.constantFrom('2001-01-01T00:00:00+14:00', '1999-12-31T23:59:59.999999999Z'),
  );
/** What the DateTime scalar itself must refuse. */
export const malformedDateTime = () =>
  fc.constantFrom(
    '2030-01-01',
    'tomorrow',
    '2030-13-45T99:99:99Z',
    '2030-01-01T00:00:00',
    '',
    '9999999-01-01T00:00:00Z',
    '2030-02-30T00:00:00Z',
  );

// ---------------------------------------------------------------- shapes

export type Kind = 'String' | 'ID' | 'Int' | 'Float' | 'Boolean' | 'Enum' | 'Object' | 'DateTime' | 'List';

export interface Field {
  kind: Kind;
  /** Non-null in the schema. */
  required?: boolean;
  /** Semantically valid values. Object fields with a `shape` default to a valid record of it. */
  valid?: fc.Arbitrary<unknown>;
  /** Well-typed but semantically wrong values (typed mode). */
  bad?: fc.Arbitrary<unknown>;
  /** For Enum fields (and List of Enum). */
  values?: readonly string[];
  /** For Object fields (and List of Object). */
  shape?: Shape;
  /** For List fields: the item's kind. */
  of?: Kind;
  /** Whether a NUL / unpaired surrogate may be put in this (String) field in hostile mode. */
  text?: boolean;
}
export type Shape = Record<string, Field>;

const validOf = (f: Field): fc.Arbitrary<unknown> => {
  if (f.valid) return f.valid;
  if (f.kind === 'Object' && f.shape) return validRecord(f.shape);
  if (f.kind === 'Enum' && f.values) return fc.constantFrom(...f.values);
  if (f.kind === 'Boolean') return fc.boolean();
  throw new Error(`no valid arbitrary for a ${f.kind} field`);
};

/** A valid record: required fields always, optional ones half of the time. */
export function validRecord(shape: Shape): fc.Arbitrary<Record<string, unknown>> {
  const entries = Object.entries(shape);
  return fc.record(Object.fromEntries(entries.map(([k, f]) => [k, validOf(f)])), {
    requiredKeys: entries.filter(([, f]) => f.required).map(([k]) => k),
  }) as fc.Arbitrary<Record<string, unknown>>;
}

/** Typed mode: each field valid most of the time, else semantically bad, null or left out. */
export function typedRecord(shape: Shape): fc.Arbitrary<Record<string, unknown>> {
  const entries = Object.entries(shape);
  const perField = entries.map(([k, f]) => {
    const choices: fc.WeightedArbitrary<unknown>[] = [{ weight: 10, arbitrary: validOf(f) }];
    if (f.kind === 'Object' && f.shape) choices.push({ weight: 3, arbitrary: typedRecord(f.shape) });
    if (f.bad) choices.push({ weight: 3, arbitrary: f.bad });
    if (!f.required) {
      choices.push({ weight: 4, arbitrary: fc.constant(ABSENT) });
      choices.push({ weight: 1, arbitrary: fc.constant(null) });
    }
    return [k, fc.oneof(...choices)] as const;
  });
  const perturbed = fc.record(Object.fromEntries(perField)) as fc.Arbitrary<Record<string, unknown>>;
  return fc.oneof({ weight: 1, arbitrary: validRecord(shape) }, { weight: 3, arbitrary: perturbed });
}

/** A value of the wrong GraphQL type for a field of `kind` (variable coercion must refuse it). */
export function wrongType(f: Field): fc.Arbitrary<unknown> {
  const anyObject = fc.constantFrom<unknown>({}, { a: 1 }, { value: 'x' });
  switch (f.kind) {
    case 'String':
      return fc.oneof(fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.boolean(), anyObject, fc.constant(['a', 'b']));
    case 'ID':
      return fc.oneof(fc.boolean(), anyObject, fc.constantFrom<unknown>(1.5, -0.25, ['a', 'b'], [[]]));
    case 'Int':
      return fc.oneof(
        fc.constantFrom<unknown>(INT32_MAX + 1, INT32_MIN - 1, 2 ** 53, -(2 ** 53), 1e300, -1e300, 1.5, -0.5, '1', '', true),
        fc.double({ noNaN: true, noDefaultInfinity: true }).filter((n) => !Number.isInteger(n) || n > INT32_MAX || n < INT32_MIN),
      );
    case 'Float':
      return fc.constantFrom<unknown>('0.5', '', true, {}, [0.5, 0.6]);
    case 'Boolean':
      return fc.constantFrom<unknown>('true', 'false', 1, 0, '', {}, [true, false]);
    case 'Enum':
      return fc.oneof(unknownEnum(f.values ?? []), fc.constantFrom<unknown>(0, true, {}));
    case 'DateTime':
      return fc.oneof(malformedDateTime(), fc.constantFrom<unknown>(0, 1_700_000_000_000, true, {}));
    case 'Object':
      return fc.constantFrom<unknown>('object', 0, true, [1, 2]);
    case 'List': {
      const item: Field = { kind: f.of ?? 'String', values: f.values, shape: f.shape };
      return fc.oneof(
        fc.constantFrom<unknown>([null], {}, 7),
        wrongType(item).map((v) => [v]),
        item.kind === 'Object' ? fc.constant([{}]) : fc.constant([[1]]),
      );
    }
  }
}

/** One coercion-breaking change to a valid record of `shape` (recursing into object fields). */
function illTypedChange(shape: Shape): fc.Arbitrary<(r: Record<string, unknown>) => Record<string, unknown>> {
  const entries = Object.entries(shape);
  const changes: fc.Arbitrary<(r: Record<string, unknown>) => Record<string, unknown>>[] = [];
  for (const [k, f] of entries) {
    changes.push(wrongType(f).map((v) => (r) => ({ ...r, [k]: v })));
    if (f.required) {
      changes.push(fc.constant((r) => ({ ...r, [k]: null })));
      changes.push(fc.constant((r) => Object.fromEntries(Object.entries(r).filter(([key]) => key !== k))));
    }
    if (f.kind === 'Object' && f.shape) {
      const inner = f.shape;
      changes.push(
        fc.tuple(validRecord(inner), illTypedChange(inner)).map(([base, change]) => (r) => ({ ...r, [k]: change(base) })),
      );
    }
  }
  changes.push(
    fc
      .tuple(fc.stringMatching(/^[a-zA-Z_][a-zA-Z0-9_]{0,15}$/), fc.jsonValue({ maxDepth: 1 }))
      .filter(([name]) => !(name in shape))
      .map(([name, v]) => (r) => ({ ...r, [name]: v })),
  );
  return fc.oneof(...changes);
}

/** illTyped mode: a valid record with one or two coercion-breaking changes, or not an object. */
export function illTypedRecord(shape: Shape): fc.Arbitrary<unknown> {
  return fc.oneof(
    {
      weight: 8,
      arbitrary: fc
        .tuple(validRecord(shape), fc.array(illTypedChange(shape), { minLength: 1, maxLength: 2 }))
        .map(([r, cs]) => cs.reduce((acc, c) => c(acc), r)),
    },
    { weight: 1, arbitrary: fc.constantFrom<unknown>(ABSENT, null, 'input', 42, [], true) },
  );
}

/** hostile mode: a valid record with a NUL or unpaired surrogate in one text field. */
export function hostileRecord(shape: Shape): fc.Arbitrary<Record<string, unknown>> {
  const textFields = Object.entries(shape).filter(([, f]) => f.text);
  const nested = Object.entries(shape).filter(([, f]) => f.kind === 'Object' && f.shape && Object.values(f.shape).some((g) => g.text));
  const options: fc.Arbitrary<Record<string, unknown>>[] = [];
  if (textFields.length) {
    options.push(
      fc.tuple(validRecord(shape), fc.constantFrom(...textFields.map(([k]) => k)), hostileString()).map(([r, k, s]) => ({ ...r, [k]: s })),
    );
  }
  for (const [k, f] of nested) {
    options.push(fc.tuple(validRecord(shape), hostileRecord(f.shape!)).map(([r, inner]) => ({ ...r, [k]: inner })));
  }
  if (!options.length) throw new Error('hostile mode needs a text field');
  return fc.oneof(...options);
}

export function recordFor(shape: Shape, mode: Mode): fc.Arbitrary<unknown> {
  if (mode === 'typed') return typedRecord(shape);
  if (mode === 'hostile') return hostileRecord(shape);
  return illTypedRecord(shape);
}

/** For mutations whose one argument is an `ID!` (archiveEnvironment(id: ID!) ...). */
export function idArgument(valid: fc.Arbitrary<unknown>, bad: fc.Arbitrary<unknown>, mode: Mode): fc.Arbitrary<unknown> {
  if (mode === 'typed') return fc.oneof({ weight: 2, arbitrary: valid }, { weight: 3, arbitrary: bad });
  if (mode === 'hostile') return hostileString();
  return fc.oneof(wrongType({ kind: 'ID' }), fc.constantFrom<unknown>(ABSENT, null));
}

// ---------------------------------------------------------------- domain values

export const ROLES = ['VIEWER', 'DEVELOPER', 'QA', 'APPROVER', 'ADMIN'] as const;
export const validRoles = (minLength = 0) => fc.uniqueArray(fc.constantFrom(...ROLES), { minLength, maxLength: 5 });
export const badRoles = () => fc.constantFrom(['ADMIN', 'ADMIN'], ['QA', 'DEVELOPER', 'QA'], []);

export const validBranchPattern = () =>
  fc.oneof(fc.constantFrom('main', 'release/*', 'feature-*', '*'), fc.stringMatching(/^[A-Za-z0-9._/*-]{1,30}$/));
export const badBranchPattern = () => fc.oneof(fc.constantFrom('', 'has space', 'a?b', '[abc]', 'x'.repeat(201), 'ü'), hostileString());

export const validHttpUrl = () =>
  fc.oneof(fc.constantFrom('https://runbooks.example.com/prod', 'http://127.0.0.1:9/hook', 'https://[::1]:8443/x?y=1#z'), fc.webUrl());
export const badHttpUrl = () =>
  fc.constantFrom(
    '',
    'ftp://example.com',
    'https://user:pass@example.com/',
    'not a url',
    'https://',
    'javascript:alert(1)',
    `https://e.com/${'p'.repeat(2100)}`,
    '//example.com',
  );

export const validCron = () => fc.constantFrom('0 3 * * *', '*/5 * * * *', '0 0 1 1 *', '15 14 1 * 1-5', '0 22 * * 1-5');
export const badCron = () =>
  fc.constantFrom('', '* * * *', '60 * * * *', '* 24 * * *', 'every day', '0 3 * * * *', '*/0 * * * *', '0 3 32 * *');

export const validOrigin = () =>
  fc.oneof(
    fc.constantFrom('http://localhost:3000', 'https://app.example.com', 'capacitor://localhost', 'https://[::1]:8443'),
    fc
      .webUrl({ withQueryParameters: false, withFragments: false })
      .map((u) => new URL(u).origin)
      .filter((o) => o !== 'null'),
  );
export const badOrigin = () =>
  fc.constantFrom(
    '',
    'https://app.example.com/',
    'https://a.example.com/path',
    'localhost',
    'http://:80',
    'https://x:99999',
    'https://user@x.com',
  );

export const validHost = () => fc.oneof(fc.constantFrom('db.example.com', '10.0.0.1', '::1', 'my_service', 'localhost'), fc.domain());
export const badHost = () =>
  fc.constantFrom('', ' ', 'a..b', '-bad.example', '999.1.1.1', 'x'.repeat(254), 'has space', 'exa mple.com', '[::1]', 'ü.example');

export const validSha = () => fc.stringMatching(/^[0-9a-f]{7,40}$/);
export const badSha = () => fc.constantFrom('', 'abc', 'abcdef', 'g'.repeat(7), 'a'.repeat(41), '1234567 ', 'xyz1234', '0x12345');

export const validBranch = () =>
  fc.oneof(
    fc.constantFrom('main', 'feature/login', 'release-1.2', 'fix_bug'),
    fc.stringMatching(/^[a-z][a-z0-9/_-]{0,20}[a-z0-9]$/).filter((b) => !b.includes('//')),
  );
export const badBranch = () =>
  fc.constantFrom(
    '',
    '@',
    '-x',
    'a..b',
    'a b',
    'x.lock',
    'a//b',
    '/a',
    'a/',
    'a.',
    'a@{b',
    '.hidden',
    'a~1',
    'a^',
    'a:b',
    'a?',
    'a*',
    'a[',
    'a\\b',
    'x'.repeat(256),
  );
