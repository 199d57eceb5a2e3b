// Trust policies (workload identity): the TrustPolicy node, Project.trustPolicies and
// createTrustPolicy/deleteTrustPolicy. Matching tokens against them is server/oidc.ts'.
import type { Role } from '../domain/types.ts';
import { parseInput, trustPolicyInputSchema } from '../domain/validation.ts';
import { createTrustPolicy, deleteTrustPolicy } from '../services/trust-policies.ts';
import { builder, localId, RoleEnum } from './builder.ts';
import { scopeOf } from './context.ts';
import { ProjectRef } from './projects.ts';

export const TrustPolicyRef = builder.drizzleNode('trustPolicies', {
  name: 'TrustPolicy',
  id: { column: (p) => p.id },
  description:
    'A workload (CI job) that signs in with its own OIDC token, no stored secret: a JWT from `issuer` whose `aud` is `audience` and whose `sub` matches `subjectPattern` acts with `roles` in this project only.',
  fields: (t) => ({
    issuer: t.exposeString('issuer'),
    audience: t.exposeString('audience'),
    subjectPattern: t.exposeString('subjectPattern', { description: 'glob: `*` matches any run of characters, `:` and `/` included' }),
    roles: t.field({ type: [RoleEnum], resolve: (row) => row.roles as Role[] }),
    createdBy: t.exposeString('createdBy'),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

builder.drizzleObjectFields(ProjectRef, (t) => ({
  trustPolicies: t.relation('trustPolicies', { query: { orderBy: { createdAt: 'asc', id: 'asc' } } }),
}));

const CreateTrustPolicyInput = builder.inputType('CreateTrustPolicyInput', {
  fields: (t) => ({
    projectId: t.id({ required: true }),
    issuer: t.string({ required: true, description: 'https URL (http only for loopback addresses outside production)' }),
    audience: t.string({ required: true }),
    subjectPattern: t.string({ required: true }),
    roles: t.field({ type: [RoleEnum], required: true }),
  }),
});

builder.mutationFields((t) => ({
  createTrustPolicy: t.drizzleField({
    type: 'trustPolicies',
    args: { input: t.arg({ type: CreateTrustPolicyInput, required: true }) },
    resolve: (query, _root, args, ctx) => {
      const input = parseInput(trustPolicyInputSchema(ctx.services.config.env === 'production'), args.input, 'input');
      return createTrustPolicy(scopeOf(ctx), { ...input, projectId: localId(input.projectId, 'Project') }, input.projectId, (tx, id) =>
        tx.query.trustPolicies.findFirst(query({ where: { id } })),
      );
    },
  }),

  deleteTrustPolicy: t.id({
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_root, args, ctx) => {
      await deleteTrustPolicy(scopeOf(ctx), localId(args.id, 'TrustPolicy'), args.id);
      return args.id;
    },
  }),
}));
