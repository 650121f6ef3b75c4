/**
 * The token bucket in Redis: one limit per key across every instance. Each take is one atomic Lua
 * script (refill, take, store), so concurrent requests on many instances can never both spend the
 * last token, and the time comes from the Redis server's clock, so instances' clock skew does not
 * matter.
 *
 * When Redis cannot answer within `timeoutMs`, the request is decided by an in-memory bucket on
 * this instance instead (and the failure reported once per outage): a Redis outage degrades the
 * limit to per-instance, it neither blocks every API-key request nor lifts the limit.
 *
 * @example
 * import { redisRateLimiter } from 'latchkey/rate-limit/redis';
 * const auth = latchkeyExpress(latchkey, { rateLimiter: redisRateLimiter({ url: process.env.REDIS_URL }), apiKeyRateLimit: { limit: 100, windowSeconds: 60 } });
 */
import type { Redis, RedisOptions } from 'ioredis';
import { importPeer } from '../util/peer.js';
import { MemoryRateLimiter } from './memory.js';
import { decision, type RateLimitDecision, type RateLimiter, type RateLimitPolicy } from './types.js';
import { guardSockets } from '../util/redis-sockets.js';

const { Redis: RedisClient } = await importPeer(() => import('ioredis'), 'ioredis', 'latchkey/rate-limit/redis');

export interface RedisRateLimiterOptions {
  /** `redis://...`. Default `redis://127.0.0.1:6379`. Ignored when `redis` is given. */
  url?: string;
  /** A connection you own (not closed by `close()`). */
  redis?: Redis;
  /** Extra ioredis options for the connection latchkey opens. */
  redisOptions?: RedisOptions;
  /** Prefix of the bucket keys. Default `'latchkey:ratelimit:'`. */
  prefix?: string;
  /** Longest wait for Redis, ms, before the in-memory fallback decides. Default 500: far above a healthy round trip. */
  timeoutMs?: number;
  /** Told when Redis fails (once per outage). Default: a one-line warning on stderr, never the URL. */
  onError?: (error: Error) => void;
}

/**
 * KEYS[1]: the bucket. ARGV: limit, window (s), TTL (ms). Returns { allowed (0/1), tokens (string) }.
 * Tokens are stored as a float string with the time of the last refill in microseconds.
 */
const TOKEN_BUCKET = `
local limit = tonumber(ARGV[1])
local rate = limit / (tonumber(ARGV[2]) * 1000000)
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1])
local at = tonumber(state[2])
if tokens == nil or at == nil then
  tokens = limit
elseif now > at then
  tokens = math.min(limit, tokens + (now - at) * rate)
end
local allowed = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return { allowed, tostring(tokens) }
`;

type WithBucket = Redis & { latchkeyTokenBucket(key: string, limit: number, window: number, ttlMs: number): Promise<[number, string]> };

export class RedisRateLimiter implements RateLimiter {
  readonly #redis: WithBucket;
  readonly #owns: boolean;
  readonly #prefix: string;
  readonly #timeoutMs: number;
  readonly #fallback = new MemoryRateLimiter();
  readonly #onError: (error: Error) => void;
  #reported = false;

  constructor(options: RedisRateLimiterOptions = {}) {
    this.#owns = options.redis === undefined;
    const redis = options.redis ?? new RedisClient(options.url ?? 'redis://127.0.0.1:6379', {
      ...options.redisOptions,
      // A command waits for the connection (the first takes, a reconnection) only up to
      // `timeoutMs` (the race in take()); failed commands are not retried: the fallback decides.
      maxRetriesPerRequest: 0,
      connectTimeout: 1000,
    });
    redis.on('error', () => {}); // reported per failed take, not per reconnection attempt
    if (this.#owns) guardSockets(redis, () => {}); // a second socket error, likewise (refused TLS)
    // defineCommand sends EVALSHA, falling back to EVAL once when the script is not cached.
    redis.defineCommand('latchkeyTokenBucket', { numberOfKeys: 1, lua: TOKEN_BUCKET });
    this.#redis = redis as WithBucket;
    this.#prefix = options.prefix ?? 'latchkey:ratelimit:';
    this.#timeoutMs = options.timeoutMs ?? 500;
    this.#onError = options.onError ?? ((error) => console.warn(`latchkey: redis rate limiter: ${error.message}; limiting per instance meanwhile`));
  }

  async take(key: string, policy: RateLimitPolicy): Promise<RateLimitDecision> {
    // The bucket lives a little longer than it takes to refill; a full bucket needs no state.
    const ttlMs = policy.windowSeconds * 1000 + 1000;
    let timer: NodeJS.Timeout | undefined;
    try {
      const reply = await Promise.race([
        this.#redis.latchkeyTokenBucket(`${this.#prefix}${key}`, policy.limit, policy.windowSeconds, ttlMs),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no answer within ${this.#timeoutMs} ms`)), this.#timeoutMs);
        }),
      ]);
      this.#reported = false;
      return decision(Number(reply[0]) === 1, Number(reply[1]), policy);
    } catch (error) {
      if (!this.#reported) {
        this.#reported = true;
        this.#onError(error instanceof Error ? error : new Error(String(error)));
      }
      return this.#fallback.takeNow(key, policy);
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    if (this.#owns) this.#redis.disconnect();
  }
}

/** A token-bucket limiter shared by every instance through Redis. */
export function redisRateLimiter(options?: RedisRateLimiterOptions): RedisRateLimiter {
  return new RedisRateLimiter(options);
}
