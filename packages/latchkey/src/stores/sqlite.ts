/**
 * The embedded default store, on better-sqlite3: no server, no setup, a single file.
 *
 * Every multi-step change runs in one `BEGIN IMMEDIATE` transaction: it takes the write lock before
 * reading, so two processes sharing the file serialise instead of failing on a lock upgrade, and a
 * crash at any instant leaves either all of a change or none of it (SQLite's journal guarantees
 * that). WAL mode with `synchronous=NORMAL` is durable across process crashes; only a power loss can
 * drop the last commits, never leave them half applied.
 */
import type Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { StoreUnavailableError } from '../errors.js';
import { decideRotation, successorTokenRecord } from '../refresh/decide.js';
import type { RevocationReason } from '../types.js';
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
  type Row,
} from './sql/rows.js';
import { loadBetterSqlite3 } from './sqlite/driver.js';
import { SQLITE_MIGRATIONS } from './sqlite/migrations.js';
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

/** better-sqlite3, loaded here so that a missing package or native binding is a typed error naming the fix. */
const BetterSqlite3 = await loadBetterSqlite3();

export interface SqliteStoreOptions {
  /** Database file; `:memory:` for a private in-memory database. Default `./.latchkey/latchkey.db`. */
  path?: string | undefined;
  /**
   * How long a write waits for another process holding the lock, ms, before failing with
   * `STORE_UNAVAILABLE`. Default 2000: long enough for any single transaction, short enough to answer.
   */
  busyTimeoutMs?: number | undefined;
}

const UNAVAILABLE_CODES = new Set(['SQLITE_BUSY', 'SQLITE_LOCKED', 'SQLITE_IOERR', 'SQLITE_CANTOPEN', 'SQLITE_FULL', 'SQLITE_READONLY']);

export class SqliteStore implements SessionStore, ApiKeyStore, ServiceKeyStore {
  readonly #db: Database.Database;
  /** Prepared once, reused: preparing costs as much as running most of these statements. */
  readonly #statements = new Map<string, Database.Statement>();

  constructor(options: SqliteStoreOptions = {}) {
    const path = options.path ?? '.latchkey/latchkey.db';
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    this.#db = new BetterSqlite3(path);
    this.#db.pragma(`busy_timeout = ${options.busyTimeoutMs ?? 2000}`);
    this.#db.pragma('journal_mode = WAL');
    this.#db.pragma('synchronous = NORMAL');
    this.#db.pragma('foreign_keys = ON');
  }

