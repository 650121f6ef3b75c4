/**
 * The ApiKeyStore conformance suite: run against every store that keeps user API keys (memory,
 * SQLite, PostgreSQL) on its real backend, beside the SessionStore contract. Each case gets a fresh,
 * empty store; with `reopen`, the race cases also run across two handles on the same data.
 */
import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ApiKeyRecord, ApiKeyStore } from 'latchkey';
import type { StoreHandle } from './contract.js';

const T0 = 1_800_000_000_000;
const DAY = 86_400_000;
const hex = (bytes = 32) => randomBytes(bytes).toString('hex');

export function apiKeyRecord(overrides: Partial<ApiKeyRecord> = {}): ApiKeyRecord {
  const id = randomBytes(12).toString('base64url');
  return {
    id,
    ownerId: `u_${hex(4)}`,
    name: 'CI “deploys”',
    scopes: ['deploy', 'invoices:read'],
    prefix: `lk_${id.slice(0, 8)}`,
    hash: hex(),
    metadata: { team: 'ops', limits: { perMinute: 60 } },
    createdAt: T0,
    expiresAt: null,
    lastUsedAt: null,
    revokedAt: null,
    changedAt: T0,
    ...overrides,
  };
}

export function describeApiKeyStoreContract(name: string, open: () => Promise<StoreHandle>, options: { skip?: boolean } = {}): void {
  describe.skipIf(options.skip ?? false)(`ApiKeyStore contract: ${name}`, () => {
    let handle: StoreHandle;
    let store: ApiKeyStore;
    const extra: Array<{ close(): Promise<void> }> = [];

    beforeEach(async () => {
      handle = await open();
      await handle.store.migrate();
      store = handle.store as unknown as ApiKeyStore;
    });

    afterEach(async () => {
      for (const s of extra.splice(0)) await s.close();
      await handle.dispose();
    });

    async function second(): Promise<ApiKeyStore | null> {
      if (!handle.reopen) return null;
      const s = await handle.reopen();
      extra.push(s);
      return s as unknown as ApiKeyStore;
    }

    it('stores a key and reads it back by id, exactly, in every state', async () => {
      const key = apiKeyRecord({ expiresAt: T0 + DAY });
      await store.insertApiKey(key);
      expect(await store.getApiKey(key.id)).toEqual(key);
      expect(await store.getApiKey('AAAAAAAAAAAAAAAA')).toBeNull();
      const revoked = await store.revokeApiKey(key.id, T0 + 5);
      expect(revoked).toEqual({ ...key, revokedAt: T0 + 5, changedAt: T0 + 5 });
      expect(await store.getApiKey(key.id)).toEqual(revoked);
    });

    it('refuses a second key with the same id or hash', async () => {
      const key = apiKeyRecord();
      await store.insertApiKey(key);
      await expect(store.insertApiKey(apiKeyRecord({ id: key.id }))).rejects.toThrow();
      await expect(store.insertApiKey(apiKeyRecord({ hash: key.hash }))).rejects.toThrow();
      expect(await store.getApiKey(key.id)).toEqual(key);
    });

    it("lists an owner's usable keys only, newest first", async () => {
      const owner = 'u_owner';
      const old = apiKeyRecord({ ownerId: owner, createdAt: T0 });
      const newer = apiKeyRecord({ ownerId: owner, createdAt: T0 + 10, expiresAt: T0 + DAY });
      const expired = apiKeyRecord({ ownerId: owner, createdAt: T0 + 20, expiresAt: T0 + 100 });
      const revoked = apiKeyRecord({ ownerId: owner, createdAt: T0 + 30 });
      const someoneElse = apiKeyRecord({ ownerId: 'u_other', createdAt: T0 + 40 });
      for (const k of [old, newer, expired, revoked, someoneElse]) await store.insertApiKey(k);
      await store.revokeApiKey(revoked.id, T0 + 50);
      expect(await store.listApiKeys(owner, T0 + 100)).toEqual([newer, old]);
      // Expiry is exclusive: a key expiring at `now` has expired.
      expect((await store.listApiKeys(owner, T0 + 99)).map((k) => k.id)).toEqual([expired.id, newer.id, old.id]);
      expect(await store.listApiKeys('u_nobody', T0)).toEqual([]);
    });

    it('revokes once: a second revocation, or of an unknown id, reports null and changes nothing', async () => {
      const key = apiKeyRecord();
      await store.insertApiKey(key);
      expect((await store.revokeApiKey(key.id, T0 + 5))?.revokedAt).toBe(T0 + 5);
      expect(await store.revokeApiKey(key.id, T0 + 6)).toBeNull();
      expect(await store.revokeApiKey('AAAAAAAAAAAAAAAA', T0 + 6)).toBeNull();
      expect((await store.getApiKey(key.id))?.revokedAt).toBe(T0 + 5);
    });

    it('rotates at once: the new key is stored and the old one revoked, in one step', async () => {
      const old = apiKeyRecord();
      await store.insertApiKey(old);
      const next = apiKeyRecord({ ownerId: old.ownerId, createdAt: T0 + 10, changedAt: T0 + 10 });
      expect(await store.rotateApiKey({ previousId: old.id, next, now: T0 + 10, previousExpiresAt: null })).toBe(true);
      expect(await store.getApiKey(next.id)).toEqual(next);
      expect(await store.getApiKey(old.id)).toEqual({ ...old, revokedAt: T0 + 10, changedAt: T0 + 10 });
    });

    it('rotates with an overlap: the old key expires then, never later than it would have', async () => {
      const forever = apiKeyRecord();
      const soon = apiKeyRecord({ expiresAt: T0 + 60_000 });
      await store.insertApiKey(forever);
      await store.insertApiKey(soon);
      expect(await store.rotateApiKey({ previousId: forever.id, next: apiKeyRecord(), now: T0 + 1, previousExpiresAt: T0 + 3_600_000 })).toBe(true);
      expect(await store.rotateApiKey({ previousId: soon.id, next: apiKeyRecord(), now: T0 + 1, previousExpiresAt: T0 + 3_600_000 })).toBe(true);
      expect(await store.getApiKey(forever.id)).toEqual({ ...forever, expiresAt: T0 + 3_600_000, changedAt: T0 + 1 });
      expect(await store.getApiKey(soon.id)).toEqual({ ...soon, expiresAt: T0 + 60_000, changedAt: T0 + 1 });
    });

    it('does not rotate a revoked, expired or unknown key, and then stores nothing', async () => {
      const revoked = apiKeyRecord();
      const expired = apiKeyRecord({ expiresAt: T0 + 10 });
      await store.insertApiKey(revoked);
      await store.insertApiKey(expired);
      await store.revokeApiKey(revoked.id, T0 + 1);
      for (const previousId of [revoked.id, expired.id, 'AAAAAAAAAAAAAAAA']) {
        const next = apiKeyRecord();
        expect(await store.rotateApiKey({ previousId, next, now: T0 + 10, previousExpiresAt: null })).toBe(false);
        expect(await store.getApiKey(next.id)).toBeNull();
      }
      expect((await store.getApiKey(expired.id))?.revokedAt).toBeNull();
    });

    it('a failed rotation (the new key collides) leaves the old key untouched', async () => {
      const old = apiKeyRecord();
      const other = apiKeyRecord();
      await store.insertApiKey(old);
      await store.insertApiKey(other);
      await expect(store.rotateApiKey({ previousId: old.id, next: apiKeyRecord({ hash: other.hash }), now: T0 + 1, previousExpiresAt: null })).rejects.toThrow();
      expect(await store.getApiKey(old.id)).toEqual(old);
    });

    it('two rotations of one key racing (on two handles where the backend has them): exactly one wins', async () => {
      const old = apiKeyRecord();
      await store.insertApiKey(old);
      const other = (await second()) ?? store;
      const [a, b] = [apiKeyRecord({ ownerId: old.ownerId }), apiKeyRecord({ ownerId: old.ownerId })];
      const results = await Promise.all([
        store.rotateApiKey({ previousId: old.id, next: a, now: T0 + 1, previousExpiresAt: null }),
        other.rotateApiKey({ previousId: old.id, next: b, now: T0 + 1, previousExpiresAt: null }),
      ]);
      expect(results.filter(Boolean)).toHaveLength(1);
      const stored = [await store.getApiKey(a.id), await store.getApiKey(b.id)].filter((k) => k !== null);
      expect(stored).toHaveLength(1);
    });

    it('records last uses, keeping the latest, skipping unknown ids', async () => {
      const a = apiKeyRecord();
      const b = apiKeyRecord();
      await store.insertApiKey(a);
      await store.insertApiKey(b);
      await store.touchApiKeys([]);
      await store.touchApiKeys([{ id: a.id, lastUsedAt: T0 + 100 }, { id: b.id, lastUsedAt: T0 + 50 }, { id: 'AAAAAAAAAAAAAAAA', lastUsedAt: T0 }]);
      await store.touchApiKeys([{ id: a.id, lastUsedAt: T0 + 80 }]);
      expect((await store.getApiKey(a.id))?.lastUsedAt).toBe(T0 + 100);
      expect((await store.getApiKey(b.id))?.lastUsedAt).toBe(T0 + 50);
      // A last use is not a change other instances must hear of.
      expect((await store.getApiKey(a.id))?.changedAt).toBe(T0);
    });

    it('lists keys revoked or re-dated since a time', async () => {
      const [a, b, c] = [apiKeyRecord(), apiKeyRecord(), apiKeyRecord()];
      for (const k of [a, b, c]) await store.insertApiKey(k);
      await store.revokeApiKey(a.id, T0 + 1000);
      await store.rotateApiKey({ previousId: b.id, next: apiKeyRecord({ changedAt: T0 + 2000 }), now: T0 + 2000, previousExpiresAt: T0 + 9000 });
      const all = await store.listApiKeysChangedSince(T0 + 1000);
      expect(all).toEqual(expect.arrayContaining([a.id, b.id]));
      expect(all).not.toContain(c.id);
      expect(await store.listApiKeysChangedSince(T0 + 1001)).toEqual(expect.arrayContaining([b.id]));
      expect(await store.listApiKeysChangedSince(T0 + 1001)).not.toContain(a.id);
      expect(await store.listApiKeysChangedSince(T0 + 2001)).not.toContain(b.id);
      expect(await store.listApiKeysChangedSince(T0 + 2001)).not.toContain(c.id);
    });

    it('keeps text and JSON exactly (unicode names, nested metadata, many scopes)', async () => {
      const key = apiKeyRecord({
        name: 'Zoë’s 🔑 export',
        scopes: Array.from({ length: 40 }, (_, i) => `scope:${i}`),
        metadata: { nested: { list: [1, 'two', null, true], deep: { x: 1.5 } }, emoji: '🔒' },
      });
      await store.insertApiKey(key);
      expect(await store.getApiKey(key.id)).toEqual(key);
    });
  });
}
