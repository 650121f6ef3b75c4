/**
 * The in-memory set of revoked session ids, checked on every verification so that a revoked session
 * stops at once without a store lookup. An entry only has to outlive the access tokens that were
 * already issued for the session, so each is kept until `revokedAt + access TTL + clock tolerance`
 * and then dropped.
 *
 * Entries are kept in a Map in insertion order; since revocations arrive roughly in time order,
 * expired entries are found at the front and pruning is amortised O(1).
 */
export class RevocationDenylist {
  #until = new Map<string, number>();
  readonly #retainMs: number;

  /** @param retainMs how long after its revocation a session id must stay denied. */
  constructor(retainMs: number) {
    this.#retainMs = retainMs;
  }

  add(sessionId: string, revokedAt: number, now: number): void {
    const until = revokedAt + this.#retainMs;
    if (until <= now) return;
    const held = this.#until.get(sessionId);
    if (held !== undefined && held >= until) return;
    // Re-insert at the end so insertion order stays close to expiry order.
    this.#until.delete(sessionId);
    this.#until.set(sessionId, until);
    this.prune(now);
  }

  has(sessionId: string): boolean {
    // No time check: a stale entry can only deny a session whose tokens have all expired anyway.
    return this.#until.has(sessionId);
  }

  /** Drops entries whose tokens have all expired; stops at the first live one. */
  prune(now: number): void {
    for (const [sessionId, until] of this.#until) {
      if (until > now) break;
      this.#until.delete(sessionId);
    }
  }

  get size(): number {
    return this.#until.size;
  }
}
