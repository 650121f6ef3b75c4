/**
 * Session claims in the engine: the built-in claims' validators, fetching at creation, refetching
 * stale values on refresh, setClaimValue and removeClaim for one session and for all of a user's
 * sessions, and the claims epoch that makes older tokens refresh (on this instance and, through the
 * bus, on another).
 */
import { decodeJwt } from 'jose';
import { describe, expect, it } from 'vitest';
import {
  defineClaim,
  EmailVerifiedClaim,
  InvalidClaimsError,
  MfaClaim,
  PermissionsClaim,
  RolesClaim,
  validateClaimEntries,
  type BusHandlers,
  type BusMessage,
  type RevocationBus,
  type SessionStore,
} from 'latchkey';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { memoryStore } from 'latchkey/stores/memory';
import { sqliteStore } from 'latchkey/stores/sqlite';
import { FakeClock, testEngine } from '../helpers/engine.js';

const NOW = Date.UTC(2026, 0, 1);
const at = (value: unknown, t = NOW): Record<string, unknown> => ({ v: value, t });

describe('built-in claims and their validators', () => {
  it('RolesClaim and PermissionsClaim: includes, excludes, includesAll, includesAny', () => {
    const held = { [RolesClaim.key]: at(['admin', 'billing']), [PermissionsClaim.key]: at(['invoices:read']) };
    expect(validateClaimEntries(held, [RolesClaim.includes('admin'), RolesClaim.includesAll(['admin', 'billing'])], NOW)).toEqual([]);
    expect(validateClaimEntries(held, [RolesClaim.includes('owner')], NOW)).toEqual([
      { id: 'lk-roles.includes:owner', reason: 'does not include owner' },
    ]);
    expect(validateClaimEntries(held, [RolesClaim.excludes('admin')], NOW)).toEqual([
      { id: 'lk-roles.excludes:admin', reason: 'includes admin' },
    ]);
    expect(validateClaimEntries(held, [RolesClaim.includesAny(['owner', 'billing'])], NOW)).toEqual([]);
    expect(validateClaimEntries(held, [RolesClaim.includesAll(['admin', 'owner'])], NOW)[0]?.reason).toBe('does not include owner');
    expect(validateClaimEntries(held, [PermissionsClaim.includes('invoices:read')], NOW)).toEqual([]);
    expect(validateClaimEntries(held, [PermissionsClaim.includes('invoices:write')], NOW)).toHaveLength(1);
    // A value of the wrong shape never passes.
    expect(validateClaimEntries({ [RolesClaim.key]: at('admin') }, [RolesClaim.includes('admin')], NOW)).toHaveLength(1);
  });

  it('EmailVerifiedClaim: isTrue and isFalse; missing and stale values fail with their reason', () => {
    expect(validateClaimEntries({ 'lk-ev': at(true) }, [EmailVerifiedClaim.isTrue()], NOW)).toEqual([]);
    expect(validateClaimEntries({ 'lk-ev': at(false) }, [EmailVerifiedClaim.isTrue()], NOW)).toEqual([
      { id: 'lk-ev.isTrue', reason: 'is not true' },
    ]);
    expect(validateClaimEntries({ 'lk-ev': at(false) }, [EmailVerifiedClaim.isFalse()], NOW)).toEqual([]);
    expect(validateClaimEntries({}, [EmailVerifiedClaim.isTrue()], NOW)).toEqual([{ id: 'lk-ev.isTrue', reason: 'missing' }]);
    expect(validateClaimEntries({ 'lk-ev': at(true, NOW - 61_000) }, [EmailVerifiedClaim.isTrue(60)], NOW)).toEqual([
      { id: 'lk-ev.isTrue', reason: 'stale' },
    ]);
    expect(validateClaimEntries({ 'lk-ev': at(true, NOW - 59_000) }, [EmailVerifiedClaim.isTrue(60)], NOW)).toEqual([]);
  });

  it('MfaClaim: completed and completedWithin, refusing completions from the future', () => {
    const held = { 'lk-mfa': at({ totp: NOW - 300_000 }) };
    expect(validateClaimEntries(held, [MfaClaim.completed('totp'), MfaClaim.completedWithin('totp', 600)], NOW)).toEqual([]);
    expect(validateClaimEntries(held, [MfaClaim.completedWithin('totp', 60)], NOW)).toEqual([
      { id: 'lk-mfa.completedWithin:totp:60', reason: 'totp not completed within 60 s' },
    ]);
    expect(validateClaimEntries(held, [MfaClaim.completed('webauthn')], NOW)[0]?.reason).toBe('webauthn not completed');
    expect(validateClaimEntries({ 'lk-mfa': at({ totp: NOW + 3_600_000 }) }, [MfaClaim.completedWithin('totp', 600)], NOW)).toHaveLength(1);
    expect(() => MfaClaim.completedWithin('totp', 0)).toThrow(TypeError);
  });

  it('defineClaim checks its definition', () => {
    expect(() => defineClaim({ key: 'has space' })).toThrow(TypeError);
    expect(() => defineClaim({ key: 'plan', maxAgeSeconds: -1 })).toThrow(TypeError);
    expect(defineClaim({ key: 'plan' }).where).toBe('token');
    expect(RolesClaim.with({ maxAgeSeconds: 5 }).includes('admin').id).toBe('lk-roles.includes:admin');
  });
});

