// Database connections: named connections of a project and their per-environment values.
import { and, eq } from 'drizzle-orm';
import { databaseConnections, databaseConnectionValues, environments, secrets } from '../db/schema/index.ts';
import { notFound, preconditionFailed } from '../domain/errors.ts';
import { assertAuthorized } from '../domain/permissions.ts';
import { CreateDatabaseConnectionInputSchema, parseInput, SetDatabaseConnectionValueInputSchema } from '../domain/validation.ts';
import { mutate } from './audit.ts';
import { signalConfigChanged } from '../workflows/client.ts';
import { builder, localId } from './builder.ts';
import { DATABASE_TYPES } from '../domain/values.ts';
import { EnvironmentRef } from './environments.ts';
import { ProjectRef } from './projects.ts';

const DatabaseTypeEnum = builder.enumType('DatabaseType', { values: DATABASE_TYPES });

export const DatabaseConnectionRef = builder.drizzleNode('databaseConnections', {
  name: 'DatabaseConnection',
  id: { column: (c) => c.id },
  fields: (t) => ({
    name: t.exposeString('name'),
    type: t.expose('type', { type: DatabaseTypeEnum }),
    values: t.relation('values', { query: { orderBy: { updatedAt: 'asc' } } }),
  }),
});

export const DatabaseConnectionValueRef = builder.drizzleObject('databaseConnectionValues', {
  name: 'DatabaseConnectionValue',
  fields: (t) => ({
    connection: t.relation('connection'),
    environment: t.relation('environment'),
    host: t.exposeString('host'),
    port: t.exposeInt('port', { description: '5432 where not given' }),
    database: t.exposeString('database'),
    user: t.exposeString('user', { nullable: true }),
    ssl: t.exposeBoolean('ssl'),
    poolSize: t.exposeInt('poolSize'),
    passwordSecret: t.relation('passwordSecret', {
      nullable: true,
      description: 'the secret that holds the password, never the password',
    }),
  }),
});

builder.drizzleObjectFields(ProjectRef, (t) => ({
  databaseConnections: t.relation('databaseConnections', { query: { orderBy: { name: 'asc' } } }),
}));
builder.drizzleObjectFields(EnvironmentRef, (t) => ({
  databases: t.relation('databaseValues', { type: DatabaseConnectionValueRef, query: { orderBy: { updatedAt: 'asc' } } }),
}));

const CreateDatabaseConnectionInput = builder.inputType('CreateDatabaseConnectionInput', {
  fields: (t) => ({
    projectId: t.id({ required: true }),
    name: t.string({ required: true }),
    type: t.field({ type: DatabaseTypeEnum, defaultValue: 'POSTGRES' }),
  }),
});
const SetDatabaseConnectionValueInput = builder.inputType('SetDatabaseConnectionValueInput', {
  fields: (t) => ({
    connectionId: t.id({ required: true }),
    environment: t.string({ required: true, description: 'slug' }),
    host: t.string({ required: true }),
    port: t.int(),
    database: t.string({ required: true }),
    user: t.string(),
    ssl: t.boolean(),
    poolSize: t.int(),
    passwordSecret: t.string({ description: 'name of a secret of the project' }),
  }),
});

builder.mutationFields((t) => ({
  createDatabaseConnection: t.drizzleField({
    type: 'databaseConnections',
    args: { input: t.arg({ type: CreateDatabaseConnectionInput, required: true }) },
    resolve: async (query, _root, args, ctx) => {
      const input = parseInput(CreateDatabaseConnectionInputSchema, args.input, 'input');
      const projectId = localId(args.input.projectId, 'Project');
      return mutate(ctx, async (tx, actor) => {
        assertAuthorized('createDatabaseConnection', actor);
        const [row] = await tx
          .insert(databaseConnections)
          .values({ projectId, name: input.name, type: input.type ?? 'POSTGRES' })
          .returning();
        return {
          result: row!.id,
          audit: { projectId, action: 'database.create', targetId: row!.id, detail: { name: input.name } },
        };
      }, (tx, id) => tx.query.databaseConnections.findFirst(query({ where: { id } })));
    },
  }),

  setDatabaseConnectionValue: t.drizzleField({
    type: DatabaseConnectionValueRef,
    args: { input: t.arg({ type: SetDatabaseConnectionValueInput, required: true }) },
    resolve: async (query, _root, args, ctx) => {
      const input = parseInput(SetDatabaseConnectionValueInputSchema, args.input, 'input');
      const connectionId = localId(args.input.connectionId, 'DatabaseConnection');
      let environmentId = '';
      const row = await mutate(ctx, async (tx, actor) => {
        const [connection] = await tx.select().from(databaseConnections).where(eq(databaseConnections.id, connectionId));
        if (!connection) throw notFound(`No DatabaseConnection with id ${JSON.stringify(args.input.connectionId)}`);
        const [env] = await tx
          .select()
          .from(environments)
          .where(and(eq(environments.projectId, connection.projectId), eq(environments.slug, input.environment)))
          .for('update');
        if (!env) throw notFound(`input.environment: no environment ${JSON.stringify(input.environment)} in this project`);
        assertAuthorized('setDatabaseConnectionValue', actor, { environment: env });
        environmentId = env.id;
        if (env.archivedAt) throw preconditionFailed(`Environment ${env.slug} is archived`);
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
      }, (tx, id) => tx.query.databaseConnectionValues.findFirst(query({ where: { id } })));
      await signalConfigChanged(ctx.services.workflows, ctx.db, environmentId);
      return row;
    },
  }),
}));
