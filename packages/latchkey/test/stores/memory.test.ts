/** The store contract on the in-memory store. */
import { memoryStore } from 'latchkey/stores/memory';
import { describeStoreContract } from './contract.js';

describeStoreContract('memory', async () => {
  const store = memoryStore();
  return { store, dispose: () => store.close() };
});
