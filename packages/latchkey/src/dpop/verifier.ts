/**
 * DPoP as the engine uses it: a proof checked by proof.ts, the server nonce when required, and the
 * replay cache last (so only otherwise valid proofs take a cache entry). One instance per engine.
 */
import { InvalidDpopProofError, StoreUnavailableError, UseDpopNonceError } from '../errors.js';
import { ProofKeyCache } from './key-cache.js';
import { DpopNonces } from './nonce.js';
import { verifyDpopProof, type DpopProofInput, type VerifiedDpopProof } from './proof.js';
import { MemoryReplayCache, ReplayCacheFullError, replayKey, type DpopReplayCache } from './replay.js';

/** DPoP (RFC 9449) settings of the engine. Every default is the strict one. */
export interface DpopOptions {
  /**
   * Proof algorithms accepted. Default: ES256/384/512, EdDSA (also as `Ed25519`), PS256/384/512 and
   * RS256/384/512. `none` and HMAC are refused whatever this says: they prove no key possession.
   */
  algorithms?: readonly string[] | undefined;
  /**
   * Where proof `jti`s are remembered. Default: in memory, {@link MemoryReplayCache} with its default
   * bound, which protects one instance only: a fleet must share one (`redisDpopReplayCache` from
   * `latchkey/dpop/redis`), or a proof replayed against another instance would pass there.
   */
  replayCache?: DpopReplayCache | undefined;
  /**
   * Require a server nonce in every proof (RFC 9449 §8): a proof then cannot be made more than two
   * nonce lifetimes in advance. Default false: it costs a round trip whenever the nonce changes.
   */
  requireNonce?: boolean | undefined;
  /** Seconds one nonce is handed out; it is accepted for up to twice that. Default 300. */
  nonceLifetime?: number | undefined;
}

export interface DpopVerifierSettings {
  /** iat window, seconds (the engine's clock tolerance). */
  windowSeconds: number;
  /** Key of the nonce HMAC, derived from the master secret. */
  nonceKey: Uint8Array;
}

export class DpopVerifier {
  readonly #options: DpopOptions;
  readonly #cache: DpopReplayCache;
  readonly #nonces: DpopNonces;
  readonly #windowSeconds: number;
  /** Each client signs with one key for its whole session: import it once (see key-cache.ts). */
  readonly #keys = new ProofKeyCache();

  constructor(options: DpopOptions | undefined, settings: DpopVerifierSettings) {
    this.#options = { ...options };
    if (options?.algorithms !== undefined && (!Array.isArray(options.algorithms) || options.algorithms.length === 0)) {
      throw new TypeError('dpop.algorithms must be a non-empty array');
    }
    this.#cache = options?.replayCache ?? new MemoryReplayCache();
    this.#nonces = new DpopNonces(settings.nonceKey, options?.nonceLifetime ?? 300);
    this.#windowSeconds = settings.windowSeconds;
  }

  /** Whether proofs must carry a server nonce. */
  get requiresNonce(): boolean {
    return this.#options.requireNonce === true;
  }

  /** The nonce to send as `DPoP-Nonce` now (accepted whether or not nonces are required). */
  nonce(now: number): string {
    return this.#nonces.current(now);
  }

  /** Entries in the replay cache, when it can tell. */
  get replayCacheSize(): number | undefined {
    return this.#cache.size;
  }

  /**
   * Checks a proof completely, replay included. `accessToken`: the token it must be bound to (`ath`);
   * `expectedJkt`: the key it must be made with (checked before the replay cache is touched).
   */
  async verify(input: unknown, now: number, bindTo?: { accessToken?: string; expectedJkt?: string }): Promise<VerifiedDpopProof> {
    const proofInput = toProofInput(input);
    const proof = await verifyDpopProof(proofInput, {
      now,
      windowSeconds: this.#windowSeconds,
      algorithms: this.#options.algorithms,
      accessToken: bindTo?.accessToken,
      keyCache: this.#keys,
      checkNonce: this.requiresNonce
        ? (nonce) => {
            if (!this.#nonces.accepts(nonce, now)) throw new UseDpopNonceError(this.#nonces.current(now));
          }
        : undefined,
    });
    if (bindTo?.expectedJkt !== undefined && proof.jkt !== bindTo.expectedJkt) {
      throw new InvalidDpopProofError('key_mismatch', 'the DPoP proof was made with another key than the one the token is bound to');
    }
    // A proof may pass the iat check until iat + window, and iat may be up to window ahead of now.
    const expiresAt = now + 2 * this.#windowSeconds * 1000 + 1000;
    let fresh: boolean;
    try {
      fresh = await this.#cache.remember(replayKey(proof.jkt, proof.jti), expiresAt, now);
    } catch (error) {
      if (error instanceof ReplayCacheFullError)
        throw new InvalidDpopProofError('replay_cache_full', 'too many DPoP proofs in the window; retry later');
      throw new StoreUnavailableError('the DPoP replay cache is unavailable', { cause: error });
    }
    if (!fresh) throw new InvalidDpopProofError('replay', 'this DPoP proof was used before');
    return proof;
  }

  async close(): Promise<void> {
    await this.#cache.close?.();
  }
}

function toProofInput(input: unknown): DpopProofInput {
  if (typeof input !== 'object' || input === null) throw new InvalidDpopProofError('missing', 'no DPoP proof');
  const { proof, method, url } = input as Record<string, unknown>;
  if (typeof proof !== 'string' || proof.length === 0) throw new InvalidDpopProofError('missing', 'no DPoP proof');
  if (typeof method !== 'string' || typeof url !== 'string') throw new TypeError('dpop needs method and url strings');
  return { proof, method, url };
}
