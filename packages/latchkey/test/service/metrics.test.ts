/**
 * The `latchkey_active_sessions` gauge. The SessionStore contract has no count yet, so the service
 * feeds the gauge from any store that offers `countActiveSessions(now)`; here the real SQLite store
 * gains one (a plain query on a second connection to the same file) to prove the wiring.
 */
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqliteStore } from 'latchkey/stores/sqlite';
import { startTestService, type TestService } from './helpers.js';

class CountingSqliteStore extends SqliteStore {
  readonly #reader: Database.Database;

  constructor(path: string) {
    super({ path });
    this.#reader = new Database(path, { readonly: true });
  }

  async countActiveSessions(now: number): Promise<number> {
    const row = this.#reader
      .prepare('SELECT COUNT(*) AS n FROM latchkey_sessions WHERE revoked_at IS NULL AND idle_expires_at > ? AND absolute_expires_at > ?')
      .get(now, now) as { n: number };
    return row.n;
  }

  override async close(): Promise<void> {
    this.#reader.close();
    await super.close();
  }
}

describe('active sessions gauge', () => {
  let dir: string;
  let store: CountingSqliteStore;
  let t: TestService;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'latchkey-metrics-'));
    const file = join(dir, 'db.sqlite');
    await new SqliteStore({ path: file }).migrate();
    store = new CountingSqliteStore(file);
    t = await startTestService({ store });
  });
  afterAll(async () => {
    await t?.close();
    await store?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const gauge = async () => /latchkey_active_sessions (\d+)/.exec((await t.call('GET', '/metrics', { auth: null })).text)?.[1];

  it('counts sessions neither revoked nor expired, at scrape time', async () => {
    expect(await gauge()).toBe('0');
    const a = await t.call('POST', '/v1/sessions', { body: { userId: 'g1' } });
    await t.call('POST', '/v1/sessions', { body: { userId: 'g2' } });
    expect(await gauge()).toBe('2');
    await t.call('DELETE', `/v1/sessions/${a.json.session.id}`);
    expect(await gauge()).toBe('1');
  });

  it('is absent with a store that cannot count', async () => {
    const plain = await startTestService();
    try {
      expect((await plain.call('GET', '/metrics', { auth: null })).text).not.toContain('latchkey_active_sessions');
    } finally {
      await plain.close();
    }
  });
});
