/**
 * Child process for the "scale" section. argv[2] is JSON `{ mode, ... }`; the answer goes back over IPC.
 *   verify   — issue tokens, wait for 'go', run verification for `ms`, report ops/s (one per process)
 *   denylist — fill a RevocationDenylist with `count` session ids and report the heap and RSS growth
 *   sqlite-engine — open an engine on the SQLite file in `dir`; report refresh rate, RSS and file size
 *   sqlite-load   — bulk-insert `count` sessions into that file (run between two sqlite-engine runs)
 */
import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, openSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { sqliteStore } from 'latchkey/stores/sqlite';
import { RevocationDenylist } from '../../packages/latchkey/dist/revocation/denylist.js';
import { SESSION_COLUMNS, sessionToValues } from '../../packages/latchkey/dist/stores/sql/rows.js';
import { benchEngine, issueTokens } from '../lib/engine.mjs';
import { throughput } from '../lib/measure.mjs';

const task = JSON.parse(process.argv[2]);
const reply = (m) => process.send(m, () => process.exit(0));

function settledMemory() {
  for (let i = 0; i < 3; i++) globalThis.gc?.();
  const m = process.memoryUsage();
  return { rss: m.rss, heapUsed: m.heapUsed };
}

/** Session ids exactly as the engine makes them: 16 random bytes, base64url (22 characters). */
function sessionIds(count) {
  const pool = randomBytes(16 * Math.min(count, 65_536));
  const ids = new Array(count);
  for (let i = 0; i < count; i++) {
    if (i > 0 && i % 65_536 === 0) randomBytes(pool.length).copy(pool);
    const o = (i % 65_536) * 16;
    ids[i] = pool.toString('base64url', o, o + 16);
  }
  return ids;
}

/** This process's I/O counters (Linux): bytes and calls through read and write, page cache included. */
function ioCounters() {
  try {
    return Object.fromEntries(readFileSync('/proc/self/io', 'utf8').trim().split('\n').map((l) => { const [k, v] = l.split(': '); return [k, Number(v)]; }));
  } catch {
    return undefined;
  }
}

async function refreshRate(engine, ms) {
  let token = (await engine.createSession({ userId: 'scale-probe' })).refreshToken;
  const rate = await throughput(async () => { token = (await engine.refresh(token)).refreshToken; }, ms, true);
  // What a refresh writes and reads, in a fixed count after the timed run: counts, not timings, so the
  // figure holds on a loaded machine (WAL frames written, pages read from the file).
  const n = 1000;
  const before = ioCounters();
  for (let i = 0; i < n; i++) token = (await engine.refresh(token)).refreshToken;
  const after = ioCounters();
  const io = before && after ? { writeBytes: (after.wchar - before.wchar) / n, reads: (after.syscr - before.syscr) / n } : undefined;
  return { rate, io };
}

if (task.mode === 'verify') {
  const engine = await benchEngine({ verifyCacheSize: task.cached ? 10_000 : 0 });
  const tokens = await issueTokens(engine, task.tokens);
  let i = 0;
  for (let k = 0; k < 200; k++) await engine.verifyAccessToken(tokens[i++ % tokens.length]);
  process.send({ ready: true });
  process.once('message', async () => {
    const opsPerSec = await throughput(() => engine.verifyAccessToken(tokens[i++ % tokens.length]), task.ms, true);
    reply({ opsPerSec });
  });
} else if (task.mode === 'denylist') {
  const now = Date.now();
  // The ids are counted: in production the denylist is what keeps them alive.
  const before = settledMemory();
  const list = new RevocationDenylist(15 * 60_000, now);
  const fresh = sessionIds(task.count);
  for (let i = 0; i < fresh.length; i++) list.add(fresh[i], now, now);
  fresh.length = 0; // from here on only the denylist holds the ids
  const after = settledMemory();
  if (list.size !== task.count || (task.count > 0 && list.has('not-a-session-id'))) throw new Error('denylist did not hold what was added');
  reply({ size: list.size, heapDelta: after.heapUsed - before.heapUsed, rssDelta: after.rss - before.rss });
} else if (task.mode === 'sqlite-engine') {
  // The engine alone in its process, so its RSS is the engine's (the loader ran elsewhere).
  const path = join(task.dir, 'sessions.db');
  const store = sqliteStore({ path });
  const engine = await benchEngine({ store, secret: new Uint8Array(32).fill(3) });
  const { rate, io } = await refreshRate(engine, task.ms);
  await engine.listSessions('user-42'); // one user's devices: an indexed read
  const mem = settledMemory();
  const size = (p) => { try { return statSync(p).size; } catch { return 0; } };
  await engine.close();
  await store.close();
  reply({ rate, io, rss: mem.rss, heapUsed: mem.heapUsed, fileBytes: size(path) + size(`${path}-wal`) });
} else if (task.mode === 'sqlite-load') {
  // Bulk load through better-sqlite3, in the store's own row mapping, 50 000 rows per transaction.
  const path = join(task.dir, 'sessions.db');
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  const insertSession = db.prepare(`INSERT INTO latchkey_sessions (${SESSION_COLUMNS.join(', ')}) VALUES (${SESSION_COLUMNS.map(() => '?').join(', ')})`);
  const insertToken = db.prepare('INSERT INTO latchkey_refresh_tokens (hash, session_id, generation, created_at) VALUES (?, ?, 0, ?)');
  const now = Date.now();
  const t0 = performance.now();
  const chunk = 50_000;
  for (let start = 0; start < task.count; start += chunk) {
    const ids = sessionIds(Math.min(chunk, task.count - start));
    const hashes = sessionIds(ids.length).map((h) => h + h); // 44-character stand-ins for SHA-256 base64url
    db.transaction(() => {
      for (let k = 0; k < ids.length; k++) {
        const n = start + k;
        insertSession.run(...sessionToValues({
          id: ids[k], userId: `user-${n % 250_000}`, createdAt: now, lastActiveAt: now,
          idleExpiresAt: now + 1_209_600_000, absoluteExpiresAt: now + 7_776_000_000, authTime: now,
          device: { userAgent: 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36', ip: `198.51.100.${n % 256}` },
          data: {}, accessClaims: { role: 'member' }, idClaims: {}, revokedAt: null, revokedReason: null,
          currentRefreshHash: hashes[k], previousRefreshHash: null, rotatedAt: null, generation: 0,
        }));
        insertToken.run(hashes[k], ids[k], now);
      }
    })();
    process.send({ progress: `inserted ${start + ids.length} of ${task.count}` });
  }
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
  // The load's 50+ MB of dirty pages to disk now: otherwise the first checkpoint's fsync in the measured
  // process waits for the loader's writeback, and the full store's refresh rate counts the load.
  const fd = openSync(path, 'r+');
  fsyncSync(fd);
  closeSync(fd);
  reply({ insertSeconds: (performance.now() - t0) / 1000 });
}
