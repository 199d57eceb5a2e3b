// Trust policies (workload identity): which CI jobs may act in a project with their platform's
// own OIDC token, no stored secret. Created and deleted here (audited); server/oidc.ts matches
// tokens against them from an in-memory snapshot it reloads after every change in this process
// (trustPoliciesGeneration) and at least every few seconds for other replicas' changes.
import { eq } from 'drizzle-orm';
import type { Queryable } from '../db/client.ts';
import { projects, type TrustPolicyRow, trustPolicies } from '../db/schema/index.ts';
import { notFound } from '../domain/errors.ts';
import { assertAuthorized } from '../domain/permissions.ts';
import type { Role } from '../domain/types.ts';
import type { CreateTrustPolicyInput } from '../domain/validation.ts';
import { actorInProject } from './project-access.ts';
import type { Scope } from './scope.ts';
import type { AfterCommit, ReadBack } from './transaction.ts';
import { transact } from './transaction.ts';

let generation = 0;
/** Bumped after each committed change in this process: a cached snapshot of an older one is stale. */
export const trustPoliciesGeneration = () => generation;
const changed = (after: AfterCommit) =>
  after.add('invalidate cached trust policies', async () => {
    generation++;
  });

/** Every policy, as authentication matches them (one small read, cached by server/oidc.ts). */
export async function loadTrustPolicies(
  db: Queryable,
): Promise<{ projectId: string; issuer: string; audience: string; subjectPattern: string; roles: Role[] }[]> {
  const rows = await db
    .select({
      projectId: trustPolicies.projectId,
      issuer: trustPolicies.issuer,
      audience: trustPolicies.audience,
      subjectPattern: trustPolicies.subjectPattern,
      roles: trustPolicies.roles,
    })
    .from(trustPolicies);
  return rows.map((r) => ({ ...r, roles: r.roles as Role[] }));
}

/**
 * The project, authorized for `action` with the actor's roles in it. A PRIVATE project the actor
 * has no role in is NOT_FOUND, as if it did not exist (the contract's visibility rule).
 */
async function authorizedProject(scope: Scope, tx: Queryable, projectId: string, action: 'createTrustPolicy' | 'deleteTrustPolicy') {
  const [project] = await tx
    .select({ id: projects.id, slug: projects.slug, visibility: projects.visibility })
    .from(projects)
    .where(eq(projects.id, projectId));
  if (!project) return null;
  const actor = await actorInProject({ ...scope, db: tx as Scope['db'] }, projectId);
  if (project.visibility === 'PRIVATE' && actor.roles.length === 0) return null;
  assertAuthorized(action, actor);
  return project;
}

/** `projectLabel`: the project id as the caller gave it, for the refusal. */
export function createTrustPolicy<R = TrustPolicyRow>(
  scope: Scope,
  input: CreateTrustPolicyInput & { projectId: string },
  projectLabel: string,
  readBack?: ReadBack<string, R>,
): Promise<R> {
  return transact(
    scope,
    async (tx, after) => {
      const project = await authorizedProject(scope, tx, input.projectId, 'createTrustPolicy');
      if (!project) throw notFound(`No Project with id ${JSON.stringify(projectLabel)}`);
      const [row] = await tx
        .insert(trustPolicies)
        .values({
          projectId: project.id,
          issuer: input.issuer,
          audience: input.audience,
          subjectPattern: input.subjectPattern,
          roles: input.roles,
          createdBy: scope.actor.subject,
        })
        .returning();
      changed(after);
      return {
        result: row!.id,
        audit: {
          projectId: project.id,
          action: 'trust-policy.create',
          targetId: row!.id,
          detail: { issuer: row!.issuer, audience: row!.audience, subjectPattern: row!.subjectPattern, roles: row!.roles },
        },
      };
    },
    readBack ?? (async (tx, id) => (await tx.select().from(trustPolicies).where(eq(trustPolicies.id, id)))[0] as R | undefined),
  );
}

/** Deletes a policy: from the commit on, its tokens authenticate no one in this process. Answers its id. */
export function deleteTrustPolicy(scope: Scope, id: string, label: string): Promise<string> {
  return transact(scope, async (tx, after) => {
    const [row] = await tx.select().from(trustPolicies).where(eq(trustPolicies.id, id)).for('update');
    const project = row ? await authorizedProject(scope, tx, row.projectId, 'deleteTrustPolicy') : null;
    if (!row || !project) throw notFound(`No TrustPolicy with id ${JSON.stringify(label)}`);
    await tx.delete(trustPolicies).where(eq(trustPolicies.id, id));
    changed(after);
    return {
      result: id,
      audit: {
        projectId: row.projectId,
        action: 'trust-policy.delete',
        targetId: id,
        detail: { issuer: row.issuer, audience: row.audience, subjectPattern: row.subjectPattern, roles: row.roles },
      },
    };
  });
}
