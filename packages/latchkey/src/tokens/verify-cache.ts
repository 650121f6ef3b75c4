/**
 * A bounded cache of tokens whose signature and claims already verified, found by the token's
 * signature and confirmed against the exact token text. A client sends the same access token on every request for its whole life, and a signature
 * check costs far more than a map lookup, so this is where verification throughput comes from.
 *
 * It never changes an answer: expiry is re-checked against the clock on every hit, revocation is
 * checked by the engine after the cache (hit or miss), and an entry whose key has left the ring is
 * dropped. Only successes are cached; a bad token always takes the full path.
 *
 * Why the signature is the map key: every request brings the token as a fresh string (from a cookie
 * or header), so a lookup hashes its key anew. The signature is a fifth of the token and as unique as
 * the whole (it covers header and payload); the full-text comparison on a hit keeps the answer exact.
 */
import type { AccessTokenClaims } from '../types.js';

export interface CachedVerification {
  claims: AccessTokenClaims;
  kid: string;
}

export class VerifiedTokenCache {
  #entries = new Map<string, CachedVerification & { token: string }>();
  readonly #max: number;

  constructor(maxEntries: number) {
    this.#max = maxEntries;
  }

  get(token: string): CachedVerification | undefined {
    if (this.#max <= 0) return undefined;
    const entry = this.#entries.get(signatureOf(token));
    return entry !== undefined && entry.token === token ? entry : undefined;
  }

  set(token: string, value: CachedVerification): void {
    if (this.#max <= 0) return;
    if (this.#entries.size >= this.#max) {
      // Oldest insertion first: tokens are short-lived, so the oldest are the nearest to expiry.
      const oldest = this.#entries.keys().next();
      if (!oldest.done) this.#entries.delete(oldest.value);
    }
    this.#entries.set(signatureOf(token), { ...value, token });
  }

  /** Call only with a token `get` just returned an entry for. */
  delete(token: string): void {
    this.#entries.delete(signatureOf(token));
  }

  clear(): void {
    this.#entries.clear();
  }
}

function signatureOf(token: string): string {
  return token.slice(token.lastIndexOf('.') + 1);
}
