// Roles in a project (v2): the actor's global roles plus the grants to its subject and its groups
// (domain/permissions.ts rolesInProject). Every use case that acts in a project authorizes with
// `actorInProject(scope, projectId)`, never with `scope.actor`; a PRIVATE project the actor has no
// role in answers NOT_FOUND, as if it did not exist. Reads filter with `visibleProjects`, one SQL
// condition folded into the statement that loads the project (or the object inside it).
// Also the use cases of project access: setProjectVisibility, grantProjectRoles, revokeProjectRoles.
import { and, asc, eq, inArray, isNull, or, type SQL, type SQLWrapper, sql } from 'drizzle-orm';
import type { Queryable } from '../db/client.ts';
import { type ProjectMemberRow, projectMembers, projects } from '../db/schema/index.ts';
import { notFound } from '../domain/errors.ts';
import { publicId } from '../domain/ids.ts';
import { assertAuthorized, inProject, type Principal, type ProjectGrant, rolesInProject } from '../domain/permissions.ts';
import type { ProjectVisibility, Role } from '../domain/types.ts';
import type { GrantProjectRolesInput, RevokeProjectRolesInput } from '../domain/validation.ts';
import { isOneOf, ROLES } from '../domain/values.ts';
import type { Scope } from './scope.ts';
import { type ReadBack, transact } from './transaction.ts';

const projectNotFound = (projectId: string) => notFound(`No Project with id ${JSON.stringify(publicId('Project', projectId))}`);

/**
 * The grants that can apply to `principal` (to its subject, to one of its groups), as a condition
 * on project_members; undefined for principals no grant applies to (callback tokens, and
 * project-bound principals, whose roles were bounded when they were made).
 */
function granteeCondition(principal: Principal): SQL | undefined {
  if (principal.kind === 'callback' || principal.boundTo) return undefined;
  const groups = [...new Set(principal.groups ?? [])];
  const bySubject = eq(projectMembers.subject, principal.subject);
  return groups.length > 0 ? or(bySubject, inArray(projectMembers.group, groups)) : bySubject;
}

/**
 * The SQL twin of "rolesInProject(principal, project, grants) is not empty": which projects
 * `principal` may see at all. `project.id` is the project's id column (projects.id, or an
 * object's project_id); `project.visibility` its visibility column when the statement has it.
 * Undefined: every project (global ADMIN). test/integration/project-visibility.test.ts checks it
 * against rolesInProject on generated principals and grants.
 */
export function visibleProjects(principal: Principal, project: { id: SQLWrapper; visibility?: SQLWrapper }): SQL | undefined {
  if (principal.kind === 'callback') return sql`false`;
  if (principal.boundTo) {
    const ids = Object.entries(principal.boundTo)
      .filter(([, roles]) => roles.length > 0)
      .map(([id]) => id);
    return ids.length > 0
      ? sql`${project.id} in (${sql.join(
          ids.map((id) => sql`${id}`),
          sql`, `,
        )})`
      : sql`false`;
  }
  if (principal.roles.includes('ADMIN')) return undefined;
  const grantee = granteeCondition(principal)!;
  const granted = sql`exists (select 1 from ${projectMembers} where ${projectMembers.projectId} = ${project.id} and ${grantee})`;
  if (principal.roles.length === 0) return granted;
  // Global non-ADMIN roles reach INTERNAL projects only (the literal keeps the plan generic-safe).
  const internal = project.visibility
    ? sql`${project.visibility} = 'INTERNAL'`
    : sql`exists (select 1 from ${projects} where ${projects.id} = ${project.id} and ${projects.visibility} = 'INTERNAL')`;
  return sql`(${internal} or ${granted})`;
}

/** Whether `principal` has a role anywhere: globally, in a project it is bound to, or by a grant. */
export async function hasAnyRole(db: Queryable, principal: Principal): Promise<boolean> {
  if (principal.kind === 'callback') return false;
  if (principal.boundTo) return Object.values(principal.boundTo).some((roles) => roles.length > 0);
  if (principal.roles.length > 0) return true;
  const [row] = await db.select({ one: sql<number>`1` }).from(projectMembers).where(granteeCondition(principal)).limit(1);
  return row !== undefined;
}

export interface ProjectAccess {
  project: { id: string; slug: string; visibility: ProjectVisibility };
  /** The principal's roles there (rolesInProject). */
  roles: Role[];
  /** False for a PRIVATE project it has no role in: to it, the project does not exist. */
  visible: boolean;
}

/** The project and `principal`'s roles in it, in one statement; null when there is no such project. */
export async function projectAccess(
  db: Queryable,
  principal: Principal,
  where: { id: string } | { slug: string },
): Promise<ProjectAccess | null> {
  const grantee = granteeCondition(principal);
  const rows = await db
    .select({
      id: projects.id,
      slug: projects.slug,
      visibility: projects.visibility,
      subject: projectMembers.subject,
      group: projectMembers.group,
      roles: projectMembers.roles,
    })
    .from(projects)
    .leftJoin(projectMembers, and(eq(projectMembers.projectId, projects.id), grantee ?? sql`false`))
    .where('id' in where ? eq(projects.id, where.id) : eq(projects.slug, where.slug));
  const first = rows[0];
  if (!first) return null;
  const grants: ProjectGrant[] = rows
    .filter((r) => r.roles !== null)
    .map((r) => ({ subject: r.subject, group: r.group, roles: r.roles!.filter((role) => isOneOf(ROLES, role)) }));
  const project = { id: first.id, slug: first.slug, visibility: first.visibility };
  const roles = rolesInProject(principal, project, grants);
  return { project, roles, visible: project.visibility === 'INTERNAL' || roles.length > 0 };
}

