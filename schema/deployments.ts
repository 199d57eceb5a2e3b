// Releases and deployments: their types and read queries, and the mutations that create and
// drive deployments (push, deploy, promote, roll back, decide, cancel, report), each a call to
// services/deployments.ts or services/decisions.ts.
import { decodeBase64, decodeCursorChunk } from '@pothos/core';
import { encodeGlobalID } from '@pothos/plugin-relay';
import type { ConfigSnapshot, DeploymentStep } from '../domain/types.ts';
import {
  DecisionInputSchema,
  DeployInputSchema,
  parseInput,
  PromoteInputSchema,
  RecordPushInputSchema,
  ReportDeploymentStatusInputSchema,
  RollbackInputSchema,
} from '../domain/validation.ts';
import { APPROVAL_DECISIONS, DEPLOYMENT_EVENT_TYPES, DEPLOYMENT_KINDS, DEPLOYMENT_STATUSES, STEP_STATUSES } from '../domain/values.ts';
import { cancelDeployment, decideOnDeployment } from '../services/decisions.ts';
import { deploy, promote, recordPush, reportDeploymentStatus, rollback } from '../services/deployments.ts';
import { builder, enumValues, localId, tryLocalId } from './builder.ts';
import { scopeOf, type Context } from './context.ts';
import { EnvironmentRef } from './environments.ts';
import { inVisibleProjectWhere, ProjectRef } from './projects.ts';

export const DeploymentStatusEnum = builder.enumType('DeploymentStatus', {
  values: enumValues(DEPLOYMENT_STATUSES, {
    WAITING: 'wait timer, or queued behind another deployment of the environment',
    EXPIRED: 'approval timed out',
  }),
});
export const DeploymentKindEnum = builder.enumType('DeploymentKind', { values: DEPLOYMENT_KINDS });
const ApprovalDecisionEnum = builder.enumType('ApprovalDecision', { values: APPROVAL_DECISIONS });
export const StepStatusEnum = builder.enumType('StepStatus', { values: STEP_STATUSES });
export const DeploymentEventTypeEnum = builder.enumType('DeploymentEventType', {
  values: enumValues(DEPLOYMENT_EVENT_TYPES, {
    APPROVED: 'one approval recorded',
    APPROVALS_INVALIDATED: "the target's configuration changed; approvals so far are void",
    FREEZE_OVERRIDDEN: "a freeze window's glass was broken; the message has the reason",
    FROZEN_WAIT: 'held back by a freeze window that began before it started; the message names it and its end',
  }),
});

