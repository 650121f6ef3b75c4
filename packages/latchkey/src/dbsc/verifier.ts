/**
 * DBSC as the engine uses it: challenges (challenge.ts), proofs (proof.ts), and single use of every
 * challenge through the replay cache the engine shares with DPoP (in memory, or Redis for a fleet),
 * checked last so that only otherwise valid proofs take a cache entry. One instance per engine.
 */
import type { JWK } from 'jose';
import { InvalidDbscProofError, StoreUnavailableError } from '../errors.js';
import { ReplayCacheFullError, replayKey, type DpopReplayCache } from '../dpop/replay.js';
import { DbscChallenges } from './challenge.js';
import { verifyDbscRefreshProof, verifyDbscRegistrationProof, type VerifiedDbscRegistration } from './proof.js';

export class DbscVerifier {
  readonly #challenges: DbscChallenges;
  readonly #cache: DpopReplayCache;

  /** @param challengeKey HMAC key of the challenges, derived from the master secret. */
  constructor(challengeKey: Uint8Array, cache: DpopReplayCache) {
    this.#challenges = new DbscChallenges(challengeKey);
    this.#cache = cache;
  }

  /** A challenge for `sessionId`, to send in `Secure-Session-Registration` or `Secure-Session-Challenge`. */
  challenge(sessionId: string, now: number): string {
    return this.#challenges.issue(sessionId, now);
  }

  /** Checks a registration proof for `sessionId` completely, single use included. */
  async verifyRegistration(proof: unknown, sessionId: string, now: number): Promise<VerifiedDbscRegistration> {
    const verified = await verifyDbscRegistrationProof(proof, now);
    await this.#consume(verified.jti, sessionId, now);
    return verified;
  }

  /** Checks a refresh proof for `sessionId` against its registered key, single use included. */
  async verifyRefresh(proof: unknown, sessionId: string, registered: JWK, now: number): Promise<void> {
    const jti = await verifyDbscRefreshProof(proof, registered, now);
    await this.#consume(jti, sessionId, now);
  }

  async #consume(jti: string, sessionId: string, now: number): Promise<void> {
    const checked = this.#challenges.check(jti, sessionId, now);
    if (checked === null)
      throw new InvalidDbscProofError('challenge', 'the DBSC proof does not answer a current challenge for this session');
    let fresh: boolean;
    try {
      // Keyed apart from DPoP's entries (a DPoP jkt is a thumbprint; this prefix is not one).
      fresh = await this.#cache.remember(replayKey(`dbsc:${sessionId}`, jti), checked.expiresAt + 1000, now);
    } catch (error) {
      if (error instanceof ReplayCacheFullError)
        throw new InvalidDbscProofError('replay_cache_full', 'too many DBSC proofs in the window; retry later');
      throw new StoreUnavailableError('the DBSC replay cache is unavailable', { cause: error });
    }
    if (!fresh) throw new InvalidDbscProofError('replay', 'this DBSC challenge was answered before');
  }
}
