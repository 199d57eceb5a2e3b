// The `local` secrets backend: AES-256-GCM ciphertext in `secret_value_versions`.
//
// - Key: ENCRYPTION_KEY, the base64 of 32 bytes. A comma-separated list rotates keys: the first
//   encrypts, every one decrypts. A key's id is the first 8 hex digits of its SHA-256, stored on
//   each row, so a row names the key it needs (and reencrypt() moves old rows to the first key).
// - Each version: a fresh random 12-byte nonce, the 16-byte tag appended to the ciphertext, and
//   associated data binding it to (secretId, environmentId, versionId): a row copied or swapped
//   onto another secret, environment or version fails to decrypt instead of revealing the wrong
//   value.
// - Rows are immutable: a new value is a new version (a UUIDv7, see newVersionId).
import { createCipheriv, createDecipheriv, createHash, createSecretKey, randomBytes, type KeyObject } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { and, asc, desc, eq, ne, sql } from 'drizzle-orm';
import type { Queryable } from '../db/client.ts';
import { secretValueVersions } from '../db/schema/secrets.ts';
import { ConfigError, type Config } from '../config/index.ts';
import {
  assertStorableValue,
  describeRef,
  newVersionId,
  SecretStoreError,
  type SecretDeleteRef,
  type SecretRef,
  type SecretStore,
  type SecretVersion,
} from './store.ts';

const KEY_BYTES = 32;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const ALGORITHM = 'aes-256-gcm';
const AAD_CONTEXT = 'stageplane/secret-value/v1';

export interface EncryptionKey {
  /** First 8 hex digits of SHA-256 of the key bytes; stored on each row (not secret). */
  readonly id: string;
  /** A KeyObject: it prints and serialises as nothing, unlike a Buffer. */
  readonly key: KeyObject;
}

export function encryptionKeyId(keyBytes: Uint8Array): string {
  return createHash('sha256').update(keyBytes).digest('hex').slice(0, 8);
}

/** A key from its 32 raw bytes. */
export function encryptionKeyFromBytes(keyBytes: Uint8Array): EncryptionKey {
  if (keyBytes.length !== KEY_BYTES) throw new RangeError(`An encryption key is ${KEY_BYTES} bytes, not ${keyBytes.length}`);
  return { id: encryptionKeyId(keyBytes), key: createSecretKey(Buffer.from(keyBytes)) };
}

const BASE64 = /^[A-Za-z0-9+/_-]+={0,2}$/;

/**
 * Parses ENCRYPTION_KEY: one or more comma-separated base64 (or base64url) encodings of 32 bytes,
 * the first one used to encrypt. Throws ConfigError with one line naming ENCRYPTION_KEY (and
 * `source`, when the text came from elsewhere), never quoting the text.
 */
export function parseEncryptionKeys(text: string, source?: string): EncryptionKey[] {
  const where = source ? ` (from ${source})` : '';
  const fail = (why: string) =>
    new ConfigError(
      `Invalid ENCRYPTION_KEY${where}: ${why}; each key is the base64 of exactly ${KEY_BYTES} random bytes ` +
        '(e.g. `openssl rand -base64 32`), several separated by commas with the encrypting one first',
    );
  const entries = text.split(',').map((e) => e.trim());
  const keys: EncryptionKey[] = [];
  entries.forEach((entry, i) => {
    const which = entries.length > 1 ? `key ${i + 1} of ${entries.length}` : 'the key';
    if (entry === '') throw fail(`${which} is empty`);
    if (!BASE64.test(entry)) throw fail(`${which} is not base64`);
    const standard = entry.replace(/-/g, '+').replace(/_/g, '/').replace(/=+$/, '');
    const bytes = Buffer.from(standard, 'base64');
    // Buffer's decoder skips what it cannot read; insist the text is exactly an encoding of bytes.
    if (bytes.toString('base64').replace(/=+$/, '') !== standard) throw fail(`${which} is not base64`);
    if (bytes.length !== KEY_BYTES) throw fail(`${which} decodes to ${bytes.length} bytes`);
    const key = encryptionKeyFromBytes(bytes);
    bytes.fill(0);
    if (keys.some((k) => k.id === key.id)) throw fail(`${which} repeats an earlier key`);
    keys.push(key);
  });
  return keys;
}

export interface LoadedEncryptionKeys {
  /** The first one encrypts. */
  keys: EncryptionKey[];
  /** The file a development key was generated into at this call (the caller logs it once). */
  generatedAt: string | undefined;
}

/** Name of the development key file in DATA_DIR. */
export const DEVELOPMENT_KEY_FILE = 'encryption-key';

/**
 * The keys of the local backend. ENCRYPTION_KEY when set (it must be valid). Otherwise, in
 * production, a ConfigError; elsewhere the key in `${dataDir}/encryption-key`, generated there
 * (mode 0600) on first use, with `generatedAt` set to say so.
 */
