/**
 * Opens the store and the revocation bus that the configuration names. Drivers are imported only
 * when used, so a SQLite deployment never loads `pg` or `ioredis` (and vice versa).
 */
import type pg from 'pg';
import type { AuditStore } from '../audit/types.js';
import type { DpopReplayCache } from '../dpop/replay.js';
import type { RevocationBus } from '../revocation/bus.js';
import type { ServiceSessionStore } from '../stores/types.js';
import { ConfigError, type StoreConfig } from './config.js';

/**
 * How long a SQLite write waits for another process's lock before `STORE_UNAVAILABLE`: short enough
 * that the 503 arrives within the contract's 2 s.
 */
const SQLITE_BUSY_TIMEOUT_MS = 1_500;
/** Deadline of every PostgreSQL call (connection wait included), ms; same reason. */
const POSTGRES_OPERATION_TIMEOUT_MS = 1_500;

interface PostgresModule {
  postgresStore(options: { connectionString: string; operationTimeoutMs?: number; transactionPooler?: boolean }): ServiceSessionStore;
}
interface RedisModule {
  redisBus(options: { url: string; channel?: string }): RevocationBus;
}
interface DpopRedisModule {
  redisDpopReplayCache(options: { url: string }): DpopReplayCache;
}

/** Imports an optional driver module; a missing one is a configuration problem, named as such. */
async function importDriver<T>(specifier: string, variable: string, what: string): Promise<T> {
  try {
    return (await import(specifier)) as T;
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') {
      throw new ConfigError(variable, `${what} is not available in this build of latchkey`);
    }
    throw err;
  }
}

/** Opens (does not migrate) the configured store. */
export async function openStore(config: StoreConfig): Promise<ServiceSessionStore> {
  if (config.kind === 'sqlite') {
    const { sqliteStore } = await import('../stores/sqlite.js');
    return sqliteStore({ path: config.path, busyTimeoutMs: SQLITE_BUSY_TIMEOUT_MS });
  }
  // A variable specifier: the PostgreSQL driver is optional at build time.
  const specifier = '../stores/postgres.js';
  const { postgresStore } = await importDriver<PostgresModule>(specifier, 'LATCHKEY_STORE', 'the PostgreSQL store');
  return postgresStore({
    connectionString: config.connectionString,
    operationTimeoutMs: POSTGRES_OPERATION_TIMEOUT_MS,
    ...(config.transactionPooler ? { transactionPooler: true } : {}),
  });
}

/** The Redis revocation bus, or undefined without `LATCHKEY_REDIS_URL`. */
export async function openBus(redisUrl: string | undefined, channel?: string): Promise<RevocationBus | undefined> {
  if (redisUrl === undefined) return undefined;
  const specifier = '../revocation/redis.js';
  const { redisBus } = await importDriver<RedisModule>(specifier, 'LATCHKEY_REDIS_URL', 'the Redis revocation bus');
  return redisBus({ url: redisUrl, ...(channel !== undefined ? { channel } : {}) });
}

/**
 * The DPoP `jti` replay cache shared through Redis, or undefined without `LATCHKEY_REDIS_URL` (the
 * engine then keeps one in memory): the service contract wants a proof seen by one instance refused by
 * every instance that shares Redis.
 */
export async function openDpopReplayCache(redisUrl: string | undefined): Promise<DpopReplayCache | undefined> {
  if (redisUrl === undefined) return undefined;
  const specifier = '../dpop/redis.js';
  const { redisDpopReplayCache } = await importDriver<DpopRedisModule>(specifier, 'LATCHKEY_REDIS_URL', 'the Redis DPoP replay cache');
  return redisDpopReplayCache({ url: redisUrl });
}

/** An audit store opened beside the session store, and how to let go of it. */
export interface OpenedAuditStore {
  store: AuditStore;
  /** Closes the store and, for PostgreSQL, the pool opened for it. */
  close(): Promise<void>;
}

interface PgModule {
  default: typeof pg;
}

/**
 * Opens (does not migrate) the audit store in the same database as the sessions: a table of its own
 * in the SQLite file (a second connection; WAL lets it write beside the session store's), or in the
 * PostgreSQL database on a small pool of its own, so that a slow audit write never waits for, or
 * holds, a connection a refresh needs.
 */
export async function openAuditStore(config: StoreConfig): Promise<OpenedAuditStore> {
  if (config.kind === 'sqlite') {
    const { SqliteAuditStore } = await import('../audit/sqlite.js');
    const store = await SqliteAuditStore.open({ path: config.path });
    return { store, close: () => store.close() };
  }
  const pg = await importDriver<PgModule>('pg', 'LATCHKEY_STORE', 'the PostgreSQL audit store');
  const { PostgresAuditStore } = await import('../audit/postgres.js');
  // The same host list as the session store: a multi-host LATCHKEY_STORE (db1,db2 with
  // target_session_attrs=read-write) is not a URL node-postgres can parse on its own.
  const { needsHostSelection, parseHostList } = await import('../stores/postgres/host-list.js');
  const { hostSelectingClient } = await import('../stores/postgres/hosts.js');
  const hostList = parseHostList(config.connectionString);
  const pool = new pg.default.Pool({
    connectionString: config.connectionString,
    ...(needsHostSelection(hostList) ? { Client: hostSelectingClient(hostList, pg.default.Client) } : {}),
    max: 2,
  });
  // An idle client's network error must not crash the process; the next query reports it.
  pool.on('error', () => {});
  const store = new PostgresAuditStore({ pool });
  return {
    store,
    close: async () => {
      await store.close();
      await pool.end();
    },
  };
}
