// One transaction per use case, with its audit entries, and the work that must follow the commit.
import type { Logger } from 'pino';
import { recordAudit, type AuditEntry } from '../db/audit.ts';
import type { Transaction } from '../db/client.ts';
import { translateDatabaseError } from '../db/errors.ts';
import type { Scope } from './scope.ts';

/**
 * Reads, inside the use case's transaction and after its writes, what the caller answers with;
 * gets the transaction and what the use case returned (usually the written row's id). The API
 * passes `(tx, id) => tx.query.<table>.findFirst(query({ where: { id } }))`, so the answer still
 * plans its nested GraphQL fields in one statement.
 */
export type ReadBack<T, R> = (tx: Transaction, result: T) => Promise<R | null | undefined>;

/**
 * Side effects that must wait for the commit: signals to workflows, calls to an external secret
 * store. Queued inside the transaction; run in order once it has committed; dropped if it rolls back.
 */
export class AfterCommit {
  private readonly jobs: { what: string; fields: Record<string, unknown>; run: () => Promise<unknown> }[] = [];

  /** `what` and `fields` name the job in the log if it keeps failing; never put values in them. */
  add(what: string, run: () => Promise<unknown>, fields: Record<string, unknown> = {}): void {
    this.jobs.push({ what, fields, run });
  }

  /**
   * The one failure policy: each job is tried up to three times (0, 0.2 s, 1 s apart), then
   * logged. A committed use case never answers an error because of what follows its commit —
   * every such job is a notice the receiver also recovers without (workflows re-check their
   * snapshot; a webhook receiver's report is re-sent by the receiver until it is answered).
   */
  async run(log: Logger): Promise<void> {
    for (const job of this.jobs) {
      for (let attempt = 1; ; attempt++) {
        try {
          await job.run();
          break;
        } catch (error) {
          if (attempt >= AFTER_COMMIT_DELAYS_MS.length + 1) {
            log.error({ ...job.fields, err: errorName(error), attempts: attempt }, `after commit: could not ${job.what}`);
            break;
          }
          await new Promise((r) => setTimeout(r, AFTER_COMMIT_DELAYS_MS[attempt - 1]));
        }
      }
    }
  }
}
const AFTER_COMMIT_DELAYS_MS = [200, 1000];
// A driver's or SDK's message may quote parameters: log the kind of error only.
const errorName = (error: unknown) =>
  error instanceof Error ? `${error.name}${'code' in error ? ` ${String(error.code)}` : ''}` : 'Error';

export interface Work<T> {
  result: T;
  audit: AuditEntry | AuditEntry[];
}

/**
 * Runs a use case's writes in one transaction; the audit entries it returns are written in the
 * same transaction, so a refused or failed use case leaves neither data nor audit behind.
 *
 * With `readBack`, the answer is read in that same transaction, after the writes and the audit:
 * exactly the state this write produced, never a concurrent writer's later commit. After the
 * commit, the queued after-commit work runs (see AfterCommit).
 */
export function transact<T>(scope: Scope, work: (tx: Transaction, after: AfterCommit) => Promise<Work<T>>): Promise<T>;
export function transact<T, R>(
  scope: Scope,
  work: (tx: Transaction, after: AfterCommit) => Promise<Work<T>>,
  readBack: ReadBack<T, R>,
): Promise<R>;
export function transact<T, R>(
  scope: Scope,
  work: (tx: Transaction, after: AfterCommit) => Promise<Work<T>>,
  readBack?: ReadBack<T, R>,
): Promise<T | R>;
export async function transact<T, R>(
  scope: Scope,
  work: (tx: Transaction, after: AfterCommit) => Promise<Work<T>>,
  readBack?: ReadBack<T, R>,
): Promise<T | R> {
  const after = new AfterCommit();
  let answer: T | R;
  try {
    answer = await scope.db.transaction(async (tx) => {
      const { result, audit } = await work(tx, after);
      for (const entry of Array.isArray(audit) ? audit : [audit]) await recordAudit(tx, scope.actor.subject, entry);
      if (!readBack) return result;
      const read = await readBack(tx, result);
      // The row was just written in this transaction; not finding it is a bug, and rolls back.
      if (read == null) throw new Error('A use case could not read back the row it wrote');
      return read;
    });
  } catch (error) {
    throw translateDatabaseError(error);
  }
  await after.run(scope.services.log);
  return answer;
}
