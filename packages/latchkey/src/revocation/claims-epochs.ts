/**
 * Claims epochs: "every token of this user (or this session) minted before time E carries claims that
 * have since changed". Each instance keeps them in memory, beside the denylist, and learns of them
 * through the same bus as revocations; verification compares a token's mint time with its user's and
 * session's epoch, two map lookups and no store access. A token minted before its epoch is answered
 * `TRY_REFRESH_TOKEN`: the client refreshes, and the refresh mints from the store, which already holds
 * the new claims. So "remove the admin role everywhere" takes effect at the next request of every
 * session, without waiting for access tokens to expire and without a lookup per request.
 *
 * An epoch only has to outlive the tokens minted before it: it is dropped after the access-token
 * lifetime plus the clock tolerance.
 */

export class ClaimsEpochs {
  readonly #users = new Map<string, number>();
  readonly #sessions = new Map<string, number>();
  readonly #retainMs: number;

  /** @param retainMs how long after it an epoch still matters (access-token lifetime plus tolerance). */
  constructor(retainMs: number) {
    this.#retainMs = retainMs;
  }

  /**
   * Records an epoch. `at` is clamped to `now + 1` (an epoch is taken as the millisecond after the
   * change, see {@link floor}): a forged or skewed bus message cannot plant an epoch that outlives its
   * purpose (the worst a forged one can do is make clients refresh).
   */
  add(kind: 'user' | 'session', id: string, at: number, now: number): void {
    at = Math.min(at, now + 1);
    if (at + this.#retainMs <= now) return;
    const map = kind === 'user' ? this.#users : this.#sessions;
    const held = map.get(id);
    if (held !== undefined && held >= at) return;
    // Re-inserted at the end, so that the map stays roughly in time order and pruning stops early.
    map.delete(id);
    map.set(id, at);
    this.prune(now);
  }

  /** True when a token of this user and session minted at `mintedAt` (ms) predates a change of its claims. */
  stale(userId: string, sessionId: string, mintedAt: number): boolean {
    // The common case, no claim ever changed here: no lookup at all.
    if (this.#users.size === 0 && this.#sessions.size === 0) return false;
    const user = this.#users.get(userId);
    if (user !== undefined && mintedAt < user) return true;
    const session = this.#sessions.get(sessionId);
    return session !== undefined && mintedAt < session;
  }

  /**
   * The later of the user's and the session's epoch, if any. An epoch is the millisecond after its
   * change, so that a token minted in the change's own millisecond, before it, is outdated; a token
   * minted here after the change in that millisecond takes this as its mint time (1 ms ahead) and is not.
   */
  floor(userId: string, sessionId: string): number | undefined {
    if (this.#users.size === 0 && this.#sessions.size === 0) return undefined;
    const user = this.#users.get(userId);
    const session = this.#sessions.get(sessionId);
    return user === undefined ? session : session === undefined ? user : Math.max(user, session);
  }

  prune(now: number): void {
    for (const map of [this.#users, this.#sessions]) {
      for (const [id, at] of map) {
        if (at + this.#retainMs > now) break;
        map.delete(id);
      }
    }
  }

  get size(): number {
    return this.#users.size + this.#sessions.size;
  }
}

/**
 * When a token was minted, ms: `lk_iat_ms`, or for a token from an older release its `iat` (earlier,
 * so never too lenient). The engine and the edge verifier compare it with the epochs.
 */
export function tokenMintedAt(claims: { readonly lk_iat_ms?: unknown; readonly iat: number }): number {
  const ms = claims.lk_iat_ms;
  return typeof ms === 'number' ? ms : claims.iat * 1000;
}
