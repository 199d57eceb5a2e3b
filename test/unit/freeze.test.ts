// domain/freeze.ts: occurrences of one-off and recurring windows (rrule in floating wall-clock
// time, converted with Intl), across daylight-saving changes, scoping, bounds and validation.
import { afterEach, describe, expect, it } from 'vitest';
import {
  activeFreezeFor,
  checkFreezeWindow,
  FreezeRuleError,
  type FreezeWindowShape,
  type FreezeWindowRule,
  frozenMessage,
  instantToWallClock,
  isKnownTimeZone,
  nextFreezeChange,
  nextOccurrence,
  occurrenceAt,
  occurrencesBetween,
  parseRecurrence,
  slugMatches,
  wallClockToInstant,
  windowCovers,
} from '../../domain/freeze.ts';

const window = (over: Partial<FreezeWindowRule>): FreezeWindowRule => ({
  id: 'w1',
  name: 'freeze',
  reason: 'because',
  environmentSlugs: [],
  environmentTypes: [],
  startsAt: new Date('2026-01-01T00:00:00Z'),
  endsAt: null,
  recurrence: null,
  durationMinutes: null,
  timeZone: 'UTC',
  allowRollback: true,
  ...over,
});
const at = (s: string) => new Date(s);
const starts = (list: { startsAt: Date }[]) => list.map((o) => o.startsAt.toISOString());

// "16:00 Europe/Berlin every Friday", two hours long.
const fridays = window({
  startsAt: at('2026-10-01T00:00:00Z'),
  recurrence: 'FREQ=WEEKLY;BYDAY=FR;BYHOUR=16;BYMINUTE=0;BYSECOND=0',
  durationMinutes: 120,
  timeZone: 'Europe/Berlin',
});

describe('recurring windows across daylight-saving changes', () => {
  it('16:00 Berlin every Friday is 14:00Z in summer time and 15:00Z after clocks go back (25 Oct 2026)', () => {
    expect(starts(occurrencesBetween(fridays, at('2026-10-10T00:00:00Z'), at('2026-11-10T00:00:00Z')))).toEqual([
      '2026-10-16T14:00:00.000Z',
      '2026-10-23T14:00:00.000Z',
      '2026-10-30T15:00:00.000Z',
      '2026-11-06T15:00:00.000Z',
    ]);
  });

  it('and back to 14:00Z after clocks go forward (29 Mar 2027)', () => {
    expect(starts(occurrencesBetween(fridays, at('2027-03-20T00:00:00Z'), at('2027-04-05T00:00:00Z')))).toEqual([
      '2027-03-26T15:00:00.000Z',
      '2027-04-02T14:00:00.000Z',
    ]);
  });

  it('New York: 09:00 local every day is 13:00Z, then 14:00Z after 1 Nov 2026', () => {
    const w = window({ recurrence: 'FREQ=DAILY;BYHOUR=9;BYMINUTE=0;BYSECOND=0', durationMinutes: 30, timeZone: 'America/New_York' });
    expect(starts(occurrencesBetween(w, at('2026-10-31T00:00:00Z'), at('2026-11-03T00:00:00Z')))).toEqual([
      '2026-10-31T13:00:00.000Z',
      '2026-11-01T14:00:00.000Z',
      '2026-11-02T14:00:00.000Z',
    ]);
  });

  it('is in force at the right UTC instants on the day of the change, and not an hour off', () => {
    expect(occurrenceAt(fridays, at('2026-10-30T14:30:00Z'))).toBeNull(); // 15:30 CET: not yet
    expect(occurrenceAt(fridays, at('2026-10-30T15:00:00Z'))).toEqual({
      startsAt: at('2026-10-30T15:00:00Z'),
      endsAt: at('2026-10-30T17:00:00Z'),
    });
    expect(occurrenceAt(fridays, at('2026-10-30T16:59:59.999Z'))).not.toBeNull();
    expect(occurrenceAt(fridays, at('2026-10-30T17:00:00Z'))).toBeNull(); // the end is exclusive
  });

  it('does not depend on the process time zone (rrule TZID would)', () => {
    const before = process.env.TZ;
    try {
      process.env.TZ = 'America/New_York';
      expect(starts(occurrencesBetween(fridays, at('2026-10-20T00:00:00Z'), at('2026-11-01T00:00:00Z')))).toEqual([
        '2026-10-23T14:00:00.000Z',
        '2026-10-30T15:00:00.000Z',
      ]);
    } finally {
      if (before === undefined) delete process.env.TZ;
      else process.env.TZ = before;
    }
  });
});

