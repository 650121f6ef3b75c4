/**
 * The DPoP jti replay cache: bounded in memory, and shared through real Redis so that a proof accepted
 * by one instance is a replay on every other.
 */
import { generateKeyPair, generateProof } from 'dpop';
import { afterAll, describe, expect, it } from 'vitest';
import { InvalidDpopProofError, StoreUnavailableError } from 'latchkey';
import { redisDpopReplayCache } from 'latchkey/dpop/redis';
import { memoryStore } from 'latchkey/stores/memory';
import { MemoryReplayCache } from '../../src/dpop/replay.js';
import { FakeClock, testEngine } from '../helpers/engine.js';
import { REDIS_URL, redisAvailable, uniqueName } from '../helpers/postgres.js';

const redisUp = await redisAvailable();
const URL_ = 'https://api.example/v1/me';

describe('in-memory replay cache', () => {
  it('forgets an entry only when it expires, and refuses rather than forgets when full', async () => {
    const cache = new MemoryReplayCache({ maxEntries: 2 });
    expect(await cache.remember('a', 1000, 0)).toBe(true);
    expect(await cache.remember('a', 1000, 10)).toBe(false);
    expect(await cache.remember('b', 1010, 10)).toBe(true);
    await expect(cache.remember('c', 1020, 20)).rejects.toThrow('full');
    expect(cache.size).toBe(2);
    // Once 'a' expired, it is pruned and its slot reused; its jti would be fresh again, but by then
    // its proof fails the iat check, which is why entries live exactly that long.
    expect(await cache.remember('c', 2000, 1000)).toBe(true);
    expect(cache.size).toBe(2);
    expect(await cache.remember('b', 2010, 1005)).toBe(false);
  });

  it('a full cache refuses the proof with INVALID_DPOP_PROOF (replay_cache_full), never accepts it unchecked', async () => {
    const { lk } = await testEngine({ clock: new FakeClock(Date.now()), dpop: { replayCache: new MemoryReplayCache({ maxEntries: 1 }) } });
    const keys = await generateKeyPair('ES256');
    const issued = await lk.createSession({
      userId: 'a',
      dpop: { proof: await generateProof(keys, URL_, 'POST'), method: 'POST', url: URL_ },
    });
    const error = await lk
      .verifyAccessToken(issued.accessToken, {
        dpop: { proof: await generateProof(keys, URL_, 'GET', undefined, issued.accessToken), method: 'GET', url: URL_ },
      })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidDpopProofError);
    expect((error as InvalidDpopProofError).reason).toBe('replay_cache_full');
  });
});

describe.skipIf(!redisUp)('Redis replay cache shared by two instances', () => {
  const prefix = `${uniqueName('dpop')}:`;
  const closers: Array<() => Promise<void>> = [];
  afterAll(async () => {
    for (const close of closers) await close();
  });

  it('a proof accepted by instance A is refused as a replay by instance B; fresh proofs pass on both', async () => {
    const store = memoryStore();
    const clock = new FakeClock(Date.now());
    const [a, b] = await Promise.all(
      [0, 1].map(async () => {
        const { lk } = await testEngine({
          store,
          clock,
          dpop: { replayCache: redisDpopReplayCache({ url: REDIS_URL, prefix, timeoutMs: 5000 }) },
        });
        closers.push(() => lk.close());
        return lk;
      }),
    );
    const keys = await generateKeyPair('ES256');
    const issued = await a!.createSession({
      userId: 'alice',
      dpop: { proof: await generateProof(keys, URL_, 'POST'), method: 'POST', url: URL_ },
    });
    const proof = await generateProof(keys, URL_, 'GET', undefined, issued.accessToken);
    const dpop = { proof, method: 'GET', url: URL_ };
    await a!.verifyAccessToken(issued.accessToken, { dpop });
    const error = await b!.verifyAccessToken(issued.accessToken, { dpop }).catch((e: unknown) => e);
    expect((error as InvalidDpopProofError).reason).toBe('replay');
    await b!.verifyAccessToken(issued.accessToken, {
      dpop: { ...dpop, proof: await generateProof(keys, URL_, 'GET', undefined, issued.accessToken) },
    });
  });

  it('Redis unreachable: the proof is refused as STORE_UNAVAILABLE, or checked per instance when fallbackToMemory is set', async () => {
    const dead = 'redis://127.0.0.1:1';
    const strict = redisDpopReplayCache({ url: dead, timeoutMs: 300, onError: () => {} });
    const lenient = redisDpopReplayCache({ url: dead, timeoutMs: 300, onError: () => {}, fallbackToMemory: true });
    closers.push(
      () => strict.close(),
      () => lenient.close(),
    );
    await expect(strict.remember('k', Date.now() + 60_000, Date.now())).rejects.toThrow();
    expect(await lenient.remember('k', Date.now() + 60_000, Date.now())).toBe(true);
    expect(await lenient.remember('k', Date.now() + 60_000, Date.now())).toBe(false);
    const { lk } = await testEngine({ clock: new FakeClock(Date.now()), dpop: { replayCache: strict } });
    const keys = await generateKeyPair('ES256');
    await expect(
      lk.createSession({ userId: 'a', dpop: { proof: await generateProof(keys, URL_, 'POST'), method: 'POST', url: URL_ } }),
    ).rejects.toBeInstanceOf(StoreUnavailableError);
  });
});