export function loadEncryptionKeys(config: Pick<Config, 'env' | 'dataDir' | 'encryptionKey'>): LoadedEncryptionKeys {
  if (config.encryptionKey !== undefined && config.encryptionKey.trim() !== '') {
    return { keys: parseEncryptionKeys(config.encryptionKey), generatedAt: undefined };
  }
  if (config.env === 'production') {
    throw new ConfigError(
      'Invalid ENCRYPTION_KEY: required when NODE_ENV=production and SECRETS_BACKEND=local ' +
        `(the base64 of ${KEY_BYTES} random bytes, e.g. \`openssl rand -base64 32\`)`,
    );
  }
  const file = join(config.dataDir, DEVELOPMENT_KEY_FILE);
  const readFile = () => ({ keys: parseEncryptionKeys(readFileSync(file, 'utf8'), file), generatedAt: undefined });
  if (existsSync(file)) return readFile();
  mkdirSync(config.dataDir, { recursive: true });
  const bytes = randomBytes(KEY_BYTES);
  try {
    // wx: a process starting at the same moment may have written it first; then use that one.
    writeFileSync(file, `${bytes.toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return readFile();
    throw error;
  }
  const key = encryptionKeyFromBytes(bytes);
  bytes.fill(0);
  return { keys: [key], generatedAt: file };
}

// ---------------------------------------------------------------- the cipher

interface Binding {
  secretId: string;
  environmentId: string;
  versionId: string;
}

/** Associated data: an unambiguous encoding of where the ciphertext belongs. */
function associatedData(b: Binding): Buffer {
  return Buffer.from(JSON.stringify([AAD_CONTEXT, b.secretId, b.environmentId, b.versionId]), 'utf8');
}

export function encryptValue(key: EncryptionKey, binding: Binding, value: string): { nonce: Buffer; ciphertext: Buffer } {
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv(ALGORITHM, key.key, nonce, { authTagLength: TAG_BYTES });
  cipher.setAAD(associatedData(binding));
  const plaintext = Buffer.from(value, 'utf8');
  try {
    const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
    return { nonce, ciphertext };
  } finally {
    plaintext.fill(0);
  }
}

/** The plaintext, or null when the ciphertext does not authenticate under this key and binding. */
export function decryptValue(key: EncryptionKey, binding: Binding, nonce: Uint8Array, ciphertext: Uint8Array): string | null {
  if (nonce.length !== NONCE_BYTES || ciphertext.length < TAG_BYTES + 1) return null;
  const body = ciphertext.subarray(0, ciphertext.length - TAG_BYTES);
  const tag = ciphertext.subarray(ciphertext.length - TAG_BYTES);
  try {
    const decipher = createDecipheriv(ALGORITHM, key.key, nonce, { authTagLength: TAG_BYTES });
    decipher.setAAD(associatedData(binding));
    decipher.setAuthTag(tag);
    const plaintext = Buffer.concat([decipher.update(body), decipher.final()]);
    try {
      return plaintext.toString('utf8');
    } finally {
      plaintext.fill(0);
    }
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------- the store

/** The SQLSTATE and constraint of a driver error anywhere in a cause chain (postgres.js, PGlite). */
function databaseErrorInfo(error: unknown): { sqlState: string | undefined; constraint: string | undefined } {
  let e: unknown = error;
  for (let depth = 0; e && typeof e === 'object' && depth < 5; depth++) {
    const o = e as { code?: unknown; constraint_name?: unknown; constraint?: unknown; cause?: unknown };
    if (typeof o.code === 'string' && /^[0-9A-Z]{5}$/.test(o.code)) {
      const constraint = o.constraint_name ?? o.constraint;
      return { sqlState: o.code, constraint: typeof constraint === 'string' ? constraint : undefined };
    }
    e = o.cause;
  }
  return { sqlState: undefined, constraint: undefined };
}

/** A safe error for a failed query: the driver's error holds the query's parameters. */
function databaseError(action: string, what: string, error: unknown): SecretStoreError {
  const { sqlState, constraint } = databaseErrorInfo(error);
  if (sqlState === '23503') {
    return new SecretStoreError('MISSING_REFERENCE', `Cannot ${action} ${what}: the secret or the environment does not exist`, {
      details: { sqlState, constraint },
    });
  }
  return new SecretStoreError(
    'BACKEND_ERROR',
    `Database error while trying to ${action} ${what}${sqlState ? ` (SQLSTATE ${sqlState}${constraint ? `, ${constraint}` : ''})` : ''}`,
    { retryable: sqlState === undefined || /^(08|40|53|57)/.test(sqlState), details: { sqlState, constraint } },
  );
}

export class LocalSecretStore implements SecretStore {
  readonly backend = 'local' as const;
  readonly #keys: readonly EncryptionKey[];

  /** `keys[0]` encrypts; all of them decrypt. */
  constructor(keys: readonly EncryptionKey[]) {
    if (keys.length === 0) throw new RangeError('LocalSecretStore needs at least one encryption key');
    this.#keys = [...keys];
  }

  /** Id of the key new values are encrypted with. */
  get keyId(): string {
    return this.#keys[0]!.id;
  }

  /** Ids of every key this store can decrypt with, the encrypting one first. */
  get keyIds(): string[] {
    return this.#keys.map((k) => k.id);
  }

  async put(db: Queryable, ref: SecretRef, value: string): Promise<{ versionId: string }> {
    assertStorableValue(value);
    const versionId = newVersionId();
    const key = this.#keys[0]!;
    const { nonce, ciphertext } = encryptValue(key, { secretId: ref.secretId, environmentId: ref.environmentId, versionId }, value);
    try {
      await db.insert(secretValueVersions).values({
        secretId: ref.secretId,
        environmentId: ref.environmentId,
        versionId,
        keyId: key.id,
        nonce,
        ciphertext,
        // The wall clock, not the transaction's start: several puts in one transaction stay ordered.
        createdAt: sql`clock_timestamp()`,
      });
    } catch (error) {
      throw databaseError('store a value of', describeRef(ref), error);
    }
    return { versionId };
  }

  async get(db: Queryable, ref: SecretRef, versionId?: string): Promise<SecretVersion | null> {
    let row: typeof secretValueVersions.$inferSelect | undefined;
    try {
      [row] = await db
        .select()
        .from(secretValueVersions)
        .where(
          and(
            eq(secretValueVersions.secretId, ref.secretId),
            eq(secretValueVersions.environmentId, ref.environmentId),
            versionId === undefined ? undefined : eq(secretValueVersions.versionId, versionId),
          ),
        )
        .orderBy(desc(secretValueVersions.createdAt), desc(secretValueVersions.versionId))
        .limit(1);
    } catch (error) {
      throw databaseError('read', describeRef(ref, versionId), error);
    }
    if (!row) return null;
    return { value: this.#decryptRow(row, ref), versionId: row.versionId };
  }

  async delete(db: Queryable, ref: SecretDeleteRef): Promise<void> {
    try {
      await db.delete(secretValueVersions).where(eq(secretValueVersions.secretId, ref.secretId));
    } catch (error) {
      throw databaseError('delete the values of', `secret ${ref.secretName} (${ref.secretId}) in ${ref.projectSlug}`, error);
    }
  }

  /**
   * Re-encrypts, with the first key, every row encrypted with another one (after a key rotation,
   * so the old key can then be dropped from ENCRYPTION_KEY). Same version ids, fresh nonces.
   * Returns how many rows it rewrote.
   */
  async reencrypt(db: Queryable, options: { batchSize?: number } = {}): Promise<{ reencrypted: number }> {
    const batchSize = options.batchSize ?? 100;
    const key = this.#keys[0]!;
    let reencrypted = 0;
    for (;;) {
      let rows: (typeof secretValueVersions.$inferSelect)[];
      try {
        rows = await db
          .select()
          .from(secretValueVersions)
          .where(ne(secretValueVersions.keyId, key.id))
          .orderBy(asc(secretValueVersions.id))
          .limit(batchSize);
      } catch (error) {
        throw databaseError('read', 'values to re-encrypt', error);
      }
      if (rows.length === 0) return { reencrypted };
      for (const row of rows) {
        const where = `version ${row.versionId} of secret ${row.secretId} in environment ${row.environmentId}`;
        const binding = { secretId: row.secretId, environmentId: row.environmentId, versionId: row.versionId };
        const value = this.#decrypt(row, where);
        const { nonce, ciphertext } = encryptValue(key, binding, value);
        try {
          await db
            .update(secretValueVersions)
            .set({ keyId: key.id, nonce, ciphertext })
            .where(and(eq(secretValueVersions.id, row.id), eq(secretValueVersions.keyId, row.keyId)));
        } catch (error) {
          throw databaseError('re-encrypt', where, error);
        }
        reencrypted += 1;
      }
    }
  }

  #decryptRow(row: typeof secretValueVersions.$inferSelect, ref: SecretRef): string {
    return this.#decrypt(row, describeRef(ref, row.versionId));
  }

  #decrypt(row: typeof secretValueVersions.$inferSelect, where: string): string {
    const key = this.#keys.find((k) => k.id === row.keyId);
    if (!key) {
      throw new SecretStoreError(
        'UNKNOWN_KEY',
        `Cannot decrypt ${where}: it was encrypted with key ${row.keyId}, which ENCRYPTION_KEY does not list ` +
          `(it lists ${this.keyIds.join(', ')})`,
        { details: { keyId: row.keyId } },
      );
    }
    const value = decryptValue(
      key,
      { secretId: row.secretId, environmentId: row.environmentId, versionId: row.versionId },
      row.nonce,
      row.ciphertext,
    );
    if (value === null) {
      throw new SecretStoreError(
        'DECRYPT_FAILED',
        `Cannot decrypt ${where}: the ciphertext does not authenticate with key ${key.id} (altered, or moved from another row)`,
        { details: { keyId: key.id } },
      );
    }
    return value;
  }
}
