/**
 * Creating, reading, updating and ending sessions; revocation that takes effect at once without a
 * store lookup; freshness; events; the shape of the tokens minted.
 */
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { describe, expect, it, vi } from 'vitest';
import { InvalidClaimsError, NotFoundError, RESERVED_CLAIMS, type BusMessage, type LatchkeyEvents, type RevocationBus } from 'latchkey';
import { memoryStore } from 'latchkey/stores/memory';
import { ISSUER, countingStore, testEngine } from '../helpers/engine.js';

describe('createSession', () => {
  it('refuses a device.ip that is not an IP address, storing nothing; IPv4 and IPv6 pass', async () => {
    const { lk } = await testEngine();
    for (const ip of ['not an ip', '203.0.113.9, 10.0.0.1', '999.1.1.1', '', 'localhost', '1.2.3.4 ']) {
      await expect(lk.createSession({ userId: 'ip-user', device: { ip } }), ip).rejects.toThrow(new TypeError('device.ip must be an IPv4 or IPv6 address'));
    }
    expect(await lk.listSessions('ip-user')).toEqual([]);
    const issued = await lk.createSession({ userId: 'ip-user', device: { ip: '2001:db8::1' } });
    await expect(lk.refresh(issued.refreshToken, { device: { ip: 'x' } })).rejects.toThrow(TypeError);
    for (const ip of ['192.0.2.1', '::ffff:192.0.2.1', '2001:db8::1']) {
      expect((await lk.createSession({ userId: 'ip-user', device: { ip } })).session.device.ip).toBe(ip);
    }
  });

  it('mints an RFC 9068 access token, a distinct ID token and a session record', async () => {
    const { lk, clock } = await testEngine({ clientId: 'web-app' });
    const issued = await lk.createSession({
      userId: 'u-42',
      accessClaims: { role: 'admin', tenant: 't1' },
      idClaims: { name: 'Ada', email: 'ada@example.com' },
      data: { cart: [1, 2] },
      device: { userAgent: 'Firefox', ip: '192.0.2.1' },
    });
    const now = Math.floor(clock.now() / 1000);

    const header = decodeProtectedHeader(issued.accessToken);
    expect(header).toMatchObject({ alg: 'EdDSA', typ: 'at+jwt' });
    expect(typeof header.kid).toBe('string');
    const access = decodeJwt(issued.accessToken);
    expect(access).toMatchObject({
      iss: ISSUER, aud: 'latchkey', sub: 'u-42', sid: issued.session.id, iat: now, exp: now + 900, auth_time: now,
      client_id: 'web-app', role: 'admin', tenant: 't1',
    });
    expect(access.jti).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(access).not.toHaveProperty('name');
    expect(access).not.toHaveProperty('cart');

    expect(decodeProtectedHeader(issued.idToken)).toMatchObject({ typ: 'JWT', kid: header.kid });
    const id = decodeJwt(issued.idToken);
    expect(id).toMatchObject({ iss: ISSUER, aud: 'latchkey:front', sub: 'u-42', sid: issued.session.id, name: 'Ada', exp: now + 900 });
    expect(id).not.toHaveProperty('role');
    expect(id).not.toHaveProperty('cart');

    expect(issued.accessTokenExpiresAt.getTime()).toBe((now + 900) * 1000);
    expect(issued.session).toMatchObject({ userId: 'u-42', device: { userAgent: 'Firefox', ip: '192.0.2.1' }, data: { cart: [1, 2] }, revokedAt: null });
    expect(issued.session.idleExpiresAt.getTime() - clock.now()).toBe(14 * 86400_000);
    expect(issued.session.absoluteExpiresAt.getTime() - clock.now()).toBe(90 * 86400_000);
    expect(issued.session).not.toHaveProperty('currentRefreshHash');
  });

  it('gives every token a unique jti and every session a new id', async () => {
    const { lk } = await testEngine();
    const a = await lk.createSession({ userId: 'u' });
    const b = await lk.createSession({ userId: 'u' });
    const c = await lk.refresh(a.refreshToken);
    expect(new Set([a, b, c].map((t) => decodeJwt(t.accessToken).jti)).size).toBe(3);
    expect(a.session.id).not.toBe(b.session.id);
  });

  it('refuses reserved claim names in app claims with a typed error, and writes nothing', async () => {
    const counted = countingStore(memoryStore());
    const { lk } = await testEngine({ store: counted.store });
    const before = counted.total();
    for (const name of RESERVED_CLAIMS) {
      for (const field of ['accessClaims', 'idClaims'] as const) {
        const err = await lk.createSession({ userId: 'u', [field]: { [name]: 'x' } }).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(InvalidClaimsError);
        expect(err).toMatchObject({ code: 'INVALID_CLAIMS', claim: name });
      }
    }
    for (const bad of [[1], 'x', { f: () => 1 }, { n: Number.NaN }, { d: new Date() }, { big: 'x'.repeat(5000) }, { nul: 'a\u0000b' }, { 'a\u0000': 1 }, { lone: '\ud800' }, { low: 'x\udc00' }]) {
      await expect(lk.createSession({ userId: 'u', accessClaims: bad as never })).rejects.toBeInstanceOf(InvalidClaimsError);
    }
    expect(counted.total()).toBe(before);
  });

  it('refuses a bad user id as programmer misuse', async () => {
    const { lk } = await testEngine();
    for (const userId of ['', 'x'.repeat(256), 42, null, 'a\u0000b', '\ud800']) {
      await expect(lk.createSession({ userId: userId as string })).rejects.toBeInstanceOf(TypeError);
    }
  });

  it('does not let the caller alias stored state', async () => {
    const { lk } = await testEngine();
    const data = { n: 1 };
    const { session } = await lk.createSession({ userId: 'u', data });
    data.n = 2;
    expect((await lk.getSession(session.id))?.data).toEqual({ n: 1 });
  });
});

