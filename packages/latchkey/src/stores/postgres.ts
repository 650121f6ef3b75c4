/**
 * The PostgreSQL store: the shared source of truth for any number of stateless latchkey instances.
 *
 * Each ATOMIC method of the contract is one statement or one transaction. The one that needs care is
 * refresh rotation: it reads the session, decides (with the shared {@link decideRotation}) and writes.
 * It runs at READ COMMITTED with the session row locked (`SELECT ... FOR UPDATE`), so two instances
 * presenting the same token serialise on that row: the second sees the first one's committed rotation
 * and gets the grace answer instead of minting a second successor, and a theft revocation and a
 * concurrent refresh cannot both win. The write is also a compare-and-swap on
 * `current_refresh_hash`, and the schema allows one token per (session, generation): three
 * independent guards on the one invariant that matters most.
 *
 * Unreachable or hung servers surface as `StoreUnavailableError` within `operationTimeoutMs`
 * (see postgres/runner.ts); the pool replaces broken connections by itself when the server returns.
 *
 * @example
 * import { postgresStore } from 'latchkey/stores/postgres';
 * const latchkey = await createLatchkey({ issuer, store: postgresStore({ connectionString: process.env.DATABASE_URL }) });
 */
import type pg from 'pg';
import { importPeer } from '../util/peer.js';
import { decideRotation, successorTokenRecord } from '../refresh/decide.js';
import type { RevocationReason } from '../types.js';
import { needsHostSelection, parseHostList } from './postgres/host-list.js';
import { hostSelectingClient } from './postgres/hosts.js';
import { applyMigrations, appliedVersion } from './postgres/migrations.js';
import { PgRunner } from './postgres/runner.js';
import {
  API_KEY_COLUMNS,
  apiKeyFromRow,
  apiKeyToValues,
  refreshTokenFromRow,
  revocationFromRow,
  serviceKeyFromRow,
  SESSION_COLUMNS,
  sessionFromRow,
  sessionToValues,
  signingKeyFromRow,
} from './sql/rows.js';
import type {
  ClaimsEpochRecord,
  ApiKeyRecord,
  ApiKeyStore,
  CleanupResult,
  MigrationReport,
  NewSession,
  Revocation,
  RotateApiKeyInput,
  RotateRefreshInput,
  RotateRefreshOutcome,
  SessionBinding,
  SessionPatch,
  SessionRecord,
  ServiceKeyRecord,
  ServiceKeyStore,
  SessionStore,
  SigningKeyRecord,
  UpdateSessionOptions,
} from './types.js';
import { patchedSession } from './patch.js';

/** The `pg` driver, an optional peer dependency: a missing one is a typed error naming it. */
const { default: pgDriver } = await importPeer(() => import('pg'), 'pg', 'latchkey/stores/postgres');

