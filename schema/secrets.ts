// Secrets: names and metadata of a project's secrets, and per-environment value metadata; the
// values themselves live in the secret store (secrets/store.ts, SECRETS_BACKEND).
// No field here ever holds a value, except revealSecretValue's answer (ADMIN only, audited); no
// error message or audit detail ever quotes one.
import { and, asc, eq, inArray, isNull, sql } from 'drizzle-orm';
import {
  environments,
  projects,
  secrets,
  secretValues,
  type EnvironmentRow,
  type SecretRow,
  type SecretValueRow,
} from '../db/schema/index.ts';
import { badInput, notFound, preconditionFailed } from '../domain/errors.ts';
import { assertAuthorized } from '../domain/permissions.ts';
import {
  CreateSecretInputSchema,
  parseInput,
  SecretValueRefSchema,
  SetSecretValueInputSchema,
  UpdateSecretInputSchema,
} from '../domain/validation.ts';
import { lockSecretValueTarget, rotateSecretValue, secretRefOf, writeSecretValue, type SecretValueTarget } from '../secrets/rotation.ts';
import { describeRef, SecretStoreError, type SecretDeleteRef, type SecretStore } from '../secrets/store.ts';
import { cached, type Context } from '../server/context.ts';
import { signalConfigChanged } from '../workflows/client.ts';
import { mutate, principalOf } from './audit.ts';
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

function storeOf(ctx: Context): SecretStore {
  if (!ctx.services.secrets) throw new Error('This process has no secret store (Services.secrets is not set)');
  return ctx.services.secrets;
}

/**
 * Runs a write through the store. A value the store refuses (INVALID_VALUE: e.g. an unpaired
 * surrogate, which the input schema lets through) is BAD_USER_INPUT; every other store error
 * stays an internal error, which Yoga masks and logs (its message names the secret, never a value).
 */
async function storeCall<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof SecretStoreError && error.code === 'INVALID_VALUE') throw badInput(`input.value: ${error.message}`, 'input.value');
    throw error;
  }
}

/** What may be logged of a store (or other) error: never a driver's message, which can quote parameters. */
function storeErrorFields(error: unknown): Record<string, unknown> {
  return error instanceof SecretStoreError
    ? { code: error.code, retryable: error.retryable, reason: error.message }
    : { error: (error as Error | undefined)?.name ?? 'Error' };
}

/** Best effort after commit: the workflows re-check their snapshot before running anyway. */
async function notifyConfigChanged(ctx: Context, environmentId: string): Promise<void> {
  await signalConfigChanged(ctx.services.workflows, ctx.db, environmentId).catch((error: unknown) =>
    ctx.log.warn({ environmentId, ...storeErrorFields(error) }, 'could not tell deployments that the configuration changed'),
  );
}

async function lockTarget(tx: Parameters<typeof lockSecretValueTarget>[0], secretId: string, globalId: string, environmentSlug: string) {
  const target = await lockSecretValueTarget(tx, { secretId, environmentSlug });
  if ('missing' in target) {
    if (target.missing === 'secret') throw notFound(`No Secret with id ${JSON.stringify(globalId)}`);
    throw notFound(`input.environment: no environment ${JSON.stringify(environmentSlug)} in this project`);
  }
  return target;
}

function assertNotArchived(environment: EnvironmentRow) {
  if (environment.archivedAt) throw preconditionFailed(`Environment ${environment.slug} is archived`);
}