describe('wall-clock conversion', () => {
  const berlin = (y: number, mo: number, d: number, h: number, mi: number) =>
    new Date(wallClockToInstant(Date.UTC(y, mo - 1, d, h, mi), 'Europe/Berlin')).toISOString();

  it('round-trips ordinary times', () => {
    const t = Date.parse('2026-07-01T10:15:30.250Z');
    expect(wallClockToInstant(instantToWallClock(t, 'Asia/Kolkata'), 'Asia/Kolkata')).toBe(t);
    expect(instantToWallClock(t, 'Asia/Kolkata')).toBe(Date.parse('2026-07-01T15:45:30.250Z'));
  });

  it('moves a time skipped by the spring change forward by the gap (RFC 5545)', () => {
    expect(berlin(2026, 3, 29, 2, 30)).toBe('2026-03-29T01:30:00.000Z'); // 03:30 CEST
  });

  it('takes the first of a time repeated by the autumn change', () => {
    expect(berlin(2026, 10, 25, 2, 30)).toBe('2026-10-25T00:30:00.000Z'); // 02:30 CEST, not CET
  });

  it('a daily 02:30 Berlin window exists on the day of the gap', () => {
    const w = window({ recurrence: 'FREQ=DAILY;BYHOUR=2;BYMINUTE=30;BYSECOND=0', durationMinutes: 10, timeZone: 'Europe/Berlin' });
    expect(starts(occurrencesBetween(w, at('2026-03-28T00:00:00Z'), at('2026-03-31T00:00:00Z')))).toEqual([
      '2026-03-28T01:30:00.000Z',
      '2026-03-29T01:30:00.000Z',
      '2026-03-30T00:30:00.000Z',
    ]);
  });
});

describe('occurrences', () => {
  const oneOff = window({ startsAt: at('2026-12-20T00:00:00Z'), endsAt: at('2027-01-03T00:00:00Z') });

  it('one-off: in force from startsAt (inclusive) to endsAt (exclusive)', () => {
    expect(occurrenceAt(oneOff, at('2026-12-19T23:59:59.999Z'))).toBeNull();
    expect(occurrenceAt(oneOff, at('2026-12-20T00:00:00Z'))).toEqual({ startsAt: oneOff.startsAt, endsAt: oneOff.endsAt });
    expect(occurrenceAt(oneOff, at('2027-01-03T00:00:00Z'))).toBeNull();
    expect(nextOccurrence(oneOff, at('2026-01-01T00:00:00Z'))).toEqual({ startsAt: oneOff.startsAt, endsAt: oneOff.endsAt });
    expect(nextOccurrence(oneOff, at('2027-02-01T00:00:00Z'))).toBeNull();
  });

  it('an occurrence that began before now is in force (look-back by the duration)', () => {
    const w = window({ recurrence: 'FREQ=DAILY;BYHOUR=22;BYMINUTE=0;BYSECOND=0', durationMinutes: 6 * 60 });
    expect(occurrenceAt(w, at('2026-05-02T03:00:00Z'))).toEqual({
      startsAt: at('2026-05-01T22:00:00Z'),
      endsAt: at('2026-05-02T04:00:00Z'),
    });
    expect(nextOccurrence(w, at('2026-05-02T03:00:00Z'))?.startsAt).toEqual(at('2026-05-01T22:00:00Z')); // the one in force
    expect(nextOccurrence(w, at('2026-05-02T04:00:00Z'))?.startsAt).toEqual(at('2026-05-02T22:00:00Z'));
  });

  it('no occurrence before startsAt, and none after COUNT or UNTIL', () => {
    const counted = window({ startsAt: at('2026-06-01T08:00:00Z'), recurrence: 'FREQ=DAILY;COUNT=2', durationMinutes: 60 });
    expect(starts(occurrencesBetween(counted, at('2026-05-01T00:00:00Z'), at('2026-07-01T00:00:00Z')))).toEqual([
      '2026-06-01T08:00:00.000Z',
      '2026-06-02T08:00:00.000Z',
    ]);
    expect(nextOccurrence(counted, at('2026-06-03T00:00:00Z'))).toBeNull();
    const until = window({ startsAt: at('2026-06-01T08:00:00Z'), recurrence: 'FREQ=DAILY;UNTIL=20260603T080000Z', durationMinutes: 60 });
    expect(occurrencesBetween(until, at('2026-05-01T00:00:00Z'), at('2026-07-01T00:00:00Z'))).toHaveLength(3);
  });

  it('an hourly rule started years ago is evaluated without walking every hour since', () => {
    const start = Date.parse('2019-01-01T00:00:00Z');
    const w = window({ startsAt: new Date(start), recurrence: 'FREQ=HOURLY;INTERVAL=5', durationMinutes: 10 });
    // Every 5 hours from the start: the one at or before 2026-03-01T10:05Z, by arithmetic.
    const probe = Date.parse('2026-03-01T10:05:00Z');
    const expected = start + Math.floor((probe - start) / (5 * 3_600_000)) * 5 * 3_600_000;
    const t0 = performance.now();
    for (let i = 0; i < 20; i++) occurrenceAt(w, new Date(expected + 5 * 60_000 + i));
    const elapsed = performance.now() - t0;
    expect(occurrenceAt(w, new Date(expected + 5 * 60_000))).toEqual({
      startsAt: new Date(expected),
      endsAt: new Date(expected + 600_000),
    });
    expect(occurrenceAt(w, new Date(expected + 3_600_000))).toBeNull();
    expect(elapsed).toBeLessThan(2000); // walking 7 years hour by hour takes seconds per call
  });

  it('a sparse rule (29 February) is found years ahead, in bounded time', () => {
    const w = window({ startsAt: at('2026-01-01T00:00:00Z'), recurrence: 'FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29', durationMinutes: 60 });
    expect(nextOccurrence(w, at('2026-06-01T00:00:00Z'))?.startsAt).toEqual(at('2028-02-29T00:00:00Z'));
  });
});

