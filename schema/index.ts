// Assembles the GraphQL schema: each import adds its area's types and fields to the builder.
import { builder } from './builder.ts';
import './projects.ts';
import './environments.ts';
import './databases.ts';
import './secrets.ts';
import './deployments.ts';
import './audit.ts';
import './viewer.ts';
import './subscriptions.ts';

export const schema = builder.toSchema({ sortSchema: false });
