// Secrets: names and metadata of a project's secrets, and per-environment value metadata; the
// values themselves live in the secret store (secrets/store.ts, SECRETS_BACKEND).
// No field here ever holds a value, except revealSecretValue's answer (ADMIN only, audited); no
// error message or audit detail ever quotes one.
import { and, asc, eq, inArray, isNull } from 'drizzle-orm';
import { environments, secrets, secretValues } from '../db/schema/index.ts';
import {
  CreateSecretInputSchema,
  parseInput,
  SecretValueRefSchema,
  SetSecretValueInputSchema,
  UpdateSecretInputSchema,
} from '../domain/validation.ts';
import {
  createSecret,
  deleteSecret,
  revealSecretValue,
  rotateSecret,
  setSecretValue,
  updateSecret,
  type SecretValueMetadata,
} from '../services/secrets.ts';
import { builder, localId } from './builder.ts';
import { cached, scopeOf, type Context } from './context.ts';
import { EnvironmentRef } from './environments.ts';
import { ProjectRef } from './projects.ts';

type SecretValueMetadataShape = SecretValueMetadata;

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
      ? await ctx.db
          .select()
          .from(secretValues)
          .where(
            inArray(
              secretValues.secretId,
              secretRows.map((s) => s.id),
            ),
          )
      : [];
    const valueAt = (secretId: string, environmentId: string) =>
      valueRows.find((v) => v.secretId === secretId && v.environmentId === environmentId) ?? null;
    return { secretRows, envRows, valueAt };
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
      return m.envRows.map((environment) => ({ secret, environment, value: m.valueAt(secret.id, environment.id) }));
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
      return m.secretRows.map((secret) => ({ secret, environment, value: m.valueAt(secret.id, environment.id) }));
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

const SetSecretValueInput = builder.inputType('SetSecretValueInput', {
  fields: (t) => ({
    secretId: t.id({ required: true }),
    environment: t.string({ required: true, description: 'slug' }),
    value: t.string({ required: true }),
  }),
});
const SecretValueRefInput = builder.inputType('SecretValueRef', {
  fields: (t) => ({
    secretId: t.id({ required: true }),
    environment: t.string({ required: true, description: 'slug' }),
  }),
});

builder.mutationFields((t) => ({
  createSecret: t.drizzleField({
    type: 'secrets',
    args: { input: t.arg({ type: CreateSecretInput, required: true }) },
    resolve: (query, _root, args, ctx) => {
      const input = parseInput(CreateSecretInputSchema, args.input, 'input');
      return createSecret(scopeOf(ctx), localId(args.input.projectId, 'Project'), input, (tx, id) =>
        tx.query.secrets.findFirst(query({ where: { id } })),
      );
    },
  }),

  updateSecret: t.drizzleField({
    type: 'secrets',
    args: { input: t.arg({ type: UpdateSecretInput, required: true }) },
    resolve: (query, _root, args, ctx) => {
      const input = parseInput(UpdateSecretInputSchema, args.input, 'input');
      return updateSecret(scopeOf(ctx), localId(args.input.id, 'Secret'), input, (tx, id) =>
        tx.query.secrets.findFirst(query({ where: { id } })),
      );
    },
  }),

  deleteSecret: t.id({
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_root, args, ctx) => {
      await deleteSecret(scopeOf(ctx), localId(args.id, 'Secret'));
      return args.id;
    },
  }),

  setSecretValue: t.field({
    type: SecretValueMetadataRef,
    args: { input: t.arg({ type: SetSecretValueInput, required: true }) },
    resolve: (_root, args, ctx) => {
      const input = parseInput(SetSecretValueInputSchema, args.input, 'input');
      return setSecretValue(scopeOf(ctx), localId(args.input.secretId, 'Secret'), input);
    },
  }),

  rotateSecret: t.field({
    type: SecretValueMetadataRef,
    description: 'A new random value now, as a new version. Refused while the environment is frozen or one of its deployments is RUNNING.',
    args: { input: t.arg({ type: SecretValueRefInput, required: true }) },
    resolve: (_root, args, ctx) => {
      const input = parseInput(SecretValueRefSchema, args.input, 'input');
      return rotateSecret(scopeOf(ctx), localId(args.input.secretId, 'Secret'), input);
    },
  }),

  revealSecretValue: t.string({
    description: 'ADMIN only; every call is audited.',
    args: { input: t.arg({ type: SecretValueRefInput, required: true }) },
    resolve: (_root, args, ctx) => {
      const input = parseInput(SecretValueRefSchema, args.input, 'input');
      // Authorized by the service with the roles in the secret's project (v2).
      return revealSecretValue(scopeOf(ctx), localId(args.input.secretId, 'Secret'), input);
    },
  }),
}));
