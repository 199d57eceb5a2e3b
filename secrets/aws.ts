// The `aws` secrets backend: AWS Secrets Manager, one secret per project/environment/name.
//
// - Name `${prefix}/${projectSlug}/${environmentSlug}/${SECRET_NAME}` (prefix default
//   `stageplane`), tagged project, environment, secret and managed-by=stageplane. Slugs and
//   secret names never change, so neither does the AWS name.
// - A put is a new version: CreateSecret the first time, PutSecretValue after (CreateSecret's
//   ResourceExistsException says which). Its ClientRequestToken is a fresh UUIDv7 per put, and
//   becomes the VersionId; the SDK reuses it on its own retries, so a retried request whose first
//   attempt did land makes no second version. Secrets Manager then moves AWSCURRENT to the new
//   version and AWSPREVIOUS to the one before.
// - A get reads a VersionId, or AWSCURRENT without one.
// - Region, endpoint (AWS_ENDPOINT_URL) and the SDK's default credential chain; the SDK signs
//   (SigV4) and retries (standard mode: 3 attempts, throttling and 5xx) by itself.
// - Errors: a SecretStoreError naming the secret, the AWS error's name, HTTP status and request
//   id; never the AWS message (a validation message can quote the input) nor the SDK error.
import {
  CreateSecretCommand,
  DeleteSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
  type SecretsManagerClientConfig,
  type Tag,
} from '@aws-sdk/client-secrets-manager';
import type { Queryable } from '../db/client.ts';
import { ConfigError } from '../config/index.ts';
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

export const DEFAULT_AWS_SECRET_PREFIX = 'stageplane';
export const MANAGED_BY_TAG = { Key: 'managed-by', Value: 'stageplane' } as const;

// Secrets Manager allows letters, digits and /_+=.@- in names; a prefix is /-separated parts.
const PREFIX_RE = /^[A-Za-z0-9_+=.@-]+(\/[A-Za-z0-9_+=.@-]+)*$/;
// ClientRequestToken / VersionId: 32 to 64 characters.
const VERSION_ID_RE = /^[A-Za-z0-9-]{32,64}$/;

export interface AwsSecretStoreOptions {
  region: string | undefined;
  endpointUrl?: string | undefined;
  /** Default `stageplane`; one or more /-separated parts of letters, digits and _+=.@- */
  prefix?: string;
  /** Merged over the client options derived from region and endpoint (tests: retry timing). */
  clientConfig?: SecretsManagerClientConfig;
  /** A ready client instead (then region, endpoint and clientConfig are not used). */
  client?: SecretsManagerClient;
}

type SecretNameParts = Pick<SecretRef, 'projectSlug' | 'environmentSlug' | 'secretName'>;

export function awsSecretName(prefix: string, parts: SecretNameParts): string {
  return `${prefix}/${parts.projectSlug}/${parts.environmentSlug}/${parts.secretName}`;
}

export function awsSecretTags(parts: SecretNameParts): Tag[] {
  return [
    { Key: 'project', Value: parts.projectSlug },
    { Key: 'environment', Value: parts.environmentSlug },
    { Key: 'secret', Value: parts.secretName },
    { ...MANAGED_BY_TAG },
  ];
}

export class AwsSecretStore implements SecretStore {
  readonly backend = 'aws' as const;
  readonly prefix: string;
  readonly client: SecretsManagerClient;

  constructor(options: AwsSecretStoreOptions) {
    const prefix = (options.prefix ?? DEFAULT_AWS_SECRET_PREFIX).replace(/^\/+|\/+$/g, '');
    if (!PREFIX_RE.test(prefix) || prefix.length > 256) {
      throw new ConfigError('Invalid AWS secret name prefix: use /-separated parts of letters, digits and _+=.@- (at most 256 characters)');
    }
    this.prefix = prefix;
    if (options.client) {
      this.client = options.client;
    } else {
      if (!options.region) throw new ConfigError('Invalid AWS_REGION: required when SECRETS_BACKEND=aws');
      this.client = new SecretsManagerClient({
        region: options.region,
        ...(options.endpointUrl ? { endpoint: options.endpointUrl } : {}),
        ...options.clientConfig,
      });
    }
  }

  /** The AWS secret name of a value's project, environment and secret. */
  secretNameOf(parts: SecretNameParts): string {
    return awsSecretName(this.prefix, parts);
  }

  async put(_db: Queryable, ref: SecretRef, value: string): Promise<{ versionId: string }> {
    assertStorableValue(value);
    const secretId = this.secretNameOf(ref);
    const token = newVersionId();
    const what = describeRef(ref);
    // Create, or add a version to the existing secret. Twice at most: a secret deleted between
    // our CreateSecret and PutSecretValue gets created again.
    for (let round = 0; ; round++) {
      try {
        const created = await this.client.send(
          new CreateSecretCommand({
            Name: secretId,
            ClientRequestToken: token,
            SecretString: value,
            Description: `Stageplane secret ${ref.secretName} of ${ref.projectSlug}/${ref.environmentSlug}`,
            Tags: awsSecretTags(ref),
          }),
        );
        return { versionId: created.VersionId ?? token };
      } catch (error) {
        if (errorName(error) !== 'ResourceExistsException') throw awsError('store a value of', what, error);
      }
      try {
        const put = await this.client.send(
          new PutSecretValueCommand({ SecretId: secretId, ClientRequestToken: token, SecretString: value }),
        );
        return { versionId: put.VersionId ?? token };
      } catch (error) {
        if (errorName(error) !== 'ResourceNotFoundException' || round > 0) throw awsError('store a value of', what, error);
      }
    }
  }

