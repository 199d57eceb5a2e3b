// A project's secrets: names and rotation settings, and per-environment values written through
// the secret store (set, rotate, reveal). The rules of writing a value live in secrets/rotation.ts,
// shared with scheduled rotation. Nothing here logs, returns or audits a value, except
// revealSecretValue's answer (ADMIN only, and every call audited in its own transaction).
import { and, eq, sql } from 'drizzle-orm';
import type { Transaction } from '../db/client.ts';
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
import { publicId } from '../domain/ids.ts';
import { assertAuthorized } from '../domain/permissions.ts';
import type { CreateSecretInput, SecretValueRef, SetSecretValueInput, UpdateSecretInput } from '../domain/validation.ts';
import { lockSecretValueTarget, rotateSecretValue, secretRefOf, writeSecretValue, type SecretValueTarget } from '../secrets/rotation.ts';
import { describeRef, SecretStoreError, type SecretDeleteRef, type SecretStore } from '../secrets/store.ts';
import { afterConfigChange, assertNotArchived } from './environments.ts';
import { actorInProject } from './project-access.ts';
import type { Scope } from './scope.ts';
import { transact, type ReadBack } from './transaction.ts';

/** A secret's value metadata in one environment (value null: not set there). */
export interface SecretValueMetadata {
  secret: SecretRow;
  environment: EnvironmentRow;
  value: SecretValueRow | null;
}

const secretNotFound = (secretId: string) => notFound(`No Secret with id ${JSON.stringify(publicId('Secret', secretId))}`);

function storeOf(scope: Scope): SecretStore {
  if (!scope.services.secrets) throw new Error('This process has no secret store (services.secrets is not set)');
  return scope.services.secrets;
}

/**
 * Runs a write through the store. A value the store refuses (INVALID_VALUE: e.g. an unpaired
 * surrogate) is the client's to fix: BAD_USER_INPUT on input.value. Any other store failure
 * stays an internal error, which the API masks and logs (its message names the secret, never a value).
 */
async function storeCall<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof SecretStoreError && error.code === 'INVALID_VALUE') throw badInput(`input.value: ${error.message}`, 'input.value');
    throw error;
  }
}

/**
 * The secret's value in one environment, locked (lockSecretValueTarget), and the actor with its
 * roles in the secret's project. A secret of a project the actor may not see is answered like a
 * missing one, whether or not the environment exists (its environments are not probed).
 */
async function lockTarget(scope: Scope, tx: Transaction, secretId: string, environmentSlug: string) {
  const target = await lockSecretValueTarget(tx, { secretId, environmentSlug });
  if ('missing' in target && target.missing === 'secret') throw secretNotFound(secretId);
  const projectId = 'missing' in target ? target.projectId : target.secret.projectId;
  const actor = await actorInProject(scope, projectId, { db: tx, hidden: () => secretNotFound(secretId) });
  if ('missing' in target) throw notFound(`input.environment: no environment ${JSON.stringify(environmentSlug)} in this project`);
  return { target, actor };
}

const metadataOf = (target: SecretValueTarget, value: SecretValueRow): SecretValueMetadata => ({
  secret: target.secret,
  environment: target.environment,
  value,
});

export function createSecret<R = string>(
  scope: Scope,
  projectId: string,
  input: CreateSecretInput,
  readBack?: ReadBack<string, R>,
): Promise<R> {
  return transact(
    scope,
    async (tx) => {
      assertAuthorized('createSecret', await actorInProject(scope, projectId, { db: tx }));
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
    },
    readBack,
  ) as Promise<R>;
}

export function updateSecret<R = string>(
  scope: Scope,
  secretId: string,
  input: UpdateSecretInput,
  readBack?: ReadBack<string, R>,
): Promise<R> {
  return transact(
    scope,
    async (tx) => {
      const [existing] = await tx.select().from(secrets).where(eq(secrets.id, secretId));
      if (!existing) throw secretNotFound(secretId);
      assertAuthorized('updateSecret', await actorInProject(scope, existing.projectId, { db: tx, hidden: () => secretNotFound(secretId) }));
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
    },
    readBack,
  ) as Promise<R>;
}

