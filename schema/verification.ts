// v2, verification and automatic rollback: Deployment.verification and its rollback links,
// Environment.quarantinedReleases / autoDeployPaused, and releaseQuarantine / resumeAutoDeploy.
// The deploy target's `verification` and the policy's `autoRollback` are in environments.ts.
import { isTerminal } from '../domain/deployment-state.ts';
import type { VerificationRecord } from '../domain/types.ts';
import { IdSchema, parseInput, ReleaseQuarantineInputSchema } from '../domain/validation.ts';
import { VERIFICATION_STATUSES } from '../domain/values.ts';
import { releaseQuarantine, resumeAutoDeploy } from '../services/verification.ts';
import { builder, enumValues, localId } from './builder.ts';
import { scopeOf } from './context.ts';
import { DeploymentRef, ReleaseRef } from './deployments.ts';
import { EnvironmentRef, VerificationRef } from './environments.ts';

const VerificationStatusEnum = builder.enumType('VerificationStatus', {
  values: enumValues(VERIFICATION_STATUSES, { SKIPPED: 'no verification configured, or the deployment ended before it' }),
});

type ResultShape = Pick<VerificationRecord, 'status' | 'probes' | 'lastStatusCode' | 'lastError' | 'finishedAt'> & {
  config?: VerificationRecord['config'];
};
const VerificationResultRef = builder.objectRef<ResultShape>('VerificationResult').implement({
  description: 'Never a response body: it could hold secrets.',
  fields: (t) => ({
    status: t.expose('status', { type: VerificationStatusEnum }),
    probes: t.exposeInt('probes'),
    lastStatusCode: t.exposeInt('lastStatusCode', { nullable: true }),
    lastError: t.exposeString('lastError', {
      nullable: true,
      description: 'e.g. "connection refused", "timeout", "HTTP 503 (expected 200)"',
    }),
    finishedAt: t.expose('finishedAt', { type: 'DateTime', nullable: true }),
    config: t.field({
      type: VerificationRef,
      nullable: true,
      description: 'what this deployment verifies against, pinned as it started (null: nothing to verify)',
      resolve: (v) => v.config ?? null,
    }),
  }),
});

builder.drizzleObjectFields(DeploymentRef, (t) => ({
  verification: t.field({
    type: VerificationResultRef,
    select: { columns: { verification: true, status: true } },
    resolve: (d) => {
      const v = d.verification;
      // Deployments made before verification existed verified nothing.
      if (!v) return { status: 'SKIPPED' as const, probes: 0, lastStatusCode: null, lastError: null, finishedAt: null };
      const ended = isTerminal(d.status) && (v.status === 'PENDING' || v.status === 'RUNNING');
      return { ...v, status: ended ? ('SKIPPED' as const) : v.status };
    },
  }),
  rolledBackBy: t.relation('rolledBackBy', {
    nullable: true,
    description: "the automatic rollback that this deployment's failure started",
  }),
  rollbackOf: t.relation('rollbackOf', { nullable: true, description: 'for an automatic rollback: the deployment that failed' }),
}));

builder.drizzleObjectFields(EnvironmentRef, (t) => ({
  quarantinedReleases: t.field({
    type: [ReleaseRef],
    description: 'Releases that failed verification here: not deployable here until released.',
    select: (_args, _ctx, nestedSelection) => ({
      with: { quarantines: { orderBy: { createdAt: 'asc' }, columns: { releaseId: true }, with: { release: nestedSelection() } } },
    }),
    resolve: (env) => env.quarantines.map((q) => q.release),
  }),
  autoDeployPaused: t.exposeBoolean('autoDeployPaused', { description: 'true after an automatic rollback, until resumed' }),
}));

const ReleaseQuarantineInput = builder.inputType('ReleaseQuarantineInput', {
  fields: (t) => ({ environmentId: t.id({ required: true }), releaseId: t.id({ required: true }) }),
});

builder.mutationFields((t) => ({
  releaseQuarantine: t.drizzleField({
    type: 'environments',
    args: { input: t.arg({ type: ReleaseQuarantineInput, required: true }) },
    resolve: (query, _root, args, ctx) => {
      parseInput(ReleaseQuarantineInputSchema, args.input, 'input');
      return releaseQuarantine(
        scopeOf(ctx),
        localId(args.input.environmentId, 'Environment'),
        localId(args.input.releaseId, 'Release'),
        (tx, id) => tx.query.environments.findFirst(query({ where: { id } })),
      );
    },
  }),
  resumeAutoDeploy: t.drizzleField({
    type: 'environments',
    args: { environmentId: t.arg.id({ required: true }) },
    resolve: (query, _root, args, ctx) => {
      parseInput(IdSchema, args.environmentId, 'environmentId');
      return resumeAutoDeploy(scopeOf(ctx), localId(args.environmentId, 'Environment'), (tx, id) =>
        tx.query.environments.findFirst(query({ where: { id } })),
      );
    },
  }),
}));
