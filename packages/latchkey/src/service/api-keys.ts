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
import type { ServiceKeyRecord, SessionStore } from '../stores/types.js';

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
export async function createServiceKey(store: SessionStore, name: string, now = Date.now()): Promise<{ id: string; key: string }> {
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

export class ServiceKeyChecker {
  readonly #envHashes: Buffer[];
  readonly #store: SessionStore;

  constructor(store: SessionStore, envKeys: readonly string[]) {
    this.#store = store;
    this.#envHashes = envKeys.map(hashServiceKey);
  }

  /**
   * The identity of `presented`, or null when it is no valid key. Rejects with the store's
   * `StoreUnavailableError` when a stored key cannot be checked.
   */
  async check(presented: string): Promise<ServiceKeyIdentity | null> {
    if (presented.length === 0 || presented.length > MAX_KEY_LENGTH) return null;
    const hash = hashServiceKey(presented);
    let envMatch = -1;
    this.#envHashes.forEach((h, i) => {
      if (timingSafeEqual(h, hash) && envMatch === -1) envMatch = i;
    });
    if (envMatch !== -1) return { source: 'env', index: envMatch };
    if (!STORED_KEY_SHAPE.test(presented)) return null;
    const record = await this.#store.findServiceKeyByHash(hash.toString('hex'));
    if (!record || record.revokedAt !== null) return null;
    const stored = Buffer.from(record.hash, 'hex');
    if (stored.length !== hash.length || !timingSafeEqual(stored, hash)) return null;
    return { source: 'store', id: record.id };
  }
}

/** @deprecated the name before v1.1; use {@link ServiceKeyChecker}. */
export const ApiKeyChecker = ServiceKeyChecker;
/** @deprecated the name before v1.1; use {@link ServiceKeyChecker}. */
export type ApiKeyChecker = ServiceKeyChecker;
