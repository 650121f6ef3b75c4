/**
 * PgBouncer in transaction pooling mode in front of the PostgreSQL store, on a private cluster and
 * a private PgBouncer this file starts (Debian's `pgbouncer`, loopback only):
 * - the whole store contract passes through it (each statement and transaction may land on a
 *   different server connection, so nothing may depend on the server session: no session-level
 *   advisory lock, no named prepared statement, no SET);
 * - without `transactionPooler` PgBouncer refuses the connection (the startup settings), with it
 *   everything works;
 * - the pg-notify bus refuses to LISTEN through the pooler, and with a direct listening connection
 *   carries messages published through it.
 */
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLatchkey, isLatchkeyError } from 'latchkey';
import { runSessionStoreContract } from 'latchkey/stores';
import { postgresStore, type PostgresStore } from 'latchkey/stores/postgres';
import { pgNotifyBus } from 'latchkey/revocation/pg-notify';
import { SCHEMA_VERSION } from 'latchkey/stores/postgres/migrations';
import type { BusMessage } from 'latchkey';
import { dropSchema, pgExec, uniqueName } from '../helpers/postgres.js';
import { startPrivatePgBouncer, startPrivatePostgres, startPrivateRedis, type PrivatePgBouncer, type PrivatePostgres, type PrivateRedis } from '../helpers/private-servers.js';
import { builtCliAvailable } from '../cli/helpers.js';
import { Fleet } from '../hardening/support/fleet.js';
import { runTopology, topologyEnv } from '../hardening/support/topology.js';
import { serviceAvailable } from '../helpers/services.js';

let server: PrivatePostgres | undefined;
let bouncer: PrivatePgBouncer | undefined;
const available = await serviceAvailable('private PostgreSQL + PgBouncer (initdb, pg_ctl, pgbouncer)', async () => {
  server = await startPrivatePostgres();
  bouncer = await startPrivatePgBouncer(server, 'transaction');
});

const built = await builtCliAvailable();
let redis: PrivateRedis | undefined;

