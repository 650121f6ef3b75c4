/**
 * The DPoP `jti` replay cache in Redis, shared by every instance of a fleet: a proof accepted by one
 * instance is refused as a replay by all the others. One `SET key 1 NX PX ttl` per proof: atomic, so of
 * two instances racing with one proof exactly one wins, and Redis forgets the entry when the proof
 * could no longer pass the `iat` check anyway (memory stays bounded by traffic times window).
 *
 * When Redis does not answer within `timeoutMs`, the proof is refused (`STORE_UNAVAILABLE`, retryable):
 * accepting it unchecked would let a replay through. `fallbackToMemory: true` loosens that to a
 * per-instance check during the outage, for deployments that prefer availability.
 *
 * @example
 * import { redisDpopReplayCache } from 'latchkey/dpop/redis';
 * const latchkey = await createLatchkey({ issuer, dpop: { replayCache: redisDpopReplayCache({ url: process.env.REDIS_URL }) } });
 */
import type { Redis, RedisOptions } from 'ioredis';
import { importPeer } from '../util/peer.js';
import { guardSockets } from '../util/redis-sockets.js';
import { MemoryReplayCache, type DpopReplayCache } from './replay.js';

const { Redis: RedisClient } = await importPeer(() => import('ioredis'), 'ioredis', 'latchkey/dpop/redis');

export interface RedisDpopReplayCacheOptions {
  /** `redis://...`. Default `redis://127.0.0.1:6379`. Ignored when `redis` is given. */
  url?: string | undefined;
  /** A connection you own (not closed by `close()`). */
  redis?: Redis | undefined;
  /** Extra ioredis options for the connection latchkey opens. */
  redisOptions?: RedisOptions | undefined;
  /** Key prefix. Default `'latchkey:dpop:'`. */
  prefix?: string | undefined;
  /** Longest wait for Redis, ms. Default 500: far above a healthy round trip. */
  timeoutMs?: number | undefined;
  /**
   * During a Redis outage, check replays on this instance only instead of refusing proofs. Default
   * false: a replay against another instance would pass during the outage.
   */
  fallbackToMemory?: boolean | undefined;
  /** Told when Redis fails (once per outage). Default: a one-line warning on stderr, never the URL. */
  onError?: ((error: Error) => void) | undefined;
}

export class RedisDpopReplayCache implements DpopReplayCache {
  readonly #redis: Redis;
  readonly #owns: boolean;
  readonly #prefix: string;
  readonly #timeoutMs: number;
  readonly #fallback: MemoryReplayCache | undefined;
  readonly #onError: (error: Error) => void;
  #reported = false;

  constructor(options: RedisDpopReplayCacheOptions = {}) {
    this.#owns = options.redis === undefined;
    const redis =
      options.redis ??
      new RedisClient(options.url ?? 'redis://127.0.0.1:6379', {
        ...options.redisOptions,
        // A command waits for the connection only up to `timeoutMs` (the race below); no retries.
        maxRetriesPerRequest: 0,
        connectTimeout: 1000,
      });
    if (this.#owns) {
      redis.on('error', () => {}); // reported per failed proof check, not per reconnection attempt
      guardSockets(redis, () => {});
    }
    this.#redis = redis;
    this.#prefix = options.prefix ?? 'latchkey:dpop:';
    this.#timeoutMs = options.timeoutMs ?? 500;
    this.#fallback = options.fallbackToMemory === true ? new MemoryReplayCache() : undefined;
    this.#onError = options.onError ?? ((error) => console.warn(`latchkey: redis DPoP replay cache: ${error.message}`));
  }

  async remember(key: string, expiresAt: number, now: number): Promise<boolean> {
    const ttlMs = Math.max(1, Math.ceil(expiresAt - now));
    let timer: NodeJS.Timeout | undefined;
    try {
      const reply = await Promise.race([
        this.#redis.set(`${this.#prefix}${key}`, '1', 'PX', ttlMs, 'NX'),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no answer within ${this.#timeoutMs} ms`)), this.#timeoutMs);
        }),
      ]);
      this.#reported = false;
      return reply === 'OK';
    } catch (error) {
      if (!this.#reported) {
        this.#reported = true;
        this.#onError(error instanceof Error ? error : new Error(String(error)));
      }
      if (this.#fallback) return this.#fallback.remember(key, expiresAt, now);
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    if (this.#owns) this.#redis.disconnect();
  }
}

/** A DPoP replay cache shared by every instance through Redis. */
export function redisDpopReplayCache(options?: RedisDpopReplayCacheOptions): RedisDpopReplayCache {
  return new RedisDpopReplayCache(options);
}
