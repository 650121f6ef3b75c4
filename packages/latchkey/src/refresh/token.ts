/**
 * Refresh tokens: opaque, 256 bits from the CSPRNG, with the `lkrt_` prefix so that secret scanners
 * can recognise a leaked one. Only SHA-256 hashes are stored (a token has full entropy, so a slow
 * hash would add nothing).
 *
 * A successor is derived from its parent with HMAC-SHA256 under a subkey of the master secret. The
 * derivation is what lets a benign retry inside the grace window receive the very same successor
 * without the store ever holding a plaintext token: the engine re-derives it, and the store checks
 * that its hash is the current one.
 */
import { createHmac } from 'node:crypto';
import { randomToken, sha256 } from '../util/random.js';

export const REFRESH_TOKEN_PREFIX = 'lkrt_';
const SHAPE = /^lkrt_[A-Za-z0-9_-]{43}$/;

export function newRefreshToken(): string {
  return REFRESH_TOKEN_PREFIX + randomToken(32);
}

/** True when `value` has the exact shape of a refresh token; anything else never reaches the store. */
export function isRefreshTokenShape(value: unknown): value is string {
  return typeof value === 'string' && SHAPE.test(value);
}

export function deriveSuccessor(derivationKey: Uint8Array, token: string): string {
  return REFRESH_TOKEN_PREFIX + createHmac('sha256', derivationKey).update(token).digest('base64url');
}

export const hashRefreshToken = sha256;
