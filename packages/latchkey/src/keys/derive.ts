/**
 * Independent subkeys from the master secret (HKDF-SHA256, RFC 5869), one per purpose, so that no
 * key is ever used for two things.
 */
import { hkdfSync } from 'node:crypto';

export type SubkeyPurpose = 'key-encryption' | 'refresh-derivation' | 'dpop-nonce' | 'dbsc-challenge' | 'admin-console';

export function deriveSubkey(secret: Uint8Array, purpose: SubkeyPurpose): Buffer {
  return Buffer.from(hkdfSync('sha256', secret, 'latchkey/v1', purpose, 32));
}