export interface PostgresStoreOptions {
  /**
   * `postgres://user:password@host:5432/db?sslmode=...`. Required unless `pool` is given. Several
   * hosts (`db1:5432,db2:5432`) with `target_session_attrs=read-write` follow a primary/replica
   * failover: each new connection goes to the host that last worked, and moves on from one that
   * refuses or is read-only (see postgres/hosts.ts; node-postgres itself reads one host only).
   */
  connectionString?: string | undefined;
  /**
   * A pool you own (for custom TLS, IAM auth, or sharing a pool with the app). latchkey never ends
   * it; `max`, `connectionTimeoutMs` and `statementTimeoutMs` do not apply to it (configure them on
   * the pool; `operationTimeoutMs` still bounds every call). Default: a pool latchkey creates and ends.
   */
  pool?: pg.Pool | undefined;
  /**
   * Schema holding latchkey's tables, created by `migrate()` if missing. Default `'public'`. A
   * dedicated schema keeps latchkey's tables apart from the app's and lets tests run side by side.
   */
  schema?: string | undefined;
  /**
   * Most connections this instance opens. Default 10 (pg's default): a refresh holds a connection
   * for a few round trips, so 10 serve thousands of refreshes per second. Instances × max must stay
   * below the server's `max_connections` (or the pooler's limit).
   */
  max?: number | undefined;
  /**
   * Deadline for every store call, ms, from the wait for a connection to the last reply. Past it the
   * call fails with `STORE_UNAVAILABLE` instead of hanging on a dead server or network. Default 2000:
   * far above a healthy call (a few ms), short enough that a request fails while its client waits.
   */
  operationTimeoutMs?: number | undefined;
  /** Time allowed to open one new connection, ms. Default: `operationTimeoutMs`. */
  connectionTimeoutMs?: number | undefined;
  /**
   * Server-side `statement_timeout`, ms: the server cancels a statement (or a lock wait) that runs
   * longer, so a stuck call cannot keep rows locked after its client gave up. Default: `operationTimeoutMs`.
   */
  statementTimeoutMs?: number | undefined;
  /** Idle pooled connections are closed after this many ms. Default 10 000. */
  idleTimeoutMs?: number | undefined;
  /**
   * Set when `connectionString` goes through a transaction-mode pooler (PgBouncer
   * `pool_mode=transaction`, RDS Proxy). Default false. Such a pooler refuses the session settings
   * latchkey otherwise sends when it connects (`statement_timeout`,
   * `idle_in_transaction_session_timeout`: PgBouncer answers "unsupported startup parameter"), and a
   * session setting would leak to whichever client gets the server connection next. With it set,
   * none are sent: give the role its server-side timeouts instead (`ALTER ROLE latchkey_app SET
   * statement_timeout = '2s'`, see docs/deployment.md). Everything else works unchanged: every
   * statement is one unnamed prepared statement, every lock (row locks, the migration lock) is
   * transaction-scoped, and nothing depends on the server session outliving a transaction.
   */
  transactionPooler?: boolean | undefined;
  /**
   * Told about errors on idle pooled connections (a server restart closes them all). They need no
   * action: the pool drops the connection and the next call opens a new one. Default: ignored.
   */
  onConnectionError?: ((error: Error) => void) | undefined;
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

function positive(name: string, value: number | undefined, fallback: number): number {
  const v = value ?? fallback;
  if (!Number.isInteger(v) || v <= 0) throw new TypeError(`postgresStore option ${name} must be a positive integer`);
  return v;
}

export class PostgresStore implements SessionStore, ApiKeyStore, ServiceKeyStore {
  readonly #pool: pg.Pool;
  readonly #ownsPool: boolean;
  readonly #db: PgRunner;
  readonly #schemaName: string;
  readonly #onPoolError: (error: Error) => void;
  /** Quoted, schema-qualified table names. */
  readonly #t: { sessions: string; tokens: string; keys: string; serviceKeys: string; apiKeys: string; settings: string; epochs: string };
  #closed = false;

