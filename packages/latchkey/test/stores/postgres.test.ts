/** The store contract on the shared PostgreSQL server, each case in a schema of its own. */
import { postgresStore } from 'latchkey/stores/postgres';
import { dropSchema, PG_URL, postgresAvailable, uniqueName } from '../helpers/postgres.js';
import { describeApiKeyStoreContract } from './api-key-contract.js';
import { describeStoreContract, type StoreHandle } from './contract.js';
import { describeServiceKeyStoreContract } from './service-key-contract.js';

const available = await postgresAvailable();

const open = async (): Promise<StoreHandle> => {
  const schema = uniqueName('lk_contract');
  const store = postgresStore({ connectionString: PG_URL, schema, max: 8 });
  return {
    store,
    reopen: async () => postgresStore({ connectionString: PG_URL, schema, max: 8 }),
    dispose: async () => {
      await store.close();
      await dropSchema(schema);
    },
  };
};

describeStoreContract('PostgreSQL', open, { skip: !available });
describeApiKeyStoreContract('PostgreSQL', open, { skip: !available });
describeServiceKeyStoreContract('PostgreSQL', open, { skip: !available });
