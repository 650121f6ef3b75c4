/** Probes for the real services (PostgreSQL, Redis) and a scratch database per run. */
import pg from 'pg';
import { Redis } from 'ioredis';

export const PG_HOST = process.env.LATCHKEY_BENCH_PG_HOST ?? '127.0.0.1';
export const PG_USER = process.env.LATCHKEY_BENCH_PG_USER ?? 'postgres';
export const REDIS_URL = process.env.LATCHKEY_BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';

export function pgUrl(database) {
  return `postgres://${PG_USER}@${PG_HOST}:5432/${database}`;
}

/** True when PostgreSQL answers within a second. */
export async function postgresAvailable() {
  const client = new pg.Client({ connectionString: pgUrl('postgres'), connectionTimeoutMillis: 1000 });
  try {
    await client.connect();
    await client.query('select 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

export async function redisAvailable() {
  const redis = new Redis(REDIS_URL, { lazyConnect: true, connectTimeout: 1000, maxRetriesPerRequest: 0, retryStrategy: () => null });
  try {
    await redis.connect();
    return (await redis.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    redis.disconnect();
  }
}

function isAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code === 'EPERM';
  }
}

/** Creates a database of our own; returns its name and a `drop()` that removes it (forcing out stragglers). */
export async function scratchDatabase(prefix) {
  const name = `${prefix}_${process.pid}_${Date.now().toString(36)}`.toLowerCase().replace(/[^a-z0-9_]/g, '_');
  const admin = new pg.Client({ connectionString: pgUrl('postgres') });
  await admin.connect();
  try {
    // Databases left by a benchmark process that was killed: the name carries its pid.
    const { rows } = await admin.query("SELECT datname FROM pg_database WHERE datname LIKE 'latchkey\\_bench\\_%'");
    for (const { datname } of rows) {
      const pid = Number(/_(\d+)_[a-z0-9]+$/.exec(datname)?.[1]);
      if (pid > 0 && !isAlive(pid)) await admin.query(`DROP DATABASE IF EXISTS ${datname} WITH (FORCE)`);
    }
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  return {
    name,
    url: pgUrl(name),
    /** Drops the database; returns a description of any connection still open that had to be forced out. */
    async drop() {
      const c = new pg.Client({ connectionString: pgUrl('postgres') });
      await c.connect();
      try {
        // pg's Pool.end() resolves before its sockets have closed: give the backends a moment to
        // go, so that FORCE only has to remove connections that were really left open.
        let rows = [];
        for (let i = 0; i < 40; i++) {
          ({ rows } = await c.query("SELECT application_name, state, left(query, 60) AS query FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", [name]));
          if (rows.length === 0) break;
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
        return rows.length === 0 ? null : `${rows.length} connection(s), e.g. ${rows[0].application_name || '(no name)'} ${rows[0].state}: ${rows[0].query.replace(/\s+/g, ' ')}`;
      } finally {
        await c.end();
      }
    },
  };
}

/** Imports an optional latchkey subpath; null when it is not built (yet). */
export async function optionalImport(specifier) {
  try {
    return await import(specifier);
  } catch (err) {
    if (err?.code === 'ERR_MODULE_NOT_FOUND' || err?.code === 'ERR_PACKAGE_PATH_NOT_EXPORTED') return null;
    throw err;
  }
}
