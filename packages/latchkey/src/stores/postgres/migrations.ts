/**
 * The PostgreSQL schema, as versioned migrations applied in order, each exactly once.
 *
 * Never edit a released migration: add the next one. `migrate()` runs them in one transaction under
 * a transaction-scoped advisory lock, so a fleet of instances starting together applies each
 * migration once (the others wait, then find nothing to do) and a failure leaves the schema as it was
 * (PostgreSQL DDL is transactional).
 *
 * Times are BIGINT milliseconds since the epoch, like every store; JSON is JSONB.
 */
import type { Tx } from './runner.js';

/** `s` is the quoted schema name. Exported for the upgrade tests, which build a database at an older version. */
export const POSTGRES_MIGRATIONS: ReadonlyArray<(s: string) => string> = [
  (s) => `
    CREATE TABLE ${s}.latchkey_sessions (
      id TEXT PRIMARY KEY,
      user_id TEXT NOT NULL,
      created_at BIGINT NOT NULL,
      last_active_at BIGINT NOT NULL,
      idle_expires_at BIGINT NOT NULL,
      absolute_expires_at BIGINT NOT NULL,
      auth_time BIGINT NOT NULL,
      device JSONB NOT NULL,
      data JSONB NOT NULL,
      access_claims JSONB NOT NULL,
      id_claims JSONB NOT NULL,
      revoked_at BIGINT,
      revoked_reason TEXT,
      current_refresh_hash TEXT NOT NULL UNIQUE,
      previous_refresh_hash TEXT,
      rotated_at BIGINT,
      generation INTEGER NOT NULL
    );
    CREATE INDEX latchkey_sessions_user ON ${s}.latchkey_sessions (user_id);
    -- Catch-up after a bus outage reads recent revocations; only revoked rows are indexed.
    CREATE INDEX latchkey_sessions_revoked ON ${s}.latchkey_sessions (revoked_at) WHERE revoked_at IS NOT NULL;

    CREATE TABLE ${s}.latchkey_refresh_tokens (
      hash TEXT PRIMARY KEY,
      session_id TEXT NOT NULL REFERENCES ${s}.latchkey_sessions (id) ON DELETE CASCADE,
      generation INTEGER NOT NULL,
      created_at BIGINT NOT NULL,
      -- Defence in depth under the row lock: one token per generation, so the database itself
      -- refuses a second successor of the same parent.
      UNIQUE (session_id, generation)
    );

    CREATE TABLE ${s}.latchkey_signing_keys (
      kid TEXT PRIMARY KEY,
      alg TEXT NOT NULL,
      -- Unique: when several instances race to create the next key, exactly one insert wins.
      generation INTEGER NOT NULL UNIQUE,
      public_jwk JSONB NOT NULL,
      private_key_encrypted TEXT NOT NULL,
      created_at BIGINT NOT NULL,
      activates_at BIGINT NOT NULL
    );

    CREATE TABLE ${s}.latchkey_api_keys (
      id TEXT PRIMARY KEY,
      name TEXT NOT NULL,
      hash TEXT NOT NULL UNIQUE,
      created_at BIGINT NOT NULL,
      revoked_at BIGINT
    );`,
  // Deployment-wide settings that every instance sharing the store must agree on (the issuer).
  (s) => `
    CREATE TABLE ${s}.latchkey_settings (
      name TEXT PRIMARY KEY,
      value TEXT NOT NULL,
      updated_at BIGINT NOT NULL
    );`,
  // v3: the service's own credentials are "service keys" (service contract v1.1); the rename keeps
  // every stored key working. User API keys get a table of their own.
  (s) => `
    ALTER TABLE ${s}.latchkey_api_keys RENAME TO latchkey_service_keys;
    CREATE TABLE ${s}.latchkey_user_api_keys (
      id TEXT PRIMARY KEY,
      owner_id TEXT NOT NULL,
      name TEXT NOT NULL,
      scopes JSONB NOT NULL,
      prefix TEXT NOT NULL,
      hash TEXT NOT NULL UNIQUE,
      metadata JSONB NOT NULL,
      created_at BIGINT NOT NULL,
      expires_at BIGINT,
      last_used_at BIGINT,
      revoked_at BIGINT,
      changed_at BIGINT NOT NULL
    );
    CREATE INDEX latchkey_user_api_keys_owner ON ${s}.latchkey_user_api_keys (owner_id);
    -- Instances that missed a bus message poll for keys revoked or re-dated since their last look.
    CREATE INDEX latchkey_user_api_keys_changed ON ${s}.latchkey_user_api_keys (changed_at);`,
  // v4: device-bound sessions (DPoP, DBSC): the key a session is bound to, NULL for bearer sessions.
  (s) => `ALTER TABLE ${s}.latchkey_sessions ADD COLUMN binding JSONB;`,
  // v5: claims epochs (issue 16), so that an instance that missed one on the bus learns it at catch-up.
  (s) => `
    CREATE TABLE ${s}.latchkey_claims_epochs (
      kind TEXT NOT NULL,
      id TEXT NOT NULL,
      at BIGINT NOT NULL,
      PRIMARY KEY (kind, id)
    );
    CREATE INDEX latchkey_claims_epochs_at ON ${s}.latchkey_claims_epochs (at);`,
];

