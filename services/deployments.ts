// Deployments: what creates them (a push, deploy, promote, rollback) and what a WEBHOOK receiver
// reports back. Each creation pins the target's configuration snapshot and starts the deployment's
// workflow inside its transaction; decisions and cancellation are in decisions.ts; what the
// workflow records as it runs is in deployment-runs.ts.
import { randomUUID } from 'node:crypto';
import { and, asc, desc, eq, ne, sql, type SQL } from 'drizzle-orm';
import type { Queryable, Transaction } from '../db/client.ts';
import { loadProjectConfiguration, policyReportFor, snapshotContent, type ProjectConfiguration } from '../db/configuration.ts';
import { appendDeploymentEvent, appendTransition } from '../db/event-log.ts';
import { sqlLiterals } from '../db/schema/common.ts';
import { deployments, environments, releaseQuarantines, releases, type EnvironmentRow, type ReleaseRow } from '../db/schema/index.ts';
import { AppError, notFound, preconditionFailed } from '../domain/errors.ts';
import { publicId } from '../domain/ids.ts';
import { assertAuthorized } from '../domain/permissions.ts';
import { activeFreezeFor } from '../domain/freeze.ts';
import { failedErrorChecks } from '../domain/policy.ts';
import { defaultVersion, pushTriggers } from '../domain/releases.ts';
import { buildSnapshot } from '../domain/snapshot.ts';
import { pinnedVerification } from '../domain/verification.ts';
import type { DeploymentKind } from '../domain/types.ts';
import type { RecordPushInput, ReportDeploymentStatusInput } from '../domain/validation.ts';
import { FINISHED_STEP_STATUSES, isOneOf } from '../domain/values.ts';
import { reportWebhookOutcome, startDeploymentWorkflow, temporalUnavailable, type WorkflowGateway } from '../workflows/client.ts';
import { workflowIdFor } from '../workflows/definitions.ts';
import { lockEnvironmentFor } from './environments.ts';
import { previewForPush } from './previews.ts';
import { actorInProject } from './project-access.ts';
import { freezeGate, freezeOverrideAudit, liveFreezeWindows, recordFreezeOverride, type GrantedOverride } from './freeze-windows.ts';
import type { Scope, ServiceDeps } from './scope.ts';
import { transact, type ReadBack } from './transaction.ts';

export function workflowsOf(services: ServiceDeps): WorkflowGateway {
  if (services.workflows) return services.workflows;
  const pending = services.workflowsPending?.();
  if (pending)
    throw preconditionFailed(
      `Deployments start once the local workflow service (Temporal) is up; it is ${pending}. Everything else works meanwhile; try again in a few seconds`,
    );
  throw temporalUnavailable();
}

/**
 * Refuses deployments into an archived or frozen environment, or one whose policy has a failed
 * error check. Answers the project's configuration it checked, which the deployment then pins.
 */
async function assertDeployable(tx: Queryable, env: EnvironmentRow): Promise<ProjectConfiguration> {
  if (env.archivedAt) throw preconditionFailed(`Environment ${env.slug} is archived`);
  if (env.frozen) throw preconditionFailed(`Environment ${env.slug} is frozen`);
  const config = await loadProjectConfiguration(tx, env.projectId);
  const failed = failedErrorChecks(policyReportFor(config, env.id));
  if (failed.length) {
    throw preconditionFailed(`Blocked by failed policy checks of ${env.slug}: ${failed.join(', ')}`, { failedChecks: failed });
  }
  return config;
}

/** v2: a release quarantined in `env` (failed verification there) may not be shipped into it. */
async function assertNotQuarantined(tx: Queryable, env: EnvironmentRow, release: { id: string; version: string }) {
  const [q] = await tx
    .select({ releaseId: releaseQuarantines.releaseId })
    .from(releaseQuarantines)
    .where(and(eq(releaseQuarantines.environmentId, env.id), eq(releaseQuarantines.releaseId, release.id)));
  if (q) {
    throw preconditionFailed(
      `Release ${release.version} is quarantined in ${env.slug} (it failed verification there); releaseQuarantine lifts it`,
      { releaseId: publicId('Release', release.id) },
    );
  }
}

async function releaseVersion(tx: Queryable, releaseId: string) {
  const [r] = await tx.select({ id: releases.id, version: releases.version }).from(releases).where(eq(releases.id, releaseId));
  return r!;
}

/**
 * Creates a deployment with its pinned snapshot and CREATED event, and starts its workflow before
 * the transaction commits: if Temporal refuses, nothing is written; if the commit fails, the
 * workflow finds no deployment and ends.
 */
