// The secret value store: one interface, two backends chosen by SECRETS_BACKEND (contract README).
//   local  AES-256-GCM ciphertext in `secret_value_versions`, key ENCRYPTION_KEY (secrets/local.ts)
//   aws    one AWS Secrets Manager secret per project/environment/name (secrets/aws.ts)
// This file holds what the backends share (the interface, the error, value checks, version ids)
// and imports neither backend; secrets/index.ts picks and builds one from configuration.
//
// The API reads only the metadata table `secret_values`; a store holds the values themselves, each
// write a new immutable version whose id the caller records in that metadata. Reads should pass
// that recorded versionId: it is the one the committed metadata (and a deployment's snapshot)
// refers to, whereas "the latest version" can be one written by a transaction that later rolled
// back (AWS writes are not transactional).
//
// Nothing here logs, audits or puts in an error message a secret value: errors are built from
// names and ids only, and never wrap a driver's or SDK's error (those can carry request bodies and
// query parameters).
import { randomBytes } from 'node:crypto';
import type { Queryable } from '../db/client.ts';

/** Where one value lives: a secret of a project, in one environment. */
export interface SecretRef {
  projectId: string;
  projectSlug: string;
  environmentId: string;
  environmentSlug: string;
  secretId: string;
  secretName: string;
}

/** A secret being deleted: its values in every listed environment go (include archived ones). */
export interface SecretDeleteRef {
  projectId: string;
  projectSlug: string;
  secretId: string;
  secretName: string;
  environmentSlugs: readonly string[];
}

export interface SecretVersion {
  value: string;
  versionId: string;
}

export interface SecretStore {
  readonly backend: 'local' | 'aws';
  /**
   * Stores a new version of the value and returns its id. `db` is the caller's transaction: the
   * local backend writes the ciphertext row in it, so it commits or rolls back with the metadata
   * row; the aws backend writes to AWS at once (not undone by a rollback, and harmless: the
   * metadata never refers to that version).
   * Throws SecretStoreError INVALID_VALUE unless the value is 1 to 64 KiB of well-formed UTF-8.
   */
  put(db: Queryable, ref: SecretRef, value: string): Promise<{ versionId: string }>;
  /**
   * The given version of the value, or without versionId the latest one written (AWSCURRENT on
   * aws); null when there is no such version. Throws SecretStoreError when it exists but cannot
   * be read (DECRYPT_FAILED, UNKNOWN_KEY, BACKEND_ERROR).
   */
  get(db: Queryable, ref: SecretRef, versionId?: string): Promise<SecretVersion | null>;
  /**
   * Removes every version of the secret's values in every environment. Idempotent. Local: in
   * `db`, with the caller's transaction. AWS: immediately and without recovery, so call it after
   * the transaction that deletes the `secrets` row has committed (a failure then leaves an
   * orphan in AWS rather than metadata pointing at a value that is gone).
   */
  delete(db: Queryable, ref: SecretDeleteRef): Promise<void>;
}

export type SecretStoreErrorCode =
  /** The value is empty, over 64 KiB or not well-formed Unicode (the API validates this first). */
  | 'INVALID_VALUE'
  /** Local: the secret or environment row does not exist (foreign key). */
  | 'MISSING_REFERENCE'
  /** Local: the ciphertext does not authenticate: tampered, moved between rows, or another key. */
  | 'DECRYPT_FAILED'
  /** Local: the row was encrypted with a key that ENCRYPTION_KEY no longer lists. */
  | 'UNKNOWN_KEY'
  /** The backend failed or refused (database error, AWS error after retries, permissions). */
  | 'BACKEND_ERROR';

/**
 * The one error a store throws. Its message names the secret, environment and version, never a
 * value; it has no `cause` (the underlying error may hold the value or the ciphertext), only the
 * safe `details` below.
 */
export class SecretStoreError extends Error {
  override readonly name = 'SecretStoreError';
  readonly code: SecretStoreErrorCode;
  /** True when trying again later may succeed (throttling, AWS 5xx, network). */
  readonly retryable: boolean;
  readonly details: Readonly<Record<string, string | number | boolean | undefined>>;
  constructor(
    code: SecretStoreErrorCode,
    message: string,
    options: { retryable?: boolean; details?: Record<string, string | number | boolean | undefined> } = {},
  ) {
    super(message);
    this.code = code;
    this.retryable = options.retryable ?? false;
    this.details = Object.freeze({ ...options.details });
  }
}

export const MIN_SECRET_VALUE_BYTES = 1;
/** The same bound as domain/validation.ts MAX_SECRET_VALUE_BYTES, and AWS's SecretString limit. */
export const MAX_SECRET_VALUE_BYTES = 64 * 1024;

// With the u flag, \p{Cs} matches only unpaired surrogates: UTF-8 cannot encode them, so such a
// string would not come back byte for byte.
const LONE_SURROGATE = /\p{Cs}/u;

/** Throws INVALID_VALUE unless `value` is 1 to 64 KiB of UTF-8; the message never quotes it. */
export function assertStorableValue(value: unknown): asserts value is string {
  if (typeof value !== 'string') throw new SecretStoreError('INVALID_VALUE', 'Secret value must be a string');
  if (LONE_SURROGATE.test(value)) {
    throw new SecretStoreError('INVALID_VALUE', 'Secret value must be well-formed Unicode (it has an unpaired surrogate)');
  }
  const bytes = Buffer.byteLength(value, 'utf8');
  if (bytes < MIN_SECRET_VALUE_BYTES || bytes > MAX_SECRET_VALUE_BYTES) {
    throw new SecretStoreError(
      'INVALID_VALUE',
      `Secret value must be ${MIN_SECRET_VALUE_BYTES} to ${MAX_SECRET_VALUE_BYTES} bytes of UTF-8 (got ${bytes})`,
    );
  }
}

/** A fresh random value for rotateSecret: 32 random bytes, base64url (43 characters). */
export function generateSecretValue(): string {
  return randomBytes(32).toString('base64url');
}

let lastMs = 0;
let counter = 0;
/**
 * A new version id: a UUIDv7 (RFC 9562), random but ordered by creation time, monotonic within
 * this process, so "the latest version" is well defined even for two writes in one millisecond.
 */
export function newVersionId(): string {
  let ms = Date.now();
  if (ms <= lastMs) {
    // Same (or an earlier, clock stepped back) millisecond: count up in rand_a; on overflow borrow
    // the next millisecond.
    ms = lastMs;
    counter += 1;
    if (counter > 0xfff) {
      ms += 1;
      counter = randomBytes(2).readUInt16BE(0) & 0x7ff;
    }
  } else {
    counter = randomBytes(2).readUInt16BE(0) & 0x7ff; // top bit clear: room to count up
  }
  lastMs = ms;
  const b = randomBytes(16);
  b.writeUIntBE(ms, 0, 6);
  b[6] = 0x70 | (counter >> 8);
  b[7] = counter & 0xff;
  b[8] = 0x80 | (b[8]! & 0x3f);
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** Human-readable position of a value, for error messages: names and ids, never the value. */
export function describeRef(ref: SecretRef, versionId?: string): string {
  return `secret ${ref.secretName} (${ref.secretId}) in ${ref.projectSlug}/${ref.environmentSlug}${versionId ? `, version ${versionId}` : ''}`;
}
