// The one text rule (domain/text.ts): no NUL, no unpaired surrogate, in every string input of
// every mutation (domain/validation.ts), refused as BAD_USER_INPUT naming the field; and the
// database-side safety nets (db/errors.ts translateDatabaseError).
import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { isDataException, sqlStateOf, translateDatabaseError } from '../../db/errors.ts';
import { AppError } from '../../domain/errors.ts';
import { NUL_MESSAGE, textProblem, toStorableText, UNPAIRED_SURROGATE_MESSAGE } from '../../domain/text.ts';
import {
  CreateApiTokenInputSchema,
  SetPreviewPolicyInputSchema,
  CreateDatabaseConnectionInputSchema,
  CreateEnvironmentInputSchema,
  CreateProjectInputSchema,
  CreateSecretInputSchema,
  DecisionInputSchema,
  parseInput,
  RecordPushInputSchema,
  ReportDeploymentStatusInputSchema,
  SecretValueRefSchema,
  SetDatabaseConnectionValueInputSchema,
  SetSecretValueInputSchema,
  UpdateEnvironmentInputSchema,
  UpdateEnvironmentSettingsInputSchema,
  UpdateSecretInputSchema,
} from '../../domain/validation.ts';

const HOSTILE: [label: string, value: string, message: string][] = [
  ['a NUL', 'a\u0000b', NUL_MESSAGE],
  ['a leading NUL', '\u0000abc', NUL_MESSAGE],
  ['only NULs', '\u0000\u0000', NUL_MESSAGE],
  ['a lone high surrogate', 'a\ud800', UNPAIRED_SURROGATE_MESSAGE],
  ['a lone low surrogate', '\udfffabc', UNPAIRED_SURROGATE_MESSAGE],
  ['surrogates in the wrong order', 'x\udc00\ud800y', UNPAIRED_SURROGATE_MESSAGE],
];

describe('textProblem', () => {
  it.each(HOSTILE)('refuses %s', (_label, value, message) => {
    expect(textProblem(value)).toBe(message);
  });

  it.each([
    ['empty text', ''],
    ['a surrogate pair (emoji)', '🚀 👨‍👩‍👧‍👦'],
    ['other control characters', '\u0001\u001f\t\n\r'],
    ['U+FFFD and U+FEFF', '\uFFFD\uFEFF'],
    ['right-to-left override', '\u202Eevil'],
    ['combining marks', 'e\u0301\u0301'],
  ])('accepts %s', (_label, value) => {
    expect(textProblem(value)).toBeNull();
  });

  it('never quotes the input', () => {
    expect(textProblem('sk_live_secret\u0000')).not.toContain('sk_live');
  });
});

describe('toStorableText', () => {
  it('replaces each NUL and unpaired surrogate with U+FFFD, keeping pairs', () => {
    expect(toStorableText('a\u0000b\ud800c\udfff🚀')).toBe('a\uFFFDb\uFFFDc\uFFFD🚀');
    expect(textProblem(toStorableText('\udc00\ud800\u0000'))).toBeNull();
    expect(toStorableText('plain ü')).toBe('plain ü');
  });
});

/** Sets `value` at `path` in a deep copy of `base`. */
function withValue(base: Record<string, unknown>, path: (string | number)[], value: unknown): Record<string, unknown> {
  const copy = structuredClone(base);
  let node: Record<string | number, unknown> = copy;
  path.slice(0, -1).forEach((key, i) => {
    node[key] ??= typeof path[i + 1] === 'number' ? [] : {};
    node = node[key] as Record<string | number, unknown>;
  });
  node[path.at(-1)!] = value;
  return copy;
}

const pathText = (path: (string | number)[]) =>
  path.reduce<string>((out, k) => (typeof k === 'number' ? `${out}[${k}]` : `${out}.${k}`), 'input');