/** The newest schema version this code knows. */
export const SCHEMA_VERSION = POSTGRES_MIGRATIONS.length;

/** The applied version, or 0 when latchkey's tables do not exist yet. Needs no privilege beyond SELECT. */
export async function appliedVersion(tx: Tx, schema: string): Promise<number> {
  const { rows: exists } = await tx.query<{ t: string | null }>('SELECT to_regclass($1) AS t', [`${schema}.latchkey_migrations`]);
  if (!exists[0]?.t) return 0;
  const { rows } = await tx.query<{ v: number | null }>(`SELECT MAX(version) AS v FROM ${schema}.latchkey_migrations`);
  return rows[0]?.v ?? 0;
}

/**
 * Applies every pending migration, inside the caller's transaction. `lockKey` identifies the schema,
 * so migrations of unrelated schemas on one server never wait for each other.
 *
 * An up-to-date schema is recognised with plain reads first, without the lock or any DDL: instances
 * start without queueing behind each other, and the app's role needs no CREATE privilege once an
 * owner role has migrated (e.g. with `latchkey migrate`).
 */
export async function applyMigrations(tx: Tx, schema: string, lockKey: string): Promise<{ applied: number[]; version: number }> {
  const current = await appliedVersion(tx, schema);
  if (current > POSTGRES_MIGRATIONS.length) throw newerSchema(current);
  if (current === POSTGRES_MIGRATIONS.length) return { applied: [], version: current };

  // Held until COMMIT: concurrent instances serialise here, then see what the winner applied.
  await tx.query('SELECT pg_advisory_xact_lock(hashtext($1))', [lockKey]);
  const { rows: schemaExists } = await tx.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [unquote(schema)]);
  // Only when missing: CREATE SCHEMA checks the database CREATE privilege even with IF NOT EXISTS.
  if (schemaExists.length === 0) await tx.query(`CREATE SCHEMA ${schema}`);
  await tx.query(`CREATE TABLE IF NOT EXISTS ${schema}.latchkey_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)`);
  const applied = await appliedVersion(tx, schema);
  if (applied > POSTGRES_MIGRATIONS.length) throw newerSchema(applied);
  const done: number[] = [];
  for (let version = applied + 1; version <= POSTGRES_MIGRATIONS.length; version++) {
    await tx.query(POSTGRES_MIGRATIONS[version - 1]!(schema));
    await tx.query(`INSERT INTO ${schema}.latchkey_migrations (version, applied_at) VALUES ($1, $2)`, [version, Date.now()]);
    done.push(version);
  }
  // Another instance may have applied some while this one waited for the lock: only ours are reported.
  return { applied: done, version: POSTGRES_MIGRATIONS.length };
}

/** A newer release migrated this database; running older code against it could corrupt it. */
function newerSchema(version: number): Error {
  return new Error(`latchkey: the database schema is at version ${version}, newer than this release knows (${POSTGRES_MIGRATIONS.length}); upgrade latchkey`);
}

/** `"name"` to `name` (the store only accepts plain identifiers, so no embedded quotes). */
function unquote(quoted: string): string {
  return quoted.replace(/^"|"$/g, '');
}
