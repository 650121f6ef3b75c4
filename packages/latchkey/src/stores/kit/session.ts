/**
 * The SessionStore conformance suite: one set of cases, run against every store on its real backend.
 * A store is done when it passes this suite unchanged. The built-in stores (memory, SQLite,
 * PostgreSQL) run it in latchkey's own tests; a store of your own runs it under your test runner:
 *
 * ```ts
 * import { describe, it, beforeEach, afterEach } from 'node:test';
 * import { runSessionStoreContract } from 'latchkey/stores';
 *
 * runSessionStoreContract({ describe, it, beforeEach, afterEach }, {
 *   name: 'MySQL',
 *   create: async () => mysqlStore({ database: await createScratchDatabase() }),
 *   destroy: async (store) => { await store.close(); await dropScratchDatabase(store); },
 * });
 * ```
 *
 * Each case gets a fresh, empty store. Where the backend allows a second handle on the same data (a
 * second connection pool, a second SQLite connection), `reopen` is given and the race cases also run
 * across handles, which is how two instances of a fleet share one database. Written on
 * `node:assert/strict` only, so any runner can run it (see docs/custom-stores.md).
 */
import * as assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { isLatchkeyError } from '../../errors.js';
import type { RotateRefreshInput, SessionRecord, SessionStore, SigningKeyRecord } from '../types.js';
import { equal, isEqual, matches } from './assert.js';
import { FIXTURE_T0 as T0, hex, sessionFixture } from './fixtures.js';
import { closeExtra, openCase, type ContractCase, type StoreContractTarget, type StoreContractTestApi } from './harness.js';

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;
const GRACE = 10_000;
const IDLE = 14 * DAY;

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

/**
 * Registers the SessionStore conformance suite for one store with the given test runner.
 *
 * @example
 * runSessionStoreContract({ describe, it, beforeEach, afterEach }, { name: 'MySQL', create, destroy });
 */
