/**
 * The in-memory key ring: imported keys by `kid`, each bound to exactly one algorithm (RFC 8725
 * §3.1). Verification looks keys up here only; nothing in a token (`jku`, `jwk`, `x5u`, `x5c`) can
 * add a key or cause a request.
 *
 * Each key is held twice: as a WebCrypto `CryptoKey` (jose's import, for anything jose does) and as
 * a node:crypto `KeyObject` made once, which the synchronous sign/verify hot path of `tokens/jws.ts`
 * uses (why: docs/performance.md). The private KeyObject is parsed from the same PKCS#8 text, not
 * converted from jose's CryptoKey: that one is non-extractable, and Node.js 24 deprecates converting
 * such a key (DEP0204, a warning on every start).
 */
import { createPrivateKey, KeyObject } from 'node:crypto';
import { importJWK, importPKCS8, type CryptoKey, type JWK } from 'jose';
import type { SigningKeyRecord } from '../stores/types.js';
import type { SigningAlgorithm } from '../types.js';
import { StoreUnavailableError } from '../errors.js';
import { decryptPrivateKey } from './encryption.js';
import { activeKey } from './schedule.js';

export interface RingKey {
  kid: string;
  alg: SigningAlgorithm;
  generation: number;
  activatesAt: number;
  createdAt: number;
  publicJwk: JWK;
  verifyKey: CryptoKey;
  /** The same public key for node:crypto, built once at load. */
  verifyKeyObject: KeyObject;
  /** Imported on first use: most instances of a fleet verify far more than they sign. */
  signKey: Promise<CryptoKey> | undefined;
  /** The private key for node:crypto, set once {@link KeyRing.signingKeyObject} has imported it. */
  signKeyObject: KeyObject | undefined;
  record: SigningKeyRecord;
}

/** A JSON Web Key Set (RFC 7517 §5) of public keys. */
export interface JsonWebKeySet {
  keys: JWK[];
}

/** Public members only, by key type: whatever else a stored JWK holds is never published. */
function publicMembers(jwk: JWK): JWK {
  const keep: Record<string, readonly string[]> = { RSA: ['kty', 'n', 'e'], EC: ['kty', 'crv', 'x', 'y'], OKP: ['kty', 'crv', 'x'] };
  const members = keep[jwk.kty ?? ''];
  if (!members) throw new Error(`latchkey: unsupported key type ${String(jwk.kty)}`);
  return Object.fromEntries(members.filter((m) => m in jwk).map((m) => [m, (jwk as Record<string, unknown>)[m]])) as JWK;
}

export class KeyRing {
  #keys = new Map<string, RingKey>();
  #jwks: JsonWebKeySet = { keys: [] };
  readonly #encryptionKey: Uint8Array;

  constructor(encryptionKey: Uint8Array) {
    this.#encryptionKey = encryptionKey;
  }

  /** Replaces the ring with `records`, importing only keys not already held. */
  async load(records: readonly SigningKeyRecord[]): Promise<void> {
    const next = new Map<string, RingKey>();
    for (const record of records) {
      const held = this.#keys.get(record.kid);
      if (held) {
        next.set(record.kid, held);
        continue;
      }
      const publicOnly = publicMembers(record.publicJwk);
      const verifyKey = (await importJWK(publicOnly, record.alg)) as CryptoKey;
      next.set(record.kid, {
        kid: record.kid,
        alg: record.alg,
        generation: record.generation,
        activatesAt: record.activatesAt,
        createdAt: record.createdAt,
        publicJwk: { ...publicOnly, kid: record.kid, alg: record.alg, use: 'sig' },
        verifyKey,
        verifyKeyObject: KeyObject.from(verifyKey),
        signKey: undefined,
        signKeyObject: undefined,
        record,
      });
    }
    this.#keys = next;
    const sorted = [...next.values()].sort((a, b) => b.generation - a.generation);
    this.#jwks = { keys: sorted.map((k) => k.publicJwk) };
  }

  get size(): number {
    return this.#keys.size;
  }

  get(kid: string): RingKey | undefined {
    return this.#keys.get(kid);
  }

  has(kid: string): boolean {
    return this.#keys.has(kid);
  }

  all(): RingKey[] {
    return [...this.#keys.values()].sort((a, b) => a.generation - b.generation);
  }

  /**
   * The key that signs at `now`. Throws {@link StoreUnavailableError} (`STORE_UNAVAILABLE`, retryable)
   * if the ring holds no active key: the engine always loads at least one, so this means the key
   * table could not be read, and callers get a typed error rather than a bare one (a 500).
   */
  signing(now: number): RingKey {
    const key = activeKey([...this.#keys.values()], now);
    if (!key) throw new StoreUnavailableError('latchkey: no signing key loaded from the store');
    return key;
  }

  /**
   * Throws `SecretMismatchError` (`SECRET_MISMATCH`) unless the private half of every given key (by
   * default every loaded one) decrypts with this ring's key: the start-up check that the master
   * secret is the one that made the keys.
   */
  assertDecryptable(records: Iterable<SigningKeyRecord> = [...this.#keys.values()].map((k) => k.record)): void {
    for (const record of records) decryptPrivateKey(this.#encryptionKey, record.kid, record.privateKeyEncrypted);
  }

  /** The key's private half, imported on first use. Rejects with SECRET_MISMATCH when it cannot be decrypted. */
  async signingKey(key: RingKey): Promise<CryptoKey> {
    if (key.signKey) return key.signKey;
    const pending = importPKCS8(decryptPrivateKey(this.#encryptionKey, key.kid, key.record.privateKeyEncrypted), key.alg) as Promise<CryptoKey>;
    key.signKey = pending;
    // A failed import must not stick: caching the rejected promise would fail every later signature
    // with this key until restart, even once the cause is gone.
    pending.catch(() => {
      if (key.signKey === pending) key.signKey = undefined;
    });
    return pending;
  }

  /**
   * The key's private half as a node:crypto KeyObject, once. jose's import ({@link signingKey}) runs
   * first, so a key it refuses is refused here the same way.
   */
  async signingKeyObject(key: RingKey): Promise<KeyObject> {
    if (key.signKeyObject) return key.signKeyObject;
    await this.signingKey(key);
    const object = createPrivateKey(decryptPrivateKey(this.#encryptionKey, key.kid, key.record.privateKeyEncrypted));
    key.signKeyObject = object;
    return object;
  }

  /** Public keys only, newest first. */
  jwks(): JsonWebKeySet {
    return this.#jwks;
  }
}