export const ReleaseRef = builder.drizzleNode('releases', {
  name: 'Release',
  id: { column: (r) => r.id },
  fields: (t) => ({
    version: t.exposeString('version'),
    commitSha: t.exposeString('commitSha'),
    branch: t.exposeString('branch'),
    message: t.exposeString('message', { nullable: true }),
    author: t.exposeString('author', { nullable: true }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

const ApprovalRef = builder.drizzleObject('approvals', {
  name: 'Approval',
  fields: (t) => ({
    approver: t.exposeString('approver'),
    decision: t.expose('decision', { type: ApprovalDecisionEnum }),
    comment: t.exposeString('comment', { nullable: true }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

const DeploymentStepRef = builder.objectRef<DeploymentStep>('DeploymentStep').implement({
  fields: (t) => ({
    name: t.exposeString('name'),
    status: t.expose('status', { type: StepStatusEnum }),
    progress: t.exposeFloat('progress', { description: '0..1' }),
    startedAt: t.expose('startedAt', { type: 'DateTime', nullable: true }),
    finishedAt: t.expose('finishedAt', { type: 'DateTime', nullable: true }),
  }),
});

const ConfigSnapshotRef = builder.objectRef<ConfigSnapshot>('ConfigSnapshot').implement({
  fields: (t) => ({
    digest: t.exposeString('digest', { description: 'sha256 hex over everything below, canonical JSON' }),
    settingsVersion: t.exposeInt('settingsVersion'),
    settings: t.expose('settings', { type: 'JSON' }),
    databases: t.expose('databases', { type: 'JSON', description: 'connection name -> value (no passwords)' }),
    secretVersions: t.expose('secretVersions', {
      type: 'JSON',
      description: 'secret name -> versionId or null (never a value)',
    }),
    takenAt: t.expose('takenAt', { type: 'DateTime' }),
  }),
});

export const DeploymentEventRef = builder.drizzleObject('deploymentEvents', {
  name: 'DeploymentEvent',
  fields: (t) => ({
    seq: t.exposeInt('seq', { description: '1, 2, 3, ... per deployment, no gaps' }),
    deploymentId: t.id({ resolve: (e) => encodeGlobalID('Deployment', e.deploymentId) }),
    type: t.expose('type', { type: DeploymentEventTypeEnum }),
    status: t.expose('status', { type: DeploymentStatusEnum, description: "the deployment's status after this event" }),
    step: t.exposeString('step', { nullable: true }),
    progress: t.exposeFloat('progress', { nullable: true }),
    message: t.exposeString('message', { nullable: true }),
    at: t.expose('at', { type: 'DateTime' }),
  }),
});

export const DeploymentRef = builder.drizzleNode('deployments', {
  name: 'Deployment',
  id: { column: (d) => d.id },
  // Only the columns the selected fields need: exposed columns bring their own, the fields below
  // with a resolver name theirs. A pipeline card does not read the pinned snapshot (~2 KB a row).
  select: { columns: { id: true } },
  fields: (t) => ({
    project: t.relation('project'),
    environment: t.relation('environment'),
    release: t.relation('release'),
    sourceEnvironment: t.relation('sourceEnvironment', { nullable: true, description: 'for promotions' }),
    kind: t.expose('kind', { type: DeploymentKindEnum }),
    status: t.expose('status', { type: DeploymentStatusEnum }),
    requestedBy: t.exposeString('requestedBy'),
    requiredApprovals: t.exposeInt('requiredApprovals'),
    approvals: t.relation('approvals', {
      type: ApprovalRef,
      query: { where: { invalidatedAt: { isNull: true } }, orderBy: { createdAt: 'asc' } },
    }),
    steps: t.field({ type: [DeploymentStepRef], select: { columns: { steps: true } }, resolve: (d) => d.steps }),
    progress: t.exposeFloat('progress', { description: '0..1 over all steps' }),
    error: t.exposeString('error', { nullable: true }),
    events: t.relation('events', {
      type: DeploymentEventRef,
      description: 'Every event of this deployment, seq ascending, after `afterSeq`.',
      args: { afterSeq: t.arg.int({ defaultValue: 0 }), first: t.arg.int() },
      query: (args) => ({
        where: { seq: { gt: args.afterSeq ?? 0 } },
        orderBy: { seq: 'asc' },
        ...(args.first != null ? { limit: Math.max(0, Math.min(args.first, 10_000)) } : {}),
      }),
    }),
    snapshot: t.field({
      type: ConfigSnapshotRef,
      description: "What exactly this deployment ships besides the release: the target's configuration as it was pinned.",
      select: { columns: { snapshot: true } },
      resolve: (d) => d.snapshot,
    }),
    workflowId: t.exposeString('workflowId', { description: 'the Temporal workflow that runs it' }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    startedAt: t.expose('startedAt', { type: 'DateTime', nullable: true }),
    finishedAt: t.expose('finishedAt', { type: 'DateTime', nullable: true }),
  }),
});

/**
 * The createdAt of a connection cursor over `createdAt desc, id desc`, or undefined when the
 * cursor can't be read as one (the plugin then rejects it, or pages by it, as it always did).
 *
 * @pothos/plugin-drizzle writes a cursor as base64 of `DC:` and a tagged chunk of @pothos/core:
 * `T:["D:<epoch ms>","S:<id>"]` for the two ordering columns, or a bare `D:<epoch ms>` for a
 * cursor holding only the first. The timestamps are stored at millisecond precision, so the
 * cursor's Date is exactly the row's created_at.
 */
function cursorCreatedAt(cursor: string | null | undefined): Date | undefined {
  if (!cursor) return undefined;
  try {
    const decoded = decodeBase64(cursor);
    if (!decoded.startsWith('DC:')) return undefined;
    const parsed: unknown = decodeCursorChunk(decoded.slice(3));
    const first = Array.isArray(parsed) ? parsed[0] : parsed;
    return first instanceof Date && !Number.isNaN(first.getTime()) ? first : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A bound on createdAt implied by the page's cursors, for connections ordered newest first. The
 * plugin's own keyset filter (`created_at < c OR (created_at = c AND id < i)`) is not an index
 * condition, so a page after a deep cursor would scan every newer row and filter it out; this
 * redundant `created_at <= c` (after) / `>= c` (before) starts the index range scan at the cursor.
 * It never changes which rows match.
 */
function newestFirstCursorBound(args: { after?: string | null; before?: string | null }) {
  const after = cursorCreatedAt(args.after);
  const before = cursorCreatedAt(args.before);
  if (!after && !before) return undefined;
  return { createdAt: { ...(after ? { lte: after } : {}), ...(before ? { gte: before } : {}) } };
}

const ReleaseConnection = builder.connectionObject({ type: ReleaseRef, name: 'ReleaseConnection' }, { name: 'ReleaseEdge' });
const DeploymentConnection = builder.connectionObject({ type: DeploymentRef, name: 'DeploymentConnection' }, { name: 'DeploymentEdge' });

builder.drizzleObjectFields(ProjectRef, (t) => ({
  releases: t.relatedConnection(
    'releases',
    { query: (args) => ({ where: newestFirstCursorBound(args), orderBy: { createdAt: 'desc' } }) },
    ReleaseConnection,
  ),
  deployments: t.relatedConnection(
    'deployments',
    {
      description: 'Newest first.',
      args: {
        environment: t.arg.string(),
        status: t.arg({ type: [DeploymentStatusEnum] }),
      },
      query: (args) => ({
        where: {
          ...(args.environment ? { environment: { slug: args.environment } } : {}),
          ...(args.status?.length ? { status: { in: args.status } } : {}),
          ...newestFirstCursorBound(args),
        },
        orderBy: { createdAt: 'desc' },
      }),
    },
    DeploymentConnection,
  ),
}));

builder.drizzleObjectFields(EnvironmentRef, (t) => ({
  currentRelease: t.field({
    type: ReleaseRef,
    nullable: true,
    description: 'of the last SUCCEEDED deployment',
    select: (_args, _ctx, nestedSelection) => ({
      with: {
        succeededDeployments: {
          orderBy: { finishedAt: 'desc', createdAt: 'desc' },
          limit: 1,
          columns: { id: true },
          with: { release: nestedSelection() },
        },
      },
    }),
    resolve: (env) => env.succeededDeployments[0]?.release ?? null,
  }),
  activeDeployment: t.field({
    type: DeploymentRef,
    nullable: true,
    description: 'the one not yet finished, if any',
    select: (_args, _ctx, nestedSelection) => ({
      with: { unfinishedDeployments: nestedSelection({ orderBy: { createdAt: 'asc' }, limit: 1 }) },
    }),
    resolve: (env) => env.unfinishedDeployments[0] ?? null,
  }),
  deployments: t.relatedConnection(
    'deployments',
    { query: (args) => ({ where: newestFirstCursorBound(args), orderBy: { createdAt: 'desc' } }) },
    DeploymentConnection,
  ),
}));

builder.queryFields((t) => ({
  deployment: t.drizzleField({
    type: 'deployments',
    nullable: true,
    args: { id: t.arg.id({ required: true }) },
    resolve: async (query, _root, args, ctx) => {
      const id = tryLocalId(args.id, 'Deployment');
      return id ? ctx.db.query.deployments.findFirst(query({ where: { id, ...inVisibleProjectWhere(ctx) } })) : null;
    },
  }),
}));

// ---- mutations: push, deploy, promote, roll back, decide, cancel, report -----------------------

const PushResultRef = builder.objectRef<{ releaseId: string; deploymentIds: string[] }>('PushResult');

const RecordPushInput = builder.inputType('RecordPushInput', {
  fields: (t) => ({
    projectId: t.id({ required: true }),
    branch: t.string({ required: true }),
    commitSha: t.string({ required: true, description: '7 to 40 hex digits' }),
    message: t.string(),
    author: t.string(),
    version: t.string({ description: 'defaults to the short sha' }),
  }),
});
const FreezeOverrideInput = builder.inputType('FreezeOverrideInput', {
  description: "Breaking a freeze window's glass: needs a role of policy.freezeOverrideRoles and another person's approval.",
  fields: (t) => ({ reason: t.string({ required: true }) }),
});
const DeployInput = builder.inputType('DeployInput', {
  fields: (t) => ({
    environmentId: t.id({ required: true }),
    releaseId: t.id({ required: true }),
    overrideFreeze: t.field({ type: FreezeOverrideInput }),
  }),
});
const PromoteInput = builder.inputType('PromoteInput', {
  description: "The target; the release is the source environment's current one unless given.",
  fields: (t) => ({ environmentId: t.id({ required: true }), releaseId: t.id(), overrideFreeze: t.field({ type: FreezeOverrideInput }) }),
});
const RollbackInput = builder.inputType('RollbackInput', {
  fields: (t) => ({
    environmentId: t.id({ required: true }),
    releaseId: t.id({ description: 'defaults to the release before the current one' }),
  }),
});
const DecisionInput = builder.inputType('DecisionInput', {
  fields: (t) => ({ deploymentId: t.id({ required: true }), comment: t.string() }),
});
const ReportDeploymentStatusInput = builder.inputType('ReportDeploymentStatusInput', {
  fields: (t) => ({
    deploymentId: t.id({ required: true }),
    step: t.string(),
    progress: t.float(),
    status: t.field({ type: StepStatusEnum, required: true }),
    message: t.string(),
  }),
});

PushResultRef.implement({
  fields: (t) => ({
    release: t.drizzleField({
      type: 'releases',
      resolve: async (query, r, _args, ctx) => (await ctx.db.query.releases.findFirst(query({ where: { id: r.releaseId } })))!,
    }),
    deployments: t.drizzleField({
      type: ['deployments'],
      description: 'one per AUTO_ON_PUSH environment whose branchPattern matches',
      resolve: (query, r, _args, ctx) =>
        r.deploymentIds.length
          ? ctx.db.query.deployments.findMany(query({ where: { id: { in: r.deploymentIds } }, orderBy: { createdAt: 'asc' } }))
          : [],
    }),
  }),
});

const findDeployment = async (ctx: Context, query: (q?: object) => object, id: string) =>
  (await ctx.db.query.deployments.findFirst(query({ where: { id } }) as never))!;

builder.mutationFields((t) => ({
  recordPush: t.field({
    type: PushResultRef,
    args: { input: t.arg({ type: RecordPushInput, required: true }) },
    resolve: (_root, args, ctx) => {
      const input = parseInput(RecordPushInputSchema, args.input, 'input');
      return recordPush(scopeOf(ctx), localId(args.input.projectId, 'Project'), input);
    },
  }),

  deploy: t.drizzleField({
    type: 'deployments',
    args: { input: t.arg({ type: DeployInput, required: true }) },
    resolve: (query, _root, args, ctx) => {
      const input = parseInput(DeployInputSchema, args.input, 'input');
      return deploy(
        scopeOf(ctx),
        localId(args.input.environmentId, 'Environment'),
        localId(args.input.releaseId, 'Release'),
        (tx, id) => tx.query.deployments.findFirst(query({ where: { id } })),
        { overrideFreeze: input.overrideFreeze },
      );
    },
  }),

  promote: t.drizzleField({
    type: 'deployments',
    args: { input: t.arg({ type: PromoteInput, required: true }) },
    resolve: (query, _root, args, ctx) => {
      const input = parseInput(PromoteInputSchema, args.input, 'input');
      const releaseId = args.input.releaseId ? localId(args.input.releaseId, 'Release') : null;
      return promote(
        scopeOf(ctx),
        localId(args.input.environmentId, 'Environment'),
        releaseId,
        (tx, id) => tx.query.deployments.findFirst(query({ where: { id } })),
        { overrideFreeze: input.overrideFreeze },
      );
    },
  }),

  rollback: t.drizzleField({
    type: 'deployments',
    args: { input: t.arg({ type: RollbackInput, required: true }) },
    resolve: (query, _root, args, ctx) => {
      parseInput(RollbackInputSchema, args.input, 'input');
      const releaseId = args.input.releaseId ? localId(args.input.releaseId, 'Release') : null;
      return rollback(scopeOf(ctx), localId(args.input.environmentId, 'Environment'), releaseId, (tx, id) =>
        tx.query.deployments.findFirst(query({ where: { id } })),
      );
    },
  }),

  approveDeployment: t.drizzleField({
    type: 'deployments',
    args: { input: t.arg({ type: DecisionInput, required: true }) },
    resolve: (query, _root, args, ctx) => decideResolver(ctx, query, args.input, 'APPROVE'),
  }),
  rejectDeployment: t.drizzleField({
    type: 'deployments',
    args: { input: t.arg({ type: DecisionInput, required: true }) },
    resolve: (query, _root, args, ctx) => decideResolver(ctx, query, args.input, 'REJECT'),
  }),

  cancelDeployment: t.drizzleField({
    type: 'deployments',
    args: { id: t.arg.id({ required: true }) },
    resolve: async (query, _root, args, ctx) => {
      const scope = scopeOf(ctx);
      const id = localId(args.id, 'Deployment');
      await cancelDeployment(scope, id);
      return findDeployment(ctx, query, id);
    },
  }),

  reportDeploymentStatus: t.drizzleField({
    type: 'deployments',
    skipTypeScopes: true,
    authScopes: { callback: true },
    args: { input: t.arg({ type: ReportDeploymentStatusInput, required: true }) },
    resolve: (query, _root, args, ctx) => {
      const input = parseInput(ReportDeploymentStatusInputSchema, args.input, 'input');
      const scope = scopeOf(ctx);
      return reportDeploymentStatus(scope, localId(args.input.deploymentId, 'Deployment'), input, (tx, id) =>
        tx.query.deployments.findFirst(query({ where: { id } })),
      );
    },
  }),
}));

/** Answered once the workflow has recorded the decision: the answer shows it. */
async function decideResolver(
  ctx: Context,
  query: (q?: object) => object,
  input: { deploymentId: string; comment?: string | null },
  decision: 'APPROVE' | 'REJECT',
) {
  const parsed = parseInput(DecisionInputSchema, input, 'input');
  const scope = scopeOf(ctx);
  const id = localId(input.deploymentId, 'Deployment');
  await decideOnDeployment(scope, id, decision, parsed.comment ?? null);
  return findDeployment(ctx, query, id);
}
