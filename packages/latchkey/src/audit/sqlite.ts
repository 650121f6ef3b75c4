/**
 * The audit log in SQLite (better-sqlite3): a table beside the sessions' (or in a file of its own).
 * A batch is one transaction, so a crash keeps all of a batch or none of it.
 */
import type Database from 'better-sqlite3';
import { loadBetterSqlite3 } from '../stores/sqlite/driver.js';
import { normaliseAuditQuery } from './query.js';
import { auditPage, auditSelect, auditValues, type AuditRow } from './sql.js';
import type { AuditEvent, AuditPage, AuditQuery, AuditStore } from './types.js';

/**
 * The part of a better-sqlite3 `Database` the audit store uses. Declared structurally so that the
 * published types need no `@types/better-sqlite3` (a dev dependency only); a better-sqlite3
 * `Database` satisfies it.
 */
export interface SqliteAuditDatabase {
  exec(source: string): unknown;
  prepare(source: string): unknown;
  transaction(fn: () => void): unknown;
  close(): unknown;
}

export interface SqliteAuditStoreOptions {
  /** A database you opened (e.g. the session store's file). Either this or `path`. */
  database?: SqliteAuditDatabase | undefined;
  /** A file to open; `:memory:` for a private in-memory database. */
  path?: string | undefined;
}

const TABLE = 'latchkey_audit_events';

export class SqliteAuditStore implements AuditStore {
  readonly #db: Database.Database;
  readonly #owns: boolean;

  private constructor(db: Database.Database, owns: boolean) {
    this.#db = db;
    this.#owns = owns;
  }

  static async open(options: SqliteAuditStoreOptions): Promise<SqliteAuditStore> {
    if (options.database) return new SqliteAuditStore(options.database as Database.Database, false);
    if (!options.path) throw new TypeError('sqliteAuditStore needs database or path');
    const BetterSqlite3 = await loadBetterSqlite3();
    const db = new BetterSqlite3(options.path);
    db.pragma('journal_mode = WAL');
    return new SqliteAuditStore(db, true);
  }

  async migrate(): Promise<void> {
    this.#db.exec(`CREATE TABLE IF NOT EXISTS ${TABLE} (
      id TEXT PRIMARY KEY, type TEXT NOT NULL, at INTEGER NOT NULL, user_id TEXT, session_id TEXT,
      actor TEXT NOT NULL, reason TEXT, device TEXT, ip TEXT, count INTEGER NOT NULL, first_at INTEGER NOT NULL,
      details TEXT NOT NULL);
      CREATE INDEX IF NOT EXISTS ${TABLE}_at ON ${TABLE} (at, id);
      CREATE INDEX IF NOT EXISTS ${TABLE}_user ON ${TABLE} (user_id, at);
      CREATE INDEX IF NOT EXISTS ${TABLE}_session ON ${TABLE} (session_id, at);`);
  }

  async append(events: readonly AuditEvent[]): Promise<void> {
    if (events.length === 0) return;
    const insert = this.#db.prepare(`INSERT INTO ${TABLE} VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
    this.#db.transaction(() => {
      for (const event of events) insert.run(...auditValues(event));
    })();
  }

  async query(query: AuditQuery): Promise<AuditPage> {
    const q = normaliseAuditQuery(query);
    const { sql, params } = auditSelect(TABLE, q, () => '?');
    const rows = this.#db.prepare(sql).all(...params) as AuditRow[];
    return auditPage(rows, q.limit);
  }

  async deleteBefore(before: number): Promise<number> {
    return this.#db.prepare(`DELETE FROM ${TABLE} WHERE at < ?`).run(before).changes;
  }

  async close(): Promise<void> {
    if (this.#owns) this.#db.close();
  }
}
