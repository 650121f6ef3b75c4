/**
 * SIGTERM in the middle of a stream of writes, on the real binary: every request either completes
 * (201, and its session is fully in the store) or is refused cleanly (connection refused, or 503
 * SHUTTING_DOWN), and nothing refused left anything behind. Then the process exits 0.
 */
import { request } from 'node:http';
import { join } from 'node:path';
import { rmSync } from 'node:fs';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { builtCliAvailable, serve } from '../cli/helpers.js';
import { pgExec, postgresAvailable } from '../helpers/postgres.js';
import { tempDir } from './helpers.js';
import { createTestDatabase } from './pg-database.js';

const API_KEY = 'lksk_shutdown-test-key-0123456789abcdefghijklmnopq';

type Outcome = { userId: string; status?: number; code?: string; error?: string };

/** One POST on a fresh connection, so a closed listener shows as ECONNREFUSED, not a reused socket. */
function createSession(url: string, userId: string): Promise<Outcome> {
  return new Promise((resolve) => {
    const req = request(`${url}/v1/sessions`, { method: 'POST', agent: false, headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' } }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d));
      res.on('end', () => {
        let code: string | undefined;
        try {
          code = (JSON.parse(body) as { error?: { code?: string } }).error?.code;
        } catch {
          // Not JSON (a reset connection's partial body): the status alone is the answer.
        }
        resolve({ userId, status: res.statusCode!, ...(code ? { code } : {}) });
      });
      res.on('error', (err: NodeJS.ErrnoException) => resolve({ userId, error: err.code ?? err.message }));
    });
    req.on('error', (err: NodeJS.ErrnoException) => resolve({ userId, error: err.code ?? err.message }));
    req.end(JSON.stringify({ userId }));
  });
}

interface StoreUnderTest {
  env: Record<string, string>;
  /** user id → [sessions, refresh-token rows] */
  rows(): Promise<Map<string, [number, number]>>;
  dispose(): Promise<void>;
}

async function sqliteUnderTest(): Promise<StoreUnderTest> {
  const dir = tempDir('latchkey-shutdown-');
  const file = join(dir, 'db.sqlite');
  return {
    env: { LATCHKEY_STORE: `sqlite:${file}`, LATCHKEY_SECRET_FILE: join(dir, 'secret.key') },
    async rows() {
      const db = new Database(file, { readonly: true });
      try {
        expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
        const result = db
          .prepare('SELECT s.user_id AS u, COUNT(DISTINCT s.id) AS s, COUNT(t.hash) AS t FROM latchkey_sessions s LEFT JOIN latchkey_refresh_tokens t ON t.session_id = s.id GROUP BY s.user_id')
          .all() as Array<{ u: string; s: number; t: number }>;
        return new Map(result.map((r) => [r.u, [r.s, r.t]]));
      } finally {
        db.close();
      }
    },
    async dispose() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function postgresUnderTest(): Promise<StoreUnderTest> {
  const db = await createTestDatabase('lk_shutdown');
  const dir = tempDir('latchkey-shutdown-');
  return {
    env: { LATCHKEY_STORE: db.url, LATCHKEY_SECRET_FILE: join(dir, 'secret.key') },
    async rows() {
      const result = await pgExec<{ u: string; s: string; t: string }>(
        'SELECT s.user_id AS u, COUNT(DISTINCT s.id) AS s, COUNT(t.hash) AS t FROM latchkey_sessions s LEFT JOIN latchkey_refresh_tokens t ON t.session_id = s.id GROUP BY s.user_id',
        [],
        db.url,
      );
      return new Map(result.map((r) => [r.u, [Number(r.s), Number(r.t)]]));
    },
    async dispose() {
      await db.drop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function sigtermUnderLoad(store: StoreUnderTest): Promise<void> {
  const server = await serve({ ...store.env, LATCHKEY_API_KEYS: API_KEY });
  const outcomes: Outcome[] = [];
  let n = 0;
  let created = 0;
  let signalled = false;
  let signal!: () => void;
  const signalledAt = new Promise<void>((resolve) => (signal = resolve));
  const worker = async () => {
    for (;;) {
      const outcome = await createSession(server.url, `load-${n++}`);
      outcomes.push(outcome);
      if (outcome.status === 201 && ++created === 30 && !signalled) {
        signalled = true;
        server.child.kill('SIGTERM');
        signal();
      }
      if (outcome.error) return; // the listener is gone
    }
  };
  await Promise.all(Array.from({ length: 6 }, worker));
  await signalledAt;
  expect(await server.exited).toBe(0);

  const refusedCleanly = (o: Outcome) => o.error === 'ECONNREFUSED' || o.error === 'ECONNRESET' || (o.status === 503 && o.code === 'SHUTTING_DOWN');
  const unexpected = outcomes.filter((o) => o.status !== 201 && !refusedCleanly(o));
  expect(unexpected).toEqual([]);
  expect(outcomes.some((o) => o.error === 'ECONNREFUSED')).toBe(true);

  const rows = await store.rows();
  for (const o of outcomes) {
    // 201: the session and its first refresh token, both there. Anything else: nothing there.
    expect(rows.get(o.userId) ?? [0, 0], JSON.stringify(o)).toEqual(o.status === 201 ? [1, 1] : [0, 0]);
  }
  expect([...rows.keys()].filter((u) => u.startsWith('load-')).length).toBe(outcomes.filter((o) => o.status === 201).length);
}

const built = await builtCliAvailable();
const pg = built && (await postgresAvailable());

describe.skipIf(!built)('graceful shutdown under load (real binary)', () => {
  it('on SQLite', async () => {
    const store = await sqliteUnderTest();
    try {
      await sigtermUnderLoad(store);
    } finally {
      await store.dispose();
    }
  });

  it.skipIf(!pg)('on PostgreSQL', async () => {
    const store = await postgresUnderTest();
    try {
      await sigtermUnderLoad(store);
    } finally {
      await store.dispose();
    }
  });
});
