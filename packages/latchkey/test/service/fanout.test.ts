/**
 * Two service instances on one PostgreSQL database with LATCHKEY_REDIS_URL: a session revoked
 * through one is refused by the other at once, with store polling turned off so only the Redis bus
 * can have carried the news. This is the configuration path the contract names for fleets.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresAvailable, REDIS_URL, redisAvailable, uniqueName } from '../helpers/postgres.js';
import { expectError } from './contract.js';
import { startTestService, type TestService } from './helpers.js';
import { createTestDatabase, type TestDatabase } from './pg-database.js';

const available = (await postgresAvailable()) && (await redisAvailable());

describe.skipIf(!available)('two instances, PostgreSQL + Redis fan-out', () => {
  let db: TestDatabase;
  let a: TestService;
  let b: TestService;
  beforeAll(async () => {
    db = await createTestDatabase('lk_fanout');
    // One deployment: same store, same master secret, same Redis.
    // A channel of its own, so suites running beside this one never hear its revocations.
    const env = { LATCHKEY_STORE: db.url, LATCHKEY_REDIS_URL: REDIS_URL, LATCHKEY_REDIS_CHANNEL: uniqueName('lk:fanout'), LATCHKEY_SECRET: randomBytes(32).toString('base64url'), LATCHKEY_ISSUER: 'https://auth.fanout.test' };
    a = await startTestService({ env, engineOptions: { revocationPollInterval: 0 } });
    b = await startTestService({ env, engineOptions: { revocationPollInterval: 0 } });
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await db?.drop();
  });

  it('a revocation on A is enforced by B without a store lookup', async () => {
    const created = await a.call('POST', '/v1/sessions', { body: { userId: 'fleet-user' } });
    expect(created.status).toBe(201);
    expect((await b.call('POST', '/v1/sessions/verify', { body: { accessToken: created.json.accessToken } })).status).toBe(200);
    expect((await a.call('DELETE', `/v1/sessions/${created.json.session.id}`)).status).toBe(204);
    await expect
      .poll(async () => (await b.call('POST', '/v1/sessions/verify', { body: { accessToken: created.json.accessToken } })).status, { timeout: 2_000, interval: 50 })
      .toBe(401);
    expectError(await b.call('POST', '/v1/sessions/verify', { body: { accessToken: created.json.accessToken } }), 401, 'UNAUTHORISED');
  });
});
