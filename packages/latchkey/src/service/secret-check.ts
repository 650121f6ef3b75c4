/**
 * Refuses a master secret that cannot decrypt the signing keys already in the store.
 *
 * Why: verification only needs the public halves, so an instance (or a CLI run) started with the
 * wrong secret looks healthy (it serves the JWKS, it even inserts new keys, encrypted under its own
 * secret) until it first has to sign, and then every sign-in fails; worse, a key it inserted breaks
 * every correctly configured instance once that key activates. The usual cause is a relative
 * `LATCHKEY_SECRET_FILE` read from another working directory, where a fresh key file would be
 * silently created. So: check before the engine starts, and never create a key file for a store
 * that already has keys.
 */
import { existsSync } from 'node:fs';
import { deriveSubkey } from '../keys/derive.js';
import { decryptPrivateKey } from '../keys/encryption.js';
import { secretFromFile, secretFromValue } from '../keys/secret.js';
import type { SessionStore } from '../stores/types.js';
import { ConfigError, type ServiceConfig } from './config.js';

/** Throws {@link ConfigError} naming LATCHKEY_SECRET or LATCHKEY_SECRET_FILE when the secret does not fit the store. */
export async function checkSecretFitsStore(store: SessionStore, config: Pick<ServiceConfig, 'secret' | 'secretFile'>): Promise<void> {
  await store.migrate();
  const keys = await store.listSigningKeys();
  if (keys.length === 0) return; // a fresh store: the engine makes its keys with whatever secret it has
  const variable = config.secret !== undefined ? 'LATCHKEY_SECRET' : 'LATCHKEY_SECRET_FILE';
  if (config.secret === undefined && !existsSync(config.secretFile)) {
    throw new ConfigError(
      variable,
      `no key file at ${config.secretFile}, but the store already has signing keys made with a secret; ` +
        'point LATCHKEY_SECRET_FILE (or LATCHKEY_SECRET) at the secret the service uses',
    );
  }
  const secret = config.secret !== undefined ? secretFromValue(config.secret) : secretFromFile(config.secretFile);
  const encryptionKey = deriveSubkey(secret, 'key-encryption');
  for (const key of keys) {
    try {
      decryptPrivateKey(encryptionKey, key.kid, key.privateKeyEncrypted);
    } catch {
      throw new ConfigError(variable, `does not decrypt signing key ${key.kid} in the store: it was made with another secret`);
    }
  }
}
