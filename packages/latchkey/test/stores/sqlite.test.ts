/** The store contract on SQLite, in a temporary file so that a second connection can share it. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sqliteStore } from 'latchkey/stores/sqlite';
import { describeApiKeyStoreContract } from './api-key-contract.js';
import { describeStoreContract, type StoreHandle } from './contract.js';
import { describeServiceKeyStoreContract } from './service-key-contract.js';

const open = async (): Promise<StoreHandle> => {
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-contract-'));
  const path = join(dir, 'latchkey.db');
  const store = sqliteStore({ path });
  return {
    store,
    reopen: async () => sqliteStore({ path }),
    dispose: async () => {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
};

describeStoreContract('SQLite', open);
describeApiKeyStoreContract('SQLite', open);
describeServiceKeyStoreContract('SQLite', open);
