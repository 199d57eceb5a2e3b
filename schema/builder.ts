// The one Pothos builder: relay (global ids, node, connections), scope-auth (who is signed in)
// and drizzle (types backed by tables, planned into few SQL statements).
import SchemaBuilder from '@pothos/core';
import DrizzlePlugin from '@pothos/plugin-drizzle';
import RelayPlugin, { decodeGlobalID } from '@pothos/plugin-relay';
import ScopeAuthPlugin from '@pothos/plugin-scope-auth';
import { getTableConfig } from 'drizzle-orm/pg-core';
import { GraphQLError, GraphQLScalarType, Kind } from 'graphql';
import { relations } from '../db/relations.ts';
import { AppError, badInput, notFound } from '../domain/errors.ts';
import { authorize, type Action, type Principal } from '../domain/permissions.ts';
import { ROLES } from '../domain/values.ts';
import { hasAnyRole } from '../services/project-access.ts';
import type { Context } from './context.ts';
import { resolveVisibleNode, resolveVisibleNodes } from './node-access.ts';

export interface PothosTypes {
  Context: Context;
  DrizzleRelations: typeof relations;
  DefaultFieldNullability: false;
  DefaultEdgesNullability: false;
  DefaultNodeNullability: false;
  AuthScopes: {
    /** A user or API token (not a deployment's callback token). */
    authenticated: boolean;
    /** A deployment's callback token (WEBHOOK receivers). */
    callback: boolean;
  };
  Scalars: {
    DateTime: { Input: Date; Output: Date | string };
    JSON: { Input: unknown; Output: unknown };
    ID: { Input: string; Output: string };
  };
}

const refusalOf = (action: Action, principal: Principal) => {
  const decision = authorize(action, principal);
  return decision.allowed ? null : decision.reason;
};

export const builder = new SchemaBuilder<PothosTypes>({
  plugins: [ScopeAuthPlugin, RelayPlugin, DrizzlePlugin],
  defaultFieldNullability: false,
  drizzle: {
    client: (ctx) => ctx.db,
    getTableConfig,
    relations,
  },
  relay: {
    clientMutationId: 'omit',
    cursorType: 'String',
    // node(id)/nodes(ids): null for anything inside a project the caller may not see (v2).
    nodeQueryOptions: { resolve: (_root, args, ctx, info, resolveNode) => resolveVisibleNode(ctx, info, args.id, resolveNode) },
    nodesQueryOptions: { resolve: (_root, args, ctx, info, resolveNodes) => resolveVisibleNodes(ctx, info, args.ids, resolveNodes) },
    // The contract's PageInfo and edges are non-null, as the relay plugin makes them by default.
  },
  scopeAuth: {
    authScopes: (ctx) => ({
      // The contract's 'read' row: a role somewhere (global, bound, or granted in a project), not a
      // callback token. Only a principal without global roles costs a statement (its grants).
      authenticated: () => (ctx.principal === null ? false : hasAnyRole(ctx.db, ctx.principal)),
      callback: ctx.principal?.kind === 'callback',
    }),
    authorizeOnSubscribe: true,
    unauthorizedError: (_parent, context) =>
      context.principal === null
        ? new AppError('UNAUTHENTICATED', context.authError ?? 'A valid bearer token is required')
        : new AppError('FORBIDDEN', refusalOf('read', context.principal) ?? 'This token may not do that'),
  },
});

builder.scalarType('DateTime', {
  description: 'ISO-8601 string in UTC',
  serialize: (value) => new Date(value).toISOString(),
  parseValue: (value) => parseDateTime(value),
});

function parseDateTime(value: unknown): Date {
  if (typeof value !== 'string' || !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/.test(value)) {
    throw new GraphQLError('DateTime must be an ISO-8601 string with a time zone, e.g. 2026-12-01T00:00:00Z', {
      extensions: { code: 'BAD_USER_INPUT' },
    });
  }
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) {
    throw new GraphQLError(`Not a valid DateTime: ${value}`, { extensions: { code: 'BAD_USER_INPUT' } });
  }
  return date;
}

builder.addScalarType(
  'JSON',
  new GraphQLScalarType({
    name: 'JSON',
    serialize: (v) => v,
    parseValue: (v) => v,
    parseLiteral: function parse(ast): unknown {
      switch (ast.kind) {
        case Kind.STRING:
        case Kind.BOOLEAN:
          return ast.value;
        case Kind.INT:
        case Kind.FLOAT:
          return Number(ast.value);
        case Kind.OBJECT:
          return Object.fromEntries(ast.fields.map((f) => [f.name.value, parse(f.value)]));
        case Kind.LIST:
          return ast.values.map((v) => parse(v));
        case Kind.NULL:
          return null;
        default:
          throw new GraphQLError('Variables are not supported inside JSON literals', {
            extensions: { code: 'BAD_USER_INPUT' },
          });
      }
    },
  }),
);

// Every root field needs a signed-in user; a callback token reaches only reportDeploymentStatus.
// (The Subscription type is declared by the live-progress area, with its fields.)
builder.queryType({ authScopes: { authenticated: true } });
builder.mutationType({ authScopes: { authenticated: true } });

/**
 * A GraphQL enum's values from one of domain/values.ts' lists, in its order, with descriptions
 * for some: the list stays the one definition, the schema only adds words.
 */
export function enumValues<const T extends string>(values: readonly T[], descriptions: Partial<Record<T, string>> = {}) {
  return Object.fromEntries(values.map((v) => [v, descriptions[v] ? { description: descriptions[v] } : {}])) as Record<
    T,
    { description?: string }
  >;
}

export const RoleEnum = builder.enumType('Role', { values: ROLES });

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The database id inside a global id of the expected type. A malformed id, or a valid id of
 * another type, names nothing of that type: NOT_FOUND (the contract's rule).
 */
export function localId(globalId: string, typename: string): string {
  let decoded: { typename: string; id: string };
  try {
    decoded = decodeGlobalID(globalId);
  } catch {
    throw notFound(`No ${typename} with id ${JSON.stringify(globalId)}`);
  }
  if (decoded.typename !== typename || !UUID.test(decoded.id)) {
    throw notFound(`No ${typename} with id ${JSON.stringify(globalId)}`);
  }
  return decoded.id.toLowerCase();
}

/** Like localId, but null instead of NOT_FOUND (for nullable lookups such as `deployment(id)`). */
export function tryLocalId(globalId: string, typename: string): string | null {
  try {
    return localId(globalId, typename);
  } catch {
    return null;
  }
}

/** Page size for connections: the contract's `first`, bounded. */
export function pageSize(first: number | null | undefined, field = 'first'): number {
  if (first === null || first === undefined) return 50;
  if (!Number.isInteger(first) || first < 0 || first > 100) throw badInput(`${field} must be between 0 and 100`, field);
  return first;
}