  constructor(options: PostgresStoreOptions) {
    const schema = options.schema ?? 'public';
    // Interpolated into SQL (identifiers cannot be parameters): only plain identifiers are accepted.
    if (!IDENTIFIER.test(schema)) throw new TypeError('postgresStore option schema must be a plain SQL identifier');
    if (!options.pool && !options.connectionString) throw new TypeError('postgresStore needs connectionString or pool');
    if (options.transactionPooler && options.statementTimeoutMs !== undefined) {
      // Refused rather than ignored: the caller would believe the server enforces a timeout it never got.
      throw new TypeError('postgresStore option statementTimeoutMs cannot be sent through a transaction pooler; set statement_timeout on the database role instead');
    }
    const operationTimeoutMs = positive('operationTimeoutMs', options.operationTimeoutMs, 2000);
    this.#ownsPool = !options.pool;
    // A multi-host string (db1,db2) or target_session_attrs=read-write: each connection picks its host.
    const hostList = options.pool ? undefined : parseHostList(options.connectionString!);
    const selecting = hostList && needsHostSelection(hostList) ? hostList : undefined;
    this.#pool = options.pool ?? new pgDriver.Pool({
      connectionString: options.connectionString,
      ...(selecting ? { Client: hostSelectingClient(selecting, pgDriver.Client) } : {}),
      max: positive('max', options.max, 10),
      connectionTimeoutMillis: positive('connectionTimeoutMs', options.connectionTimeoutMs, operationTimeoutMs),
      idleTimeoutMillis: positive('idleTimeoutMs', options.idleTimeoutMs, 10_000),
      ...(options.transactionPooler ? {} : {
        statement_timeout: positive('statementTimeoutMs', options.statementTimeoutMs, operationTimeoutMs),
        // A client that died mid-transaction must not hold the session row lock for long.
        idle_in_transaction_session_timeout: 10_000,
      }),
      application_name: 'latchkey',
    });
    // Without a listener, an idle connection dropped by a server restart would crash the process.
    this.#onPoolError = options.onConnectionError ?? (() => {});
    this.#pool.on('error', this.#onPoolError);
    // One connection attempt per host within a call's deadline: a dead or read-only first host
    // costs a call nothing when the next one is writable.
    this.#db = new PgRunner(this.#pool, operationTimeoutMs, selecting?.hosts.length ?? 1);
    this.#schemaName = schema;
    const s = pgDriver.escapeIdentifier(schema);
    this.#t = {
      sessions: `${s}.latchkey_sessions`,
      tokens: `${s}.latchkey_refresh_tokens`,
      keys: `${s}.latchkey_signing_keys`,
      serviceKeys: `${s}.latchkey_service_keys`,
      apiKeys: `${s}.latchkey_user_api_keys`,
      settings: `${s}.latchkey_settings`,
      epochs: `${s}.latchkey_claims_epochs`,
    };
  }

  async migrate(): Promise<MigrationReport> {
    const schema = pgDriver.escapeIdentifier(this.#schemaName);
    return this.#db.transaction((tx) => applyMigrations(tx, schema, `latchkey.migrate.${this.#schemaName}`));
  }

  async schemaVersion(): Promise<number> {
    // Plain reads (to_regclass, SELECT): asking never creates the schema or a table.
    return appliedVersion(this.#db, pgDriver.escapeIdentifier(this.#schemaName));
  }

  async createSession({ session, refreshToken }: NewSession): Promise<void> {
    const n = SESSION_COLUMNS.length;
    // One statement, so atomic without a transaction round trip.
    await this.#db.query(
      `WITH s AS (
         INSERT INTO ${this.#t.sessions} (${SESSION_COLUMNS.join(', ')})
         VALUES (${SESSION_COLUMNS.map((_, i) => `$${i + 1}`).join(', ')}) RETURNING id
       )
       INSERT INTO ${this.#t.tokens} (hash, session_id, generation, created_at)
       SELECT $${n + 1}, id, $${n + 2}, $${n + 3} FROM s`,
      [...sessionToValues(session), refreshToken.hash, refreshToken.generation, refreshToken.createdAt],
    );
  }

  async getSession(id: string): Promise<SessionRecord | null> {
    const { rows } = await this.#db.query(`SELECT * FROM ${this.#t.sessions} WHERE id = $1`, [id]);
    return rows[0] ? sessionFromRow(rows[0]) : null;
  }

  async listActiveSessions(userId: string, now: number): Promise<SessionRecord[]> {
    const { rows } = await this.#db.query(
      `SELECT * FROM ${this.#t.sessions}
       WHERE user_id = $1 AND revoked_at IS NULL AND idle_expires_at > $2 AND absolute_expires_at > $2
       ORDER BY created_at DESC, id`,
      [userId, now],
    );
    return rows.map(sessionFromRow);
  }

  async countActiveSessions(now: number): Promise<number> {
    const { rows } = await this.#db.query(
      `SELECT COUNT(*) AS n FROM ${this.#t.sessions} WHERE revoked_at IS NULL AND idle_expires_at > $1 AND absolute_expires_at > $1`,
      [now],
    );
    return Number(rows[0]?.n ?? 0);
  }

  async updateSession(id: string, patch: SessionPatch, options?: UpdateSessionOptions): Promise<SessionRecord | null> {
    // A locked read-modify-write: the row lock (FOR UPDATE) makes a concurrent update of the same
    // session wait and then read this one's committed result, so merges of different keys by two
    // writers both land. The merge itself is the shared one (stores/patch.ts), identical on every store.
    return this.#db.transaction(async (tx) => {
      const { rows } = await tx.query(`SELECT * FROM ${this.#t.sessions} WHERE id = $1 FOR UPDATE`, [id]);
      const next = patchedSession(rows[0] ? sessionFromRow(rows[0]) : null, patch, options);
      if (!next) return null;
      const updated = await tx.query(
        `UPDATE ${this.#t.sessions} SET access_claims = $2::jsonb, id_claims = $3::jsonb, data = $4::jsonb WHERE id = $1 RETURNING *`,
        [id, JSON.stringify(next.accessClaims), JSON.stringify(next.idClaims), JSON.stringify(next.data)],
      );
      return updated.rows[0] ? sessionFromRow(updated.rows[0]) : null;
    });
  }

  async rotateRefreshToken(input: RotateRefreshInput): Promise<RotateRefreshOutcome> {
    return (await this.#rotateCurrent(input)) ?? this.#rotateDecided(input);
  }

  /**
   * The common case in one round trip: the presented token is the session's current one and the
   * session is active, which is exactly decideRotation's `rotated` branch, and needs no decision the
   * database cannot make itself. One autocommit statement is atomic by itself: the UPDATE takes the
   * row lock and re-checks its WHERE after any wait, so of two racing refreshes of one token only one
   * matches; the other (and every grace, replay, revoked, expired or unknown case) changes no row and
   * takes the full path below, where decideRotation decides. Four round trips become one on nearly
   * every refresh (bench/analysis.md).
   */
  async #rotateCurrent(input: RotateRefreshInput): Promise<RotateRefreshOutcome | null> {
    const { rows } = await this.#db.query(
      `WITH rotated AS (
         UPDATE ${this.#t.sessions}
         SET current_refresh_hash = $2, previous_refresh_hash = $1, rotated_at = $3, generation = generation + 1,
             last_active_at = $3, idle_expires_at = LEAST($3::bigint + $4::bigint, absolute_expires_at),
             device = COALESCE($5::jsonb, device)
         WHERE current_refresh_hash = $1 AND revoked_at IS NULL AND idle_expires_at > $3 AND absolute_expires_at > $3
           -- A bound session rotates here only for the holder of its key; any other case is decided below.
           AND (binding IS NULL OR binding->>'jkt' = $6)
         RETURNING *
       ), stored AS (
         INSERT INTO ${this.#t.tokens} (hash, session_id, generation, created_at)
         SELECT $2, id, generation, $3 FROM rotated
       )
       SELECT * FROM rotated`,
      [input.presentedHash, input.successorHash, input.now, input.idleTimeoutMs, input.device ? JSON.stringify(input.device) : null, input.presentedJkt ?? null],
    );
    return rows[0] ? { kind: 'rotated', session: sessionFromRow(rows[0]) } : null;
  }

  /** Every other case: lock the session row, let decideRotation decide, write what it says. */
  async #rotateDecided(input: RotateRefreshInput): Promise<RotateRefreshOutcome> {
    return this.#db.transaction(async (tx): Promise<RotateRefreshOutcome> => {
      // Lock the session row before deciding. At READ COMMITTED, a writer that had to wait for the
      // lock reads the row as the previous holder committed it, so the decision is always made on
      // the latest state.
      const { rows } = await tx.query(
        `SELECT t.hash AS token_hash, t.session_id AS token_session_id, t.generation AS token_generation,
                t.created_at AS token_created_at, s.*
         FROM ${this.#t.tokens} t JOIN ${this.#t.sessions} s ON s.id = t.session_id
         WHERE t.hash = $1 FOR UPDATE OF s`,
        [input.presentedHash],
      );
      const row = rows[0];
      const token = row
        ? refreshTokenFromRow({ hash: row.token_hash, session_id: row.token_session_id, generation: row.token_generation, created_at: row.token_created_at })
        : null;
      const session = row ? sessionFromRow(row) : null;
      const outcome = decideRotation(token, session, input);
      if (outcome.kind === 'rotated') {
        const s = outcome.session;
        const t = successorTokenRecord(s);
        // Compare-and-swap on the current hash, and the successor stored only if the swap happened.
        const swapped = await tx.query(
          `WITH rotated AS (
             UPDATE ${this.#t.sessions}
             SET current_refresh_hash = $2, previous_refresh_hash = $3, rotated_at = $4, generation = $5,
                 last_active_at = $6, idle_expires_at = $7, device = $8::jsonb
             WHERE id = $1 AND current_refresh_hash = $3 AND revoked_at IS NULL
             RETURNING id
           )
           INSERT INTO ${this.#t.tokens} (hash, session_id, generation, created_at)
           SELECT $2, id, $9, $10 FROM rotated`,
          [s.id, s.currentRefreshHash, input.presentedHash, s.rotatedAt, s.generation, s.lastActiveAt, s.idleExpiresAt,
            JSON.stringify(s.device), t.generation, t.createdAt],
        );
        // Cannot happen while we hold the row lock; if it ever does, abort rather than report a rotation.
        if (swapped.rowCount !== 1) throw new Error('latchkey: refresh compare-and-swap lost while holding the row lock');
      } else if (outcome.kind === 'theft') {
        await tx.query(
          `UPDATE ${this.#t.sessions} SET revoked_at = $2, revoked_reason = 'theft' WHERE id = $1 AND revoked_at IS NULL`,
          [outcome.session.id, outcome.session.revokedAt],
        );
      }
      return outcome;
    });
  }

  async bindSession(id: string, binding: SessionBinding, now: number): Promise<SessionRecord | null> {
    // One statement: of two racing registrations exactly one finds the binding still NULL; the read
    // after it sees whichever binding won, which never changes again.
    await this.#db.query(
      `UPDATE ${this.#t.sessions} SET binding = $2::jsonb
       WHERE id = $1 AND binding IS NULL AND revoked_at IS NULL AND idle_expires_at > $3 AND absolute_expires_at > $3`,
      [id, JSON.stringify(binding), now],
    );
    const session = await this.getSession(id);
    return session && session.revokedAt === null && session.idleExpiresAt > now && session.absoluteExpiresAt > now ? session : null;
  }

  async revokeSession(id: string, now: number, reason: RevocationReason): Promise<Revocation | null> {
    const { rows } = await this.#db.query<{ user_id: string }>(
      `UPDATE ${this.#t.sessions} SET revoked_at = $2, revoked_reason = $3 WHERE id = $1 AND revoked_at IS NULL RETURNING user_id`,
      [id, now, reason],
    );
    return rows[0] ? { sessionId: id, userId: rows[0].user_id, revokedAt: now } : null;
  }

  async revokeUserSessions(userId: string, now: number, reason: RevocationReason, exceptSessionId?: string): Promise<Revocation[]> {
    const { rows } = await this.#db.query<{ id: string }>(
      `UPDATE ${this.#t.sessions} SET revoked_at = $2, revoked_reason = $3
       WHERE user_id = $1 AND revoked_at IS NULL AND id IS DISTINCT FROM $4
         AND idle_expires_at > $2 AND absolute_expires_at > $2
       RETURNING id`,
      [userId, now, reason, exceptSessionId ?? null],
    );
    return rows.map((r) => ({ sessionId: r.id, userId, revokedAt: now }));
  }

  async listRevocationsSince(since: number): Promise<Revocation[]> {
    const { rows } = await this.#db.query<{ id: string; user_id: string; revoked_at: string; revoked_reason: string | null }>(
      `SELECT id, user_id, revoked_at, revoked_reason FROM ${this.#t.sessions} WHERE revoked_at >= $1 ORDER BY revoked_at`,
      [since],
    );
    return rows.map(revocationFromRow);
  }

  async recordClaimsEpoch(epoch: ClaimsEpochRecord, expireBefore: number): Promise<void> {
    // One statement, so one transaction: the later time wins (an epoch only ever moves forward), and
    // the epochs that outdate no valid token any more go.
    await this.#db.query(
      `WITH upsert AS (
         INSERT INTO ${this.#t.epochs} (kind, id, at) VALUES ($1, $2, $3)
         ON CONFLICT (kind, id) DO UPDATE SET at = GREATEST(${this.#t.epochs}.at, EXCLUDED.at)
       )
       -- Not the row just upserted: one statement must not change a row twice.
       DELETE FROM ${this.#t.epochs} WHERE at < $4 AND NOT (kind = $1 AND id = $2)`,
      [epoch.kind, epoch.id, epoch.at, expireBefore],
    );
  }

  async listClaimsEpochsSince(since: number): Promise<ClaimsEpochRecord[]> {
    const { rows } = await this.#db.query<{ kind: 'user' | 'session'; id: string; at: string }>(
      `SELECT kind, id, at FROM ${this.#t.epochs} WHERE at >= $1 ORDER BY at`,
      [since],
    );
    return rows.map((r) => ({ kind: r.kind, id: r.id, at: Number(r.at) }));
  }

  async listSigningKeys(): Promise<SigningKeyRecord[]> {
    const { rows } = await this.#db.query(`SELECT * FROM ${this.#t.keys} ORDER BY generation`);
    return rows.map(signingKeyFromRow);
  }

  async insertSigningKey(key: SigningKeyRecord): Promise<boolean> {
    // The unique generation decides between racing instances; the loser's key is simply not stored.
    const { rowCount } = await this.#db.query(
      `INSERT INTO ${this.#t.keys} (kid, alg, generation, public_jwk, private_key_encrypted, created_at, activates_at)
       VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7) ON CONFLICT DO NOTHING`,
      [key.kid, key.alg, key.generation, JSON.stringify(key.publicJwk), key.privateKeyEncrypted, key.createdAt, key.activatesAt],
    );
    return rowCount === 1;
  }

  async deleteSigningKeys(kids: string[]): Promise<void> {
    if (kids.length === 0) return;
    await this.#db.query(`DELETE FROM ${this.#t.keys} WHERE kid = ANY($1::text[])`, [kids]);
  }

  async insertServiceKey(key: ServiceKeyRecord): Promise<void> {
    await this.#db.query(
      `INSERT INTO ${this.#t.serviceKeys} (id, name, hash, created_at, revoked_at) VALUES ($1, $2, $3, $4, $5)`,
      [key.id, key.name, key.hash, key.createdAt, key.revokedAt],
    );
  }

  async findServiceKeyByHash(hash: string): Promise<ServiceKeyRecord | null> {
    const { rows } = await this.#db.query(`SELECT * FROM ${this.#t.serviceKeys} WHERE hash = $1`, [hash]);
    return rows[0] ? serviceKeyFromRow(rows[0]) : null;
  }

  async listServiceKeys(): Promise<ServiceKeyRecord[]> {
    const { rows } = await this.#db.query(`SELECT * FROM ${this.#t.serviceKeys} ORDER BY created_at, id`);
    return rows.map(serviceKeyFromRow);
  }

  async revokeServiceKey(id: string, now: number): Promise<boolean> {
    const { rowCount } = await this.#db.query(
      `UPDATE ${this.#t.serviceKeys} SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL`,
      [id, now],
    );
    return rowCount === 1;
  }

  /** `INSERT` of a user API key: `$1..$n` in {@link API_KEY_COLUMNS} order. */
  #insertApiKeySql(): string {
    const casts: Partial<Record<(typeof API_KEY_COLUMNS)[number], string>> = { scopes: '::jsonb', metadata: '::jsonb' };
    return `INSERT INTO ${this.#t.apiKeys} (${API_KEY_COLUMNS.join(', ')}) VALUES (${API_KEY_COLUMNS.map((c, i) => `$${i + 1}${casts[c] ?? ''}`).join(', ')})`;
  }

  async insertApiKey(key: ApiKeyRecord): Promise<void> {
    await this.#db.query(this.#insertApiKeySql(), apiKeyToValues(key));
  }

  async getApiKey(id: string): Promise<ApiKeyRecord | null> {
    const { rows } = await this.#db.query(`SELECT * FROM ${this.#t.apiKeys} WHERE id = $1`, [id]);
    return rows[0] ? apiKeyFromRow(rows[0]) : null;
  }

  async listApiKeys(ownerId: string, now: number): Promise<ApiKeyRecord[]> {
    const { rows } = await this.#db.query(
      `SELECT * FROM ${this.#t.apiKeys}
       WHERE owner_id = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $2)
       ORDER BY created_at DESC, id`,
      [ownerId, now],
    );
    return rows.map(apiKeyFromRow);
  }

  async revokeApiKey(id: string, now: number): Promise<ApiKeyRecord | null> {
    const { rows } = await this.#db.query(
      `UPDATE ${this.#t.apiKeys} SET revoked_at = $2, changed_at = $2 WHERE id = $1 AND revoked_at IS NULL RETURNING *`,
      [id, now],
    );
    return rows[0] ? apiKeyFromRow(rows[0]) : null;
  }

  async rotateApiKey({ previousId, next, now, previousExpiresAt }: RotateApiKeyInput): Promise<boolean> {
    return this.#db.transaction(async (tx) => {
      // The row lock taken by this UPDATE serialises two rotations (or a rotation and a revocation)
      // of one key: the second re-checks the WHERE against the first one's commit and matches nothing.
      const ended = previousExpiresAt === null
        ? await tx.query(
            `UPDATE ${this.#t.apiKeys} SET revoked_at = $2, changed_at = $2
             WHERE id = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $2)`,
            [previousId, now],
          )
        : await tx.query(
            `UPDATE ${this.#t.apiKeys} SET expires_at = LEAST(COALESCE(expires_at, $3), $3), changed_at = $2
             WHERE id = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $2)`,
            [previousId, now, previousExpiresAt],
          );
      if (ended.rowCount !== 1) return false;
      await tx.query(this.#insertApiKeySql(), apiKeyToValues(next));
      return true;
    });
  }

  async touchApiKeys(uses: ReadonlyArray<{ id: string; lastUsedAt: number }>): Promise<void> {
    if (uses.length === 0) return;
    // One statement for the whole batch: the point of batching is one write, not one per key.
    await this.#db.query(
      `UPDATE ${this.#t.apiKeys} k SET last_used_at = u.t
       FROM unnest($1::text[], $2::bigint[]) AS u(id, t)
       WHERE k.id = u.id AND (k.last_used_at IS NULL OR k.last_used_at < u.t)`,
      [uses.map((u) => u.id), uses.map((u) => u.lastUsedAt)],
    );
  }

  async listApiKeysChangedSince(since: number): Promise<string[]> {
    const { rows } = await this.#db.query<{ id: string }>(`SELECT id FROM ${this.#t.apiKeys} WHERE changed_at >= $1`, [since]);
    return rows.map((r) => r.id);
  }

  async deleteExpired(before: number): Promise<CleanupResult> {
    // LEAST ignores NULLs: a session ended at the earliest of its idle expiry, absolute expiry and
    // revocation; a theft revocation does not count (kept to its natural expiry, see SessionStore.deleteExpired).
    const ended = `SELECT id FROM ${this.#t.sessions}
      WHERE LEAST(idle_expires_at, absolute_expires_at, CASE WHEN revoked_reason = 'theft' THEN NULL ELSE revoked_at END) < $1`;
    return this.#db.transaction(async (tx) => {
      const tokens = await tx.query(`DELETE FROM ${this.#t.tokens} WHERE session_id IN (${ended})`, [before]);
      const sessions = await tx.query(`DELETE FROM ${this.#t.sessions} WHERE id IN (${ended})`, [before]);
      return { sessions: sessions.rowCount, refreshTokens: tokens.rowCount };
    });
  }

  /**
   * The store is shared by a fleet, so the issuer is recorded here: the first instance to start
   * records its own; later ones compare (see SessionStore.claimIssuer). Separate statements on
   * purpose: the final read is a new snapshot, so an instance that lost a race on an empty table
   * reads the winner's issuer rather than believing its own was recorded.
   */
  async claimIssuer(issuer: string, options: { replace: boolean; now: number }): Promise<{ recorded: string; previous: string | null }> {
    const read = async () =>
      (await this.#db.query<{ value: string }>(`SELECT value FROM ${this.#t.settings} WHERE name = 'issuer'`)).rows[0]?.value ?? null;
    const previous = await read();
    await this.#db.query(
      `INSERT INTO ${this.#t.settings} (name, value, updated_at) VALUES ('issuer', $1, $2)
       ON CONFLICT (name) DO ${options.replace ? 'UPDATE SET value = EXCLUDED.value, updated_at = EXCLUDED.updated_at' : 'NOTHING'}`,
      [issuer, options.now],
    );
    return { recorded: (await read()) ?? issuer, previous };
  }

  async ping(): Promise<void> {
    await this.#db.query('SELECT 1');
  }

  /** Ends the pool if latchkey created it; a caller-owned pool is left open. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#ownsPool) {
      // The listener stays: pool.end() resolves before its sockets close, and a server that ends a
      // connection in that window (a restart, DROP DATABASE ... WITH (FORCE)) would otherwise crash
      // the process with an unhandled 'error'. The pool is ours and finished; nothing else listens.
      await this.#pool.end();
    } else {
      // A caller-owned pool lives on with the caller's own listeners.
      this.#pool.off('error', this.#onPoolError);
    }
  }
}

/** A PostgreSQL store. Call `migrate()` (the engine does, on start) before first use. */
export function postgresStore(options: PostgresStoreOptions): PostgresStore {
  return new PostgresStore(options);
}
