/**
 * Section "api-keys": user API key verification (`latchkey.apiKeys.verify`) on one core, in calls
 * per second, on many distinct keys, cycled.
 *
 * - Cached: against a cached session-token verification (`verifyAccessToken`, verified-token cache
 *   on), the other per-request check latchkey does. A cache hit still re-checks the presented key
 *   against the stored hash in constant time, and revocation and expiry; the ratio shows what that
 *   costs next to a session.
 * - Uncached (`apiKeyCacheSize: 0`): against its floor, one SHA-256 of the key plus one store lookup
 *   by id (`store.getApiKey`), on the memory store and on SQLite. Nothing can do less: the ratio is
 *   latchkey's overhead over the work itself.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compare, runSection } from '../lib/section.mjs';
import { compareCases } from '../lib/measure.mjs';
import { memoryStore } from 'latchkey/stores/memory';
import { benchEngine, issueTokens } from '../lib/engine.mjs';
import { optionalImport } from '../lib/services.mjs';

/** The public id inside a key (format.ts): after `lk_`, 16 characters. */
const idOf = (key) => key.slice(3, 19);

async function createKeys(engine, count) {
  const keys = [];
  for (let i = 0; i < count; i++)
    keys.push((await engine.apiKeys.create({ ownerId: `user-${i % 100}`, name: `key ${i}`, scopes: ['read'] })).key);
  return keys;
}

await runSection('api-keys', async (ctx) => {
  const count = ctx.count(2000, 500);
  const timing = { rounds: ctx.quick ? 3 : 7, roundMs: ctx.ms(700, 250), latencyMs: ctx.ms(500, 150) };
  ctx.note(
    `${count} distinct API keys and as many session tokens (EdDSA), cycled; ${timing.rounds} interleaved rounds of ${timing.roundMs} ms per case, median kept.`,
  );

  ctx.progress(`memory store: creating ${count} keys and ${count} sessions`);
  // The uncached engine shares the cached one's store, so it needs the same master secret.
  const secret = new Uint8Array(32).fill(7);
  // The floor cases read the stores directly, so the section keeps its own references to them.
  const memStore = memoryStore();
  const cached = await benchEngine({ secret, store: memStore, apiKeyCacheSize: count * 2 });
  const uncached = await benchEngine({ secret, store: memStore, apiKeyCacheSize: 0 });
  const keys = await createKeys(cached, count);
  const tokens = await issueTokens(cached, count);

  const stores = [];
  const sqlite = await optionalImport('latchkey/stores/sqlite');
  let dir;
  let sqliteEngine;
  let sqliteDb;
  let sqliteKeys = [];
  if (sqlite) {
    ctx.progress(`SQLite store: creating ${count} keys`);
    dir = mkdtempSync(join(tmpdir(), 'latchkey-bench-apikeys-'));
    sqliteDb = sqlite.sqliteStore({ path: join(dir, 'bench.db') });
    sqliteEngine = await benchEngine({ store: sqliteDb, apiKeyCacheSize: 0 });
    sqliteKeys = await createKeys(sqliteEngine, count);
    stores.push(['SQLite', sqliteEngine, sqliteKeys, sqliteDb]);
  } else {
    ctx.row({
      case: 'SQLite cases',
      status: 'skipped',
      reason: 'latchkey/stores/sqlite is not available (better-sqlite3 missing or not built)',
    });
  }

  const cycle = (list) => {
    let i = 0;
    return () => list[i++ % list.length];
  };
  const nextToken = cycle(tokens);
  const nextKey = cycle(keys);
  const floor = (store, list) => {
    const next = cycle(list);
    return async () => {
      const key = next();
      createHash('sha256').update(key, 'latin1').digest();
      if ((await store.getApiKey(idOf(key))) === null) throw new Error('unknown key');
    };
  };

  const cases = [
    { name: 'session token verify, cache on', async: true, fn: () => cached.verifyAccessToken(nextToken()) },
    { name: 'API key verify, cached', async: true, fn: () => cached.apiKeys.verify(nextKey()) },
    { name: 'API key verify, cached, with a scope', async: true, fn: () => cached.apiKeys.verify(nextKey(), { scopes: ['read'] }) },
    {
      name: 'API key verify, uncached (memory)',
      async: true,
      fn: (
        (next) => () =>
          uncached.apiKeys.verify(next())
      )(cycle(keys)),
    },
    { name: 'SHA-256 + memory store lookup (floor)', async: true, fn: floor(memStore, keys) },
  ];
  for (const [label, engine, list, store] of stores) {
    cases.push({
      name: `API key verify, uncached (${label})`,
      async: true,
      fn: (
        (next) => () =>
          engine.apiKeys.verify(next())
      )(cycle(list)),
    });
    cases.push({ name: `SHA-256 + ${label} store lookup (floor)`, async: true, fn: floor(store, list) });
  }

  // Every case must accept every key before it is timed (a fast refusal is not a result), and the
  // cached engine holds every key before its first timed call.
  for (const c of cases) for (let k = 0; k < count; k++) await c.fn();
  if (cached.apiKeys.cachedKeys !== count) throw new Error(`expected ${count} cached keys, found ${cached.apiKeys.cachedKeys}`);

  const results = await compareCases(cases, timing, (text) => ctx.progress(text));
  const rows = {};
  for (const c of cases) {
    const r = results[c.name];
    rows[c.name] = ctx.row({
      case: c.name,
      metric: 'ops/s',
      value: r.opsPerSec,
      p50Ms: r.p50Ms,
      p99Ms: r.p99Ms,
      cpuMicrosPerOp: r.cpuMicrosPerOp,
    });
  }
  const session = rows['session token verify, cache on'];
  compare(rows['API key verify, cached'], session, 0.5, 'session token verify, cache on');
  compare(rows['API key verify, cached, with a scope'], session, undefined, 'session token verify, cache on');
  compare(rows['API key verify, uncached (memory)'], rows['SHA-256 + memory store lookup (floor)'], 0.8, 'SHA-256 + memory lookup');
  for (const [label] of stores) {
    compare(rows[`API key verify, uncached (${label})`], rows[`SHA-256 + ${label} store lookup (floor)`], 0.8, `SHA-256 + ${label} lookup`);
  }
  ctx.note(
    'A cached key verification still hashes the presented key (SHA-256) and compares it with the stored hash in constant time: the cache saves the store read, never the check of the secret, so a forged secret under a real id costs as much as the real key.',
  );

  await cached.close();
  await uncached.close();
  if (sqliteEngine) {
    await sqliteEngine.close();
    await sqliteDb.close();
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
});
