// Freeze windows: when deployments into an environment may not start. Pure rules: which
// environments a window covers, its occurrences (one-off, or an RFC 5545 RRULE in an IANA time
// zone), the occurrence in force at an instant and the next one, and what a valid window is.
//
// Recurrences are expanded by the `rrule` library, in *floating* wall-clock time: its dates carry
// the local time of `timeZone` in their UTC fields, and each occurrence is turned into a real
// instant here with Intl (wallClockToInstant). rrule's own TZID support is not used: it converts
// through the process's local time zone, so "16:00 Europe/Berlin" came out right only when the
// process ran in UTC (with TZ=America/New_York it answered 10:00Z). In wall-clock time "every
// Friday 16:00" stays 16:00 local on both sides of a daylight-saving change.
//
// Every expansion is bounded: look-back by the occurrence's duration, look-ahead at most
// LOOK_AHEAD_DAYS, and only frequencies of an hour or longer (MINUTELY/SECONDLY are refused).
import rrule from 'rrule';
import type { EnvironmentType } from './types.ts';

const { RRule } = rrule;
type RRuleOptions = NonNullable<ConstructorParameters<typeof RRule>[0]>;

/** The bounds of an occurrence: at least one minute for recurring windows (minutes are their unit), at most 31 days. */
export const MIN_DURATION_MINUTES = 1;
export const MAX_DURATION_MINUTES = 31 * 24 * 60;
/** A one-off window lasts at least a second (so a test or a drill can use a short one) and at most 31 days. */
export const MIN_ONE_OFF_MS = 1000;
export const MAX_ONE_OFF_MS = MAX_DURATION_MINUTES * 60_000;
/** How far ahead a next occurrence is looked for; a rule must occur within it of startsAt to be accepted. */
export const LOOK_AHEAD_DAYS = 8 * 366; // a leap-day rule (Feb 29) occurs at least once in 8 years
const DAY_MS = 86_400_000;
/** The frequencies a window may recur at: anything finer would expand into too many occurrences to evaluate. */
const ALLOWED_FREQUENCIES = new Map<number, string>([
  [RRule.YEARLY, 'YEARLY'],
  [RRule.MONTHLY, 'MONTHLY'],
  [RRule.WEEKLY, 'WEEKLY'],
  [RRule.DAILY, 'DAILY'],
  [RRule.HOURLY, 'HOURLY'],
]);

/** What the rules need of a stored window. */
export interface FreezeWindowRule {
  id: string;
  name: string;
  reason: string;
  environmentSlugs: readonly string[];
  environmentTypes: readonly EnvironmentType[];
  startsAt: Date;
  endsAt: Date | null;
  recurrence: string | null;
  durationMinutes: number | null;
  timeZone: string;
  allowRollback: boolean;
}

export interface FreezeOccurrence {
  startsAt: Date;
  endsAt: Date;
}

// ---------------------------------------------------------------- scope

