// A response cache for project pages: the console's Pipeline page (and any query whose one root
// field is `project(slug:)`) asked again by the same principal is answered from memory, without
// planning, SQL or execution, as long as the database says nothing was written to that project
// since the answer was read. That check is one indexed statement (db/project-writes.ts) made on
// every hit, so the cache is exact across replicas: a read on any replica after a write committed
// anywhere sees it (read-your-writes, not "within the NOTIFY delay").
//
// - Key: the principal as authenticated (subject, kind, issuer, roles, groups, project bindings),
//   the document, the operation and the variables. Project grants, visibility and the token's own
//   revocation are data (grants and visibility invalidate; auth still runs on every request).
// - Labelled with a snapshot taken before the answer is read: a write that commits while it is
//   read makes it stale at once (the conservative side).
// - The clock: resolvers that read it say when their answer changes (`changesAt`, e.g. a freeze
//   window's next start or end); the entry is dropped at that instant.
// - Only answers without errors are kept; mutations and subscriptions never are.
import { getOperationAST, Kind, type DocumentNode, type ExecutionResult, type OperationDefinitionNode } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { Counter, type Registry } from 'prom-client';
import type { Database } from '../db/client.ts';
import { PROJECT_WRITES_KEEP_MS, pruneProjectWrites, readPoint, unchangedSince, type ReadPoint } from '../db/project-writes.ts';
import type { Principal } from '../domain/permissions.ts';
import type { Context } from './yoga.ts';

export interface ResponseCacheOptions {
  /** Answers kept per process (least recently used dropped first); 0 turns the cache off. */
  maxEntries: number;
  metrics: Registry;
}

interface Entry {
  point: ReadPoint & { projectId: string };
  result: ExecutionResult;
  /** Until when the answer holds by the clock (ms), and no longer than the write log is kept. */
  expiresAt: number;
}

/** The slug argument of a cacheable operation, or null: one root field `project(slug:)`, a query. */
type Slug = { literal: string } | { variable: string };
const slugByDocument = new WeakMap<DocumentNode, Map<string, Slug | null>>();
const documentIds = new WeakMap<DocumentNode, number>();
let nextDocumentId = 0;

function slugOf(document: DocumentNode, operationName: string | null | undefined): Slug | null {
  let byOperation = slugByDocument.get(document);
  if (!byOperation) slugByDocument.set(document, (byOperation = new Map()));
  const key = operationName ?? '';
  if (!byOperation.has(key)) byOperation.set(key, decide(getOperationAST(document, operationName)));
  return byOperation.get(key)!;
}

function decide(operation: OperationDefinitionNode | null | undefined): Slug | null {
  if (operation?.operation !== 'query' || operation.directives?.length) return null;
  const [root, ...rest] = operation.selectionSet.selections;
  if (rest.length > 0 || root?.kind !== Kind.FIELD || root.name.value !== 'project' || root.directives?.length) return null;
  const slug = root.arguments?.find((a) => a.name.value === 'slug')?.value;
  if (slug?.kind === Kind.STRING) return { literal: slug.value };
  if (slug?.kind === Kind.VARIABLE) return { variable: slug.name.value };
  return null;
}

const principalKey = (p: Principal) =>
  JSON.stringify([
    p.kind,
    p.subject,
    p.issuer ?? null,
    [...p.roles].sort(),
    [...(p.groups ?? [])].sort(),
    p.boundTo ? Object.entries(p.boundTo).sort(([a], [b]) => a.localeCompare(b)) : null,
  ]);

export function useResponseCache(database: Database, options: ResponseCacheOptions): Plugin<Context> {
  const entries = new Map<string, Entry>(); // insertion order = recency (re-inserted on use)
  // The write log only needs to cover entries still trusted; each replica prunes what is older.
  const prune = setInterval(() => void pruneProjectWrites(database).catch(() => {}), 60_000);
  prune.unref();
  const maxAgeMs = PROJECT_WRITES_KEEP_MS / 2;
  const name = 'stageplane_response_cache_total';
  // One registry may serve several handlers (tests build more than one app per process).
  const outcomes =
    (options.metrics.getSingleMetric(name) as Counter<'outcome'> | undefined) ??
    new Counter({
      name,
      help: 'Cacheable project queries by outcome: hit (answered from memory), stale (written since), miss (not cached)',
      labelNames: ['outcome'] as const,
      registers: [options.metrics],
    });

  return {
    onDispose: () => clearInterval(prune),
    async onExecute({ args, setResultAndStopExecution }) {
      const ctx = args.contextValue as Context;
      if (options.maxEntries <= 0 || !ctx.principal) return;
      const found = slugOf(args.document, args.operationName);
      if (!found) return;
      const slug = 'literal' in found ? found.literal : (args.variableValues as Record<string, unknown> | undefined)?.[found.variable];
      if (typeof slug !== 'string') return;
      let documentId = documentIds.get(args.document);
      if (documentId === undefined) documentIds.set(args.document, (documentId = nextDocumentId++));
      const key = `${principalKey(ctx.principal)}\u0000${documentId}\u0000${args.operationName ?? ''}\u0000${JSON.stringify(args.variableValues ?? {})}`;

      const entry = entries.get(key);
      let looked: ReadPoint | typeof HIT;
      try {
        looked = await lookUp(entry, slug);
      } catch {
        // The check failed (a slug PostgreSQL cannot take, the database going away): execute as if
        // there were no cache, so the answer and its error are the resolvers' own.
        entries.delete(key);
        return;
      }
      if (looked === HIT) {
        setResultAndStopExecution(entry!.result);
        return;
      }
      const point = looked;
      entries.delete(key);
      const projectId = point.projectId;
      if (projectId === null) return;
      return {
        onExecuteDone({ result }) {
          if (!isPlainResult(result) || result.errors?.length || !result.data) return;
          const expiresAt = Math.min(ctx.changesAt, Date.now() + maxAgeMs);
          if (expiresAt <= Date.now()) return;
          entries.set(key, { point: { ...point, projectId }, result, expiresAt });
          if (entries.size > options.maxEntries) entries.delete(entries.keys().next().value!);
        },
      };

      /** HIT when `entry` still holds; else the read point to label a new answer with. */
      async function lookUp(entry: Entry | undefined, slug: string): Promise<ReadPoint | typeof HIT> {
        if (!entry || entry.expiresAt <= Date.now()) {
          outcomes.inc({ outcome: 'miss' });
          return readPoint(ctx.db, slug);
        }
        const check = await unchangedSince(ctx.db, slug, entry.point);
        if (check.unchanged) {
          entries.delete(key);
          entries.set(key, entry);
          outcomes.inc({ outcome: 'hit' });
          return HIT;
        }
        outcomes.inc({ outcome: 'stale' });
        return check.now;
      }
    },
  };
}

const HIT = Symbol('hit');

const isPlainResult = (result: unknown): result is ExecutionResult =>
  typeof result === 'object' && result !== null && !(Symbol.asyncIterator in result);
