// The pure rules of preview environments: slugs from branch names, their uniqueness, the policy.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  isSlug,
  PREVIEW_TTL_HOURS,
  previewBaseSlug,
  previewExpiry,
  previewPolicyFrom,
  previewSlugCandidate,
  SLUG_MAX,
  uniquePreviewSlug,
} from '../../domain/previews.ts';
import { branchMatches } from '../../domain/releases.ts';
import { defaultPolicy } from '../../domain/defaults.ts';
import { gitBranchProblem, parseInput, SetPreviewPolicyInputSchema } from '../../domain/validation.ts';

// Branch-like text: path segments of letters (both cases), digits and punctuation git allows.
const branchChar = fc.constantFrom(...'abcXYZ019-_./+#@=,'.split(''));
const branch = fc
  .array(fc.string({ unit: branchChar, minLength: 1, maxLength: 30 }), { minLength: 1, maxLength: 4 })
  .map((parts) => parts.join('/'))
  .filter((b) => gitBranchProblem(b) === null);
const anyText = fc.string({ minLength: 1, maxLength: 300 });

describe('previewBaseSlug', () => {
  it('turns branches into slugs as the contract says', () => {
    expect(previewBaseSlug('feature/Login')).toBe('feature-login');
    expect(previewBaseSlug('feature-login')).toBe('feature-login');
    expect(previewBaseSlug('Feature//__Login--Page!')).toBe('feature-login-page');
    expect(previewBaseSlug('2024-hotfix')).toBe('b-2024-hotfix');
    expect(previewBaseSlug('x')).toBe('x-preview');
    expect(previewBaseSlug('___')).toBe('preview');
    expect(previewBaseSlug('ünïcode/ß')).toBe('n-code');
    expect(previewBaseSlug(`feature/${'a'.repeat(50)}`)).toBe(`feature-${'a'.repeat(31)}`);
    // A cut never leaves a trailing '-'.
    expect(previewBaseSlug(`${'a'.repeat(38)}/b`)).toBe('a'.repeat(38));
  });

  it('always gives a slug matching ^[a-z][a-z0-9-]{1,38}$, with no "--" and no "-" at the end', () => {
    fc.assert(
      fc.property(fc.oneof(branch, anyText), (b) => {
        const s = previewBaseSlug(b);
        expect(isSlug(s)).toBe(true);
        expect(s.length).toBeLessThanOrEqual(SLUG_MAX);
        expect(s).not.toMatch(/--|-$/);
      }),
    );
  });

  it('is the same for branches that differ only in case or in which punctuation separates words', () => {
    fc.assert(
      fc.property(branch, (b) => {
        expect(previewBaseSlug(b.toUpperCase())).toBe(previewBaseSlug(b));
        expect(previewBaseSlug(b.replace(/\//g, '-'))).toBe(previewBaseSlug(b));
      }),
    );
  });
});

describe('uniquePreviewSlug', () => {
  it('adds a suffix rather than collide: feature/Login and feature-login get two slugs', () => {
    const taken = new Set<string>();
    const a = uniquePreviewSlug('feature/Login', taken);
    taken.add(a);
    const b = uniquePreviewSlug('feature-login', taken);
    expect([a, b]).toEqual(['feature-login', 'feature-login-2']);
  });

  it('never answers a taken slug, and always a valid one, even for long names and many collisions', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(branch, anyText), { minLength: 1, maxLength: 40 }), (branches) => {
        const taken = new Set<string>(['development', 'staging', 'production']);
        for (const b of branches) {
          const s = uniquePreviewSlug(b, taken);
          expect(taken.has(s)).toBe(false);
          expect(isSlug(s)).toBe(true);
          taken.add(s);
        }
      }),
    );
  });

  it('suffixes fit within 39 characters', () => {
    const base = previewBaseSlug(`feature/${'z'.repeat(80)}`);
    expect(base).toHaveLength(SLUG_MAX);
    for (const n of [2, 10, 100, 12345]) {
      const c = previewSlugCandidate(base, n);
      expect(isSlug(c)).toBe(true);
      expect(c.endsWith(`-${n}`)).toBe(true);
    }
  });
});

describe('previewPolicyFrom', () => {
  it("keeps the source's roles and approvals, deploys on push of exactly that branch", () => {
    const source = { ...defaultPolicy('STAGING'), requiredApprovals: 2, waitTimerSeconds: 30 };
    const p = previewPolicyFrom(source, 'feature/a.b+c');
    expect(p).toEqual({ ...source, trigger: 'AUTO_ON_PUSH', branchPattern: 'feature/a.b+c' });
  });

  it('matches its own branch and no other: git branch names hold no glob character', () => {
    fc.assert(
      fc.property(branch, branch, (a, b) => {
        const { branchPattern } = previewPolicyFrom(defaultPolicy('DEVELOPMENT'), a);
        expect(branchMatches(branchPattern!, a)).toBe(true);
        expect(branchMatches(branchPattern!, b)).toBe(a === b);
      }),
    );
  });

  it('refuses a branch with glob characters (never reached: GitBranchSchema refuses them first)', () => {
    for (const b of ['feature/*', 'a?b', 'x[1]']) {
      expect(gitBranchProblem(b)).not.toBeNull();
      expect(() => previewPolicyFrom(defaultPolicy('DEVELOPMENT'), b)).toThrow();
    }
  });
});

describe('ttl', () => {
  it('expires ttlHours after the push, an hour being PREVIEW_HOUR_SECONDS in tests', () => {
    const now = new Date('2026-12-01T00:00:00Z');
    expect(previewExpiry(now, 72).toISOString()).toBe('2026-12-04T00:00:00.000Z');
    expect(previewExpiry(now, 2, 4000).toISOString()).toBe('2026-12-01T00:00:08.000Z');
  });

  it('SetPreviewPolicyInput defaults copySettingsFrom and ttlHours and bounds ttlHours', () => {
    expect(parseInput(SetPreviewPolicyInputSchema, { projectId: 'p', enabled: true, branchPattern: 'feature/*' }, 'input')).toEqual({
      projectId: 'p',
      enabled: true,
      branchPattern: 'feature/*',
      copySettingsFrom: 'development',
      ttlHours: PREVIEW_TTL_HOURS.default,
    });
    for (const ttlHours of [0, PREVIEW_TTL_HOURS.max + 1, 2.5]) {
      expect(() =>
        parseInput(SetPreviewPolicyInputSchema, { projectId: 'p', enabled: true, branchPattern: 'f/*', ttlHours }, 'input'),
      ).toThrow(/input\.ttlHours/);
    }
    expect(() => parseInput(SetPreviewPolicyInputSchema, { projectId: 'p', enabled: true, branchPattern: '' }, 'input')).toThrow(
      /input\.branchPattern/,
    );
  });
});
