// The secret value store (secrets/): one suite run against both backends, then what only one of
// them has. `local` runs on a real PostgreSQL database; `aws` runs the real AWS SDK client against
// a local Secrets Manager at the wire (test/support/fake-secrets-manager.ts), so serialisation,
// SigV4 signing, retries and error mapping are the SDK's own.
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { CreateSecretCommand, DescribeSecretCommand, ListSecretVersionIdsCommand } from '@aws-sdk/client-secrets-manager';
import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDatabase, type Database, type DatabaseHandle } from '../../db/client.ts';
import { environments, projects, secrets, secretValueVersions } from '../../db/schema/index.ts';
import { defaultDeployTarget, defaultPolicy, defaultSettings } from '../../domain/defaults.ts';
import type { EnvironmentType } from '../../domain/types.ts';
import { MAX_SECRET_VALUE_BYTES as API_MAX_SECRET_VALUE_BYTES } from '../../domain/validation.ts';
import { ConfigError } from '../../config/index.ts';
import { AwsSecretStore } from '../../secrets/aws.ts';
import { DEVELOPMENT_KEY_FILE, encryptionKeyId, LocalSecretStore, loadEncryptionKeys, parseEncryptionKeys } from '../../secrets/local.ts';
import { createSecretStore, type SecretStoreConfig } from '../../secrets/index.ts';
import {
  generateSecretValue,
  MAX_SECRET_VALUE_BYTES,
  newVersionId,
  SecretStoreError,
  type SecretRef,
  type SecretStore,
} from '../../secrets/store.ts';
import { createTestDatabase } from '../support/database.ts';
import { startFakeSecretsManager, type FakeSecretsManager } from '../support/fake-secrets-manager.ts';

// ---------------------------------------------------------------- fixtures

const KEY_A = randomBytes(32).toString('base64');
const KEY_B = randomBytes(32).toString('base64');
const ENV_SLUGS = ['development', 'staging', 'production'] as const;
type EnvSlug = (typeof ENV_SLUGS)[number];
const ENV_TYPES: Record<EnvSlug, EnvironmentType> = { development: 'DEVELOPMENT', staging: 'STAGING', production: 'PRODUCTION' };

interface World {
  handle: DatabaseHandle;
  drop: () => Promise<void>;
  project: { id: string; slug: string };
  envIds: Record<EnvSlug, string>;
}

/** A database with a project and its three environments (the rows secret values hang off). */
async function createWorld(): Promise<World> {
  const { url, drop } = await createTestDatabase();
  const handle = await createDatabase({ url, poolSize: 4 });
  await handle.migrate();
  const slug = `shop-${randomBytes(3).toString('hex')}`;
  const [project] = await handle.db.insert(projects).values({ slug, name: 'Shop' }).returning();
  const envIds = {} as Record<EnvSlug, string>;
  for (const [position, envSlug] of ENV_SLUGS.entries()) {
    const type = ENV_TYPES[envSlug];
    const [env] = await handle.db
      .insert(environments)
      .values({
        projectId: project!.id,
        slug: envSlug,
        name: envSlug,
        type,
        position,
        policy: defaultPolicy(type),
        deployTarget: defaultDeployTarget(),
        settings: defaultSettings(type),
      })
      .returning();
    envIds[envSlug] = env!.id;
  }
  return { handle, drop, project: { id: project!.id, slug }, envIds };
}

let secretCounter = 0;
/** A fresh secret row: each test works on its own secret, so tests do not see each other. */
async function newSecret(w: World) {
  const name = `TEST_SECRET_${++secretCounter}_${randomBytes(3).toString('hex').toUpperCase()}`;
  const [row] = await w.handle.db.insert(secrets).values({ projectId: w.project.id, name }).returning();
  const ref = (env: EnvSlug = 'staging'): SecretRef => ({
    projectId: w.project.id,
    projectSlug: w.project.slug,
    environmentId: w.envIds[env],
    environmentSlug: env,
    secretId: row!.id,
    secretName: name,
  });
  const deleteRef = {
    projectId: w.project.id,
    projectSlug: w.project.slug,
    secretId: row!.id,
    secretName: name,
    environmentSlugs: [...ENV_SLUGS],
  };
  return { id: row!.id, name, ref, deleteRef };
}

/** Everything an error shows: message, stack, own properties, JSON. */
function everythingIn(error: unknown): string {
  return [String(error), (error as Error)?.stack ?? '', inspect(error, { depth: 10 }), JSON.stringify(error) ?? ''].join('\n');
}

async function thrown(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

const SAVED_ENV = { ...process.env };
const tempDirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'stageplane-secrets-'));
  tempDirs.push(dir);
  return dir;
}
let world: World;
let fake: FakeSecretsManager;

beforeAll(async () => {
  // The SDK's default credential chain finds these first (and never reaches for IMDS).
  fake = await startFakeSecretsManager({ region: 'eu-west-3' });
  process.env.AWS_ACCESS_KEY_ID = fake.credentials.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = fake.credentials.secretAccessKey;
  delete process.env.AWS_SESSION_TOKEN;
  delete process.env.AWS_PROFILE;
  process.env.AWS_EC2_METADATA_DISABLED = 'true';
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  world = await createWorld();
});
afterAll(async () => {
  await fake?.close();
  await world?.handle.close();
  await world?.drop();
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  const touched = [
    'AWS_ACCESS_KEY_ID',
    'AWS_SECRET_ACCESS_KEY',
    'AWS_SESSION_TOKEN',
    'AWS_PROFILE',
    'AWS_EC2_METADATA_DISABLED',
    'AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED',
  ];
  for (const k of touched) {
    if (SAVED_ENV[k] === undefined) delete process.env[k];
    else process.env[k] = SAVED_ENV[k];
  }
});