/** Every string field of every mutation input, over a valid base input. */
const TEXT_FIELDS: [schema: z.ZodType, base: Record<string, unknown>, paths: (string | number)[][]][] = [
  [CreateProjectInputSchema, { slug: 'shop', name: 'Shop' }, [['slug'], ['name']]],
  [
    CreateEnvironmentInputSchema,
    { projectId: 'p1', slug: 'qa', name: 'QA', type: 'CUSTOM' },
    [['projectId'], ['slug'], ['name'], ['promotesFrom'], ['region'], ['copySettingsFrom'], ['policy', 'branchPattern']],
  ],
  [
    CreateEnvironmentInputSchema,
    { projectId: 'p1', slug: 'qa', name: 'QA', type: 'CUSTOM', deployTarget: { provider: 'WEBHOOK', url: 'https://hooks.example.com/x' } },
    [['deployTarget', 'url']],
  ],
  [UpdateEnvironmentInputSchema, { id: 'e1' }, [['id'], ['name'], ['promotesFrom'], ['region']]],
  [
    UpdateEnvironmentSettingsInputSchema,
    { environmentId: 'e1', patch: {} },
    [['environmentId'], ['patch', 'corsOrigins', 0], ['patch', 'backupSchedule'], ['patch', 'runbookUrl']],
  ],
  [
    UpdateEnvironmentSettingsInputSchema,
    { environmentId: 'e1', patch: { featureFlags: [{ key: 'ok', enabled: true }] } },
    [['patch', 'featureFlags', 0, 'key']],
  ],
  [CreateDatabaseConnectionInputSchema, { projectId: 'p1', name: 'main' }, [['projectId'], ['name']]],
  [
    SetDatabaseConnectionValueInputSchema,
    { connectionId: 'c1', environment: 'development', host: 'db.internal', database: 'shop' },
    [['connectionId'], ['environment'], ['host'], ['database'], ['user'], ['passwordSecret']],
  ],
  [CreateSecretInputSchema, { projectId: 'p1', name: 'API_KEY' }, [['projectId'], ['name'], ['description']]],
  [UpdateSecretInputSchema, { id: 's1' }, [['id'], ['description']]],
  [SetSecretValueInputSchema, { secretId: 's1', environment: 'development', value: 'v' }, [['secretId'], ['environment']]],
  [SecretValueRefSchema, { secretId: 's1', environment: 'development' }, [['secretId'], ['environment']]],
  [
    RecordPushInputSchema,
    { projectId: 'p1', branch: 'main', commitSha: 'abcdef1' },
    [['projectId'], ['branch'], ['commitSha'], ['message'], ['author'], ['version']],
  ],
  [DecisionInputSchema, { deploymentId: 'd1' }, [['deploymentId'], ['comment']]],
  [ReportDeploymentStatusInputSchema, { deploymentId: 'd1', status: 'RUNNING' }, [['deploymentId'], ['step'], ['message']]],
  [CreateApiTokenInputSchema, { name: 'ci', roles: ['QA'] }, [['name']]],
  [
    SetPreviewPolicyInputSchema,
    { projectId: 'p1', enabled: true, branchPattern: 'feature/*' },
    [['projectId'], ['branchPattern'], ['copySettingsFrom']],
  ],
];

describe('every text field of every mutation input refuses a NUL and an unpaired surrogate', () => {
  for (const [schema, base, paths] of TEXT_FIELDS) {
    it(`accepts the base input ${JSON.stringify(base)}`, () => {
      expect(() => parseInput(schema, base, 'input')).not.toThrow();
    });
    for (const path of paths) {
      const field = pathText(path);
      it.each(HOSTILE)(`${field}: refuses %s, naming the field`, (_label, value, message) => {
        let caught: unknown;
        try {
          parseInput(schema, withValue(base, path, value), 'input');
        } catch (error) {
          caught = error;
        }
        expect(caught, `${field} accepted ${JSON.stringify(value)}`).toBeInstanceOf(AppError);
        const error = caught as AppError;
        expect(error.code).toBe('BAD_USER_INPUT');
        expect(error.extensions.field).toBe(field);
        // The text rule is the one reported, not a pattern the character happens to break.
        expect(error.message).toBe(`${field}: ${message}`);
      });
    }
  }

  it('keeps free text that is merely unusual', () => {
    const parsed = parseInput(
      RecordPushInputSchema,
      { projectId: 'p1', branch: 'main', commitSha: 'abcdef1', message: 'fix: 🚀\tü\u0001', author: 'Zoë 👩‍💻' },
      'input',
    );
    expect(parsed.message).toBe('fix: 🚀\tü\u0001');
    expect(parsed.author).toBe('Zoë 👩‍💻');
  });
});

describe('SetSecretValueInput.value', () => {
  const base = { secretId: 's1', environment: 'development' };
  it('refuses an unpaired surrogate (it would not come back byte for byte), without quoting the value', () => {
    expect(() => parseInput(SetSecretValueInputSchema, { ...base, value: 'sk_live_\ud800' }, 'input')).toThrow(
      expect.objectContaining({
        message: `input.value: ${UNPAIRED_SURROGATE_MESSAGE}`,
        extensions: { code: 'BAD_USER_INPUT', field: 'input.value' },
      }),
    );
  });
  it('keeps a NUL: the value is stored encrypted, byte for byte', () => {
    expect(parseInput(SetSecretValueInputSchema, { ...base, value: 'a\u0000b' }, 'input').value).toBe('a\u0000b');
  });
});

describe('data exceptions from PostgreSQL', () => {
  const pgError = (code: string) => Object.assign(new Error('invalid byte sequence for encoding "UTF8": 0x00'), { code });
  const wrapped = (code: string) => Object.assign(new Error('Failed query: insert into ... params: secret'), { cause: pgError(code) });

  it.each(['22021', '22P05', '22P02', '22001', '22003', '22007'])(
    'translateDatabaseError maps %s to BAD_USER_INPUT without the driver message',
    (code) => {
      const out = translateDatabaseError(wrapped(code));
      expect(out).toBeInstanceOf(AppError);
      expect((out as AppError).code).toBe('BAD_USER_INPUT');
      expect((out as AppError).message).toContain(code);
      expect((out as AppError).message).not.toContain('params');
    },
  );

  it('keeps the other mappings, and leaves other errors alone', () => {
    expect((translateDatabaseError(Object.assign(pgError('23505'), { constraint: 'x' })) as AppError).code).toBe('CONFLICT');
    const other = pgError('57P01');
    expect(translateDatabaseError(other)).toBe(other);
    const plain = new Error('boom');
    expect(translateDatabaseError(plain)).toBe(plain);
  });

  it('isDataException and sqlStateOf look through causes', () => {
    expect(sqlStateOf(wrapped('22021'))).toBe('22021');
    expect(isDataException(wrapped('22P05'))).toBe(true);
    expect(isDataException(pgError('23505'))).toBe(false);
    expect(isDataException(new Error('x'))).toBe(false);
  });
});
