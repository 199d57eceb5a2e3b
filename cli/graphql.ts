// The CLI's GraphQL documents are typed by gql.tada from the schema snapshot, schema/schema.graphql:
// `npm run cli:types` turns the snapshot into cli/graphql-env.d.ts, and a unit test checks that
// file is current and that every document validates against the snapshot. There is no
// hand-written copy of the schema's types in cli/.
import { initGraphQLTada } from 'gql.tada';
import type { introspection } from './graphql-env.d.ts';

export const graphql = initGraphQLTada<{
  introspection: introspection;
  scalars: { DateTime: string; JSON: unknown; ID: string };
  disableMasking: true;
}>();

export type { FragmentOf, ResultOf, VariablesOf, TadaDocumentNode } from 'gql.tada';
export { readFragment } from 'gql.tada';
