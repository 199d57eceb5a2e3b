// Writing the audit log: every mutation (and every workflow decision made on someone's behalf)
// records who did what, in the same transaction as the change itself.
import type { Queryable } from './client.ts';
import { auditEvents } from './schema/index.ts';

export interface AuditEntry {
  projectId: string | null;
  action: string;
  targetId?: string | null;
  /** Never a secret value, password or token. */
  detail?: Record<string, unknown> | null;
}

export async function recordAudit(tx: Queryable, actor: string, entry: AuditEntry): Promise<void> {
  await tx.insert(auditEvents).values({
    projectId: entry.projectId,
    actor,
    action: entry.action,
    targetId: entry.targetId ?? null,
    detail: entry.detail ?? null,
  });
}