describe('claims in sessions', () => {
  it('fetches registered claims at creation into both tokens (the SDK reads the ID token), and session claims into data only', async () => {
    const Plan = defineClaim<string>({ key: 'plan', where: 'session', fetch: () => 'pro' });
    const { lk, clock } = await testEngine({ claims: [RolesClaim.with({ fetch: (userId) => (userId === 'ada' ? ['admin'] : []) }), Plan] });
    const issued = await lk.createSession({ userId: 'ada' });
    expect(decodeJwt(issued.accessToken)['lk-roles']).toEqual({ v: ['admin'], t: clock.now() });
    expect(decodeJwt(issued.idToken)['lk-roles']).toEqual({ v: ['admin'], t: clock.now() });
    expect(decodeJwt(issued.accessToken).plan).toBeUndefined();
    expect(issued.session.data).toEqual({ plan: { v: 'pro', t: clock.now() } });
    // A value the app passes itself is kept, not fetched over.
    const own = await lk.createSession({ userId: 'ada', accessClaims: { 'lk-roles': { v: ['viewer'], t: 1 } } });
    expect(decodeJwt(own.accessToken)['lk-roles']).toEqual({ v: ['viewer'], t: 1 });
  });

  it('refetches a stale claim on refresh, and not a fresh one', async () => {
    let roles = ['admin'];
    let fetches = 0;
    const { lk, clock } = await testEngine({
      claims: [
        RolesClaim.with({
          maxAgeSeconds: 60,
          fetch: () => {
            fetches++;
            return roles;
          },
        }),
      ],
    });
    const issued = await lk.createSession({ userId: 'u1' });
    expect(fetches).toBe(1);
    roles = [];
    clock.advance(30);
    const fresh = await lk.refresh(issued.refreshToken);
    expect(fetches).toBe(1);
    expect(decodeJwt(fresh.accessToken)['lk-roles']).toMatchObject({ v: ['admin'] });
    clock.advance(31);
    const refetched = await lk.refresh(fresh.refreshToken);
    expect(fetches).toBe(2);
    expect(decodeJwt(refetched.accessToken)['lk-roles']).toEqual({ v: [], t: clock.now() });
    expect(refetched.session.accessClaims['lk-roles']).toEqual({ v: [], t: clock.now() });
  });

  it('setClaimValue on one session: the older token is answered TRY_REFRESH_TOKEN, the refreshed one carries the value', async () => {
    const { lk, clock } = await testEngine();
    const a = await lk.createSession({ userId: 'u1' });
    const b = await lk.createSession({ userId: 'u1' });
    clock.ms += 5;
    expect(await lk.setClaimValue({ sessionId: a.session.id }, EmailVerifiedClaim, true)).toBe(1);
    await expect(lk.verifyAccessToken(a.accessToken)).rejects.toMatchObject({ code: 'TRY_REFRESH_TOKEN' });
    // The other session is untouched.
    expect((await lk.verifyAccessToken(b.accessToken)).claims['lk-ev']).toBeUndefined();
    clock.ms += 1;
    const refreshed = await lk.refresh(a.refreshToken);
    const verified = await lk.verifyAccessToken(refreshed.accessToken);
    expect(verified.claims['lk-ev']).toEqual({ v: true, t: clock.now() - 1 });
    expect(decodeJwt(refreshed.idToken)['lk-ev']).toEqual({ v: true, t: clock.now() - 1 });
  });

  it('a token minted in the same second but after the change is accepted (the epoch is kept to the millisecond)', async () => {
    const { lk, clock } = await testEngine();
    const a = await lk.createSession({ userId: 'u1' });
    clock.ms += 10;
    await lk.setClaimValue({ userId: 'u1' }, RolesClaim, ['admin']);
    clock.ms += 10; // same second as the change
    const refreshed = await lk.refresh(a.refreshToken);
    expect(Math.floor(decodeJwt(refreshed.accessToken).iat! * 1000)).toBe(Math.floor(clock.now() / 1000) * 1000);
    expect((await lk.verifyAccessToken(refreshed.accessToken)).claims['lk-roles']).toMatchObject({ v: ['admin'] });
  });

  it('in the very millisecond of the change: the token minted before it is outdated, one minted after it here is not', async () => {
    const { lk } = await testEngine();
    const before = await lk.createSession({ userId: 'u1' });
    // No clock movement at all: the change, the refresh and the checks share one millisecond.
    await lk.setClaimValue({ userId: 'u1' }, RolesClaim, ['admin']);
    await expect(lk.verifyAccessToken(before.accessToken)).rejects.toMatchObject({ code: 'TRY_REFRESH_TOKEN' });
    const after = await lk.refresh(before.refreshToken);
    const verified = await lk.verifyAccessToken(after.accessToken);
    expect(verified.claims['lk-roles']).toMatchObject({ v: ['admin'] });
    // Its mint time is the epoch, at most a millisecond ahead of the clock.
    expect(verified.claims.lk_iat_ms).toBe(Number(decodeJwt(before.accessToken).lk_iat_ms) + 1);
  });

  it('setClaimValue and removeClaim for all of a user’s sessions; other users are untouched', async () => {
    const { lk, clock } = await testEngine();
    const s1 = await lk.createSession({ userId: 'u1', accessClaims: { 'lk-roles': { v: ['admin'], t: 0 } } });
    const s2 = await lk.createSession({ userId: 'u1', accessClaims: { 'lk-roles': { v: ['admin'], t: 0 } } });
    const other = await lk.createSession({ userId: 'u2', accessClaims: { 'lk-roles': { v: ['admin'], t: 0 } } });
    await lk.revokeSession(s2.session.id);
    const s3 = await lk.createSession({ userId: 'u1' });
    clock.ms += 1;
    expect(await lk.removeClaim({ userId: 'u1' }, RolesClaim)).toBe(2);
    for (const t of [s1, s3]) await expect(lk.verifyAccessToken(t.accessToken)).rejects.toMatchObject({ code: 'TRY_REFRESH_TOKEN' });
    expect((await lk.verifyAccessToken(other.accessToken)).claims['lk-roles']).toEqual({ v: ['admin'], t: 0 });
    clock.ms += 1;
    const again = await lk.refresh(s1.refreshToken);
    expect((await lk.verifyAccessToken(again.accessToken)).claims['lk-roles']).toBeUndefined();
    expect((await lk.getSession(s1.session.id))?.idClaims['lk-roles']).toBeUndefined();
  });

  it('refuses a reserved key, an unknown session, and a value too large, writing nothing', async () => {
    const { lk } = await testEngine();
    const s = await lk.createSession({ userId: 'u1' });
    await expect(lk.setClaimValue({ sessionId: s.session.id }, defineClaim({ key: 'lk_iat_ms' }), 1)).rejects.toBeInstanceOf(
      InvalidClaimsError,
    );
    await expect(lk.setClaimValue({ sessionId: 'nope' }, EmailVerifiedClaim, true)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(
      lk.setClaimValue({ sessionId: s.session.id }, defineClaim<string>({ key: 'big' }), 'x'.repeat(5000)),
    ).rejects.toBeInstanceOf(InvalidClaimsError);
    expect((await lk.getSession(s.session.id))?.accessClaims).toEqual({});
    // Nothing changed, so the token still verifies.
    await expect(lk.verifyAccessToken(s.accessToken)).resolves.toBeTruthy();
  });

  it('updateClaims sets and removes several claims in one write, token claims and session data apart; a reserved key writes nothing', async () => {
    const { lk, clock } = await testEngine();
    const s = await lk.createSession({ userId: 'u1', accessClaims: { 'lk-perms': { v: ['a'], t: 0 } } });
    clock.ms += 1;
    const risk = defineClaim<string>({ key: 'risk', where: 'session' });
    const changes = [
      { claim: RolesClaim, value: ['admin'] },
      { claim: PermissionsClaim, remove: true as const },
      { claim: risk, value: 'low' },
    ];
    expect(await lk.updateClaims({ sessionId: s.session.id }, changes)).toBe(1);
    const session = await lk.getSession(s.session.id);
    expect(session?.accessClaims).toEqual({ 'lk-roles': { v: ['admin'], t: clock.now() } });
    expect(session?.idClaims).toEqual({ 'lk-roles': { v: ['admin'], t: clock.now() } });
    expect(session?.data).toEqual({ risk: { v: 'low', t: clock.now() } });
    await expect(lk.verifyAccessToken(s.accessToken)).rejects.toMatchObject({ code: 'TRY_REFRESH_TOKEN' });

    const t = await lk.createSession({ userId: 'u2' });
    clock.ms += 1;
    await expect(
      lk.updateClaims({ userId: 'u2' }, [
        { claim: RolesClaim, value: ['x'] },
        { claim: defineClaim({ key: 'sid' }), value: 'y' },
      ]),
    ).rejects.toBeInstanceOf(InvalidClaimsError);
    await expect(lk.updateClaims({ userId: 'u2' }, [])).rejects.toBeInstanceOf(TypeError);
    expect((await lk.getSession(t.session.id))?.accessClaims).toEqual({});
    await expect(lk.verifyAccessToken(t.accessToken)).resolves.toBeTruthy();
    // Session-data claims alone outdate no token.
    clock.ms += 1;
    await lk.updateClaims({ userId: 'u2' }, [{ claim: risk, value: 'high' }]);
    await expect(lk.verifyAccessToken(t.accessToken)).resolves.toBeTruthy();
  });

  it('the epoch reaches another instance through the bus, and a forged lk_iat_ms claim is refused', async () => {
    const handlers: BusHandlers[] = [];
    const bus = (): RevocationBus => ({
      publish: async (message: BusMessage) => {
        for (const h of handlers) h.message(message);
      },
      subscribe: async (h) => {
        handlers.push(h);
      },
      close: async () => {},
    });
    const store = memoryStore();
    const clock = new FakeClock();
    const { lk: one } = await testEngine({ store, clock, bus: bus() });
    const { lk: two } = await testEngine({ store, clock, bus: bus() });
    const s = await one.createSession({ userId: 'u1' });
    await two.verifyAccessToken(s.accessToken);
    clock.ms += 1;
    await one.setClaimValue({ userId: 'u1' }, RolesClaim, ['admin']);
    await expect(two.verifyAccessToken(s.accessToken)).rejects.toMatchObject({ code: 'TRY_REFRESH_TOKEN' });
    await expect(one.createSession({ userId: 'u1', accessClaims: { lk_iat_ms: 9e15 } })).rejects.toBeInstanceOf(InvalidClaimsError);
  });
});

describe('claims epochs kept in the store: an instance that missed the bus learns them at catch-up', () => {
  const stores = {
    memory: async () => ({ one: memoryStore(), two: undefined as SessionStore | undefined, close: async () => {} }),
    SQLite: async () => {
      const dir = mkdtempSync(join(tmpdir(), 'latchkey-epochs-'));
      const path = join(dir, 'latchkey.db');
      const one = sqliteStore({ path });
      await one.migrate();
      // A second connection to the same file: another process of the fleet.
      const two = sqliteStore({ path });
      return {
        one,
        two,
        close: async () => {
          await one.close();
          await two.close();
          rmSync(dir, { recursive: true, force: true });
        },
      };
    },
  };

  for (const [name, open] of Object.entries(stores)) {
    it(`${name}: the built-in store keeps them; a running instance without the bus refuses at its next poll, a restarted one at once`, async () => {
      const { one, two, close } = await open();
      try {
        expect([typeof one.recordClaimsEpoch, typeof one.listClaimsEpochsSince]).toEqual(['function', 'function']);
        const clock = new FakeClock();
        // No bus at all: whatever B learns, it learns from the store.
        const { lk: a } = await testEngine({ store: one, clock });
        const { lk: b } = await testEngine({ store: two ?? one, clock });
        const s = await a.createSession({ userId: 'u1' });
        await b.verifyAccessToken(s.accessToken);
        clock.ms += 1;
        await a.setClaimValue({ userId: 'u1' }, RolesClaim, ['viewer']);
        // B missed it (no bus): it still accepts the older token...
        await expect(b.verifyAccessToken(s.accessToken)).resolves.toBeTruthy();
        // ...until its catch-up (the revocation poll, or the bus reconnecting) reads the store.
        await b.syncRevocations();
        await expect(b.verifyAccessToken(s.accessToken)).rejects.toMatchObject({ code: 'TRY_REFRESH_TOKEN' });
        // An instance started after the change knows it from its first catch-up, at start.
        const { lk: c } = await testEngine({ store: two ?? one, clock });
        await expect(c.verifyAccessToken(s.accessToken)).rejects.toMatchObject({ code: 'TRY_REFRESH_TOKEN' });
        // Past the access-token lifetime an epoch outdates nothing: the next write drops it.
        clock.advance(a.settings.accessTokenTtlSeconds + a.settings.clockToleranceSeconds + 1);
        await a.setClaimValue({ userId: 'u2' }, RolesClaim, ['admin']);
        expect(await one.listClaimsEpochsSince!(0)).toEqual([{ kind: 'user', id: 'u2', at: clock.now() + 1 }]);
        for (const lk of [a, b, c]) await lk.close();
      } finally {
        await close();
      }
    });
  }
});
