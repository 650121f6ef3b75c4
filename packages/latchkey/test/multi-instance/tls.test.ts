/**
 * TLS to PostgreSQL (`sslmode=verify-full`) and to Redis (`rediss://`), against a CA this file
 * makes with openssl (test/helpers/test-ca.ts): a private cluster with ssl=on listening on
 * 127.0.0.1 and 127.0.0.2, and a TLS-only private redis-server, its certificate naming 127.0.0.1
 * and localhost only.
 *
 * The right CA and host name connect (and the connection really is encrypted); a wrong CA, a host
 * name the certificate does not list, or a server without TLS are refused with an error that says
 * so, never silently downgraded. Then the recipe for the service: `latchkey serve` with
 * LATCHKEY_STORE `?sslmode=verify-full&sslrootcert=...` and a `rediss://` LATCHKEY_REDIS_URL whose
 * CA comes from NODE_EXTRA_CA_CERTS.
 */
import { afterAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { createLatchkey, isLatchkeyError } from 'latchkey';
import type { BusMessage } from 'latchkey';
import { postgresStore } from 'latchkey/stores/postgres';
import { redisBus } from 'latchkey/revocation/redis';
import { builtCliAvailable } from '../cli/helpers.js';
import { pgExec, uniqueName } from '../helpers/postgres.js';
import { startPrivatePostgres, startPrivateRedis, type PrivatePostgres, type PrivateRedis } from '../helpers/private-servers.js';
import { serviceAvailable } from '../helpers/services.js';
import { makeTestCa, type TestCa } from '../helpers/test-ca.js';
import { Fleet } from '../hardening/support/fleet.js';
import { topologyEnv, TOPOLOGY_API_KEY } from '../hardening/support/topology.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let ca: TestCa | undefined;
let server: PrivatePostgres | undefined;
let redis: PrivateRedis | undefined;
const available = await serviceAvailable('private PostgreSQL and Redis with TLS (openssl, initdb, pg_ctl, redis-server built with TLS)', async () => {
  ca = makeTestCa();
  server = await startPrivatePostgres({
    listen: '127.0.0.1,127.0.0.2',
    files: { 'server.crt': ca.cert, 'server.key': ca.key },
  });
  // Not on the command line, which would outrank ALTER SYSTEM: a test turns TLS off and on again.
  // Paths are relative to the data directory, which lives beside the copied files.
  for (const sql of ["ALTER SYSTEM SET ssl_cert_file = '../server.crt'", "ALTER SYSTEM SET ssl_key_file = '../server.key'", 'ALTER SYSTEM SET ssl = on', 'SELECT pg_reload_conf()']) {
    await pgExec(sql, [], server.url);
  }
  await sleep(300);
  redis = await startPrivateRedis({ tls: { cert: ca.certFile, key: ca.keyFile, ca: ca.caFile }, args: ['--bind', '127.0.0.1', '127.0.0.2'] });
});
const built = await builtCliAvailable();

afterAll(async () => {
  await server?.destroy();
  await redis?.destroy();
});

const pgUrl = (host: string, caFile: string) => `postgres://postgres@${host}:${server!.port}/postgres?sslmode=verify-full&sslrootcert=${caFile}`;

/** What ping() rejects with. */
async function pingError(connectionString: string): Promise<unknown> {
  const store = postgresStore({ connectionString, operationTimeoutMs: 3000 });
  try {
    return await store.ping().then(() => null, (e: unknown) => e);
  } finally {
    await store.close();
  }
}

describe.skipIf(!available)('PostgreSQL with sslmode=verify-full', () => {
  it('connects with the right CA and host name, encrypted', async () => {
    const client = new pg.Client({ connectionString: pgUrl('127.0.0.1', ca!.caFile) });
    await client.connect();
    try {
      const { rows } = await client.query('SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()');
      expect(rows[0]).toMatchObject({ ssl: true });
    } finally {
      await client.end();
    }
    const store = postgresStore({ connectionString: pgUrl('127.0.0.1', ca!.caFile), schema: uniqueName('lk_tls') });
    const engine = await createLatchkey({ issuer: 'https://tls.test', secret: 'tls-test-secret-'.padEnd(48, 'x'), store, timers: false, revocationPollInterval: 0 });
    try {
      const issued = await engine.createSession({ userId: 'u_tls' });
      expect((await engine.refresh(issued.refreshToken)).session.id).toBe(issued.session.id);
    } finally {
      await engine.close();
      await store.close();
    }
  });

  it('refuses a wrong CA, a host name the certificate does not list, and a server without TLS: typed, and saying why', async () => {
    const wrongCa = await pingError(pgUrl('127.0.0.1', ca!.wrongCaFile));
    expect(isLatchkeyError(wrongCa, 'STORE_UNAVAILABLE')).toBe(true);
    expect((wrongCa as Error).message).toMatch(/TLS refused: the PostgreSQL server's certificate did not verify \(SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE\)/);

    // 127.0.0.2 is the same server, but not a name in its certificate.
    const wrongHost = await pingError(pgUrl('127.0.0.2', ca!.caFile));
    expect(isLatchkeyError(wrongHost, 'STORE_UNAVAILABLE')).toBe(true);
    expect((wrongHost as Error).message).toMatch(/does not name the host connected to \(ERR_TLS_CERT_ALTNAME_INVALID\)/);

    // The same server with TLS turned off: the client asked for verify-full and gets an error, not plaintext.
    await pgExec('ALTER SYSTEM SET ssl = off', [], server!.url);
    await pgExec('SELECT pg_reload_conf()', [], server!.url);
    try {
      await sleep(300);
      const plain = await pingError(pgUrl('127.0.0.1', ca!.caFile));
      expect(isLatchkeyError(plain, 'STORE_UNAVAILABLE')).toBe(true);
      expect((plain as Error).message).toMatch(/does not offer TLS.*never downgraded/);
    } finally {
      await pgExec('ALTER SYSTEM SET ssl = on', [], server!.url);
      await pgExec('SELECT pg_reload_conf()', [], server!.url);
      await sleep(300);
    }
  });
});

describe.skipIf(!available)('Redis over rediss://', () => {
  it('carries messages with the right CA; refuses a wrong CA or host name and says so', async () => {
    const channel = uniqueName('lk:tls');
    const url = (host: string) => `rediss://${host}:${redis!.port}`;
    const good = [redisBus({ url: url('127.0.0.1'), channel, redisOptions: { tls: { ca: ca!.ca } } }), redisBus({ url: url('127.0.0.1'), channel, redisOptions: { tls: { ca: ca!.ca } } })];
    const received: BusMessage[] = [];
    let connected = 0;
    try {
      await good[0]!.subscribe({ message: (m) => received.push(m), connected: () => connected++ });
      expect(connected).toBe(1);
      const message: BusMessage = { type: 'revoked', revocations: [{ sessionId: 's_tls', revokedAt: 1_800_000_000_000 }] };
      for (let i = 0; i < 50 && received.length === 0; i++) {
        await good[1]!.publish(message);
        await sleep(50);
      }
      expect(received[0]).toEqual(message);
    } finally {
      for (const b of good) await b.close();
    }

    for (const [host, tlsCa, expected] of [
      ['127.0.0.1', ca!.wrongCa, /TLS refused: the Redis server's certificate did not verify/],
      ['127.0.0.2', ca!.ca, /TLS refused: the Redis server's certificate does not name the host connected to/],
    ] as const) {
      const errors: Error[] = [];
      let bad = 0;
      const bus = redisBus({ url: url(host), channel, timeoutMs: 500, redisOptions: { tls: { ca: tlsCa } }, onError: (e) => errors.push(e) });
      try {
        await bus.subscribe({ message: () => bad++, connected: () => bad++ });
        await bus.publish({ type: 'keys-changed' });
        expect(bad, 'a bus connected over a certificate it should have refused').toBe(0);
        expect(errors.length).toBeGreaterThan(0);
        expect(errors[0]!.message).toMatch(expected);
      } finally {
        await bus.close();
      }
    }
  });
});

describe.skipIf(!available || !built)('the service over TLS to both', () => {
  it('starts with sslmode=verify-full and rediss:// (CA from NODE_EXTRA_CA_CERTS), serves and fans out; refuses to start with the wrong CA', { timeout: 60_000 }, async () => {
    const { env } = topologyEnv({ LATCHKEY_STORE: pgUrl('127.0.0.1', ca!.caFile), LATCHKEY_REDIS_URL: `rediss://127.0.0.1:${redis!.port}`, NODE_EXTRA_CA_CERTS: ca!.caFile });
    const fleet = await Fleet.start(env, 2);
    try {
      const [a, b] = fleet.instances;
      const call = async (url: string, path: string, body?: unknown, method = 'POST') => {
        const res = await fetch(url + path, { method, headers: { authorization: `Bearer ${TOPOLOGY_API_KEY}`, 'content-type': 'application/json' }, ...(body ? { body: JSON.stringify(body) } : {}) });
        return { status: res.status, json: (await res.json().catch(() => undefined)) as any };
      };
      const created = await call(a!.url, '/v1/sessions', { userId: 'u_tls_service' });
      expect(created.status).toBe(201);
      expect((await call(b!.url, '/v1/sessions/verify', { accessToken: created.json.accessToken })).status).toBe(200);
      expect((await call(a!.url, `/v1/sessions/${created.json.session.id}`, undefined, 'DELETE')).status).toBe(204);
      let status = 0;
      for (let i = 0; i < 40 && status !== 401; i++) {
        status = (await call(b!.url, '/v1/sessions/verify', { accessToken: created.json.accessToken })).status;
        if (status !== 401) await sleep(50);
      }
      expect(status, 'the revocation did not reach B over the TLS bus within 2 s').toBe(401);
      expect(await fleet.stopAll()).toEqual([0, 0]);
    } finally {
      await fleet.stopAll();
    }
    const wrong = await Fleet.start({ ...env, LATCHKEY_STORE: pgUrl('127.0.0.1', ca!.wrongCaFile) }, 1).then(async (f) => {
      await f.stopAll();
      return null;
    }, (e: unknown) => e);
    expect(String(wrong)).toMatch(/TLS refused: the PostgreSQL server's certificate did not verify/);
  });
});
