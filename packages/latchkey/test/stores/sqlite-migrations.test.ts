/**
 * SQLite schema upgrades. Migration 4 gives the refresh-token chain the `UNIQUE (session_id,
 * generation)` that PostgreSQL has always had: a database left at version 3 must upgrade in place,
 * keep every session and token, keep rotating, and from then on refuse a second token of one
 * generation. A fresh database gets the same schema.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sqliteStore } from 'latchkey/stores/sqlite';
import { SQLITE_MIGRATIONS } from '../../src/stores/sqlite/migrations.js';
import { newSession } from './contract.js';

const T0 = 1_800_000_000_000;

/** A database exactly as release `version` of the schema left it. */
function databaseAt(path: string, version: number): void {
  const db = new Database(path);
  db.exec('CREATE TABLE latchkey_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)');
  for (let v = 1; v <= version; v++) {
    db.exec(SQLITE_MIGRATIONS[v - 1]!);
    db.prepare('INSERT INTO latchkey_migrations VALUES (?, 0)').run(v);
  }
  db.close();
}

function indexes(path: string): string[] {
  const db = new Database(path, { readonly: true });
  try {
    const rows = db
      .prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'latchkey_refresh_tokens' AND sql IS NOT NULL")
      .all();
    return (rows as Array<{ name: string }>).map((r) => r.name).sort();
  } finally {
    db.close();
  }
}

/** Inserts a refresh token behind the store's back, as a buggy writer would. */
function insertToken(path: string, hash: string, sessionId: string, generation: number): void {
  const db = new Database(path);
  try {
    db.prepare('INSERT INTO latchkey_refresh_tokens (hash, session_id, generation, created_at) VALUES (?, ?, ?, ?)').run(
      hash,
      sessionId,
      generation,
      T0,
    );
  } finally {
    db.close();
  }
}

describe('SQLite migrations', () => {
  let dir: string;
  let path: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'latchkey-sqlite-migrate-'));
    path = join(dir, 'latchkey.db');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('upgrades a version-3 database in place: data kept, one token per (session, generation) from then on', async () => {
    databaseAt(path, 3);
    const store = sqliteStore({ path });
    try {
      expect(await store.schemaVersion()).toBe(3);
      // Written on the version-3 schema: a session rotated once, so two tokens in its chain.
      const created = newSession({}, T0);
      await store.createSession(created);
      const rotated = await store.rotateRefreshToken({
        presentedHash: created.session.currentRefreshHash,
        successorHash: 'b'.repeat(64),
        now: T0 + 1000,
        graceMs: 10_000,
        idleTimeoutMs: 86_400_000,
      });
      expect(rotated.kind).toBe('rotated');
      // Without the constraint, a second token of generation 1 is accepted.
      insertToken(path, 'c'.repeat(64), created.session.id, 1);
      await store.deleteExpired(Number.MAX_SAFE_INTEGER); // clears the test's own duplicate with the session
      const kept = newSession({}, T0);
      await store.createSession(kept);
      const before = await store.getSession(kept.session.id);

      expect(await store.migrate()).toEqual({ applied: [4], version: 4 });
      expect(await store.schemaVersion()).toBe(4);
      expect(await store.getSession(kept.session.id)).toEqual(before);
      expect(indexes(path)).toEqual(['latchkey_refresh_tokens_session_generation']);
      expect(() => insertToken(path, 'd'.repeat(64), kept.session.id, 0)).toThrow(/UNIQUE constraint failed/);
      // The upgraded store still rotates, and stores the successor's generation.
      const next = await store.rotateRefreshToken({
        presentedHash: kept.session.currentRefreshHash,
        successorHash: 'e'.repeat(64),
        now: T0 + 2000,
        graceMs: 10_000,
        idleTimeoutMs: 86_400_000,
      });
      expect(next).toMatchObject({ kind: 'rotated', session: { generation: 1, currentRefreshHash: 'e'.repeat(64) } });
      expect(() => insertToken(path, 'f'.repeat(64), kept.session.id, 1)).toThrow(/UNIQUE constraint failed/);
      expect(await store.migrate()).toEqual({ applied: [], version: 4 });
    } finally {
      await store.close();
    }
  });

  it('a fresh database gets the same schema as an upgraded one', async () => {
    const store = sqliteStore({ path });
    try {
      expect(await store.migrate()).toEqual({ applied: [1, 2, 3, 4], version: 4 });
      expect(indexes(path)).toEqual(['latchkey_refresh_tokens_session_generation']);
      const created = newSession({}, T0);
      await store.createSession(created);
      expect(() => insertToken(path, 'a'.repeat(64), created.session.id, 0)).toThrow(/UNIQUE constraint failed/);
    } finally {
      await store.close();
    }
  });
});
