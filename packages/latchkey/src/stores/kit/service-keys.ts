/**
 * The ServiceKeyStore conformance suite: run against every store that keeps the standalone service's
 * own keys, on its real backend, beside the SessionStore suite. Only a store the service or the CLI
 * runs on needs it. Each case gets a fresh, empty store. Written on `node:assert/strict` only, so any
 * test runner can run it (see docs/custom-stores.md).
 */
import * as assert from 'node:assert/strict';
import type { ServiceKeyRecord, ServiceKeyStore } from '../types.js';
import { equal } from './assert.js';
import { FIXTURE_T0 as T0, hex } from './fixtures.js';
import { openCase, type ContractCase, type StoreContractTarget, type StoreContractTestApi } from './harness.js';

/**
 * Registers the ServiceKeyStore conformance suite for one store with the given test runner.
 *
 * @example
 * runServiceKeyStoreContract({ describe, it, beforeEach, afterEach }, { name: 'MySQL', create, destroy });
 */
export function runServiceKeyStoreContract<S extends ServiceKeyStore>(test: StoreContractTestApi, target: StoreContractTarget<S>): void {
  const { describe, it, beforeEach, afterEach } = test;
  describe(`ServiceKeyStore contract: ${target.name}`, () => {
    let handle: ContractCase<S>;
    let store: S;

    beforeEach(async () => {
      handle = await openCase(target);
      await handle.store.migrate();
      store = handle.store;
    });

    afterEach(async () => {
      await handle.dispose();
    });

    it('stores, finds by hash, lists oldest first, and revokes once', async () => {
      const a: ServiceKeyRecord = { id: `ak_${hex(4)}`, name: 'ci', hash: hex(), createdAt: T0 + 2, revokedAt: null };
      const b: ServiceKeyRecord = { id: `ak_${hex(4)}`, name: 'ops “team”', hash: hex(), createdAt: T0 + 1, revokedAt: null };
      await store.insertServiceKey(a);
      await store.insertServiceKey(b);
      equal(await store.findServiceKeyByHash(a.hash), a);
      assert.equal(await store.findServiceKeyByHash(hex()), null);
      equal(await store.listServiceKeys(), [b, a]);
      assert.equal(await store.revokeServiceKey(a.id, T0 + 5), true);
      assert.equal(await store.revokeServiceKey(a.id, T0 + 6), false);
      assert.equal(await store.revokeServiceKey('ak_missing', T0), false);
      equal(await store.findServiceKeyByHash(a.hash), { ...a, revokedAt: T0 + 5 });
    });
  });
}
