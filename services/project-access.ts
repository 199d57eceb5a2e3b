// Roles in a project (v2): the actor's global roles plus the grants to its subject and its groups
// (domain/permissions.ts rolesInProject), loaded once per (scope, project). Every use case that
// acts in a project authorizes with `actorInProject(scope, projectId)`, never with `scope.actor`.
import { and, eq, inArray, isNotNull, or } from 'drizzle-orm';
import type { Queryable } from '../db/client.ts';
import { projectMembers, projects } from '../db/schema/index.ts';
import { inProject, type Principal, type ProjectGrant, rolesInProject } from '../domain/permissions.ts';
import type { Role } from '../domain/types.ts';
import type { Scope } from './scope.ts';

/** The grants of `projectId` that can apply to `principal` (its subject, its groups). */
export async function grantsFor(db: Queryable, principal: Principal, projectId: string): Promise<ProjectGrant[]> {
  if (principal.kind === 'callback' || principal.boundTo) return [];
  const groups = principal.groups ?? [];
  const rows = await db
    .select({ subject: projectMembers.subject, group: projectMembers.group, roles: projectMembers.roles })
    .from(projectMembers)
    .where(
      and(
        eq(projectMembers.projectId, projectId),
        groups.length > 0
          ? or(
              eq(projectMembers.subject, principal.subject),
              and(isNotNull(projectMembers.group), inArray(projectMembers.group, [...groups])),
            )
          : eq(projectMembers.subject, principal.subject),
      ),
    );
  return rows.map((r) => ({ subject: r.subject, group: r.group, roles: r.roles as Role[] }));
}

/** The roles `principal` has in `projectId`; [] when the project does not exist. */
export async function projectRolesOf(db: Queryable, principal: Principal, projectId: string): Promise<Role[]> {
  const [project] = await db.select({ id: projects.id, visibility: projects.visibility }).from(projects).where(eq(projects.id, projectId));
  if (!project) return [];
  return rolesInProject(principal, project, await grantsFor(db, principal, projectId));
}

/** The scope's actor with its roles in `projectId`: what authorize() is given for any action in it. */
export async function actorInProject(scope: Scope, projectId: string): Promise<Principal> {
  return inProject(scope.actor, await projectRolesOf(scope.db, scope.actor, projectId));
}

/**
 * Whether `principal` may see `projectId` at all: with any role in it (rolesInProject already
 * keeps global non-ADMIN roles out of PRIVATE projects).
 */
export async function canSeeProject(db: Queryable, principal: Principal, projectId: string): Promise<boolean> {
  return (await projectRolesOf(db, principal, projectId)).length > 0;
}
