/**
 * The in-memory token bucket: the default limiter, exact on one instance. With several instances
 * each keeps its own buckets (a key gets the limit per instance): use the Redis limiter there.
 */
import { systemClock, type Clock } from '../clock.js';
import { decision, type RateLimitDecision, type RateLimiter, type RateLimitPolicy } from './types.js';

export interface MemoryRateLimiterOptions {
  /**
   * Most buckets kept; the least recently refilled go first. Default 100 000: bounded memory
   * whatever the number of keys (an evicted bucket starts full again, which only ever favours the key).
   */
  maxBuckets?: number;
  /** Source of time. Default: the system clock. */
  clock?: Clock;
}

export class MemoryRateLimiter implements RateLimiter {
  #buckets = new Map<string, { tokens: number; at: number }>();
  readonly #max: number;
  readonly #clock: Clock;

  constructor(options: MemoryRateLimiterOptions = {}) {
    this.#max = options.maxBuckets ?? 100_000;
    this.#clock = options.clock ?? systemClock;
  }

  async take(key: string, policy: RateLimitPolicy): Promise<RateLimitDecision> {
    return this.takeNow(key, policy);
  }

  /** Synchronous form of {@link take}. */
  takeNow(key: string, policy: RateLimitPolicy): RateLimitDecision {
    const now = this.#clock.now();
    const bucket = this.#buckets.get(key);
    let tokens = policy.limit;
    if (bucket) {
      tokens = Math.min(policy.limit, bucket.tokens + ((now - bucket.at) / 1000) * (policy.limit / policy.windowSeconds));
      this.#buckets.delete(key); // re-inserted below: Map order is then least recently used first
    } else if (this.#buckets.size >= this.#max) {
      const oldest = this.#buckets.keys().next();
      if (!oldest.done) this.#buckets.delete(oldest.value);
    }
    const allowed = tokens >= 1;
    if (allowed) tokens -= 1;
    this.#buckets.set(key, { tokens, at: now });
    return decision(allowed, tokens, policy);
  }
}

/** An in-memory token-bucket limiter. */
export function memoryRateLimiter(options?: MemoryRateLimiterOptions): MemoryRateLimiter {
  return new MemoryRateLimiter(options);
}
