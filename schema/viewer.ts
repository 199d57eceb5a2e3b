// Identity: who is calling (viewer) and the API tokens scripts use.
import type { ApiTokenRow } from '../db/schema/index.ts';
import { globalRolesOf } from '../domain/permissions.ts';
import type { Role } from '../domain/types.ts';
import { CreateApiTokenInputSchema, parseInput } from '../domain/validation.ts';
import { createApiToken, revokeApiToken } from '../services/access.ts';
import { builder, localId, RoleEnum } from './builder.ts';
import { principalOf, scopeOf } from './context.ts';

export const ViewerRef = builder.objectRef<{ subject: string; roles: Role[]; issuer?: string | undefined }>('Viewer').implement({
  fields: (t) => ({
    subject: t.exposeString('subject', { description: "the token's `sub`" }),
    roles: t.expose('roles', { type: [RoleEnum] }),
    issuer: t.string({
      nullable: true,
      description: 'the `iss` of an OIDC or workload token; null for tokens signed with JWT_SECRET and for API tokens',
      resolve: (viewer) => viewer.issuer ?? null,
    }),
  }),
});

export const ApiTokenRef = builder.objectRef<ApiTokenRow>('ApiToken').implement({
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
    projectId: t.id({ description: 'a token scoped to one project: its roles count there only' }),
  }),
});

builder.queryField('viewer', (t) =>
  t.field({
    type: ViewerRef,
    resolve: (_root, _args, ctx) => {
      const p = principalOf(ctx);
      // Global roles only: a project-bound token has none (its roles are in Viewer.projectRoles).
      return { subject: p.subject, roles: globalRolesOf(p), issuer: p.issuer };
    },
  }),
);

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

builder.mutationFields((t) => ({
  createApiToken: t.field({
    type: CreatedApiTokenRef,
    args: { input: t.arg({ type: CreateApiTokenInput, required: true }) },
    resolve: (_root, args, ctx) => {
      const input = parseInput(CreateApiTokenInputSchema, args.input, 'input');
      return createApiToken(scopeOf(ctx), { ...input, projectId: input.projectId ? localId(input.projectId, 'Project') : undefined });
    },
  }),

  revokeApiToken: t.field({
    type: ApiTokenRef,
    args: { id: t.arg.id({ required: true }) },
    // Token ids are plain UUIDs (ApiToken is not a Node); a global id of it is accepted too.
    resolve: (_root, args, ctx) => revokeApiToken(scopeOf(ctx), UUID.test(args.id) ? args.id : localId(args.id, 'ApiToken'), args.id),
  }),
}));
