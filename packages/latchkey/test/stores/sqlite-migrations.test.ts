/**
 * SQLite schema upgrades. Migration 4 gives the refresh-token chain the `UNIQUE (session_id,
 * generation)` that PostgreSQL has always had: a database left at version 3 must upgrade in place,
 * keep every session and token, keep rotating, and from then on refuse a second token of one
 * generation. Migration 5 rebuilds the sessions and refresh-token tables so that a refresh writes
 * fewer B-trees (no index on `current_refresh_hash`, refresh tokens WITHOUT ROWID): a database left at
 * version 4 keeps every session, token and chain, and rotates, detects theft and cascades as before.
 * A fresh database gets the same schema.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sqliteStore } from 'latchkey/stores/sqlite';
import { SQLITE_MIGRATIONS } from '../../src/stores/sqlite/migrations.js';
import { sessionFixture } from 'latchkey/stores';

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

/** What migration 5 is for: which B-trees a refresh writes. */
function schema(path: string): { sessionIndexes: string[]; tokenTable: string } {
  const db = new Database(path, { readonly: true });
  try {
    const sessionIndexes = db
      .prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'latchkey_sessions' ORDER BY name")
      .all() as Array<{ name: string }>;
    const table = db.prepare("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'latchkey_refresh_tokens'").get() as {
      sql: string;
    };
    return {
      sessionIndexes: sessionIndexes.map((r) => r.name),
      tokenTable: /WITHOUT ROWID\s*$/.test(table.sql) ? 'without rowid' : 'rowid',
    };
  } finally {
    db.close();
  }
}

const FEWER_BTREES = {
  // The primary key's own index, by user (listing devices), revoked (the revocation feed): no
  // current_refresh_hash index.
  sessionIndexes: ['latchkey_sessions_revoked', 'latchkey_sessions_user', 'sqlite_autoindex_latchkey_sessions_1'],
  tokenTable: 'without rowid',
};

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
      const created = sessionFixture({}, T0);
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
      const kept = sessionFixture({}, T0);
      await store.createSession(kept);
      const before = await store.getSession(kept.session.id);

      expect(await store.migrate()).toEqual({ applied: [4, 5, 6], version: 6 });
      expect(await store.schemaVersion()).toBe(6);
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
      expect(await store.migrate()).toEqual({ applied: [], version: 6 });
    } finally {
      await store.close();
    }
  });

  it('a fresh database gets the same schema as an upgraded one', async () => {
    const store = sqliteStore({ path });
    try {
      expect(await store.migrate()).toEqual({ applied: [1, 2, 3, 4, 5, 6], version: 6 });
      expect(schema(path)).toEqual(FEWER_BTREES);
      expect(indexes(path)).toEqual(['latchkey_refresh_tokens_session_generation']);
      const created = sessionFixture({}, T0);
      await store.createSession(created);
      expect(() => insertToken(path, 'a'.repeat(64), created.session.id, 0)).toThrow(/UNIQUE constraint failed/);
    } finally {
      await store.close();
    }
  });

  it('upgrades a version-4 database to fewer B-trees per refresh: sessions, chains, theft and cascades kept', async () => {
    databaseAt(path, 4);
    const store = sqliteStore({ path });
    try {
      const graceMs = 10_000;
      const rotate = (presentedHash: string, successorHash: string, now: number) =>
        store.rotateRefreshToken({ presentedHash, successorHash, now, graceMs, idleTimeoutMs: 86_400_000 });
      // On the version-4 schema: a chain rotated twice, a plain session, a bound one and a revoked one.
      const chain = sessionFixture({ userId: 'alice' }, T0);
      await store.createSession(chain);
      expect((await rotate(chain.session.currentRefreshHash, 'b'.repeat(64), T0 + 1000)).kind).toBe('rotated');
      expect((await rotate('b'.repeat(64), 'c'.repeat(64), T0 + 2000)).kind).toBe('rotated');
      const plain = sessionFixture({ userId: 'alice' }, T0);
      await store.createSession(plain);
      const bound = sessionFixture({ userId: 'bob' }, T0);
      await store.createSession(bound);
      await store.bindSession(bound.session.id, { method: 'dpop', jkt: 'j'.repeat(43) }, T0);
      const revoked = sessionFixture({ userId: 'carol' }, T0);
      await store.createSession(revoked);
      await store.revokeSession(revoked.session.id, T0 + 500, 'signout');
      // An orphaned token, as only a writer behind the store's back (foreign keys off) could leave one.
      const orphanDb = new Database(path);
      orphanDb.pragma('foreign_keys = OFF');
      orphanDb.prepare('INSERT INTO latchkey_refresh_tokens VALUES (?, ?, 0, ?)').run('o'.repeat(64), 'no-such-session', T0);
      orphanDb.close();
      const before = await Promise.all([chain, plain, bound, revoked].map((s) => store.getSession(s.session.id)));
      const aliceBefore = await store.listActiveSessions('alice', T0 + 3000);
      const feedBefore = await store.listRevocationsSince(0);

      expect(await store.migrate()).toEqual({ applied: [5, 6], version: 6 });
      expect(schema(path)).toEqual(FEWER_BTREES);
      expect(await Promise.all([chain, plain, bound, revoked].map((s) => store.getSession(s.session.id)))).toEqual(before);
      expect(await store.listActiveSessions('alice', T0 + 3000)).toEqual(aliceBefore);
      expect(await store.listRevocationsSince(0)).toEqual(feedBefore);

      // The chain carried over: the immediate parent inside the grace window is benign, the current
      // token rotates, and a token two generations back is theft.
      expect((await rotate('b'.repeat(64), 'c'.repeat(64), T0 + 3000)).kind).toBe('grace');
      expect(await rotate('c'.repeat(64), 'd'.repeat(64), T0 + 4000)).toMatchObject({ kind: 'rotated', session: { generation: 3 } });
      expect((await rotate(chain.session.currentRefreshHash, 'x'.repeat(64), T0 + 5000)).kind).toBe('theft');
      expect((await store.getSession(chain.session.id))?.revokedReason).toBe('theft');
      // Refresh hashes stay unique (the token table's key) and one token per (session, generation).
      expect(() => insertToken(path, 'd'.repeat(64), plain.session.id, 5)).toThrow(/UNIQUE constraint failed/);
      expect(() => insertToken(path, 'z'.repeat(64), plain.session.id, 0)).toThrow(/UNIQUE constraint failed/);
      // The foreign key still cascades and still refuses a token of no session.
      const db = new Database(path);
      try {
        db.pragma('foreign_keys = ON');
        expect(() =>
          db.prepare('INSERT INTO latchkey_refresh_tokens VALUES (?, ?, 0, ?)').run('q'.repeat(64), 'no-such-session', T0),
        ).toThrow(/FOREIGN KEY/);
        db.prepare('DELETE FROM latchkey_sessions WHERE id = ?').run(plain.session.id);
        const left = db
          .prepare('SELECT COUNT(*) AS n FROM latchkey_refresh_tokens WHERE session_id IN (?, ?)')
          .get(plain.session.id, 'no-such-session') as { n: number };
        expect(left.n).toBe(0);
      } finally {
        db.close();
      }
      expect(await store.migrate()).toEqual({ applied: [], version: 6 });
    } finally {
      await store.close();
    }
  });
});
