/**
 * Service keys: the credentials of backends calling the service's `/v1/` routes (named "API keys"
 * before v1.1 of the service contract; "API keys" are now the ones an app issues to its users, see
 * api-keys/). A key is `lksk_` + 256 random bits (base64url): the
 * prefix lets secret scanners and people recognise one in a log or a commit. Only a SHA-256 hash is
 * stored; a fast hash is right here because the key itself is high-entropy (no dictionary to try).
 *
 * Checking: the presented key is hashed once, then compared with `timingSafeEqual` against each
 * configured key's hash (all of them, no early exit) and against the stored hash found by lookup, so
 * response time says nothing about how much of a key was right.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { ServiceKeyRecord, ServiceKeyStore } from '../stores/types.js';

export const SERVICE_KEY_PREFIX = 'lksk_';
/** @deprecated the name before v1.1; use {@link SERVICE_KEY_PREFIX}. */
export const API_KEY_PREFIX = SERVICE_KEY_PREFIX;
/** `lksk_` + 43 base64url characters (32 bytes). Anything else is refused before any store access. */
const STORED_KEY_SHAPE = /^lksk_[A-Za-z0-9_-]{43}$/;
const MAX_KEY_LENGTH = 512;

export function hashServiceKey(key: string): Buffer {
  return createHash('sha256').update(key, 'utf8').digest();
}

/** A new key and the record to store for it (the record holds the hash only). */
export function newServiceKey(name: string, now: number): { key: string; record: ServiceKeyRecord } {
  const key = SERVICE_KEY_PREFIX + randomBytes(32).toString('base64url');
  const record: ServiceKeyRecord = {
    id: `ak_${randomBytes(9).toString('base64url')}`,
    name,
    hash: hashServiceKey(key).toString('hex'),
    createdAt: now,
    revokedAt: null,
  };
  return { key, record };
}

/** Creates a key in the store; returns the key, which is shown once and never again. */
export async function createServiceKey(store: ServiceKeyStore, name: string, now = Date.now()): Promise<{ id: string; key: string }> {
  const { key, record } = newServiceKey(name, now);
  await store.insertServiceKey(record);
  return { id: record.id, key };
}

/** @deprecated the name before v1.1; use {@link createServiceKey}. */
export const createApiKey = createServiceKey;
/** @deprecated the name before v1.1; use {@link hashServiceKey}. */
export const hashApiKey = hashServiceKey;

/** What a successful check identifies: a stored key by id, or one from LATCHKEY_SERVICE_KEYS / LATCHKEY_API_KEYS. */
export type ServiceKeyIdentity = { source: 'store'; id: string } | { source: 'env'; index: number };
/** @deprecated the name before v1.1; use {@link ServiceKeyIdentity}. */
export type ApiKeyIdentity = ServiceKeyIdentity;

/**
 * How long a stored service key, once found, is trusted without asking the store again, ms. Default
 * 1000: a backend calls with the same key many times a second, and each call used to cost a store
 * round trip before any work. The price is the revocation bound: a key revoked by another process
 * (the CLI) is refused at once by an instance that hears of it on the revocation bus, and by every
 * other instance within this many ms. 0 turns the cache off (every request reads the store).
 */
export const SERVICE_KEY_CACHE_TTL_MS = 1_000;
/** Most stored keys cached at once: a deployment has a handful; the bound only caps memory. */
export const SERVICE_KEY_CACHE_MAX = 1_024;

export interface ServiceKeyCheckerOptions {
  /** See {@link SERVICE_KEY_CACHE_TTL_MS}. Default 1000 ms. */
  cacheTtlMs?: number | undefined;
  /** See {@link SERVICE_KEY_CACHE_MAX}. Default 1024. */
  cacheMax?: number | undefined;
  /** Tells the other instances that keys were revoked (the revocation bus). Default: nobody to tell. */
  announce?: ((keyIds: string[]) => Promise<void>) | undefined;
  /** Milliseconds since the epoch. Default `Date.now`. */
  now?: (() => number) | undefined;
}

interface CachedKey {
  id: string;
  until: number;
}