export async function createDeployment(
  services: ServiceDeps,
  tx: Transaction,
  input: {
    env: EnvironmentRow;
    /** The project's configuration as read in this transaction: the snapshot pins it. */
    config: ProjectConfiguration;
    releaseId: string;
    kind: DeploymentKind;
    requestedBy: string;
    sourceEnvironmentId: string | null;
    /** v2: an automatic rollback, of this failed deployment; it needs no approval. */
    rollbackOfId?: string;
    /** Breaking a freeze window's glass: at least one approval, never the requester's. */
    freezeOverride?: GrantedOverride | null;
  },
): Promise<string> {
  const snapshot = buildSnapshot(snapshotContent(input.config, input.env.id), new Date());
  const id = randomUUID();
  const byPolicy = input.env.policy.trigger === 'APPROVAL_REQUIRED' && !input.rollbackOfId ? input.env.policy.requiredApprovals : 0;
  const requiredApprovals = input.freezeOverride ? Math.max(byPolicy, 1) : byPolicy;
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
    // Pinned again when it starts (deployment-runs.ts tryStart): that one is verified against.
    verification: pinnedVerification(input.env.deployTarget.verification, input.env.policy.autoRollback),
    rollbackOfId: input.rollbackOfId ?? null,
  });
  // The row is new in this transaction: no one else can lock it or have recorded its key.
  await appendTransition(
    tx,
    id,
    {},
    {
      type: 'CREATED',
      status: 'QUEUED',
      message: `${input.kind} requested by ${input.requestedBy}`,
      idempotencyKey: 'created',
    },
  );
  if (input.freezeOverride) await recordFreezeOverride(tx, { id, status }, input.freezeOverride);
  if (status === 'PENDING_APPROVAL') {
    // The same event, with the same key, that the workflow's requestApproval used to record.
    await appendDeploymentEvent(tx, id, { type: 'APPROVAL_REQUESTED', status, idempotencyKey: 'approval-requested' });
  }
  try {
    await startDeploymentWorkflow(workflowsOf(services), id, {
      status,
      requestedBy: input.requestedBy,
      preventSelfApproval: input.env.policy.preventSelfApproval || Boolean(input.freezeOverride),
    });
  } catch (error) {
    if (error instanceof AppError) throw error;
    services.log.error({ err: error }, 'could not start a deployment workflow');
    throw temporalUnavailable();
  }
  return id;
}

/** recordPush and the push webhook: the release, and a PUSH deployment per matching environment. */
export function recordPush(
  scope: Scope,
  projectId: string,
  input: RecordPushInput,
): Promise<{ releaseId: string; deploymentIds: string[] }> {
  return transact(scope, async (tx) => {
    // A missing project, or a PRIVATE one the actor has no role in: NOT_FOUND.
    assertAuthorized('recordPush', await actorInProject(scope, projectId, { db: tx }));
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
    const [release] = await tx
      .select()
      .from(releases)
      .where(and(eq(releases.projectId, projectId), eq(releases.commitSha, input.commitSha)));
    const envs = await tx
      .select()
      .from(environments)
      .where(eq(environments.projectId, projectId))
      .orderBy(asc(environments.position))
      .for('update');
    // After the environments are locked (every push locks them in one order, so pushes that make
    // or renew a preview cannot deadlock with others): a preview made here is one it deploys to.
    const preview = await previewForPush(scope, tx, projectId, input.branch);
    if (preview && !envs.some((e) => e.id === preview.environment.id)) envs.push(preview.environment);
    // A push of a commit already pushed (a redelivered webhook, a re-run CI job) starts nothing
    // new: each environment keeps the PUSH deployment the first push made.
    const earlier = await tx
      .select({ id: deployments.id, environmentId: deployments.environmentId })
      .from(deployments)
      .where(and(eq(deployments.releaseId, release!.id), eq(deployments.kind, 'PUSH')));
    const deploymentIds: string[] = [];
    // Read once for every environment the push deploys to (nothing here changes it).
    let config: ProjectConfiguration | undefined;
    const windows = await liveFreezeWindows(tx, projectId);
    // v2: after an automatic rollback the environment takes no pushes until resumeAutoDeploy, and
    // never a release quarantined there; the release is still recorded.
    const quarantinedHere = new Set(
      (
        await tx
          .select({ environmentId: releaseQuarantines.environmentId })
          .from(releaseQuarantines)
          .where(eq(releaseQuarantines.releaseId, release!.id))
      ).map((q) => q.environmentId),
    );
    for (const env of envs.filter((e) => pushTriggers(e, input.branch) && !e.autoDeployPaused && !quarantinedHere.has(e.id))) {
      const existing = earlier.find((d) => d.environmentId === env.id);
      // A freeze window in force: the release is recorded, nothing is deployed there.
      if (!existing && activeFreezeFor(windows, env, new Date())) continue;
      deploymentIds.push(
        existing?.id ??
          (await createDeployment(scope.services, tx, {
            env,
            config: (config ??= await loadProjectConfiguration(tx, projectId)),
            releaseId: release!.id,
            kind: 'PUSH',
            requestedBy: scope.actor.subject,
            sourceEnvironmentId: null,
          })),
      );
    }
    return {
      result: { releaseId: release!.id, deploymentIds },
      audit: [
        ...(preview?.audit ?? []),
        {
          projectId,
          action: 'release.push',
          targetId: release!.id,
          detail: {
            branch: input.branch,
            commitSha: input.commitSha,
            version: release!.version,
            deployments: deploymentIds.length,
            ...(preview ? { preview: preview.environment.slug } : {}),
          },
        },
      ],
    };
  });
}

