// Freeze windows (v2): the FreezeWindow node, Project.freezeWindows, Environment.activeFreeze,
// Deployment.freezeOverride, and createFreezeWindow/deleteFreezeWindow, each a call to
// services/freeze-windows.ts. The windows of a project are read once per request, however many
// environments ask for their active freeze.
import type { FreezeWindowRow } from '../db/schema/index.ts';
import { activeFreezeFor, nextFreezeChange, nextOccurrence, occurrenceChange, type FreezeOccurrence } from '../domain/freeze.ts';
import type { EnvironmentType } from '../domain/types.ts';
import { CreateFreezeWindowInputSchema, parseInput } from '../domain/validation.ts';
import { createFreezeWindow, deleteFreezeWindow, freezeRuleOf } from '../services/freeze-windows.ts';
import { builder, localId } from './builder.ts';
import { cached, changesBy, scopeOf, type Context } from './context.ts';
import { DeploymentRef } from './deployments.ts';
import { EnvironmentRef, EnvironmentTypeEnum, projectConfiguration } from './environments.ts';
import { ProjectRef } from './projects.ts';

/**
 * The project's live windows, once per request, from the project configuration the policy
 * reports read too (db/configuration.ts): no statement of their own on the pipeline page.
 */
const projectWindows = (ctx: Context, projectId: string) =>
  cached(ctx, `freeze-windows:${projectId}`, async () => (await projectConfiguration(ctx, projectId)).freezeWindows.map(freezeRuleOf));
/** One "now" per request: every field of one answer agrees on what is in force. */
const requestNow = (ctx: Context) => cached(ctx, 'freeze-now', async () => new Date());

const FreezeOccurrenceRef = builder.objectRef<FreezeOccurrence>('FreezeOccurrence').implement({
  fields: (t) => ({
    startsAt: t.expose('startsAt', { type: 'DateTime' }),
    endsAt: t.expose('endsAt', { type: 'DateTime' }),
  }),
});

export const FreezeWindowRef = builder.drizzleNode('freezeWindows', {
  name: 'FreezeWindow',
  id: { column: (w) => w.id },
  fields: (t) => ({
    name: t.exposeString('name'),
    reason: t.exposeString('reason'),
    environmentSlugs: t.exposeStringList('environmentSlugs', { description: 'globs allowed, e.g. "prod*"' }),
    environmentTypes: t.field({
      type: [EnvironmentTypeEnum],
      select: { columns: { environmentTypes: true } },
      resolve: (w) => w.environmentTypes as EnvironmentType[],
    }),
    startsAt: t.expose('startsAt', { type: 'DateTime' }),
    endsAt: t.expose('endsAt', { type: 'DateTime', nullable: true }),
    recurrence: t.exposeString('recurrence', { nullable: true, description: 'an RFC 5545 RRULE, in timeZone' }),
    durationMinutes: t.exposeInt('durationMinutes', { nullable: true }),
    timeZone: t.exposeString('timeZone'),
    allowRollback: t.exposeBoolean('allowRollback'),
    createdBy: t.exposeString('createdBy'),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    nextOccurrence: t.field({
      type: FreezeOccurrenceRef,
      nullable: true,
      description: 'The occurrence in force now, or the next one: null when none remains (or the window was deleted).',
      select: {
        columns: {
          id: true,
          name: true,
          reason: true,
          environmentSlugs: true,
          environmentTypes: true,
          startsAt: true,
          endsAt: true,
          recurrence: true,
          durationMinutes: true,
          timeZone: true,
          allowRollback: true,
          deletedAt: true,
        },
      },
      resolve: async (w, _args, ctx) => {
        if (w.deletedAt) return null;
        const rule = freezeRuleOf(w as FreezeWindowRow);
        const now = await requestNow(ctx);
        const occurrence = nextOccurrence(rule, now);
        changesBy(ctx, occurrenceChange(rule, occurrence, now));
        return occurrence;
      },
    }),
  }),
});

const FreezeOverrideRef = builder.drizzleObject('freezeOverrides', {
  name: 'FreezeOverride',
  fields: (t) => ({
    window: t.relation('window'),
    reason: t.exposeString('reason'),
    by: t.exposeString('by'),
  }),
});

builder.drizzleObjectFields(ProjectRef, (t) => ({
  freezeWindows: t.relation('freezeWindows', {
    description: 'Not deleted ones, oldest first.',
    query: { where: { deletedAt: { isNull: true as const } }, orderBy: { createdAt: 'asc' } },
  }),
}));

builder.drizzleObjectFields(EnvironmentRef, (t) => ({
  activeFreeze: t.field({
    type: FreezeWindowRef,
    nullable: true,
    description: 'The freeze window in force now, if any (the manual switch is `frozen`).',
    select: { columns: { projectId: true, slug: true, type: true } },
    resolve: async (env, _args, ctx) => {
      const windows = await projectWindows(ctx, env.projectId);
      const now = await requestNow(ctx);
      // Once per project and request, however many environments ask.
      changesBy(ctx, await cached(ctx, `freeze-change:${env.projectId}`, async () => nextFreezeChange(windows, now)));
      const found = activeFreezeFor(windows, env, now);
      return found?.window.row ?? null;
    },
  }),
}));

builder.drizzleObjectFields(DeploymentRef, (t) => ({
  freezeOverride: t.relation('freezeOverride', { type: FreezeOverrideRef, nullable: true }),
}));

// ---- mutations --------------------------------------------------------------------------------

const CreateFreezeWindowInput = builder.inputType('CreateFreezeWindowInput', {
  fields: (t) => ({
    projectId: t.id({ required: true }),
    name: t.string({ required: true }),
    reason: t.string({ required: true }),
    environmentSlugs: t.stringList({ description: 'globs; with environmentTypes empty too: every environment' }),
    environmentTypes: t.field({ type: [EnvironmentTypeEnum] }),
    startsAt: t.field({ type: 'DateTime', required: true }),
    endsAt: t.field({ type: 'DateTime', description: 'a one-off window; or recurrence + durationMinutes' }),
    recurrence: t.string({ description: 'RFC 5545 RRULE, e.g. "FREQ=WEEKLY;BYDAY=FR;BYHOUR=16;BYMINUTE=0"; HOURLY or coarser' }),
    durationMinutes: t.int({ description: '1 to 44640 (31 days)' }),
    timeZone: t.string({ description: 'IANA, default "UTC"' }),
    allowRollback: t.boolean({ description: 'default true' }),
  }),
});

builder.mutationFields((t) => ({
  createFreezeWindow: t.drizzleField({
    type: 'freezeWindows',
    args: { input: t.arg({ type: CreateFreezeWindowInput, required: true }) },
    resolve: (query, _root, args, ctx) => {
      const input = parseInput(CreateFreezeWindowInputSchema, args.input, 'input');
      return createFreezeWindow(scopeOf(ctx), { ...input, projectId: localId(args.input.projectId, 'Project') }, (tx, id) =>
        tx.query.freezeWindows.findFirst(query({ where: { id } })),
      );
    },
  }),
  deleteFreezeWindow: t.id({
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_root, args, ctx) => {
      await deleteFreezeWindow(scopeOf(ctx), localId(args.id, 'FreezeWindow'));
      return args.id;
    },
  }),
}));
