// Projects: creating one, with the contract's default environments.
import { environments, environmentSettingsVersions, projects } from '../db/schema/index.ts';
import { DEFAULT_ENVIRONMENTS, defaultDeployTarget, defaultPolicy, defaultSettings } from '../domain/defaults.ts';
import { assertAuthorized, globalActor } from '../domain/permissions.ts';
import type { CreateProjectInput } from '../domain/validation.ts';
import type { Scope } from './scope.ts';
import { transact, type ReadBack } from './transaction.ts';

/** Creates a project and (unless told not to) development, staging and production. Answers its id. */
export function createProject<R = string>(scope: Scope, input: CreateProjectInput, readBack?: ReadBack<string, R>): Promise<R> {
  return transact(
    scope,
    async (tx) => {
      // Outside any project: global roles only (a project-bound token creates none).
      assertAuthorized('createProject', globalActor(scope.actor));
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
            .values({ environmentId: row!.id, version: 1, settings, changedBy: scope.actor.subject });
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
    },
    readBack as ReadBack<string, R> | undefined,
  ) as Promise<R>;
}
