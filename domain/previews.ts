// Preview environments (v2): the pure rules. A push to a branch matching the project's preview
// policy makes a CUSTOM FEATURE_BRANCH environment for that branch; these say its slug, its
// policy and when it expires. No I/O: services/previews.ts loads and writes.
import type { DeployPolicy } from './types.ts';

/** setPreviewPolicy's ttlHours: at least an hour, at most 30 days (ours: the contract is silent). */
export const PREVIEW_TTL_HOURS = { min: 1, max: 720, default: 72 } as const;
export const PREVIEW_COPY_SETTINGS_FROM_DEFAULT = 'development';

/** The v1 slug rule, `^[a-z][a-z0-9-]{1,38}$`: 2 to 39 characters. */
export const SLUG_MAX = 39;
const SLUG_RE = /^[a-z][a-z0-9-]{1,38}$/;
/** What a branch whose name does not start with a letter gets in front (`2024-fix` -> `b-2024-fix`). */
export const SLUG_LETTER_PREFIX = 'b-';
/** A branch with no letter or digit at all (`_`, `--`). */
export const SLUG_FALLBACK = 'preview';

export const isSlug = (s: string) => SLUG_RE.test(s);

/** Trims to `max` characters and drops the `-` that a cut may leave at the end. */
const cut = (s: string, max: number) => s.slice(0, max).replace(/-+$/, '');

/**
 * The slug a branch's preview starts from: lower case, every run of other characters one `-`,
 * no `-` at either end, a letter first (SLUG_LETTER_PREFIX), at least two characters, at most
 * SLUG_MAX. Always matches the slug rule. Different branches may share it (`feature/Login`,
 * `feature-login`); previewSlugCandidate adds the suffix that tells them apart.
 */
export function previewBaseSlug(branch: string): string {
  let s = branch
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
  if (s === '') s = SLUG_FALLBACK;
  if (!/^[a-z]/.test(s)) s = SLUG_LETTER_PREFIX + s;
  s = cut(s, SLUG_MAX);
  if (s.length < 2) s = `${s}-${SLUG_FALLBACK}`;
  return s;
}

/**
 * The n-th candidate for a preview's slug: n = 1 the base itself, n >= 2 the base (cut to make
 * room) with `-n`. Every candidate matches the slug rule, and candidates of one base are distinct.
 */
export function previewSlugCandidate(base: string, n: number): string {
  if (n <= 1) return base;
  const suffix = `-${n}`;
  return `${cut(base, SLUG_MAX - suffix.length)}${suffix}`;
}

/**
 * The first candidate not in `taken` (every slug of the project, archived environments
 * included: an archived preview's slug is never given to another environment).
 */
export function uniquePreviewSlug(branch: string, taken: ReadonlySet<string>): string {
  const base = previewBaseSlug(branch);
  for (let n = 1; ; n++) {
    const candidate = previewSlugCandidate(base, n);
    if (!taken.has(candidate)) return candidate;
  }
}

/**
 * The preview's policy: its source's, deploying on every push of exactly its branch. The branch
 * is stored literally as branchPattern: branch names are git branch names (GitBranchSchema),
 * which cannot hold any glob character (`*`, `?`, `[`, `\`), so the glob matches that branch and
 * no other.
 */
export function previewPolicyFrom(source: DeployPolicy, branch: string): DeployPolicy {
  if (/[*?[\\]/.test(branch)) throw new Error('a preview branch cannot hold glob characters');
  return { ...source, trigger: 'AUTO_ON_PUSH', branchPattern: branch };
}

/** The preview's name (environment names are at most 200 characters). */
export const previewName = (branch: string) => `Preview ${branch}`.slice(0, 200);

/** When a preview pushed at `now` expires. `hourMs` is an hour, shorter only in tests (PREVIEW_HOUR_SECONDS). */
export const previewExpiry = (now: Date, ttlHours: number, hourMs = 3_600_000) => new Date(now.getTime() + ttlHours * hourMs);
