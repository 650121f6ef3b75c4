/**
 * Service contract v1.1 renamed the service's own credentials "service keys": the schema migration
 * renames their table. A key stored before the upgrade must still be found afterwards (no data loss),
 * on SQLite and PostgreSQL, from a database left at schema version 1.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { postgresStore } from 'latchkey/stores/postgres';
import { sqliteStore } from 'latchkey/stores/sqlite';
import { POSTGRES_MIGRATIONS } from '../../src/stores/postgres/migrations.js';
import { SQLITE_MIGRATIONS } from '../../src/stores/sqlite/migrations.js';
import { dropSchema, PG_URL, pgExec, postgresAvailable, uniqueName } from '../helpers/postgres.js';

const available = await postgresAvailable();
const KEY = { id: 'ak_before', name: 'billing', hash: 'ab'.repeat(32), created_at: 1_800_000_000_000 };

describe('service keys survive the v1.1 migration', () => {
  it('on SQLite', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'latchkey-migrate-'));
    const path = join(dir, 'db.sqlite');
    try {
      // A database as version 1 left it (later migrations touch other tables too: the whole schema).
      const db = new Database(path);
      db.exec(`CREATE TABLE latchkey_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL);
               INSERT INTO latchkey_migrations VALUES (1, 0);`);
      db.exec(SQLITE_MIGRATIONS[0]!);
      db.prepare('INSERT INTO latchkey_api_keys VALUES (?, ?, ?, ?, NULL)').run(KEY.id, KEY.name, KEY.hash, KEY.created_at);
      db.close();
      const store = sqliteStore({ path });
      await store.migrate();
      expect(await store.findServiceKeyByHash(KEY.hash)).toEqual({ id: KEY.id, name: KEY.name, hash: KEY.hash, createdAt: KEY.created_at, revokedAt: null });
      expect(await store.listApiKeys('anyone', 0)).toEqual([]);
      await store.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it.skipIf(!available)('on PostgreSQL', async () => {
    const schema = uniqueName('lk_migrate');
    try {
      await pgExec(`CREATE SCHEMA ${schema}`);
      await pgExec(`CREATE TABLE ${schema}.latchkey_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)`);
      await pgExec(`INSERT INTO ${schema}.latchkey_migrations VALUES (1, 0)`);
      // The whole version-1 schema: later migrations touch other tables too.
      await pgExec(POSTGRES_MIGRATIONS[0]!(schema));
      await pgExec(`INSERT INTO ${schema}.latchkey_api_keys VALUES ($1, $2, $3, $4, NULL)`, [KEY.id, KEY.name, KEY.hash, KEY.created_at]);
      const store = postgresStore({ connectionString: PG_URL, schema, max: 2 });
      await store.migrate();
      expect(await store.findServiceKeyByHash(KEY.hash)).toEqual({ id: KEY.id, name: KEY.name, hash: KEY.hash, createdAt: KEY.created_at, revokedAt: null });
      expect(await store.listApiKeys('anyone', 0)).toEqual([]);
      await store.close();
    } finally {
      await dropSchema(schema);
    }
  });
});