describe('scope', () => {
  it('slug globs', () => {
    expect(slugMatches('prod*', 'production')).toBe(true);
    expect(slugMatches('prod*', 'preprod')).toBe(false);
    expect(slugMatches('eu-?', 'eu-1')).toBe(true);
    expect(slugMatches('eu-?', 'eu-12')).toBe(false);
    expect(slugMatches('a.b', 'axb')).toBe(false); // only * and ? are wildcards
  });

  it('empty lists cover every environment; otherwise a slug or a type matches', () => {
    expect(windowCovers({ environmentSlugs: [], environmentTypes: [] }, { slug: 'anything', type: 'CUSTOM' })).toBe(true);
    expect(windowCovers({ environmentSlugs: ['prod*'], environmentTypes: [] }, { slug: 'staging', type: 'STAGING' })).toBe(false);
    expect(windowCovers({ environmentSlugs: ['prod*'], environmentTypes: ['STAGING'] }, { slug: 'staging', type: 'STAGING' })).toBe(true);
    expect(windowCovers({ environmentSlugs: [], environmentTypes: ['PRODUCTION'] }, { slug: 'live', type: 'PRODUCTION' })).toBe(true);
  });

  it('activeFreezeFor: the covering window that ends last; rollbacks pass windows that allow them; an override skips its window', () => {
    const now = at('2026-06-01T12:00:00Z');
    const short = window({ id: 'short', startsAt: at('2026-06-01T11:00:00Z'), endsAt: at('2026-06-01T13:00:00Z') });
    const long = window({
      id: 'long',
      startsAt: at('2026-06-01T11:00:00Z'),
      endsAt: at('2026-06-02T00:00:00Z'),
      environmentTypes: ['PRODUCTION'],
    });
    const strict = window({ id: 'strict', startsAt: at('2026-06-01T11:00:00Z'), endsAt: at('2026-06-01T14:00:00Z'), allowRollback: false });
    const env = { slug: 'production', type: 'PRODUCTION' as const };
    expect(activeFreezeFor([short, long, strict], env, now)?.window.id).toBe('long');
    expect(activeFreezeFor([short, long, strict], { slug: 'dev', type: 'DEVELOPMENT' }, now)?.window.id).toBe('strict');
    expect(activeFreezeFor([short, long, strict], env, now, { rollback: true })?.window.id).toBe('strict');
    expect(activeFreezeFor([short, long], env, now, { rollback: true })).toBeNull();
    expect(activeFreezeFor([short, long], env, now, { except: 'long' })?.window.id).toBe('short');
    const found = activeFreezeFor([long], env, now)!;
    expect(frozenMessage('production', found)).toBe(
      'production is frozen by the freeze window "freeze" (because) until 2026-06-02T00:00:00.000Z',
    );
  });
});

