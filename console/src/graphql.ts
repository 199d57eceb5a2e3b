// gql.tada: every operation below is typed against the API's schema snapshot
// (schema/schema.graphql, introspected into graphql-env.d.ts by `npm run console:typecheck`).
// Results and variables are inferred from the documents: there is no hand-written response type.
import { initGraphQLTada } from 'gql.tada';
import type { introspection } from './graphql-env.d.ts';

export const graphql = initGraphQLTada<{
  introspection: introspection;
  scalars: { DateTime: string; JSON: unknown; ID: string };
  disableMasking: true;
}>();

export type { ResultOf, VariablesOf, TadaDocumentNode } from 'gql.tada';