describe('revocation', () => {
  it('a revoked session is refused at once, without a store lookup', async () => {
    const counted = countingStore(memoryStore());
    const { lk } = await testEngine({ store: counted.store });
    const { accessToken, session } = await lk.createSession({ userId: 'u' });
    await lk.verifyAccessToken(accessToken);
    expect(await lk.revokeSession(session.id)).toBe(true);
    const before = counted.total();
    await expect(lk.verifyAccessToken(accessToken)).rejects.toMatchObject({ code: 'UNAUTHORISED', reason: 'revoked' });
    expect(counted.total()).toBe(before);
    expect(await lk.revokeSession(session.id)).toBe(false);
    expect(await lk.revokeSession('no-such-session')).toBe(false);
  });

  it('verification never reads the store on the hot path', async () => {
    const counted = countingStore(memoryStore());
    const { lk } = await testEngine({ store: counted.store, verifyCacheSize: 0 });
    const { accessToken } = await lk.createSession({ userId: 'u' });
    const before = counted.total();
    for (let i = 0; i < 5; i++) await lk.verifyAccessToken(accessToken);
    expect(counted.total()).toBe(before);
    await lk.verifyAccessToken(accessToken, { checkStore: true });
    expect(counted.calls.get('getSession')).toBe(1);
  });

  it('checkStore catches a revocation this instance has not heard of', async () => {
    const store = memoryStore();
    const { lk: a, clock } = await testEngine({ store });
    const { lk: b } = await testEngine({ store, clock });
    const { accessToken, session } = await a.createSession({ userId: 'u' });
    await b.revokeSession(session.id);
    await expect(a.verifyAccessToken(accessToken)).resolves.toBeTruthy(); // no bus, no poll yet
    await expect(a.verifyAccessToken(accessToken, { checkStore: true })).rejects.toMatchObject({ reason: 'revoked' });
    await a.syncRevocations(); // what the poll timer does
    await expect(a.verifyAccessToken(accessToken)).rejects.toMatchObject({ reason: 'revoked' });
  });

  it('a revocation stays effective from a cached verification', async () => {
    const { lk } = await testEngine();
    const { accessToken, session } = await lk.createSession({ userId: 'u' });
    await lk.verifyAccessToken(accessToken); // now cached
    await lk.revokeSession(session.id);
    await expect(lk.verifyAccessToken(accessToken)).rejects.toMatchObject({ reason: 'revoked' });
  });

  it('the cache never outlives expiry', async () => {
    const { lk, clock } = await testEngine({ accessTokenTtl: 60, clockTolerance: 0 });
    const { accessToken } = await lk.createSession({ userId: 'u' });
    await lk.verifyAccessToken(accessToken);
    clock.advance(61);
    await expect(lk.verifyAccessToken(accessToken)).rejects.toMatchObject({ code: 'TRY_REFRESH_TOKEN' });
  });

  it('revokes all of a user\'s sessions, optionally except one ("sign out everywhere else")', async () => {
    const { lk } = await testEngine();
    const keep = await lk.createSession({ userId: 'bob' });
    const others = await Promise.all([lk.createSession({ userId: 'bob' }), lk.createSession({ userId: 'bob' })]);
    const carol = await lk.createSession({ userId: 'carol' });
    expect(await lk.revokeUserSessions('bob', { exceptSessionId: keep.session.id })).toBe(2);
    expect((await lk.listSessions('bob')).map((s) => s.id)).toEqual([keep.session.id]);
    for (const o of others) await expect(lk.verifyAccessToken(o.accessToken)).rejects.toMatchObject({ reason: 'revoked' });
    await expect(lk.verifyAccessToken(keep.accessToken)).resolves.toBeTruthy();
    await expect(lk.verifyAccessToken(carol.accessToken)).resolves.toBeTruthy();
    expect(await lk.revokeUserSessions('bob')).toBe(1);
    expect(await lk.listSessions('bob')).toEqual([]);
    expect((await lk.getSession(keep.session.id))?.revokedReason).toBe('revoke-all');
  });
});

