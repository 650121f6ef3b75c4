/**
 * The ServiceKeyStore conformance suite: run against every store that keeps the standalone service's
 * own keys (memory, SQLite, PostgreSQL) on its real backend, beside the SessionStore contract. Each
 * case gets a fresh, empty store.
 */
import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ServiceKeyRecord, ServiceKeyStore } from 'latchkey';
import type { StoreHandle } from './contract.js';

const T0 = 1_800_000_000_000;
const hex = (bytes = 32) => randomBytes(bytes).toString('hex');

export function describeServiceKeyStoreContract(name: string, open: () => Promise<StoreHandle>, options: { skip?: boolean } = {}): void {
  describe.skipIf(options.skip ?? false)(`ServiceKeyStore contract: ${name}`, () => {
    let handle: StoreHandle;
    let store: ServiceKeyStore;

    beforeEach(async () => {
      handle = await open();
      await handle.store.migrate();
      store = handle.store as unknown as ServiceKeyStore;
    });

    afterEach(async () => {
      await handle.dispose();
    });

    it('stores, finds by hash, lists oldest first, and revokes once', async () => {
      const a: ServiceKeyRecord = { id: `ak_${hex(4)}`, name: 'ci', hash: hex(), createdAt: T0 + 2, revokedAt: null };
      const b: ServiceKeyRecord = { id: `ak_${hex(4)}`, name: 'ops “team”', hash: hex(), createdAt: T0 + 1, revokedAt: null };
      await store.insertServiceKey(a);
      await store.insertServiceKey(b);
      expect(await store.findServiceKeyByHash(a.hash)).toEqual(a);
      expect(await store.findServiceKeyByHash(hex())).toBeNull();
      expect(await store.listServiceKeys()).toEqual([b, a]);
      expect(await store.revokeServiceKey(a.id, T0 + 5)).toBe(true);
      expect(await store.revokeServiceKey(a.id, T0 + 6)).toBe(false);
      expect(await store.revokeServiceKey('ak_missing', T0)).toBe(false);
      expect(await store.findServiceKeyByHash(a.hash)).toEqual({ ...a, revokedAt: T0 + 5 });
    });
  });
}
