// The audit log: every mutation runs in one transaction that also records who did what.
import { translateDatabaseError } from '../db/errors.ts';
import { and, desc, eq, lt, or } from 'drizzle-orm';
import type { Queryable, Transaction } from '../db/client.ts';

export { recordAudit, type AuditEntry };
import { recordAudit, type AuditEntry } from '../db/audit.ts';
import { auditEvents } from '../db/schema/index.ts';
import type { Principal } from '../domain/permissions.ts';
import { badInput, unauthenticated } from '../domain/errors.ts';
import type { Context } from '../server/context.ts';
import { builder, pageSize } from './builder.ts';

/** The signed-in principal, or UNAUTHENTICATED. */
export function principalOf(ctx: Context): Principal {
  if (!ctx.principal) throw unauthenticated(ctx.authError ?? undefined);
  return ctx.principal;
}

/**
 * Reads, inside the mutation's transaction and after its writes, what the mutation answers; gets
 * the transaction and what `work` returned (usually the written row's id). For a Pothos
 * `drizzleField`, pass `(tx, id) => tx.query.<table>.findFirst(query({ where: { id } }))` so the
 * answer still plans its nested fields in one statement.
 */
export type ReadBack<T, R> = (tx: Transaction, result: T) => Promise<R | null | undefined>;

/**
 * Runs a mutation's writes in one transaction; the audit entries it returns are written in the
 * same transaction, so a failed mutation leaves neither data nor audit behind.
 *
 * With `readBack`, the answer is read in that same transaction, after the writes and the audit:
 * it is exactly the state this mutation's write produced, never a concurrent writer's later
 * commit (which re-reading after commit could show). Work that must follow the commit (signals
 * to workflows, ...) stays with the caller, after `mutate` returns.
 */
export function mutate<T>(
  ctx: Context,
  work: (tx: Transaction, actor: Principal) => Promise<{ result: T; audit: AuditEntry | AuditEntry[] }>,
): Promise<T>;
export function mutate<T, R>(
  ctx: Context,
  work: (tx: Transaction, actor: Principal) => Promise<{ result: T; audit: AuditEntry | AuditEntry[] }>,
  readBack: ReadBack<T, R>,
): Promise<R>;
export async function mutate<T, R>(
  ctx: Context,
  work: (tx: Transaction, actor: Principal) => Promise<{ result: T; audit: AuditEntry | AuditEntry[] }>,
  readBack?: ReadBack<T, R>,
): Promise<T | R> {
  const actor = principalOf(ctx);
  try {
    return await ctx.db.transaction(async (tx) => {
      const { result, audit } = await work(tx, actor);
      for (const entry of Array.isArray(audit) ? audit : [audit]) await recordAudit(tx, actor.subject, entry);
      if (!readBack) return result;
      const answer = await readBack(tx, result);
      // The row was just written in this transaction; not finding it is a bug, and rolls back.
      if (answer == null) throw new Error('A mutation could not read back the row it wrote');
      return answer;
    });
  } catch (error) {
    throw translateDatabaseError(error);
  }
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
