// Project access (v2): Project.visibility and members, Viewer.projectRoles, ApiToken.project, and
// setProjectVisibility / grantProjectRoles / revokeProjectRoles (services/project-access.ts).
import {
  GrantProjectRolesInputSchema,
  parseInput,
  RevokeProjectRolesInputSchema,
  SetProjectVisibilityInputSchema,
} from '../domain/validation.ts';
import type { Role } from '../domain/types.ts';
import { PROJECT_VISIBILITIES } from '../domain/values.ts';
import { grantProjectRoles, projectAccess, revokeProjectRoles, setProjectVisibility } from '../services/project-access.ts';
import { builder, enumValues, localId, RoleEnum } from './builder.ts';
import { principalOf, scopeOf } from './context.ts';
import { ProjectRef, visibleProjectsWhere } from './projects.ts';
import { ApiTokenRef, ViewerRef } from './viewer.ts';

const ProjectVisibilityEnum = builder.enumType('ProjectVisibility', {
  values: enumValues(PROJECT_VISIBILITIES, {
    INTERNAL: 'any authenticated principal reads it (v1 behaviour, the default)',
    PRIVATE: 'only ADMINs and principals granted a role in this project see it at all',
  }),
});

const ProjectMemberRef = builder.drizzleObject('projectMembers', {
  name: 'ProjectMember',
  fields: (t) => ({
    subject: t.exposeString('subject', { nullable: true, description: "a token's `sub`, or null for a group grant" }),
    group: t.exposeString('group', { nullable: true, description: 'an OIDC group (the groups claim), or null for a subject grant' }),
    roles: t.field({ type: [RoleEnum], resolve: (m) => m.roles as Role[] }),
    grantedBy: t.exposeString('grantedBy'),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'when the grant got its current roles' }),
  }),
});

builder.drizzleObjectFields(ProjectRef, (t) => ({
  visibility: t.expose('visibility', { type: ProjectVisibilityEnum }),
  members: t.relation('members', {
    description: 'Every grant of roles in this project: subjects first, then groups, each by name.',
    query: { orderBy: { subject: 'asc', group: 'asc' } },
  }),
}));

builder.objectField(ViewerRef, 'projectRoles', (t) =>
  t.field({
    type: [RoleEnum],
    description: "Effective roles in a project: global roles plus grants (subject and groups); [] where it has none, or can't see it.",
    args: { projectSlug: t.arg.string({ required: true }) },
    resolve: async (_viewer, args, ctx) => {
      const access = await projectAccess(ctx.db, principalOf(ctx), { slug: args.projectSlug });
      return access?.visible ? access.roles : [];
    },
  }),
);

builder.objectField(ApiTokenRef, 'project', (t) =>
  t.drizzleField({
    type: 'projects',
    nullable: true,
    description: 'null for a global token',
    resolve: (query, token, _args, ctx) =>
      token.projectId
        ? ctx.db.query.projects.findFirst(query({ where: { id: token.projectId, ...visibleProjectsWhere(ctx) } })).then((p) => p ?? null)
        : null,
  }),
);

const GrantProjectRolesInput = builder.inputType('GrantProjectRolesInput', {
  fields: (t) => ({
    projectId: t.id({ required: true }),
    subject: t.string({ description: 'exactly one of subject and group' }),
    group: t.string(),
    roles: t.field({ type: [RoleEnum], required: true }),
  }),
});
const RevokeProjectRolesInput = builder.inputType('RevokeProjectRolesInput', {
  fields: (t) => ({
    projectId: t.id({ required: true }),
    subject: t.string(),
    group: t.string(),
  }),
});
const SetProjectVisibilityInput = builder.inputType('SetProjectVisibilityInput', {
  fields: (t) => ({
    projectId: t.id({ required: true }),
    visibility: t.field({ type: ProjectVisibilityEnum, required: true }),
  }),
});

builder.mutationFields((t) => ({
  setProjectVisibility: t.drizzleField({
    type: 'projects',
    description: 'ADMIN (global, or granted in the project).',
    args: { input: t.arg({ type: SetProjectVisibilityInput, required: true }) },
    resolve: (query, _root, args, ctx) => {
      const input = parseInput(SetProjectVisibilityInputSchema, args.input, 'input');
      return setProjectVisibility(scopeOf(ctx), localId(input.projectId, 'Project'), input.visibility, (tx, id) =>
        tx.query.projects.findFirst(query({ where: { id } })),
      );
    },
  }),
  grantProjectRoles: t.field({
    type: ProjectMemberRef,
    description: "ADMIN (global, or granted in the project). Granting again replaces the grantee's roles.",
    args: { input: t.arg({ type: GrantProjectRolesInput, required: true }) },
    resolve: (_root, args, ctx) => {
      const input = parseInput(GrantProjectRolesInputSchema, args.input, 'input');
      return grantProjectRoles(scopeOf(ctx), localId(input.projectId, 'Project'), input);
    },
  }),
  revokeProjectRoles: t.boolean({
    description: 'ADMIN (global, or granted in the project). True when a grant was removed, false when there was none.',
    args: { input: t.arg({ type: RevokeProjectRolesInput, required: true }) },
    resolve: (_root, args, ctx) => {
      const input = parseInput(RevokeProjectRolesInputSchema, args.input, 'input');
      return revokeProjectRoles(scopeOf(ctx), localId(input.projectId, 'Project'), input);
    },
  }),
}));
