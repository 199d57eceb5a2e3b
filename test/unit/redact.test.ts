import { describe, expect, it } from 'vitest';
import { redactInvalidValue } from '../../server/redact.ts';

describe('redacting coercion errors', () => {
  it.each([
    [
      'Variable "$i" got invalid value { secretId: "x", value: "sk_live_abc; }{ \\"quoted\\"" }; Field "environment" of required type "String!" was not provided.',
      'Variable "$i" got invalid value (value not shown); Field "environment" of required type "String!" was not provided.',
    ],
    [
      'Variable "$i" got invalid value "sk_live_x" at "i.value"; Expected type "Int".',
      'Variable "$i" got invalid value (value not shown) at "i.value"; Expected type "Int".',
    ],
    [
      'Variable "$n" got invalid value 12.5; Int cannot represent non-integer value: 12.5',
      'Variable "$n" got invalid value (value not shown); Int cannot represent non-integer value: (value not shown)',
    ],
    ['Cannot query field "x" on type "Query".', 'Cannot query field "x" on type "Query".'],
  ])('%s', (input, expected) => {
    expect(redactInvalidValue(input)).toBe(expected);
  });
});

describe('the scalar or enum reason after the variable', () => {
  it('does not repeat the value in "cannot represent" or "does not exist in enum" reasons', () => {
    expect(
      redactInvalidValue(
        'Variable "$i" got invalid value { secret: "sk_live_1" } at "i.name"; ID cannot represent value: { secret: "sk_live_1" }',
      ),
    ).toBe('Variable "$i" got invalid value (value not shown) at "i.name"; ID cannot represent value: (value not shown)');
    expect(
      redactInvalidValue(
        'Variable "$i" got invalid value ["sk_live_2"] at "i.name"; String cannot represent a non string value: ["sk_live_2"]',
      ),
    ).toBe('Variable "$i" got invalid value (value not shown) at "i.name"; String cannot represent a non string value: (value not shown)');
    expect(
      redactInvalidValue('Variable "$i" got invalid value "sk_live_3" at "i.roles[0]"; Value "sk_live_3" does not exist in "Role" enum.'),
    ).toBe('Variable "$i" got invalid value (value not shown) at "i.roles[0]"; Value (not shown) does not exist in "Role" enum.');
  });
});