function storeConfig(backend: 'local' | 'aws', over: Partial<SecretStoreConfig> = {}): SecretStoreConfig {
  return {
    env: 'test',
    dataDir: tempDir(),
    secretsBackend: backend,
    encryptionKey: KEY_A,
    aws: { region: fake.region, endpointUrl: fake.endpoint },
    ...over,
  };
}

// ---------------------------------------------------------------- the shared suite

interface Backend {
  name: 'local' | 'aws';
  /** Makes the next put of this ref fail inside the backend (not in validation). */
  breakPut(ref: SecretRef): SecretRef;
}

const BACKENDS: Backend[] = [
  {
    name: 'local',
    // A secret id with no row: the foreign key refuses the ciphertext row.
    breakPut: (ref) => ({ ...ref, secretId: randomUUID() }),
  },
  {
    name: 'aws',
    // More 500s than the SDK's three attempts.
    breakPut: (ref) => {
      fake.failNext(3);
      return ref;
    },
  },
];

const UNICODE = ' leading space, tab\there, newline\nquotes "\' back\\slash NUL\u0000 ünïcødé 日本語 🔐 {"json":true} trailing  ';

describe.each(BACKENDS)('SecretStore, $name backend', (backend) => {
  let store: SecretStore;
  let db: Database;

  beforeAll(async () => {
    store = await createSecretStore(storeConfig(backend.name));
    db = world.handle.db;
  });
  afterAll(() => {
    if (store instanceof AwsSecretStore) store.destroy();
  });

  it('is the backend SECRETS_BACKEND names', () => {
    expect(store.backend).toBe(backend.name);
    expect(store).toBeInstanceOf(backend.name === 'local' ? LocalSecretStore : AwsSecretStore);
  });

  it('stores a value and reads it back, as the latest and by its version id', async () => {
    const s = await newSecret(world);
    const { versionId } = await store.put(db, s.ref(), 'hunter2-first');
    expect(versionId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(await store.get(db, s.ref())).toEqual({ value: 'hunter2-first', versionId });
    expect(await store.get(db, s.ref(), versionId)).toEqual({ value: 'hunter2-first', versionId });
  });

  it('gives every put a new version; older versions stay readable by id, the latest wins', async () => {
    const s = await newSecret(world);
    const versions: string[] = [];
    for (const value of ['v-one', 'v-two', 'v-three', 'v-three']) versions.push((await store.put(db, s.ref(), value)).versionId);
    expect(new Set(versions).size).toBe(4);
    expect(await store.get(db, s.ref())).toEqual({ value: 'v-three', versionId: versions[3] });
    expect(await store.get(db, s.ref(), versions[0])).toEqual({ value: 'v-one', versionId: versions[0] });
    expect(await store.get(db, s.ref(), versions[1])).toEqual({ value: 'v-two', versionId: versions[1] });
    expect(await store.get(db, s.ref(), versions[2])).toEqual({ value: 'v-three', versionId: versions[2] });
  });

  it.each([
    ['1 byte', 'x'],
    ['exactly 64 KiB of ASCII', 'a'.repeat(65536)],
    ['exactly 64 KiB of 2-byte characters', 'é'.repeat(32768)],
    ['exactly 64 KiB of 4-byte characters', '🔑'.repeat(16384)],
    ['whitespace, quotes, NUL and unicode, byte for byte', UNICODE],
  ])('round-trips %s', async (_label, value) => {
    const s = await newSecret(world);
    const { versionId } = await store.put(db, s.ref(), value);
    const got = await store.get(db, s.ref(), versionId);
    expect(got?.value === value).toBe(true); // not toEqual: a 64 KiB diff is unreadable
    expect(Buffer.from(got!.value, 'utf8').equals(Buffer.from(value, 'utf8'))).toBe(true);
  });

  it.each([
    ['empty', ''],
    ['64 KiB + 1 byte', 'b'.repeat(65537)],
    ['64 KiB + 1 byte of unicode', 'é'.repeat(32768) + 'z'],
    ['an unpaired surrogate', 'secret-\ud800-value'],
  ])('refuses a value that is %s, without storing or quoting it', async (_label, value) => {
    const s = await newSecret(world);
    const before = fake.requests.length;
    const error = await thrown(store.put(db, s.ref(), value));
    expect(error).toBeInstanceOf(SecretStoreError);
    expect((error as SecretStoreError).code).toBe('INVALID_VALUE');
    if (value.length > 0) expect(everythingIn(error)).not.toContain(value);
    expect(await store.get(db, s.ref())).toBeNull();
    expect(fake.requests.slice(before).filter((r) => r.operation !== 'GetSecretValue')).toEqual([]);
  });

  it('agrees with the API on the size limit', () => {
    expect(MAX_SECRET_VALUE_BYTES).toBe(API_MAX_SECRET_VALUE_BYTES);
  });

  it('keeps environments apart', async () => {
    const s = await newSecret(world);
    const dev = await store.put(db, s.ref('development'), 'dev-value');
    const prod = await store.put(db, s.ref('production'), 'prod-value');
    expect(await store.get(db, s.ref('development'))).toEqual({ value: 'dev-value', versionId: dev.versionId });
    expect(await store.get(db, s.ref('production'))).toEqual({ value: 'prod-value', versionId: prod.versionId });
    expect(await store.get(db, s.ref('staging'))).toBeNull();
    // A version id of one environment is no version of another.
    expect(await store.get(db, s.ref('production'), dev.versionId)).toBeNull();
  });

  it('answers null for a value never set and for an unknown version id', async () => {
    const s = await newSecret(world);
    expect(await store.get(db, s.ref())).toBeNull();
    expect(await store.get(db, s.ref(), newVersionId())).toBeNull();
    await store.put(db, s.ref(), 'set-now');
    expect(await store.get(db, s.ref(), newVersionId())).toBeNull();
    expect(await store.get(db, s.ref(), 'not-a-version')).toBeNull();
  });

  it('delete removes every version in every environment; twice is fine; the secret can be set again', async () => {
    const s = await newSecret(world);
    const other = await newSecret(world);
    const a = await store.put(db, s.ref('development'), 'dev-1');
    await store.put(db, s.ref('development'), 'dev-2');
    const b = await store.put(db, s.ref('staging'), 'stg-1');
    const kept = await store.put(db, other.ref('development'), 'other-secret');
    await store.delete(db, s.deleteRef);
    expect(await store.get(db, s.ref('development'))).toBeNull();
    expect(await store.get(db, s.ref('development'), a.versionId)).toBeNull();
    expect(await store.get(db, s.ref('staging'), b.versionId)).toBeNull();
    expect(await store.get(db, other.ref('development'))).toEqual({ value: 'other-secret', versionId: kept.versionId });
    await store.delete(db, s.deleteRef); // nothing left: still fine
    const again = await store.put(db, s.ref('development'), 'dev-3');
    expect(await store.get(db, s.ref('development'))).toEqual({ value: 'dev-3', versionId: again.versionId });
  });

  it('gives concurrent puts a version each, all readable', async () => {
    const s = await newSecret(world);
    const values = Array.from({ length: 6 }, (_, i) => `concurrent-${i}`);
    const results = await Promise.all(values.map((v) => store.put(db, s.ref(), v)));
    expect(new Set(results.map((r) => r.versionId)).size).toBe(values.length);
    for (const [i, r] of results.entries()) expect((await store.get(db, s.ref(), r.versionId))?.value).toBe(values[i]);
    expect(values).toContain((await store.get(db, s.ref()))?.value);
  });

  it('fails with a SecretStoreError that never holds the value when the backend fails', async () => {
    const s = await newSecret(world);
    const value = `sk_live_${randomBytes(12).toString('hex')}`;
    const error = await thrown(store.put(db, backend.breakPut(s.ref()), value));
    expect(error).toBeInstanceOf(SecretStoreError);
    expect((error as SecretStoreError).code).toMatch(/^(MISSING_REFERENCE|BACKEND_ERROR)$/);
    expect((error as SecretStoreError).message).toContain(s.name);
    expect(everythingIn(error)).not.toContain(value);
    expect((error as Error).cause).toBeUndefined();
    expect(await store.get(db, s.ref())).toBeNull();
  });

  it('reads what another store of the same configuration wrote (no state in the process)', async () => {
    const s = await newSecret(world);
    const { versionId } = await store.put(db, s.ref(), 'shared-between-replicas');
    const replica = await createSecretStore(storeConfig(backend.name));
    try {
      expect(await replica.get(db, s.ref())).toEqual({ value: 'shared-between-replicas', versionId });
    } finally {
      if (replica instanceof AwsSecretStore) replica.destroy();
    }
  });
});

describe('generateSecretValue and newVersionId', () => {
  it('generates 32 random bytes as base64url', () => {
    const values = new Set(Array.from({ length: 50 }, generateSecretValue));
    expect(values.size).toBe(50);
    for (const v of values) {
      expect(v).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(Buffer.from(v, 'base64url')).toHaveLength(32);
    }
  });

  it('makes UUIDv7 version ids that sort in creation order, even within a millisecond', () => {
    const ids = Array.from({ length: 5000 }, newVersionId);
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort()).toEqual(ids);
  });
});

