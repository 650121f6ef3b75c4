/**
 * The master secret: the root of the key that encrypts signing keys at rest and of the key that
 * derives refresh-token successors. Supplied directly (LATCHKEY_SECRET) or kept in a key file that
 * is created on first run with mode 0600, so a fresh install is secure with no setup.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/** Fewer bytes than this is refused: the secret protects every signing key. */
export const MIN_SECRET_BYTES = 32;

/** Checks a caller-supplied secret and returns its bytes. */
export function secretFromValue(value: string | Uint8Array): Uint8Array {
  const bytes = typeof value === 'string' ? new TextEncoder().encode(value) : value;
  if (bytes.byteLength < MIN_SECRET_BYTES) {
    throw new TypeError(`the latchkey secret must be at least ${MIN_SECRET_BYTES} bytes`);
  }
  return bytes;
}

/**
 * Reads the key file at `path`, creating it (32 random bytes, base64url, mode 0600) when it does not
 * exist. An existing file readable by group or others is tightened to 0600, because anyone who reads
 * it can decrypt the signing keys.
 */
export function secretFromFile(path: string): Uint8Array {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  try {
    // 'wx' fails if the file exists, so two processes starting at once never overwrite each other.
    writeFileSync(path, randomBytes(32).toString('base64url') + '\n', { flag: 'wx', mode: 0o600 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  if (process.platform !== 'win32' && (statSync(path).mode & 0o077) !== 0) chmodSync(path, 0o600);
  return secretFromValue(readFileSync(path, 'utf8').trim());
}
