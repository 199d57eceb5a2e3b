// Projects: the Project node, the projects/project queries and createProject.
import { projects } from '../db/schema/index.ts';
import { environments, environmentSettingsVersions } from '../db/schema/index.ts';
import { DEFAULT_ENVIRONMENTS, defaultDeployTarget, defaultPolicy, defaultSettings } from '../domain/defaults.ts';
import { assertAuthorized } from '../domain/permissions.ts';
import { CreateProjectInputSchema, parseInput } from '../domain/validation.ts';
import { AuditEventRef, auditPage, mutate } from './audit.ts';
import { builder } from './builder.ts';

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
      resolve: (query, _root, _args, ctx) => ctx.db.query.projects.findMany(query({ orderBy: { slug: 'asc' } })),
    },
    { name: 'ProjectConnection' },
    { name: 'ProjectEdge' },
  ),
  project: t.drizzleField({
    type: 'projects',
    nullable: true,
    args: { slug: t.arg.string({ required: true }) },
    resolve: (query, _root, args, ctx) => ctx.db.query.projects.findFirst(query({ where: { slug: args.slug } })),
  }),
}));

builder.mutationFields((t) => ({
  createProject: t.drizzleField({
    type: 'projects',
    args: { input: t.arg({ type: CreateProjectInput, required: true }) },
    resolve: async (query, _root, args, ctx) => {
      const input = parseInput(CreateProjectInputSchema, args.input, 'input');
      return mutate(ctx, async (tx, actor) => {
        assertAuthorized('createProject', actor);
        const [project] = await tx.insert(projects).values({ slug: input.slug, name: input.name }).returning();
        const created: string[] = [];
        if (input.withDefaultEnvironments ?? true) {
          const idsBySlug = new Map<string, string>();
          for (const env of DEFAULT_ENVIRONMENTS) {
            const settings = defaultSettings(env.type);
            const [row] = await tx
              .insert(environments)
              .values({
                projectId: project!.id,
                slug: env.slug,
                name: env.name,
                type: env.type,
                position: env.position,
                promotesFromId: env.promotesFrom ? idsBySlug.get(env.promotesFrom)! : null,
                policy: defaultPolicy(env.type),
                deployTarget: defaultDeployTarget(),
                settings,
              })
              .returning({ id: environments.id });
            idsBySlug.set(env.slug, row!.id);
            await tx
              .insert(environmentSettingsVersions)
              .values({ environmentId: row!.id, version: 1, settings, changedBy: actor.subject });
            created.push(env.slug);
          }
        }
        return {
          result: project!.id,
          audit: {
            projectId: project!.id,
            action: 'project.create',
            targetId: project!.id,
            detail: { slug: input.slug, name: input.name, environments: created },
          },
        };
      }, (tx, id) => tx.query.projects.findFirst(query({ where: { id } })));
    },
  }),
}));
