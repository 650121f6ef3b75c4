/**
 * Section "refresh": refresh-token rotation, a durable write per call, in rotations per second with
 * the p99 latency, under a fixed number of concurrent clients that each follow their own token chain.
 *
 * SQLite (a file in a temp dir, the store's own WAL + synchronous=NORMAL) is compared, for
 * information, with the same file settings doing one single-row UPDATE per transaction. PostgreSQL,
 * when `latchkey/stores/postgres` is built, is compared with pgbench running a one-UPDATE-per-
 * transaction script on the same server, same client count, same duration: the durable-write floor.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import pg from 'pg';
import { generateKeyPairSync } from 'node:crypto';
import { sqliteStore } from 'latchkey/stores/sqlite';
import { encodeSegment, signCompact } from '../../packages/latchkey/dist/tokens/jws.js';
import { benchEngine } from '../lib/engine.mjs';
import { percentile } from '../lib/measure.mjs';
import { compare, runSection } from '../lib/section.mjs';
import { optionalImport, PG_HOST, PG_USER, postgresAvailable, scratchDatabase } from '../lib/services.mjs';

const run = promisify(execFile);
const PGBENCH = process.env.LATCHKEY_BENCH_PGBENCH ?? '/usr/bin/pgbench';
const CLIENTS = 8;
const FLOOR_ROWS = 10_000;

/** `clients` concurrent chains of refreshes for `ms`; returns ops/s and latency percentiles. */
/** Issue 18: half the ~250 µs of Node CPU per PostgreSQL refresh measured on 2026-12-01. */
const MAX_NODE_CPU_PER_REFRESH_MICROS = 125;

/**
 * CPU time (user + system, µs) of every backend connected to `database`, from /proc/<pid>/stat
 * (fields 14 and 15, in clock ticks; 100 per second on Linux). Undefined when PostgreSQL runs
 * elsewhere (no such pid here) or /proc is unreadable.
 */
async function backendCpuMicros(database) {
  const client = new pg.Client({ connectionString: database.url });
  await client.connect();
  try {
    const { rows } = await client.query('SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()');
    let total = 0;
    for (const { pid } of rows) {
      let stat;
      try {
        stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      } catch {
        return undefined;
      }
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      total += (Number(fields[11]) + Number(fields[12])) * 10_000;
    }
    return rows.length > 0 ? total : undefined;
  } finally {
    await client.end();
  }
}

async function refreshLoad(engine, clients, ms) {
  const tokens = [];
  for (let c = 0; c < clients; c++) tokens.push((await engine.createSession({ userId: `bench-${c}` })).refreshToken);
  const samples = [];
  const cpuBefore = process.cpuUsage();
  const start = performance.now();
  const deadline = start + ms;
  await Promise.all(tokens.map(async (token) => {
    while (performance.now() < deadline) {
      const t0 = performance.now();
      token = (await engine.refresh(token)).refreshToken;
      samples.push(performance.now() - t0);
    }
  }));
  const seconds = (performance.now() - start) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  samples.sort((a, b) => a - b);
  return {
    opsPerSec: samples.length / seconds,
    p50Ms: percentile(samples, 50),
    p99Ms: percentile(samples, 99),
    count: samples.length,
    // Node-side CPU per refresh (all threads), for telling the app's share from the database's.
    cpuMicrosPerOp: (cpu.user + cpu.system) / Math.max(1, samples.length),
  };
}

/** The SQLite floor: one single-row UPDATE per BEGIN IMMEDIATE transaction, same pragmas as the store. */
function sqliteFloor(path, ms) {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.exec('CREATE TABLE rows (id INTEGER PRIMARY KEY, v INTEGER NOT NULL)');
  const insert = db.prepare('INSERT INTO rows (id, v) VALUES (?, 0)');
  db.transaction(() => { for (let i = 1; i <= FLOOR_ROWS; i++) insert.run(i); })();
  const update = db.prepare('UPDATE rows SET v = v + 1 WHERE id = ?');
  const txn = db.transaction((id) => update.run(id)).immediate;
  const samples = [];
  const start = performance.now();
  const deadline = start + ms;
  while (performance.now() < deadline) {
    const t0 = performance.now();
    txn(1 + Math.floor(Math.random() * FLOOR_ROWS));
    samples.push(performance.now() - t0);
  }
  const seconds = (performance.now() - start) / 1000;
  db.close();
  samples.sort((a, b) => a - b);
  return { opsPerSec: samples.length / seconds, p50Ms: percentile(samples, 50), p99Ms: percentile(samples, 99) };
}

