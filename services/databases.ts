// Database connections of a project and their per-environment values (never a password: a
// password is the name of one of the project's secrets).
import { and, eq } from 'drizzle-orm';
import { databaseConnections, databaseConnectionValues, environments, secrets } from '../db/schema/index.ts';
import { notFound } from '../domain/errors.ts';
import { publicId } from '../domain/ids.ts';
import { assertAuthorized } from '../domain/permissions.ts';
import type { CreateDatabaseConnectionInput, SetDatabaseConnectionValueInput } from '../domain/validation.ts';
import { afterConfigChange, assertNotArchived } from './environments.ts';
import { actorInProject } from './project-access.ts';
import type { Scope } from './scope.ts';
import { transact, type ReadBack } from './transaction.ts';

export function createDatabaseConnection<R = string>(
  scope: Scope,
  projectId: string,
  input: CreateDatabaseConnectionInput,
  readBack?: ReadBack<string, R>,
): Promise<R> {
  return transact(
    scope,
    async (tx) => {
      assertAuthorized('createDatabaseConnection', await actorInProject(scope, projectId, { db: tx }));
      const [row] = await tx
        .insert(databaseConnections)
        .values({ projectId, name: input.name, type: input.type ?? 'POSTGRES' })
        .returning();
      return { result: row!.id, audit: { projectId, action: 'database.create', targetId: row!.id, detail: { name: input.name } } };
    },
    readBack,
  ) as Promise<R>;
}

/** Sets (or replaces) a connection's value in one environment; answers the value row's id. */
export function setDatabaseConnectionValue<R = string>(
  scope: Scope,
  connectionId: string,
  input: SetDatabaseConnectionValueInput,
  readBack?: ReadBack<string, R>,
): Promise<R> {
  return transact(
    scope,
    async (tx, after) => {
      const [connection] = await tx.select().from(databaseConnections).where(eq(databaseConnections.id, connectionId));
      const connectionNotFound = () =>
        notFound(`No DatabaseConnection with id ${JSON.stringify(publicId('DatabaseConnection', connectionId))}`);
      if (!connection) throw connectionNotFound();
      // Before anything else is looked up: a hidden project's environments are not probed either.
      const actor = await actorInProject(scope, connection.projectId, { db: tx, hidden: connectionNotFound });
      const [env] = await tx
        .select()
        .from(environments)
        .where(and(eq(environments.projectId, connection.projectId), eq(environments.slug, input.environment)))
        .for('update');
      if (!env) throw notFound(`input.environment: no environment ${JSON.stringify(input.environment)} in this project`);
      assertAuthorized('setDatabaseConnectionValue', actor, { environment: env });
      assertNotArchived(env);
      let passwordSecretId: string | null = null;
      if (input.passwordSecret) {
        const [secret] = await tx
          .select({ id: secrets.id })
          .from(secrets)
          .where(and(eq(secrets.projectId, connection.projectId), eq(secrets.name, input.passwordSecret)));
        if (!secret) throw notFound(`input.passwordSecret: no secret ${input.passwordSecret} in this project`);
        passwordSecretId = secret.id;
      }
      const values = {
        host: input.host,
        port: input.port ?? 5432,
        database: input.database,
        user: input.user ?? null,
        ssl: input.ssl ?? true,
        poolSize: input.poolSize ?? 10,
        passwordSecretId,
        updatedAt: new Date(),
      };
      const [row] = await tx
        .insert(databaseConnectionValues)
        .values({ connectionId, environmentId: env.id, ...values })
        .onConflictDoUpdate({ target: [databaseConnectionValues.connectionId, databaseConnectionValues.environmentId], set: values })
        .returning();
      // A connection value is part of a deployment's snapshot.
      afterConfigChange(after, scope.services, scope.db, env.id);
      return {
        result: row!.id,
        audit: {
          projectId: connection.projectId,
          action: 'database.value.set',
          targetId: connectionId,
          detail: {
            connection: connection.name,
            environment: env.slug,
            host: values.host,
            port: values.port,
            database: values.database,
            user: values.user,
            ssl: values.ssl,
            poolSize: values.poolSize,
            passwordSecret: input.passwordSecret ?? null,
          },
        },
      };
    },
    readBack,
  ) as Promise<R>;
}
