/**
 * The SessionStore conformance suite: one set of cases, run against every store (memory, SQLite,
 * PostgreSQL) on its real backend. A store is done when it passes this file unchanged.
 *
 * Each case gets a fresh, empty store. Where the backend allows a second handle on the same data (a
 * second connection pool, a second SQLite connection), `reopen` is given and the race cases also run
 * across handles, which is how two instances of a fleet share one database.
 */
import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isLatchkeyError } from 'latchkey';
import type {
  NewSession,
  RotateRefreshInput,
  SessionRecord,
  SessionStore,
  SigningKeyRecord,
} from 'latchkey';

export interface StoreHandle {
  store: SessionStore;
  /** A second store over the same data, as another instance would open it. */
  reopen?: () => Promise<SessionStore>;
  /** Closes everything and deletes the data. */
  dispose(): Promise<void>;
}

const T0 = 1_800_000_000_000;
const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;
const GRACE = 10_000;
const IDLE = 14 * DAY;

const hex = (bytes = 32) => randomBytes(bytes).toString('hex');

/** A session as the engine would create it at `now`, with its first refresh token. */
export function newSession(overrides: Partial<SessionRecord> = {}, now = T0): NewSession {
  const session: SessionRecord = {
    id: `s_${hex(12)}`,
    userId: `u_${hex(6)}`,
    createdAt: now,
    lastActiveAt: now,
    idleExpiresAt: now + IDLE,
    absoluteExpiresAt: now + 90 * DAY,
    authTime: now - 1000,
    device: { userAgent: 'Mozilla/5.0 (X11; Linux x86_64)', ip: '2001:db8::1' },
    data: { theme: 'dark' },
    accessClaims: { role: 'admin' },
    idClaims: { name: 'Ada' },
    revokedAt: null,
    revokedReason: null,
    currentRefreshHash: hex(),
    previousRefreshHash: null,
    rotatedAt: null,
    generation: 0,
    binding: null,
    ...overrides,
  };
  return { session, refreshToken: { hash: session.currentRefreshHash, sessionId: session.id, generation: session.generation, createdAt: now } };
}

function rotation(presentedHash: string, successorHash: string, now: number, extra: Partial<RotateRefreshInput> = {}): RotateRefreshInput {
  return { presentedHash, successorHash, now, graceMs: GRACE, idleTimeoutMs: IDLE, ...extra };
}

function signingKey(generation: number, overrides: Partial<SigningKeyRecord> = {}): SigningKeyRecord {
  return {
    kid: `k_${hex(8)}`,
    alg: 'EdDSA',
    generation,
    publicJwk: { kty: 'OKP', crv: 'Ed25519', x: randomBytes(32).toString('base64url') },
    privateKeyEncrypted: hex(48),
    createdAt: T0,
    activatesAt: T0 + generation * DAY,
    ...overrides,
  };
}

