/**
 * DBSC challenges, stateless: a challenge names the session it was issued for and its expiry, with
 * random bytes and an HMAC under a key derived from the master secret, so that every instance sharing
 * the secret issues and accepts the same challenges without a shared store. A proof's `jti` must be
 * one of them, for the session being bound or refreshed: a proof made for one session cannot serve
 * another, and one made long ago (by malware that held the key for a while) stops working when its
 * challenge expires. Single use is enforced by the caller through the replay cache.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** Seconds a challenge stays valid. The browser answers at once (registration and refresh alike). */
export const DBSC_CHALLENGE_SECONDS = 120;

/** The parts of a challenge that passed its MAC and expiry checks. */
export interface CheckedChallenge {
  /** Expiry, ms since the epoch: how long the replay cache must remember it. */
  expiresAt: number;
}

export class DbscChallenges {
  readonly #key: Uint8Array;

  constructor(key: Uint8Array) {
    this.#key = key;
  }

  /** A fresh challenge for `sessionId`: `<expiry base36>.<16 random bytes>.<mac>`, all sf-string safe. */
  issue(sessionId: string, now: number): string {
    const expires = Math.floor(now / 1000) + DBSC_CHALLENGE_SECONDS;
    const body = `${expires.toString(36)}.${randomBytes(16).toString('base64url')}`;
    return `${body}.${this.#mac(sessionId, body)}`;
  }

  /** The challenge's expiry when it was issued here for `sessionId` and has not expired; otherwise null. */
  check(challenge: unknown, sessionId: string, now: number): CheckedChallenge | null {
    if (typeof challenge !== 'string' || challenge.length > 128) return null;
    const parts = challenge.split('.');
    if (parts.length !== 3) return null;
    const [expiry = '', nonce = '', mac = ''] = parts;
    const expected = Buffer.from(this.#mac(sessionId, `${expiry}.${nonce}`));
    const given = Buffer.from(mac);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) return null;
    const expiresAt = parseInt(expiry, 36) * 1000;
    if (!Number.isSafeInteger(expiresAt) || expiresAt <= now) return null;
    return { expiresAt };
  }

  #mac(sessionId: string, body: string): string {
    return createHmac('sha256', this.#key).update(`dbsc-challenge\0${sessionId}\0${body}`).digest('base64url').slice(0, 32);
  }
}