async function releaseOf(tx: Queryable, releaseId: string, projectId: string): Promise<ReleaseRow> {
  const [release] = await tx
    .select()
    .from(releases)
    .where(and(eq(releases.id, releaseId), eq(releases.projectId, projectId)));
  if (!release) throw notFound(`No Release with id ${JSON.stringify(publicId('Release', releaseId))} in this project`);
  return release;
}

/**
 * The release a promotion or a rollback ships, from the SUCCEEDED deployments of `from` (the
 * source environment for a promotion, the target itself for a rollback): the one asked for, if
 * it succeeded there; else the current one (promotion) or the newest one before it (rollback).
 * At most three `limit 1` reads on deployments_environment_succeeded_idx, however long the history.
 */
async function releaseToShip(
  tx: Queryable,
  from: EnvironmentRow,
  asked: string | null,
  pick: 'current' | 'before-current',
  refusals: { none: string; notThere: string },
): Promise<string> {
  const newest = async (condition?: SQL) =>
    (
      await tx
        .select({ releaseId: deployments.releaseId })
        .from(deployments)
        .where(and(eq(deployments.environmentId, from.id), sqlSucceeded(), condition))
        .orderBy(desc(deployments.finishedAt), desc(deployments.createdAt))
        .limit(1)
    )[0]?.releaseId;
  if (asked) {
    const release = await releaseOf(tx, asked, from.projectId);
    if (!(await newest(eq(deployments.releaseId, release.id)))) throw preconditionFailed(refusals.notThere);
    return release.id;
  }
  const current = await newest();
  const chosen = pick === 'current' || !current ? current : await newest(ne(deployments.releaseId, current));
  if (!chosen) throw preconditionFailed(refusals.none);
  return chosen;
}
// `status = 'SUCCEEDED'` as a literal, spelled as deployments_environment_succeeded_idx's predicate.
const sqlSucceeded = () => sql`${deployments.status} = ${sqlLiterals(['SUCCEEDED'])}`;

/** deploy: a release of the project into an environment, by hand. Answers the deployment's id. */
export function deploy<R = string>(
  scope: Scope,
  environmentId: string,
  releaseId: string,
  readBack?: ReadBack<string, R>,
  options: { overrideFreeze?: { reason: string } } = {},
): Promise<R> {
  return transact(
    scope,
    async (tx) => {
      const { env, actor } = await lockEnvironmentFor(scope, tx, environmentId);
      assertAuthorized('deploy', actor, { environment: env });
      const release = await releaseOf(tx, releaseId, env.projectId);
      await assertNotQuarantined(tx, env, release);
      const config = await assertDeployable(tx, env);
      const freezeOverride = await freezeGate(tx, scope, env, options);
      const id = await createDeployment(scope.services, tx, {
        env,
        config,
        releaseId: release.id,
        kind: 'MANUAL',
        requestedBy: scope.actor.subject,
        sourceEnvironmentId: null,
        freezeOverride,
      });
      return {
        result: id,
        audit: [
          {
            projectId: env.projectId,
            action: 'deployment.create',
            targetId: id,
            detail: { environment: env.slug, version: release.version, kind: 'MANUAL' },
          },
          ...(freezeOverride ? [freezeOverrideAudit(id, env.projectId, freezeOverride)] : []),
        ],
      };
    },
    readBack,
  ) as Promise<R>;
}

