/**
 * The ApiKeyStore conformance suite: run against every store that keeps user API keys, on its real
 * backend, beside the SessionStore suite. Each case gets a fresh, empty store; with `reopen`, the race
 * cases also run across two handles on the same data. Written on `node:assert/strict` only, so any
 * test runner can run it (see docs/custom-stores.md).
 */
import * as assert from 'node:assert/strict';
import type { ApiKeyStore } from '../types.js';
import { equal } from './assert.js';
import { apiKeyFixture, FIXTURE_T0 as T0 } from './fixtures.js';
import { closeExtra, openCase, type ContractCase, type StoreContractTarget, type StoreContractTestApi } from './harness.js';

const DAY = 86_400_000;

/**
 * Registers the ApiKeyStore conformance suite for one store with the given test runner.
 *
 * @example
 * runApiKeyStoreContract({ describe, it, beforeEach, afterEach }, { name: 'MySQL', create, destroy });
 */
export function runApiKeyStoreContract<S extends ApiKeyStore>(test: StoreContractTestApi, target: StoreContractTarget<S>): void {
  const { describe, it, beforeEach, afterEach } = test;
  const open = () => openCase(target);
  describe(`ApiKeyStore contract: ${target.name}`, () => {
    let handle: ContractCase<S>;
    let store: S;
    const extra: S[] = [];

    beforeEach(async () => {
      handle = await open();
      await handle.store.migrate();
      store = handle.store;
    });

    afterEach(async () => {
      for (const s of extra.splice(0)) await closeExtra(s);
      await handle.dispose();
    });

    async function second(): Promise<S | null> {
      if (!handle.reopen) return null;
      const s = await handle.reopen();
      extra.push(s);
      return s;
    }

    it('stores a key and reads it back by id, exactly, in every state', async () => {
      const key = apiKeyFixture({ expiresAt: T0 + DAY });
      await store.insertApiKey(key);
      equal(await store.getApiKey(key.id), key);
      assert.equal(await store.getApiKey('AAAAAAAAAAAAAAAA'), null);
      const revoked = await store.revokeApiKey(key.id, T0 + 5);
      equal(revoked, { ...key, revokedAt: T0 + 5, changedAt: T0 + 5 });
      equal(await store.getApiKey(key.id), revoked);
    });

    it('refuses a second key with the same id or hash', async () => {
      const key = apiKeyFixture();
      await store.insertApiKey(key);
      await assert.rejects(store.insertApiKey(apiKeyFixture({ id: key.id })));
      await assert.rejects(store.insertApiKey(apiKeyFixture({ hash: key.hash })));
      equal(await store.getApiKey(key.id), key);
    });

    it("lists an owner's usable keys only, newest first", async () => {
      const owner = 'u_owner';
      const old = apiKeyFixture({ ownerId: owner, createdAt: T0 });
      const newer = apiKeyFixture({ ownerId: owner, createdAt: T0 + 10, expiresAt: T0 + DAY });
      const expired = apiKeyFixture({ ownerId: owner, createdAt: T0 + 20, expiresAt: T0 + 100 });
      const revoked = apiKeyFixture({ ownerId: owner, createdAt: T0 + 30 });
      const someoneElse = apiKeyFixture({ ownerId: 'u_other', createdAt: T0 + 40 });
      for (const k of [old, newer, expired, revoked, someoneElse]) await store.insertApiKey(k);
      await store.revokeApiKey(revoked.id, T0 + 50);
      equal(await store.listApiKeys(owner, T0 + 100), [newer, old]);
      // Expiry is exclusive: a key expiring at `now` has expired.
      equal(
        (await store.listApiKeys(owner, T0 + 99)).map((k) => k.id),
        [expired.id, newer.id, old.id],
      );
      equal(await store.listApiKeys('u_nobody', T0), []);
    });

    it('revokes once: a second revocation, or of an unknown id, reports null and changes nothing', async () => {
      const key = apiKeyFixture();
      await store.insertApiKey(key);
      assert.equal((await store.revokeApiKey(key.id, T0 + 5))?.revokedAt, T0 + 5);
      assert.equal(await store.revokeApiKey(key.id, T0 + 6), null);
      assert.equal(await store.revokeApiKey('AAAAAAAAAAAAAAAA', T0 + 6), null);
      assert.equal((await store.getApiKey(key.id))?.revokedAt, T0 + 5);
    });

    it('rotates at once: the new key is stored and the old one revoked, in one step', async () => {
      const old = apiKeyFixture();
      await store.insertApiKey(old);
      const next = apiKeyFixture({ ownerId: old.ownerId, createdAt: T0 + 10, changedAt: T0 + 10 });
      assert.equal(await store.rotateApiKey({ previousId: old.id, next, now: T0 + 10, previousExpiresAt: null }), true);
      equal(await store.getApiKey(next.id), next);
      equal(await store.getApiKey(old.id), { ...old, revokedAt: T0 + 10, changedAt: T0 + 10 });
    });

    it('rotates with an overlap: the old key expires then, never later than it would have', async () => {
      const forever = apiKeyFixture();
      const soon = apiKeyFixture({ expiresAt: T0 + 60_000 });
      await store.insertApiKey(forever);
      await store.insertApiKey(soon);
      assert.equal(
        await store.rotateApiKey({ previousId: forever.id, next: apiKeyFixture(), now: T0 + 1, previousExpiresAt: T0 + 3_600_000 }),
        true,
      );
      assert.equal(
        await store.rotateApiKey({ previousId: soon.id, next: apiKeyFixture(), now: T0 + 1, previousExpiresAt: T0 + 3_600_000 }),
        true,
      );
      equal(await store.getApiKey(forever.id), { ...forever, expiresAt: T0 + 3_600_000, changedAt: T0 + 1 });
      equal(await store.getApiKey(soon.id), { ...soon, expiresAt: T0 + 60_000, changedAt: T0 + 1 });
    });

    it('does not rotate a revoked, expired or unknown key, and then stores nothing', async () => {
      const revoked = apiKeyFixture();
      const expired = apiKeyFixture({ expiresAt: T0 + 10 });
      await store.insertApiKey(revoked);
      await store.insertApiKey(expired);
      await store.revokeApiKey(revoked.id, T0 + 1);
      for (const previousId of [revoked.id, expired.id, 'AAAAAAAAAAAAAAAA']) {
        const next = apiKeyFixture();
        assert.equal(await store.rotateApiKey({ previousId, next, now: T0 + 10, previousExpiresAt: null }), false);
        assert.equal(await store.getApiKey(next.id), null);
      }
      assert.equal((await store.getApiKey(expired.id))?.revokedAt, null);
    });

    it('a failed rotation (the new key collides) leaves the old key untouched', async () => {
      const old = apiKeyFixture();
      const other = apiKeyFixture();
      await store.insertApiKey(old);
      await store.insertApiKey(other);
      await assert.rejects(
        store.rotateApiKey({ previousId: old.id, next: apiKeyFixture({ hash: other.hash }), now: T0 + 1, previousExpiresAt: null }),
      );
      equal(await store.getApiKey(old.id), old);
    });

    it('two rotations of one key racing (on two handles where the backend has them): exactly one wins', async () => {
      const old = apiKeyFixture();
      await store.insertApiKey(old);
      const other = (await second()) ?? store;
      const [a, b] = [apiKeyFixture({ ownerId: old.ownerId }), apiKeyFixture({ ownerId: old.ownerId })];
      const results = await Promise.all([
        store.rotateApiKey({ previousId: old.id, next: a, now: T0 + 1, previousExpiresAt: null }),
        other.rotateApiKey({ previousId: old.id, next: b, now: T0 + 1, previousExpiresAt: null }),
      ]);
      assert.equal(results.filter(Boolean).length, 1);
      const stored = [await store.getApiKey(a.id), await store.getApiKey(b.id)].filter((k) => k !== null);
      assert.equal(stored.length, 1);
    });

    it('records last uses, keeping the latest, skipping unknown ids', async () => {
      const a = apiKeyFixture();
      const b = apiKeyFixture();
      await store.insertApiKey(a);
      await store.insertApiKey(b);
      await store.touchApiKeys([]);
      await store.touchApiKeys([
        { id: a.id, lastUsedAt: T0 + 100 },
        { id: b.id, lastUsedAt: T0 + 50 },
        { id: 'AAAAAAAAAAAAAAAA', lastUsedAt: T0 },
      ]);
      await store.touchApiKeys([{ id: a.id, lastUsedAt: T0 + 80 }]);
      assert.equal((await store.getApiKey(a.id))?.lastUsedAt, T0 + 100);
      assert.equal((await store.getApiKey(b.id))?.lastUsedAt, T0 + 50);
      // A last use is not a change other instances must hear of.
      assert.equal((await store.getApiKey(a.id))?.changedAt, T0);
    });

    it('lists keys revoked or re-dated since a time', async () => {
      const [a, b, c] = [apiKeyFixture(), apiKeyFixture(), apiKeyFixture()];
      for (const k of [a, b, c]) await store.insertApiKey(k);
      await store.revokeApiKey(a.id, T0 + 1000);
      await store.rotateApiKey({
        previousId: b.id,
        next: apiKeyFixture({ changedAt: T0 + 2000 }),
        now: T0 + 2000,
        previousExpiresAt: T0 + 9000,
      });
      const all = await store.listApiKeysChangedSince(T0 + 1000);
      assert.ok(all.includes(a.id) && all.includes(b.id), `${JSON.stringify(all)} lacks ${a.id} or ${b.id}`);
      assert.ok(!all.includes(c.id));
      assert.ok((await store.listApiKeysChangedSince(T0 + 1001)).includes(b.id));
      assert.ok(!(await store.listApiKeysChangedSince(T0 + 1001)).includes(a.id));
      assert.ok(!(await store.listApiKeysChangedSince(T0 + 2001)).includes(b.id));
      assert.ok(!(await store.listApiKeysChangedSince(T0 + 2001)).includes(c.id));
    });

    it('keeps text and JSON exactly (unicode names, nested metadata, many scopes)', async () => {
      const key = apiKeyFixture({
        name: 'Zoë’s 🔑 export',
        scopes: Array.from({ length: 40 }, (_, i) => `scope:${i}`),
        metadata: { nested: { list: [1, 'two', null, true], deep: { x: 1.5 } }, emoji: '🔒' },
      });
      await store.insertApiKey(key);
      equal(await store.getApiKey(key.id), key);
    });
  });
}
