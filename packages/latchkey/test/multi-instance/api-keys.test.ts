/**
 * User API keys across instances: two engines, each with its own PostgreSQL pool and its own bus
 * connection, as two processes of a fleet would have. A key cached on one instance and revoked on
 * the other must be refused within 1 s over Redis and over PostgreSQL NOTIFY (store polling is off,
 * so only the bus can deliver), and by the store poll alone when there is no bus.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createLatchkey, UnauthorisedError, type Latchkey, type RevocationBus } from 'latchkey';
import { postgresStore } from 'latchkey/stores/postgres';
import { redisBus } from 'latchkey/revocation/redis';
import { pgNotifyBus } from 'latchkey/revocation/pg-notify';
import { parseBusMessage } from 'latchkey/revocation/wire';
import { dropSchema, PG_URL, postgresAvailable, REDIS_URL, redisAvailable, uniqueName } from '../helpers/postgres.js';
import { TEST_SECRET } from '../helpers/engine.js';

const pgUp = await postgresAvailable();
const redisUp = pgUp && (await redisAvailable());
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('bus wire format for API key changes', () => {
  it('round-trips, and drops junk ids', () => {
    expect(parseBusMessage('{"v":1,"type":"api-keys-changed","keyIds":["abc"]}')).toEqual({ type: 'api-keys-changed', keyIds: ['abc'] });
    expect(parseBusMessage('{"v":1,"type":"api-keys-changed","keyIds":[1,null,"ok","' + 'x'.repeat(65) + '"]}')).toEqual({ type: 'api-keys-changed', keyIds: ['ok'] });
    expect(parseBusMessage('{"v":1,"type":"api-keys-changed","keyIds":[]}')).toBeNull();
    expect(parseBusMessage('{"v":1,"type":"api-keys-changed","keyIds":"abc"}')).toBeNull();
  });
});

/** How long until `check` stops throwing... until it throws: polls every 10 ms. */
async function msUntilRefused(verify: () => Promise<unknown>, timeoutMs = 5000): Promise<number> {
  const started = Date.now();
  while (Date.now() - started < timeoutMs) {
    const refused = await verify().then(() => false, (e: unknown) => e instanceof UnauthorisedError);
    if (refused) return Date.now() - started;
    await sleep(10);
  }
  throw new Error('still accepted after the timeout');
}

describe.skipIf(!pgUp)('API key revocation across instances', () => {
  const cleanup: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn();
  });

  async function fleet(bus: ((channel: string) => RevocationBus) | null, pollSeconds: number): Promise<[Latchkey, Latchkey]> {
    const schema = uniqueName('lk_apikeys');
    const channel = uniqueName('lk_apikeys_bus');
    cleanup.push(() => dropSchema(schema));
    const instance = async () => {
      const store = postgresStore({ connectionString: PG_URL, schema, max: 3 });
      const lk = await createLatchkey({
        issuer: 'https://fleet.test',
        secret: TEST_SECRET,
        store,
        ...(bus ? { bus: bus(channel) } : {}),
        revocationPollInterval: pollSeconds,
        cleanupInterval: 0,
      });
      cleanup.push(async () => {
        await lk.close();
        await store.close();
      });
      return lk;
    };
    const a = await instance();
    return [a, await instance()];
  }

  const buses: Array<[string, boolean, (channel: string) => RevocationBus]> = [
    ['Redis', redisUp, (channel) => redisBus({ url: REDIS_URL, channel, onError: () => {} })],
    ['PostgreSQL NOTIFY', true, (channel) => pgNotifyBus({ connectionString: PG_URL, channel, onError: () => {} })],
  ];

  for (const [name, up, bus] of buses) {
    it.skipIf(!up)(`over ${name}: a key cached on B and revoked on A is refused by B within 1 s`, async () => {
      const [a, b] = await fleet(bus, 0);
      const { key, apiKey } = await a.apiKeys.create({ ownerId: 'u', name: 'ci' });
      await b.apiKeys.verify(key);
      await b.apiKeys.verify(key); // cached now: only the bus can tell B
      expect(b.apiKeys.cachedKeys).toBe(1);
      await a.apiKeys.revoke(apiKey.id);
      expect(await msUntilRefused(() => b.apiKeys.verify(key))).toBeLessThan(1000);
    });

    it.skipIf(!up)(`over ${name}: a rotation's overlap reaches B, which then refuses the old key when it ends`, async () => {
      const [a, b] = await fleet(bus, 0);
      const { key, apiKey } = await a.apiKeys.create({ ownerId: 'u', name: 'ci' });
      await b.apiKeys.verify(key);
      const next = await a.apiKeys.rotate(apiKey.id, { expiresPreviousIn: 1 });
      await b.apiKeys.verify(next.key);
      expect(await msUntilRefused(() => b.apiKeys.verify(key), 3000)).toBeLessThan(2000);
    });
  }

  it('without a bus, the store poll carries the revocation', async () => {
    const [a, b] = await fleet(null, 1);
    const { key, apiKey } = await a.apiKeys.create({ ownerId: 'u', name: 'ci' });
    await b.apiKeys.verify(key);
    await a.apiKeys.revoke(apiKey.id);
    // One poll period plus a little: the poll is the safety net, not the fast path.
    expect(await msUntilRefused(() => b.apiKeys.verify(key), 4000)).toBeLessThan(2500);
  });
});