export class ServiceKeyChecker {
  readonly #envHashes: Buffer[];
  readonly #store: ServiceKeyStore;
  readonly #ttlMs: number;
  readonly #max: number;
  readonly #announce: ((keyIds: string[]) => Promise<void>) | undefined;
  readonly #now: () => number;
  /** Hex hash of a stored key → its id and how long it may be trusted. Positive answers only: an unknown key always asks the store. */
  readonly #cache = new Map<string, CachedKey>();

  constructor(store: ServiceKeyStore, envKeys: readonly string[], options: ServiceKeyCheckerOptions = {}) {
    this.#store = store;
    this.#envHashes = envKeys.map(hashServiceKey);
    this.#ttlMs = options.cacheTtlMs ?? SERVICE_KEY_CACHE_TTL_MS;
    this.#max = options.cacheMax ?? SERVICE_KEY_CACHE_MAX;
    this.#announce = options.announce;
    this.#now = options.now ?? Date.now;
    if (!Number.isFinite(this.#ttlMs) || this.#ttlMs < 0) throw new TypeError('cacheTtlMs must be a non-negative number of milliseconds');
    if (!Number.isInteger(this.#max) || this.#max < 1) throw new TypeError('cacheMax must be a positive integer');
  }

  /**
   * The identity of `presented`, or null when it is no valid key. Rejects with the store's
   * `StoreUnavailableError` when a stored key cannot be checked.
   */
  check(presented: string): Promise<ServiceKeyIdentity | null> | ServiceKeyIdentity | null {
    if (presented.length === 0 || presented.length > MAX_KEY_LENGTH) return null;
    const hash = hashServiceKey(presented);
    let envMatch = -1;
    this.#envHashes.forEach((h, i) => {
      if (timingSafeEqual(h, hash) && envMatch === -1) envMatch = i;
    });
    if (envMatch !== -1) return { source: 'env', index: envMatch };
    if (!STORED_KEY_SHAPE.test(presented)) return null;
    const hex = hash.toString('hex');
    const cached = this.#cache.get(hex);
    // Found by its full SHA-256 (a map lookup on the hash, not on the key): as strong as the store's lookup.
    if (cached !== undefined) {
      if (cached.until > this.#now()) return { source: 'store', id: cached.id };
      this.#cache.delete(hex);
    }
    return this.#lookup(hash, hex);
  }

  async #lookup(hash: Buffer, hex: string): Promise<ServiceKeyIdentity | null> {
    const record = await this.#store.findServiceKeyByHash(hex);
    if (!record || record.revokedAt !== null) return null;
    const stored = Buffer.from(record.hash, 'hex');
    if (stored.length !== hash.length || !timingSafeEqual(stored, hash)) return null;
    if (this.#ttlMs > 0) {
      // Oldest first out: Map keeps insertion order.
      if (this.#cache.size >= this.#max) this.#cache.delete(this.#cache.keys().next().value as string);
      this.#cache.set(hex, { id: record.id, until: this.#now() + this.#ttlMs });
    }
    return { source: 'store', id: record.id };
  }

  /** Forgets the cached keys with these ids (all of them without ids): their next use reads the store. */
  invalidate(keyIds?: readonly string[] | null): void {
    if (keyIds === undefined || keyIds === null) {
      this.#cache.clear();
      return;
    }
    const ids = new Set(keyIds);
    for (const [hex, entry] of this.#cache) if (ids.has(entry.id)) this.#cache.delete(hex);
  }

  /**
   * Revokes a stored key: refused by this checker from the next request on, and announced to the
   * other instances (the revocation bus), which refuse it on receipt, or within the cache TTL if the
   * news is lost. Returns false when there was no active key with that id.
   */
  async revoke(id: string, now = Date.now()): Promise<boolean> {
    const revoked = await this.#store.revokeServiceKey(id, now);
    this.invalidate([id]);
    if (revoked && this.#announce) await this.#announce([id]);
    return revoked;
  }
}

/** @deprecated the name before v1.1; use {@link ServiceKeyChecker}. */
export const ApiKeyChecker = ServiceKeyChecker;
/** @deprecated the name before v1.1; use {@link ServiceKeyChecker}. */
export type ApiKeyChecker = ServiceKeyChecker;
