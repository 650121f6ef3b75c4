/**
 * A bounded cache of tokens whose signature and claims already verified, keyed by the exact token
 * text. A client sends the same access token on every request for its whole life, and a signature
 * check costs far more than a map lookup, so this is where verification throughput comes from.
 *
 * It never changes an answer: expiry is re-checked against the clock on every hit, revocation is
 * checked by the engine after the cache (hit or miss), and an entry whose key has left the ring is
 * dropped. Only successes are cached; a bad token always takes the full path.
 */
import type { AccessTokenClaims } from '../types.js';

export interface CachedVerification {
  claims: AccessTokenClaims;
  kid: string;
}

export class VerifiedTokenCache {
  #entries = new Map<string, CachedVerification>();
  readonly #max: number;

  constructor(maxEntries: number) {
    this.#max = maxEntries;
  }

  get(token: string): CachedVerification | undefined {
    return this.#max > 0 ? this.#entries.get(token) : undefined;
  }

  set(token: string, value: CachedVerification): void {
    if (this.#max <= 0) return;
    if (this.#entries.size >= this.#max) {
      // Oldest insertion first: tokens are short-lived, so the oldest are the nearest to expiry.
      const oldest = this.#entries.keys().next();
      if (!oldest.done) this.#entries.delete(oldest.value);
    }
    this.#entries.set(token, value);
  }

  delete(token: string): void {
    this.#entries.delete(token);
  }

  clear(): void {
    this.#entries.clear();
  }
}