/** Registers the contract suite for one store. */
export function describeStoreContract(name: string, open: () => Promise<StoreHandle>, options: { skip?: boolean } = {}): void {
  describe.skipIf(options.skip ?? false)(`SessionStore contract: ${name}`, () => {
    let handle: StoreHandle;
    let store: SessionStore;
    const extra: SessionStore[] = [];

    beforeEach(async () => {
      handle = await open();
      store = handle.store;
      await store.migrate();
    });

    afterEach(async () => {
      for (const s of extra.splice(0)) await s.close();
      await handle.dispose();
    });

    /** A second handle on the same data, when the backend has one. */
    async function second(): Promise<SessionStore | null> {
      if (!handle.reopen) return null;
      const s = await handle.reopen();
      extra.push(s);
      return s;
    }

    /** Creates a session and rotates it `times` times; returns the chain of hashes, oldest first. */
    async function withChain(times: number, at = T0): Promise<{ session: SessionRecord; chain: string[] }> {
      const created = newSession({}, at);
      await store.createSession(created);
      const chain = [created.session.currentRefreshHash];
      for (let i = 0; i < times; i++) {
        const next = hex();
        const outcome = await store.rotateRefreshToken(rotation(chain.at(-1)!, next, at + (i + 1) * MINUTE));
        expect(outcome.kind).toBe('rotated');
        chain.push(next);
      }
      return { session: (await store.getSession(created.session.id))!, chain };
    }

    describe('schema', () => {
      it('migrate is idempotent', async () => {
        await store.migrate();
        await store.migrate();
        const { session } = newSession();
        await store.createSession(newSession({ id: session.id }));
        expect(await store.getSession(session.id)).not.toBeNull();
      });

      it('migrate from several handles at once applies once and loses nothing', async () => {
        const others = await Promise.all([second(), second()]);
        if (!others[0]) return;
        await Promise.all([store.migrate(), ...others.map((s) => s!.migrate())]);
        const created = newSession();
        await store.createSession(created);
        expect((await others[1]!.getSession(created.session.id))?.id).toBe(created.session.id);
      });

      it('migrate reports the versions it applied; schemaVersion reads without creating anything', async () => {
        const fresh = await open();
        try {
          if (fresh.store.schemaVersion === undefined) {
            // A store without a schema (memory) has nothing to report.
            expect(await fresh.store.migrate()).toBeUndefined();
            return;
          }
          expect(await fresh.store.schemaVersion()).toBe(0);
          expect(await fresh.store.schemaVersion()).toBe(0);
          const first = await fresh.store.migrate();
          expect(first).toEqual({ applied: Array.from({ length: first!.version }, (_, i) => i + 1), version: expect.any(Number) });
          expect(first!.version).toBeGreaterThan(0);
          expect(await fresh.store.schemaVersion()).toBe(first!.version);
          expect(await fresh.store.migrate()).toEqual({ applied: [], version: first!.version });
        } finally {
          await fresh.dispose();
        }
      });

      it('ping answers', async () => {
        await expect(store.ping()).resolves.toBeUndefined();
      });
    });

    describe('sessions', () => {
      it('round-trips every field, JSON included', async () => {
        const created = newSession({
          data: { nested: { list: [1, 2.5, -3, true, false, null, 'x'], deep: { a: { b: { c: 'd' } } } }, empty: {}, none: [], big: 9_007_199_254_740_991 },
          accessClaims: { roles: ['a', 'b'], tenant: 't_1', quota: 0.125 },
          idClaims: { name: 'Zoë “quotes” \\ back\\slash 東京 🚀', email: 'z@example.com', emoji: '👩‍💻' },
          device: { userAgent: 'curl/8.5.0', ip: '203.0.113.9' },
        });
        await store.createSession(created);
        expect(await store.getSession(created.session.id)).toEqual(created.session);
      });

      it('round-trips a session without device details', async () => {
        const created = newSession({ device: {} });
        await store.createSession(created);
        expect((await store.getSession(created.session.id))?.device).toEqual({});
      });

      it('returns null for an unknown session', async () => {
        expect(await store.getSession('s_missing')).toBeNull();
      });

      it('refuses a duplicate session id and writes nothing of the duplicate', async () => {
        const first = newSession();
        await store.createSession(first);
        const dup = newSession({ id: first.session.id });
        await expect(store.createSession(dup)).rejects.toThrow();
        // The duplicate's refresh token must not exist: createSession is all or nothing.
        expect(await store.rotateRefreshToken(rotation(dup.session.currentRefreshHash, hex(), T0 + 1))).toEqual({ kind: 'unknown' });
        expect(await store.getSession(first.session.id)).toEqual(first.session);
      });

      it('refuses a duplicate refresh-token hash and creates no session for it', async () => {
        const first = newSession();
        await store.createSession(first);
        const dup = newSession({ currentRefreshHash: first.session.currentRefreshHash });
        await expect(store.createSession(dup)).rejects.toThrow();
        expect(await store.getSession(dup.session.id)).toBeNull();
      });

      it('lists only active sessions of the user, newest first', async () => {
        const userId = `u_${hex(4)}`;
        const older = newSession({ userId, createdAt: T0 - 2 * MINUTE });
        const newer = newSession({ userId, createdAt: T0 - MINUTE });
        const revoked = newSession({ userId });
        const idleExpired = newSession({ userId, idleExpiresAt: T0 });
        const absoluteExpired = newSession({ userId, absoluteExpiresAt: T0 - 1 });
        const otherUser = newSession();
        for (const s of [older, newer, revoked, idleExpired, absoluteExpired, otherUser]) await store.createSession(s);
        await store.revokeSession(revoked.session.id, T0 - 1, 'signout');
        const listed = await store.listActiveSessions(userId, T0);
        expect(listed.map((s) => s.id)).toEqual([newer.session.id, older.session.id]);
        expect(listed[0]).toEqual(newer.session);
        expect(await store.listActiveSessions(`u_${hex(4)}`, T0)).toEqual([]);
      });

      it('counts active sessions across users', async () => {
        // Other cases share the store: compare the count before and after.
        const before = await store.countActiveSessions(T0);
        const live = [newSession(), newSession()];
        const revoked = newSession();
        const expired = newSession({ idleExpiresAt: T0 });
        for (const s of [...live, revoked, expired]) await store.createSession(s);
        await store.revokeSession(revoked.session.id, T0 - 1, 'signout');
        expect((await store.countActiveSessions(T0)) - before).toBe(2);
      });

      it('updates only the given fields and persists them', async () => {
        const created = newSession();
        await store.createSession(created);
        const updated = await store.updateSession(created.session.id, { data: { theme: 'light', n: [1, { x: null }] } });
        const expected = { ...created.session, data: { theme: 'light', n: [1, { x: null }] } };
        expect(updated).toEqual(expected);
        expect(await store.getSession(created.session.id)).toEqual(expected);
        const both = await store.updateSession(created.session.id, { accessClaims: { role: 'viewer' }, idClaims: {} });
        expect(both).toEqual({ ...expected, accessClaims: { role: 'viewer' }, idClaims: {} });
      });

      it('does not update a missing or revoked session', async () => {
        expect(await store.updateSession('s_missing', { data: { a: 1 } })).toBeNull();
        const created = newSession();
        await store.createSession(created);
        await store.revokeSession(created.session.id, T0, 'admin');
        expect(await store.updateSession(created.session.id, { data: { a: 1 } })).toBeNull();
        expect((await store.getSession(created.session.id))?.data).toEqual(created.session.data);
      });

      it('merges: sets keys, deletes null ones, keeps the rest, and leaves unnamed parts alone', async () => {
        const created = newSession({ accessClaims: { role: 'admin', plan: 'pro' }, data: { theme: 'dark', n: 1 } });
        await store.createSession(created);
        const merged = await store.updateSession(created.session.id, { mergeAccessClaims: { plan: null, team: 't1', nested: { a: [1] } }, mergeData: { n: 2 } }, { now: T0 });
        const expected = { ...created.session, accessClaims: { role: 'admin', team: 't1', nested: { a: [1] } }, data: { theme: 'dark', n: 2 } };
        expect(merged).toEqual(expected);
        expect(await store.getSession(created.session.id)).toEqual(expected);
        // A nested object replaces the stored one whole; replacing and merging different parts at once.
        const both = await store.updateSession(created.session.id, { mergeAccessClaims: { nested: { b: 2 } }, idClaims: { name: 'Bea' } });
        expect(both).toEqual({ ...expected, accessClaims: { role: 'admin', team: 't1', nested: { b: 2 } }, idClaims: { name: 'Bea' } });
        // Deleting a key that is not there is no error.
        expect((await store.updateSession(created.session.id, { mergeIdClaims: { absent: null } }))?.idClaims).toEqual({ name: 'Bea' });
      });

      it('concurrent merges of different keys all land, also across handles', async () => {
        const created = newSession({ data: {} });
        await store.createSession(created);
        const handles = [store, store, ...(await Promise.all([second(), second()])).filter((s): s is SessionStore => s !== null)];
        await Promise.all(Array.from({ length: 12 }, (_, i) => handles[i % handles.length]!.updateSession(created.session.id, { mergeData: { [`k${i}`]: i } }, { now: T0 })));
        const data = (await store.getSession(created.session.id))!.data;
        expect(data).toEqual(Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`k${i}`, i])));
      });

      it('does not update an expired session (idle or absolute) when given the time', async () => {
        const idle = newSession({ idleExpiresAt: T0 + MINUTE });
        const absolute = newSession({ absoluteExpiresAt: T0 + MINUTE });
        await store.createSession(idle);
        await store.createSession(absolute);
        for (const created of [idle, absolute]) {
          expect(await store.updateSession(created.session.id, { mergeData: { a: 1 } }, { now: T0 + MINUTE })).toBeNull();
          expect(await store.updateSession(created.session.id, { data: { a: 1 } }, { now: T0 + 2 * MINUTE })).toBeNull();
          expect(await store.getSession(created.session.id)).toEqual(created.session);
          // Still active a moment before.
          expect((await store.updateSession(created.session.id, { mergeData: { a: 1 } }, { now: T0 }))?.data).toEqual({ theme: 'dark', a: 1 });
        }
      });

      it('a refusing check aborts the update with nothing written', async () => {
        const created = newSession();
        await store.createSession(created);
        const refusal = new Error('too large');
        let seen: SessionRecord | undefined;
        await expect(store.updateSession(created.session.id, { mergeData: { big: 'x' } }, { now: T0, check: (next) => { seen = next; throw refusal; } })).rejects.toBe(refusal);
        expect(seen?.data).toEqual({ theme: 'dark', big: 'x' });
        expect(await store.getSession(created.session.id)).toEqual(created.session);
        // The store is still usable after the aborted transaction.
        expect((await store.updateSession(created.session.id, { mergeData: { big: 'y' } }, { now: T0 }))?.data).toEqual({ theme: 'dark', big: 'y' });
      });

      it('stores U+0000 faithfully or refuses it with a typed error, never a driver error', async () => {
        const created = newSession({ idClaims: { name: 'a\u0000b' } });
        try {
          await store.createSession(created);
        } catch (err) {
          expect(isLatchkeyError(err, 'INVALID_CLAIMS')).toBe(true);
          expect(await store.getSession(created.session.id)).toBeNull();
          return;
        }
        expect((await store.getSession(created.session.id))?.idClaims).toEqual({ name: 'a\u0000b' });
      });
    });

    describe('refresh rotation', () => {
      it('rotates the current token: successor current, parent remembered, idle expiry slides', async () => {
        const created = newSession();
        await store.createSession(created);
        const successor = hex();
        const now = T0 + 5 * MINUTE;
        const device = { userAgent: 'new-agent', ip: '198.51.100.7' };
        const outcome = await store.rotateRefreshToken(rotation(created.session.currentRefreshHash, successor, now, { device }));
        const expected: SessionRecord = {
          ...created.session,
          currentRefreshHash: successor,
          previousRefreshHash: created.session.currentRefreshHash,
          rotatedAt: now,
          generation: 1,
          lastActiveAt: now,
          idleExpiresAt: now + IDLE,
          device,
        };
        expect(outcome).toEqual({ kind: 'rotated', session: expected });
        expect(await store.getSession(created.session.id)).toEqual(expected);
      });

      it('keeps the device when none is given, and never slides past the absolute expiry', async () => {
        const created = newSession({ absoluteExpiresAt: T0 + DAY });
        await store.createSession(created);
        const outcome = await store.rotateRefreshToken(rotation(created.session.currentRefreshHash, hex(), T0 + MINUTE));
        expect(outcome.kind).toBe('rotated');
        if (outcome.kind !== 'rotated') return;
        expect(outcome.session.device).toEqual(created.session.device);
        expect(outcome.session.idleExpiresAt).toBe(T0 + DAY);
      });

      it('the successor rotates in turn, storing each generation', async () => {
        const { session, chain } = await withChain(3);
        expect(session.generation).toBe(3);
        expect(session.currentRefreshHash).toBe(chain[3]);
        expect(session.previousRefreshHash).toBe(chain[2]);
      });

      it('grace: the immediate parent, again inside the window, with the derived successor current: no write', async () => {
        const { session, chain } = await withChain(1);
        const rotatedAt = session.rotatedAt!;
        for (const now of [rotatedAt, rotatedAt + GRACE - 1]) {
          const outcome = await store.rotateRefreshToken(rotation(chain[0]!, chain[1]!, now, { device: { ip: '192.0.2.1' } }));
          expect(outcome).toEqual({ kind: 'grace', session });
        }
        expect(await store.getSession(session.id)).toEqual(session);
      });

      it('theft: the immediate parent once the grace window has closed', async () => {
        const { session, chain } = await withChain(1);
        // The window is [rotatedAt, rotatedAt + grace): its end is already outside.
        const now = session.rotatedAt! + GRACE;
        const outcome = await store.rotateRefreshToken(rotation(chain[0]!, chain[1]!, now));
        // The parent of a successor never used, past the window: theft, told apart as parent-after-grace.
        expect(outcome).toEqual({ kind: 'theft', session: { ...session, revokedAt: now, revokedReason: 'theft' }, reason: 'parent-after-grace' });
        expect(await store.getSession(session.id)).toEqual({ ...session, revokedAt: now, revokedReason: 'theft' });
      });

      it('theft: the parent inside the window when the current token is not its derived successor', async () => {
        const { session, chain } = await withChain(1);
        const outcome = await store.rotateRefreshToken(rotation(chain[0]!, hex(), session.rotatedAt! + 1));
        expect(outcome).toMatchObject({ kind: 'theft', reason: 'rotated-out-replay' });
        expect((await store.getSession(session.id))?.revokedReason).toBe('theft');
      });

      it('theft: a grandparent, even inside the grace window', async () => {
        const { session, chain } = await withChain(2);
        const outcome = await store.rotateRefreshToken(rotation(chain[0]!, chain[1]!, session.rotatedAt! + 1));
        expect(outcome).toMatchObject({ kind: 'theft', reason: 'rotated-out-replay' });
        expect((await store.getSession(session.id))?.revokedAt).toBe(session.rotatedAt! + 1);
      });

      it('theft: any replay when the grace window is zero', async () => {
        const { session, chain } = await withChain(1);
        // Even at the very instant of the rotation: a zero window is empty.
        const outcome = await store.rotateRefreshToken(rotation(chain[0]!, chain[1]!, session.rotatedAt!, { graceMs: 0 }));
        expect(outcome.kind).toBe('theft');
      });

      it('after theft the current token is refused as revoked, and the theft is listed', async () => {
        const { session, chain } = await withChain(2);
        const at = session.rotatedAt! + 1;
        await store.rotateRefreshToken(rotation(chain[0]!, chain[1]!, at));
        const outcome = await store.rotateRefreshToken(rotation(chain[2]!, hex(), at + 1));
        expect(outcome.kind).toBe('revoked');
        // With its reason, so that a catching-up instance answers the holders TOKEN_THEFT_DETECTED.
        expect(await store.listRevocationsSince(at)).toEqual([{ sessionId: session.id, userId: session.userId, revokedAt: at, reason: 'theft' }]);
      });

      it('revoked: a revoked session does not rotate, and a replay of its parent is not re-reported as theft', async () => {
        const { session, chain } = await withChain(1);
        await store.revokeSession(session.id, T0 + 2 * MINUTE, 'signout');
        const current = await store.rotateRefreshToken(rotation(chain[1]!, hex(), T0 + 3 * MINUTE));
        expect(current.kind).toBe('revoked');
        const parent = await store.rotateRefreshToken(rotation(chain[0]!, chain[1]!, T0 + 3 * MINUTE));
        expect(parent.kind).toBe('revoked');
        expect((await store.getSession(session.id))?.revokedReason).toBe('signout');
      });

      it('expired: at the idle expiry and at the absolute expiry, with no write', async () => {
        const idle = newSession({ idleExpiresAt: T0 + MINUTE });
        const absolute = newSession({ absoluteExpiresAt: T0 + MINUTE });
        await store.createSession(idle);
        await store.createSession(absolute);
        for (const s of [idle, absolute]) {
          const outcome = await store.rotateRefreshToken(rotation(s.session.currentRefreshHash, hex(), T0 + MINUTE));
          expect(outcome).toEqual({ kind: 'expired', session: s.session });
          expect(await store.getSession(s.session.id)).toEqual(s.session);
        }
      });

      it('binding: round-trips; rotates only with its key; a missing or other key gets binding_mismatch with no write, even for an old token', async () => {
        const binding = { method: 'dpop' as const, jkt: 'jkt_' + hex(8) };
        const created = newSession({ binding });
        await store.createSession(created);
        expect((await store.getSession(created.session.id))?.binding).toEqual(binding);
        const id = created.session.id;
        const first = created.session.currentRefreshHash;
        // Neither no key nor another key rotates the current token (the PostgreSQL fast path included).
        for (const presentedJkt of [undefined, null, 'jkt_other']) {
          const outcome = await store.rotateRefreshToken(rotation(first, hex(), T0 + MINUTE, presentedJkt === undefined ? {} : { presentedJkt }));
          expect(outcome.kind).toBe('binding_mismatch');
          expect(await store.getSession(id)).toEqual(created.session);
        }
        const next = hex();
        const rotated = await store.rotateRefreshToken(rotation(first, next, T0 + MINUTE, { presentedJkt: binding.jkt }));
        expect(rotated.kind).toBe('rotated');
        expect(rotated.kind === 'rotated' && rotated.session.binding).toEqual(binding);
        const after = await store.getSession(id);
        // An old token without the key is not theft: nothing is revoked, nothing written.
        expect((await store.rotateRefreshToken(rotation(first, next, T0 + DAY, { presentedJkt: 'jkt_thief' }))).kind).toBe('binding_mismatch');
        expect(await store.getSession(id)).toEqual(after);
        // With the key, the parent of the unused successor is a lost answer retried, however late.
        expect((await store.rotateRefreshToken(rotation(first, next, T0 + DAY, { presentedJkt: binding.jkt }))).kind).toBe('grace');
        // An unbound session ignores a presented key.
        const plain = newSession();
        await store.createSession(plain);
        expect((await store.rotateRefreshToken(rotation(plain.session.currentRefreshHash, hex(), T0 + MINUTE, { presentedJkt: 'jkt_any' }))).kind).toBe('rotated');
      });

      it('bindSession (DBSC registration): binds an unbound session once, never replaces a binding, and refuses ended sessions', async () => {
        const jwk = { kty: 'EC', crv: 'P-256', x: randomBytes(32).toString('base64url'), y: randomBytes(32).toString('base64url') };
        const binding = { method: 'dbsc' as const, jkt: 'jkt_' + hex(8), jwk };
        const created = newSession();
        await store.createSession(created);
        const { id } = created.session;
        const bound = await store.bindSession(id, binding, T0 + MINUTE);
        expect(bound?.binding).toEqual(binding);
        // Persisted with the key itself (a DBSC refresh proof is checked against it), and nothing else changed.
        expect(await store.getSession(id)).toEqual({ ...created.session, binding });
        // A second key never replaces the first: the answer shows the binding that stands.
        const other = { method: 'dbsc' as const, jkt: 'jkt_other', jwk: { ...jwk, x: randomBytes(32).toString('base64url') } };
        expect((await store.bindSession(id, other, T0 + 2 * MINUTE))?.binding).toEqual(binding);
        expect((await store.getSession(id))?.binding).toEqual(binding);
        // Rotation then needs the registered key.
        expect((await store.rotateRefreshToken(rotation(created.session.currentRefreshHash, hex(), T0 + 3 * MINUTE))).kind).toBe('binding_mismatch');
        // Missing, revoked and expired sessions: null, nothing written.
        expect(await store.bindSession(`s_${hex(12)}`, binding, T0)).toBeNull();
        const revoked = newSession();
        await store.createSession(revoked);
        await store.revokeSession(revoked.session.id, T0 + MINUTE, 'signout');
        expect(await store.bindSession(revoked.session.id, binding, T0 + 2 * MINUTE)).toBeNull();
        expect((await store.getSession(revoked.session.id))?.binding).toBeNull();
        const idle = newSession();
        await store.createSession(idle);
        expect(await store.bindSession(idle.session.id, binding, idle.session.idleExpiresAt)).toBeNull();
        expect((await store.getSession(idle.session.id))?.binding).toBeNull();
      });

      it('concurrent bindSession calls with different keys: exactly one binding wins and every caller sees it', async () => {
        const created = newSession();
        await store.createSession(created);
        const other = (await second()) ?? store;
        const keys = Array.from({ length: 6 }, (_, i) => ({ method: 'dbsc' as const, jkt: `jkt_${i}_${hex(4)}`, jwk: { kty: 'EC', crv: 'P-256', x: hex(8), y: hex(8) } }));
        const results = await Promise.all(keys.map((b, i) => (i % 2 === 0 ? store : other).bindSession(created.session.id, b, T0 + MINUTE)));
        const winner = (await store.getSession(created.session.id))?.binding;
        expect(keys).toContainEqual(winner);
        for (const r of results) expect(r?.binding).toEqual(winner);
      });

      it('unknown: a hash never issued', async () => {
        await store.createSession(newSession());
        expect(await store.rotateRefreshToken(rotation(hex(), hex(), T0))).toEqual({ kind: 'unknown' });
      });

      it('concurrent rotations of one token: exactly one rotates, every other gets the grace answer', async () => {
        const created = newSession();
        await store.createSession(created);
        const other = await second();
        const stores = other ? [store, other] : [store];
        const successor = hex();
        const input = rotation(created.session.currentRefreshHash, successor, T0 + MINUTE);
        const outcomes = await Promise.all(Array.from({ length: 8 }, (_, i) => stores[i % stores.length]!.rotateRefreshToken(input)));
        const kinds = outcomes.map((o) => o.kind).sort();
        expect(kinds).toEqual(['grace', 'grace', 'grace', 'grace', 'grace', 'grace', 'grace', 'rotated']);
        const after = (await store.getSession(created.session.id))!;
        expect(after.currentRefreshHash).toBe(successor);
        expect(after.generation).toBe(1);
      });

      it('concurrent rotations with different successors never leave two current tokens', async () => {
        // Two engines with different derivation secrets: only one successor may become current, the
        // other caller must not be told it rotated.
        const created = newSession();
        await store.createSession(created);
        const other = (await second()) ?? store;
        const [a, b] = [hex(), hex()];
        const outcomes = await Promise.all([
          store.rotateRefreshToken(rotation(created.session.currentRefreshHash, a, T0 + MINUTE)),
          other.rotateRefreshToken(rotation(created.session.currentRefreshHash, b, T0 + MINUTE)),
        ]);
        const rotated = outcomes.filter((o) => o.kind === 'rotated');
        expect(rotated).toHaveLength(1);
        // The loser presented the parent of a current token that is not its derivation: theft.
        expect(outcomes.filter((o) => o.kind === 'theft')).toHaveLength(1);
        expect((await store.getSession(created.session.id))?.revokedReason).toBe('theft');
      });

      it('a theft racing refreshes of the current token always ends revoked', async () => {
        const { session, chain } = await withChain(2);
        const other = (await second()) ?? store;
        const at = session.rotatedAt! + 1;
        const outcomes = await Promise.all([
          store.rotateRefreshToken(rotation(chain[2]!, hex(), at)),
          other.rotateRefreshToken(rotation(chain[0]!, chain[1]!, at)),
          store.rotateRefreshToken(rotation(chain[2]!, hex(), at)),
        ]);
        // The replay is theft, unless the two racing refreshes (different successors) already were.
        expect(['theft', 'revoked']).toContain(outcomes[1]!.kind);
        expect(outcomes.some((o) => o.kind === 'theft')).toBe(true);
        const after = (await store.getSession(session.id))!;
        expect(after.revokedReason).toBe('theft');
        // Whatever rotated did so before the theft was recorded; nothing rotated after it.
        const rotations = outcomes.filter((o) => o.kind === 'rotated').length;
        expect(rotations).toBeLessThanOrEqual(1);
        expect(after.generation).toBe(2 + rotations);
      });
    });

    describe('revocation', () => {
      it('revokes once: the revocation, then null; null for a missing session', async () => {
        const created = newSession();
        await store.createSession(created);
        expect(await store.revokeSession(created.session.id, T0 + 1, 'admin')).toEqual({ sessionId: created.session.id, userId: created.session.userId, revokedAt: T0 + 1 });
        expect(await store.revokeSession(created.session.id, T0 + 2, 'signout')).toBeNull();
        expect(await store.revokeSession('s_missing', T0, 'signout')).toBeNull();
        const after = await store.getSession(created.session.id);
        expect([after?.revokedAt, after?.revokedReason]).toEqual([T0 + 1, 'admin']);
      });

      it("revokes a user's active sessions except one, skipping ended ones and other users", async () => {
        const userId = `u_${hex(4)}`;
        const [keep, a, b, already, expired, stranger] = [
          newSession({ userId }), newSession({ userId }), newSession({ userId }), newSession({ userId }),
          newSession({ userId, idleExpiresAt: T0 }), newSession(),
        ];
        for (const s of [keep, a, b, already, expired, stranger]) await store.createSession(s);
        await store.revokeSession(already.session.id, T0 - 1, 'signout');
        const revoked = await store.revokeUserSessions(userId, T0, 'signout-others', keep.session.id);
        expect(revoked.sort((x, y) => x.sessionId.localeCompare(y.sessionId))).toEqual(
          [a, b].map((s) => ({ sessionId: s.session.id, userId, revokedAt: T0 })).sort((x, y) => x.sessionId.localeCompare(y.sessionId)),
        );
        expect((await store.getSession(keep.session.id))?.revokedAt).toBeNull();
        expect((await store.getSession(already.session.id))?.revokedAt).toBe(T0 - 1);
        expect((await store.getSession(expired.session.id))?.revokedAt).toBeNull();
        expect((await store.getSession(stranger.session.id))?.revokedAt).toBeNull();
        expect((await store.revokeUserSessions(userId, T0 + 1, 'revoke-all')).map((r) => r.sessionId)).toEqual([keep.session.id]);
      });

      it('lists revocations at or after a time', async () => {
        const sessions = [newSession(), newSession(), newSession()];
        for (const s of sessions) await store.createSession(s);
        await store.revokeSession(sessions[0]!.session.id, T0 + 10, 'signout');
        await store.revokeSession(sessions[1]!.session.id, T0 + 30, 'admin');
        await store.revokeSession(sessions[2]!.session.id, T0 + 20, 'revoke-all');
        // Order is not part of the contract: the engine keeps the newest time it saw.
        const listed = (await store.listRevocationsSince(T0 + 20)).sort((x, y) => x.revokedAt - y.revokedAt);
        expect(listed).toEqual([
          { sessionId: sessions[2]!.session.id, userId: sessions[2]!.session.userId, revokedAt: T0 + 20, reason: 'revoke-all' },
          { sessionId: sessions[1]!.session.id, userId: sessions[1]!.session.userId, revokedAt: T0 + 30, reason: 'admin' },
        ]);
        expect(await store.listRevocationsSince(T0 + 31)).toEqual([]);
      });
    });

    describe('signing keys', () => {
      it('stores keys and lists them by generation', async () => {
        const k2 = signingKey(2);
        const k1 = signingKey(1, { alg: 'ES256', publicJwk: { kty: 'EC', crv: 'P-256', x: 'x', y: 'y' } });
        expect(await store.insertSigningKey(k2)).toBe(true);
        expect(await store.insertSigningKey(k1)).toBe(true);
        expect(await store.listSigningKeys()).toEqual([k1, k2]);
      });

      it('refuses a second key of the same generation, or the same kid', async () => {
        const k1 = signingKey(1);
        expect(await store.insertSigningKey(k1)).toBe(true);
        expect(await store.insertSigningKey(signingKey(1))).toBe(false);
        expect(await store.insertSigningKey(signingKey(2, { kid: k1.kid }))).toBe(false);
        expect(await store.listSigningKeys()).toEqual([k1]);
      });

      it('concurrent inserts of one generation: exactly one wins', async () => {
        const other = await second();
        const stores = other ? [store, other] : [store];
        const candidates = Array.from({ length: 6 }, () => signingKey(1));
        const results = await Promise.all(candidates.map((k, i) => stores[i % stores.length]!.insertSigningKey(k)));
        expect(results.filter(Boolean)).toHaveLength(1);
        const winner = candidates[results.indexOf(true)]!;
        expect(await store.listSigningKeys()).toEqual([winner]);
      });

      it('deletes only the listed kids', async () => {
        const keys = [signingKey(1), signingKey(2), signingKey(3)];
        for (const k of keys) await store.insertSigningKey(k);
        await store.deleteSigningKeys([]);
        await store.deleteSigningKeys([keys[0]!.kid, keys[2]!.kid, 'k_missing']);
        expect(await store.listSigningKeys()).toEqual([keys[1]]);
      });
    });

    describe('cleanup', () => {
      it('deletes sessions that ended before the cutoff, with their refresh-token chains', async () => {
        const before = T0 + DAY;
        const idleEnded = newSession({ idleExpiresAt: before - 1 });
        const absoluteEnded = newSession({ absoluteExpiresAt: before - 1 });
        const revokedEarly = await withChain(2);
        await store.revokeSession(revokedEarly.session.id, before - 1, 'signout');
        const revokedLate = newSession();
        const endsAtCutoff = newSession({ idleExpiresAt: before });
        const active = newSession();
        for (const s of [idleEnded, absoluteEnded, revokedLate, endsAtCutoff, active]) await store.createSession(s);
        // Revoked at the cutoff: still inside the window where its access tokens may be live.
        await store.revokeSession(revokedLate.session.id, before, 'admin');

        expect(await store.deleteExpired(before)).toEqual({ sessions: 3, refreshTokens: 5 });
        for (const gone of [idleEnded.session.id, absoluteEnded.session.id, revokedEarly.session.id]) {
          expect(await store.getSession(gone)).toBeNull();
        }
        // The deleted chain is gone: its tokens are now simply unknown.
        expect(await store.rotateRefreshToken(rotation(revokedEarly.chain[0]!, hex(), T0))).toEqual({ kind: 'unknown' });
        for (const kept of [revokedLate, endsAtCutoff, active]) expect(await store.getSession(kept.session.id)).not.toBeNull();
        expect((await store.listRevocationsSince(0)).map((r) => r.sessionId)).toEqual([revokedLate.session.id]);
        expect(await store.deleteExpired(before)).toEqual({ sessions: 0, refreshTokens: 0 });
      });

      it('keeps a session revoked for theft, with its chain, until it would have expired', async () => {
        // Its holders (the victim's sleeping laptop) may come back any time until then and must be
        // told it was theft, which needs the session and the chain that leads to it.
        const { session, chain } = await withChain(2);
        const detectedAt = session.rotatedAt! + 1;
        expect((await store.rotateRefreshToken(rotation(chain[0]!, chain[1]!, detectedAt))).kind).toBe('theft');
        expect(await store.deleteExpired(detectedAt + DAY)).toEqual({ sessions: 0, refreshTokens: 0 });
        expect(await store.rotateRefreshToken(rotation(chain[2]!, hex(), detectedAt + DAY))).toMatchObject({ kind: 'revoked', session: { revokedReason: 'theft' } });
        expect(await store.deleteExpired(session.idleExpiresAt + 1)).toEqual({ sessions: 1, refreshTokens: 3 });
        expect(await store.getSession(session.id)).toBeNull();
      });
    });
  });
}