describe('validation', () => {
  const base: FreezeWindowShape = {
    startsAt: at('2030-01-01T00:00:00Z'),
    endsAt: null,
    recurrence: null,
    durationMinutes: null,
    timeZone: 'UTC',
  };
  const problem = (over: Partial<FreezeWindowShape>) => {
    try {
      checkFreezeWindow({ ...base, ...over } as never);
      return null;
    } catch (error) {
      expect(error).toBeInstanceOf(FreezeRuleError);
      return { field: (error as FreezeRuleError).field, message: (error as Error).message };
    }
  };

  it('accepts a one-off window and a recurring one', () => {
    expect(problem({ endsAt: at('2030-01-02T00:00:00Z') })).toBeNull();
    expect(
      problem({ recurrence: 'RRULE:FREQ=WEEKLY;BYDAY=FR;BYHOUR=16;BYMINUTE=0', durationMinutes: 120, timeZone: 'Europe/Berlin' }),
    ).toBeNull();
  });

  it.each([
    ['no end at all', {}, 'endsAt'],
    ['endsAt before startsAt', { endsAt: at('2029-12-31T00:00:00Z') }, 'endsAt'],
    ['a zero one-off window', { endsAt: at('2030-01-01T00:00:00Z') }, 'endsAt'],
    ['a one-off window of 32 days', { endsAt: at('2030-02-02T00:00:00Z') }, 'endsAt'],
    ['both kinds', { endsAt: at('2030-01-02T00:00:00Z'), recurrence: 'FREQ=DAILY', durationMinutes: 5 }, 'endsAt'],
    ['recurrence without duration', { recurrence: 'FREQ=DAILY' }, 'durationMinutes'],
    ['duration without recurrence', { durationMinutes: 5 }, 'recurrence'],
    ['a zero duration', { recurrence: 'FREQ=DAILY', durationMinutes: 0 }, 'durationMinutes'],
    ['a ten-year duration', { recurrence: 'FREQ=YEARLY', durationMinutes: 5_256_000 }, 'durationMinutes'],
    ['a duration of 31 days and a minute', { recurrence: 'FREQ=YEARLY', durationMinutes: 44_641 }, 'durationMinutes'],
    ['an unknown time zone', { endsAt: at('2030-01-02T00:00:00Z'), timeZone: 'Europe/Atlantis' }, 'timeZone'],
    ['a time zone that is not a name', { endsAt: at('2030-01-02T00:00:00Z'), timeZone: '+02:00 ; drop' }, 'timeZone'],
    ['an unknown frequency', { recurrence: 'FREQ=FORTNIGHTLY', durationMinutes: 5 }, 'recurrence'],
    ['no FREQ', { recurrence: 'BYDAY=FR', durationMinutes: 5 }, 'recurrence'],
    ['an unknown property', { recurrence: 'FREQ=DAILY;COLOR=RED', durationMinutes: 5 }, 'recurrence'],
    ['an unknown weekday', { recurrence: 'FREQ=WEEKLY;BYDAY=XX', durationMinutes: 5 }, 'recurrence'],
    ['an hour of 25', { recurrence: 'FREQ=DAILY;BYHOUR=25', durationMinutes: 5 }, 'recurrence'],
    ['an interval of 0', { recurrence: 'FREQ=DAILY;INTERVAL=0', durationMinutes: 5 }, 'recurrence'],
    ['MINUTELY (too many occurrences to evaluate)', { recurrence: 'FREQ=MINUTELY', durationMinutes: 1 }, 'recurrence'],
    ['SECONDLY', { recurrence: 'FREQ=SECONDLY', durationMinutes: 1 }, 'recurrence'],
    ['a DTSTART of its own', { recurrence: 'DTSTART=20300101T000000Z;FREQ=DAILY', durationMinutes: 5 }, 'recurrence'],
    ['several lines', { recurrence: 'FREQ=DAILY\nEXDATE:20300102T000000Z', durationMinutes: 5 }, 'recurrence'],
    ['a rule that never occurs (30 February)', { recurrence: 'FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30', durationMinutes: 5 }, 'recurrence'],
    [
      'an hourly rule with day filters (rrule would walk to 9999)',
      { recurrence: 'FREQ=HOURLY;BYMONTH=2;BYMONTHDAY=31', durationMinutes: 5 },
      'recurrence',
    ],
    ['an hourly rule with BYHOUR', { recurrence: 'FREQ=HOURLY;INTERVAL=2;BYHOUR=1', durationMinutes: 5 }, 'recurrence'],
    ['a daily rule that never occurs', { recurrence: 'FREQ=DAILY;INTERVAL=2;BYMONTH=2;BYMONTHDAY=31', durationMinutes: 5 }, 'recurrence'],
  ])('refuses %s', (_name, over, field) => {
    expect(problem(over as never)?.field).toBe(field);
  });

  it('accepts COUNT, UNTIL and a leap-day rule (occurs within 8 years)', () => {
    expect(problem({ recurrence: 'FREQ=DAILY;COUNT=5', durationMinutes: 60 })).toBeNull();
    expect(problem({ recurrence: 'FREQ=DAILY;UNTIL=20300110T000000Z', durationMinutes: 60 })).toBeNull();
    expect(
      problem({ startsAt: at('2029-03-01T00:00:00Z'), recurrence: 'FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29', durationMinutes: 60 }),
    ).toBeNull();
  });

  it('UNTIL in UTC is compared as an instant, not as local time', () => {
    // Tokyo is UTC+9: UNTIL=...T000000Z is 09:00 local, so the 08:00 local occurrence that day is
    // included (read as local midnight it would not be). startsAt is 09:00 local on 1 January.
    const w = window({
      startsAt: at('2030-01-01T00:00:00Z'),
      recurrence: 'FREQ=DAILY;BYHOUR=8;BYMINUTE=0;BYSECOND=0;UNTIL=20300103T000000Z',
      durationMinutes: 5,
      timeZone: 'Asia/Tokyo',
    });
    expect(starts(occurrencesBetween(w, at('2029-12-31T00:00:00Z'), at('2030-01-10T00:00:00Z')))).toEqual([
      '2030-01-01T23:00:00.000Z',
      '2030-01-02T23:00:00.000Z',
    ]);
    expect(parseRecurrence('FREQ=DAILY;UNTIL=20300103T000000Z', 'Asia/Tokyo').until).toEqual(at('2030-01-03T09:00:00Z'));
  });

  it('knows IANA zones', () => {
    expect(isKnownTimeZone('UTC')).toBe(true);
    expect(isKnownTimeZone('Europe/Berlin')).toBe(true);
    expect(isKnownTimeZone('Nowhere/Special')).toBe(false);
    expect(isKnownTimeZone('')).toBe(false);
  });
});

