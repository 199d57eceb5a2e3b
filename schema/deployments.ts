// Releases and deployments: their types and read queries. The mutations that create and drive
// deployments (push, promote, approve, ...) live with the workflows that run them.
import { encodeGlobalID } from '@pothos/plugin-relay';
import type { ConfigSnapshot, DeploymentStep } from '../domain/types.ts';
import { builder, tryLocalId } from './builder.ts';
import { EnvironmentRef } from './environments.ts';
import { ProjectRef } from './projects.ts';

export const DEPLOYMENT_STATUSES = [
  'QUEUED',
  'PENDING_APPROVAL',
  'WAITING',
  'RUNNING',
  'SUCCEEDED',
  'FAILED',
  'CANCELLED',
  'REJECTED',
  'EXPIRED',
] as const;
export const TERMINAL_STATUSES = ['SUCCEEDED', 'FAILED', 'CANCELLED', 'REJECTED', 'EXPIRED'] as const;

export const DeploymentStatusEnum = builder.enumType('DeploymentStatus', {
  values: {
    QUEUED: {},
    PENDING_APPROVAL: {},
    WAITING: { description: 'wait timer, or queued behind another deployment of the environment' },
    RUNNING: {},
    SUCCEEDED: {},
    FAILED: {},
    CANCELLED: {},
    REJECTED: {},
    EXPIRED: { description: 'approval timed out' },
  } as const,
});
export const DeploymentKindEnum = builder.enumType('DeploymentKind', {
  values: ['PUSH', 'PROMOTION', 'ROLLBACK', 'MANUAL'] as const,
});
const ApprovalDecisionEnum = builder.enumType('ApprovalDecision', { values: ['APPROVE', 'REJECT'] as const });
export const StepStatusEnum = builder.enumType('StepStatus', {
  values: ['PENDING', 'RUNNING', 'SUCCEEDED', 'FAILED', 'SKIPPED'] as const,
});
export const DeploymentEventTypeEnum = builder.enumType('DeploymentEventType', {
  values: {
    CREATED: {},
    APPROVAL_REQUESTED: {},
    APPROVED: { description: 'one approval recorded' },
    APPROVALS_INVALIDATED: { description: "the target's configuration changed; approvals so far are void" },
    REJECTED: {},
    EXPIRED: {},
    WAITING: {},
    STARTED: {},
    STEP_STARTED: {},
    STEP_PROGRESS: {},
    STEP_SUCCEEDED: {},
    STEP_FAILED: {},
    LOG: {},
    SUCCEEDED: {},
    FAILED: {},
    CANCELLED: {},
  } as const,
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
    steps: t.field({ type: [DeploymentStepRef], resolve: (d) => d.steps }),
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
    select: {
      with: {
        deployments: {
          where: { status: 'SUCCEEDED' },
          orderBy: { finishedAt: 'desc', createdAt: 'desc' },
          limit: 1,
          with: { release: true },
        },
      },
    },
    resolve: (env) => env.deployments[0]?.release ?? null,
  }),
  activeDeployment: t.field({
    type: DeploymentRef,
    nullable: true,
    description: 'the one not yet finished, if any',
    select: {
      with: {
        deployments: {
          where: { status: { notIn: [...TERMINAL_STATUSES] } },
          orderBy: { createdAt: 'asc' },
          limit: 1,
        },
      },
    },
    resolve: (env) => env.deployments[0] ?? null,
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
