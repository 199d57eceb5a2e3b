// Tokens and access: API tokens (created, revoked, and recognised on each request). Roles and
// what they allow are domain/permissions.ts; JWT verification is process wiring (server/auth.ts).
import { createHash, randomBytes } from 'node:crypto';
import { eq } from 'drizzle-orm';
import type { Queryable } from '../db/client.ts';
import { apiTokens, type ApiTokenRow } from '../db/schema/index.ts';
import { forbidden, notFound, preconditionFailed } from '../domain/errors.ts';
import { assertAuthorized, canGrantRoles, type Principal } from '../domain/permissions.ts';
import type { CreateApiTokenInput } from '../domain/validation.ts';
import { isOneOf, ROLES } from '../domain/values.ts';
import type { Scope } from './scope.ts';
import { transact } from './transaction.ts';

/** API tokens carry this prefix so they are told apart from JWTs (and spotted by secret scanners). */
export const API_TOKEN_PREFIX = 'spt_';
/** Only the hash is stored: a database dump yields no usable token. */
export const hashToken = (token: string) => createHash('sha256').update(token).digest('hex');

export function createApiToken(scope: Scope, input: CreateApiTokenInput): Promise<{ token: string; apiToken: ApiTokenRow }> {
  return transact(scope, async (tx) => {
    assertAuthorized('createApiToken', scope.actor);
    if (!canGrantRoles(scope.actor, input.roles)) throw forbidden('An API token may not have a role its creator lacks');
    const token = API_TOKEN_PREFIX + randomBytes(32).toString('base64url');
    const [row] = await tx
      .insert(apiTokens)
      .values({
        name: input.name,
        roles: input.roles,
        tokenHash: hashToken(token),
        createdBy: scope.actor.subject,
        expiresAt: input.expiresAt ?? null,
      })
      .returning();
    return {
      result: { token, apiToken: row! },
      audit: { projectId: null, action: 'api-token.create', targetId: row!.id, detail: { name: row!.name, roles: row!.roles } },
    };
  });
}

/** `label` is the id as the caller gave it, for the refusal. */
export function revokeApiToken(scope: Scope, id: string, label: string = id): Promise<ApiTokenRow> {
  return transact(scope, async (tx) => {
    assertAuthorized('revokeApiToken', scope.actor);
    const [row] = await tx.select().from(apiTokens).where(eq(apiTokens.id, id)).for('update');
    if (!row) throw notFound(`No API token with id ${JSON.stringify(label)}`);
    if (row.revokedAt) throw preconditionFailed(`API token ${row.name} is already revoked`);
    const [revoked] = await tx.update(apiTokens).set({ revokedAt: new Date() }).where(eq(apiTokens.id, id)).returning();
    return { result: revoked!, audit: { projectId: null, action: 'api-token.revoke', targetId: id, detail: { name: row.name } } };
  });
}

/** Who an API token (the bearer string) stands for, or why it stands for no one. */
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
  return { principal: { subject: `token:${row.name}`, roles: row.roles.filter((r) => isOneOf(ROLES, r)), kind: 'api-token' }, error: null };
}
