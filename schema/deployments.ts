// Releases and deployments: their types and read queries. The mutations that create and drive
// deployments (push, promote, approve, ...) live with the workflows that run them.
import { randomUUID } from 'node:crypto';
import { encodeGlobalID } from '@pothos/plugin-relay';
import { and, asc, desc, eq, isNull, ne, sql, type SQL } from 'drizzle-orm';
import type { Queryable, Transaction } from '../db/client.ts';
import { loadProjectConfiguration, policyReportFor, snapshotContent } from '../db/configuration.ts';
import { appendDeploymentEvent } from '../db/event-log.ts';
import { approvals, deployments, environments, projects, releases, type EnvironmentRow } from '../db/schema/index.ts';
import { AppError, notFound, preconditionFailed } from '../domain/errors.ts';
import { assertAuthorized } from '../domain/permissions.ts';
import { APPROVAL_DECISIONS, DEPLOYMENT_EVENT_TYPES, DEPLOYMENT_KINDS, DEPLOYMENT_STATUSES, FINISHED_STEP_STATUSES, isOneOf, STEP_STATUSES } from '../domain/values.ts';
import { failedErrorChecks } from '../domain/policy.ts';
import { defaultVersion, pushTriggers } from '../domain/releases.ts';
import { buildSnapshot } from '../domain/snapshot.ts';
import {
  DecisionInputSchema,
  DeployInputSchema,
  parseInput,
  PromoteInputSchema,
  RecordPushInputSchema,
  ReportDeploymentStatusInputSchema,
  RollbackInputSchema,
} from '../domain/validation.ts';
import type { Context, Services } from '../server/context.ts';
import { cancel, decide, reportWebhookOutcome, startDeploymentWorkflow, temporalUnavailable, type WorkflowGateway } from '../workflows/client.ts';
import { workflowIdFor } from '../workflows/definitions.ts';
import { isTerminal } from '../domain/deployment-state.ts';
import { mutate, principalOf } from './audit.ts';
import type { ConfigSnapshot, DeploymentStep } from '../domain/types.ts';
import { builder, enumValues, localId, tryLocalId } from './builder.ts';
import { EnvironmentRef } from './environments.ts';
import { ProjectRef } from './projects.ts';

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

const ReleaseConnection = builder.connectionObject({ type: ReleaseRef, name: 'ReleaseConnection' }, { name: 'ReleaseEdge' });
const DeploymentConnection = builder.connectionObject(
  { type: DeploymentRef, name: 'DeploymentConnection' },
  { name: 'DeploymentEdge' },
);

builder.drizzleObjectFields(ProjectRef, (t) => ({
  releases: t.relatedConnection('releases', { query: () => ({ orderBy: { createdAt: 'desc' } }) }, ReleaseConnection),
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
  deployments: t.relatedConnection('deployments', { query: () => ({ orderBy: { createdAt: 'desc' } }) }, DeploymentConnection),
}));

