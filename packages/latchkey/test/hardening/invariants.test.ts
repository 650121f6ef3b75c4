/**
 * The load test's end-state checks (support/load.ts) must be able to fail: each is run here on a
 * consistent snapshot (no violation) and on one broken in exactly the way it guards against.
 */
import { describe, expect, it } from 'vitest';
import { hashRefreshToken } from 'latchkey/refresh/token';
import { checkStore, findSecrets, type ClientSession, type StoreSnapshot } from './support/load.js';

const t = (n: number) => `lkrt_${String(n).padStart(43, 'x')}`;

function consistent(): { snapshot: StoreSnapshot; sessions: ClientSession[] } {
  // Live session s1 rotated twice; s2 revoked by the test; s3 revoked as theft after a replay.
  const sessions: ClientSession[] = [
    { sessionId: 's1', userId: 'u1', accessToken: 'a1', received: [t(1), t(2), t(3)] },
    { sessionId: 's2', userId: 'u2', accessToken: 'a2', received: [t(4)], ended: { by: 'revoke', ackAt: 1 } },
    { sessionId: 's3', userId: 'u3', accessToken: 'a3', received: [t(5), t(6), t(7)], ended: { by: 'theft', ackAt: 1 } },
  ];
  const snapshot: StoreSnapshot = {
    sessions: [
      { id: 's1', user_id: 'u1', revoked_at: null, revoked_reason: null, current_refresh_hash: hashRefreshToken(t(3)), previous_refresh_hash: hashRefreshToken(t(2)), generation: 2 },
      { id: 's2', user_id: 'u2', revoked_at: 5, revoked_reason: 'signout', current_refresh_hash: hashRefreshToken(t(4)), previous_refresh_hash: null, generation: 0 },
      { id: 's3', user_id: 'u3', revoked_at: 5, revoked_reason: 'theft', current_refresh_hash: hashRefreshToken(t(7)), previous_refresh_hash: hashRefreshToken(t(6)), generation: 2 },
    ],
    tokens: [
      ...[1, 2, 3].map((n, g) => ({ hash: hashRefreshToken(t(n)), session_id: 's1', generation: g })),
      { hash: hashRefreshToken(t(4)), session_id: 's2', generation: 0 },
      ...[5, 6, 7].map((n, g) => ({ hash: hashRefreshToken(t(n)), session_id: 's3', generation: g })),
    ],
  };
  return { snapshot, sessions };
}

describe('the load test end-state checks', () => {
  it('pass on a consistent store', () => {
    const { snapshot, sessions } = consistent();
    expect(checkStore(snapshot, sessions)).toEqual([]);
  });

  const broken: Array<[string, (c: ReturnType<typeof consistent>) => void, RegExp]> = [
    ['two tokens of one generation (a fork: two current tokens)', (c) => c.snapshot.tokens.push({ hash: 'fork', session_id: 's1', generation: 2 }), /chain generations/],
    ['current hash not the newest token', (c) => void (c.snapshot.sessions[0]!.current_refresh_hash = hashRefreshToken(t(2))), /current hash is not/],
    ['previous hash not the parent', (c) => void (c.snapshot.sessions[0]!.previous_refresh_hash = hashRefreshToken(t(1))), /previous hash is not/],
    ['a received token missing (a lost commit)', (c) => c.snapshot.tokens.splice(1, 1), /not in its chain|chain generations/],
    ['a live session whose client holds an older token', (c) => c.sessions[0]!.received.pop(), /not the last one its client received/],
    ['a benign session revoked as theft', (c) => Object.assign(c.snapshot.sessions[0]!, { revoked_at: 9, revoked_reason: 'theft' }), /no stolen token was replayed/],
    ['an acknowledged revocation missing', (c) => Object.assign(c.snapshot.sessions[1]!, { revoked_at: null, revoked_reason: null }), /acknowledged revoke revocation is not in the store/],
    ['a replay not recorded as theft', (c) => void (c.snapshot.sessions[2]!.revoked_reason = 'signout'), /did not revoke it as theft/],
    ['an acknowledged session missing', (c) => c.snapshot.sessions.splice(1, 1), /missing from the store/],
  ];
  for (const [name, breakIt, message] of broken) {
    it(`fail on ${name}`, () => {
      const c = consistent();
      breakIt(c);
      const violations = checkStore(c.snapshot, c.sessions);
      expect(violations.some((v) => message.test(v)), violations.join('\n')).toBe(true);
    });
  }

  it('the secrets scan finds tokens by shape and by value, and secrets by value', () => {
    const { sessions } = consistent();
    expect(findSecrets('{"msg":"request","status":200}', sessions, ['master-secret-value'])).toEqual([]);
    expect(findSecrets(`token ${t(3)}`, sessions, [])).not.toEqual([]);
    expect(findSecrets('eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ1MSJ9.c2ln', sessions, [])).not.toEqual([]);
    expect(findSecrets('key lksk_abcdefghijkl', sessions, [])).not.toEqual([]);
    expect(findSecrets('oops master-secret-value', sessions, ['master-secret-value'])).not.toEqual([]);
    const odd: ClientSession[] = [{ sessionId: 's', userId: 'u', accessToken: 'A'.repeat(48), received: [] }];
    expect(findSecrets(`x ${'A'.repeat(48)} y`, odd, [])).toEqual(['a token handed to a client']);
  });
});
