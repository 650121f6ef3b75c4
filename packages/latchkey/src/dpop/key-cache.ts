/**
 * Imported DPoP public keys, kept by the exact `jwk` and `alg` of the proof header (bounded LRU).
 *
 * Why: a bound client signs every request with the same key, and importing that key from its JWK
 * (and hashing it into the RFC 7638 thumbprint) cost more per request than the signature check the
 * proof exists for. The signature itself is still checked on every proof: only the key's import and
 * thumbprint are reused.
 *
 * Why the whole JWK text and the alg, not the thumbprint alone: the thumbprint covers the required
 * members only, and jose's embedded-key checks (`use`, `alg`, public key only) read the others. A
 * proof whose header differs in any byte is imported and checked afresh, so a hit can only be a
 * header that already passed those checks.
 */
import type { CryptoKey, JWK } from 'jose';

/** Default bound: enough for every client active on one instance within minutes; about 1 KiB each. */
export const DEFAULT_KEY_CACHE_ENTRIES = 10_000;

export interface CachedProofKey {
  key: CryptoKey;
  /** RFC 7638 SHA-256 thumbprint of the key. */
  jkt: string;
}

export class ProofKeyCache {
  readonly #entries = new Map<string, CachedProofKey>();
  readonly #max: number;

  constructor(maxEntries = DEFAULT_KEY_CACHE_ENTRIES) {
    if (!Number.isInteger(maxEntries) || maxEntries < 0) throw new TypeError('the DPoP key cache size must be a non-negative integer');
    this.#max = maxEntries;
  }

  /** The cache key of a header's key: its alg and its JWK exactly as sent (key order included). */
  static id(alg: string, jwk: JWK): string {
    return `${alg}\n${JSON.stringify(jwk)}`;
  }

  get(id: string): CachedProofKey | undefined {
    const hit = this.#entries.get(id);
    if (hit !== undefined) {
      // Most recently used goes last, so the first entry is always the one to evict.
      this.#entries.delete(id);
      this.#entries.set(id, hit);
    }
    return hit;
  }

  set(id: string, entry: CachedProofKey): void {
    if (this.#max === 0) return;
    this.#entries.delete(id);
    this.#entries.set(id, entry);
    if (this.#entries.size > this.#max) this.#entries.delete(this.#entries.keys().next().value!);
  }

  get size(): number {
    return this.#entries.size;
  }
}
