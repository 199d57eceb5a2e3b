import { timestamp } from 'drizzle-orm/pg-core';

// Millisecond precision: JavaScript Dates hold milliseconds, so a cursor built from a Date compares
// exactly against the stored value (microseconds would make keyset pagination skip rows).
export const timestamptz = (name: string) => timestamp(name, { withTimezone: true, precision: 3 });
export const createdAt = () => timestamptz('created_at').notNull().defaultNow();

export const ROLES = ['VIEWER', 'DEVELOPER', 'QA', 'APPROVER', 'ADMIN'] as const;
export type Role = (typeof ROLES)[number];

// Slugs of projects and environments: the contract's pattern, enforced again by the database.
export const SLUG_PATTERN_SQL = '^[a-z][a-z0-9-]{1,38}$';
