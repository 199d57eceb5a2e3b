// Projects: the Project node, the projects/project queries and createProject.
import { sql, type SQLWrapper } from 'drizzle-orm';
import { CreateProjectInputSchema, parseInput } from '../domain/validation.ts';
import { visibleProjects } from '../services/project-access.ts';
import { createProject } from '../services/projects.ts';
import { AuditEventRef, auditPage } from './audit-log.ts';
import { builder } from './builder.ts';
import { principalOf, scopeOf, type Context } from './context.ts';

/**
 * The relational-query filter "projects the caller may see" (v2), folded into the statement that
 * loads them: a PRIVATE project is absent for those without a role in it, at no extra statement.
 */
export const visibleProjectsWhere = (ctx: Context) => {
  const principal = principalOf(ctx);
  return { RAW: (t: { id: SQLWrapper; visibility: SQLWrapper }) => visibleProjects(principal, t) ?? sql`true` };
};

/** The same filter for a row inside a project (by its project_id): deployments, environments, ... */
export const inVisibleProjectWhere = (ctx: Context) => {
  const principal = principalOf(ctx);
  return { RAW: (t: { projectId: SQLWrapper }) => visibleProjects(principal, { id: t.projectId }) ?? sql`true` };
};

export const ProjectRef = builder.drizzleNode('projects', {
  name: 'Project',
  id: { column: (p) => p.id },
  fields: (t) => ({
    slug: t.exposeString('slug'),
    name: t.exposeString('name'),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    auditLog: t.connection(
      {
        type: AuditEventRef,
        description: 'Newest first.',
        resolve: (project, args, ctx) => auditPage(ctx.db, project.id, args.first, args.after),
      },
      { name: 'AuditEventConnection' },
      { name: 'AuditEventEdge' },
    ),
  }),
});

const CreateProjectInput = builder.inputType('CreateProjectInput', {
  fields: (t) => ({
    slug: t.string({ required: true, description: '^[a-z][a-z0-9-]{1,38}$' }),
    name: t.string({ required: true }),
    withDefaultEnvironments: t.boolean({ defaultValue: true }),
  }),
});

builder.queryFields((t) => ({
  projects: t.drizzleConnection(
    {
      type: 'projects',
      resolve: (query, _root, _args, ctx) =>
        ctx.db.query.projects.findMany(query({ where: visibleProjectsWhere(ctx), orderBy: { slug: 'asc' } })),
    },
    { name: 'ProjectConnection' },
    { name: 'ProjectEdge' },
  ),
  project: t.drizzleField({
    type: 'projects',
    nullable: true,
    args: { slug: t.arg.string({ required: true }) },
    resolve: (query, _root, args, ctx) =>
      ctx.db.query.projects.findFirst(query({ where: { slug: args.slug, ...visibleProjectsWhere(ctx) } })),
  }),
}));

builder.mutationFields((t) => ({
  createProject: t.drizzleField({
    type: 'projects',
    args: { input: t.arg({ type: CreateProjectInput, required: true }) },
    resolve: (query, _root, args, ctx) =>
      createProject(scopeOf(ctx), parseInput(CreateProjectInputSchema, args.input, 'input'), (tx, id) =>
        tx.query.projects.findFirst(query({ where: { id } })),
      ),
  }),
}));
