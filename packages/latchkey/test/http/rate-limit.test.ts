/**
 * The token buckets on their own: the in-memory one on a controlled clock, and the Redis one on a
 * real Redis, where many concurrent takes from two limiters (two instances) must never spend more
 * than the bucket holds, and where an unreachable Redis degrades to a per-instance limit.
 */
import { describe, expect, it } from 'vitest';
import { memoryRateLimiter } from 'latchkey/http';
import { redisRateLimiter } from 'latchkey/rate-limit/redis';
import { REDIS_URL, redisAvailable, uniqueName } from '../helpers/postgres.js';
import { freePort } from '../helpers/private-servers.js';
import { FakeClock } from '../helpers/engine.js';

const redisUp = await redisAvailable();

describe('memory token bucket', () => {
  it('allows a burst of `limit`, then refills at limit per window', async () => {
    const clock = new FakeClock();
    const limiter = memoryRateLimiter({ clock });
    const policy = { limit: 3, windowSeconds: 60 };
    const takes = [];
    for (let i = 0; i < 4; i++) takes.push(await limiter.take('k', policy));
    expect(takes.map((t) => t.allowed)).toEqual([true, true, true, false]);
    expect(takes.map((t) => t.remaining)).toEqual([2, 1, 0, 0]);
    expect(takes[3]).toMatchObject({ retryAfterSeconds: 20, resetSeconds: 60 });
    clock.advance(19);
    expect((await limiter.take('k', policy)).allowed).toBe(false);
    clock.advance(1);
    expect((await limiter.take('k', policy)).allowed).toBe(true);
    expect((await limiter.take('other', policy)).remaining).toBe(2);
  });

  it('stays bounded in memory', async () => {
    const limiter = memoryRateLimiter({ maxBuckets: 10 });
    for (let i = 0; i < 100; i++) await limiter.take(`k${i}`, { limit: 1, windowSeconds: 60 });
    // The oldest bucket was dropped: it starts full again (only ever in the key's favour).
    expect((await limiter.take('k0', { limit: 1, windowSeconds: 60 })).allowed).toBe(true);
    expect((await limiter.take('k99', { limit: 1, windowSeconds: 60 })).allowed).toBe(false);
  });
});

describe.skipIf(!redisUp)('Redis token bucket', () => {
  it('two instances racing never spend more than the bucket holds', async () => {
    const prefix = `${uniqueName('lk_rl')}:`;
    // A generous timeout: on a loaded machine a slow first connection must not fall back to memory here.
    const [a, b] = [redisRateLimiter({ url: REDIS_URL, prefix, timeoutMs: 5000 }), redisRateLimiter({ url: REDIS_URL, prefix, timeoutMs: 5000 })];
    try {
      const policy = { limit: 7, windowSeconds: 3600 };
      const outcomes = await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 ? a : b).take('key', policy)));
      expect(outcomes.filter((o) => o.allowed)).toHaveLength(7);
      const refused = outcomes.find((o) => !o.allowed)!;
      expect(refused.remaining).toBe(0);
      expect(refused.retryAfterSeconds).toBeGreaterThan(0);
      expect((await a.take('another', policy)).remaining).toBe(6);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('refills over time by the server clock', async () => {
    const limiter = redisRateLimiter({ url: REDIS_URL, prefix: `${uniqueName('lk_rl')}:`, timeoutMs: 5000 });
    try {
      const policy = { limit: 2, windowSeconds: 1 };
      await limiter.take('k', policy);
      await limiter.take('k', policy);
      expect((await limiter.take('k', policy)).allowed).toBe(false);
      await new Promise((r) => setTimeout(r, 600));
      expect((await limiter.take('k', policy)).allowed).toBe(true);
    } finally {
      await limiter.close();
    }
  });
});

describe('Redis token bucket with Redis unreachable', () => {
  it('decides per instance in memory, reporting the outage once, without hanging', async () => {
    const errors: Error[] = [];
    const limiter = redisRateLimiter({ url: `redis://127.0.0.1:${await freePort()}`, timeoutMs: 100, onError: (e) => errors.push(e) });
    try {
      const policy = { limit: 2, windowSeconds: 60 };
      const started = Date.now();
      const outcomes = [];
      for (let i = 0; i < 3; i++) outcomes.push(await limiter.take('k', policy));
      expect(outcomes.map((o) => o.allowed)).toEqual([true, true, false]);
      expect(Date.now() - started).toBeLessThan(2000);
      expect(errors).toHaveLength(1);
      expect(errors[0]!.message).not.toContain('127.0.0.1');
    } finally {
      await limiter.close();
    }
  });
});
