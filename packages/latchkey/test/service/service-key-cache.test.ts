/**
 * The service-key check without a store round trip per request (issue 18), and revocation honoured:
 * - a stored key found once is trusted for the cache TTL (one store lookup, not one per request),
 *   bounded in size, positive answers only;
 * - revoked through the instance (`serviceKeys.revoke`): refused by it from the next request on;
 * - revoked in the store by another process without a bus: refused once the TTL has run out;
 * - across two service instances on one PostgreSQL database and a Redis bus: a key cached on B and
 *   revoked through A, or by the CLI, is refused by B on the bus (the TTL there is 60 s, so only the
 *   bus can make it refuse within the test's 5 s);
 * - the verify route sets up no deadline timer when nothing it does can touch the store.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { join } from 'node:path';
import { createLatchkey } from 'latchkey';
import { memoryStore } from 'latchkey/stores/memory';
import {
  createServiceApp,
  createServiceKey,
  loadServiceConfig,
  ServiceKeyChecker,
  ServiceMetrics,
  silentLogger,
  startService,
  type RunningService,
} from 'latchkey/service';
import { parseBusMessage } from 'latchkey/revocation/wire';
import { KID_RELOAD_WAIT_MS } from '../../src/engine/fleet.js';
import { countingStore } from '../helpers/engine.js';
import { REDIS_URL, postgresAvailable, redisAvailable, uniqueName } from '../helpers/postgres.js';
import { cli } from '../cli/helpers.js';
import { createTestDatabase } from './pg-database.js';
import { tempDir } from './helpers.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('ServiceKeyChecker cache', () => {
  async function setUp(options: { cacheTtlMs?: number; cacheMax?: number } = {}) {
    const counted = countingStore(memoryStore());
    let now = 1_000_000;
    const announced: string[][] = [];
    const checker = new ServiceKeyChecker(counted.store, ['env-key-0123456789abcdef0123456789'], {
      ...options,
      now: () => now,
      announce: async (ids) => void announced.push(ids),
    });
    const lookups = () => counted.calls.get('findServiceKeyByHash') ?? 0;
    return { store: counted.store, checker, lookups, announced, advance: (ms: number) => void (now += ms) };
  }

  it('reads the store once per key within the TTL, and again after it', async () => {
    const { store, checker, lookups, advance } = await setUp();
    const { id, key } = await createServiceKey(store, 'k');
    for (let i = 0; i < 5; i++) expect(await checker.check(key)).toEqual({ source: 'store', id });
    expect(lookups()).toBe(1);
    advance(1_001);
    expect(await checker.check(key)).toEqual({ source: 'store', id });
    expect(lookups()).toBe(2);
  });

  it('a key revoked in the store by another process is refused once the TTL has run out', async () => {
    const { store, checker, advance } = await setUp();
    const { id, key } = await createServiceKey(store, 'k');
    expect(await checker.check(key)).not.toBeNull();
    expect(await store.revokeServiceKey(id, Date.now())).toBe(true);
    advance(1_001);
    expect(await checker.check(key)).toBeNull();
  });

  it('revoke() refuses the key from the next check on and announces it', async () => {
    const { store, checker, announced } = await setUp();
    const { id, key } = await createServiceKey(store, 'k');
    expect(await checker.check(key)).not.toBeNull();
    expect(await checker.revoke(id)).toBe(true);
    expect(await checker.check(key)).toBeNull();
    expect(announced).toEqual([[id]]);
    expect(await checker.revoke(id)).toBe(false);
    expect(announced).toHaveLength(1);
  });

  it('invalidate drops keys by id or all of them; unknown keys are never cached; the cache is bounded', async () => {
    const { store, checker, lookups } = await setUp({ cacheMax: 2 });
    const keys = await Promise.all(['a', 'b', 'c'].map((n) => createServiceKey(store, n)));
    for (const { key } of keys) await checker.check(key);
    expect(lookups()).toBe(3);
    await checker.check(keys[0]!.key); // evicted by the third: oldest out
    expect(lookups()).toBe(4);
    await checker.check(keys[2]!.key);
    expect(lookups()).toBe(4);
    checker.invalidate([keys[2]!.id]);
    await checker.check(keys[2]!.key);
    expect(lookups()).toBe(5);
    checker.invalidate(null);
    await checker.check(keys[2]!.key);
    expect(lookups()).toBe(6);
    const unknown = 'lksk_' + 'A'.repeat(43);
    expect(await checker.check(unknown)).toBeNull();
    expect(await checker.check(unknown)).toBeNull();
    expect(lookups()).toBe(8);
  });

  it('a TTL of 0 reads the store every time; environment keys never read it', async () => {
    const { store, checker, lookups } = await setUp({ cacheTtlMs: 0 });
    const { key } = await createServiceKey(store, 'k');
    await checker.check(key);
    await checker.check(key);
    expect(lookups()).toBe(2);
    expect(checker.check('env-key-0123456789abcdef0123456789')).toEqual({ source: 'env', index: 0 });
    expect(lookups()).toBe(2);
    expect(() => new ServiceKeyChecker(store, [], { cacheTtlMs: -1 })).toThrow(TypeError);
  });
});

describe('the verify route', () => {
  afterEach(() => vi.restoreAllMocks());

  it('sets up no store deadline timer when the verification cannot touch the store', async () => {
    const store = memoryStore();
    const engine = await createLatchkey({
      issuer: 'https://svc.test',
      store,
      secret: 'verify-route-test-secret-0123456789abcdef',
      timers: false,
    });
    const KEY = 'env-key-0123456789abcdef0123456789';
    const DEADLINE = 1_777; // distinctive: no other timer in the app uses it
    const app = createServiceApp({
      engine,
      apiKeys: new ServiceKeyChecker(store, [KEY]),
      metrics: new ServiceMetrics({ defaultMetrics: false }),
      logger: silentLogger,
      storeDeadlineMs: DEADLINE,
    });
    try {
      const { accessToken } = await engine.createSession({ userId: 'u1' });
      const post = (body: unknown) =>
        app.request('/v1/sessions/verify', {
          method: 'POST',
          headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
          body: JSON.stringify(body),
        });
      const timers = vi.spyOn(globalThis, 'setTimeout');
      const deadlines = () => timers.mock.calls.filter((call) => call[1] === DEADLINE).length;
      const plain = await post({ accessToken });
      expect(plain.status).toBe(200);
      expect(((await plain.json()) as { session: { userId: string } }).session.userId).toBe('u1');
      expect(deadlines()).toBe(0);
      // checkStore reads the session: bounded by the deadline, as the contract promises.
      expect((await post({ accessToken, checkStore: true })).status).toBe(200);
      expect(deadlines()).toBe(1);
    } finally {
      await engine.close();
    }
  });
});

describe('what lets the verify route go without a timer', () => {
  it('a verification waits at most KID_RELOAD_WAIT_MS for the key reload an unknown kid starts, then judges on the keys held', async () => {
    let hang = false;
    const inner = memoryStore();
    const store = new Proxy(inner, {
      get(target, prop, receiver) {
        const value = Reflect.get(target, prop, receiver) as unknown;
        if (prop === 'listSigningKeys' && hang) return () => new Promise(() => {});
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    const engine = await createLatchkey({
      issuer: 'https://svc.test',
      store,
      secret: 'kid-reload-test-secret-0123456789abcdef',
      timers: false,
      revocationPollInterval: 0,
    });
    const other = await createLatchkey({
      issuer: 'https://svc.test',
      store: memoryStore(),
      secret: 'kid-reload-other-secret-0123456789abcdef',
      timers: false,
    });
    const errors: string[] = [];
    engine.on('error', ({ during }) => void errors.push(during));
    try {
      const { accessToken } = await other.createSession({ userId: 'u1' });
      hang = true;
      const started = Date.now();
      await expect(engine.verifyAccessToken(accessToken)).rejects.toMatchObject({ code: 'UNAUTHORISED' });
      expect(Date.now() - started).toBeGreaterThanOrEqual(KID_RELOAD_WAIT_MS - 50);
      expect(errors).toContain('key reload');
    } finally {
      await engine.close();
      await other.close();
    }
  });

  it('the bus carries service-key revocations (and drops junk ids)', () => {
    expect(parseBusMessage('{"v":1,"type":"service-keys-changed","keyIds":["ak_1",2,"ak_2"]}')).toEqual({
      type: 'service-keys-changed',
      keyIds: ['ak_1', 'ak_2'],
    });
    expect(parseBusMessage('{"v":1,"type":"service-keys-changed","keyIds":[]}')).toBeNull();
  });
});

const pgUp = await postgresAvailable();
const redisUp = pgUp && (await redisAvailable());

describe.skipIf(!redisUp)('service-key revocation across two service instances (PostgreSQL store, Redis bus)', () => {
  const cleanup: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn().catch(() => {});
  });

  async function fleet(): Promise<{ a: RunningService; b: RunningService; env: Record<string, string> }> {
    const db = await createTestDatabase('lk_svckeys');
    cleanup.push(() => db.drop());
    const dir = tempDir();
    const env = {
      PORT: '0',
      LATCHKEY_STORE: db.url,
      LATCHKEY_ISSUER: 'https://svc-keys.test',
      // A TTL far beyond the test's wait: a refusal inside it can only come from the bus.
      LATCHKEY_SERVICE_KEY_CACHE_MS: '60000',
      LATCHKEY_SECRET_FILE: join(dir, 'secret.key'),
      LATCHKEY_REDIS_URL: REDIS_URL,
      LATCHKEY_REDIS_CHANNEL: uniqueName('lk_svckeys_bus'),
    };
    const start = async () => {
      const service = await startService({ config: loadServiceConfig(env), logger: silentLogger, defaultMetrics: false });
      cleanup.push(() => service.close());
      return service;
    };
    const a = await start();
    return { a, b: await start(), env };
  }

  const status = async (service: RunningService, key: string) =>
    (await fetch(`${service.url}/v1/users/u/sessions`, { headers: { authorization: `Bearer ${key}` } })).status;

  /** Ms until `service` refuses `key`; polls every 10 ms. */
  async function msUntilRefused(service: RunningService, key: string): Promise<number> {
    const started = Date.now();
    while (Date.now() - started < 5_000) {
      if ((await status(service, key)) === 401) return Date.now() - started;
      await sleep(10);
    }
    throw new Error('still accepted after 5 s');
  }

  it('a key cached on B and revoked through A is refused by A at once and by B on the bus', async () => {
    const { a, b } = await fleet();
    const { id, key } = await createServiceKey(a.store, 'fleet');
    expect(await status(b, key)).toBe(200);
    expect(await status(b, key)).toBe(200); // cached on B now
    expect(await status(a, key)).toBe(200);
    expect(await a.serviceKeys.revoke(id)).toBe(true);
    expect(await status(a, key)).toBe(401);
    expect(await msUntilRefused(b, key)).toBeLessThan(5_000);
  });

  it('a key revoked by the CLI is refused by a running instance that had it cached', async () => {
    const { a, env } = await fleet();
    const { id, key } = await createServiceKey(a.store, 'cli');
    expect(await status(a, key)).toBe(200);
    expect(await status(a, key)).toBe(200);
    const revoked = await cli(['service-keys', 'revoke', id, '--json'], env);
    expect(revoked.json).toMatchObject({ revoked: true });
    expect(await msUntilRefused(a, key)).toBeLessThan(5_000);
  });
});
