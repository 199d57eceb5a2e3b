// The secret value store's entry point: createSecretStore picks and builds the backend that
// SECRETS_BACKEND names (secrets/local.ts or secrets/aws.ts). The interface, the error and the
// helpers both backends share live in secrets/store.ts, re-exported here; store.ts imports
// neither backend, so backend → store is the only direction of import.
import type { SecretsManagerClientConfig } from '@aws-sdk/client-secrets-manager';
import type { Config } from '../config/index.ts';
import type { SecretStore } from './store.ts';

export * from './store.ts';

/** What createSecretStore reads of Config; `aws.secretPrefix` is optional (default `stageplane`). */
export type SecretStoreConfig = Pick<Config, 'env' | 'dataDir' | 'secretsBackend' | 'encryptionKey'> & {
  aws: { region: string | undefined; endpointUrl: string | undefined; secretPrefix?: string | undefined };
};

/** The logger calls a store makes (pino's Logger fits). Never given a value. */
export interface SecretStoreLogger {
  warn(obj: Record<string, unknown>, msg: string): void;
  info(obj: Record<string, unknown>, msg: string): void;
}

export interface SecretStoreDeps {
  logger?: SecretStoreLogger;
  aws?: {
    /** Secret names are `${prefix}/${project}/${environment}/${SECRET}`; default `stageplane`. */
    prefix?: string;
    /** Extra SecretsManagerClient options (tests: maxAttempts, retry timing). */
    clientConfig?: SecretsManagerClientConfig;
  };
}

/**
 * The configured backend. Local: loads ENCRYPTION_KEY (throws ConfigError naming it when it is
 * invalid, or missing in production; outside production generates one into DATA_DIR and logs
 * that once, as a warning). AWS: the SDK is loaded only then, and uses its default credential
 * chain. Backends are imported lazily, so the local one never loads the AWS SDK.
 */
export async function createSecretStore(config: SecretStoreConfig, deps: SecretStoreDeps = {}): Promise<SecretStore> {
  if (config.secretsBackend === 'aws') {
    const { AwsSecretStore } = await import('./aws.ts');
    const prefix = deps.aws?.prefix ?? config.aws.secretPrefix;
    return new AwsSecretStore({
      region: config.aws.region,
      endpointUrl: config.aws.endpointUrl,
      ...(prefix !== undefined ? { prefix } : {}),
      ...(deps.aws?.clientConfig ? { clientConfig: deps.aws.clientConfig } : {}),
    });
  }
  const { LocalSecretStore, loadEncryptionKeys } = await import('./local.ts');
  const loaded = loadEncryptionKeys(config);
  if (loaded.generatedAt) {
    deps.logger?.warn(
      { file: loaded.generatedAt, keyId: loaded.keys[0]!.id },
      'ENCRYPTION_KEY is not set: generated a development key for secret values (set ENCRYPTION_KEY in production)',
    );
  }
  return new LocalSecretStore(loaded.keys);
}