/** The floor: one single-row UPDATE per transaction (autocommit), one round trip. */
const UPDATE_SCRIPT = `\\set id random(1, ${FLOOR_ROWS})
UPDATE bench_rows SET v = v + 1 WHERE id = :id;
`;
/**
 * Not the floor, for explanation: the statement shape of a latchkey refresh on PostgreSQL (BEGIN,
 * SELECT ... FOR UPDATE, UPDATE + INSERT in one statement, COMMIT: four round trips), in pgbench.
 */
const REFRESH_SHAPE_SCRIPT = `\\set id random(1, ${FLOOR_ROWS})
BEGIN;
SELECT v FROM bench_rows WHERE id = :id FOR UPDATE;
WITH u AS (UPDATE bench_rows SET v = v + 1 WHERE id = :id RETURNING id) INSERT INTO bench_tokens (row_id, created_at) SELECT id, now() FROM u;
COMMIT;
`;
/** For explanation: the one-statement fast path proposed for the happy-path refresh (one round trip). */
const ONE_STATEMENT_SCRIPT = `\\set id random(1, ${FLOOR_ROWS})
WITH u AS (UPDATE bench_rows SET v = v + 1 WHERE id = :id RETURNING id, v), s AS (INSERT INTO bench_tokens (row_id, created_at) SELECT id, now() FROM u) SELECT * FROM u;
`;

/**
 * The same statements from Node through node-postgres (pool of `clients`, one chain each): what the
 * driver and the event loop cost before latchkey does anything. `fourTrips`: the refresh shape.
 */
async function pgDriverLoad(database, fourTrips, clients, ms) {
  const pool = new pg.Pool({ connectionString: database.url, max: clients });
  pool.on('error', () => {}); // an idle connection dropped by the server: the next query opens another
  const samples = [];
  const cpuBefore = process.cpuUsage();
  const start = performance.now();
  const deadline = start + ms;
  await Promise.all(Array.from({ length: clients }, async () => {
    while (performance.now() < deadline) {
      const id = 1 + Math.floor(Math.random() * FLOOR_ROWS);
      const t0 = performance.now();
      if (fourTrips) {
        const c = await pool.connect();
        try {
          await c.query('BEGIN');
          await c.query('SELECT v FROM bench_rows WHERE id = $1 FOR UPDATE', [id]);
          await c.query('WITH u AS (UPDATE bench_rows SET v = v + 1 WHERE id = $1 RETURNING id) INSERT INTO bench_tokens (row_id, created_at) SELECT id, now() FROM u', [id]);
          await c.query('COMMIT');
        } finally {
          c.release();
        }
      } else {
        await pool.query('WITH u AS (UPDATE bench_rows SET v = v + 1 WHERE id = $1 RETURNING id, v), s AS (INSERT INTO bench_tokens (row_id, created_at) SELECT id, now() FROM u) SELECT * FROM u', [id]);
      }
      samples.push(performance.now() - t0);
    }
  }));
  const seconds = (performance.now() - start) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  await pool.end();
  samples.sort((a, b) => a - b);
  return { opsPerSec: samples.length / seconds, p50Ms: percentile(samples, 50), p99Ms: percentile(samples, 99), cpuMicrosPerOp: (cpu.user + cpu.system) / Math.max(1, samples.length) };
}

async function preparePgbench(database) {
  const client = new pg.Client({ connectionString: database.url });
  await client.connect();
  await client.query('CREATE TABLE bench_rows (id integer PRIMARY KEY, v bigint NOT NULL)');
  await client.query('CREATE TABLE bench_tokens (id bigserial PRIMARY KEY, row_id integer NOT NULL, created_at timestamptz NOT NULL)');
  await client.query(`INSERT INTO bench_rows SELECT g, 0 FROM generate_series(1, ${FLOOR_ROWS}) g`);
  await client.end();
}

/** Runs a pgbench script; tps from its summary, p50/p99 from its per-transaction log. */
async function pgbench(database, scriptText, clients, seconds, parent) {
  const dir = mkdtempSync(join(parent, 'pgbench-'));
  const script = join(dir, 'script.sql');
  writeFileSync(script, scriptText);
  const logPrefix = join(dir, 'pgbench_log');
  const args = ['-h', PG_HOST, '-U', PG_USER, '-n', '-f', script, '-c', String(clients), '-j', '2', '-T', String(seconds), '-l', `--log-prefix=${logPrefix}`, database.name];
  const { stdout } = await run(PGBENCH, args, { timeout: (seconds + 30) * 1000 });
  const tps = Number(/tps = ([\d.]+) \(without initial connection time\)/.exec(stdout)?.[1]);
  const latencies = [];
  for (const file of readdirSync(dir).filter((f) => f.startsWith('pgbench_log'))) {
    for (const line of readFileSync(join(dir, file), 'utf8').split('\n')) {
      const us = Number(line.split(' ')[2]);
      if (Number.isFinite(us) && line) latencies.push(us / 1000);
    }
  }
  latencies.sort((a, b) => a - b);
  return { opsPerSec: tps, p50Ms: percentile(latencies, 50), p99Ms: percentile(latencies, 99), command: `pgbench ${args.join(' ')}` };
}

