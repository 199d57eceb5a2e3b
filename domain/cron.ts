// Validation of standard 5-field cron expressions (minute hour day-of-month month day-of-week),
// for backupSchedule and the `production.backups` policy check. Hand-written because the grammar
// is small and a dependency would bring its own dialect (seconds fields, `L`, `#`, `?`).
//
// Accepted per field: `*`, numbers, ranges `a-b` (a <= b), steps `*/n` and `a-b/n`
// (1 <= n <= the field's span), and comma lists of these. Month names JAN-DEC and day names
// SUN-SAT, case-insensitive, wherever a number may stand (also in ranges, e.g. MON-FRI).
// Day of week takes 0-7 (0 and 7 are Sunday). Rejected: anything else, including 6-field
// expressions, `@daily`-style macros, `a/n` (a step after a single value) and reversed ranges.

interface FieldSpec {
  min: number;
  max: number;
  names?: readonly string[]; // names[i] stands for min + i
}

const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'] as const;
const DAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'] as const;

const FIELDS: readonly FieldSpec[] = [
  { min: 0, max: 59 }, // minute
  { min: 0, max: 23 }, // hour
  { min: 1, max: 31 }, // day of month
  { min: 1, max: 12, names: MONTHS }, // month
  { min: 0, max: 7, names: DAYS }, // day of week
];

export function isValidCron(expr: string): boolean {
  if (typeof expr !== 'string') return false;
  const parts = expr.trim().split(/\s+/);
  if (parts.length !== FIELDS.length) return false;
  return parts.every((part, i) => isValidField(part, FIELDS[i]!));
}

function isValidField(field: string, spec: FieldSpec): boolean {
  // split keeps empty items ("1,,2", "1,"), which isValidItem rejects.
  return field.split(',').every((item) => isValidItem(item, spec));
}

function isValidItem(item: string, spec: FieldSpec): boolean {
  const slash = item.split('/');
  if (slash.length > 2) return false;
  const [range, step] = slash as [string, string | undefined];
  if (step !== undefined) {
    const n = parseNumber(step);
    if (n === null || n < 1 || n > spec.max - spec.min + 1) return false;
  }
  if (range === '*') return true;

  const bounds = range.split('-');
  if (bounds.length === 1) {
    // A step needs a range to walk over: `5/15` is not standard cron.
    return step === undefined && parseValue(bounds[0]!, spec) !== null;
  }
  if (bounds.length !== 2) return false;
  const from = parseValue(bounds[0]!, spec);
  const to = parseValue(bounds[1]!, spec);
  return from !== null && to !== null && from <= to;
}

/** A number or name within the field's bounds, or null. */
function parseValue(token: string, spec: FieldSpec): number | null {
  const index = spec.names?.indexOf(token.toUpperCase()) ?? -1;
  if (index >= 0) return spec.min + index;
  const n = parseNumber(token);
  return n !== null && n >= spec.min && n <= spec.max ? n : null;
}

function parseNumber(token: string): number | null {
  // Digits only: no signs, decimals, exponents or whitespace that Number() would accept.
  return /^\d{1,3}$/.test(token) ? Number(token) : null;
}
