/** The store contract on the in-memory store. */
import { memoryStore } from 'latchkey/stores/memory';
import { describeApiKeyStoreContract } from './api-key-contract.js';
import { describeStoreContract, type StoreHandle } from './contract.js';
import { describeServiceKeyStoreContract } from './service-key-contract.js';

const open = async (): Promise<StoreHandle> => {
  const store = memoryStore();
  return { store, dispose: () => store.close() };
};

describeStoreContract('memory', open);
describeApiKeyStoreContract('memory', open);
describeServiceKeyStoreContract('memory', open);