describe('reading and updating', () => {
  it('lists active sessions newest first and reads one', async () => {
    const { lk, clock } = await testEngine({ idleTimeout: 100 });
    const old = await lk.createSession({ userId: 'u', device: { userAgent: 'old' } });
    clock.advance(60);
    const fresh = await lk.createSession({ userId: 'u', device: { userAgent: 'new' } });
    expect((await lk.listSessions('u')).map((s) => s.device.userAgent)).toEqual(['new', 'old']);
    clock.advance(50); // the old one is now idle-expired
    expect((await lk.listSessions('u')).map((s) => s.id)).toEqual([fresh.session.id]);
    expect((await lk.getSession(old.session.id))?.id).toBe(old.session.id);
    expect(await lk.getSession('missing')).toBeNull();
  });

  it('new access claims appear in tokens minted from then on, and at once through reissueTokens', async () => {
    const { lk } = await testEngine();
    const issued = await lk.createSession({ userId: 'u', accessClaims: { role: 'reader' } });
    const updated = await lk.updateSession(issued.session.id, { accessClaims: { role: 'editor' }, data: { theme: 'dark' } });
    expect(updated.accessClaims).toEqual({ role: 'editor' });
    expect(updated.data).toEqual({ theme: 'dark' });
    expect((await lk.verifyAccessToken(issued.accessToken)).claims.role).toBe('reader');
    const now = await lk.reissueTokens(issued.session.id);
    expect((await lk.verifyAccessToken(now.accessToken)).claims.role).toBe('editor');
    const refreshed = await lk.refresh(issued.refreshToken);
    expect((await lk.verifyAccessToken(refreshed.accessToken)).claims.role).toBe('editor');
    await expect(lk.updateSession('missing', { data: {} })).rejects.toBeInstanceOf(NotFoundError);
    await expect(lk.updateSession(issued.session.id, { accessClaims: { sub: 'admin' } })).rejects.toBeInstanceOf(InvalidClaimsError);
    await lk.revokeSession(issued.session.id);
    await expect(lk.reissueTokens(issued.session.id)).rejects.toMatchObject({ code: 'UNAUTHORISED' });
  });
});