await runSection('refresh', async (ctx) => {
  const ms = ctx.ms(10_000, 3_000);
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-bench-refresh-'));
  ctx.note(`${CLIENTS} concurrent clients, each rotating its own refresh token for ${ms / 1000} s per case.`);
  try {
    // --- SQLite -------------------------------------------------------------------------------
    ctx.progress('SQLite floor (one UPDATE per transaction)');
    const floor = sqliteFloor(join(dir, 'floor.db'), ms);
    const floorRow = ctx.row({ case: 'SQLite single-row UPDATE txn (floor)', metric: 'ops/s', value: floor.opsPerSec, p50Ms: floor.p50Ms, p99Ms: floor.p99Ms });
    ctx.progress('SQLite latchkey refresh');
    const sqliteDb = sqliteStore({ path: join(dir, 'latchkey.db') });
    const sqliteEngine = await benchEngine({ store: sqliteDb });
    const sqlite = await refreshLoad(sqliteEngine, CLIENTS, ms);
    await sqliteEngine.close();
    await sqliteDb.close();
    // Issue 18's target: at least a fifth of SQLite's own single-UPDATE rate (0.08–0.09 before it).
    compare(ctx.row({ case: 'SQLite latchkey refresh', metric: 'ops/s', value: sqlite.opsPerSec, p50Ms: sqlite.p50Ms, p99Ms: sqlite.p99Ms, cpuMicrosPerOp: sqlite.cpuMicrosPerOp }), floorRow, 0.2, 'SQLite floor');

    // --- What the ID token costs (issue 18: "measure what the ID token costs") ------------------
    ctx.progress('ID token share of a refresh');
    const share = await idTokenShare(ctx.count(6000, 1500));
    const refreshCpu = ctx.row({ case: 'refresh CPU, memory store, 1 client (EdDSA)', metric: 'µs', value: share.refreshMicros });
    compare(ctx.row({ case: 'of which: signing the ID token (EdDSA)', metric: 'µs', value: share.idMicros }), refreshCpu, undefined, 'refresh CPU');
    ctx.note('The ID token is one of the two signatures of a refresh; its CPU is measured by signing an ID token of the same shape with the same node:crypto path (tokens/jws.ts), on one core, CPU time per call. It is minted eagerly: the refresh answer carries it by contract (`idToken` in the service\'s refresh response, the front token the SDK reads the new expiry and claims from), so a lazy ID token would change both contracts; see the analysis.');

    // --- PostgreSQL ---------------------------------------------------------------------------
    const pgModule = await optionalImport('latchkey/stores/postgres');
    if (!pgModule?.postgresStore) {
      ctx.row({ case: 'PostgreSQL latchkey refresh', status: 'skipped', reason: 'not available (latchkey/stores/postgres is not built)' });
      return;
    }
    if (!(await postgresAvailable())) {
      ctx.row({ case: 'PostgreSQL latchkey refresh', status: 'skipped', reason: 'PostgreSQL not reachable on 127.0.0.1:5432' });
      return;
    }
    const database = await scratchDatabase('latchkey_bench_refresh');
    try {
      ctx.progress(`pgbench floor, ${CLIENTS} clients, ${Math.round(ms / 1000)} s`);
      await preparePgbench(database);
      const pgSeconds = Math.max(1, Math.round(ms / 1000));
      const floorPg = await pgbench(database, UPDATE_SCRIPT, CLIENTS, pgSeconds, dir);
      const pgFloorRow = ctx.row({ case: 'pgbench single-row UPDATE txn (floor)', metric: 'ops/s', value: floorPg.opsPerSec, p50Ms: floorPg.p50Ms, p99Ms: floorPg.p99Ms });
      ctx.note(`PostgreSQL floor: ${floorPg.command}; script: ${UPDATE_SCRIPT.replace(/\n/g, ' ')}`);
      ctx.progress('pgbench, the statement shape of a refresh');
      const shape = await pgbench(database, REFRESH_SHAPE_SCRIPT, CLIENTS, pgSeconds, dir);
      const shapeRow = compare(ctx.row({ case: 'pgbench, refresh-shaped txn (4 round trips)', metric: 'ops/s', value: shape.opsPerSec, p50Ms: shape.p50Ms, p99Ms: shape.p99Ms }), pgFloorRow, undefined, 'pgbench');
      ctx.progress('pgbench, one-statement rotation');
      const single = await pgbench(database, ONE_STATEMENT_SCRIPT, CLIENTS, pgSeconds, dir);
      compare(ctx.row({ case: 'pgbench, one-statement UPDATE+INSERT (1 round trip)', metric: 'ops/s', value: single.opsPerSec, p50Ms: single.p50Ms, p99Ms: single.p99Ms }), pgFloorRow, undefined, 'pgbench');
      for (const fourTrips of [true, false]) {
        ctx.progress(`node-postgres, ${fourTrips ? 'refresh-shaped txn' : 'one statement'}`);
        const d = await pgDriverLoad(database, fourTrips, CLIENTS, pgSeconds * 1000);
        compare(ctx.row({
          case: fourTrips ? 'node-postgres, refresh-shaped txn (4 round trips)' : 'node-postgres, one-statement UPDATE+INSERT',
          metric: 'ops/s', value: d.opsPerSec, p50Ms: d.p50Ms, p99Ms: d.p99Ms, cpuMicrosPerOp: d.cpuMicrosPerOp,
        }), pgFloorRow, undefined, 'pgbench');
      }
      ctx.progress('PostgreSQL latchkey refresh');
      const store = pgModule.postgresStore({ connectionString: database.url, schema: 'latchkey_bench' });
      const engine = await benchEngine({ store });
      const r = await refreshLoad(engine, CLIENTS, pgSeconds * 1000);
      // The database's share, on the same two cores: the CPU time of this database's backends (all
      // opened by this engine's pool during the run), read from /proc while they are still open.
      const dbCpu = await backendCpuMicros(database);
      await engine.close();
      await store.close();
      // Issue 18's targets: at least 0.35× pgbench's single-UPDATE rate, and half the ~250 µs of
      // latchkey CPU per refresh measured before it.
      compare(ctx.row({ case: 'PostgreSQL latchkey refresh', metric: 'ops/s', value: r.opsPerSec, p50Ms: r.p50Ms, p99Ms: r.p99Ms, cpuMicrosPerOp: r.cpuMicrosPerOp }), pgFloorRow, 0.35, 'pgbench');
      ctx.row({
        case: 'PostgreSQL latchkey refresh: Node CPU per refresh',
        metric: 'µs',
        value: r.cpuMicrosPerOp,
        target: `≤ ${MAX_NODE_CPU_PER_REFRESH_MICROS} µs`,
        met: r.cpuMicrosPerOp <= MAX_NODE_CPU_PER_REFRESH_MICROS,
      });
      if (dbCpu !== undefined) ctx.row({ case: 'PostgreSQL latchkey refresh: PostgreSQL backend CPU per refresh', metric: 'µs', value: dbCpu / Math.max(1, r.count) });
      else ctx.note('PostgreSQL backend CPU not measured: /proc/<pid>/stat of the backends is not readable here (another host or container).');
      ctx.row(compare({ case: 'PostgreSQL latchkey refresh vs refresh-shaped pgbench', metric: 'ops/s', value: r.opsPerSec }, shapeRow, undefined, 'refresh-shaped pgbench'));
    } finally {
      const leftover = await database.drop();
      if (leftover) ctx.note(`Connections still open at the end, forced out by DROP DATABASE: ${leftover}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** CPU per refresh on the memory store, and CPU to sign one ID token of the shape a refresh signs. */
async function idTokenShare(n) {
  const engine = await benchEngine({});
  let token = (await engine.createSession({ userId: 'u_share', accessClaims: { role: 'member' }, idClaims: { name: 'Ada', email: 'ada@example.com' } })).refreshToken;
  for (let i = 0; i < 300; i++) token = (await engine.refresh(token)).refreshToken;
  let before = process.cpuUsage();
  for (let i = 0; i < n; i++) token = (await engine.refresh(token)).refreshToken;
  let used = process.cpuUsage(before);
  const refreshMicros = (used.user + used.system) / n;
  await engine.close();
  const { privateKey } = generateKeyPairSync('ed25519');
  const header = encodeSegment({ alg: 'EdDSA', typ: 'JWT', kid: 'k1' });
  const payload = (i) => ({ name: 'Ada', email: 'ada@example.com', iss: 'https://bench.latchkey.test', aud: 'latchkey-id', sub: 'u_share', sid: 'abcdefghijklmnopqrstuv', iat: i, exp: i + 900, auth_time: i });
  for (let i = 0; i < 300; i++) signCompact('EdDSA', privateKey, header, payload(i));
  before = process.cpuUsage();
  for (let i = 0; i < n; i++) signCompact('EdDSA', privateKey, header, payload(i));
  used = process.cpuUsage(before);
  return { refreshMicros, idMicros: (used.user + used.system) / n };
}