  #sql(source: string): Database.Statement {
    let statement = this.#statements.get(source);
    if (!statement) this.#statements.set(source, (statement = this.#db.prepare(source)));
    return statement;
  }

  /** Runs `fn` in a BEGIN IMMEDIATE transaction, mapping lock and I/O failures to STORE_UNAVAILABLE. */
  #write<T>(fn: () => T): T {
    return this.#guard(() => this.#db.transaction(fn).immediate());
  }

  #guard<T>(fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      if (typeof code === 'string' && [...UNAVAILABLE_CODES].some((c) => code.startsWith(c))) {
        throw new StoreUnavailableError('the SQLite store is unavailable', { cause: err });
      }
      throw err;
    }
  }

  async migrate(): Promise<MigrationReport> {
    // Foreign keys off while migrating: a table rebuild (v5) drops the old sessions table, which with
    // them on would cascade-delete every refresh token. The pragma is a no-op inside a transaction, so
    // it is set around it; the keys are checked before the migration commits.
    this.#db.pragma('foreign_keys = OFF');
    try {
      return this.#migrate();
    } finally {
      this.#db.pragma('foreign_keys = ON');
    }
  }

  #migrate(): MigrationReport {
    return this.#write(() => {
      this.#db.exec('CREATE TABLE IF NOT EXISTS latchkey_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)');
      const row = this.#db.prepare('SELECT MAX(version) AS v FROM latchkey_migrations').get() as { v: number | null };
      const applied: number[] = [];
      for (let version = (row.v ?? 0) + 1; version <= SQLITE_MIGRATIONS.length; version++) {
        this.#db.exec(SQLITE_MIGRATIONS[version - 1]!);
        this.#db.prepare('INSERT INTO latchkey_migrations (version, applied_at) VALUES (?, ?)').run(version, Date.now());
        applied.push(version);
      }
      if (applied.length > 0 && this.#db.prepare('PRAGMA foreign_key_check').all().length > 0) {
        throw new Error('latchkey: a SQLite migration left rows whose foreign keys do not resolve; nothing was changed');
      }
      return { applied, version: Math.max(row.v ?? 0, SQLITE_MIGRATIONS.length) };
    });
  }

  async schemaVersion(): Promise<number> {
    return this.#guard(() => {
      // A read only: no CREATE TABLE IF NOT EXISTS here, so asking never initialises a store.
      const table = this.#db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'latchkey_migrations'").get();
      if (table === undefined) return 0;
      const row = this.#db.prepare('SELECT MAX(version) AS v FROM latchkey_migrations').get() as { v: number | null };
      return row.v ?? 0;
    });
  }

  async createSession({ session, refreshToken }: NewSession): Promise<void> {
    this.#write(() => {
      this.#sql(`INSERT INTO latchkey_sessions (${SESSION_COLUMNS.join(', ')}) VALUES (${SESSION_COLUMNS.map(() => '?').join(', ')})`)
        .run(...sessionToValues(session));
      this.#sql('INSERT INTO latchkey_refresh_tokens (hash, session_id, generation, created_at) VALUES (?, ?, ?, ?)')
        .run(refreshToken.hash, refreshToken.sessionId, refreshToken.generation, refreshToken.createdAt);
    });
  }

  #getSession(id: string): SessionRecord | null {
    const row = this.#sql('SELECT * FROM latchkey_sessions WHERE id = ?').get(id) as Row | undefined;
    return row ? sessionFromRow(row) : null;
  }

  async getSession(id: string): Promise<SessionRecord | null> {
    return this.#guard(() => this.#getSession(id));
  }

  async listActiveSessions(userId: string, now: number): Promise<SessionRecord[]> {
    return this.#guard(() =>
      (this.#sql(
          `SELECT * FROM latchkey_sessions
           WHERE user_id = ? AND revoked_at IS NULL AND idle_expires_at > ? AND absolute_expires_at > ?
           ORDER BY created_at DESC, id`,
        )
        .all(userId, now, now) as Row[]).map(sessionFromRow),
    );
  }

  async countActiveSessions(now: number): Promise<number> {
    return this.#guard(
      () =>
        (this.#sql('SELECT COUNT(*) AS n FROM latchkey_sessions WHERE revoked_at IS NULL AND idle_expires_at > ? AND absolute_expires_at > ?').get(now, now) as { n: number }).n,
    );
  }

  async updateSession(id: string, patch: SessionPatch, options?: UpdateSessionOptions): Promise<SessionRecord | null> {
    // Read, merge and write inside one IMMEDIATE transaction: it holds the write lock from the read
    // on, so no other writer (another process on the same file) can slip in between.
    return this.#write(() => {
      const next = patchedSession(this.#getSession(id), patch, options);
      if (!next) return null;
      this.#sql('UPDATE latchkey_sessions SET access_claims = ?, id_claims = ?, data = ? WHERE id = ?')
        .run(JSON.stringify(next.accessClaims), JSON.stringify(next.idClaims), JSON.stringify(next.data), id);
      return next;
    });
  }

  async rotateRefreshToken(input: RotateRefreshInput): Promise<RotateRefreshOutcome> {
    return this.#write((): RotateRefreshOutcome => {
      const tokenRow = this.#sql('SELECT * FROM latchkey_refresh_tokens WHERE hash = ?').get(input.presentedHash) as Row | undefined;
      const token = tokenRow ? refreshTokenFromRow(tokenRow) : null;
      const session = token ? this.#getSession(token.sessionId) : null;
      const outcome = decideRotation(token, session, input);
      if (outcome.kind === 'rotated') {
        const s = outcome.session;
        // Compare-and-swap on the current hash: belt and braces inside the write lock.
        const changed = this.#sql(
            `UPDATE latchkey_sessions SET current_refresh_hash = ?, previous_refresh_hash = ?, rotated_at = ?,
               generation = ?, last_active_at = ?, idle_expires_at = ?, device = ?
             WHERE id = ? AND current_refresh_hash = ?`,
          )
          .run(s.currentRefreshHash, s.previousRefreshHash, s.rotatedAt, s.generation, s.lastActiveAt, s.idleExpiresAt, JSON.stringify(s.device), s.id, input.presentedHash);
        if (changed.changes !== 1) throw new Error('latchkey: refresh compare-and-swap lost inside a write transaction');
        const t = successorTokenRecord(s);
        this.#sql('INSERT INTO latchkey_refresh_tokens (hash, session_id, generation, created_at) VALUES (?, ?, ?, ?)')
          .run(t.hash, t.sessionId, t.generation, t.createdAt);
      } else if (outcome.kind === 'theft') {
        this.#sql('UPDATE latchkey_sessions SET revoked_at = ?, revoked_reason = ? WHERE id = ? AND revoked_at IS NULL')
          .run(outcome.session.revokedAt, 'theft', outcome.session.id);
      }
      return outcome;
    });
  }

  async bindSession(id: string, binding: SessionBinding, now: number): Promise<SessionRecord | null> {
    return this.#write(() => {
      // One statement: of two racing registrations exactly one finds the binding still NULL.
      this.#sql(
        `UPDATE latchkey_sessions SET binding = ?
         WHERE id = ? AND binding IS NULL AND revoked_at IS NULL AND idle_expires_at > ? AND absolute_expires_at > ?`,
      ).run(JSON.stringify(binding), id, now, now);
      const session = this.#getSession(id);
      return session && session.revokedAt === null && session.idleExpiresAt > now && session.absoluteExpiresAt > now ? session : null;
    });
  }

  async revokeSession(id: string, now: number, reason: RevocationReason): Promise<Revocation | null> {
    return this.#write(() => {
      const row = this.#sql('UPDATE latchkey_sessions SET revoked_at = ?, revoked_reason = ? WHERE id = ? AND revoked_at IS NULL RETURNING user_id')
        .get(now, reason, id) as { user_id: string } | undefined;
      return row ? { sessionId: id, userId: row.user_id, revokedAt: now } : null;
    });
  }

  async revokeUserSessions(userId: string, now: number, reason: RevocationReason, exceptSessionId?: string): Promise<Revocation[]> {
    return this.#write(() =>
      (this.#sql(
          `UPDATE latchkey_sessions SET revoked_at = ?, revoked_reason = ?
           WHERE user_id = ? AND revoked_at IS NULL AND id IS NOT ? AND idle_expires_at > ? AND absolute_expires_at > ?
           RETURNING id`,
        )
        .all(now, reason, userId, exceptSessionId ?? null, now, now) as Array<{ id: string }>).map((r) => ({ sessionId: r.id, userId, revokedAt: now })),
    );
  }

  async listRevocationsSince(since: number): Promise<Revocation[]> {
    return this.#guard(() =>
      (this.#sql('SELECT id, user_id, revoked_at, revoked_reason FROM latchkey_sessions WHERE revoked_at >= ? ORDER BY revoked_at')
        .all(since) as Array<{ id: string; user_id: string; revoked_at: number; revoked_reason: string | null }>).map((r) => revocationFromRow(r)),
    );
  }

  async recordClaimsEpoch(epoch: ClaimsEpochRecord, expireBefore: number): Promise<void> {
    this.#write(() => {
      // The later time wins: an epoch only ever moves forward.
      this.#sql('INSERT INTO latchkey_claims_epochs (kind, id, at) VALUES (?, ?, ?) ON CONFLICT (kind, id) DO UPDATE SET at = MAX(at, excluded.at)').run(
        epoch.kind,
        epoch.id,
        epoch.at,
      );
      this.#sql('DELETE FROM latchkey_claims_epochs WHERE at < ?').run(expireBefore);
    });
  }

  async listClaimsEpochsSince(since: number): Promise<ClaimsEpochRecord[]> {
    return this.#guard(() =>
      (this.#sql('SELECT kind, id, at FROM latchkey_claims_epochs WHERE at >= ? ORDER BY at').all(since) as ClaimsEpochRecord[]).map((r) => ({
        kind: r.kind,
        id: r.id,
        at: Number(r.at),
      })),
    );
  }

  async listSigningKeys(): Promise<SigningKeyRecord[]> {
    return this.#guard(() => (this.#sql('SELECT * FROM latchkey_signing_keys ORDER BY generation').all() as Row[]).map(signingKeyFromRow));
  }

  async insertSigningKey(key: SigningKeyRecord): Promise<boolean> {
    return this.#write(() => {
      const result = this.#sql(
          `INSERT INTO latchkey_signing_keys (kid, alg, generation, public_jwk, private_key_encrypted, created_at, activates_at)
           VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
        )
        .run(key.kid, key.alg, key.generation, JSON.stringify(key.publicJwk), key.privateKeyEncrypted, key.createdAt, key.activatesAt);
      return result.changes === 1;
    });
  }

  async deleteSigningKeys(kids: string[]): Promise<void> {
    this.#write(() => {
      const del = this.#sql('DELETE FROM latchkey_signing_keys WHERE kid = ?');
      for (const kid of kids) del.run(kid);
    });
  }

  async insertServiceKey(key: ServiceKeyRecord): Promise<void> {
    this.#write(() => {
      this.#sql('INSERT INTO latchkey_service_keys (id, name, hash, created_at, revoked_at) VALUES (?, ?, ?, ?, ?)')
        .run(key.id, key.name, key.hash, key.createdAt, key.revokedAt);
    });
  }

  async findServiceKeyByHash(hash: string): Promise<ServiceKeyRecord | null> {
    return this.#guard(() => {
      const row = this.#sql('SELECT * FROM latchkey_service_keys WHERE hash = ?').get(hash) as Row | undefined;
      return row ? serviceKeyFromRow(row) : null;
    });
  }

  async listServiceKeys(): Promise<ServiceKeyRecord[]> {
    return this.#guard(() => (this.#sql('SELECT * FROM latchkey_service_keys ORDER BY created_at, id').all() as Row[]).map(serviceKeyFromRow));
  }

  async revokeServiceKey(id: string, now: number): Promise<boolean> {
    return this.#write(() => this.#sql('UPDATE latchkey_service_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL').run(now, id).changes === 1);
  }

  #insertApiKey(key: ApiKeyRecord): void {
    this.#sql(`INSERT INTO latchkey_user_api_keys (${API_KEY_COLUMNS.join(', ')}) VALUES (${API_KEY_COLUMNS.map(() => '?').join(', ')})`)
      .run(...apiKeyToValues(key));
  }

  async insertApiKey(key: ApiKeyRecord): Promise<void> {
    this.#write(() => this.#insertApiKey(key));
  }

  async getApiKey(id: string): Promise<ApiKeyRecord | null> {
    return this.#guard(() => {
      const row = this.#sql('SELECT * FROM latchkey_user_api_keys WHERE id = ?').get(id) as Row | undefined;
      return row ? apiKeyFromRow(row) : null;
    });
  }

  async listApiKeys(ownerId: string, now: number): Promise<ApiKeyRecord[]> {
    return this.#guard(() =>
      (this.#sql(
          `SELECT * FROM latchkey_user_api_keys
           WHERE owner_id = ? AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?)
           ORDER BY created_at DESC, id`,
        )
        .all(ownerId, now) as Row[]).map(apiKeyFromRow),
    );
  }

  async revokeApiKey(id: string, now: number): Promise<ApiKeyRecord | null> {
    return this.#write(() => {
      const row = this.#sql('UPDATE latchkey_user_api_keys SET revoked_at = ?, changed_at = ? WHERE id = ? AND revoked_at IS NULL RETURNING *')
        .get(now, now, id) as Row | undefined;
      return row ? apiKeyFromRow(row) : null;
    });
  }

  async rotateApiKey({ previousId, next, now, previousExpiresAt }: RotateApiKeyInput): Promise<boolean> {
    return this.#write(() => {
      // The previous key is ended first, and only if active: the new key exists only if it did.
      const ended = previousExpiresAt === null
        ? this.#sql(
            `UPDATE latchkey_user_api_keys SET revoked_at = ?, changed_at = ?
             WHERE id = ? AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?)`,
          ).run(now, now, previousId, now)
        : this.#sql(
            `UPDATE latchkey_user_api_keys SET expires_at = MIN(COALESCE(expires_at, ?), ?), changed_at = ?
             WHERE id = ? AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?)`,
          ).run(previousExpiresAt, previousExpiresAt, now, previousId, now);
      if (ended.changes !== 1) return false;
      this.#insertApiKey(next);
      return true;
    });
  }

  async touchApiKeys(uses: ReadonlyArray<{ id: string; lastUsedAt: number }>): Promise<void> {
    if (uses.length === 0) return;
    this.#write(() => {
      const touch = this.#sql('UPDATE latchkey_user_api_keys SET last_used_at = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)');
      for (const { id, lastUsedAt } of uses) touch.run(lastUsedAt, id, lastUsedAt);
    });
  }

  async listApiKeysChangedSince(since: number): Promise<string[]> {
    return this.#guard(() =>
      (this.#sql('SELECT id FROM latchkey_user_api_keys WHERE changed_at >= ?').all(since) as Array<{ id: string }>).map((r) => r.id),
    );
  }

  async deleteExpired(before: number): Promise<CleanupResult> {
    return this.#write(() => {
      // Theft-revoked sessions stay until their natural expiry (see SessionStore.deleteExpired).
      const ended = "MIN(idle_expires_at, absolute_expires_at, CASE WHEN revoked_reason = 'theft' THEN idle_expires_at ELSE COALESCE(revoked_at, idle_expires_at) END) < ?";
      const tokens = this.#sql(`DELETE FROM latchkey_refresh_tokens WHERE session_id IN (SELECT id FROM latchkey_sessions WHERE ${ended})`)
        .run(before).changes;
      const sessions = this.#sql(`DELETE FROM latchkey_sessions WHERE ${ended}`).run(before).changes;
      return { sessions, refreshTokens: tokens };
    });
  }

  async ping(): Promise<void> {
    this.#guard(() => this.#sql('SELECT 1').get());
  }

  async close(): Promise<void> {
    if (this.#db.open) this.#db.close();
  }
}

/** The embedded SQLite store. */
export function sqliteStore(options?: SqliteStoreOptions): SqliteStore {
  return new SqliteStore(options);
}
