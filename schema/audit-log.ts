// Reading the audit log: Project.auditLog, newest first. (Every use case in services/ writes its
// entries in its own transaction: services/transaction.ts.)
import { and, desc, eq, lt, or } from 'drizzle-orm';
import type { Queryable } from '../db/client.ts';
import { auditEvents } from '../db/schema/index.ts';
import { badInput } from '../domain/errors.ts';
import { builder, pageSize } from './builder.ts';

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
        position ? or(lt(auditEvents.at, position.at), and(eq(auditEvents.at, position.at), lt(auditEvents.id, position.id))) : undefined,
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
