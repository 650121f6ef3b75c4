/** The store contracts on the in-memory store: the shipped conformance kit (latchkey/stores), run by vitest. */
import { afterEach, beforeEach, describe, it } from 'vitest';
import { runApiKeyStoreContract, runServiceKeyStoreContract, runSessionStoreContract, type StoreContractTarget } from 'latchkey/stores';
import { memoryStore, type MemoryStore } from 'latchkey/stores/memory';

const runner = { describe, it, beforeEach, afterEach };
const target: StoreContractTarget<MemoryStore> = {
  name: 'memory',
  create: async () => memoryStore(),
  destroy: (store) => store.close(),
};

runSessionStoreContract(runner, target);
runApiKeyStoreContract(runner, target);
runServiceKeyStoreContract(runner, target);
