/** The service contract on PostgreSQL: a database of its own, named by LATCHKEY_STORE like production. */
import { postgresAvailable } from '../helpers/postgres.js';
import { describeServiceContract } from './contract.js';
import { startTestService, testClock } from './helpers.js';
import { createTestDatabase } from './pg-database.js';

const available = await postgresAvailable();

describeServiceContract(
  'PostgreSQL',
  async () => {
    const db = await createTestDatabase();
    const t = await startTestService({ clock: testClock(), env: { LATCHKEY_STORE: db.url } });
    return {
      ...t,
      async close() {
        await t.close();
        await db.drop();
      },
    };
  },
  { skip: !available, storeClass: 'PostgresStore' },
);
