// Preview environments (v2): PreviewPolicy, Project.previewPolicy, Environment.previewBranch and
// setPreviewPolicy. Previews themselves are Environments (purpose FEATURE_BRANCH).
import type { PreviewPolicyRow } from '../db/schema/index.ts';
import { previewPolicies } from '../db/schema/index.ts';
import { parseInput, SetPreviewPolicyInputSchema } from '../domain/validation.ts';
import { PREVIEW_TTL_HOURS } from '../domain/previews.ts';
import { setPreviewPolicy } from '../services/previews.ts';
import { eq } from 'drizzle-orm';
import { builder, localId } from './builder.ts';
import { scopeOf } from './context.ts';
import { EnvironmentRef } from './environments.ts';
import { ProjectRef } from './projects.ts';

const PreviewPolicyRef = builder.objectRef<PreviewPolicyRow>('PreviewPolicy').implement({
  description: 'When enabled, a push to a branch matching branchPattern makes that branch a preview environment.',
  fields: (t) => ({
    enabled: t.exposeBoolean('enabled'),
    branchPattern: t.exposeString('branchPattern', { description: 'glob, e.g. "feature/*"' }),
    copySettingsFrom: t.exposeString('copySettingsFrom', {
      description: 'slug of the environment whose settings, policy and target previews start from',
    }),
    ttlHours: t.exposeInt('ttlHours', { description: 'a preview archives itself this long after its last push' }),
  }),
});

builder.drizzleObjectFields(ProjectRef, (t) => ({
  previewPolicy: t.field({
    type: PreviewPolicyRef,
    nullable: true,
    description: 'Null until setPreviewPolicy is first called.',
    resolve: async (project, _args, ctx) =>
      (await ctx.db.select().from(previewPolicies).where(eq(previewPolicies.projectId, project.id)))[0] ?? null,
  }),
}));

builder.drizzleObjectFields(EnvironmentRef, (t) => ({
  previewBranch: t.exposeString('previewBranch', { nullable: true, description: 'for preview environments: the branch it follows' }),
}));

const SetPreviewPolicyInput = builder.inputType('SetPreviewPolicyInput', {
  fields: (t) => ({
    projectId: t.id({ required: true }),
    enabled: t.boolean({ required: true }),
    branchPattern: t.string({ required: true }),
    copySettingsFrom: t.string({ description: 'default development; an active environment of the project' }),
    ttlHours: t.int({ description: `default ${PREVIEW_TTL_HOURS.default}, ${PREVIEW_TTL_HOURS.min} to ${PREVIEW_TTL_HOURS.max}` }),
  }),
});

builder.mutationFields((t) => ({
  setPreviewPolicy: t.drizzleField({
    type: 'projects',
    args: { input: t.arg({ type: SetPreviewPolicyInput, required: true }) },
    resolve: (query, _root, args, ctx) => {
      const input = parseInput(SetPreviewPolicyInputSchema, args.input, 'input');
      return setPreviewPolicy(scopeOf(ctx), localId(args.input.projectId, 'Project'), input, (tx, id) =>
        tx.query.projects.findFirst(query({ where: { id } })),
      );
    },
  }),
}));