export function runSessionStoreContract<S extends SessionStore>(test: StoreContractTestApi, target: StoreContractTarget<S>): void {
  const { describe, it, beforeEach, afterEach } = test;
  const open = () => openCase(target);
  describe(`SessionStore contract: ${target.name}`, () => {
    let handle: ContractCase<S>;
    let store: S;
    const extra: S[] = [];

    beforeEach(async () => {
      handle = await open();
      store = handle.store;
      await store.migrate();
    });

    afterEach(async () => {
      for (const s of extra.splice(0)) await closeExtra(s);
      await handle.dispose();
    });

    /** A second handle on the same data, when the backend has one. */
    async function second(): Promise<S | null> {
      if (!handle.reopen) return null;
      const s = await handle.reopen();
      extra.push(s);
      return s;
    }

    /** Creates a session and rotates it `times` times; returns the chain of hashes, oldest first. */
    async function withChain(times: number, at = T0): Promise<{ session: SessionRecord; chain: string[] }> {
      const created = sessionFixture({}, at);
      await store.createSession(created);
      const chain = [created.session.currentRefreshHash];
      for (let i = 0; i < times; i++) {
        const next = hex();
        const outcome = await store.rotateRefreshToken(rotation(chain.at(-1)!, next, at + (i + 1) * MINUTE));
        assert.equal(outcome.kind, 'rotated');
        chain.push(next);
      }
      return { session: (await store.getSession(created.session.id))!, chain };
    }

    describe('schema', () => {
      it('migrate is idempotent', async () => {
        await store.migrate();
        await store.migrate();
        const { session } = sessionFixture();
        await store.createSession(sessionFixture({ id: session.id }));
        assert.notEqual(await store.getSession(session.id), null);
      });

      it('migrate from several handles at once applies once and loses nothing', async () => {
        const others = await Promise.all([second(), second()]);
        if (!others[0]) return;
        await Promise.all([store.migrate(), ...others.map((s) => s!.migrate())]);
        const created = sessionFixture();
        await store.createSession(created);
        assert.equal((await others[1]!.getSession(created.session.id))?.id, created.session.id);
      });

      it('migrate reports the versions it applied; schemaVersion reads without creating anything', async () => {
        const fresh = await open();
        try {
          if (fresh.store.schemaVersion === undefined) {
            // A store without a schema (memory) has nothing to report.
            assert.equal(await fresh.store.migrate(), undefined);
            return;
          }
          assert.equal(await fresh.store.schemaVersion(), 0);
          assert.equal(await fresh.store.schemaVersion(), 0);
          const first = await fresh.store.migrate();
          assert.equal(typeof first?.version, 'number');
          equal(first, { applied: Array.from({ length: first!.version }, (_, i) => i + 1), version: first!.version });
          assert.ok(first!.version > 0);
          assert.equal(await fresh.store.schemaVersion(), first!.version);
          equal(await fresh.store.migrate(), { applied: [], version: first!.version });
        } finally {
          await fresh.dispose();
        }
      });

      it('ping answers', async () => {
        assert.equal(await store.ping(), undefined);
      });
    });

    describe('sessions', () => {
      it('round-trips every field, JSON included', async () => {
        const created = sessionFixture({
          data: {
            nested: { list: [1, 2.5, -3, true, false, null, 'x'], deep: { a: { b: { c: 'd' } } } },
            empty: {},
            none: [],
            big: 9_007_199_254_740_991,
          },
          accessClaims: { roles: ['a', 'b'], tenant: 't_1', quota: 0.125 },
          idClaims: { name: 'Zoë “quotes” \\ back\\slash 東京 🚀', email: 'z@example.com', emoji: '👩‍💻' },
          device: { userAgent: 'curl/8.5.0', ip: '203.0.113.9' },
        });
        await store.createSession(created);
        equal(await store.getSession(created.session.id), created.session);
      });

      it('round-trips a session without device details', async () => {
        const created = sessionFixture({ device: {} });
        await store.createSession(created);
        equal((await store.getSession(created.session.id))?.device, {});
      });

      it('returns null for an unknown session', async () => {
        assert.equal(await store.getSession('s_missing'), null);
      });

      it('refuses a duplicate session id and writes nothing of the duplicate', async () => {
        const first = sessionFixture();
        await store.createSession(first);
        const dup = sessionFixture({ id: first.session.id });
        await assert.rejects(store.createSession(dup));
        // The duplicate's refresh token must not exist: createSession is all or nothing.
        equal(await store.rotateRefreshToken(rotation(dup.session.currentRefreshHash, hex(), T0 + 1)), { kind: 'unknown' });
        equal(await store.getSession(first.session.id), first.session);
      });

      it('refuses a duplicate refresh-token hash and creates no session for it', async () => {
        const first = sessionFixture();
        await store.createSession(first);
        const dup = sessionFixture({ currentRefreshHash: first.session.currentRefreshHash });
        await assert.rejects(store.createSession(dup));
        assert.equal(await store.getSession(dup.session.id), null);
      });

      it('lists only active sessions of the user, newest first', async () => {
        const userId = `u_${hex(4)}`;
        const older = sessionFixture({ userId, createdAt: T0 - 2 * MINUTE });
        const newer = sessionFixture({ userId, createdAt: T0 - MINUTE });
        const revoked = sessionFixture({ userId });
        const idleExpired = sessionFixture({ userId, idleExpiresAt: T0 });
        const absoluteExpired = sessionFixture({ userId, absoluteExpiresAt: T0 - 1 });
        const otherUser = sessionFixture();
        for (const s of [older, newer, revoked, idleExpired, absoluteExpired, otherUser]) await store.createSession(s);
        await store.revokeSession(revoked.session.id, T0 - 1, 'signout');
        const listed = await store.listActiveSessions(userId, T0);
        equal(
          listed.map((s) => s.id),
          [newer.session.id, older.session.id],
        );
        equal(listed[0], newer.session);
        equal(await store.listActiveSessions(`u_${hex(4)}`, T0), []);
      });

      it('counts active sessions across users', async () => {
        // Other cases share the store: compare the count before and after.
        const before = await store.countActiveSessions(T0);
        const live = [sessionFixture(), sessionFixture()];
        const revoked = sessionFixture();
        const expired = sessionFixture({ idleExpiresAt: T0 });
        for (const s of [...live, revoked, expired]) await store.createSession(s);
        await store.revokeSession(revoked.session.id, T0 - 1, 'signout');
        assert.equal((await store.countActiveSessions(T0)) - before, 2);
      });

      it('updates only the given fields and persists them', async () => {
        const created = sessionFixture();
        await store.createSession(created);
        const updated = await store.updateSession(created.session.id, { data: { theme: 'light', n: [1, { x: null }] } });
        const expected = { ...created.session, data: { theme: 'light', n: [1, { x: null }] } };
        equal(updated, expected);
        equal(await store.getSession(created.session.id), expected);
        const both = await store.updateSession(created.session.id, { accessClaims: { role: 'viewer' }, idClaims: {} });
        equal(both, { ...expected, accessClaims: { role: 'viewer' }, idClaims: {} });
      });

      it('does not update a missing or revoked session', async () => {
        assert.equal(await store.updateSession('s_missing', { data: { a: 1 } }), null);
        const created = sessionFixture();
        await store.createSession(created);
        await store.revokeSession(created.session.id, T0, 'admin');
        assert.equal(await store.updateSession(created.session.id, { data: { a: 1 } }), null);
        equal((await store.getSession(created.session.id))?.data, created.session.data);
      });

      it('merges: sets keys, deletes null ones, keeps the rest, and leaves unnamed parts alone', async () => {
        const created = sessionFixture({ accessClaims: { role: 'admin', plan: 'pro' }, data: { theme: 'dark', n: 1 } });
        await store.createSession(created);
        const merged = await store.updateSession(
          created.session.id,
          { mergeAccessClaims: { plan: null, team: 't1', nested: { a: [1] } }, mergeData: { n: 2 } },
          { now: T0 },
        );
        const expected = {
          ...created.session,
          accessClaims: { role: 'admin', team: 't1', nested: { a: [1] } },
          data: { theme: 'dark', n: 2 },
        };
        equal(merged, expected);
        equal(await store.getSession(created.session.id), expected);
        // A nested object replaces the stored one whole; replacing and merging different parts at once.
        const both = await store.updateSession(created.session.id, { mergeAccessClaims: { nested: { b: 2 } }, idClaims: { name: 'Bea' } });
        equal(both, { ...expected, accessClaims: { role: 'admin', team: 't1', nested: { b: 2 } }, idClaims: { name: 'Bea' } });
        // Deleting a key that is not there is no error.
        equal((await store.updateSession(created.session.id, { mergeIdClaims: { absent: null } }))?.idClaims, { name: 'Bea' });
      });

      it('concurrent merges of different keys all land, also across handles', async () => {
        const created = sessionFixture({ data: {} });
        await store.createSession(created);
        const handles = [store, store, ...(await Promise.all([second(), second()])).filter((s): s is Awaited<S> => s !== null)];
        await Promise.all(
          Array.from({ length: 12 }, (_, i) =>
            handles[i % handles.length]!.updateSession(created.session.id, { mergeData: { [`k${i}`]: i } }, { now: T0 }),
          ),
        );
        const data = (await store.getSession(created.session.id))!.data;
        equal(data, Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`k${i}`, i])));
      });

      it('does not update an expired session (idle or absolute) when given the time', async () => {
        const idle = sessionFixture({ idleExpiresAt: T0 + MINUTE });
        const absolute = sessionFixture({ absoluteExpiresAt: T0 + MINUTE });
        await store.createSession(idle);
        await store.createSession(absolute);
        for (const created of [idle, absolute]) {
          assert.equal(await store.updateSession(created.session.id, { mergeData: { a: 1 } }, { now: T0 + MINUTE }), null);
          assert.equal(await store.updateSession(created.session.id, { data: { a: 1 } }, { now: T0 + 2 * MINUTE }), null);
          equal(await store.getSession(created.session.id), created.session);
          // Still active a moment before.
          equal((await store.updateSession(created.session.id, { mergeData: { a: 1 } }, { now: T0 }))?.data, { theme: 'dark', a: 1 });
        }
      });

      it('a refusing check aborts the update with nothing written', async () => {
        const created = sessionFixture();
        await store.createSession(created);
        const refusal = new Error('too large');
        let seen: SessionRecord | undefined;
        await assert.rejects(
          store.updateSession(
            created.session.id,
            { mergeData: { big: 'x' } },
            {
              now: T0,
              check: (next) => {
                seen = next;
                throw refusal;
              },
            },
          ),
          (e: unknown) => e === refusal,
        );
        equal(seen?.data, { theme: 'dark', big: 'x' });
        equal(await store.getSession(created.session.id), created.session);
        // The store is still usable after the aborted transaction.
        equal((await store.updateSession(created.session.id, { mergeData: { big: 'y' } }, { now: T0 }))?.data, { theme: 'dark', big: 'y' });
      });

      it('stores U+0000 faithfully or refuses it with a typed error, never a driver error', async () => {
        const created = sessionFixture({ idClaims: { name: 'a\u0000b' } });
        try {
          await store.createSession(created);
        } catch (err) {
          assert.equal(isLatchkeyError(err, 'INVALID_CLAIMS'), true);
          assert.equal(await store.getSession(created.session.id), null);
          return;
        }
        equal((await store.getSession(created.session.id))?.idClaims, { name: 'a\u0000b' });
      });
    });

    describe('refresh rotation', () => {
      it('rotates the current token: successor current, parent remembered, idle expiry slides', async () => {
        const created = sessionFixture();
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
        equal(outcome, { kind: 'rotated', session: expected });
        equal(await store.getSession(created.session.id), expected);
      });

      it('keeps the device when none is given, and never slides past the absolute expiry', async () => {
        const created = sessionFixture({ absoluteExpiresAt: T0 + DAY });
        await store.createSession(created);
        const outcome = await store.rotateRefreshToken(rotation(created.session.currentRefreshHash, hex(), T0 + MINUTE));
        assert.equal(outcome.kind, 'rotated');
        if (outcome.kind !== 'rotated') return;
        equal(outcome.session.device, created.session.device);
        assert.equal(outcome.session.idleExpiresAt, T0 + DAY);
      });

      it('the successor rotates in turn, storing each generation', async () => {
        const { session, chain } = await withChain(3);
        assert.equal(session.generation, 3);
        assert.equal(session.currentRefreshHash, chain[3]);
        assert.equal(session.previousRefreshHash, chain[2]);
      });

      it('grace: the immediate parent, again inside the window, with the derived successor current: no write', async () => {
        const { session, chain } = await withChain(1);
        const rotatedAt = session.rotatedAt!;
        for (const now of [rotatedAt, rotatedAt + GRACE - 1]) {
          const outcome = await store.rotateRefreshToken(rotation(chain[0]!, chain[1]!, now, { device: { ip: '192.0.2.1' } }));
          equal(outcome, { kind: 'grace', session });
        }
        equal(await store.getSession(session.id), session);
      });

      it('theft: the immediate parent once the grace window has closed', async () => {
        const { session, chain } = await withChain(1);
        // The window is [rotatedAt, rotatedAt + grace): its end is already outside.
        const now = session.rotatedAt! + GRACE;
        const outcome = await store.rotateRefreshToken(rotation(chain[0]!, chain[1]!, now));
        // The parent of a successor never used, past the window: theft, told apart as parent-after-grace.
        equal(outcome, { kind: 'theft', session: { ...session, revokedAt: now, revokedReason: 'theft' }, reason: 'parent-after-grace' });
        equal(await store.getSession(session.id), { ...session, revokedAt: now, revokedReason: 'theft' });
      });

      it('theft: the parent inside the window when the current token is not its derived successor', async () => {
        const { session, chain } = await withChain(1);
        const outcome = await store.rotateRefreshToken(rotation(chain[0]!, hex(), session.rotatedAt! + 1));
        matches(outcome, { kind: 'theft', reason: 'rotated-out-replay' });
        assert.equal((await store.getSession(session.id))?.revokedReason, 'theft');
      });

      it('theft: a grandparent, even inside the grace window', async () => {
        const { session, chain } = await withChain(2);
        const outcome = await store.rotateRefreshToken(rotation(chain[0]!, chain[1]!, session.rotatedAt! + 1));
        matches(outcome, { kind: 'theft', reason: 'rotated-out-replay' });
        assert.equal((await store.getSession(session.id))?.revokedAt, session.rotatedAt! + 1);
      });

      it('theft: any replay when the grace window is zero', async () => {
        const { session, chain } = await withChain(1);
        // Even at the very instant of the rotation: a zero window is empty.
        const outcome = await store.rotateRefreshToken(rotation(chain[0]!, chain[1]!, session.rotatedAt!, { graceMs: 0 }));
        assert.equal(outcome.kind, 'theft');
      });

      it('after theft the current token is refused as revoked, and the theft is listed', async () => {
        const { session, chain } = await withChain(2);
        const at = session.rotatedAt! + 1;
        await store.rotateRefreshToken(rotation(chain[0]!, chain[1]!, at));
        const outcome = await store.rotateRefreshToken(rotation(chain[2]!, hex(), at + 1));
        assert.equal(outcome.kind, 'revoked');
        // With its reason, so that a catching-up instance answers the holders TOKEN_THEFT_DETECTED.
        equal(await store.listRevocationsSince(at), [{ sessionId: session.id, userId: session.userId, revokedAt: at, reason: 'theft' }]);
      });

      it('revoked: a revoked session does not rotate, and a replay of its parent is not re-reported as theft', async () => {
        const { session, chain } = await withChain(1);
        await store.revokeSession(session.id, T0 + 2 * MINUTE, 'signout');
        const current = await store.rotateRefreshToken(rotation(chain[1]!, hex(), T0 + 3 * MINUTE));
        assert.equal(current.kind, 'revoked');
        const parent = await store.rotateRefreshToken(rotation(chain[0]!, chain[1]!, T0 + 3 * MINUTE));
        assert.equal(parent.kind, 'revoked');
        assert.equal((await store.getSession(session.id))?.revokedReason, 'signout');
      });

      it('expired: at the idle expiry and at the absolute expiry, with no write', async () => {
        const idle = sessionFixture({ idleExpiresAt: T0 + MINUTE });
        const absolute = sessionFixture({ absoluteExpiresAt: T0 + MINUTE });
        await store.createSession(idle);
        await store.createSession(absolute);
        for (const s of [idle, absolute]) {
          const outcome = await store.rotateRefreshToken(rotation(s.session.currentRefreshHash, hex(), T0 + MINUTE));
          equal(outcome, { kind: 'expired', session: s.session });
          equal(await store.getSession(s.session.id), s.session);
        }
      });

      it('binding: round-trips; rotates only with its key; a missing or other key gets binding_mismatch with no write, even for an old token', async () => {
        const binding = { method: 'dpop' as const, jkt: 'jkt_' + hex(8) };
        const created = sessionFixture({ binding });
        await store.createSession(created);
        equal((await store.getSession(created.session.id))?.binding, binding);
        const id = created.session.id;
        const first = created.session.currentRefreshHash;
        // Neither no key nor another key rotates the current token (the PostgreSQL fast path included).
        for (const presentedJkt of [undefined, null, 'jkt_other']) {
          const outcome = await store.rotateRefreshToken(
            rotation(first, hex(), T0 + MINUTE, presentedJkt === undefined ? {} : { presentedJkt }),
          );
          assert.equal(outcome.kind, 'binding_mismatch');
          equal(await store.getSession(id), created.session);
        }
        const next = hex();
        const rotated = await store.rotateRefreshToken(rotation(first, next, T0 + MINUTE, { presentedJkt: binding.jkt }));
        assert.equal(rotated.kind, 'rotated');
        equal(rotated.kind === 'rotated' && rotated.session.binding, binding);
        const after = await store.getSession(id);
        // An old token without the key is not theft: nothing is revoked, nothing written.
        assert.equal(
          (await store.rotateRefreshToken(rotation(first, next, T0 + DAY, { presentedJkt: 'jkt_thief' }))).kind,
          'binding_mismatch',
        );
        equal(await store.getSession(id), after);
        // With the key, the parent of the unused successor is a lost answer retried, however late.
        assert.equal((await store.rotateRefreshToken(rotation(first, next, T0 + DAY, { presentedJkt: binding.jkt }))).kind, 'grace');
        // An unbound session ignores a presented key.
        const plain = sessionFixture();
        await store.createSession(plain);
        assert.equal(
          (await store.rotateRefreshToken(rotation(plain.session.currentRefreshHash, hex(), T0 + MINUTE, { presentedJkt: 'jkt_any' })))
            .kind,
          'rotated',
        );
      });

      it('bindSession (DBSC registration): binds an unbound session once, never replaces a binding, and refuses ended sessions', async () => {
        const jwk = { kty: 'EC', crv: 'P-256', x: randomBytes(32).toString('base64url'), y: randomBytes(32).toString('base64url') };
        const binding = { method: 'dbsc' as const, jkt: 'jkt_' + hex(8), jwk };
        const created = sessionFixture();
        await store.createSession(created);
        const { id } = created.session;
        const bound = await store.bindSession(id, binding, T0 + MINUTE);
        equal(bound?.binding, binding);
        // Persisted with the key itself (a DBSC refresh proof is checked against it), and nothing else changed.
        equal(await store.getSession(id), { ...created.session, binding });
        // A second key never replaces the first: the answer shows the binding that stands.
        const other = { method: 'dbsc' as const, jkt: 'jkt_other', jwk: { ...jwk, x: randomBytes(32).toString('base64url') } };
        equal((await store.bindSession(id, other, T0 + 2 * MINUTE))?.binding, binding);
        equal((await store.getSession(id))?.binding, binding);
        // Rotation then needs the registered key.
        assert.equal(
          (await store.rotateRefreshToken(rotation(created.session.currentRefreshHash, hex(), T0 + 3 * MINUTE))).kind,
          'binding_mismatch',
        );
        // Missing, revoked and expired sessions: null, nothing written.
        assert.equal(await store.bindSession(`s_${hex(12)}`, binding, T0), null);
        const revoked = sessionFixture();
        await store.createSession(revoked);
        await store.revokeSession(revoked.session.id, T0 + MINUTE, 'signout');
        assert.equal(await store.bindSession(revoked.session.id, binding, T0 + 2 * MINUTE), null);
        assert.equal((await store.getSession(revoked.session.id))?.binding, null);
        const idle = sessionFixture();
        await store.createSession(idle);
        assert.equal(await store.bindSession(idle.session.id, binding, idle.session.idleExpiresAt), null);
        assert.equal((await store.getSession(idle.session.id))?.binding, null);
      });

      it('concurrent bindSession calls with different keys: exactly one binding wins and every caller sees it', async () => {
        const created = sessionFixture();
        await store.createSession(created);
        const other = (await second()) ?? store;
        const keys = Array.from({ length: 6 }, (_, i) => ({
          method: 'dbsc' as const,
          jkt: `jkt_${i}_${hex(4)}`,
          jwk: { kty: 'EC', crv: 'P-256', x: hex(8), y: hex(8) },
        }));
        const results = await Promise.all(
          keys.map((b, i) => (i % 2 === 0 ? store : other).bindSession(created.session.id, b, T0 + MINUTE)),
        );
        const winner = (await store.getSession(created.session.id))?.binding;
        assert.ok(keys.some((e) => isEqual(e, winner)));
        for (const r of results) equal(r?.binding, winner);
      });

      it('unknown: a hash never issued', async () => {
        await store.createSession(sessionFixture());
        equal(await store.rotateRefreshToken(rotation(hex(), hex(), T0)), { kind: 'unknown' });
      });

      it('concurrent rotations of one token: exactly one rotates, every other gets the grace answer', async () => {
        const created = sessionFixture();
        await store.createSession(created);
        const other = await second();
        const stores = other ? [store, other] : [store];
        const successor = hex();
        const input = rotation(created.session.currentRefreshHash, successor, T0 + MINUTE);
        const outcomes = await Promise.all(Array.from({ length: 8 }, (_, i) => stores[i % stores.length]!.rotateRefreshToken(input)));
        const kinds = outcomes.map((o) => o.kind).sort();
        equal(kinds, ['grace', 'grace', 'grace', 'grace', 'grace', 'grace', 'grace', 'rotated']);
        const after = (await store.getSession(created.session.id))!;
        assert.equal(after.currentRefreshHash, successor);
        assert.equal(after.generation, 1);
      });

      it('concurrent rotations with different successors never leave two current tokens', async () => {
        // Two engines with different derivation secrets: only one successor may become current, the
        // other caller must not be told it rotated.
        const created = sessionFixture();
        await store.createSession(created);
        const other = (await second()) ?? store;
        const [a, b] = [hex(), hex()];
        const outcomes = await Promise.all([
          store.rotateRefreshToken(rotation(created.session.currentRefreshHash, a, T0 + MINUTE)),
          other.rotateRefreshToken(rotation(created.session.currentRefreshHash, b, T0 + MINUTE)),
        ]);
        const rotated = outcomes.filter((o) => o.kind === 'rotated');
        assert.equal(rotated.length, 1);
        // The loser presented the parent of a current token that is not its derivation: theft.
        assert.equal(outcomes.filter((o) => o.kind === 'theft').length, 1);
        assert.equal((await store.getSession(created.session.id))?.revokedReason, 'theft');
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
        assert.ok(['theft', 'revoked'].includes(outcomes[1]!.kind));
        assert.equal(
          outcomes.some((o) => o.kind === 'theft'),
          true,
        );
        const after = (await store.getSession(session.id))!;
        assert.equal(after.revokedReason, 'theft');
        // Whatever rotated did so before the theft was recorded; nothing rotated after it.
        const rotations = outcomes.filter((o) => o.kind === 'rotated').length;
        assert.ok(rotations <= 1);
        assert.equal(after.generation, 2 + rotations);
      });
    });

    describe('revocation', () => {
      it('revokes once: the revocation, then null; null for a missing session', async () => {
        const created = sessionFixture();
        await store.createSession(created);
        equal(await store.revokeSession(created.session.id, T0 + 1, 'admin'), {
          sessionId: created.session.id,
          userId: created.session.userId,
          revokedAt: T0 + 1,
        });
        assert.equal(await store.revokeSession(created.session.id, T0 + 2, 'signout'), null);
        assert.equal(await store.revokeSession('s_missing', T0, 'signout'), null);
        const after = await store.getSession(created.session.id);
        equal([after?.revokedAt, after?.revokedReason], [T0 + 1, 'admin']);
      });

      it("revokes a user's active sessions except one, skipping ended ones and other users", async () => {
        const userId = `u_${hex(4)}`;
        const [keep, a, b, already, expired, stranger] = [
          sessionFixture({ userId }),
          sessionFixture({ userId }),
          sessionFixture({ userId }),
          sessionFixture({ userId }),
          sessionFixture({ userId, idleExpiresAt: T0 }),
          sessionFixture(),
        ];
        for (const s of [keep, a, b, already, expired, stranger]) await store.createSession(s);
        await store.revokeSession(already.session.id, T0 - 1, 'signout');
        const revoked = await store.revokeUserSessions(userId, T0, 'signout-others', keep.session.id);
        equal(
          revoked.sort((x, y) => x.sessionId.localeCompare(y.sessionId)),
          [a, b].map((s) => ({ sessionId: s.session.id, userId, revokedAt: T0 })).sort((x, y) => x.sessionId.localeCompare(y.sessionId)),
        );
        assert.equal((await store.getSession(keep.session.id))?.revokedAt, null);
        assert.equal((await store.getSession(already.session.id))?.revokedAt, T0 - 1);
        assert.equal((await store.getSession(expired.session.id))?.revokedAt, null);
        assert.equal((await store.getSession(stranger.session.id))?.revokedAt, null);
        equal(
          (await store.revokeUserSessions(userId, T0 + 1, 'revoke-all')).map((r) => r.sessionId),
          [keep.session.id],
        );
      });

      it('lists revocations at or after a time', async () => {
        const sessions = [sessionFixture(), sessionFixture(), sessionFixture()];
        for (const s of sessions) await store.createSession(s);
        await store.revokeSession(sessions[0]!.session.id, T0 + 10, 'signout');
        await store.revokeSession(sessions[1]!.session.id, T0 + 30, 'admin');
        await store.revokeSession(sessions[2]!.session.id, T0 + 20, 'revoke-all');
        // Order is not part of the contract: the engine keeps the newest time it saw.
        const listed = (await store.listRevocationsSince(T0 + 20)).sort((x, y) => x.revokedAt - y.revokedAt);
        equal(listed, [
          { sessionId: sessions[2]!.session.id, userId: sessions[2]!.session.userId, revokedAt: T0 + 20, reason: 'revoke-all' },
          { sessionId: sessions[1]!.session.id, userId: sessions[1]!.session.userId, revokedAt: T0 + 30, reason: 'admin' },
        ]);
        equal(await store.listRevocationsSince(T0 + 31), []);
      });
    });

    describe('claims epochs (optional: recordClaimsEpoch and listClaimsEpochsSince, both or neither)', () => {
      /** Both methods, or null when the store implements neither (then there is nothing to check). */
      function epochs(of: S = store): Pick<Required<SessionStore>, 'recordClaimsEpoch' | 'listClaimsEpochsSince'> | null {
        const has = [of.recordClaimsEpoch, of.listClaimsEpochsSince].filter((m) => m !== undefined).length;
        assert.notEqual(has, 1, 'implement both recordClaimsEpoch and listClaimsEpochsSince, or neither');
        return has === 2
          ? { recordClaimsEpoch: of.recordClaimsEpoch!.bind(of), listClaimsEpochsSince: of.listClaimsEpochsSince!.bind(of) }
          : null;
      }
      const sorted = (list: { kind: string; id: string; at: number }[]) =>
        [...list].sort((a, b) => a.at - b.at || a.id.localeCompare(b.id));

      it('keeps the later time per user or session, apart by kind; lists those at or after since', async () => {
        const e = epochs();
        if (!e) return;
        await e.recordClaimsEpoch({ kind: 'user', id: 'u1', at: T0 + 10 }, T0);
        await e.recordClaimsEpoch({ kind: 'user', id: 'u1', at: T0 + 5 }, T0); // an older one never moves it back
        await e.recordClaimsEpoch({ kind: 'session', id: 'u1', at: T0 + 7 }, T0); // same id, other kind
        await e.recordClaimsEpoch({ kind: 'session', id: 's1', at: T0 + 20 }, T0);
        await e.recordClaimsEpoch({ kind: 'user', id: 'u2', at: T0 + 30 }, T0);
        await e.recordClaimsEpoch({ kind: 'user', id: 'u2', at: T0 + 40 }, T0);
        equal(sorted(await e.listClaimsEpochsSince(T0)), [
          { kind: 'session', id: 'u1', at: T0 + 7 },
          { kind: 'user', id: 'u1', at: T0 + 10 },
          { kind: 'session', id: 's1', at: T0 + 20 },
          { kind: 'user', id: 'u2', at: T0 + 40 },
        ]);
        equal(sorted(await e.listClaimsEpochsSince(T0 + 20)), [
          { kind: 'session', id: 's1', at: T0 + 20 },
          { kind: 'user', id: 'u2', at: T0 + 40 },
        ]);
        equal(await e.listClaimsEpochsSince(T0 + 41), []);
      });

      it('drops the epochs older than expireBefore, and keeps the one being recorded', async () => {
        const e = epochs();
        if (!e) return;
        await e.recordClaimsEpoch({ kind: 'user', id: 'old', at: T0 }, T0);
        await e.recordClaimsEpoch({ kind: 'user', id: 'mid', at: T0 + MINUTE }, T0);
        await e.recordClaimsEpoch({ kind: 'session', id: 'new', at: T0 + 2 * MINUTE }, T0 + MINUTE);
        equal(sorted(await e.listClaimsEpochsSince(0)), [
          { kind: 'user', id: 'mid', at: T0 + MINUTE },
          { kind: 'session', id: 'new', at: T0 + 2 * MINUTE },
        ]);
        // A late write of an epoch already past expiry is not an error; it is simply not kept for long.
        await e.recordClaimsEpoch({ kind: 'user', id: 'mid', at: T0 + 3 * MINUTE }, T0 + 3 * MINUTE);
        equal(sorted(await e.listClaimsEpochsSince(0)), [{ kind: 'user', id: 'mid', at: T0 + 3 * MINUTE }]);
      });

      it('what one handle records, another reads (the instance that catches up)', async () => {
        const e = epochs();
        const other = await second();
        if (!e || !other) return;
        await e.recordClaimsEpoch({ kind: 'user', id: 'u1', at: T0 + 1 }, T0);
        equal(await epochs(other)!.listClaimsEpochsSince(T0), [{ kind: 'user', id: 'u1', at: T0 + 1 }]);
      });
    });

    describe('signing keys', () => {
      it('stores keys and lists them by generation', async () => {
        const k2 = signingKey(2);
        const k1 = signingKey(1, { alg: 'ES256', publicJwk: { kty: 'EC', crv: 'P-256', x: 'x', y: 'y' } });
        assert.equal(await store.insertSigningKey(k2), true);
        assert.equal(await store.insertSigningKey(k1), true);
        equal(await store.listSigningKeys(), [k1, k2]);
      });

      it('refuses a second key of the same generation, or the same kid', async () => {
        const k1 = signingKey(1);
        assert.equal(await store.insertSigningKey(k1), true);
        assert.equal(await store.insertSigningKey(signingKey(1)), false);
        assert.equal(await store.insertSigningKey(signingKey(2, { kid: k1.kid })), false);
        equal(await store.listSigningKeys(), [k1]);
      });

      it('concurrent inserts of one generation: exactly one wins', async () => {
        const other = await second();
        const stores = other ? [store, other] : [store];
        const candidates = Array.from({ length: 6 }, () => signingKey(1));
        const results = await Promise.all(candidates.map((k, i) => stores[i % stores.length]!.insertSigningKey(k)));
        assert.equal(results.filter(Boolean).length, 1);
        const winner = candidates[results.indexOf(true)]!;
        equal(await store.listSigningKeys(), [winner]);
      });

      it('deletes only the listed kids', async () => {
        const keys = [signingKey(1), signingKey(2), signingKey(3)];
        for (const k of keys) await store.insertSigningKey(k);
        await store.deleteSigningKeys([]);
        await store.deleteSigningKeys([keys[0]!.kid, keys[2]!.kid, 'k_missing']);
        equal(await store.listSigningKeys(), [keys[1]]);
      });
    });

    describe('cleanup', () => {
      it('deletes sessions that ended before the cutoff, with their refresh-token chains', async () => {
        const before = T0 + DAY;
        const idleEnded = sessionFixture({ idleExpiresAt: before - 1 });
        const absoluteEnded = sessionFixture({ absoluteExpiresAt: before - 1 });
        const revokedEarly = await withChain(2);
        await store.revokeSession(revokedEarly.session.id, before - 1, 'signout');
        const revokedLate = sessionFixture();
        const endsAtCutoff = sessionFixture({ idleExpiresAt: before });
        const active = sessionFixture();
        for (const s of [idleEnded, absoluteEnded, revokedLate, endsAtCutoff, active]) await store.createSession(s);
        // Revoked at the cutoff: still inside the window where its access tokens may be live.
        await store.revokeSession(revokedLate.session.id, before, 'admin');

        equal(await store.deleteExpired(before), { sessions: 3, refreshTokens: 5 });
        for (const gone of [idleEnded.session.id, absoluteEnded.session.id, revokedEarly.session.id]) {
          assert.equal(await store.getSession(gone), null);
        }
        // The deleted chain is gone: its tokens are now simply unknown.
        equal(await store.rotateRefreshToken(rotation(revokedEarly.chain[0]!, hex(), T0)), { kind: 'unknown' });
        for (const kept of [revokedLate, endsAtCutoff, active]) assert.notEqual(await store.getSession(kept.session.id), null);
        equal(
          (await store.listRevocationsSince(0)).map((r) => r.sessionId),
          [revokedLate.session.id],
        );
        equal(await store.deleteExpired(before), { sessions: 0, refreshTokens: 0 });
      });

      it('keeps a session revoked for theft, with its chain, until it would have expired', async () => {
        // Its holders (the victim's sleeping laptop) may come back any time until then and must be
        // told it was theft, which needs the session and the chain that leads to it.
        const { session, chain } = await withChain(2);
        const detectedAt = session.rotatedAt! + 1;
        assert.equal((await store.rotateRefreshToken(rotation(chain[0]!, chain[1]!, detectedAt))).kind, 'theft');
        equal(await store.deleteExpired(detectedAt + DAY), { sessions: 0, refreshTokens: 0 });
        matches(await store.rotateRefreshToken(rotation(chain[2]!, hex(), detectedAt + DAY)), {
          kind: 'revoked',
          session: { revokedReason: 'theft' },
        });
        equal(await store.deleteExpired(session.idleExpiresAt + 1), { sessions: 1, refreshTokens: 3 });
        assert.equal(await store.getSession(session.id), null);
      });
    });
  });
}