// ---------------------------------------------------------------- local only

describe('local backend only', () => {
  let store: LocalSecretStore;
  let db: Database;
  const rowOf = async (secretId: string, versionId: string) =>
    (
      await db
        .select()
        .from(secretValueVersions)
        .where(and(eq(secretValueVersions.secretId, secretId), eq(secretValueVersions.versionId, versionId)))
    )[0]!;

  beforeAll(() => {
    store = new LocalSecretStore(parseEncryptionKeys(KEY_A));
    db = world.handle.db;
  });

  it('stores ciphertext, never the plaintext: a 12-byte nonce, the 16-byte tag appended, the key id', async () => {
    const s = await newSecret(world);
    const value = 'plaintext-must-not-be-stored-'.repeat(4);
    const { versionId } = await store.put(db, s.ref(), value);
    const row = await rowOf(s.id, versionId);
    expect(row.keyId).toBe(encryptionKeyId(Buffer.from(KEY_A, 'base64')));
    expect(row.keyId).toMatch(/^[0-9a-f]{8}$/);
    expect(row.nonce).toHaveLength(12);
    expect(row.ciphertext).toHaveLength(Buffer.byteLength(value) + 16);
    for (const column of [row.ciphertext, row.nonce]) {
      expect(column.includes(Buffer.from(value))).toBe(false);
      expect(column.includes(Buffer.from('plaintext'))).toBe(false);
    }
    // Nor anywhere in the table's text form.
    const dump = JSON.stringify(await db.select().from(secretValueVersions).where(eq(secretValueVersions.secretId, s.id)));
    expect(dump).not.toContain('plaintext');
  });

  it('uses a fresh nonce for every value, so equal values do not give equal ciphertexts', async () => {
    const s = await newSecret(world);
    const one = await store.put(db, s.ref(), 'same-value');
    const two = await store.put(db, s.ref(), 'same-value');
    const [r1, r2] = [await rowOf(s.id, one.versionId), await rowOf(s.id, two.versionId)];
    expect(r1.nonce.equals(r2.nonce)).toBe(false);
    expect(r1.ciphertext.equals(r2.ciphertext)).toBe(false);
  });

  it('refuses a tampered ciphertext or nonce (DECRYPT_FAILED, no value in the error)', async () => {
    const s = await newSecret(world);
    const value = 'tamper-evident-value';
    for (const column of ['ciphertext', 'nonce', 'tag'] as const) {
      const { versionId } = await store.put(db, s.ref(), value);
      const row = await rowOf(s.id, versionId);
      const ciphertext = Buffer.from(row.ciphertext);
      const nonce = Buffer.from(row.nonce);
      if (column === 'ciphertext') ciphertext[0]! ^= 0x01;
      if (column === 'tag') ciphertext[ciphertext.length - 1]! ^= 0x80;
      if (column === 'nonce') nonce[11]! ^= 0x01;
      await db.update(secretValueVersions).set({ ciphertext, nonce }).where(eq(secretValueVersions.id, row.id));
      const error = await thrown(store.get(db, s.ref(), versionId));
      expect(error, column).toBeInstanceOf(SecretStoreError);
      expect((error as SecretStoreError).code).toBe('DECRYPT_FAILED');
      expect((error as Error).message).toContain(versionId);
      expect(everythingIn(error)).not.toContain(value);
    }
    // A truncated ciphertext (tag cut off) too.
    const { versionId } = await store.put(db, s.ref(), value);
    const row = await rowOf(s.id, versionId);
    await db
      .update(secretValueVersions)
      .set({ ciphertext: row.ciphertext.subarray(0, 10) })
      .where(eq(secretValueVersions.id, row.id));
    expect(((await thrown(store.get(db, s.ref(), versionId))) as SecretStoreError).code).toBe('DECRYPT_FAILED');
  });

  it('refuses rows moved or swapped between versions, environments or secrets (the AAD binds them)', async () => {
    const s = await newSecret(world);
    const other = await newSecret(world);
    const v1 = await store.put(db, s.ref('staging'), 'value-of-v1');
    const v2 = await store.put(db, s.ref('staging'), 'value-of-v2');
    // Swap the two versions' encrypted bytes.
    const [r1, r2] = [await rowOf(s.id, v1.versionId), await rowOf(s.id, v2.versionId)];
    await db.update(secretValueVersions).set({ nonce: r2.nonce, ciphertext: r2.ciphertext }).where(eq(secretValueVersions.id, r1.id));
    await db.update(secretValueVersions).set({ nonce: r1.nonce, ciphertext: r1.ciphertext }).where(eq(secretValueVersions.id, r2.id));
    for (const v of [v1, v2]) {
      const error = await thrown(store.get(db, s.ref('staging'), v.versionId));
      expect((error as SecretStoreError).code).toBe('DECRYPT_FAILED');
      expect(everythingIn(error)).not.toMatch(/value-of-v/);
    }
    // Copy a row into production, and into another secret: neither decrypts there.
    const v3 = await store.put(db, s.ref('staging'), 'staging-only-value');
    const r3 = await rowOf(s.id, v3.versionId);
    const { id: _id, createdAt: _c, ...copy } = r3;
    await db.insert(secretValueVersions).values({ ...copy, environmentId: world.envIds.production });
    await db.insert(secretValueVersions).values({ ...copy, secretId: other.id });
    for (const ref of [s.ref('production'), other.ref('staging')]) {
      const error = await thrown(store.get(db, ref, v3.versionId));
      expect((error as SecretStoreError).code).toBe('DECRYPT_FAILED');
      expect(everythingIn(error)).not.toContain('staging-only-value');
    }
    expect((await store.get(db, s.ref('staging'), v3.versionId))?.value).toBe('staging-only-value');
  });

  it("writes the ciphertext in the caller's transaction: a rollback takes it away", async () => {
    const s = await newSecret(world);
    let versionId = '';
    await expect(
      db.transaction(async (tx) => {
        versionId = (await store.put(tx, s.ref(), 'rolled-back-value')).versionId;
        expect((await store.get(tx, s.ref()))?.value).toBe('rolled-back-value'); // visible inside
        throw new Error('roll back');
      }),
    ).rejects.toThrow('roll back');
    expect(versionId).not.toBe('');
    expect(await store.get(db, s.ref(), versionId)).toBeNull();
    expect(await db.select().from(secretValueVersions).where(eq(secretValueVersions.secretId, s.id))).toEqual([]);
    // Committed with it otherwise, and several puts in one transaction stay in order.
    const last = await db.transaction(async (tx) => {
      await store.put(tx, s.ref(), 'first-in-tx');
      await store.put(tx, s.ref(), 'second-in-tx');
      return store.put(tx, s.ref(), 'third-in-tx');
    });
    expect(await store.get(db, s.ref())).toEqual({ value: 'third-in-tx', versionId: last.versionId });
  });

  it('deleting the secret row also deletes its ciphertext rows (foreign key cascade)', async () => {
    const s = await newSecret(world);
    await store.put(db, s.ref(), 'cascade-me');
    await db.delete(secrets).where(eq(secrets.id, s.id));
    expect(await db.select().from(secretValueVersions).where(eq(secretValueVersions.secretId, s.id))).toEqual([]);
  });

  it('rotates keys: old rows stay readable after a new first key; new rows use it; reencrypt lets the old key go', async () => {
    // Its own database: reencrypt() rewrites every row of the table.
    const w = await createWorld();
    try {
      const s = await newSecret(w);
      const idA = encryptionKeyId(Buffer.from(KEY_A, 'base64'));
      const idB = encryptionKeyId(Buffer.from(KEY_B, 'base64'));
      const onlyA = new LocalSecretStore(parseEncryptionKeys(KEY_A));
      const old = await onlyA.put(w.handle.db, s.ref(), 'written-with-key-a');

      const rotated = await createSecretStore(storeConfig('local', { encryptionKey: `${KEY_B}, ${KEY_A}` }));
      expect((rotated as LocalSecretStore).keyIds).toEqual([idB, idA]);
      expect(await rotated.get(w.handle.db, s.ref(), old.versionId)).toEqual({ value: 'written-with-key-a', versionId: old.versionId });
      const fresh = await rotated.put(w.handle.db, s.ref(), 'written-with-key-b');
      expect(
        (await w.handle.db.select().from(secretValueVersions).where(eq(secretValueVersions.versionId, fresh.versionId)))[0]!.keyId,
      ).toBe(idB);

      // Without key A, its rows cannot be read: the error names the key id and ENCRYPTION_KEY.
      const onlyB = new LocalSecretStore(parseEncryptionKeys(KEY_B));
      expect((await onlyB.get(w.handle.db, s.ref()))?.value).toBe('written-with-key-b');
      const error = await thrown(onlyB.get(w.handle.db, s.ref(), old.versionId));
      expect((error as SecretStoreError).code).toBe('UNKNOWN_KEY');
      expect((error as Error).message).toContain(idA);
      expect((error as Error).message).toContain('ENCRYPTION_KEY');
      expect(everythingIn(error)).not.toContain('written-with-key-a');
      expect(everythingIn(error)).not.toContain(KEY_A);

      // Re-encrypting moves every old row to the first key; then key A can be dropped.
      expect(await (rotated as LocalSecretStore).reencrypt(w.handle.db, { batchSize: 1 })).toEqual({ reencrypted: 1 });
      expect(await (rotated as LocalSecretStore).reencrypt(w.handle.db)).toEqual({ reencrypted: 0 });
      expect(await onlyB.get(w.handle.db, s.ref(), old.versionId)).toEqual({ value: 'written-with-key-a', versionId: old.versionId });
      expect((await onlyB.get(w.handle.db, s.ref(), fresh.versionId))?.value).toBe('written-with-key-b');
    } finally {
      await w.handle.close();
      await w.drop();
    }
  });
});

