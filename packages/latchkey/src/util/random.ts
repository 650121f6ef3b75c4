import { createHash, randomBytes } from 'node:crypto';

/** `bytes` bytes from the CSPRNG, base64url without padding. */
export function randomToken(bytes: number): string {
  return randomBytes(bytes).toString('base64url');
}

/** SHA-256 as base64url. Used for high-entropy secrets only (refresh tokens, API keys), where a slow hash adds nothing. */
export function sha256(value: string): string {
  return createHash('sha256').update(value).digest('base64url');
}
