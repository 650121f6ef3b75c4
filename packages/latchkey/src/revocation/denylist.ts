/**
 * The in-memory set of revoked session ids, checked on every verification so that a revoked session
 * stops at once without a store lookup. An entry only has to outlive the access tokens that were
 * already issued for the session, so each is kept until `revokedAt + access TTL + clock tolerance`
 * and then dropped.
 *
 * Entries are kept in a Map in insertion order; since revocations arrive roughly in time order,
 * expired entries are found at the front and pruning is amortised O(1). Expiry is kept as whole
 * seconds from the list's creation: a small integer V8 stores inline, where a millisecond timestamp
 * would take a separate heap number per entry (memory per revoked session is a benchmarked target).
 * Whether a session was revoked for theft rides on the sign of that same integer (negative: theft),
 * so remembering it costs nothing per entry.
 */
export class RevocationDenylist {
  #until = new Map<string, number>();
  readonly #retainMs: number;
  readonly #epoch: number;

  /**
   * @param retainMs how long after its revocation a session id must stay denied.
   * @param now the current time; the origin of the stored offsets.
   */
  constructor(retainMs: number, now: number) {
    this.#retainMs = retainMs;
    this.#epoch = now;
  }

  /** Whole seconds since the epoch of this list. Expiries round up and `now` rounds down, so an entry never leaves early. */
  #offset(ms: number, round: (x: number) => number): number {
    return round((ms - this.#epoch) / 1000);
  }

  /** @param theft the session was revoked for theft; once known, never forgotten while the entry lives. */
  add(sessionId: string, revokedAt: number, now: number, theft = false): void {
    // A revocation cannot lie in the future: clamping keeps a forged or skewed bus message from
    // planting an entry that never expires (and, since pruning stops at the first live entry,
    // from stopping all pruning behind it).
    revokedAt = Math.min(revokedAt, now);
    if (revokedAt + this.#retainMs <= now) return;
    // Always >= 1: revokedAt + retain > now >= epoch, rounded up. So the sign is free to carry theft.
    let until = this.#offset(revokedAt + this.#retainMs, Math.ceil);
    const held = this.#until.get(sessionId);
    if (held !== undefined) {
      // A re-announcement of a theft revocation may arrive without its reason (an older release).
      theft ||= held < 0;
      until = Math.max(until, Math.abs(held));
      if (until === Math.abs(held) && theft === held < 0) return;
    }
    // Re-insert at the end so insertion order stays close to expiry order.
    this.#until.delete(sessionId);
    this.#until.set(sessionId, theft ? -until : until);
    this.prune(now);
  }

  has(sessionId: string): boolean {
    // No time check: a stale entry can only deny a session whose tokens have all expired anyway.
    return this.#until.has(sessionId);
  }

  /** Why the session is denied: `'theft'`, `'revoked'` (any other reason), or undefined when it is not. */
  denied(sessionId: string): 'theft' | 'revoked' | undefined {
    const held = this.#until.get(sessionId);
    return held === undefined ? undefined : held < 0 ? 'theft' : 'revoked';
  }

  /** Drops entries whose tokens have all expired; stops at the first live one. */
  prune(now: number): void {
    const current = this.#offset(now, Math.floor);
    for (const [sessionId, until] of this.#until) {
      if (Math.abs(until) > current) break;
      this.#until.delete(sessionId);
    }
  }

  get size(): number {
    return this.#until.size;
  }
}
