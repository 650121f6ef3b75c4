/**
 * The SQLite schema, as versioned migrations applied in order, each exactly once (stores/sqlite.ts
 * runs the pending ones in one `BEGIN IMMEDIATE` transaction and records each in
 * `latchkey_migrations`, so a crash leaves the schema as it was).
 *
 * Never edit a released migration: add the next one, and a test that upgrades a database left at the
 * previous version (test/stores/sqlite-migrations.test.ts). Times are INTEGER milliseconds since the
 * epoch, like every store; JSON is TEXT.
 */
export const SQLITE_MIGRATIONS: readonly string[] = [
  `CREATE TABLE latchkey_sessions (
     id TEXT PRIMARY KEY,
     user_id TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     last_active_at INTEGER NOT NULL,
     idle_expires_at INTEGER NOT NULL,
     absolute_expires_at INTEGER NOT NULL,
     auth_time INTEGER NOT NULL,
     device TEXT NOT NULL,
     data TEXT NOT NULL,
     access_claims TEXT NOT NULL,
     id_claims TEXT NOT NULL,
     revoked_at INTEGER,
     revoked_reason TEXT,
     current_refresh_hash TEXT NOT NULL UNIQUE,
     previous_refresh_hash TEXT,
     rotated_at INTEGER,
     generation INTEGER NOT NULL
   );
   CREATE INDEX latchkey_sessions_user ON latchkey_sessions (user_id);
   CREATE INDEX latchkey_sessions_revoked ON latchkey_sessions (revoked_at) WHERE revoked_at IS NOT NULL;
   CREATE TABLE latchkey_refresh_tokens (
     hash TEXT PRIMARY KEY,
     session_id TEXT NOT NULL REFERENCES latchkey_sessions (id) ON DELETE CASCADE,
     generation INTEGER NOT NULL,
     created_at INTEGER NOT NULL
   );
   CREATE INDEX latchkey_refresh_tokens_session ON latchkey_refresh_tokens (session_id);
   CREATE TABLE latchkey_signing_keys (
     kid TEXT PRIMARY KEY,
     alg TEXT NOT NULL,
     generation INTEGER NOT NULL UNIQUE,
     public_jwk TEXT NOT NULL,
     private_key_encrypted TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     activates_at INTEGER NOT NULL
   );
   CREATE TABLE latchkey_api_keys (
     id TEXT PRIMARY KEY,
     name TEXT NOT NULL,
     hash TEXT NOT NULL UNIQUE,
     created_at INTEGER NOT NULL,
     revoked_at INTEGER
   );`,
  // v2: the standalone service's own credentials are "service keys" (service contract v1.1); the
  // rename keeps every stored key working. User API keys get a table of their own.
  `ALTER TABLE latchkey_api_keys RENAME TO latchkey_service_keys;
   CREATE TABLE latchkey_user_api_keys (
     id TEXT PRIMARY KEY,
     owner_id TEXT NOT NULL,
     name TEXT NOT NULL,
     scopes TEXT NOT NULL,
     prefix TEXT NOT NULL,
     hash TEXT NOT NULL UNIQUE,
     metadata TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     expires_at INTEGER,
     last_used_at INTEGER,
     revoked_at INTEGER,
     changed_at INTEGER NOT NULL
   );
   CREATE INDEX latchkey_user_api_keys_owner ON latchkey_user_api_keys (owner_id);
   CREATE INDEX latchkey_user_api_keys_changed ON latchkey_user_api_keys (changed_at);`,
  // v3: device-bound sessions (DPoP, DBSC): the key a session is bound to, JSON, NULL for bearer sessions.
  `ALTER TABLE latchkey_sessions ADD COLUMN binding TEXT;`,
  // v4: one refresh token per (session, generation), as the PostgreSQL schema has had from its first
  // version: defence in depth under the write lock, so that the database itself refuses a second
  // successor of the same parent. A unique index is SQLite's way to add the constraint to an existing
  // table; it also serves every lookup by session id, so the plain index on that column goes.
  `CREATE UNIQUE INDEX latchkey_refresh_tokens_session_generation ON latchkey_refresh_tokens (session_id, generation);
   DROP INDEX latchkey_refresh_tokens_session;`,
  // v5: fewer B-trees written per refresh (issue 18: a store with 100 000 sessions refreshed at 0.61-0.84x
  // the rate of an empty one, because every refresh wrote into five B-trees, three of them at random keys).
  // - `current_refresh_hash` loses its UNIQUE index: nothing looks a session up by it (the
  //   compare-and-swap finds the row by `id`), and every hash is already unique as the refresh-token
  //   table's primary key. The index cost a random delete and a random insert per refresh.
  // - `latchkey_refresh_tokens` is stored WITHOUT ROWID: the hash is the table, one B-tree instead of a
  //   rowid table plus its primary-key index.
  // Both need a table rebuild (SQLite cannot drop a column constraint), done the way SQLite documents
  // it: new tables, copy, drop, rename, with foreign keys off for the migration (stores/sqlite.ts
  // migrate() does that and checks them before committing).
  `CREATE TABLE latchkey_sessions_v5 (
     id TEXT PRIMARY KEY,
     user_id TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     last_active_at INTEGER NOT NULL,
     idle_expires_at INTEGER NOT NULL,
     absolute_expires_at INTEGER NOT NULL,
     auth_time INTEGER NOT NULL,
     device TEXT NOT NULL,
     data TEXT NOT NULL,
     access_claims TEXT NOT NULL,
     id_claims TEXT NOT NULL,
     revoked_at INTEGER,
     revoked_reason TEXT,
     current_refresh_hash TEXT NOT NULL,
     previous_refresh_hash TEXT,
     rotated_at INTEGER,
     generation INTEGER NOT NULL,
     binding TEXT
   );
   INSERT INTO latchkey_sessions_v5 (id, user_id, created_at, last_active_at, idle_expires_at, absolute_expires_at,
       auth_time, device, data, access_claims, id_claims, revoked_at, revoked_reason, current_refresh_hash,
       previous_refresh_hash, rotated_at, generation, binding)
     SELECT id, user_id, created_at, last_active_at, idle_expires_at, absolute_expires_at,
       auth_time, device, data, access_claims, id_claims, revoked_at, revoked_reason, current_refresh_hash,
       previous_refresh_hash, rotated_at, generation, binding
     FROM latchkey_sessions;
   CREATE TABLE latchkey_refresh_tokens_v5 (
     hash TEXT PRIMARY KEY,
     session_id TEXT NOT NULL REFERENCES latchkey_sessions (id) ON DELETE CASCADE,
     generation INTEGER NOT NULL,
     created_at INTEGER NOT NULL
   ) WITHOUT ROWID;
   -- A token whose session is gone (only a writer behind the store's back can leave one) could never
   -- refresh: it is not carried over, so the foreign-key check before the commit passes.
   INSERT INTO latchkey_refresh_tokens_v5 (hash, session_id, generation, created_at)
     SELECT hash, session_id, generation, created_at FROM latchkey_refresh_tokens
     WHERE session_id IN (SELECT id FROM latchkey_sessions);
   DROP TABLE latchkey_refresh_tokens;
   DROP TABLE latchkey_sessions;
   ALTER TABLE latchkey_sessions_v5 RENAME TO latchkey_sessions;
   ALTER TABLE latchkey_refresh_tokens_v5 RENAME TO latchkey_refresh_tokens;
   CREATE INDEX latchkey_sessions_user ON latchkey_sessions (user_id);
   CREATE INDEX latchkey_sessions_revoked ON latchkey_sessions (revoked_at) WHERE revoked_at IS NOT NULL;
   CREATE UNIQUE INDEX latchkey_refresh_tokens_session_generation ON latchkey_refresh_tokens (session_id, generation);`,
  // v6: claims epochs (issue 16), so that an instance that missed one on the bus learns it at catch-up.
  `CREATE TABLE latchkey_claims_epochs (
     kind TEXT NOT NULL,
     id TEXT NOT NULL,
     at INTEGER NOT NULL,
     PRIMARY KEY (kind, id)
   ) WITHOUT ROWID;
   CREATE INDEX latchkey_claims_epochs_at ON latchkey_claims_epochs (at);`,
];
