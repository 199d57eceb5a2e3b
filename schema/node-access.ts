// The one place `node(id)` and `nodes(ids)` decide visibility (v2): an object inside a project the
// caller may not see is null, exactly as if it did not exist. Every Node type is backed by a
// table; the project is the row itself (projects) or its project_id column, so a Node type added
// later is covered without registering it here. A Node type with neither is refused (null) and
// named by test/unit/node-access.test.ts, so it cannot ship unnoticed.
import { and, eq, getColumns, sql, type SQL } from 'drizzle-orm';
import type { PgColumn, PgTable } from 'drizzle-orm/pg-core';
import type { GraphQLResolveInfo, GraphQLSchema } from 'graphql';
import { projects } from '../db/schema/index.ts';
import { visibleProjects } from '../services/project-access.ts';
import type { Context } from './context.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

interface NodeTable {
  table: PgTable;
  id: PgColumn;
  /** The condition "the row's project is visible to ...", built from the row's columns. */
  projectOf: { id: PgColumn; visibility?: PgColumn };
}

/** The table of a Node type and how to find its project; null when it has none (refused). */
export function nodeTableOf(schema: GraphQLSchema, typename: string): NodeTable | null {
  const type = schema.getType(typename);
  const table = (type?.extensions as { pothosDrizzleTable?: { table?: PgTable } } | undefined)?.pothosDrizzleTable?.table;
  if (!table) return null;
  const columns = getColumns(table) as Record<string, PgColumn>;
  const id = columns.id;
  if (!id) return null;
  if (table === projects) return { table, id, projectOf: { id: projects.id, visibility: projects.visibility } };
  return columns.projectId ? { table, id, projectOf: { id: columns.projectId } } : null;
}

/** Whether the caller may see the object a decoded global id names (false also when it does not exist). */
async function visible(ctx: Context, info: GraphQLResolveInfo, id: { typename: string; id: string }): Promise<boolean> {
  const principal = ctx.principal;
  if (!principal) return false;
  const node = nodeTableOf(info.schema, id.typename);
  if (!node || !UUID.test(id.id)) return false;
  const condition: SQL | undefined = visibleProjects(principal, node.projectOf);
  // Everything is visible to a global ADMIN: the node loader alone answers, no extra statement.
  if (condition === undefined) return true;
  const [row] = await ctx.db
    .select({ one: sql<number>`1` })
    .from(node.table)
    .where(and(eq(node.id, id.id.toLowerCase()), condition))
    .limit(1);
  return row !== undefined;
}

type Id = { typename: string; id: string };

/** relay's nodeQueryOptions.resolve: null for what the caller may not see. */
export async function resolveVisibleNode(
  ctx: Context,
  info: GraphQLResolveInfo,
  id: Id,
  resolveNode: (id: Id) => unknown,
): Promise<unknown> {
  return (await visible(ctx, info, id)) ? resolveNode(id) : null;
}

/** relay's nodesQueryOptions.resolve: each id the caller may not see is null, in place. */
export async function resolveVisibleNodes(
  ctx: Context,
  info: GraphQLResolveInfo,
  ids: Id[],
  resolveNodes: (ids: Id[]) => unknown,
): Promise<unknown[]> {
  const shown = await Promise.all(ids.map((id) => visible(ctx, info, id)));
  if (!shown.some(Boolean)) return ids.map(() => null);
  const nodes = (await resolveNodes(ids)) as unknown[];
  return nodes.map((node, i) => (shown[i] ? node : null));
}
