/** Runs the AuditStore contract on the memory store, SQLite (a real file) and PostgreSQL (a schema of its own). */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { MemoryAuditStore } from 'latchkey/audit';
import { SqliteAuditStore } from 'latchkey/audit/sqlite';
import { PostgresAuditStore } from 'latchkey/audit/postgres';
import { dropSchema, PG_URL, pgExec, postgresAvailable, uniqueName } from '../helpers/postgres.js';
import { auditStoreContract } from './contract.js';

auditStoreContract('memory', () => {
  const store = new MemoryAuditStore();
  return Promise.resolve({ store, dispose: () => store.close() });
});

auditStoreContract('SQLite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'lk-audit-'));
  const store = await SqliteAuditStore.open({ path: join(dir, 'audit.db') });
  return {
    store,
    dispose: async () => {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

const pgUp = await postgresAvailable();
if (pgUp) {
  auditStoreContract('PostgreSQL', async () => {
    const schema = uniqueName('lk_audit');
    await pgExec(`CREATE SCHEMA ${schema}`);
    const pool = new pg.Pool({ connectionString: PG_URL, max: 2 });
    const store = new PostgresAuditStore({ pool, schema });
    return {
      store,
      dispose: async () => {
        await store.close();
        await pool.end();
        await dropSchema(schema);
      },
    };
  });
}