builder.queryFields((t) => ({
  deployment: t.drizzleField({
    type: 'deployments',
    nullable: true,
    args: { id: t.arg.id({ required: true }) },
    resolve: async (query, _root, args, ctx) => {
      const id = tryLocalId(args.id, 'Deployment');
      return id ? ctx.db.query.deployments.findFirst(query({ where: { id } })) : null;
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
const DeployInput = builder.inputType('DeployInput', {
  fields: (t) => ({ environmentId: t.id({ required: true }), releaseId: t.id({ required: true }) }),
});
const PromoteInput = builder.inputType('PromoteInput', {
  description: "The target; the release is the source environment's current one unless given.",
  fields: (t) => ({ environmentId: t.id({ required: true }), releaseId: t.id() }),
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

export interface PushInput {
  projectId: string;
  branch: string;
  commitSha: string;
  message?: string | null | undefined;
  author?: string | null | undefined;
  version?: string | null | undefined;
}

function gateway(services: Services): WorkflowGateway {
  if (!services.workflows) throw temporalUnavailable();
  return services.workflows;
}

/**
 * What a promotion or rollback needs from an environment's SUCCEEDED deployments, newest first,
 * without reading them all: the newest (the current release), the newest of another release
 * (the rollback target), and, when `releaseId` is given, the newest of that release (it
 * succeeded here). Each is one range scan of deployments_environment_succeeded_idx stopped at
 * its first row.
 */
async function successfulReleases(tx: Queryable, environmentId: string, releaseId?: string | null) {
  const newest = (condition?: SQL) =>
    tx
      .select({ releaseId: deployments.releaseId, finishedAt: deployments.finishedAt })
      .from(deployments)
      .where(and(eq(deployments.environmentId, environmentId), sql`${deployments.status} = 'SUCCEEDED'`, condition))
      .orderBy(desc(deployments.finishedAt), desc(deployments.createdAt))
      .limit(1);
  const [current] = await newest();
  if (!current) return [];
  const [earlier] = await newest(ne(deployments.releaseId, current.releaseId));
  const [asked] = releaseId && releaseId !== current.releaseId ? await newest(eq(deployments.releaseId, releaseId)) : [];
  return [current, earlier, asked].filter((s) => s !== undefined);
}

/** Refuses deployments into a frozen environment or one whose policy has a failed error check. */
async function assertDeployable(tx: Queryable, env: EnvironmentRow) {
  if (env.archivedAt) throw preconditionFailed(`Environment ${env.slug} is archived`);
  if (env.frozen) throw preconditionFailed(`Environment ${env.slug} is frozen`);
  const failed = failedErrorChecks(policyReportFor(await loadProjectConfiguration(tx, env.projectId), env.id));
  if (failed.length) {
    throw preconditionFailed(`Blocked by failed policy checks of ${env.slug}: ${failed.join(', ')}`, { failedChecks: failed });
  }
}

/**
 * Creates a deployment with its pinned snapshot and CREATED event, and starts its workflow before
 * the transaction commits: if Temporal refuses, nothing is written; if the commit fails, the
 * workflow finds no deployment and ends.
 */
async function createDeployment(
  services: Services,
  tx: Transaction,
  input: { env: EnvironmentRow; releaseId: string; kind: 'PUSH' | 'PROMOTION' | 'ROLLBACK' | 'MANUAL'; requestedBy: string; sourceEnvironmentId: string | null },
): Promise<string> {
  const config = await loadProjectConfiguration(tx, input.env.projectId);
  const snapshot = buildSnapshot(snapshotContent(config, input.env.id), new Date());
  const id = randomUUID();
  const requiredApprovals = input.env.policy.trigger === 'APPROVAL_REQUIRED' ? input.env.policy.requiredApprovals : 0;
  // A deployment that needs approval waits for it from its first moment: the mutation's answer
  // says PENDING_APPROVAL, and the workflow (told so in its input) accepts decisions at once.
  const status = requiredApprovals > 0 ? 'PENDING_APPROVAL' : 'QUEUED';
  await tx.insert(deployments).values({
    id,
    projectId: input.env.projectId,
    environmentId: input.env.id,
    releaseId: input.releaseId,
    sourceEnvironmentId: input.sourceEnvironmentId,
    kind: input.kind,
    status,
    requestedBy: input.requestedBy,
    requiredApprovals,
    snapshot,
    workflowId: workflowIdFor(id),
  });
  await appendDeploymentEvent(tx, id, { type: 'CREATED', status: 'QUEUED', message: `${input.kind} requested by ${input.requestedBy}`, idempotencyKey: 'created' });
  if (status === 'PENDING_APPROVAL') {
    // The same event, with the same key, that the workflow's requestApproval used to record.
    await appendDeploymentEvent(tx, id, { type: 'APPROVAL_REQUESTED', status, idempotencyKey: 'approval-requested' });
  }
  try {
    await startDeploymentWorkflow(gateway(services), id, {
      status,
      requestedBy: input.requestedBy,
      preventSelfApproval: input.env.policy.preventSelfApproval,
    });
  } catch (error) {
    if (error instanceof AppError) throw error;
    services.log.error({ err: error }, 'could not start a deployment workflow');
    throw temporalUnavailable();
  }
  return id;
}

/** recordPush and the push webhook: the release, and a PUSH deployment per matching environment. */
export async function recordPush(ctx: Context, raw: PushInput, projectId: string) {
  const input = parseInput(RecordPushInputSchema, raw, 'input');
  return mutate(ctx, async (tx, actor) => {
    assertAuthorized('recordPush', actor);
    const [project] = await tx.select().from(projects).where(eq(projects.id, projectId));
    if (!project) throw notFound(`No Project with id ${JSON.stringify(raw.projectId)}`);
    await tx
      .insert(releases)
      .values({
        projectId,
        commitSha: input.commitSha,
        branch: input.branch,
        version: input.version ?? defaultVersion(input.commitSha),
        message: input.message ?? null,
        author: input.author ?? null,
      })
      .onConflictDoNothing({ target: [releases.projectId, releases.commitSha] });
    const [release] = await tx.select().from(releases).where(and(eq(releases.projectId, projectId), eq(releases.commitSha, input.commitSha)));
    const envs = await tx
      .select()
      .from(environments)
      .where(eq(environments.projectId, projectId))
      .orderBy(asc(environments.position))
      .for('update');
    // A push of a commit already pushed (a redelivered webhook, a re-run CI job) starts nothing
    // new: each environment keeps the PUSH deployment the first push made.
    const earlier = await tx
      .select({ id: deployments.id, environmentId: deployments.environmentId })
      .from(deployments)
      .where(and(eq(deployments.releaseId, release!.id), eq(deployments.kind, 'PUSH')));
    const deploymentIds: string[] = [];
    for (const env of envs.filter((e) => pushTriggers(e, input.branch))) {
      const existing = earlier.find((d) => d.environmentId === env.id);
      deploymentIds.push(
        existing?.id ??
          (await createDeployment(ctx.services, tx, { env, releaseId: release!.id, kind: 'PUSH', requestedBy: actor.subject, sourceEnvironmentId: null })),
      );
    }
    return {
      result: { releaseId: release!.id, deploymentIds },
      audit: {
        projectId,
        action: 'release.push',
        targetId: release!.id,
        detail: { branch: input.branch, commitSha: input.commitSha, version: release!.version, deployments: deploymentIds.length },
      },
    };
  });
}

async function lockTarget(tx: Transaction, globalId: string) {
  const id = localId(globalId, 'Environment');
  const [env] = await tx.select().from(environments).where(eq(environments.id, id)).for('update');
  if (!env) throw notFound(`No Environment with id ${JSON.stringify(globalId)}`);
  return env;
}

async function releaseOf(tx: Queryable, globalId: string, projectId: string) {
  const id = localId(globalId, 'Release');
  const [release] = await tx.select().from(releases).where(and(eq(releases.id, id), eq(releases.projectId, projectId)));
  if (!release) throw notFound(`No Release with id ${JSON.stringify(globalId)} in this project`);
  return release;
}

async function loadDeploymentForDecision(ctx: Context, globalId: string) {
  const id = localId(globalId, 'Deployment');
  const [row] = await ctx.db
    .select({ d: deployments, env: environments })
    .from(deployments)
    .innerJoin(environments, eq(environments.id, deployments.environmentId))
    .where(eq(deployments.id, id));
  if (!row) throw notFound(`No Deployment with id ${JSON.stringify(globalId)}`);
  const decided = await ctx.db
    .select({ approver: approvals.approver })
    .from(approvals)
    .where(and(eq(approvals.deploymentId, id), isNull(approvals.invalidatedAt)));
  return { ...row, decidedBy: decided.map((d) => d.approver) };
}

const findDeployment = async (ctx: Context, query: (q?: object) => object, id: string) =>
  (await ctx.db.query.deployments.findFirst(query({ where: { id } }) as never))!;

builder.mutationFields((t) => ({
  recordPush: t.field({
    type: PushResultRef,
    args: { input: t.arg({ type: RecordPushInput, required: true }) },
    resolve: (_root, args, ctx) => recordPush(ctx, args.input, localId(args.input.projectId, 'Project')),
  }),

  deploy: t.drizzleField({
    type: 'deployments',
    args: { input: t.arg({ type: DeployInput, required: true }) },
    resolve: async (query, _root, args, ctx) => {
      parseInput(DeployInputSchema, args.input, 'input');
      return mutate(ctx, async (tx, actor) => {
        const env = await lockTarget(tx, args.input.environmentId);
        assertAuthorized('deploy', actor, { environment: env });
        const release = await releaseOf(tx, args.input.releaseId, env.projectId);
        await assertDeployable(tx, env);
        const id = await createDeployment(ctx.services, tx, { env, releaseId: release.id, kind: 'MANUAL', requestedBy: actor.subject, sourceEnvironmentId: null });
        return { result: id, audit: { projectId: env.projectId, action: 'deployment.create', targetId: id, detail: { environment: env.slug, version: release.version, kind: 'MANUAL' } } };
      }, (tx, id) => tx.query.deployments.findFirst(query({ where: { id } })));
    },
  }),

  promote: t.drizzleField({
    type: 'deployments',
    args: { input: t.arg({ type: PromoteInput, required: true }) },
    resolve: async (query, _root, args, ctx) => {
      parseInput(PromoteInputSchema, args.input, 'input');
      return mutate(ctx, async (tx, actor) => {
        const env = await lockTarget(tx, args.input.environmentId);
        assertAuthorized('promote', actor, { environment: env });
        if (!env.promotesFromId) throw preconditionFailed(`Nothing to promote: ${env.slug} does not promote from another environment`);
        const [source] = await tx.select().from(environments).where(eq(environments.id, env.promotesFromId));
        const succeeded = await successfulReleases(tx, source!.id, args.input.releaseId ? localId(args.input.releaseId, 'Release') : null);
        let releaseId: string;
        if (args.input.releaseId) {
          releaseId = (await releaseOf(tx, args.input.releaseId, env.projectId)).id;
          if (!succeeded.some((s) => s.releaseId === releaseId)) {
            throw preconditionFailed(`Nothing to promote: that release has no SUCCEEDED deployment in ${source!.slug}`);
          }
        } else {
          if (!succeeded[0]) throw preconditionFailed(`Nothing to promote: ${source!.slug} has no successful release yet`);
          releaseId = succeeded[0].releaseId;
        }
        await assertDeployable(tx, env);
        const id = await createDeployment(ctx.services, tx, { env, releaseId, kind: 'PROMOTION', requestedBy: actor.subject, sourceEnvironmentId: source!.id });
        return { result: id, audit: { projectId: env.projectId, action: 'deployment.promote', targetId: id, detail: { from: source!.slug, to: env.slug } } };
      }, (tx, id) => tx.query.deployments.findFirst(query({ where: { id } })));
    },
  }),

  rollback: t.drizzleField({
    type: 'deployments',
    args: { input: t.arg({ type: RollbackInput, required: true }) },
    resolve: async (query, _root, args, ctx) => {
      parseInput(RollbackInputSchema, args.input, 'input');
      return mutate(ctx, async (tx, actor) => {
        const env = await lockTarget(tx, args.input.environmentId);
        assertAuthorized('rollback', actor, { environment: env });
        const succeeded = await successfulReleases(tx, env.id, args.input.releaseId ? localId(args.input.releaseId, 'Release') : null);
        const current = succeeded[0]?.releaseId;
        let releaseId: string;
        if (args.input.releaseId) {
          releaseId = (await releaseOf(tx, args.input.releaseId, env.projectId)).id;
          if (!succeeded.some((s) => s.releaseId === releaseId)) {
            throw preconditionFailed(`Nothing to roll back to: that release never succeeded in ${env.slug}`);
          }
        } else {
          const earlier = succeeded.find((s) => s.releaseId !== current);
          if (!earlier) throw preconditionFailed(`Nothing to roll back to: ${env.slug} has no earlier release`);
          releaseId = earlier.releaseId;
        }
        await assertDeployable(tx, env);
        const id = await createDeployment(ctx.services, tx, { env, releaseId, kind: 'ROLLBACK', requestedBy: actor.subject, sourceEnvironmentId: null });
        return { result: id, audit: { projectId: env.projectId, action: 'deployment.rollback', targetId: id, detail: { environment: env.slug } } };
      }, (tx, id) => tx.query.deployments.findFirst(query({ where: { id } })));
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
      const actor = principalOf(ctx);
      const { d, env } = await loadDeploymentForDecision(ctx, args.id);
      assertAuthorized('cancelDeployment', actor, { environment: env, deployment: { requestedBy: d.requestedBy } });
      if (isTerminal(d.status)) throw preconditionFailed(`The deployment has already ended (${d.status})`);
      await cancel(gateway(ctx.services), d.id, actor.subject);
      return findDeployment(ctx, query, d.id);
    },
  }),

  reportDeploymentStatus: t.drizzleField({
    type: 'deployments',
    skipTypeScopes: true,
    authScopes: { callback: true },
    args: { input: t.arg({ type: ReportDeploymentStatusInput, required: true }) },
    resolve: async (query, _root, args, ctx) => {
      const input = parseInput(ReportDeploymentStatusInputSchema, args.input, 'input');
      const actor = principalOf(ctx);
      const id = localId(args.input.deploymentId, 'Deployment');
      assertAuthorized('reportDeploymentStatus', actor, {
        deploymentId: id,
        callbackDeploymentId: actor.subject.replace(/^callback:/, ''),
      });
      const { outcome, row } = await mutate(ctx, async (tx) => {
        const [d] = await tx.select().from(deployments).where(eq(deployments.id, id)).for('update');
        if (!d) throw notFound(`No Deployment with id ${JSON.stringify(args.input.deploymentId)}`);
        if (d.status !== 'RUNNING') throw preconditionFailed(`The deployment is ${d.status}, not RUNNING`);
        const ends = input.status === 'FAILED' || (input.status === 'SUCCEEDED' && !input.step);
        if (input.step) {
          const existing = d.steps.find((s) => s.name === input.step);
          const now = new Date().toISOString();
          const progress = input.status === 'SUCCEEDED' ? 1 : (input.progress ?? existing?.progress ?? 0);
          const step = {
            name: input.step,
            status: input.status,
            progress,
            startedAt: existing?.startedAt ?? now,
            finishedAt: isOneOf(FINISHED_STEP_STATUSES, input.status) ? now : null,
          };
          const steps = existing ? d.steps.map((s) => (s.name === input.step ? step : s)) : [...d.steps, step];
          const overall = steps.length ? steps.reduce((a, s) => a + s.progress, 0) / steps.length : 0;
          await tx.update(deployments).set({ steps, progress: Math.min(1, overall) }).where(eq(deployments.id, id));
          const type =
            input.status === 'SUCCEEDED' ? 'STEP_SUCCEEDED' : input.status === 'FAILED' ? 'STEP_FAILED' : existing ? 'STEP_PROGRESS' : 'STEP_STARTED';
          await appendDeploymentEvent(tx, id, { type, status: 'RUNNING', step: input.step, progress, message: input.message ?? null });
        } else if (!ends) {
          await appendDeploymentEvent(tx, id, { type: 'LOG', status: 'RUNNING', progress: input.progress ?? null, message: input.message ?? `Reported ${input.status}` });
        }
        return {
          result: ends ? { status: input.status as 'SUCCEEDED' | 'FAILED', message: input.message ?? null } : null,
          audit: { projectId: d.projectId, action: 'deployment.report', targetId: id, detail: { step: input.step ?? null, status: input.status } },
        };
      }, async (tx, outcome) => {
        const row = await tx.query.deployments.findFirst(query({ where: { id } }));
        return row && { outcome, row };
      });
      // After commit: the workflow ends the deployment (SUCCEEDED/FAILED) on its own write; the
      // answer is the state this report wrote.
      if (outcome) await reportWebhookOutcome(gateway(ctx.services), id, outcome);
      return row;
    },
  }),
}));

async function decideResolver(
  ctx: Context,
  query: (q?: object) => object,
  input: { deploymentId: string; comment?: string | null },
  decision: 'APPROVE' | 'REJECT',
) {
  const parsed = parseInput(DecisionInputSchema, input, 'input');
  const actor = principalOf(ctx);
  const { d, env, decidedBy } = await loadDeploymentForDecision(ctx, input.deploymentId);
  assertAuthorized(decision === 'APPROVE' ? 'approveDeployment' : 'rejectDeployment', actor, {
    environment: env,
    deployment: { requestedBy: d.requestedBy, alreadyDecidedBy: decidedBy },
  });
  if (d.status !== 'PENDING_APPROVAL') throw preconditionFailed(`The deployment is ${d.status}: already decided or not waiting for approval`);
  await decide(gateway(ctx.services), d.id, decision, { subject: actor.subject, roles: actor.roles, comment: parsed.comment ?? null });
  return findDeployment(ctx, query, d.id);
}
