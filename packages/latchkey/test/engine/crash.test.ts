/**
 * A process killed with SIGKILL in the middle of a refresh loop leaves the SQLite store consistent:
 * every session has exactly one current refresh token, its chain is intact, and the client's last
 * known token still works (it is either current, or the parent of a rotation whose response was
 * lost, which the grace window covers).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { createLatchkey } from 'latchkey';
import { sqliteStore } from 'latchkey/stores/sqlite';
import { sha256 } from '../../src/util/random.js';
import { TEST_SECRET } from '../helpers/engine.js';

const fixture = new URL('../fixtures/refresh-loop.mjs', import.meta.url).pathname;

/** Runs the loop until it has printed `lines` tokens plus a random extra delay, then SIGKILLs it. */
function runAndKill(dbPath: string, lines: number): Promise<Map<string, string>> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [fixture, dbPath, TEST_SECRET, '4'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const last = new Map<string, string>();
    let seen = 0;
    let buffer = '';
    let stderr = '';
    let killing = false;
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout.on('data', (d: Buffer) => {
      buffer += d.toString();
      const parts = buffer.split('\n');
      buffer = parts.pop() ?? '';
      for (const line of parts) {
        const [sid, token] = line.split(' ');
        if (sid && token) last.set(sid, token);
        seen++;
      }
      if (seen >= lines && !killing) {
        killing = true;
        setTimeout(() => child.kill('SIGKILL'), Math.floor(Math.random() * 20));
      }
    });
    child.on('exit', (_code, signal) => {
      if (signal === 'SIGKILL') resolve(last);
      else reject(new Error(`refresh loop exited on its own: ${stderr.slice(0, 500)}`));
    });
  });
}

// Needs the built package (npm test builds it first).
describe('SIGKILL during a refresh loop (SQLite)', () => {
  it('leaves every session consistent and the last known tokens usable, across repeated kills', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'latchkey-crash-'));
    const dbPath = join(dir, 'crash.db');
    for (let round = 0; round < 3; round++) {
      const lastTokens = await runAndKill(dbPath, 150 + round * 50);
      expect(lastTokens.size).toBe(4);

      const db = new Database(dbPath, { readonly: true });
      expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
      const sessions = db.prepare('SELECT * FROM latchkey_sessions').all() as Array<Record<string, string | number | null>>;
      for (const s of sessions) {
        const chain = db.prepare('SELECT * FROM latchkey_refresh_tokens WHERE session_id = ? ORDER BY generation').all(s.id) as Array<Record<string, string | number>>;
        // One token per generation, no gaps, and the newest is the session's one current token.
        expect(chain.map((t) => t.generation)).toEqual(chain.map((_, i) => i));
        expect(chain.at(-1)!.hash).toBe(s.current_refresh_hash);
        expect(chain.at(-1)!.generation).toBe(s.generation);
        if (chain.length > 1) expect(chain.at(-2)!.hash).toBe(s.previous_refresh_hash);
        expect(s.revoked_at).toBeNull();
      }
      db.close();

      // The client's last known token: current, or the parent of a rotation whose response died with the process.
      const store = sqliteStore({ path: dbPath });
      const lk = await createLatchkey({ issuer: 'https://crash.test', secret: TEST_SECRET, store, timers: false, refreshGrace: 120 });
      for (const [sid, token] of lastTokens) {
        const row = (await store.getSession(sid))!;
        expect([row.currentRefreshHash, row.previousRefreshHash]).toContain(sha256(token));
        const next = await lk.refresh(token);
        expect(next.session.id).toBe(sid);
      }
      await store.close();
    }
  }, 60_000);
});
