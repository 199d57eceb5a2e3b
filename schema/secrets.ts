// Secrets: names and metadata of a project's secrets, and per-environment value metadata.
// No field here ever holds a value.
import { and, asc, eq, inArray, isNull } from 'drizzle-orm';
import { environments, secrets, secretValues, type EnvironmentRow, type SecretRow, type SecretValueRow } from '../db/schema/index.ts';
import { notFound } from '../domain/errors.ts';
import { assertAuthorized } from '../domain/permissions.ts';
import { CreateSecretInputSchema, parseInput, UpdateSecretInputSchema } from '../domain/validation.ts';
import { cached, type Context } from '../server/context.ts';
import { mutate } from './audit.ts';
import { builder, localId } from './builder.ts';
import { EnvironmentRef } from './environments.ts';
import { ProjectRef } from './projects.ts';

interface SecretValueMetadataShape {
  secret: SecretRow;
  environment: EnvironmentRow;
  value: SecretValueRow | null;
}

/** Every secret × environment pair of a project (active environments), from two queries. */
async function projectSecretMatrix(ctx: Context, projectId: string) {
  return cached(ctx, `secret-matrix:${projectId}`, async () => {
    const [secretRows, envRows] = await Promise.all([
      ctx.db.select().from(secrets).where(eq(secrets.projectId, projectId)).orderBy(asc(secrets.name)),
      ctx.db
        .select()
        .from(environments)
        .where(and(eq(environments.projectId, projectId), isNull(environments.archivedAt)))
        .orderBy(asc(environments.position)),
    ]);
    const valueRows = secretRows.length
      ? await ctx.db.select().from(secretValues).where(inArray(secretValues.secretId, secretRows.map((s) => s.id)))
      : [];
    const valueOf = (secretId: string, environmentId: string) =>
      valueRows.find((v) => v.secretId === secretId && v.environmentId === environmentId) ?? null;
    return { secretRows, envRows, valueOf };
  });
}

