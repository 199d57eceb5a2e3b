// Tokens and access: API tokens (created, revoked, and recognised on each request). Roles and
// what they allow are domain/permissions.ts; JWT verification is process wiring (server/auth.ts).
import { createHash, randomBytes } from 'node:crypto';
import { eq } from 'drizzle-orm';
import type { Queryable } from '../db/client.ts';
import { apiTokens, type ApiTokenRow } from '../db/schema/index.ts';
import { notFound, preconditionFailed } from '../domain/errors.ts';
import { assertAuthorized, assertCanGrantRoles, authorize, globalActor, type Principal } from '../domain/permissions.ts';
import type { CreateApiTokenInput } from '../domain/validation.ts';
import { isOneOf, ROLES } from '../domain/values.ts';
import { actorInProject, projectAccess } from './project-access.ts';
import type { Scope } from './scope.ts';
import { transact } from './transaction.ts';

/** API tokens carry this prefix so they are told apart from JWTs (and spotted by secret scanners). */
export const API_TOKEN_PREFIX = 'spt_';
/** Only the hash is stored: a database dump yields no usable token. */
export const hashToken = (token: string) => createHash('sha256').update(token).digest('hex');

/**
 * A global token (global ADMIN, roles bounded by the creator's global roles), or with
 * `input.projectId` (a local Project id) a token of that project only: ADMIN there (global, or
 * granted), roles bounded by the creator's roles in that project.
 */
export function createApiToken(scope: Scope, input: CreateApiTokenInput): Promise<{ token: string; apiToken: ApiTokenRow }> {
  return transact(scope, async (tx) => {
    const creator = input.projectId ? await actorInProject(scope, input.projectId, { db: tx }) : globalActor(scope.actor);
    assertAuthorized('createApiToken', creator);
    assertCanGrantRoles(creator, input.roles);
    const token = API_TOKEN_PREFIX + randomBytes(32).toString('base64url');
    const [row] = await tx
      .insert(apiTokens)
      .values({
        name: input.name,
        roles: input.roles,
        tokenHash: hashToken(token),
        createdBy: scope.actor.subject,
        expiresAt: input.expiresAt ?? null,
        projectId: input.projectId ?? null,
      })
      .returning();
    return {
      result: { token, apiToken: row! },
      audit: {
        projectId: row!.projectId,
        action: 'api-token.create',
        targetId: row!.id,
        detail: { name: row!.name, roles: row!.roles },
      },
    };
  });
}

/**
 * Revokes a token: a global one by a global ADMIN; a project token also by an ADMIN of its
 * project (granted, or a token of that project). `label` is the id as the caller gave it.
 * Anyone else is refused FORBIDDEN before learning anything: a missing id, a global token and a
 * token of a project they do not administer (visible or not) all answer alike.
 */
export function revokeApiToken(scope: Scope, id: string, label: string = id): Promise<ApiTokenRow> {
  return transact(scope, async (tx) => {
    const global = globalActor(scope.actor);
    const [row] = await tx.select().from(apiTokens).where(eq(apiTokens.id, id)).for('update');
    if (!authorize('revokeApiToken', global).allowed) {
      const access = row?.projectId ? await projectAccess(tx, scope.actor, { id: row.projectId }) : null;
      // Refused with the global answer unless ADMIN in the token's project.
      assertAuthorized('revokeApiToken', access ? { ...scope.actor, roles: access.roles } : global);
    }
    if (!row) throw notFound(`No API token with id ${JSON.stringify(label)}`);
    if (row.revokedAt) throw preconditionFailed(`API token ${row.name} is already revoked`);
    const [revoked] = await tx.update(apiTokens).set({ revokedAt: new Date() }).where(eq(apiTokens.id, id)).returning();
    return {
      result: revoked!,
      audit: { projectId: row.projectId, action: 'api-token.revoke', targetId: id, detail: { name: row.name } },
    };
  });
}

/**
 * Who an API token (the bearer string) stands for, or why it stands for no one. A project token
 * is bound to its project (`boundTo`): its roles count there and nowhere else.
 */
export async function principalOfApiToken(
  db: Queryable,
  token: string,
): Promise<{ principal: Principal; error: null } | { principal: null; error: string }> {
  const [row] = await db
    .select()
    .from(apiTokens)
    .where(eq(apiTokens.tokenHash, hashToken(token)));
  if (!row) return { principal: null, error: 'Token is invalid' };
  if (row.revokedAt) return { principal: null, error: 'Token has been revoked' };
  if (row.expiresAt && row.expiresAt.getTime() <= Date.now()) return { principal: null, error: 'Token has expired' };
  const roles = row.roles.filter((r) => isOneOf(ROLES, r));
  const subject = `token:${row.name}`;
  if (row.projectId) {
    return { principal: Object.freeze({ subject, roles: [], kind: 'api-token', boundTo: { [row.projectId]: roles } }), error: null };
  }
  return { principal: { subject, roles, kind: 'api-token' }, error: null };
}
