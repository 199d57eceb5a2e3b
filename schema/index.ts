// Assembles the GraphQL schema: each import adds its area's types and fields to the builder.
// The one entry point of the GraphQL layer for process wiring (server/yoga.ts).
import { builder } from './builder.ts';
import './projects.ts';
import './environments.ts';
import './databases.ts';
import './secrets.ts';
import './deployments.ts';
import './verification.ts';
import './freeze-windows.ts';
import './audit-log.ts';
import './viewer.ts';
import './project-access.ts';
import './trust-policies.ts';
import './subscriptions.ts';
import './insights.ts';
import './previews.ts';
import './notifications.ts';

export const schema = builder.toSchema({ sortSchema: false });
export type { Context } from './context.ts';
export { contextCacheKey, subscribed } from './context.ts';
