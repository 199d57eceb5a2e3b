// Identity: who is calling (viewer) and the API tokens scripts use.
import { createHash, randomBytes } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { apiTokens, type ApiTokenRow } from '../db/schema/index.ts';
import { forbidden, notFound, preconditionFailed } from '../domain/errors.ts';
import { assertAuthorized, canGrantRoles } from '../domain/permissions.ts';
import { CreateApiTokenInputSchema, parseInput } from '../domain/validation.ts';
import type { Role } from '../domain/types.ts';
import { mutate, principalOf } from './audit.ts';
import { builder, localId, RoleEnum } from './builder.ts';

/** API tokens carry this prefix so they are told apart from JWTs (and spotted by secret scanners). */
export const API_TOKEN_PREFIX = 'spt_';
export const hashToken = (token: string) => createHash('sha256').update(token).digest('hex');

const ViewerRef = builder.objectRef<{ subject: string; roles: Role[] }>('Viewer').implement({
  fields: (t) => ({
    subject: t.exposeString('subject', { description: "the token's `sub`" }),
    roles: t.expose('roles', { type: [RoleEnum] }),
  }),
});

const ApiTokenRef = builder.objectRef<ApiTokenRow>('ApiToken').implement({
  fields: (t) => ({
    id: t.id({ resolve: (row) => row.id }),
    name: t.exposeString('name'),
    roles: t.field({ type: [RoleEnum], resolve: (row) => row.roles as Role[] }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    expiresAt: t.expose('expiresAt', { type: 'DateTime', nullable: true }),
    revokedAt: t.expose('revokedAt', { type: 'DateTime', nullable: true }),
  }),
});

const CreatedApiTokenRef = builder.objectRef<{ token: string; apiToken: ApiTokenRow }>('CreatedApiToken').implement({
  fields: (t) => ({
    token: t.exposeString('token', { description: 'shown once; only its hash is stored' }),
    apiToken: t.expose('apiToken', { type: ApiTokenRef }),
  }),
});

const CreateApiTokenInput = builder.inputType('CreateApiTokenInput', {
  fields: (t) => ({
    name: t.string({ required: true }),
    roles: t.field({ type: [RoleEnum], required: true }),
    expiresAt: t.field({ type: 'DateTime' }),
  }),
});

builder.queryField('viewer', (t) =>
  t.field({
    type: ViewerRef,
    resolve: (_root, _args, ctx) => {
      const p = principalOf(ctx);
      return { subject: p.subject, roles: p.roles };
    },
  }),
);

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

builder.mutationFields((t) => ({
  createApiToken: t.field({
    type: CreatedApiTokenRef,
    args: { input: t.arg({ type: CreateApiTokenInput, required: true }) },
    resolve: async (_root, args, ctx) => {
      const input = parseInput(CreateApiTokenInputSchema, args.input, 'input');
      return mutate(ctx, async (tx, actor) => {
        assertAuthorized('createApiToken', actor);
        if (!canGrantRoles(actor, input.roles)) throw forbidden('An API token may not have a role its creator lacks');
        const token = API_TOKEN_PREFIX + randomBytes(32).toString('base64url');
        const [row] = await tx
          .insert(apiTokens)
          .values({
            name: input.name,
            roles: input.roles,
            tokenHash: hashToken(token),
            createdBy: actor.subject,
            expiresAt: input.expiresAt ?? null,
          })
          .returning();
        return {
          result: { token, apiToken: row! },
          audit: { projectId: null, action: 'api-token.create', targetId: row!.id, detail: { name: row!.name, roles: row!.roles } },
        };
      });
    },
  }),

  revokeApiToken: t.field({
    type: ApiTokenRef,
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_root, args, ctx) => {
      // Token ids are plain UUIDs (ApiToken is not a Node); a global id of it is accepted too.
      let id = args.id;
      if (!UUID.test(id)) id = localId(id, 'ApiToken');
      return mutate(ctx, async (tx, actor) => {
        assertAuthorized('revokeApiToken', actor);
        const [row] = await tx.select().from(apiTokens).where(eq(apiTokens.id, id)).for('update');
        if (!row) throw notFound(`No API token with id ${JSON.stringify(args.id)}`);
        if (row.revokedAt) throw preconditionFailed(`API token ${row.name} is already revoked`);
        const [revoked] = await tx.update(apiTokens).set({ revokedAt: new Date() }).where(eq(apiTokens.id, id)).returning();
        return { result: revoked!, audit: { projectId: null, action: 'api-token.revoke', targetId: id, detail: { name: row.name } } };
      });
    },
  }),
}));
