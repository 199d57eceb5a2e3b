// Deciding on a deployment (approve, reject) and cancelling one. The deployment's workflow takes
// each decision, exactly once and in order; these functions check who may ask, then ask it.
import { and, eq, isNull } from 'drizzle-orm';
import type { Queryable } from '../db/client.ts';
import { approvals, deployments, environments, freezeOverrides } from '../db/schema/index.ts';
import { isTerminal } from '../domain/deployment-state.ts';
import { notFound, preconditionFailed } from '../domain/errors.ts';
import { publicId } from '../domain/ids.ts';
import { assertAuthorized } from '../domain/permissions.ts';
import type { ApprovalDecision } from '../domain/types.ts';
import { cancel, decide as sendDecision } from '../workflows/client.ts';
import { workflowsOf } from './deployments.ts';
import { actorInProject } from './project-access.ts';
import type { Scope } from './scope.ts';

const deploymentNotFound = (deploymentId: string) =>
  notFound(`No Deployment with id ${JSON.stringify(publicId('Deployment', deploymentId))}`);

/** The deployment, its environment, who decided so far, and the actor with its roles in the deployment's project. */
async function loadForDecision(scope: Scope, deploymentId: string) {
  const db: Queryable = scope.db;
  const [row] = await db
    .select({ d: deployments, env: environments })
    .from(deployments)
    .innerJoin(environments, eq(environments.id, deployments.environmentId))
    .where(eq(deployments.id, deploymentId));
  if (!row) throw deploymentNotFound(deploymentId);
  const actor = await actorInProject(scope, row.d.projectId, { hidden: () => deploymentNotFound(deploymentId) });
  const decided = await db
    .select({ approver: approvals.approver })
    .from(approvals)
    .where(and(eq(approvals.deploymentId, deploymentId), isNull(approvals.invalidatedAt)));
  // A break-glass deployment is never approved by its requester, whatever the policy says.
  const [override] = await db
    .select({ by: freezeOverrides.by })
    .from(freezeOverrides)
    .where(eq(freezeOverrides.deploymentId, deploymentId));
  const env = override ? { ...row.env, policy: { ...row.env.policy, preventSelfApproval: true } } : row.env;
  return { d: row.d, env, actor, decidedBy: decided.map((d) => d.approver) };
}

/**
 * Approves or rejects. Answered once the workflow has recorded the decision (or refused it: a
 * quorum already reached, a second decision by the same person, ...). The status read here is
 * the one clients see, and the workflow is ready to act on it from the deployment's first moment.
 */
export async function decideOnDeployment(
  scope: Scope,
  deploymentId: string,
  decision: ApprovalDecision,
  comment: string | null,
): Promise<void> {
  const { d, env, actor, decidedBy } = await loadForDecision(scope, deploymentId);
  assertAuthorized(decision === 'APPROVE' ? 'approveDeployment' : 'rejectDeployment', actor, {
    environment: env,
    deployment: { requestedBy: d.requestedBy, alreadyDecidedBy: decidedBy },
  });
  if (d.status !== 'PENDING_APPROVAL')
    throw preconditionFailed(`The deployment is ${d.status}: already decided or not waiting for approval`);
  await sendDecision(workflowsOf(scope.services), d.id, decision, { subject: actor.subject, roles: actor.roles, comment });
}

/** Cancels; answered once the deployment has ended (CANCELLED, or the end it reached first). */
export async function cancelDeployment(scope: Scope, deploymentId: string): Promise<void> {
  const { d, env, actor } = await loadForDecision(scope, deploymentId);
  assertAuthorized('cancelDeployment', actor, { environment: env, deployment: { requestedBy: d.requestedBy } });
  if (isTerminal(d.status)) throw preconditionFailed(`The deployment has already ended (${d.status})`);
  await cancel(workflowsOf(scope.services), d.id, scope.actor.subject);
}
