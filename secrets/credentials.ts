// Credentials that are not secret values (a notification channel's URL): sealed with the local
// backend's cipher (secrets/local.ts, AES-256-GCM under ENCRYPTION_KEY, key id on the row), bound
// to the owning row so a ciphertext moved onto another row does not open.
//
// With SECRETS_BACKEND=aws too: a channel URL is read on every delivery attempt, and keeping it
// next to its row keeps deletion, backups and the transaction simple (an AWS secret per channel
// would be written outside the transaction and cost a call per attempt). ENCRYPTION_KEY must then
// be set in production as well; without it, creating a channel answers PRECONDITION_FAILED.
import type { Config } from '../config/index.ts';
import { decryptValue, type EncryptionKey, encryptValue, loadEncryptionKeys } from './local.ts';

export interface SealedCredential {
  keyId: string;
  nonce: Buffer;
  ciphertext: Buffer;
}

export interface CredentialSealer {
  /** `owner` is what the ciphertext is bound to, e.g. `notification-channel:<id>`. */
  seal(owner: string, plaintext: string): SealedCredential;
  /** The plaintext, or null when it does not open (another row's, altered, or an unknown key). */
  open(owner: string, sealed: SealedCredential): string | null;
}

const bindingOf = (owner: string) => ({ secretId: 'credential', environmentId: owner, versionId: 'v1' });

export function credentialSealer(keys: readonly EncryptionKey[]): CredentialSealer {
  return {
    seal(owner, plaintext) {
      const key = keys[0]!;
      const { nonce, ciphertext } = encryptValue(key, bindingOf(owner), plaintext);
      return { keyId: key.id, nonce, ciphertext };
    },
    open(owner, sealed) {
      const key = keys.find((k) => k.id === sealed.keyId);
      return key ? decryptValue(key, bindingOf(owner), sealed.nonce, sealed.ciphertext) : null;
    },
  };
}

/** The process's sealer; null when no key can be had (SECRETS_BACKEND=aws in production without ENCRYPTION_KEY). */
export function createCredentialSealer(config: Pick<Config, 'env' | 'dataDir' | 'encryptionKey'>): CredentialSealer | null {
  try {
    return credentialSealer(loadEncryptionKeys(config).keys);
  } catch {
    return null;
  }
}