function metadataOf(target: SecretValueTarget, value: SecretValueRow): SecretValueMetadataShape {
  return { secret: target.secret, environment: target.environment, value };
}

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
      return mutate(ctx, async (tx, actor) => {
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
      }, (tx, id) => tx.query.secrets.findFirst(query({ where: { id } })));
    },
  }),

  updateSecret: t.drizzleField({
    type: 'secrets',
    args: { input: t.arg({ type: UpdateSecretInput, required: true }) },
    resolve: async (query, _root, args, ctx) => {
      const input = parseInput(UpdateSecretInputSchema, args.input, 'input');
      const existing = await findSecret(ctx, args.input.id);
      return mutate(ctx, async (tx, actor) => {
        assertAuthorized('updateSecret', actor);
        const changes: Partial<typeof secrets.$inferInsert> = {};
        if (input.description !== undefined) changes.description = input.description ?? '';
        if (input.rotationEnabled !== undefined) changes.rotationEnabled = input.rotationEnabled;
        if (input.rotationDays !== undefined) changes.rotationDays = input.rotationDays;
        if (Object.keys(changes).length > 0) {
          const [updated] = await tx.update(secrets).set(changes).where(eq(secrets.id, existing.id)).returning();
          if (updated && (changes.rotationEnabled !== undefined || changes.rotationDays !== undefined)) {
            // Values already set follow the new schedule: due rotationDays after their last
            // rotation (or their last write); none while rotation is off.
            await tx
              .update(secretValues)
              .set({
                nextRotationAt:
                  updated.rotationEnabled && updated.rotationDays
                    ? sql`coalesce(${secretValues.lastRotatedAt}, ${secretValues.updatedAt}) + make_interval(days => ${updated.rotationDays}::int)`
                    : null,
              })
              .where(eq(secretValues.secretId, existing.id));
          }
        }
        return {
          result: existing.id,
          audit: {
            projectId: existing.projectId,
            action: 'secret.update',
            targetId: existing.id,
            detail: { name: existing.name, changed: Object.keys(changes).sort() },
          },
        };
      }, (tx, id) => tx.query.secrets.findFirst(query({ where: { id } })));
    },
  }),

  deleteSecret: t.id({
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_root, args, ctx) => {
      const existing = await findSecret(ctx, args.id);
      const store = storeOf(ctx);
      const { ref, environmentIds } = await mutate(ctx, async (tx, actor) => {
        assertAuthorized('deleteSecret', actor);
        const [row] = await tx
          .select({ secret: secrets, projectSlug: projects.slug })
          .from(secrets)
          .innerJoin(projects, eq(projects.id, secrets.projectId))
          .where(eq(secrets.id, existing.id))
          .for('update', { of: secrets });
        if (!row) throw notFound(`No Secret with id ${JSON.stringify(args.id)}`);
        // Archived environments too: their values go as well.
        const envRows = await tx
          .select({ id: environments.id, slug: environments.slug, archivedAt: environments.archivedAt })
          .from(environments)
          .where(eq(environments.projectId, existing.projectId));
        const ref: SecretDeleteRef = {
          projectId: existing.projectId,
          projectSlug: row.projectSlug,
          secretId: existing.id,
          secretName: existing.name,
          environmentSlugs: envRows.map((e) => e.slug),
        };
        const environmentIds = envRows.filter((e) => e.archivedAt === null).map((e) => e.id);
        // Local: the ciphertexts go with the metadata, in this transaction.
        if (store.backend === 'local') await store.delete(tx, ref);
        await tx.delete(secrets).where(eq(secrets.id, existing.id));
        return {
          result: { ref, environmentIds },
          audit: { projectId: existing.projectId, action: 'secret.delete', targetId: existing.id, detail: { name: existing.name } },
        };
      });
      // AWS: only once the metadata is gone for good (a failure leaves an orphan, never a
      // reference to a value that no longer exists). The deletion has happened either way.
      if (store.backend !== 'local') {
        await store.delete(ctx.db, ref).catch((error: unknown) =>
          ctx.log.error(
            { secretName: existing.name, secretId: existing.id, ...storeErrorFields(error) },
            'the secret is deleted, but its values could not be removed from the secret store',
          ),
        );
      }
      // The secret leaves every snapshot of the project's environments.
      for (const environmentId of environmentIds) await notifyConfigChanged(ctx, environmentId);
      return args.id;
    },
  }),

  setSecretValue: t.field({
    type: SecretValueMetadataRef,
    args: { input: t.arg({ type: SetSecretValueInput, required: true }) },
    resolve: async (_root, args, ctx) => {
      const input = parseInput(SetSecretValueInputSchema, args.input, 'input');
      const secretId = localId(args.input.secretId, 'Secret');
      const store = storeOf(ctx);
      const metadata = await storeCall(() =>
        mutate(ctx, async (tx, actor) => {
          const target = await lockTarget(tx, secretId, args.input.secretId, input.environment);
          assertAuthorized('setSecretValue', actor, { environment: target.environment });
          assertNotArchived(target.environment);
          const row = await writeSecretValue(tx, store, target, input.value, { actor: actor.subject, now: new Date(), rotated: false });
          return {
            result: metadataOf(target, row),
            audit: {
              projectId: target.secret.projectId,
              action: 'secret.value.set',
              targetId: target.secret.id,
              detail: {
                name: target.secret.name,
                environment: target.environment.slug,
                versionId: row.versionId,
                previousVersionId: target.current?.versionId ?? null,
              },
            },
          };
        }),
      );
      // A secret's version is part of a deployment's snapshot: approvals given so far are void.
      await notifyConfigChanged(ctx, metadata.environment.id);
      return metadata;
    },
  }),

  rotateSecret: t.field({
    type: SecretValueMetadataRef,
    description: 'A new random value now, as a new version. Refused while the environment is frozen or one of its deployments is RUNNING.',
    args: { input: t.arg({ type: SecretValueRefInput, required: true }) },
    resolve: async (_root, args, ctx) => {
      const input = parseInput(SecretValueRefSchema, args.input, 'input');
      const secretId = localId(args.input.secretId, 'Secret');
      const store = storeOf(ctx);
      const metadata = await storeCall(() =>
        mutate(ctx, async (tx, actor) => {
          const target = await lockTarget(tx, secretId, args.input.secretId, input.environment);
          assertAuthorized('rotateSecret', actor, { environment: target.environment });
          assertNotArchived(target.environment);
          if (!target.current) {
            throw preconditionFailed(
              `${target.secret.name} has no value in ${target.environment.slug} to rotate; set one first with setSecretValue`,
            );
          }
          const rotated = await rotateSecretValue(tx, store, target, { actor: actor.subject, now: new Date(), scheduled: false });
          if (rotated.outcome === 'blocked') {
            throw preconditionFailed(`Cannot rotate ${target.secret.name} in ${target.environment.slug} now: ${rotated.blocker.message}`, {
              reason: rotated.blocker.reason,
            });
          }
          return { result: metadataOf(target, rotated.row), audit: rotated.audit };
        }),
      );
      await notifyConfigChanged(ctx, metadata.environment.id);
      return metadata;
    },
  }),

  revealSecretValue: t.string({
    description: 'ADMIN only; every call is audited.',
    args: { input: t.arg({ type: SecretValueRefInput, required: true }) },
    resolve: async (_root, args, ctx) => {
      const input = parseInput(SecretValueRefSchema, args.input, 'input');
      // Before any lookup: others learn nothing, not even whether the secret exists.
      assertAuthorized('revealSecretValue', principalOf(ctx));
      const secretId = localId(args.input.secretId, 'Secret');
      const store = storeOf(ctx);
      // A read, but written to the audit log in the same transaction: no reveal goes unrecorded.
      return storeCall(() =>
        mutate(ctx, async (tx, actor) => {
          assertAuthorized('revealSecretValue', actor);
          const [found] = await tx
            .select({ secret: secrets, projectSlug: projects.slug })
            .from(secrets)
            .innerJoin(projects, eq(projects.id, secrets.projectId))
            .where(eq(secrets.id, secretId));
          if (!found) throw notFound(`No Secret with id ${JSON.stringify(args.input.secretId)}`);
          const [environment] = await tx
            .select()
            .from(environments)
            .where(and(eq(environments.projectId, found.secret.projectId), eq(environments.slug, input.environment)));
          if (!environment) throw notFound(`input.environment: no environment ${JSON.stringify(input.environment)} in this project`);
          const [metadata] = await tx
            .select()
            .from(secretValues)
            .where(and(eq(secretValues.secretId, found.secret.id), eq(secretValues.environmentId, environment.id)));
          if (!metadata) throw notFound(`${found.secret.name} has no value in ${environment.slug}`);
          const ref = secretRefOf({ secret: found.secret, environment, projectSlug: found.projectSlug });
          // Exactly the version the metadata names (never "the latest": that may belong to a write
          // that rolled back).
          const version = await store.get(tx, ref, metadata.versionId);
          if (!version) {
            throw new SecretStoreError('BACKEND_ERROR', `The secret store has no ${describeRef(ref, metadata.versionId)}`);
          }
          return {
            result: version.value,
            audit: {
              projectId: found.secret.projectId,
              action: 'secret.value.reveal',
              targetId: found.secret.id,
              detail: { name: found.secret.name, environment: environment.slug, versionId: metadata.versionId },
            },
          };
        }),
      );
    },
  }),
}));
