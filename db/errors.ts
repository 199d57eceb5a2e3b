// What kind of PostgreSQL error something is, through the driver's and drizzle's wrappers, and the
// contract error it becomes (mutations in schema/audit.ts, everything else in server/yoga.ts).
import { AppError, badInput, conflict, notFound } from '../domain/errors.ts';

/** The first PostgreSQL error in `error`'s cause chain (drizzle wraps the driver's): its SQLSTATE and constraint. */
export function pgErrorOf(error: unknown): { code: string; constraint?: string } | null {
  for (let e: unknown = error, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) {
      const constraint = (e as { constraint?: string }).constraint ?? (e as { constraint_name?: string }).constraint_name;
      return constraint ? { code, constraint } : { code };
    }
  }
  return null;
}

/** The SQLSTATE of the first PostgreSQL error in `error`'s cause chain, or null. */
export const sqlStateOf = (error: unknown): string | null => pgErrorOf(error)?.code ?? null;

/**
 * Class 22, data exception (22021 a NUL in text, 22P05 one in jsonb, 22P02 malformed input, a
 * value out of range...): the same statement with the same values fails again, so retrying is
 * pointless.
 */
export const isDataException = (error: unknown): boolean => sqlStateOf(error)?.startsWith('22') ?? false;

/**
 * Constraint violations and data exceptions become contract errors; anything else stays an
 * internal error. Class 22 (data exception: 22021 a NUL in text, 22P05 a NUL or lone surrogate in
 * jsonb, 22P02 malformed input, values out of range, ...) is input the database cannot take:
 * BAD_USER_INPUT. domain/validation.ts refuses such text first; this is the safety net. The
 * driver's message is not passed on: it may quote the value.
 */
export function translateDatabaseError(error: unknown): unknown {
  if (error instanceof AppError) return error;
  const pg = pgErrorOf(error);
  if (!pg) return error;
  if (pg.code.startsWith('22')) return badInput(`Invalid value: the database cannot store it (SQLSTATE ${pg.code})`);
  switch (pg.code) {
    case '23505':
      return conflict(`Already exists (${pg.constraint ?? 'unique constraint'})`);
    case '23514':
      return badInput(`Invalid value (${pg.constraint ?? 'check constraint'})`);
    case '23503':
      return notFound(`A referenced record does not exist (${pg.constraint ?? 'foreign key'})`);
    case '40001':
    case '40P01':
      return conflict('A concurrent change got there first; try again');
    default:
      return error;
  }
}
