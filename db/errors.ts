// What kind of PostgreSQL error something is, through the driver's and drizzle's wrappers.

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