/** promote: into `environmentId`, the release (by default the current one) of the environment it promotes from. */
export function promote<R = string>(
  scope: Scope,
  environmentId: string,
  releaseId: string | null,
  readBack?: ReadBack<string, R>,
  options: { overrideFreeze?: { reason: string } } = {},
): Promise<R> {
  return transact(
    scope,
    async (tx) => {
      const { env, actor } = await lockEnvironmentFor(scope, tx, environmentId);
      assertAuthorized('promote', actor, { environment: env });
      if (!env.promotesFromId) throw preconditionFailed(`Nothing to promote: ${env.slug} does not promote from another environment`);
      const [source] = await tx.select().from(environments).where(eq(environments.id, env.promotesFromId));
      const chosen = await releaseToShip(tx, source!, releaseId, 'current', {
        none: `Nothing to promote: ${source!.slug} has no successful release yet`,
        notThere: `Nothing to promote: that release has no SUCCEEDED deployment in ${source!.slug}`,
      });
      await assertNotQuarantined(tx, env, await releaseVersion(tx, chosen));
      const config = await assertDeployable(tx, env);
      const freezeOverride = await freezeGate(tx, scope, env, options);
      const id = await createDeployment(scope.services, tx, {
        env,
        config,
        releaseId: chosen,
        kind: 'PROMOTION',
        requestedBy: scope.actor.subject,
        sourceEnvironmentId: source!.id,
        freezeOverride,
      });
      return {
        result: id,
        audit: [
          { projectId: env.projectId, action: 'deployment.promote', targetId: id, detail: { from: source!.slug, to: env.slug } },
          ...(freezeOverride ? [freezeOverrideAudit(id, env.projectId, freezeOverride)] : []),
        ],
      };
    },
    readBack,
  ) as Promise<R>;
}

/** rollback: the environment back to a release that succeeded there (by default the one before the current one). */
export function rollback<R = string>(
  scope: Scope,
  environmentId: string,
  releaseId: string | null,
  readBack?: ReadBack<string, R>,
): Promise<R> {
  return transact(
    scope,
    async (tx) => {
      const { env, actor } = await lockEnvironmentFor(scope, tx, environmentId);
      assertAuthorized('rollback', actor, { environment: env });
      const chosen = await releaseToShip(tx, env, releaseId, 'before-current', {
        none: `Nothing to roll back to: ${env.slug} has no earlier release`,
        notThere: `Nothing to roll back to: that release never succeeded in ${env.slug}`,
      });
      await assertNotQuarantined(tx, env, await releaseVersion(tx, chosen));
      const config = await assertDeployable(tx, env);
      await freezeGate(tx, scope, env, { rollback: true }); // only windows with allowRollback: false refuse it
      const id = await createDeployment(scope.services, tx, {
        env,
        config,
        releaseId: chosen,
        kind: 'ROLLBACK',
        requestedBy: scope.actor.subject,
        sourceEnvironmentId: null,
      });
      return {
        result: id,
        audit: { projectId: env.projectId, action: 'deployment.rollback', targetId: id, detail: { environment: env.slug } },
      };
    },
    readBack,
  ) as Promise<R>;
}

/**
 * reportDeploymentStatus: a WEBHOOK receiver's progress, log line or outcome, with its callback
 * token. The outcome reaches the workflow after commit (it ends the deployment on its own write).
 */
export function reportDeploymentStatus<R = string>(
  scope: Scope,
  deploymentId: string,
  input: ReportDeploymentStatusInput,
  readBack?: ReadBack<string, R>,
): Promise<R> {
  assertAuthorized('reportDeploymentStatus', scope.actor, {
    deploymentId,
    callbackDeploymentId: scope.actor.subject.replace(/^callback:/, ''),
  });
  return transact(
    scope,
    async (tx, after) => {
      const [d] = await tx.select().from(deployments).where(eq(deployments.id, deploymentId)).for('update');
      if (!d) throw notFound(`No Deployment with id ${JSON.stringify(publicId('Deployment', deploymentId))}`);
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
        await tx
          .update(deployments)
          .set({ steps, progress: Math.min(1, overall) })
          .where(eq(deployments.id, deploymentId));
        const type =
          input.status === 'SUCCEEDED'
            ? 'STEP_SUCCEEDED'
            : input.status === 'FAILED'
              ? 'STEP_FAILED'
              : existing
                ? 'STEP_PROGRESS'
                : 'STEP_STARTED';
        await appendDeploymentEvent(tx, deploymentId, {
          type,
          status: 'RUNNING',
          step: input.step,
          progress,
          message: input.message ?? null,
        });
      } else if (!ends) {
        await appendDeploymentEvent(tx, deploymentId, {
          type: 'LOG',
          status: 'RUNNING',
          progress: input.progress ?? null,
          message: input.message ?? `Reported ${input.status}`,
        });
      }
      if (ends) {
        const outcome = { status: input.status as 'SUCCEEDED' | 'FAILED', message: input.message ?? null };
        const workflows = workflowsOf(scope.services);
        after.add('tell the workflow what the deploy target reported', () => reportWebhookOutcome(workflows, deploymentId, outcome), {
          deploymentId,
        });
      }
      return {
        result: deploymentId,
        audit: {
          projectId: d.projectId,
          action: 'deployment.report',
          targetId: deploymentId,
          detail: { step: input.step ?? null, status: input.status },
        },
      };
    },
    readBack,
  ) as Promise<R>;
}