/** Glob of environment slugs: `*` any run of characters, `?` one. */
export function slugMatches(pattern: string, slug: string): boolean {
  const re = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${re}$`).test(slug);
}

/** Whether the window covers the environment: empty slugs and types cover every one; else a match of either list. */
export function windowCovers(
  window: Pick<FreezeWindowRule, 'environmentSlugs' | 'environmentTypes'>,
  env: { slug: string; type: EnvironmentType },
) {
  if (window.environmentSlugs.length === 0 && window.environmentTypes.length === 0) return true;
  return window.environmentTypes.includes(env.type) || window.environmentSlugs.some((p) => slugMatches(p, env.slug));
}

// ---------------------------------------------------------------- time zones

const formatters = new Map<string, Intl.DateTimeFormat>();
function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

/** Whether Intl knows the IANA zone (or UTC). */
export function isKnownTimeZone(timeZone: string): boolean {
  if (!/^[A-Za-z][A-Za-z0-9_+\-/]*$/.test(timeZone)) return false;
  try {
    formatterFor(timeZone);
    return true;
  } catch {
    return false;
  }
}

/** The wall-clock time of `instantMs` in `timeZone`, as epoch ms of the same fields in UTC ("floating"). */
export function instantToWallClock(instantMs: number, timeZone: string): number {
  const parts: Record<string, number> = {};
  for (const p of formatterFor(timeZone).formatToParts(new Date(instantMs))) {
    if (p.type !== 'literal') parts[p.type] = Number(p.value);
  }
  const seconds = Math.floor(instantMs / 1000) * 1000;
  const wall = Date.UTC(parts.year!, parts.month! - 1, parts.day!, parts.hour!, parts.minute!, parts.second!);
  return wall + (instantMs - seconds);
}

const offsetAt = (instantMs: number, timeZone: string) => instantToWallClock(instantMs, timeZone) - instantMs;

/**
 * The instant whose wall-clock time in `timeZone` is `wallMs` (floating). As RFC 5545 says for
 * DTSTART with TZID: a time that happens twice (the hour repeated when clocks go back) is its
 * first one; a time that never happens (the hour skipped when clocks go forward) is read with the
 * offset before the gap, i.e. it moves forward by the gap (02:30 becomes 03:30).
 */
export function wallClockToInstant(wallMs: number, timeZone: string): number {
  const before = offsetAt(wallMs - DAY_MS / 2, timeZone);
  const after = offsetAt(wallMs + DAY_MS / 2, timeZone);
  const candidates = [wallMs - before, wallMs - after].filter((t) => instantToWallClock(t, timeZone) === wallMs);
  if (candidates.length > 0) return Math.min(...candidates);
  return wallMs - before;
}

// ---------------------------------------------------------------- recurrence

export class FreezeRuleError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

const inRange = (values: number | number[] | null | undefined, min: number, max: number, zeroAllowed = true) =>
  values === null ||
  values === undefined ||
  (Array.isArray(values) ? values : [values]).every((v) => Number.isInteger(v) && v >= min && v <= max && (zeroAllowed || v !== 0));

/**
 * Parses an RRULE (with or without the `RRULE:` prefix) into rrule options, refusing what the
 * library would accept silently but cannot mean anything (FREQ=FOO, BYDAY=XX, BYHOUR=25), what
 * belongs to other fields (DTSTART, TZID: startsAt and timeZone), and frequencies finer than hourly.
 * UNTIL: a UTC time (with Z) is turned into the zone's wall-clock time; a floating one is local already.
 */
export function parseRecurrence(recurrence: string, timeZone: string): Partial<RRuleOptions> {
  const text = recurrence.trim().replace(/^RRULE:/i, '');
  const bad = (message: string) => new FreezeRuleError('recurrence', message);
  if (text.length === 0) throw bad('must not be blank');
  if (/[\r\n]/.test(text)) throw bad('must be a single RRULE line (no EXDATE, RDATE or DTSTART lines)');
  if (/(^|;)\s*(DTSTART|TZID)\s*=/i.test(text)) throw bad('must not contain DTSTART or TZID: use startsAt and timeZone');
  let options: Partial<RRuleOptions>;
  try {
    options = RRule.parseString(text);
  } catch (error) {
    throw bad(`is not a valid RRULE: ${(error as Error).message}`);
  }
  if (options.freq === undefined || options.freq === null) throw bad('is not a valid RRULE: FREQ is missing or unknown');
  if (!ALLOWED_FREQUENCIES.has(options.freq)) {
    throw bad('recurs too often: FREQ must be YEARLY, MONTHLY, WEEKLY, DAILY or HOURLY (MINUTELY and SECONDLY are refused)');
  }
  const weekdays = options.byweekday;
  if (weekdays !== undefined && weekdays !== null && (Array.isArray(weekdays) ? weekdays : [weekdays]).some((d) => d === undefined)) {
    throw bad('is not a valid RRULE: BYDAY names an unknown weekday');
  }
  const checks: [unknown, boolean, string][] = [
    [options.interval, inRange(options.interval, 1, 1000), 'INTERVAL must be between 1 and 1000'],
    [options.count, inRange(options.count, 1, 10_000), 'COUNT must be between 1 and 10000'],
    [options.byhour, inRange(options.byhour as number[], 0, 23), 'BYHOUR must be between 0 and 23'],
    [options.byminute, inRange(options.byminute as number[], 0, 59), 'BYMINUTE must be between 0 and 59'],
    [options.bysecond, inRange(options.bysecond as number[], 0, 59), 'BYSECOND must be between 0 and 59'],
    [options.bymonth, inRange(options.bymonth as number[], 1, 12), 'BYMONTH must be between 1 and 12'],
    [options.bymonthday, inRange(options.bymonthday as number[], -31, 31, false), 'BYMONTHDAY must be between -31 and 31, not 0'],
    [options.byyearday, inRange(options.byyearday as number[], -366, 366, false), 'BYYEARDAY must be between -366 and 366, not 0'],
    [options.byweekno, inRange(options.byweekno as number[], -53, 53, false), 'BYWEEKNO must be between -53 and 53, not 0'],
    [options.bysetpos, inRange(options.bysetpos as number[], -366, 366, false), 'BYSETPOS must be between -366 and 366, not 0'],
  ];
  for (const [, ok, message] of checks) if (!ok) throw bad(`is not a valid RRULE: ${message}`);
  // rrule checks its bounds (UNTIL, the end of a search) only on dates that pass the BY* filters:
  // an hourly rule whose filters never match would walk hour by hour to the year 9999. Hourly
  // rules take no filter but BYMINUTE and BYSECOND (DAILY with a BYHOUR list says the rest).
  if (options.freq === RRule.HOURLY) {
    const filters = ['byhour', 'byweekday', 'bymonth', 'bymonthday', 'byyearday', 'byweekno', 'bysetpos'] as const;
    const used = filters.filter((f) => {
      const v = options[f];
      return v !== undefined && v !== null && (!Array.isArray(v) || v.length > 0);
    });
    if (used.length > 0)
      throw bad('FREQ=HOURLY takes only INTERVAL, COUNT, UNTIL, BYMINUTE and BYSECOND (use FREQ=DAILY with BYHOUR for hours of a day)');
  }
  if (options.until) {
    const untilText = /(?:^|;)\s*UNTIL=([0-9TZ]+)/i.exec(text)?.[1] ?? '';
    if (untilText.toUpperCase().endsWith('Z')) options.until = new Date(instantToWallClock(options.until.getTime(), timeZone));
  }
  return options;
}

/** Whole periods of HOURLY, DAILY and WEEKLY rules, in floating ms (wall-clock time has no DST). */
const PERIOD_MS = new Map<number, number>([
  [RRule.HOURLY, 3_600_000],
  [RRule.DAILY, DAY_MS],
  [RRule.WEEKLY, 7 * DAY_MS],
]);

/**
 * The rrule in floating wall-clock time, starting at startsAt's local time. rrule walks every
 * occurrence from its dtstart, so for a rule without COUNT whose period is fixed (HOURLY, DAILY,
 * WEEKLY) dtstart is moved forward by whole periods (INTERVAL included) to just before `fromWall`:
 * the same occurrences, without walking years of hourly ones. Time of day and weekday defaults
 * come from dtstart and are kept by such a move; COUNT counts from the real start, so it is not moved.
 */
function ruleOf(window: Pick<FreezeWindowRule, 'recurrence' | 'timeZone' | 'startsAt'>, fromWall?: number) {
  const options = parseRecurrence(window.recurrence!, window.timeZone);
  let dtstart = instantToWallClock(window.startsAt.getTime(), window.timeZone);
  const unit = PERIOD_MS.get(options.freq!);
  if (unit && fromWall !== undefined && !options.count) {
    const period = unit * (options.interval ?? 1);
    const periods = Math.floor((fromWall - dtstart) / period) - 1;
    if (periods > 0) dtstart += periods * period;
  }
  return new RRule({ ...options, dtstart: new Date(dtstart) });
}

/**
 * Whether the rule occurs within LOOK_AHEAD_DAYS of its start, in bounded time. A rule whose
 * filters never match (30 February) would make rrule walk to the year 9999 (see parseRecurrence),
 * so the search runs on the same rule moved forward by whole 400-year Gregorian cycles (weekdays,
 * month lengths and leap years repeat exactly) to end just before 9999: an impossible rule then
 * walks at most ~400 years of its periods instead of ~8000. (COUNT and UNTIL are left out: they
 * only shorten the rule; an UNTIL before the first occurrence is simply a window that never recurs.)
 */
function occursWithinLookAhead(options: Partial<RRuleOptions>, dtstartWall: number): boolean {
  const start = new Date(dtstartWall);
  const cycles = Math.floor((9999 - 9 - start.getUTCFullYear()) / 400);
  const moved = new Date(start);
  moved.setUTCFullYear(start.getUTCFullYear() + 400 * Math.max(0, cycles));
  const { count: _count, until: _until, ...rest } = options;
  const rule = new RRule({ ...rest, dtstart: moved });
  let found = false;
  rule.between(moved, new Date(moved.getTime() + LOOK_AHEAD_DAYS * DAY_MS), true, () => {
    found = true;
    return false;
  });
  return found;
}

/** Recurring occurrences starting in [fromMs, toMs] (instants), in order, at most `limit`. */
function recurringStarts(window: FreezeWindowRule, fromMs: number, toMs: number, limit: number): number[] {
  // Widened to whole UTC days and memoised: every deploy decision and every read asks "now", and
  // a sparse rule (29 February) makes rrule walk to its next occurrence each time it is asked.
  const from = Math.floor(fromMs / DAY_MS) * DAY_MS;
  const to = Math.ceil((toMs + 1) / DAY_MS) * DAY_MS;
  const wide = Math.max(limit, 200);
  const key = `${window.recurrence}|${window.timeZone}|${window.startsAt.getTime()}|${from}|${to}|${wide}`;
  let all = startsCache.get(key);
  if (!all) {
    all = expand(window, from, to, wide);
    if (startsCache.size >= 1000) startsCache.delete(startsCache.keys().next().value!);
    startsCache.set(key, all);
  }
  const picked = all.filter((t) => t >= fromMs && t <= toMs);
  // The widened list was cut short before reaching fromMs: ask for exactly this range.
  if (all.length === wide && picked.length < limit && all.at(-1)! < toMs) return expand(window, fromMs, toMs, limit);
  return picked.slice(0, limit);
}
const startsCache = new Map<string, number[]>();

function expand(window: FreezeWindowRule, fromMs: number, toMs: number, limit: number): number[] {
  // Floating bounds widened by a day: no zone's offset is that large, and the exact test below decides.
  const from = new Date(instantToWallClock(fromMs, window.timeZone) - DAY_MS);
  const rule = ruleOf(window, from.getTime());
  const to = new Date(instantToWallClock(toMs, window.timeZone) + DAY_MS);
  const starts: number[] = [];
  rule.between(from, to, true, (wall) => {
    const t = wallClockToInstant(wall.getTime(), window.timeZone);
    if (t >= fromMs && t <= toMs && t >= window.startsAt.getTime()) starts.push(t);
    return starts.length < limit;
  });
  return starts.sort((a, b) => a - b);
}

const durationMs = (window: FreezeWindowRule) => (window.durationMinutes ?? 0) * 60_000;

/**
 * The occurrence in force at `at` (start <= at < end), or null. With overlapping occurrences of a
 * recurring window, the one that ends last.
 */
export function occurrenceAt(window: FreezeWindowRule, at: Date): FreezeOccurrence | null {
  const t = at.getTime();
  if (!window.recurrence) {
    if (!window.endsAt) return null;
    return window.startsAt.getTime() <= t && t < window.endsAt.getTime() ? { startsAt: window.startsAt, endsAt: window.endsAt } : null;
  }
  const d = durationMs(window);
  // Look back by the duration: an occurrence in force now began at most that long ago.
  const starts = recurringStarts(window, t - d + 1, t, 10_000);
  const last = starts.at(-1);
  return last === undefined ? null : { startsAt: new Date(last), endsAt: new Date(last + d) };
}

/** The occurrence in force at `at`, or else the next one to begin (within LOOK_AHEAD_DAYS); null when none remains. */
export function nextOccurrence(window: FreezeWindowRule, at: Date): FreezeOccurrence | null {
  const now = occurrenceAt(window, at);
  if (now) return now;
  const t = at.getTime();
  if (!window.recurrence) {
    return window.endsAt && window.startsAt.getTime() > t ? { startsAt: window.startsAt, endsAt: window.endsAt } : null;
  }
  const [first] = recurringStarts(window, t, t + LOOK_AHEAD_DAYS * DAY_MS, 1);
  return first === undefined ? null : { startsAt: new Date(first), endsAt: new Date(first + durationMs(window)) };
}

/**
 * When what `window` shows at `at` (its occurrence in force, or its next: `occurrence`, as
 * nextOccurrence gave it) can change by the clock alone: the end of the occurrence in force, else
 * the start of the next one. A recurring window with no occurrence in the look-ahead is asked
 * again within the hour; null: nothing can change.
 */
export function occurrenceChange(window: FreezeWindowRule, occurrence: FreezeOccurrence | null, at: Date): Date | null {
  if (!occurrence) return window.recurrence ? new Date(at.getTime() + 3_600_000) : null;
  return occurrence.startsAt > at ? occurrence.startsAt : occurrence.endsAt;
}

/** The soonest occurrenceChange over `windows`: until then, no window starts or ends. */
export function nextFreezeChange(windows: readonly FreezeWindowRule[], at: Date): Date | null {
  let soonest: Date | null = null;
  for (const window of windows) {
    const change = occurrenceChange(window, nextOccurrence(window, at), at);
    if (change !== null && (soonest === null || change < soonest)) soonest = change;
  }
  return soonest;
}

/** Occurrences overlapping [from, to), in order, at most `limit` (for lists and tests). */
export function occurrencesBetween(window: FreezeWindowRule, from: Date, to: Date, limit = 100): FreezeOccurrence[] {
  if (!window.recurrence) {
    if (!window.endsAt || window.endsAt <= from || window.startsAt >= to) return [];
    return [{ startsAt: window.startsAt, endsAt: window.endsAt }];
  }
  const d = durationMs(window);
  const span = Math.min(to.getTime(), from.getTime() + LOOK_AHEAD_DAYS * DAY_MS);
  return recurringStarts(window, from.getTime() - d + 1, span - 1, limit).map((s) => ({ startsAt: new Date(s), endsAt: new Date(s + d) }));
}

/** What a deployment is held by: the first covering window in force, with the occurrence's end. */
export interface ActiveFreeze<W extends FreezeWindowRule = FreezeWindowRule> {
  window: W;
  occurrence: FreezeOccurrence;
}

/**
 * The window in force for `env` at `at`, among `windows` (a project's): the one whose occurrence
 * ends last, so that "frozen until" is the latest end. `except` skips a window (a break-glass
 * deployment's own); `rollback` skips windows that let rollbacks through.
 */
export function activeFreezeFor<W extends FreezeWindowRule>(
  windows: readonly W[],
  env: { slug: string; type: EnvironmentType },
  at: Date,
  options: { rollback?: boolean; except?: string | null } = {},
): ActiveFreeze<W> | null {
  let found: ActiveFreeze<W> | null = null;
  for (const window of windows) {
    if (window.id === options.except) continue;
    if (options.rollback && window.allowRollback) continue;
    if (!windowCovers(window, env)) continue;
    const occurrence = occurrenceAt(window, at);
    if (occurrence && (!found || occurrence.endsAt > found.occurrence.endsAt)) found = { window, occurrence };
  }
  return found;
}

/** The refusal's wording: the window's name, reason and end. */
export function frozenMessage(envSlug: string, freeze: ActiveFreeze): string {
  return `${envSlug} is frozen by the freeze window "${freeze.window.name}" (${freeze.window.reason}) until ${freeze.occurrence.endsAt.toISOString()}`;
}

// ---------------------------------------------------------------- validation

export interface FreezeWindowShape {
  startsAt: Date;
  endsAt: Date | null;
  recurrence: string | null;
  durationMinutes: number | null;
  timeZone: string;
}

/**
 * The cross-field rules of a new window; throws FreezeRuleError naming the field. Either a one-off
 * window (endsAt after startsAt, at most 31 days) or a recurring one (recurrence and
 * durationMinutes, 1 minute to 31 days, occurring at least once within LOOK_AHEAD_DAYS of
 * startsAt), never both: an endsAt beside a recurrence would be ambiguous (the last occurrence?
 * each one's end?), and RRULE's own UNTIL and COUNT say when a recurrence stops.
 */
export function checkFreezeWindow(w: FreezeWindowShape): void {
  if (!isKnownTimeZone(w.timeZone)) throw new FreezeRuleError('timeZone', `is not a known IANA time zone: ${w.timeZone}`);
  const recurring = w.recurrence !== null || w.durationMinutes !== null;
  if (recurring && w.endsAt !== null) {
    throw new FreezeRuleError(
      'endsAt',
      'must not be given with recurrence: a window is either one-off (endsAt) or recurring (recurrence + durationMinutes)',
    );
  }
  if (!recurring) {
    if (w.endsAt === null) throw new FreezeRuleError('endsAt', 'is required unless recurrence and durationMinutes are given');
    const span = w.endsAt.getTime() - w.startsAt.getTime();
    if (span < MIN_ONE_OFF_MS) throw new FreezeRuleError('endsAt', 'must be after startsAt (by at least one second)');
    if (span > MAX_ONE_OFF_MS) throw new FreezeRuleError('endsAt', 'must be at most 31 days after startsAt');
    return;
  }
  if (w.recurrence === null) throw new FreezeRuleError('recurrence', 'is required with durationMinutes');
  if (w.durationMinutes === null) throw new FreezeRuleError('durationMinutes', 'is required with recurrence');
  if (!Number.isInteger(w.durationMinutes) || w.durationMinutes < MIN_DURATION_MINUTES || w.durationMinutes > MAX_DURATION_MINUTES) {
    throw new FreezeRuleError(
      'durationMinutes',
      `must be a whole number between ${MIN_DURATION_MINUTES} and ${MAX_DURATION_MINUTES} (31 days)`,
    );
  }
  const options = parseRecurrence(w.recurrence, w.timeZone);
  if (!occursWithinLookAhead(options, instantToWallClock(w.startsAt.getTime(), w.timeZone))) {
    throw new FreezeRuleError('recurrence', 'never occurs within 8 years of startsAt');
  }
}