describe('merge updates', () => {
  it('merges claims and data (null deletes), and tokens minted after carry the merged claims', async () => {
    const { lk } = await testEngine();
    const issued = await lk.createSession({ userId: 'u', accessClaims: { role: 'reader', team: 't1' }, idClaims: { name: 'Ada' }, data: { cart: [1] } });
    const updated = await lk.updateSession(issued.session.id, { mergeAccessClaims: { role: 'editor', team: null }, mergeIdClaims: { email: 'ada@example.com' }, mergeData: { theme: 'dark' } });
    expect(updated.accessClaims).toEqual({ role: 'editor' });
    expect(updated.idClaims).toEqual({ name: 'Ada', email: 'ada@example.com' });
    expect(updated.data).toEqual({ cart: [1], theme: 'dark' });
    const { accessToken } = await lk.reissueTokens(issued.session.id);
    const { claims } = await lk.verifyAccessToken(accessToken);
    expect(claims.role).toBe('editor');
    expect(claims).not.toHaveProperty('team');
  });

  it('refuses what the replacing form refuses, both forms for one part, and oversized results, writing nothing', async () => {
    const { lk } = await testEngine();
    const issued = await lk.createSession({ userId: 'u', accessClaims: { blob: 'x'.repeat(1500) } });
    const before = await lk.getSession(issued.session.id);
    const bad: [unknown, string][] = [
      [{ mergeAccessClaims: { sub: 'admin' } }, 'sub'],
      [{ mergeIdClaims: { exp: null } }, 'exp'],
      [{ mergeAccessClaims: { name: 'a\u0000b' } }, 'mergeAccessClaims.name'],
      [{ mergeData: { ['\ud800']: 1 } }, 'mergeData'],
      [{ mergeData: { n: Number.NaN } }, 'mergeData.n'],
      [{ mergeData: [1] }, 'mergeData'],
      [{ accessClaims: {}, mergeAccessClaims: { a: 1 } }, 'mergeAccessClaims'],
    ];
    for (const [update, claim] of bad) {
      await expect(lk.updateSession(issued.session.id, update as never), JSON.stringify(update)).rejects.toMatchObject({ code: 'INVALID_CLAIMS', claim });
    }
    // Fine by itself, too large once merged into what is stored: refused inside the store's step.
    await expect(lk.updateSession(issued.session.id, { mergeAccessClaims: { more: 'y'.repeat(1000) } })).rejects.toMatchObject({ code: 'INVALID_CLAIMS', claim: 'accessClaims' });
    expect(await lk.getSession(issued.session.id)).toEqual(before);
  });

  it('an expired session cannot be updated (idle or absolute), not only a revoked one', async () => {
    const { lk, clock } = await testEngine({ idleTimeout: 3600 });
    const issued = await lk.createSession({ userId: 'u', data: { a: 1 } });
    clock.advance(3601);
    await expect(lk.updateSession(issued.session.id, { mergeData: { b: 2 } })).rejects.toBeInstanceOf(NotFoundError);
    await expect(lk.updateSession(issued.session.id, { data: { b: 2 } })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect((await lk.getSession(issued.session.id))?.data).toEqual({ a: 1 });
  });
});

describe('freshness', () => {
  it('maxAuthAge refuses a session authenticated too long ago, with its own code', async () => {
    const { lk, clock } = await testEngine();
    const { accessToken, refreshToken } = await lk.createSession({ userId: 'u' });
    await expect(lk.verifyAccessToken(accessToken, { maxAuthAge: 300 })).resolves.toBeTruthy();
    clock.advance(600);
    // Refreshing does not renew auth_time: only a new authentication does.
    const { accessToken: later } = await lk.refresh(refreshToken);
    await expect(lk.verifyAccessToken(later, { maxAuthAge: 300 })).rejects.toMatchObject({ code: 'INSUFFICIENT_FRESHNESS' });
    // A NaN (an unset environment variable through Number()) must not switch the check off.
    for (const bad of [Number.NaN, -1, Number.POSITIVE_INFINITY]) {
      await expect(lk.verifyAccessToken(later, { maxAuthAge: bad })).rejects.toBeInstanceOf(TypeError);
    }
  });
});

describe('events', () => {
  it('emits typed events for create, refresh, revoke, theft and key rotation', async () => {
    const { lk } = await testEngine();
    const seen: Array<keyof LatchkeyEvents> = [];
    for (const name of ['session.created', 'session.refreshed', 'session.revoked', 'session.theft_detected', 'keys.rotated'] as const) {
      lk.on(name, () => seen.push(name));
    }
    const a = await lk.createSession({ userId: 'u' });
    const r = await lk.refresh(a.refreshToken);
    await lk.refresh(r.refreshToken);
    await lk.refresh(a.refreshToken).catch(() => {});
    await lk.rotateKeys();
    expect(seen).toEqual(['session.created', 'session.refreshed', 'session.refreshed', 'session.revoked', 'session.theft_detected', 'keys.rotated']);
  });

  it('a throwing listener never fails the operation', async () => {
    const { lk } = await testEngine();
    const errors: unknown[] = [];
    lk.on('error', (e) => errors.push(e.during));
    lk.on('session.created', () => {
      throw new Error('listener bug');
    });
    await expect(lk.createSession({ userId: 'u' })).resolves.toBeTruthy();
    expect(errors).toEqual(['listener for session.created']);
  });
});

describe('cleanup', () => {
  it('runs on its own timer, with no cron job', async () => {
    const { lk, clock, store } = await testEngine({ timers: true, cleanupInterval: 1, revocationPollInterval: 0, keyCheckInterval: 3600, idleTimeout: 100 });
    const { session } = await lk.createSession({ userId: 'u' });
    clock.advance(100 + 930 + 1);
    await vi.waitFor(async () => expect(await store.getSession(session.id)).toBeNull(), { timeout: 5_000, interval: 100 });
    await lk.close();
  });

  it('deletes sessions once every token they issued has expired, and keeps recent revocations loadable', async () => {
    const { lk, clock } = await testEngine({ idleTimeout: 100 });
    const expiring = await lk.createSession({ userId: 'u' });
    const revoked = await lk.createSession({ userId: 'u' });
    await lk.revokeSession(revoked.session.id);
    clock.advance(101);
    const live = await lk.createSession({ userId: 'u' });
    expect(await lk.cleanup()).toEqual({ sessions: 0, refreshTokens: 0 }); // both still inside TTL + tolerance
    clock.advance(900 + 30);
    expect(await lk.cleanup()).toEqual({ sessions: 2, refreshTokens: 2 });
    expect(await lk.getSession(expiring.session.id)).toBeNull();
    expect(await lk.getSession(live.session.id)).not.toBeNull();
  });
});

describe('revocation announcements', () => {
  it('a retried revocation announces it again, in case the first call died between commit and publish', async () => {
    const published: BusMessage[] = [];
    const bus: RevocationBus = {
      publish: async (message) => void (message.type === 'revoked' && published.push(message)),
      subscribe: async () => {},
      close: async () => {},
    };
    const store = memoryStore();
    const { lk, clock } = await testEngine({ store, bus });
    const { session, accessToken } = await lk.createSession({ userId: 'u' });
    // The first revocation committed, but its process died before publishing: simulate with the store.
    await store.revokeSession(session.id, clock.now(), 'signout');
    expect(await lk.revokeSession(session.id)).toBe(false);
    expect(published).toEqual([{ type: 'revoked', revocations: [{ sessionId: session.id, revokedAt: clock.now(), reason: 'signout' }] }]);
    await expect(lk.verifyAccessToken(accessToken)).rejects.toMatchObject({ reason: 'revoked' });
    // Long after every token of it expired, there is nothing left to announce.
    clock.advance(931);
    expect(await lk.revokeSession(session.id)).toBe(false);
    expect(published).toHaveLength(1);
  });
});