describe('local backend: ENCRYPTION_KEY', () => {
  it('accepts base64 and base64url keys and comma-separated lists, the first one encrypting', () => {
    const raw = randomBytes(32);
    const [k] = parseEncryptionKeys(raw.toString('base64url'));
    expect(k!.id).toBe(encryptionKeyId(raw));
    const keys = parseEncryptionKeys(` ${KEY_B} ,${KEY_A}`);
    expect(keys.map((x) => x.id)).toEqual([encryptionKeyId(Buffer.from(KEY_B, 'base64')), encryptionKeyId(Buffer.from(KEY_A, 'base64'))]);
    // Keys are KeyObjects: printing one shows no key material.
    expect(inspect(keys, { depth: 5 })).not.toContain(KEY_A.slice(0, 20));
    expect(JSON.stringify(keys)).not.toContain(KEY_A.slice(0, 20));
  });

  it.each([
    ['not base64', 'this is not base64 at all!!', /not base64/],
    ['16 bytes', randomBytes(16).toString('base64'), /decodes to 16 bytes/],
    ['33 bytes', randomBytes(33).toString('base64'), /decodes to 33 bytes/],
    ['hex of 32 bytes', randomBytes(32).toString('hex'), /decodes to 48 bytes/],
    ['an empty entry in a list', `${KEY_A},`, /key 2 of 2 is empty/],
    ['a repeated key', `${KEY_A},${KEY_A}`, /key 2 of 2 repeats/],
    ['a bad second key', `${KEY_A},${randomBytes(31).toString('base64')}`, /key 2 of 2 decodes to 31 bytes/],
  ])('refuses %s with one line naming ENCRYPTION_KEY and never quoting it', (_label, value, why) => {
    let error: unknown;
    try {
      loadEncryptionKeys({ env: 'production', dataDir: tempDir(), encryptionKey: value });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    expect(message).toMatch(/^Invalid ENCRYPTION_KEY: /);
    expect(message).toMatch(why);
    expect(message).not.toContain('\n');
    for (const part of value.split(',')) if (part.length > 4) expect(message).not.toContain(part);
  });

  it('refuses to start without a key in production, even with a development key file present', async () => {
    const dataDir = tempDir();
    loadEncryptionKeys({ env: 'development', dataDir, encryptionKey: undefined });
    for (const encryptionKey of [undefined, '   ']) {
      expect(() => loadEncryptionKeys({ env: 'production', dataDir, encryptionKey })).toThrow(
        /^Invalid ENCRYPTION_KEY: required when NODE_ENV=production/,
      );
    }
    await expect(createSecretStore(storeConfig('local', { env: 'production', dataDir, encryptionKey: undefined }))).rejects.toBeInstanceOf(
      ConfigError,
    );
  });

  it('outside production generates a key into DATA_DIR once (mode 0600), says so once, and reuses it', async () => {
    const dataDir = join(tempDir(), 'nested', 'data');
    const logged: { level: string; obj: Record<string, unknown>; msg: string }[] = [];
    const logger = {
      warn: (obj: Record<string, unknown>, msg: string) => logged.push({ level: 'warn', obj, msg }),
      info: (obj: Record<string, unknown>, msg: string) => logged.push({ level: 'info', obj, msg }),
    };
    const config = storeConfig('local', { env: 'development', dataDir, encryptionKey: undefined });
    const first = await createSecretStore(config, { logger });
    const file = join(dataDir, DEVELOPMENT_KEY_FILE);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const keyText = readFileSync(file, 'utf8').trim();
    expect(Buffer.from(keyText, 'base64')).toHaveLength(32);
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatchObject({ level: 'warn', obj: { file } });
    expect(logged[0]!.msg).toContain('ENCRYPTION_KEY');
    expect(JSON.stringify(logged)).not.toContain(keyText);

    const second = await createSecretStore(config, { logger });
    expect(logged).toHaveLength(1); // said once
    expect((second as LocalSecretStore).keyId).toBe((first as LocalSecretStore).keyId);
    expect((first as LocalSecretStore).keyId).toBe(encryptionKeyId(Buffer.from(keyText, 'base64')));
    // Values written with the generated key read back with it.
    const s = await newSecret(world);
    const { versionId } = await first.put(world.handle.db, s.ref(), 'dev-generated-key');
    expect((await second.get(world.handle.db, s.ref(), versionId))?.value).toBe('dev-generated-key');
    expect(loadEncryptionKeys(config).generatedAt).toBeUndefined();
  });

  it('refuses a damaged development key file, naming ENCRYPTION_KEY and the file', () => {
    const dataDir = tempDir();
    writeFileSync(join(dataDir, DEVELOPMENT_KEY_FILE), 'short\n');
    expect(() => loadEncryptionKeys({ env: 'test', dataDir, encryptionKey: undefined })).toThrow(
      new RegExp(
        `^Invalid ENCRYPTION_KEY \\(from ${join(dataDir, DEVELOPMENT_KEY_FILE).replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}\\): the key`,
      ),
    );
  });
});

// ---------------------------------------------------------------- aws only

describe('aws backend only', () => {
  let store: AwsSecretStore;
  const db = () => world.handle.db;
  const describeSecret = (name: string) => store.client.send(new DescribeSecretCommand({ SecretId: name }));

  beforeAll(() => {
    store = new AwsSecretStore({ region: fake.region, endpointUrl: fake.endpoint });
  });
  afterAll(() => store?.destroy());

  it('keeps one secret per project/environment/name under the prefix, tagged', async () => {
    const s = await newSecret(world);
    await store.put(db(), s.ref('production'), 'tagged-value');
    const name = `stageplane/${world.project.slug}/production/${s.name}`;
    expect(store.secretNameOf(s.ref('production'))).toBe(name);
    const described = await describeSecret(name);
    expect(described.Name).toBe(name);
    expect(described.Tags).toEqual(
      expect.arrayContaining([
        { Key: 'project', Value: world.project.slug },
        { Key: 'environment', Value: 'production' },
        { Key: 'secret', Value: s.name },
        { Key: 'managed-by', Value: 'stageplane' },
      ]),
    );
    expect(described.Tags).toHaveLength(4);
    expect(JSON.stringify(described)).not.toContain('tagged-value');

    const custom = await createSecretStore(storeConfig('aws'), { aws: { prefix: '/acme/prod-secrets/' } });
    try {
      await custom.put(db(), s.ref('staging'), 'custom-prefix');
      expect(fake.secrets.has(`acme/prod-secrets/${world.project.slug}/staging/${s.name}`)).toBe(true);
    } finally {
      (custom as AwsSecretStore).destroy();
    }
    await expect(createSecretStore(storeConfig('aws'), { aws: { prefix: 'bad prefix!' } })).rejects.toBeInstanceOf(ConfigError);
  });

  it('creates on the first put; later puts get ResourceExistsException and PutSecretValue, ClientRequestToken = VersionId', async () => {
    const s = await newSecret(world);
    fake.clearRequests();
    const first = await store.put(db(), s.ref(), 'first-value');
    expect(fake.requests.map((r) => [r.operation, r.status, r.errorType])).toEqual([['CreateSecret', 200, undefined]]);
    expect(fake.requests[0]!.body.ClientRequestToken).toBe(first.versionId);
    expect(fake.requests[0]!.headers['content-type']).toBe('application/x-amz-json-1.1');
    expect(fake.requests[0]!.headers['x-amz-target']).toBe('secretsmanager.CreateSecret');

    fake.clearRequests();
    const second = await store.put(db(), s.ref(), 'second-value');
    expect(fake.requests.map((r) => [r.operation, r.status, r.errorType])).toEqual([
      ['CreateSecret', 400, 'ResourceExistsException'],
      ['PutSecretValue', 200, undefined],
    ]);
    expect(fake.requests[0]!.body.ClientRequestToken).toBe(second.versionId);
    expect(fake.requests[1]!.body.ClientRequestToken).toBe(second.versionId);
    expect(second.versionId).not.toBe(first.versionId);
  });

  it('adds a version to a secret that already exists in AWS (made elsewhere)', async () => {
    const s = await newSecret(world);
    const name = store.secretNameOf(s.ref());
    const made = await store.client.send(new CreateSecretCommand({ Name: name, SecretString: 'made-by-terraform' }));
    expect(await store.get(db(), s.ref())).toEqual({ value: 'made-by-terraform', versionId: made.VersionId });
    const ours = await store.put(db(), s.ref(), 'ours-now');
    expect(await store.get(db(), s.ref())).toEqual({ value: 'ours-now', versionId: ours.versionId });
    expect((await store.get(db(), s.ref(), made.VersionId))?.value).toBe('made-by-terraform');
  });

  it('moves AWSCURRENT and AWSPREVIOUS with each put; unlabelled versions stay readable by id', async () => {
    const s = await newSecret(world);
    const name = store.secretNameOf(s.ref());
    const [v1, v2, v3] = [
      (await store.put(db(), s.ref(), 'one')).versionId,
      (await store.put(db(), s.ref(), 'two')).versionId,
      (await store.put(db(), s.ref(), 'three')).versionId,
    ];
    expect((await describeSecret(name)).VersionIdsToStages).toEqual({ [v3]: ['AWSCURRENT'], [v2]: ['AWSPREVIOUS'] });
    const listed = await store.client.send(new ListSecretVersionIdsCommand({ SecretId: name, IncludeDeprecated: true }));
    expect(listed.Versions?.map((v) => v.VersionId).sort()).toEqual([v1, v2, v3].sort());
    expect(await store.get(db(), s.ref())).toEqual({ value: 'three', versionId: v3 });
    expect(await store.get(db(), s.ref(), v1)).toEqual({ value: 'one', versionId: v1 });
    const gets = fake.requestsOf('GetSecretValue').slice(-2);
    expect(gets[0]!.body).toEqual({ SecretId: name, VersionStage: 'AWSCURRENT' });
    expect(gets[1]!.body).toEqual({ SecretId: name, VersionId: v1 });
  });

  it('retries 500s with the same ClientRequestToken and succeeds', async () => {
    const s = await newSecret(world);
    fake.clearRequests();
    fake.failNext(2);
    const { versionId } = await store.put(db(), s.ref(), 'after-retries');
    expect(fake.requests.map((r) => [r.operation, r.status, r.headers['amz-sdk-request']])).toEqual([
      ['CreateSecret', 500, 'attempt=1; max=3'],
      ['CreateSecret', 500, 'attempt=2; max=3'],
      ['CreateSecret', 200, 'attempt=3; max=3'],
    ]);
    expect(new Set(fake.requests.map((r) => r.body.ClientRequestToken))).toEqual(new Set([versionId]));
    // One invocation retried, not three calls.
    expect(new Set(fake.requests.map((r) => r.headers['amz-sdk-invocation-id'])).size).toBe(1);
    expect(await store.get(db(), s.ref())).toEqual({ value: 'after-retries', versionId });
  });

  it('makes no second version when a retried request had landed (idempotent ClientRequestToken)', async () => {
    const s = await newSecret(world);
    const name = store.secretNameOf(s.ref());
    // The first put's CreateSecret lands but its answer is lost; the retry is then ignored by AWS.
    fake.clearRequests();
    fake.failNext(1, { afterApplying: true });
    const first = await store.put(db(), s.ref(), 'landed-once');
    expect(fake.requests.map((r) => [r.operation, r.status])).toEqual([
      ['CreateSecret', 500],
      ['CreateSecret', 200],
    ]);
    expect(fake.secrets.get(name)!.versions.size).toBe(1);
    // Same for a PutSecretValue.
    fake.clearRequests();
    fake.failNext(1, { afterApplying: true, operation: 'PutSecretValue' });
    const second = await store.put(db(), s.ref(), 'landed-twice');
    expect(fake.requests.map((r) => [r.operation, r.status])).toEqual([
      ['CreateSecret', 400],
      ['PutSecretValue', 500],
      ['PutSecretValue', 200],
    ]);
    expect([...fake.secrets.get(name)!.versions.keys()].sort()).toEqual([first.versionId, second.versionId].sort());
    expect(await store.get(db(), s.ref())).toEqual({ value: 'landed-twice', versionId: second.versionId });
  });

  it('gives up after the SDK attempts with a retryable BACKEND_ERROR naming the AWS error, not the value', async () => {
    const s = await newSecret(world);
    fake.failNext(3, { status: 503 });
    const error = (await thrown(store.get(db(), s.ref()))) as SecretStoreError;
    expect(error).toBeInstanceOf(SecretStoreError);
    expect(error.code).toBe('BACKEND_ERROR');
    expect(error.retryable).toBe(true);
    expect(error.message).toMatch(/InternalServiceError \(HTTP 503, request [0-9a-f-]{36}, 3 attempts\)/);
    expect(error.details).toMatchObject({ awsError: 'InternalServiceError', httpStatus: 503, attempts: 3 });
  });

  it('signs every request with SigV4 (the fake verifies it); refused credentials fail without the value', async () => {
    const s = await newSecret(world);
    fake.clearRequests();
    await store.put(db(), s.ref(), 'signed-value');
    await store.get(db(), s.ref());
    for (const r of fake.requests) {
      expect(r.status).toBe(200);
      expect(r.headers.authorization).toMatch(
        new RegExp(
          `^AWS4-HMAC-SHA256 Credential=${fake.credentials.accessKeyId}/\\d{8}/${fake.region}/secretsmanager/aws4_request, ` +
            'SignedHeaders=[a-z0-9;-]*host[a-z0-9;-]*, Signature=[0-9a-f]{64}$',
        ),
      );
      expect(r.headers['x-amz-date']).toMatch(/^\d{8}T\d{6}Z$/);
    }
    const forged = new AwsSecretStore({
      region: fake.region,
      endpointUrl: fake.endpoint,
      clientConfig: { credentials: { accessKeyId: fake.credentials.accessKeyId, secretAccessKey: 'not-the-right-secret-key' } },
    });
    try {
      const value = `forged-${randomBytes(8).toString('hex')}`;
      const error = (await thrown(forged.put(db(), s.ref(), value))) as SecretStoreError;
      expect(error.code).toBe('BACKEND_ERROR');
      expect(error.message).toContain('InvalidSignatureException');
      expect(error.retryable).toBe(false);
      expect(everythingIn(error)).not.toContain(value);
      expect(fake.requests.at(-1)!.errorType).toBe('InvalidSignatureException');
    } finally {
      forged.destroy();
    }
    expect((await store.get(db(), s.ref()))?.value).toBe('signed-value');
  });

  it('deletes each environment with ForceDeleteWithoutRecovery, ignoring ResourceNotFoundException', async () => {
    const s = await newSecret(world);
    await store.put(db(), s.ref('development'), 'to-delete');
    fake.clearRequests();
    await store.delete(db(), s.deleteRef);
    const deletes = fake.requestsOf('DeleteSecret');
    expect(deletes.map((r) => r.body).sort((a, b) => String(a.SecretId).localeCompare(String(b.SecretId)))).toEqual(
      ENV_SLUGS.map((env) => ({ SecretId: `stageplane/${world.project.slug}/${env}/${s.name}`, ForceDeleteWithoutRecovery: true })).sort(
        (a, b) => a.SecretId.localeCompare(b.SecretId),
      ),
    );
    expect(deletes.map((r) => r.errorType ?? 'ok').sort()).toEqual(['ResourceNotFoundException', 'ResourceNotFoundException', 'ok']);
    expect(fake.secrets.has(store.secretNameOf(s.ref('development')))).toBe(false);
  });

  it('answers null without a call for a version id AWS cannot have', async () => {
    const s = await newSecret(world);
    await store.put(db(), s.ref(), 'x-value');
    fake.clearRequests();
    expect(await store.get(db(), s.ref(), 'short')).toBeNull();
    expect(fake.requests).toEqual([]);
  });

  it('a secret scheduled for deletion outside Stageplane: a clear, safe error', async () => {
    const s = await newSecret(world);
    await store.put(db(), s.ref(), 'scheduled');
    fake.secrets.get(store.secretNameOf(s.ref()))!.deletedDate = Date.now() / 1000 + 86400;
    const error = (await thrown(store.put(db(), s.ref(), 'after-schedule'))) as SecretStoreError;
    expect(error.code).toBe('BACKEND_ERROR');
    expect(error.message).toContain('InvalidRequestException');
    expect(error.message).toContain('scheduled for deletion');
    expect(everythingIn(error)).not.toContain('after-schedule');
  });

  it('refuses to start without AWS_REGION', async () => {
    await expect(createSecretStore(storeConfig('aws', { aws: { region: undefined, endpointUrl: fake.endpoint } }))).rejects.toThrow(
      /^Invalid AWS_REGION/,
    );
  });
});