afterEach(() => {
  // The DST test sets process.env.TZ; make sure it never leaks.
  expect(process.env.TZ === 'America/New_York').toBe(false);
});

describe('nextFreezeChange: when a cached answer about freezes stops holding', () => {
  const oneOff = window({ startsAt: at('2026-12-10T10:00:00Z'), endsAt: at('2026-12-10T12:00:00Z') });
  it('is the start of a window ahead, then its end while it is in force, then nothing', () => {
    expect(nextFreezeChange([oneOff], at('2026-12-01T00:00:00Z'))?.toISOString()).toBe('2026-12-10T10:00:00.000Z');
    expect(nextFreezeChange([oneOff], at('2026-12-10T11:00:00Z'))?.toISOString()).toBe('2026-12-10T12:00:00.000Z');
    expect(nextFreezeChange([oneOff], at('2026-12-10T12:00:00Z'))).toBeNull();
  });
  it('is the soonest over all windows, recurring ones included', () => {
    // Friday 2026-12-04 16:00 Berlin is 15:00Z.
    expect(nextFreezeChange([oneOff, fridays], at('2026-12-01T00:00:00Z'))?.toISOString()).toBe('2026-12-04T15:00:00.000Z');
    expect(nextFreezeChange([oneOff, fridays], at('2026-12-04T16:00:00Z'))?.toISOString()).toBe('2026-12-04T17:00:00.000Z');
  });
  it('asks again within the hour for a recurring window with no occurrence ahead', () => {
    const ended = window({ recurrence: 'FREQ=DAILY;COUNT=1', durationMinutes: 60, startsAt: at('2026-01-01T00:00:00Z') });
    expect(nextFreezeChange([ended], at('2026-12-01T00:00:00Z'))?.toISOString()).toBe('2026-12-01T01:00:00.000Z');
    expect(nextFreezeChange([], at('2026-12-01T00:00:00Z'))).toBeNull();
  });
});
