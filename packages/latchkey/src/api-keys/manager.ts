/**
 * `latchkey.apiKeys`: long-lived, scoped, revocable credentials for scripts, CI jobs and partner
 * backends, issued by the app to its users. A different mechanism from sessions, with the same care:
 *
 * - the plaintext key is returned once; the store keeps its SHA-256 (format.ts says why that is right);
 * - verification refuses a malformed key before any hashing, and a mistyped one (bad checksum)
 *   before any store lookup (on a cache hit, the constant-time hash comparison catches it first);
 * - verified keys are cached by id in a bounded map, and every hit re-checks the presented key's
 *   hash (in constant time), revocation and expiry, so the cache never changes an answer;
 * - revocation (and a rotation's new expiry) reaches every instance over the revocation bus, and the
 *   store poll catches what the bus missed; an in-flight store read never re-caches a key that was
 *   changed while it ran;
 * - the last use is recorded in batches (about once a minute per key), never one write per request.
 */
import { timingSafeEqual } from 'node:crypto';
import type { Clock } from '../clock.js';
import { InsufficientScopeError, NotFoundError, UnauthorisedError, type UnauthorisedReason } from '../errors.js';
import type { TypedEmitter } from '../events.js';
import type { BusMessage } from '../revocation/bus.js';
import type { ApiKeyRecord, ApiKeyStore } from '../stores/types.js';
import { apiKeyIdOf, generateApiKey, hashApiKey, hasValidChecksum } from './format.js';
import { isApiKeyActive } from './state.js';
import type {
  ApiKey,
  ApiKeyRejectReason,
  CreateApiKeyInput,
  CreatedApiKey,
  RotateApiKeyOptions,
  VerifiedApiKey,
  VerifyApiKeyOptions,
} from './types.js';
import { validateLifetime, validateMetadata, validateName, validateOwnerId, validateScopes } from './validate.js';

export interface ApiKeysDeps {
  /** Undefined: the engine's store keeps no API keys; every method then throws a TypeError. */
  store: ApiKeyStore | undefined;
  clock: Clock;
  events: TypedEmitter;
  publish(message: BusMessage): Promise<void>;
  /** Most keys cached; 0 disables the cache. */
  cacheSize: number;
  /** Clock tolerance, ms: the poll looks back this far for changes stamped by a lagging clock. */
  toleranceMs: number;
}

/** One cached key: what a hit needs, computed once when loaded. */
interface CachedKey {
  hash: Buffer;
  revokedAt: number | null;
  expiresAt: number | null;
  scopes: ReadonlySet<string>;
  verified: VerifiedApiKey;
}

/** The same refusal text for every reason: a caller learns nothing about which keys exist. */
const INVALID_KEY_MESSAGE = 'invalid API key';
const REASONS: Record<Exclude<ApiKeyRejectReason, 'insufficient_scope'>, UnauthorisedReason> = {
  malformed: 'malformed',
  unknown: 'unknown_token',
  revoked: 'revoked',
  expired: 'expired',
};
const NO_SCOPES: readonly string[] = Object.freeze([]);

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const item of Object.values(value)) deepFreeze(item);
  }
  return value;
}

/** A copy the caller may keep; most keys have no metadata, and a fresh `{}` skips structuredClone's serialiser. */
function copyMetadata(metadata: ApiKeyRecord['metadata']): ApiKeyRecord['metadata'] {
  for (const name in metadata) if (Object.hasOwn(metadata, name)) return structuredClone(metadata);
  return {};
}

export function toApiKey(record: ApiKeyRecord): ApiKey {
  return {
    id: record.id,
    ownerId: record.ownerId,
    name: record.name,
    scopes: [...record.scopes],
    prefix: record.prefix,
    metadata: copyMetadata(record.metadata),
    createdAt: new Date(record.createdAt),
    expiresAt: record.expiresAt === null ? null : new Date(record.expiresAt),
    lastUsedAt: record.lastUsedAt === null ? null : new Date(record.lastUsedAt),
    revokedAt: record.revokedAt === null ? null : new Date(record.revokedAt),
  };
}