  async get(_db: Queryable, ref: SecretRef, versionId?: string): Promise<SecretVersion | null> {
    // Not an id Secrets Manager can have: no such version.
    if (versionId !== undefined && !VERSION_ID_RE.test(versionId)) return null;
    const what = describeRef(ref, versionId);
    let out;
    try {
      out = await this.client.send(
        new GetSecretValueCommand({
          SecretId: this.secretNameOf(ref),
          ...(versionId !== undefined ? { VersionId: versionId } : { VersionStage: 'AWSCURRENT' }),
        }),
      );
    } catch (error) {
      if (errorName(error) === 'ResourceNotFoundException') return null;
      throw awsError('read', what, error);
    }
    if (typeof out.SecretString !== 'string' || !out.VersionId) {
      throw new SecretStoreError('BACKEND_ERROR', `AWS Secrets Manager returned no string value for ${what} (a binary secret?)`);
    }
    return { value: out.SecretString, versionId: out.VersionId };
  }

  async delete(_db: Queryable, ref: SecretDeleteRef): Promise<void> {
    const slugs = [...new Set(ref.environmentSlugs)];
    const results = await Promise.allSettled(
      slugs.map(async (environmentSlug) => {
        const secretId = this.secretNameOf({ projectSlug: ref.projectSlug, environmentSlug, secretName: ref.secretName });
        try {
          await this.client.send(new DeleteSecretCommand({ SecretId: secretId, ForceDeleteWithoutRecovery: true }));
        } catch (error) {
          if (errorName(error) === 'ResourceNotFoundException') return; // never set there, or already gone
          throw awsError('delete', `secret ${ref.secretName} (${ref.secretId}) in ${ref.projectSlug}/${environmentSlug}`, error);
        }
      }),
    );
    const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed.length === 1) throw failed[0]!.reason;
    if (failed.length > 1) {
      const first = failed[0]!.reason as SecretStoreError;
      throw new SecretStoreError('BACKEND_ERROR', `${first.message} (and ${failed.length - 1} more environments failed)`, {
        retryable: first.retryable,
        details: first.details,
      });
    }
  }

  /** Closes the client's idle connections. */
  destroy(): void {
    this.client.destroy();
  }
}

function errorName(error: unknown): string | undefined {
  return error && typeof error === 'object' && typeof (error as { name?: unknown }).name === 'string'
    ? (error as { name: string }).name
    : undefined;
}

const HINTS: Record<string, string> = {
  AccessDeniedException: 'the credentials lack permission for this operation',
  UnrecognizedClientException: 'the credentials are not valid',
  InvalidSignatureException: 'the request signature was refused (wrong secret key or clock skew)',
  ExpiredTokenException: 'the credentials have expired',
  CredentialsProviderError: 'no AWS credentials found by the default credential chain',
  InvalidRequestException: 'the secret may be scheduled for deletion or disabled',
  DecryptionFailure: 'Secrets Manager cannot decrypt it with its KMS key',
  EncryptionFailure: 'Secrets Manager cannot encrypt it with its KMS key',
  LimitExceededException: 'a Secrets Manager quota is exhausted',
  ThrottlingException: 'requests are being throttled',
  InternalServiceError: 'Secrets Manager failed',
  TimeoutError: 'the request timed out',
};

const RETRYABLE = new Set(['ThrottlingException', 'TooManyRequestsException', 'InternalServiceError', 'TimeoutError', 'RequestTimeout']);

/** A SecretStoreError from whatever the SDK threw, built from safe fields only. */
function awsError(action: string, what: string, error: unknown): SecretStoreError {
  if (error instanceof SecretStoreError) return error;
  const e = (error && typeof error === 'object' ? error : {}) as {
    code?: unknown;
    $fault?: unknown;
    $metadata?: { httpStatusCode?: number; requestId?: string; attempts?: number };
  };
  const name = errorName(error) ?? 'Error';
  // Node network errors (ECONNREFUSED, ENOTFOUND, ...) carry a code; their message is safe but
  // the code says it all.
  const code = typeof e.code === 'string' && /^E[A-Z_]+$/.test(e.code) ? e.code : undefined;
  const status = e.$metadata?.httpStatusCode;
  const requestId = e.$metadata?.requestId;
  const attempts = e.$metadata?.attempts;
  const facts = [
    status !== undefined ? `HTTP ${status}` : undefined,
    requestId ? `request ${requestId}` : undefined,
    attempts && attempts > 1 ? `${attempts} attempts` : undefined,
  ].filter(Boolean);
  const hint = HINTS[name] ?? (code ? 'the endpoint cannot be reached' : undefined);
  const message =
    `AWS Secrets Manager could not ${action} ${what}: ${name}${code ? ` ${code}` : ''}` +
    `${facts.length ? ` (${facts.join(', ')})` : ''}${hint ? `: ${hint}` : ''}`;
  const retryable = RETRYABLE.has(name) || (status !== undefined && status >= 500) || code !== undefined;
  return new SecretStoreError('BACKEND_ERROR', message, {
    retryable,
    details: { awsError: name, httpStatus: status, requestId, attempts, networkError: code },
  });
}
