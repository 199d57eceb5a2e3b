// The audit log: every mutation runs in one transaction that also records who did what.
import { and, desc, eq, lt, or } from 'drizzle-orm';
import type { Queryable, Transaction } from '../db/client.ts';

export { recordAudit, type AuditEntry };
import { recordAudit, type AuditEntry } from '../db/audit.ts';
import { auditEvents } from '../db/schema/index.ts';
import { AppError, badInput, conflict, notFound } from '../domain/errors.ts';
import type { Principal } from '../domain/permissions.ts';
import { unauthenticated } from '../domain/errors.ts';
import type { Context } from '../server/context.ts';
import { builder, pageSize } from './builder.ts';

/** The signed-in principal, or UNAUTHENTICATED. */
export function principalOf(ctx: Context): Principal {
  if (!ctx.principal) throw unauthenticated(ctx.authError ?? undefined);
  return ctx.principal;
}

/**
 * Runs a mutation's writes in one transaction; the audit entries it returns are written in the
 * same transaction, so a failed mutation leaves neither data nor audit behind.
 */
export async function mutate<T>(
  ctx: Context,
  work: (tx: Transaction, actor: Principal) => Promise<{ result: T; audit: AuditEntry | AuditEntry[] }>,
): Promise<T> {
  const actor = principalOf(ctx);
  try {
    return await ctx.db.transaction(async (tx) => {
      const { result, audit } = await work(tx, actor);
      for (const entry of Array.isArray(audit) ? audit : [audit]) await recordAudit(tx, actor.subject, entry);
      return result;
    });
  } catch (error) {
    throw translateDatabaseError(error);
  }
}

/** Constraint violations become contract errors; anything else stays an internal error. */
export function translateDatabaseError(error: unknown): unknown {
  if (error instanceof AppError) return error;
  const pg = findPgError(error);
  if (!pg) return error;
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

function findPgError(error: unknown): { code: string; constraint?: string } | null {
  for (let e: unknown = error, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) {
      const constraint = (e as { constraint?: string; constraint_name?: string }).constraint ?? (e as { constraint_name?: string }).constraint_name;
      return constraint ? { code, constraint } : { code };
    }
  }
  return null;
}

export interface AuditEventShape {
  id: string;
  actor: string;
  action: string;
  targetId: string | null;
  detail: unknown;
  at: Date;
}

export const AuditEventRef = builder.objectRef<AuditEventShape>('AuditEvent').implement({
  fields: (t) => ({
    id: t.exposeID('id'),
    actor: t.exposeString('actor'),
    action: t.exposeString('action'),
    targetId: t.exposeID('targetId', { nullable: true }),
    detail: t.expose('detail', { type: 'JSON', nullable: true }),
    at: t.expose('at', { type: 'DateTime' }),
  }),
});

/** Keyset cursor over (at desc, id desc): stable while new events arrive. */
function encodeCursor(row: { at: Date; id: string }) {
  return Buffer.from(`${row.at.toISOString()}|${row.id}`).toString('base64url');
}
function decodeCursor(cursor: string): { at: Date; id: string } {
  const [at, id] = Buffer.from(cursor, 'base64url').toString().split('|');
  const date = new Date(at ?? '');
  if (!id || Number.isNaN(date.getTime())) throw badInput('after is not a cursor from this connection', 'after');
  return { at: date, id };
}

export async function auditPage(db: Queryable, projectId: string, first: number | null | undefined, after: string | null | undefined) {
  const limit = pageSize(first);
  const position = after ? decodeCursor(after) : null;
  const rows = await db
    .select()
    .from(auditEvents)
    .where(
      and(
        eq(auditEvents.projectId, projectId),
        position
          ? or(lt(auditEvents.at, position.at), and(eq(auditEvents.at, position.at), lt(auditEvents.id, position.id)))
          : undefined,
      ),
    )
    .orderBy(desc(auditEvents.at), desc(auditEvents.id))
    .limit(limit + 1);
  const page = rows.slice(0, limit);
  return {
    edges: page.map((node) => ({ cursor: encodeCursor(node), node })),
    pageInfo: {
      hasNextPage: rows.length > limit,
      hasPreviousPage: position !== null,
      startCursor: page[0] ? encodeCursor(page[0]) : null,
      endCursor: page.at(-1) ? encodeCursor(page.at(-1)!) : null,
    },
  };
}
