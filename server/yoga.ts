// The GraphQL handler: Yoga with the schema, the request context, limits and metrics. The same
// instance serves HTTP, SSE and (through getEnveloped) WebSocket, so every transport gets the
// same plugins, auth and limits.
import { EnvelopArmorPlugin } from '@escape.tech/graphql-armor';
import { usePrometheus } from '@graphql-yoga/plugin-prometheus';
import { GraphQLError } from 'graphql';
import { createYoga, type Plugin } from 'graphql-yoga';
import { translateDatabaseError } from '../db/errors.ts';
import { AppError } from '../domain/errors.ts';
import { contextCacheKey, schema, subscribed, type Context } from '../schema/index.ts';
import { authenticate } from './auth.ts';
import { identityOf } from './oidc.ts';
import { useRequestErrorCodes } from './error-codes.ts';
import { useRedactInvalidValues } from './redact.ts';
import { useSharedSubscriptionExecution } from '../live/shared-executions.ts';
import { useResponseCache } from './response-cache.ts';
import type { Services } from '../services/scope.ts';

export type { Context };
export { subscribed };

/** The limits every operation meets, on every transport (graphql-armor). */
export const LIMITS = {
  maxDepth: 12,
  maxAliases: 30,
  maxDirectives: 20,
  maxTokens: 3000,
  maxCost: 20000,
} as const;

export interface RequestServerContext {
  /** The Authorization header (HTTP) or connectionParams.authorization (WebSocket). */
  authorization?: string | null;
}

/** Every operation needs a principal; refusing here also covers introspection. */
function useRequireAuthentication(): Plugin<Context> {
  const refuse = (ctx: Context) =>
    new GraphQLError(ctx.authError ?? 'A valid bearer token is required', {
      extensions: { code: 'UNAUTHENTICATED', http: { status: 401 } },
    });
  return {
    onExecute({ args, setResultAndStopExecution }) {
      const ctx = args.contextValue as Context;
      if (!ctx.principal) setResultAndStopExecution({ errors: [refuse(ctx)] });
    },
    onSubscribe({ args, setResultAndStopExecution }) {
      const ctx = args.contextValue as Context;
      if (!ctx.principal) setResultAndStopExecution({ errors: [refuse(ctx)] });
    },
  };
}

const hasCode = (e: unknown) => typeof (e as { extensions?: { code?: unknown } }).extensions?.code === 'string';

export interface GraphQLHandlerOptions {
  /** The span-per-operation plugin (server/telemetry.ts), when tracing is configured. */
  tracing?: Plugin | undefined;
}

export function createGraphQLHandler(services: Services, options: GraphQLHandlerOptions = {}) {
  const responseCache = useResponseCache(services.database.db, {
    maxEntries: services.config.responseCacheEntries,
    metrics: services.metrics,
  });
  const yoga = createYoga<RequestServerContext, Context>({
    schema,
    graphqlEndpoint: '/graphql',
    landingPage: false,
    // CORS is server/cors.ts' (by CORS_ORIGINS): Yoga's default reflects any origin with credentials.
    cors: false,
    graphiql: { title: 'Stageplane', headers: JSON.stringify({ Authorization: 'Bearer <paste the token from npm run token>' }) },
    logging: {
      debug: (...args) => services.log.debug({ args }, 'yoga'),
      info: (...args) => services.log.info({ args }, 'yoga'),
      warn: (...args) => services.log.warn({ args }, 'yoga'),
      error: (...args) => services.log.error({ err: args[0] }, 'yoga error'),
    },
    // Batching multiplies the cost of one request beyond the per-operation limits.
    batching: false,
    maskedErrors: {
      maskError(error, message) {
        const original = (error as GraphQLError).originalError;
        // Refusals (GraphQLErrors with a contract code) reach the client as they are.
        if (error instanceof GraphQLError && (!original || original instanceof GraphQLError || hasCode(original))) return error;
        // A database error that is the caller's doing (a NUL in a query argument, say): the same
        // translation mutations get (schema/audit.ts); queries land here.
        const translated = translateDatabaseError(original);
        if (translated instanceof AppError) return translated;
        services.log.error({ err: original ?? error }, 'unexpected error in a resolver');
        return new GraphQLError(message, { extensions: { code: 'INTERNAL_SERVER_ERROR' } });
      },
    },
    context: async ({ request, authorization }): Promise<Context> => {
      const header = authorization !== undefined ? authorization : request?.headers.get('authorization');
      const auth = await authenticate(services.database.db, services.config.jwtSecret, header, identityOf(services));
      return {
        ...contextCacheKey(),
        db: services.database.db,
        services,
        principal: auth.principal,
        authError: auth.error,
        log: services.log,
        cache: new Map(),
        changesAt: Number.POSITIVE_INFINITY,
      };
    },
    plugins: [
      EnvelopArmorPlugin({
        maxDepth: { n: LIMITS.maxDepth, ignoreIntrospection: true },
        maxAliases: { n: LIMITS.maxAliases },
        maxDirectives: { n: LIMITS.maxDirectives },
        maxTokens: { n: LIMITS.maxTokens },
        costLimit: { maxCost: LIMITS.maxCost, ignoreIntrospection: true },
        blockFieldSuggestion: { enabled: false },
      }),
      useRequireAuthentication(),
      // After authentication (keys are per principal), before execution is planned.
      responseCache,
      useRedactInvalidValues(),
      // After the redaction above: the plugin records the (redacted) errors of a failed operation.
      ...(options.tracing ? [options.tracing as Plugin<Context>] : []),
      useRequestErrorCodes(),
      usePrometheus({
        endpoint: '/metrics',
        registry: services.metrics,
        // Kept: request counts, durations, errors, context and execute phases. Dropped: per-request
        // work the profile of the pipeline query showed (deprecated-field visits of every document,
        // quantile summaries) and phases Yoga serves from its parse and validate caches.
        metrics: {
          graphql_envelop_deprecated_field: false,
          graphql_envelop_request_time_summary: false,
          graphql_envelop_phase_parse: false,
          graphql_envelop_phase_validate: false,
        },
      }),
      useSharedSubscriptionExecution(),
    ],
  });
  return yoga;
}

export type GraphQLHandler = ReturnType<typeof createGraphQLHandler>;