export class ApiKeys {
  readonly #deps: ApiKeysDeps;
  #cache = new Map<string, CachedKey>();
  /** Bumped by every invalidation: a store read that began before it must not fill the cache. */
  #epoch = 0;
  /** Last uses not yet written, by key id. */
  #pendingUse = new Map<string, number>();
  /** Start of the last successful change poll. */
  #changeCursor: number;

  constructor(deps: ApiKeysDeps) {
    this.#deps = deps;
    this.#changeCursor = deps.clock.now();
  }

  /** True when the engine has somewhere to keep API keys. */
  get enabled(): boolean {
    return this.#deps.store !== undefined;
  }

  #store(): ApiKeyStore {
    const store = this.#deps.store;
    if (!store) throw new TypeError('latchkey: this store keeps no API keys; pass an apiKeyStore option');
    return store;
  }

  /**
   * Issues a key. The plaintext is in the result and nowhere else: show it to the user once.
   *
   * @example
   * const { key, apiKey } = await latchkey.apiKeys.create({ ownerId: user.id, name: 'CI', scopes: ['deploy'], expiresIn: 90 * 86400 });
   */
  async create(input: CreateApiKeyInput): Promise<CreatedApiKey> {
    const ownerId = validateOwnerId(input.ownerId);
    const name = validateName(input.name);
    const scopes = validateScopes(input.scopes);
    const expiresIn = validateLifetime(input.expiresIn, 'expiresIn');
    const metadata = validateMetadata(input.metadata);
    const now = this.#deps.clock.now();
    const created = this.#newRecord({ ownerId, name, scopes, metadata }, now, expiresIn === undefined ? null : now + expiresIn * 1000);
    await this.#store().insertApiKey(created.record);
    this.#deps.events.emit('api_key.created', { keyId: created.record.id, ownerId, at: new Date(now) });
    return { key: created.key, apiKey: toApiKey(created.record) };
  }

  /**
   * Checks a presented key. Throws `UnauthorisedError` (`UNAUTHORISED`, with `reason` malformed,
   * unknown_token, revoked or expired) or `InsufficientScopeError` (`INSUFFICIENT_SCOPE`, naming the
   * missing scopes). Reads the store only on a cache miss.
   */
  async verify(key: unknown, options?: VerifyApiKeyOptions): Promise<VerifiedApiKey> {
    const required = options?.scopes === undefined ? NO_SCOPES : options.scopes;
    const id = apiKeyIdOf(key);
    if (id === null) throw this.#reject('malformed', null);
    const store = this.#store();
    let entry = this.#cache.get(id);
    if (entry === undefined) {
      // A mistyped key never reaches the store.
      if (!hasValidChecksum(key as string)) throw this.#reject('malformed', null);
      const epoch = this.#epoch;
      const record = await store.getApiKey(id);
      if (record === null) throw this.#reject('unknown', id);
      entry = cachedKey(record);
      if (epoch === this.#epoch) this.#remember(id, entry);
    }
    // Constant time: how much of a forged secret was right must not show in the response time. On a
    // cache hit this comparison is the first check of the checksum's part too (a hash match implies
    // it), so the CRC runs only on a mismatch, to name the refusal exactly as a miss would.
    const presented = hashApiKey(key as string);
    if (entry.hash.length !== presented.length || !timingSafeEqual(entry.hash, presented)) {
      throw hasValidChecksum(key as string) ? this.#reject('unknown', id) : this.#reject('malformed', null);
    }
    if (entry.revokedAt !== null) throw this.#reject('revoked', id);
    const now = this.#deps.clock.now();
    if (entry.expiresAt !== null && entry.expiresAt <= now) throw this.#reject('expired', id);
    if (required.length > 0) {
      const missing = required.filter((scope) => typeof scope !== 'string' || !entry.scopes.has(scope));
      if (missing.length > 0) {
        const names = missing.map(String);
        this.#deps.events.emit('api_key.rejected', { keyId: id, reason: 'insufficient_scope', missingScopes: names, at: new Date(now) });
        throw new InsufficientScopeError(names);
      }
    }
    this.#pendingUse.set(id, now);
    return entry.verified;
  }

  /** The owner's usable keys (neither revoked nor expired), newest first: metadata only. */
  async list(ownerId: string): Promise<ApiKey[]> {
    const records = await this.#store().listApiKeys(validateOwnerId(ownerId), this.#deps.clock.now());
    return records.map((r) => this.#withPendingUse(toApiKey(r)));
  }

  /** One key by id, whatever its state (revoked and expired ones too); null when unknown. */
  async get(id: string): Promise<ApiKey | null> {
    if (typeof id !== 'string') throw new TypeError('id must be a string');
    const record = await this.#store().getApiKey(id);
    return record ? this.#withPendingUse(toApiKey(record)) : null;
  }

  /** Revokes a key at once, on this instance and (through the bus) every other. True if it was not revoked already. */
  async revoke(id: string): Promise<boolean> {
    if (typeof id !== 'string') throw new TypeError('id must be a string');
    const now = this.#deps.clock.now();
    const store = this.#store();
    const revoked = await store.revokeApiKey(id, now);
    this.invalidate([id]);
    // Announced also when it was revoked already (the call that revoked it may have died before
    // announcing it), but not for an unknown id: junk ids must not turn into bus traffic.
    if (revoked || (await store.getApiKey(id)) !== null) await this.#deps.publish({ type: 'api-keys-changed', keyIds: [id] });
    if (!revoked) return false;
    this.#deps.events.emit('api_key.revoked', { keyId: id, ownerId: revoked.ownerId, at: new Date(now) });
    return true;
  }

  /**
   * A new key with the same owner, name, scopes and metadata. The old key stops at once, or after
   * `expiresPreviousIn` seconds (never later than it would have anyway). Throws `NotFoundError` when
   * the old key is unknown, revoked or expired.
   */
  async rotate(id: string, options: RotateApiKeyOptions = {}): Promise<CreatedApiKey> {
    if (typeof id !== 'string') throw new TypeError('id must be a string');
    // 0 is "at once", like leaving it out.
    const overlap = options.expiresPreviousIn === 0 ? undefined : validateLifetime(options.expiresPreviousIn, 'expiresPreviousIn');
    const expiresIn = validateLifetime(options.expiresIn, 'expiresIn');
    const store = this.#store();
    const previous = await store.getApiKey(id);
    const now = this.#deps.clock.now();
    if (!previous || !isApiKeyActive(previous, now)) throw new NotFoundError('API key not found');
    const lifetimeMs = expiresIn !== undefined ? expiresIn * 1000 : previous.expiresAt === null ? null : previous.expiresAt - previous.createdAt;
    const next = this.#newRecord(previous, now, lifetimeMs === null ? null : now + lifetimeMs);
    const previousExpiresAt = overlap === undefined ? null : now + overlap * 1000;
    // Atomic: if the old key was revoked (or rotated at once) meanwhile, no new key exists either.
    if (!(await store.rotateApiKey({ previousId: id, next: next.record, now, previousExpiresAt }))) throw new NotFoundError('API key not found');
    this.invalidate([id]);
    await this.#deps.publish({ type: 'api-keys-changed', keyIds: [id] });
    this.#deps.events.emit('api_key.rotated', {
      keyId: next.record.id,
      previousKeyId: id,
      ownerId: previous.ownerId,
      previousExpiresAt: previousExpiresAt === null ? null : new Date(Math.min(previousExpiresAt, previous.expiresAt ?? Infinity)),
      at: new Date(now),
    });
    return { key: next.key, apiKey: toApiKey(next.record) };
  }

  /** Drops cached keys (bus message, local change): the next verification reads the store. */
  invalidate(ids: readonly string[]): void {
    this.#epoch++;
    for (const id of ids) this.#cache.delete(id);
  }

  /** Drops every cached key (after a bus reconnection, when messages may have been missed). */
  invalidateAll(): void {
    this.#epoch++;
    this.#cache.clear();
  }

  /**
   * Drops cached keys that another instance revoked or re-dated since the last poll: the safety net
   * under the bus, and the only channel without one. Runs on the engine's revocation poll timer.
   */
  async syncChanges(): Promise<void> {
    const store = this.#deps.store;
    if (!store || this.#cache.size === 0) {
      this.#changeCursor = this.#deps.clock.now();
      return;
    }
    const started = this.#deps.clock.now();
    const ids = await store.listApiKeysChangedSince(Math.min(this.#changeCursor, started) - this.#deps.toleranceMs);
    const cached = ids.filter((id) => this.#cache.has(id));
    if (cached.length > 0) this.invalidate(cached);
    this.#changeCursor = started;
  }

  /** Writes pending last-use times in one batch. Runs on a timer (about once a minute) and on close. */
  async flushLastUsed(): Promise<void> {
    const store = this.#deps.store;
    if (!store || this.#pendingUse.size === 0) return;
    const uses = [...this.#pendingUse].map(([id, lastUsedAt]) => ({ id, lastUsedAt }));
    this.#pendingUse = new Map();
    try {
      await store.touchApiKeys(uses);
    } catch (error) {
      // Put them back (unless a newer use arrived meanwhile): the next flush retries.
      for (const { id, lastUsedAt } of uses) if (!this.#pendingUse.has(id)) this.#pendingUse.set(id, lastUsedAt);
      throw error;
    }
  }

  /** Keys in the cache (for metrics and tests). */
  get cachedKeys(): number {
    return this.#cache.size;
  }

  #newRecord(
    from: { ownerId: string; name: string; scopes: readonly string[]; metadata: ApiKeyRecord['metadata'] },
    now: number,
    expiresAt: number | null,
  ): { key: string; record: ApiKeyRecord } {
    const { key, id, prefix } = generateApiKey();
    return {
      key,
      record: {
        id,
        ownerId: from.ownerId,
        name: from.name,
        scopes: [...from.scopes],
        prefix,
        hash: hashApiKey(key).toString('hex'),
        metadata: structuredClone(from.metadata),
        createdAt: now,
        expiresAt,
        lastUsedAt: null,
        revokedAt: null,
        changedAt: now,
      },
    };
  }

  #remember(id: string, entry: CachedKey): void {
    const max = this.#deps.cacheSize;
    if (max <= 0) return;
    if (this.#cache.size >= max && !this.#cache.has(id)) {
      const oldest = this.#cache.keys().next();
      if (!oldest.done) this.#cache.delete(oldest.value);
    }
    this.#cache.set(id, entry);
  }

  #withPendingUse(key: ApiKey): ApiKey {
    const pending = this.#pendingUse.get(key.id);
    if (pending !== undefined && (key.lastUsedAt === null || key.lastUsedAt.getTime() < pending)) key.lastUsedAt = new Date(pending);
    return key;
  }

  #reject(reason: Exclude<ApiKeyRejectReason, 'insufficient_scope'>, keyId: string | null): UnauthorisedError {
    this.#deps.events.emit('api_key.rejected', { keyId, reason, at: new Date(this.#deps.clock.now()) });
    return new UnauthorisedError(REASONS[reason], INVALID_KEY_MESSAGE);
  }
}

function cachedKey(record: ApiKeyRecord): CachedKey {
  const apiKey = deepFreeze(toApiKey(record));
  return {
    hash: Buffer.from(record.hash, 'hex'),
    revokedAt: record.revokedAt,
    expiresAt: record.expiresAt,
    scopes: new Set(record.scopes),
    verified: Object.freeze({
      keyId: record.id,
      ownerId: record.ownerId,
      name: record.name,
      scopes: apiKey.scopes,
      metadata: apiKey.metadata,
      apiKey,
    }),
  };
}