afterAll(async () => {
  await redis?.destroy();
  await bouncer?.destroy();
  await server?.destroy();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Each store's schema. */
const schemas = new WeakMap<PostgresStore, string>();
const openThroughBouncer = (schema: string) => {
  const store = postgresStore({ connectionString: bouncer!.url, schema, max: 8, transactionPooler: true });
  schemas.set(store, schema);
  return store;
};

describe.skipIf(!available)('PgBouncer (pool_mode=transaction)', () => {
  runSessionStoreContract(
    { describe, it, beforeEach, afterEach },
    {
      name: 'PostgreSQL through PgBouncer (pool_mode=transaction)',
      create: async () => openThroughBouncer(uniqueName('lk_bouncer')),
      reopen: async (store) => openThroughBouncer(schemas.get(store)!),
      destroy: async (store) => {
        await store.close();
        await dropSchema(schemas.get(store)!, server!.url);
      },
    },
  );
});

describe.skipIf(!available)('PgBouncer (pool_mode=transaction) specifics', () => {
  it('refuses the store without transactionPooler (startup settings), accepts it with', async () => {
    const plain = postgresStore({ connectionString: bouncer!.url, schema: uniqueName('lk_bouncer') });
    try {
      const error = await plain.ping().then(() => null, (e: unknown) => e);
      // PgBouncer answers "unsupported startup parameter: statement_timeout" and closes.
      expect(isLatchkeyError(error, 'STORE_UNAVAILABLE')).toBe(true);
      expect(String((error as Error).cause)).toMatch(/unsupported startup parameter/);
    } finally {
      await plain.close();
    }
    const pooled = postgresStore({ connectionString: bouncer!.url, schema: uniqueName('lk_bouncer'), transactionPooler: true });
    try {
      await pooled.ping();
    } finally {
      await pooled.close();
    }
    expect(() => postgresStore({ connectionString: bouncer!.url, transactionPooler: true, statementTimeoutMs: 500 })).toThrow(/statement_timeout on the database role/);
  });

  it('ten instances migrating at once through the pooler apply the schema once (transaction-scoped lock)', async () => {
    const schema = uniqueName('lk_bouncer_mig');
    const stores = Array.from({ length: 10 }, () => postgresStore({ connectionString: bouncer!.url, schema, max: 2, transactionPooler: true }));
    try {
      await Promise.all(stores.map((s) => s.migrate()));
      const rows = await pgExec<{ n: string }>(`SELECT COUNT(*) AS n FROM ${schema}.latchkey_migrations`, [], server!.url);
      // Each migration once: a second application would have failed its primary key (or its DDL).
      expect(Number(rows[0]!.n)).toBe(SCHEMA_VERSION);
      // No lock outlives its transaction: a session-level advisory lock would still be held by some
      // pooled server connection now, and the next migration of this schema would wait forever.
      const locks = await pgExec<{ n: string }>("SELECT COUNT(*) AS n FROM pg_locks WHERE locktype = 'advisory'", [], server!.url);
      expect(Number(locks[0]!.n)).toBe(0);
    } finally {
      await Promise.all(stores.map((s) => s.close()));
      await dropSchema(schema, server!.url);
    }
  });

  it('the engine creates, refreshes and revokes through the pooler; concurrent refreshes of one token agree', async () => {
    const schema = uniqueName('lk_bouncer_engine');
    const store = postgresStore({ connectionString: bouncer!.url, schema, transactionPooler: true });
    const engine = await createLatchkey({ issuer: 'https://bouncer.test', secret: 'pgbouncer-test-secret-'.padEnd(48, 'x'), store, timers: false, revocationPollInterval: 0 });
    try {
      const issued = await engine.createSession({ userId: 'u_bouncer' });
      const results = await Promise.all(Array.from({ length: 6 }, () => engine.refresh(issued.refreshToken)));
      expect(new Set(results.map((r) => r.refreshToken)).size).toBe(1);
      await engine.revokeSession(issued.session.id);
      const after = await engine.refresh(results[0]!.refreshToken).then(() => null, (e: unknown) => e);
      expect(isLatchkeyError(after, 'UNAUTHORISED')).toBe(true);
    } finally {
      await engine.close();
      await store.close();
      await dropSchema(schema, server!.url);
    }
  });

  it('pgNotifyBus refuses to LISTEN through the pooler, and with a direct listening connection carries what is published through it', async () => {
    expect(() => pgNotifyBus({ connectionString: bouncer!.url, transactionPooler: true })).toThrow(TypeError);
    expect(() => pgNotifyBus({ connectionString: bouncer!.url, transactionPooler: true })).toThrow(/listenConnectionString/);

    const channel = uniqueName('lk_bouncer_bus');
    const listener = pgNotifyBus({ connectionString: bouncer!.url, transactionPooler: true, listenConnectionString: server!.url, channel });
    const publisher = pgNotifyBus({ connectionString: bouncer!.url, transactionPooler: true, listenConnectionString: server!.url, channel });
    const received: BusMessage[] = [];
    let connected = 0;
    try {
      await listener.subscribe({ message: (m) => received.push(m), connected: () => connected++ });
      expect(connected).toBe(1);
      // The listening connection is the direct one, not a pooled server connection.
      const direct = await pgExec<{ n: string }>("SELECT COUNT(*) AS n FROM pg_stat_activity WHERE application_name = 'latchkey-bus' AND query LIKE 'LISTEN%'", [], server!.url);
      expect(Number(direct[0]!.n)).toBe(1);
      const message: BusMessage = { type: 'revoked', revocations: [{ sessionId: 's_bouncer', revokedAt: 1_800_000_000_000 }] };
      await publisher.publish(message);
      for (let i = 0; i < 100 && received.length === 0; i++) await sleep(20);
      expect(received).toEqual([message]);
    } finally {
      await listener.close();
      await publisher.close();
    }
  });
});

describe.skipIf(!available || !built)('the service through PgBouncer (LATCHKEY_STORE_POOLER=transaction) under the invariant load test', () => {
  it('two instances hold every invariant; without the variable the service refuses to start', { timeout: 90_000 }, async () => {
    redis = await startPrivateRedis();
    const schemaDb = uniqueName('lk_bouncer_svc');
    await pgExec(`CREATE DATABASE ${schemaDb}`, [], server!.url);
    const through = bouncer!.url.replace(/\/postgres$/, `/${schemaDb}`);
    const { env, secret } = topologyEnv({ LATCHKEY_STORE: through, LATCHKEY_STORE_POOLER: 'transaction', LATCHKEY_REDIS_URL: redis.url });
    const refused = await Fleet.start({ ...env, LATCHKEY_STORE_POOLER: '' }, 1).then(async (f) => {
      await f.stopAll();
      return null;
    }, (e: unknown) => e);
    expect(String(refused)).toMatch(/serve exited 69 .*store is unavailable/);
    const fleet = await Fleet.start(env, 2);
    try {
      const run = await runTopology('PgBouncer (transaction pooling), 2 instances', fleet, {
        secret, snapshotUrl: server!.url.replace(/\/postgres$/, `/${schemaDb}`), clients: 8, durationMs: 8_000,
        faults: [{ at: 4_000, name: 'SIGKILL and restart of instance A', run: async () => { await fleet.kill(fleet.instances[0]!); await sleep(300); await fleet.restart(fleet.instances[0]!); } }],
      });
      expect(run.result.counts.refreshes + run.result.counts.races).toBeGreaterThan(0);
      expect(run.result.violations).toEqual([]);
      expect(run.sweepViolations).toEqual([]);
      expect(run.storeViolations).toEqual([]);
      expect(run.leaks).toEqual([]);
      expect(run.exitCodes).toEqual([0, 0]);
    } finally {
      await fleet.stopAll();
    }
  });
});
