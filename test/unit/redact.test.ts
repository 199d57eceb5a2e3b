import { describe, expect, it } from 'vitest';
import { redactInvalidValue } from '../../server/redact.ts';

describe('redacting coercion errors', () => {
  it.each([
    [
      'Variable "$i" got invalid value { secretId: "x", value: "sk_live_abc; }{ \\"quoted\\"" }; Field "environment" of required type "String!" was not provided.',
      'Variable "$i" got invalid value (value not shown); Field "environment" of required type "String!" was not provided.',
    ],
    ['Variable "$i" got invalid value "sk_live_x" at "i.value"; Expected type "Int".', 'Variable "$i" got invalid value (value not shown) at "i.value"; Expected type "Int".'],
    ['Variable "$n" got invalid value 12.5; Int cannot represent non-integer value: 12.5', 'Variable "$n" got invalid value (value not shown); Int cannot represent non-integer value: 12.5'],
    ['Cannot query field "x" on type "Query".', 'Cannot query field "x" on type "Query".'],
  ])('%s', (input, expected) => {
    expect(redactInvalidValue(input)).toBe(expected);
  });
});
