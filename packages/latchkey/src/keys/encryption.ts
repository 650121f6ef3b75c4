/**
 * Signing keys at rest: AES-256-GCM under a subkey of the master secret. The key id is bound in as
 * additional authenticated data, so a ciphertext moved to another key's row fails to decrypt.
 * Format: `v1.<iv>.<ciphertext+tag>`, both base64url.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { SecretMismatchError } from '../errors.js';

const TAG_BYTES = 16;
const IV_BYTES = 12;

export function encryptPrivateKey(encryptionKey: Uint8Array, kid: string, plaintext: string): string {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', encryptionKey, iv);
  cipher.setAAD(Buffer.from(kid, 'utf8'));
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]);
  return `v1.${iv.toString('base64url')}.${body.toString('base64url')}`;
}

/**
 * Throws {@link SecretMismatchError} (`SECRET_MISMATCH`) naming the key, never its content, when the
 * secret is wrong or the data altered or malformed (any corrupt row: one code, since neither case can
 * be told apart from the other reliably and both need an operator): a typed error, so no caller ever reports it as a bare 500.
 */
export function decryptPrivateKey(encryptionKey: Uint8Array, kid: string, sealed: string): string {
  const [version, ivText, bodyText] = sealed.split('.');
  if (version !== 'v1' || !ivText || !bodyText) {
    throw new SecretMismatchError(kid, `signing key ${kid} is stored in an unknown encryption format: the key row was altered, or written by a newer release`);
  }
  const body = Buffer.from(bodyText, 'base64url');
  const iv = Buffer.from(ivText, 'base64url');
  // A row altered in the store (wrong IV length, a body shorter than the tag) makes node's crypto
  // throw a plain TypeError from createDecipheriv/setAuthTag: it is reported as the same typed
  // SECRET_MISMATCH as any other undecryptable key, never as a bare error (or a 500).
  if (iv.length !== IV_BYTES || body.length < TAG_BYTES) {
    throw new SecretMismatchError(kid, `signing key ${kid} is corrupt in the store (malformed IV or authentication tag): the key row was altered`);
  }
  try {
    const decipher = createDecipheriv('aes-256-gcm', encryptionKey, iv);
    decipher.setAAD(Buffer.from(kid, 'utf8'));
    decipher.setAuthTag(body.subarray(body.length - TAG_BYTES));
    return Buffer.concat([decipher.update(body.subarray(0, body.length - TAG_BYTES)), decipher.final()]).toString('utf8');
  } catch (cause) {
    throw new SecretMismatchError(
      kid,
      `signing key ${kid} cannot be decrypted with this master secret: it was made with another one (check LATCHKEY_SECRET, or the secret file and the working directory it is read from)`,
      { cause },
    );
  }
}
