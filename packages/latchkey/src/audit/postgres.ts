/**
 * The audit log in PostgreSQL, on a `pg.Pool` the app owns (usually the session store's own). A batch
 * is one multi-row INSERT, one statement and so atomic: a crash keeps all of a batch or none of it.
 */
import type pg from 'pg';
import { normaliseAuditQuery } from './query.js';
import { auditPage, auditSelect, auditValues, type AuditRow } from './sql.js';
import type { AuditEvent, AuditPage, AuditQuery, AuditStore } from './types.js';

export interface PostgresAuditStoreOptions {
  /** The pool to use; latchkey never ends it. */
  pool: pg.Pool;
  /** Schema of the table. Default `public`. Must be a plain identifier. */
  schema?: string | undefined;
}

const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;
const COLUMNS_PER_ROW = 12;

export class PostgresAuditStore implements AuditStore {
  readonly #pool: pg.Pool;
  readonly #table: string;

  constructor(options: PostgresAuditStoreOptions) {
    const schema = options.schema ?? 'public';
    if (!IDENTIFIER.test(schema)) throw new TypeError('postgresAuditStore schema must be a lower-case identifier');
    this.#pool = options.pool;
    this.#table = `"${schema}".latchkey_audit_events`;
  }

  async migrate(): Promise<void> {
    await this.#pool.query(`CREATE TABLE IF NOT EXISTS ${this.#table} (
      id TEXT COLLATE "C" PRIMARY KEY, type TEXT NOT NULL, at BIGINT NOT NULL, user_id TEXT, session_id TEXT,
      actor TEXT NOT NULL, reason TEXT, device TEXT, ip TEXT, count INTEGER NOT NULL, first_at BIGINT NOT NULL,
      details TEXT NOT NULL)`);
    await this.#pool.query(`CREATE INDEX IF NOT EXISTS latchkey_audit_events_at ON ${this.#table} (at, id)`);
    await this.#pool.query(`CREATE INDEX IF NOT EXISTS latchkey_audit_events_user ON ${this.#table} (user_id, at)`);
    await this.#pool.query(`CREATE INDEX IF NOT EXISTS latchkey_audit_events_session ON ${this.#table} (session_id, at)`);
  }

  async append(events: readonly AuditEvent[]): Promise<void> {
    if (events.length === 0) return;
    const params: unknown[] = [];
    const rows = events.map((event, row) => {
      params.push(...auditValues(event));
      return `(${Array.from({ length: COLUMNS_PER_ROW }, (_, i) => `$${row * COLUMNS_PER_ROW + i + 1}`).join(', ')})`;
    });
    await this.#pool.query(`INSERT INTO ${this.#table} VALUES ${rows.join(', ')}`, params);
  }

  async query(query: AuditQuery): Promise<AuditPage> {
    const q = normaliseAuditQuery(query);
    const { sql, params } = auditSelect(this.#table, q, (i) => `$${i}`);
    const result = await this.#pool.query<AuditRow>(sql, params);
    return auditPage(result.rows, q.limit);
  }

  async deleteBefore(before: number): Promise<number> {
    const result = await this.#pool.query(`DELETE FROM ${this.#table} WHERE at < $1`, [before]);
    return result.rowCount ?? 0;
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
