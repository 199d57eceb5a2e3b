// The one rule every text input meets: text that PostgreSQL can store and give back unchanged.
// PostgreSQL refuses the NUL character in `text` (SQLSTATE 22021) and in `jsonb` (22P05), and
// an unpaired UTF-16 surrogate cannot be encoded as UTF-8 at all (the driver would store U+FFFD,
// or jsonb refuses its \ud800 escape with 22P02). Such input is refused up front as
// BAD_USER_INPUT (domain/validation.ts) instead of failing in the database.
//
// Pure and dependency-free: the deployment workflow's update validators (deterministic code in
// Temporal's sandbox) use it too. Messages name the rule, never the input.

// With the u flag, \p{Cs} matches only unpaired surrogates (a pair is one code point).
const UNPAIRED_SURROGATE = /\p{Cs}/u;

export const NUL_MESSAGE = 'must not contain the NUL character (U+0000)';
export const UNPAIRED_SURROGATE_MESSAGE = 'must be well-formed Unicode (it has an unpaired surrogate)';

/** Why `value` cannot be stored as UTF-8, ignoring NUL (secret values keep it: they are encrypted), or null. */
export function unpairedSurrogateProblem(value: string): string | null {
  return UNPAIRED_SURROGATE.test(value) ? UNPAIRED_SURROGATE_MESSAGE : null;
}

/** Why `value` is not storable text (a NUL, an unpaired surrogate), or null when it is. */
export function textProblem(value: string): string | null {
  if (value.includes('\u0000')) return NUL_MESSAGE;
  return unpairedSurrogateProblem(value);
}

/** Whether `value` is storable text: no NUL and no unpaired surrogate. */
export const isStorableText = (value: string): boolean => textProblem(value) === null;

/**
 * `value` made storable: each NUL and unpaired surrogate becomes U+FFFD. For text that reaches a
 * workflow from outside (a deploy target's report) and is stored later, where refusing is too late.
 */
export const toStorableText = (value: string): string => value.replace(/\u0000|\p{Cs}/gu, '\uFFFD');
