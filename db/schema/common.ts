import { sql } from 'drizzle-orm';
import { timestamp } from 'drizzle-orm/pg-core';

// Millisecond precision: JavaScript Dates hold milliseconds, so a cursor built from a Date compares
// exactly against the stored value (microseconds would make keyset pagination skip rows).
export const timestamptz = (name: string) => timestamp(name, { withTimezone: true, precision: 3 });
export const createdAt = () => timestamptz('created_at').notNull().defaultNow();

// Slugs of projects and environments: the contract's pattern, enforced again by the database.
export const SLUG_PATTERN_SQL = '^[a-z][a-z0-9-]{1,38}$';

/**
 * A closed value set as SQL literals, `'A', 'B'`: for partial-index predicates and the filters
 * that must match them word for word (a bound parameter would keep the planner off the index).
 */
export const sqlLiterals = (values: readonly string[]) => sql.raw(values.map((v) => `'${v.replace(/'/g, "''")}'`).join(', '));
