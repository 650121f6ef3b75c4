/**
 * The store contracts on the shared PostgreSQL server, each case in a schema of its own: the shipped
 * conformance kit (latchkey/stores), run by vitest.
 */
import { afterEach, beforeEach, describe, it } from 'vitest';
import { runApiKeyStoreContract, runServiceKeyStoreContract, runSessionStoreContract, type StoreContractTarget } from 'latchkey/stores';
import { postgresStore, type PostgresStore } from 'latchkey/stores/postgres';
import { dropSchema, PG_URL, postgresAvailable, uniqueName } from '../helpers/postgres.js';

const available = await postgresAvailable();

const runner = { describe, it, beforeEach, afterEach };
/** Each store's schema. */
const schemas = new WeakMap<PostgresStore, string>();
const open = (schema: string) => {
  const store = postgresStore({ connectionString: PG_URL, schema, max: 8 });
  schemas.set(store, schema);
  return store;
};
const target: StoreContractTarget<PostgresStore> = {
  name: 'PostgreSQL',
  create: async () => open(uniqueName('lk_contract')),
  reopen: async (store) => open(schemas.get(store)!),
  destroy: async (store) => {
    await store.close();
    await dropSchema(schemas.get(store)!);
  },
};

describe.skipIf(!available)('PostgreSQL', () => {
  runSessionStoreContract(runner, target);
  runApiKeyStoreContract(runner, target);
  runServiceKeyStoreContract(runner, target);
});