export const SecretRef = builder.drizzleNode('secrets', {
  name: 'Secret',
  id: { column: (s) => s.id },
  fields: (t) => ({
    name: t.exposeString('name', { description: 'UPPER_SNAKE_CASE, unique in its project' }),
    description: t.exposeString('description'),
    rotationEnabled: t.exposeBoolean('rotationEnabled'),
    rotationDays: t.exposeInt('rotationDays', { nullable: true }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

export const SecretValueMetadataRef = builder.objectRef<SecretValueMetadataShape>('SecretValueMetadata').implement({
  description: "Metadata of a secret's value in one environment. No field ever holds the value.",
  fields: (t) => ({
    secret: t.field({ type: SecretRef, resolve: (m) => m.secret }),
    environment: t.field({ type: EnvironmentRef, resolve: (m) => m.environment }),
    isSet: t.boolean({ resolve: (m) => m.value !== null }),
    versionId: t.string({ nullable: true, resolve: (m) => m.value?.versionId ?? null }),
    updatedAt: t.field({ type: 'DateTime', nullable: true, resolve: (m) => m.value?.updatedAt ?? null }),
    updatedBy: t.string({ nullable: true, resolve: (m) => m.value?.updatedBy ?? null }),
    lastRotatedAt: t.field({ type: 'DateTime', nullable: true, resolve: (m) => m.value?.lastRotatedAt ?? null }),
    nextRotationAt: t.field({ type: 'DateTime', nullable: true, resolve: (m) => m.value?.nextRotationAt ?? null }),
  }),
});

builder.drizzleObjectFields(SecretRef, (t) => ({
  values: t.field({
    type: [SecretValueMetadataRef],
    description: 'one per environment of the project',
    resolve: async (secret, _args, ctx) => {
      const m = await projectSecretMatrix(ctx, secret.projectId);
      return m.envRows.map((environment) => ({ secret, environment, value: m.valueOf(secret.id, environment.id) }));
    },
  }),
}));

builder.drizzleObjectFields(ProjectRef, (t) => ({
  secrets: t.relation('secrets', { query: { orderBy: { name: 'asc' } } }),
}));

builder.drizzleObjectFields(EnvironmentRef, (t) => ({
  secrets: t.field({
    type: [SecretValueMetadataRef],
    resolve: async (environment, _args, ctx) => {
      const m = await projectSecretMatrix(ctx, environment.projectId);
      return m.secretRows.map((secret) => ({ secret, environment, value: m.valueOf(secret.id, environment.id) }));
    },
  }),
}));

const CreateSecretInput = builder.inputType('CreateSecretInput', {
  fields: (t) => ({
    projectId: t.id({ required: true }),
    name: t.string({ required: true }),
    description: t.string(),
    rotationEnabled: t.boolean({ defaultValue: false }),
    rotationDays: t.int(),
  }),
});
const UpdateSecretInput = builder.inputType('UpdateSecretInput', {
  fields: (t) => ({
    id: t.id({ required: true }),
    description: t.string(),
    rotationEnabled: t.boolean(),
    rotationDays: t.int(),
  }),
});

async function findSecret(ctx: Context, globalId: string) {
  const id = localId(globalId, 'Secret');
  const [secret] = await ctx.db.select().from(secrets).where(eq(secrets.id, id));
  if (!secret) throw notFound(`No Secret with id ${JSON.stringify(globalId)}`);
  return secret;
}

builder.mutationFields((t) => ({
  createSecret: t.drizzleField({
    type: 'secrets',
    args: { input: t.arg({ type: CreateSecretInput, required: true }) },
    resolve: async (query, _root, args, ctx) => {
      const input = parseInput(CreateSecretInputSchema, args.input, 'input');
      const projectId = localId(args.input.projectId, 'Project');
      const id = await mutate(ctx, async (tx, actor) => {
        assertAuthorized('createSecret', actor);
        const [row] = await tx
          .insert(secrets)
          .values({
            projectId,
            name: input.name,
            description: input.description ?? '',
            rotationEnabled: input.rotationEnabled ?? false,
            rotationDays: input.rotationDays ?? null,
          })
          .returning();
        return {
          result: row!.id,
          audit: {
            projectId,
            action: 'secret.create',
            targetId: row!.id,
            detail: { name: row!.name, rotationEnabled: row!.rotationEnabled, rotationDays: row!.rotationDays },
          },
        };
      });
      return (await ctx.db.query.secrets.findFirst(query({ where: { id } })))!;
    },
  }),

  updateSecret: t.drizzleField({
    type: 'secrets',
    args: { input: t.arg({ type: UpdateSecretInput, required: true }) },
    resolve: async (query, _root, args, ctx) => {
      const input = parseInput(UpdateSecretInputSchema, args.input, 'input');
      const existing = await findSecret(ctx, args.input.id);
      const id = await mutate(ctx, async (tx, actor) => {
        assertAuthorized('updateSecret', actor);
        const changes: Partial<typeof secrets.$inferInsert> = {};
        if (input.description !== undefined) changes.description = input.description ?? '';
        if (input.rotationEnabled !== undefined) changes.rotationEnabled = input.rotationEnabled;
        if (input.rotationDays !== undefined) changes.rotationDays = input.rotationDays;
        if (Object.keys(changes).length > 0) await tx.update(secrets).set(changes).where(eq(secrets.id, existing.id));
        return {
          result: existing.id,
          audit: {
            projectId: existing.projectId,
            action: 'secret.update',
            targetId: existing.id,
            detail: { name: existing.name, changed: Object.keys(changes).sort() },
          },
        };
      });
      return (await ctx.db.query.secrets.findFirst(query({ where: { id } })))!;
    },
  }),

  deleteSecret: t.id({
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_root, args, ctx) => {
      const existing = await findSecret(ctx, args.id);
      await mutate(ctx, async (tx, actor) => {
        assertAuthorized('deleteSecret', actor);
        await tx.delete(secrets).where(eq(secrets.id, existing.id));
        return {
          result: null,
          audit: { projectId: existing.projectId, action: 'secret.delete', targetId: existing.id, detail: { name: existing.name } },
        };
      });
      return args.id;
    },
  }),
}));