/** Deletes a secret and its values in every environment (archived ones too). */
export async function deleteSecret(scope: Scope, secretId: string): Promise<void> {
  const store = storeOf(scope);
  await transact(scope, async (tx, after) => {
    const [row] = await tx
      .select({ secret: secrets, projectSlug: projects.slug })
      .from(secrets)
      .innerJoin(projects, eq(projects.id, secrets.projectId))
      .where(eq(secrets.id, secretId))
      .for('update', { of: secrets });
    if (!row) throw secretNotFound(secretId);
    assertAuthorized('deleteSecret', await actorInProject(scope, row.secret.projectId, { db: tx, hidden: () => secretNotFound(secretId) }));
    const existing = row.secret;
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
    // Local: the ciphertexts go with the metadata, in this transaction. Elsewhere (AWS): only once
    // the metadata is gone for good, after commit (a failure leaves an orphan, never a reference
    // to a value that no longer exists). The deletion has happened either way.
    if (store.backend === 'local') await store.delete(tx, ref);
    else {
      after.add("remove the deleted secret's values from the secret store (they are orphaned there)", () => store.delete(scope.db, ref), {
        secretName: existing.name,
        secretId: existing.id,
      });
    }
    await tx.delete(secrets).where(eq(secrets.id, existing.id));
    // The secret leaves every snapshot of the project's active environments.
    for (const e of envRows.filter((e) => e.archivedAt === null)) afterConfigChange(after, scope.services, scope.db, e.id);
    return {
      result: undefined,
      audit: { projectId: existing.projectId, action: 'secret.delete', targetId: existing.id, detail: { name: existing.name } },
    };
  });
}

/** Writes a new version of the value in one environment. */
export function setSecretValue(scope: Scope, secretId: string, input: SetSecretValueInput): Promise<SecretValueMetadata> {
  const store = storeOf(scope);
  return storeCall(() =>
    transact(scope, async (tx, after) => {
      const { target, actor } = await lockTarget(scope, tx, secretId, input.environment);
      assertAuthorized('setSecretValue', actor, { environment: target.environment });
      assertNotArchived(target.environment);
      const row = await writeSecretValue(tx, store, target, input.value, { actor: scope.actor.subject, now: new Date(), rotated: false });
      // A secret's version is part of a deployment's snapshot: approvals given so far are void.
      afterConfigChange(after, scope.services, scope.db, target.environment.id);
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
}

/** A new random value now; refused while frozen or while a deployment of the environment runs. */
export function rotateSecret(scope: Scope, secretId: string, input: SecretValueRef): Promise<SecretValueMetadata> {
  const store = storeOf(scope);
  return storeCall(() =>
    transact(scope, async (tx, after) => {
      const { target, actor } = await lockTarget(scope, tx, secretId, input.environment);
      assertAuthorized('rotateSecret', actor, { environment: target.environment });
      assertNotArchived(target.environment);
      if (!target.current) {
        throw preconditionFailed(
          `${target.secret.name} has no value in ${target.environment.slug} to rotate; set one first with setSecretValue`,
        );
      }
      const rotated = await rotateSecretValue(tx, store, target, { actor: scope.actor.subject, now: new Date(), scheduled: false });
      if (rotated.outcome === 'blocked') {
        throw preconditionFailed(`Cannot rotate ${target.secret.name} in ${target.environment.slug} now: ${rotated.blocker.message}`, {
          reason: rotated.blocker.reason,
        });
      }
      afterConfigChange(after, scope.services, scope.db, target.environment.id);
      return { result: metadataOf(target, rotated.row), audit: rotated.audit };
    }),
  );
}

/**
 * The value (ADMIN in the secret's project); the reveal is written to the audit log in the same
 * transaction. Authorized right after the secret is found (its project decides the roles), before
 * the environment is looked up: a refused caller learns nothing beyond the secret's existence,
 * which it could read in Project.secrets anyway; a hidden project's secret is NOT_FOUND.
 */
export function revealSecretValue(scope: Scope, secretId: string, input: SecretValueRef): Promise<string> {
  const store = storeOf(scope);
  return storeCall(() =>
    transact(scope, async (tx) => {
      const [found] = await tx
        .select({ secret: secrets, projectSlug: projects.slug })
        .from(secrets)
        .innerJoin(projects, eq(projects.id, secrets.projectId))
        .where(eq(secrets.id, secretId));
      if (!found) throw secretNotFound(secretId);
      assertAuthorized(
        'revealSecretValue',
        await actorInProject(scope, found.secret.projectId, { db: tx, hidden: () => secretNotFound(secretId) }),
      );
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
      if (!version) throw new SecretStoreError('BACKEND_ERROR', `The secret store has no ${describeRef(ref, metadata.versionId)}`);
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
}
