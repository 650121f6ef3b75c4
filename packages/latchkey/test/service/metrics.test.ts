/**
 * The `latchkey_active_sessions` gauge, fed by the store's `countActiveSessions`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqliteStore } from 'latchkey/stores/sqlite';
import { startTestService, type TestService } from './helpers.js';

describe('active sessions gauge', () => {
  let dir: string;
  let store: SqliteStore;
  let t: TestService;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'latchkey-metrics-'));
    const file = join(dir, 'db.sqlite');
    await new SqliteStore({ path: file }).migrate();
    store = new SqliteStore({ path: file });
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
});
