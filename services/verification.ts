// v2, verification and automatic rollback: what a person does after an automatic rollback —
// lift a release's quarantine in an environment, and let pushes deploy there again. Deploy
// decisions, not configuration changes: a deployer of the environment in every type, or ADMIN.
// The verification itself runs in the deployment's workflow (services/deployment-runs.ts).
import { and, eq } from 'drizzle-orm';
import { environments, releaseQuarantines, releases } from '../db/schema/index.ts';
import { notFound, preconditionFailed } from '../domain/errors.ts';
import { publicId } from '../domain/ids.ts';
import { assertAuthorized } from '../domain/permissions.ts';
import { lockEnvironmentFor } from './environments.ts';
import type { Scope } from './scope.ts';
import { transact, type ReadBack } from './transaction.ts';

/** releaseQuarantine: the release may be deployed and promoted into the environment again. */
export function releaseQuarantine<R = string>(
  scope: Scope,
  environmentId: string,
  releaseId: string,
  readBack?: ReadBack<string, R>,
): Promise<R> {
  return transact(
    scope,
    async (tx) => {
      const { env, actor } = await lockEnvironmentFor(scope, tx, environmentId);
      assertAuthorized('releaseQuarantine', actor, { environment: env });
      const [release] = await tx
        .select()
        .from(releases)
        .where(and(eq(releases.id, releaseId), eq(releases.projectId, env.projectId)));
      if (!release) throw notFound(`No Release with id ${JSON.stringify(publicId('Release', releaseId))} in this project`);
      const removed = await tx
        .delete(releaseQuarantines)
        .where(and(eq(releaseQuarantines.environmentId, env.id), eq(releaseQuarantines.releaseId, release.id)))
        .returning({ deploymentId: releaseQuarantines.deploymentId });
      if (removed.length === 0) throw preconditionFailed(`Release ${release.version} is not quarantined in ${env.slug}`);
      return {
        result: env.id,
        audit: {
          projectId: env.projectId,
          action: 'release.quarantine.release',
          targetId: release.id,
          detail: { environment: env.slug, version: release.version },
        },
      };
    },
    readBack,
  ) as Promise<R>;
}

/** resumeAutoDeploy: pushes deploy into the environment again. */
export function resumeAutoDeploy<R = string>(scope: Scope, environmentId: string, readBack?: ReadBack<string, R>): Promise<R> {
  return transact(
    scope,
    async (tx) => {
      const { env, actor } = await lockEnvironmentFor(scope, tx, environmentId);
      assertAuthorized('resumeAutoDeploy', actor, { environment: env });
      if (!env.autoDeployPaused) throw preconditionFailed(`Auto-deploy is not paused in ${env.slug}`);
      await tx.update(environments).set({ autoDeployPaused: false }).where(eq(environments.id, env.id));
      return {
        result: env.id,
        audit: { projectId: env.projectId, action: 'environment.auto_deploy.resume', targetId: env.id, detail: { slug: env.slug } },
      };
    },
    readBack,
  ) as Promise<R>;
}
