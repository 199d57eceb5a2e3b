// Live progress: the Subscription type. Both fields read from the process's event hub
// (live/hub.ts): one LISTEN and one load per event, whatever the number of subscribers.
import { badInput, notFound } from '../domain/errors.ts';
import type { EventRow } from '../live/event-log-reader.ts';
import { SLOW_CONSUMER_CLOSE_CODE, transportCloserOf } from '../live/transport-closer.ts';
import type { Context } from './context.ts';
import { builder, localId } from './builder.ts';
import { DeploymentEventRef } from './deployments.ts';
import { inVisibleProjectWhere, visibleProjectsWhere } from './projects.ts';

// Any signed-in user may subscribe (README: "Any authenticated role may read").
builder.subscriptionType({ authScopes: { authenticated: true } });

// The closer is taken now: the feed's hook then holds it, not the operation's context.
const dropHook = (ctx: Context) => {
  const close = transportCloserOf(ctx);
  return { onDrop: (error: Error) => close?.(SLOW_CONSUMER_CLOSE_CODE, error.message) };
};

/**
 * Hands a row from the hub to the selection beneath the field. Building the planned query records
 * that the row carries its columns (it has them all): without that, the drizzle plugin would load
 * every event again, once per subscriber. A relation selected beneath (none today) would still be
 * loaded by the plugin's fallback.
 */
const asPlanned = (query: () => unknown, event: EventRow) => {
  query();
  return event;
};

builder.subscriptionFields((t) => ({
  deploymentEvents: t.drizzleField({
    type: DeploymentEventRef,
    description:
      "The deployment's events after `afterSeq`, replayed from the log, then live as they happen; each seq once, ascending. " +
      'Completes after the event whose status is terminal (at once for a finished deployment).',
    args: {
      deploymentId: t.arg.id({ required: true }),
      afterSeq: t.arg.int({ defaultValue: 0 }),
    },
    subscribe: async (_root, args, ctx): Promise<AsyncIterable<EventRow>> => {
      const deploymentId = localId(String(args.deploymentId), 'Deployment');
      const afterSeq = args.afterSeq ?? 0;
      if (!Number.isInteger(afterSeq) || afterSeq < 0) throw badInput('afterSeq must be 0 or more', 'afterSeq');
      // A deployment of a project the caller may not see: the same NOT_FOUND as a missing one.
      const deployment = await ctx.db.query.deployments.findFirst({
        where: { id: deploymentId, ...inVisibleProjectWhere(ctx) },
        columns: { id: true, projectId: true, lastSeq: true },
      });
      if (!deployment) throw notFound(`No Deployment with id ${JSON.stringify(args.deploymentId)}`);
      if (afterSeq > deployment.lastSeq) {
        throw badInput(`afterSeq ${afterSeq} is beyond the deployment's last event (${deployment.lastSeq})`, 'afterSeq');
      }
      return ctx.services.events.followDeployment({ deploymentId, projectId: deployment.projectId, afterSeq }, dropHook(ctx));
    },
    resolve: (query, event) => asPlanned(query, event as EventRow),
  }),
  projectEvents: t.drizzleField({
    type: DeploymentEventRef,
    description: 'Every event of every deployment of the project, live, from the moment of subscribing.',
    args: { projectSlug: t.arg.string({ required: true }) },
    subscribe: async (_root, args, ctx): Promise<AsyncIterable<EventRow>> => {
      const project = await ctx.db.query.projects.findFirst({
        where: { slug: args.projectSlug, ...visibleProjectsWhere(ctx) },
        columns: { id: true },
      });
      if (!project) throw notFound(`No project with slug ${JSON.stringify(args.projectSlug)}`);
      return ctx.services.events.followProject(project.id, dropHook(ctx));
    },
    resolve: (query, event) => asPlanned(query, event as EventRow),
  }),
}));
