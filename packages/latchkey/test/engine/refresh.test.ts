/**
 * Refresh with rotation: benign races never log a user out; any replay of a rotated-out token
 * outside the grace rules is theft and kills the whole session at once (RFC 9700 §4.14.2).
 */
import { describe, expect, it } from 'vitest';
import { REFRESH_TOKEN_PREFIX, TokenTheftError, UnauthorisedError, type LatchkeyEvents } from 'latchkey';
import { memoryStore } from 'latchkey/stores/memory';
import { sqliteStore } from 'latchkey/stores/sqlite';
import { countingStore, testEngine } from '../helpers/engine.js';

const stores = {
  memory: () => memoryStore(),
  sqlite: () => sqliteStore({ path: ':memory:' }),
};

describe.each(Object.entries(stores))('refresh on the %s store', (_name, makeStore) => {
  async function setup(options = {}) {
    const { lk, clock, store } = await testEngine({ store: makeStore(), ...options });
    const events: Array<[keyof LatchkeyEvents, unknown]> = [];
    for (const name of ['session.refreshed', 'session.revoked', 'session.theft_detected'] as const) {
      lk.on(name, (e) => events.push([name, e]));
    }
    const issued = await lk.createSession({ userId: 'alice', device: { userAgent: 'test', ip: '127.0.0.1' } });
    return { lk, clock, store, events, issued };
  }

  it('issues an opaque, prefixed, 256-bit refresh token and rotates it on every use', async () => {
    const { lk, issued } = await setup();
    expect(issued.refreshToken).toMatch(/^lkrt_[A-Za-z0-9_-]{43}$/);
    expect(issued.refreshToken.startsWith(REFRESH_TOKEN_PREFIX)).toBe(true);
    const r1 = await lk.refresh(issued.refreshToken);
    expect(r1.refreshToken).not.toBe(issued.refreshToken);
    expect(r1.accessToken).not.toBe(issued.accessToken);
    expect((await lk.verifyAccessToken(r1.accessToken)).sessionId).toBe(issued.session.id);
    const r2 = await lk.refresh(r1.refreshToken);
    expect(new Set([issued.refreshToken, r1.refreshToken, r2.refreshToken]).size).toBe(3);
  });

  it('20 concurrent refreshes with one token: all succeed with the same successor, no theft', async () => {
    const { lk, events, issued } = await setup();
    const results = await Promise.all(Array.from({ length: 20 }, () => lk.refresh(issued.refreshToken)));
    expect(new Set(results.map((r) => r.refreshToken)).size).toBe(1);
    for (const r of results) await expect(lk.verifyAccessToken(r.accessToken)).resolves.toBeTruthy();
    expect(events.filter(([n]) => n === 'session.theft_detected')).toHaveLength(0);
    // The common successor keeps working.
    await expect(lk.refresh(results[0]!.refreshToken)).resolves.toBeTruthy();
  });

  it('a lost response retried inside the grace window gets a working pair', async () => {
    const { lk, clock, events, issued } = await setup();
    const lost = await lk.refresh(issued.refreshToken);
    clock.advance(8);
    const retried = await lk.refresh(issued.refreshToken);
    expect(retried.refreshToken).toBe(lost.refreshToken);
    await expect(lk.refresh(retried.refreshToken)).resolves.toBeTruthy();
    expect(events.some(([n, e]) => n === 'session.refreshed' && (e as { grace: boolean }).grace)).toBe(true);
    expect(events.filter(([n]) => n === 'session.theft_detected')).toHaveLength(0);
  });

  it('a replay after the successor was used is theft: session revoked, event emitted, tokens dead', async () => {
    const { lk, events, issued } = await setup();
    const r1 = await lk.refresh(issued.refreshToken);
    const r2 = await lk.refresh(r1.refreshToken);
    const err = await lk.refresh(issued.refreshToken).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TokenTheftError);
    expect(err).toMatchObject({ code: 'TOKEN_THEFT_DETECTED', sessionId: issued.session.id, userId: 'alice' });
    expect(events.find(([n]) => n === 'session.theft_detected')?.[1]).toMatchObject({ sessionId: issued.session.id, userId: 'alice' });
    expect(events.find(([n]) => n === 'session.revoked')?.[1]).toMatchObject({ reason: 'theft' });
    expect(err).toMatchObject({ reason: 'rotated-out-replay' });
    // The whole session is dead: the thief's and the user's tokens alike, and every later request
    // with any of them says why (D2), so the victim's other tabs learn it was theft.
    const later = { code: 'TOKEN_THEFT_DETECTED', reason: 'revoked-for-theft', sessionId: issued.session.id, userId: 'alice' };
    await expect(lk.verifyAccessToken(r2.accessToken)).rejects.toMatchObject(later);
    await expect(lk.verifyAccessToken(issued.accessToken, { checkStore: true })).rejects.toMatchObject(later);
    await expect(lk.refresh(r2.refreshToken)).rejects.toMatchObject(later);
    await expect(lk.refresh(issued.refreshToken)).rejects.toMatchObject(later);
    expect((await lk.getSession(issued.session.id))?.revokedReason).toBe('theft');
    // Reported once, at detection; the later refusals are not new detections.
    expect(events.filter(([n]) => n === 'session.theft_detected')).toHaveLength(1);
  });

  it("a victim's device that wakes up hours later, after cleanup, is still told it was theft", async () => {
    const { lk, clock, issued } = await setup();
    const r1 = await lk.refresh(issued.refreshToken); // the thief
    clock.advance(3600);
    await expect(lk.refresh(issued.refreshToken)).rejects.toMatchObject({ reason: 'parent-after-grace' }); // the victim's tab
    clock.advance(6 * 3600); // the victim's laptop sleeps; cleanup runs meanwhile
    await lk.cleanup();
    await expect(lk.refresh(r1.refreshToken)).rejects.toMatchObject({ code: 'TOKEN_THEFT_DETECTED', reason: 'revoked-for-theft' });
  });

  it('an instance that only polls the store learns the theft reason too', async () => {
    const { lk, clock, store, issued } = await setup();
    const other = await testEngine({ store, clock });
    const r1 = await lk.refresh(issued.refreshToken);
    await lk.refresh(r1.refreshToken);
    await expect(lk.refresh(issued.refreshToken)).rejects.toBeInstanceOf(TokenTheftError);
    await other.lk.syncRevocations();
    await expect(other.lk.verifyAccessToken(r1.accessToken)).rejects.toMatchObject({ code: 'TOKEN_THEFT_DETECTED', reason: 'revoked-for-theft' });
  });

  it('the grace covers only the immediate parent: a grandparent inside the window is theft', async () => {
    const { lk, issued } = await setup();
    const r1 = await lk.refresh(issued.refreshToken);
    await lk.refresh(r1.refreshToken);
    // Well inside 10 s, but two generations old.
    await expect(lk.refresh(issued.refreshToken)).rejects.toBeInstanceOf(TokenTheftError);
  });

  it('the parent presented after the grace window is theft, reported as parent-after-grace with how late', async () => {
    const { lk, clock, events, issued } = await setup();
    await lk.refresh(issued.refreshToken);
    clock.advance(31);
    const err = await lk.refresh(issued.refreshToken).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TokenTheftError);
    expect(err).toMatchObject({ reason: 'parent-after-grace' });
    expect(events.find(([n]) => n === 'session.theft_detected')?.[1]).toMatchObject({ reason: 'parent-after-grace', msSinceRotation: 31_000 });
  });

  it('the default grace is 30 s: a lost answer retried 25 s later still gets the same successor', async () => {
    // The SDK gives a refresh 10 s, retries a timed-out one at once, once: all well inside 30 s.
    const { lk, clock, events, issued } = await setup();
    expect(lk.refreshGraceSeconds).toBe(30);
    const lost = await lk.refresh(issued.refreshToken);
    clock.advance(25);
    expect((await lk.refresh(issued.refreshToken)).refreshToken).toBe(lost.refreshToken);
    clock.advance(4.9);
    expect((await lk.refresh(issued.refreshToken)).refreshToken).toBe(lost.refreshToken);
    expect(events.filter(([n]) => n === 'session.theft_detected')).toHaveLength(0);
  });

  it('a parent whose successor was already used is a rotated-out replay, even just past the window', async () => {
    const { lk, clock, events, issued } = await setup();
    const r1 = await lk.refresh(issued.refreshToken);
    clock.advance(5);
    await lk.refresh(r1.refreshToken);
    clock.advance(1);
    await expect(lk.refresh(issued.refreshToken)).rejects.toMatchObject({ code: 'TOKEN_THEFT_DETECTED', reason: 'rotated-out-replay' });
    expect(events.find(([n]) => n === 'session.theft_detected')?.[1]).toMatchObject({ reason: 'rotated-out-replay', msSinceRotation: 1000 });
  });

  it('refreshGrace: 0 makes every replay theft', async () => {
    const { lk, issued } = await setup({ refreshGrace: 0 });
    await lk.refresh(issued.refreshToken);
    await expect(lk.refresh(issued.refreshToken)).rejects.toBeInstanceOf(TokenTheftError);
  });

  it('idle expiry slides on refresh; absolute expiry does not', async () => {
    const { lk, clock, issued } = await setup({ idleTimeout: 100, absoluteTimeout: 250 });
    clock.advance(90);
    const r1 = await lk.refresh(issued.refreshToken);
    clock.advance(90);
    const r2 = await lk.refresh(r1.refreshToken);
    expect(r2.session.expiresAt.getTime()).toBe(issued.session.createdAt.getTime() + 250_000);
    clock.advance(80); // 260 s after creation: past the absolute expiry, inside the idle one.
    await expect(lk.refresh(r2.refreshToken)).rejects.toMatchObject({ code: 'UNAUTHORISED', reason: 'session_expired' });
  });

  it('an idle-expired session fails with UNAUTHORISED', async () => {
    const { lk, clock, issued } = await setup({ idleTimeout: 100 });
    clock.advance(101);
    await expect(lk.refresh(issued.refreshToken)).rejects.toMatchObject({ code: 'UNAUTHORISED', reason: 'session_expired' });
  });

  it('a revoked session fails with UNAUTHORISED and is not reported as theft', async () => {
    const { lk, events, issued } = await setup();
    await lk.revokeSession(issued.session.id);
    await expect(lk.refresh(issued.refreshToken)).rejects.toMatchObject({ code: 'UNAUTHORISED', reason: 'revoked' });
    expect(events.filter(([n]) => n === 'session.theft_detected')).toHaveLength(0);
  });

  it('an unknown token of the right shape fails with UNAUTHORISED and writes nothing', async () => {
    const { lk } = await setup();
    await expect(lk.refresh(`lkrt_${'A'.repeat(43)}`)).rejects.toMatchObject({ code: 'UNAUTHORISED', reason: 'unknown_token' });
  });

  it('updates device info on rotation when given', async () => {
    const { lk, issued } = await setup();
    const r = await lk.refresh(issued.refreshToken, { device: { userAgent: 'new-agent', ip: '10.0.0.2' } });
    expect(r.session.device).toEqual({ userAgent: 'new-agent', ip: '10.0.0.2' });
  });
});

describe('refresh tokens of the wrong shape', () => {
  it('are refused with a typed error before the store is touched', async () => {
    const counted = countingStore(memoryStore());
    const { lk } = await testEngine({ store: counted.store });
    const before = counted.total();
    const bad: unknown[] = [
      undefined, null, 42, {}, [], '', 'lkrt_', 'lkrt_short', `lkrt_${'A'.repeat(42)}`, `lkrt_${'A'.repeat(44)}`,
      `LKRT_${'A'.repeat(43)}`, `lkrt_${'A'.repeat(42)}=`, `lkrt_${'A'.repeat(42)}+`, `x${'A'.repeat(47)}`, 'a'.repeat(100_000),
      `lkrt_${'A'.repeat(43)}\n`, `lkrt_${'A'.repeat(43)}; DROP TABLE x`,
    ];
    for (const token of bad) {
      const err = await lk.refresh(token).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(UnauthorisedError);
      expect(err).toMatchObject({ code: 'UNAUTHORISED', reason: 'malformed' });
    }
    expect(counted.total()).toBe(before);
  });
});