export interface InProjectOptions {
  /** The use case's transaction (else scope.db: a second connection while the transaction holds one). */
  db?: Queryable;
  /**
   * What a project the actor may not see answers: the use case's own NOT_FOUND for the object it
   * was asked about, word for word, so a hidden object and a missing one look the same.
   * Default: "No Project with id ...".
   */
  hidden?: () => Error;
}

/**
 * The scope's actor with its roles in `projectId`: what authorize() is given for any action in
 * it. A project that does not exist, or is PRIVATE and the actor has no role in it: NOT_FOUND.
 * In an INTERNAL project without a role the actor gets no role (authorize refuses: FORBIDDEN).
 */
export async function actorInProject(
  scope: Pick<Scope, 'db' | 'actor'>,
  projectId: string,
  options: InProjectOptions = {},
): Promise<Principal> {
  const access = await projectAccess(options.db ?? scope.db, scope.actor, { id: projectId });
  if (!access?.visible) throw options.hidden?.() ?? projectNotFound(projectId);
  return inProject(scope.actor, access.roles);
}

// ---------------------------------------------------------------- use cases

/** setProjectVisibility: ADMIN (global, or granted in the project). Answers the project's id. */
export function setProjectVisibility<R = string>(
  scope: Scope,
  projectId: string,
  visibility: ProjectVisibility,
  readBack?: ReadBack<string, R>,
): Promise<R> {
  return transact(
    scope,
    async (tx) => {
      assertAuthorized('setProjectVisibility', await actorInProject(scope, projectId, { db: tx }));
      const [before] = await tx.select({ visibility: projects.visibility }).from(projects).where(eq(projects.id, projectId)).for('update');
      await tx.update(projects).set({ visibility }).where(eq(projects.id, projectId));
      return {
        result: projectId,
        audit: { projectId, action: 'project.visibility.set', targetId: projectId, detail: { from: before!.visibility, to: visibility } },
      };
    },
    readBack,
  ) as Promise<R>;
}

const granteeOf = (input: { subject?: string; group?: string }) =>
  input.subject !== undefined ? { subject: input.subject, group: null } : { subject: null, group: input.group! };

/**
 * grantProjectRoles: the grantee's roles in the project become `roles` (granting again replaces
 * them, one row per grantee). ADMIN (global, or granted in the project). Answers the grant.
 */
export function grantProjectRoles(scope: Scope, projectId: string, input: GrantProjectRolesInput): Promise<ProjectMemberRow> {
  return transact(scope, async (tx) => {
    assertAuthorized('grantProjectRoles', await actorInProject(scope, projectId, { db: tx }));
    const grantee = granteeOf(input);
    const values = { projectId, ...grantee, roles: input.roles, grantedBy: scope.actor.subject, createdAt: new Date() };
    const [row] = await tx
      .insert(projectMembers)
      .values(values)
      .onConflictDoUpdate({
        // The partial unique index of this kind of grantee (project_members_{subject,group}_unique).
        target:
          grantee.subject !== null ? [projectMembers.projectId, projectMembers.subject] : [projectMembers.projectId, projectMembers.group],
        targetWhere: sql.raw(grantee.subject !== null ? '"subject" is not null' : '"group" is not null'),
        set: { roles: values.roles, grantedBy: values.grantedBy, createdAt: values.createdAt },
      })
      .returning();
    return {
      result: row!,
      audit: { projectId, action: 'project.member.grant', targetId: row!.id, detail: { ...grantee, roles: input.roles } },
    };
  });
}

/** revokeProjectRoles: removes the grantee's grant. Answers whether there was one (false: nothing changed). */
export function revokeProjectRoles(scope: Scope, projectId: string, input: RevokeProjectRolesInput): Promise<boolean> {
  return transact(scope, async (tx) => {
    assertAuthorized('revokeProjectRoles', await actorInProject(scope, projectId, { db: tx }));
    const grantee = granteeOf(input);
    const removed = await tx
      .delete(projectMembers)
      .where(
        and(
          eq(projectMembers.projectId, projectId),
          grantee.subject !== null ? eq(projectMembers.subject, grantee.subject) : isNull(projectMembers.subject),
          grantee.group !== null ? eq(projectMembers.group, grantee.group) : isNull(projectMembers.group),
        ),
      )
      .returning();
    const row = removed[0];
    // Audited either way: an ADMIN's attempt is worth a line even when there was nothing to revoke.
    return {
      result: row !== undefined,
      audit: {
        projectId,
        action: 'project.member.revoke',
        targetId: row?.id ?? null,
        detail: { ...grantee, revoked: row !== undefined, roles: row?.roles ?? null },
      },
    };
  });
}

/** A project's grants, subjects first, then groups, each by name. */
export function membersOf(db: Queryable, projectId: string): Promise<ProjectMemberRow[]> {
  return db
    .select()
    .from(projectMembers)
    .where(eq(projectMembers.projectId, projectId))
    .orderBy(sql`${projectMembers.subject} is null`, asc(projectMembers.subject), asc(projectMembers.group));
}
