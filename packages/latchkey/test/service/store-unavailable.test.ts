/**
 * The store stops answering: the service says 503 STORE_UNAVAILABLE within the contract's 2 s
 * (never 500, never a hang), /readyz turns 503, nothing is half written, and service resumes by
 * itself when the store comes back.
 *
 * SQLite: another process holds the write lock. PostgreSQL: a TCP proxy in front of the server
 * turns into a black hole (a network partition: packets vanish, nothing is refused).
 */
import { createServer, type Server, type Socket, connect } from 'node:net';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresAvailable } from '../helpers/postgres.js';
import { expectError } from './contract.js';
import { startTestService, type TestService } from './helpers.js';
import { createTestDatabase, type TestDatabase } from './pg-database.js';

/** Time from request to answer, ms. */
async function timed<T>(work: Promise<T>): Promise<[T, number]> {
  const started = performance.now();
  const result = await work;
  return [result, performance.now() - started];
}

describe('store unavailable: SQLite write lock held by another process', () => {
  let t: TestService;
  beforeAll(async () => {
    t = await startTestService();
  });
  afterAll(async () => {
    await t?.close();
  });

  it('answers 503 STORE_UNAVAILABLE within 2 s, writes nothing, and recovers', async () => {
    const other = new Database(join(t.dir, 'latchkey.db'));
    other.exec('BEGIN EXCLUSIVE');
    try {
      const [reply, ms] = await timed(t.call('POST', '/v1/sessions', { body: { userId: 'locked-out' } }));
      expectError(reply, 503, 'STORE_UNAVAILABLE');
      expect(reply.headers.get('retry-after')).toBe('1');
      expect(ms).toBeLessThan(2000);
    } finally {
      other.exec('ROLLBACK');
      other.close();
    }
    expect((await t.call('GET', '/v1/users/locked-out/sessions')).json).toEqual({ sessions: [] });
    expect((await t.call('POST', '/v1/sessions', { body: { userId: 'locked-out' } })).status).toBe(201);
  });
});

/** A TCP proxy that can become a black hole. */
class Partition {
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  #blackhole = false;

  constructor(targetHost: string, targetPort: number) {
    this.#server = createServer((client) => {
      this.#sockets.add(client);
      client.on('close', () => this.#sockets.delete(client));
      client.on('error', () => {});
      if (this.#blackhole) return; // accept, then silence
      const upstream = connect(targetPort, targetHost);
      this.#sockets.add(upstream);
      upstream.on('close', () => this.#sockets.delete(upstream));
      upstream.on('error', () => client.destroy());
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
      client.pipe(upstream).pipe(client);
    });
  }

  listen(): Promise<number> {
    return new Promise((resolve) => this.#server.listen(0, '127.0.0.1', () => resolve((this.#server.address() as { port: number }).port)));
  }

  /** Existing connections go silent (data stops flowing both ways); new ones are never answered. */
  cut(): void {
    this.#blackhole = true;
    for (const s of this.#sockets) {
      s.unpipe();
      s.pause();
    }
  }

  /** Drops the silent connections (as TCP keepalive eventually would) and forwards again. */
  heal(): void {
    this.#blackhole = false;
    for (const s of this.#sockets) s.destroy();
  }

  close(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }
}

describe('store unreachable at start-up', () => {
  it('startService rejects with STORE_UNAVAILABLE and releases its port', async () => {
    const started = performance.now();
    await expect(startTestService({ env: { LATCHKEY_STORE: 'postgres://postgres@127.0.0.1:1/none' } })).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE' });
    expect(performance.now() - started).toBeLessThan(15_000);
  });
});

const pgUp = await postgresAvailable();

describe.skipIf(!pgUp)('store unavailable: PostgreSQL behind a network partition', () => {
  let db: TestDatabase;
  let proxy: Partition;
  let t: TestService;
  beforeAll(async () => {
    db = await createTestDatabase('lk_partition');
    const url = new URL(db.url);
    proxy = new Partition(url.hostname, Number(url.port || 5432));
    url.port = String(await proxy.listen());
    t = await startTestService({ env: { LATCHKEY_STORE: url.toString() } });
  });
  afterAll(async () => {
    await t?.close();
    await proxy?.close();
    await db?.drop();
  });

  it('answers 503 within 2 s on every store route, /readyz 503, then recovers', async () => {
    const created = await t.call('POST', '/v1/sessions', { body: { userId: 'partitioned' } });
    expect(created.status).toBe(201);
    proxy.cut();
    const calls: Array<[string, string, unknown]> = [
      ['POST', '/v1/sessions', { userId: 'partitioned-2' }],
      ['POST', '/v1/sessions/refresh', { refreshToken: created.json.refreshToken }],
      ['GET', `/v1/sessions/${created.json.session.id}`, undefined],
      ['DELETE', '/v1/users/partitioned/sessions', undefined],
    ];
    const replies = await Promise.all(calls.map(([method, path, body]) => timed(t.call(method, path, body === undefined ? {} : { body }))));
    for (const [reply, ms] of replies) {
      expectError(reply, 503, 'STORE_UNAVAILABLE');
      expect(ms).toBeLessThan(2000);
    }
    const ready = await t.call('GET', '/readyz', { auth: null });
    expect([ready.status, ready.json]).toEqual([503, { status: 'unavailable' }]);
    // Verification needs no store: backends keep working through the outage.
    expect((await t.call('POST', '/v1/sessions/verify', { body: { accessToken: created.json.accessToken } })).status).toBe(200);

    proxy.heal();
    await expect.poll(async () => (await t.call('GET', '/readyz', { auth: null })).status, { timeout: 10_000 }).toBe(200);
    // Nothing from the outage was half applied: the refresh token was not rotated away, the session not revoked.
    const list = await t.call('GET', '/v1/users/partitioned/sessions');
    expect(list.json.sessions.map((s: { id: string }) => s.id)).toEqual([created.json.session.id]);
    expect((await t.call('GET', '/v1/users/partitioned-2/sessions')).json.sessions).toHaveLength(0);
    expect((await t.call('POST', '/v1/sessions/refresh', { body: { refreshToken: created.json.refreshToken } })).status).toBe(200);
  });
});
