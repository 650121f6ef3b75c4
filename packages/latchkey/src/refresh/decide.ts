/**
 * The refresh-rotation decision, shared by every store so that the security rules live in one place.
 *
 * A store loads the presented token's row and its session inside one transaction (with the session
 * row locked where the backend has row locks), calls {@link decideRotation}, writes what it says
 * (`rotated`: the session and {@link successorTokenRecord}; `theft`: the revocation; nothing
 * otherwise), commits, and returns the decision unchanged: one result type from the rule to the
 * engine. (The PostgreSQL store first tries the `rotated` branch alone as one SQL statement, a fast
 * path for the common case; anything it does not match comes back here. The shared store contract
 * suite runs every rotation case through it.) The write is a compare-and-swap on
 * `currentRefreshHash`, so two racing writers cannot both rotate the same token.
 *
 * The rules (RFC 9700 §4.14.2, RFC 6819 §5.2.2.3):
 * - The current token rotates: its successor becomes current, the idle expiry slides.
 * - The immediate parent of the current token, presented again inside the grace window, is a benign
 *   race (several tabs, a lost response): no write; the engine re-derives the same successor, which
 *   is why no plaintext token is ever stored. Only the immediate parent qualifies: a grandparent is
 *   theft even inside the window, which closes the hole where a thief who keeps rotating could keep
 *   an old token alive.
 * - Any other token of the chain is a replay of a rotated-out token: theft, the session is revoked
 *   in the same transaction.
 *
 * Why the grace is bounded three ways (only the immediate parent, only inside the window, only while
 * its derived successor is still current), and why the window must never grow without bound, however
 * tempting that is for slow networks (the leapfrog argument):
 *
 * Successors are derived, not random: a parent P always yields the same successor S = HMAC(P), so
 * that a retry can be answered without storing plaintext tokens. Suppose a thief copied P, so the
 * user and the thief both hold it. If the parent were accepted whenever its successor is current,
 * with no time bound, then: the user presents P and gets S; the thief presents P (its successor S is
 * current) and gets the same S; the user presents S and gets U; the thief presents S (U is current)
 * and gets U; and so on for ever. Each holder always presents either the current token or the
 * parent of the current token, so no presentation is ever a replay in the store's eyes: two holders
 * of one chain leapfrog each other indefinitely and theft is never detected. Accepting older
 * ancestors would only make that easier. The time bound breaks it: to keep up, the thief must
 * present each token within the window after every rotation by the user (and the user within the
 * window after every rotation by the thief), at unknown instants, for as long as the session lives.
 * Independent holders fall out of step at the first rotation they do not shadow within the window,
 * and that presentation is theft. So the window stays short (default 30 s: the SDK's refresh
 * deadline plus one immediate retry, with margin) and a parent presented after it stays theft. It is
 * reported as `parent-after-grace`, with how long after the rotation it came, so that an operator can
 * tell a rare late retry from a replayed old token (`rotated-out-replay`); both revoke the session.
 */
import type { RefreshTokenRecord, RotateRefreshInput, RotateRefreshOutcome, SessionRecord } from '../stores/types.js';

/** True when the session can no longer be refreshed at `now` because of its idle or absolute expiry. */
export function isSessionExpired(session: SessionRecord, now: number): boolean {
  return now >= session.idleExpiresAt || now >= session.absoluteExpiresAt;
}

export function isSessionActive(session: SessionRecord, now: number): boolean {
  return session.revokedAt === null && !isSessionExpired(session, now);
}

/**
 * Decides a rotation: `token` is the presented token's record (null when unknown), `session` its
 * session. Pure: the caller writes what it says.
 */
export function decideRotation(
  token: RefreshTokenRecord | null,
  session: SessionRecord | null,
  input: RotateRefreshInput,
): RotateRefreshOutcome {
  if (!token || !session || session.id !== token.sessionId) return { kind: 'unknown' };
  if (session.revokedAt !== null) return { kind: 'revoked', session };
  if (isSessionExpired(session, input.now)) return { kind: 'expired', session };
  // A bound session (DPoP, DBSC) answers only the holder of its key, and before any other rule: a
  // thief holding a copied refresh token but not the key can neither rotate it nor, by replaying an
  // old one, trigger the theft revocation that would sign the victim out. Nothing is written.
  const bound = session.binding?.jkt;
  if (bound !== undefined && input.presentedJkt !== bound) return { kind: 'binding_mismatch', session };

  if (session.currentRefreshHash === input.presentedHash) {
    const now = input.now;
    return {
      kind: 'rotated',
      session: {
        ...session,
        currentRefreshHash: input.successorHash,
        previousRefreshHash: input.presentedHash,
        rotatedAt: now,
        generation: session.generation + 1,
        lastActiveAt: now,
        idleExpiresAt: Math.min(now + input.idleTimeoutMs, session.absoluteExpiresAt),
        device: input.device ?? session.device,
      },
    };
  }

  const { rotatedAt } = session;
  const isParentOfUnusedSuccessor =
    session.previousRefreshHash === input.presentedHash &&
    rotatedAt !== null &&
    // The current token must be the one derived from the presented token, or the engine would
    // hand back a successor that is not current.
    session.currentRefreshHash === input.successorHash;
  if (isParentOfUnusedSuccessor && input.now - rotatedAt < input.graceMs) return { kind: 'grace', session };
  // With a binding, the parent of an unused successor presented with the session's key (checked
  // above) is a lost answer retried by the one device that holds the key, however late: the time
  // bound exists only to tell two holders of a token apart, and a copy without the key is no holder.
  if (isParentOfUnusedSuccessor && bound !== undefined) return { kind: 'grace', session };

  return {
    kind: 'theft',
    session: { ...session, revokedAt: input.now, revokedReason: 'theft' },
    // Told apart for operators only: both are theft, and both revoke the session.
    reason: isParentOfUnusedSuccessor ? 'parent-after-grace' : 'rotated-out-replay',
  };
}

/**
 * The refresh-token record a `rotated` outcome stores beside the session: the successor, now
 * current, of the session's new generation, issued at the rotation.
 */
export function successorTokenRecord(rotated: SessionRecord): RefreshTokenRecord {
  return {
    hash: rotated.currentRefreshHash,
    sessionId: rotated.id,
    generation: rotated.generation,
    createdAt: rotated.rotatedAt ?? rotated.lastActiveAt,
  };
}
