/**
 * The store contracts on SQLite, in a temporary file so that a second connection can share it: the
 * shipped conformance kit (latchkey/stores), run by vitest.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'vitest';
import { runApiKeyStoreContract, runServiceKeyStoreContract, runSessionStoreContract, type StoreContractTarget } from 'latchkey/stores';
import { sqliteStore, type SqliteStore } from 'latchkey/stores/sqlite';

const runner = { describe, it, beforeEach, afterEach };
/** Each store's database file. */
const files = new WeakMap<SqliteStore, string>();
const target: StoreContractTarget<SqliteStore> = {
  name: 'SQLite',
  create: async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'latchkey-contract-')), 'latchkey.db');
    const store = sqliteStore({ path });
    files.set(store, path);
    return store;
  },
  reopen: async (store) => sqliteStore({ path: files.get(store)! }),
  destroy: async (store) => {
    await store.close();
    rmSync(join(files.get(store)!, '..'), { recursive: true, force: true });
  },
};

runSessionStoreContract(runner, target);
runApiKeyStoreContract(runner, target);
runServiceKeyStoreContract(runner, target);
