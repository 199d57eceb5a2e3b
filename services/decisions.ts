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
import type { Scope } from './scope.ts';

async function loadForDecision(db: Queryable, deploymentId: string) {
  const [row] = await db
    .select({ d: deployments, env: environments })
    .from(deployments)
    .innerJoin(environments, eq(environments.id, deployments.environmentId))
    .where(eq(deployments.id, deploymentId));
  if (!row) throw notFound(`No Deployment with id ${JSON.stringify(publicId('Deployment', deploymentId))}`);
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
  return { d: row.d, env, decidedBy: decided.map((d) => d.approver) };
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
  const { d, env, decidedBy } = await loadForDecision(scope.db, deploymentId);
  assertAuthorized(decision === 'APPROVE' ? 'approveDeployment' : 'rejectDeployment', scope.actor, {
    environment: env,
    deployment: { requestedBy: d.requestedBy, alreadyDecidedBy: decidedBy },
  });
  if (d.status !== 'PENDING_APPROVAL')
    throw preconditionFailed(`The deployment is ${d.status}: already decided or not waiting for approval`);
  await sendDecision(workflowsOf(scope.services), d.id, decision, { subject: scope.actor.subject, roles: scope.actor.roles, comment });
}

/** Cancels; answered once the deployment has ended (CANCELLED, or the end it reached first). */
export async function cancelDeployment(scope: Scope, deploymentId: string): Promise<void> {
  const { d, env } = await loadForDecision(scope.db, deploymentId);
  assertAuthorized('cancelDeployment', scope.actor, { environment: env, deployment: { requestedBy: d.requestedBy } });
  if (isTerminal(d.status)) throw preconditionFailed(`The deployment has already ended (${d.status})`);
  await cancel(workflowsOf(scope.services), d.id, scope.actor.subject);
}
