/**
 * Per-key rate limiting for API-key requests: a token bucket per key. The HTTP layer asks a
 * {@link RateLimiter} before each request and answers 429 with `Retry-After` and the IETF
 * `RateLimit-Policy` / `RateLimit` headers (draft-ietf-httpapi-ratelimit-headers) when it says no.
 */

/**
 * A token bucket: holds at most `limit` requests, refilled at `limit` per `windowSeconds`. A key
 * may burst up to `limit` requests, then goes at the refill rate.
 */
export interface RateLimitPolicy {
  /** Bucket size, requests (a positive integer). */
  limit: number;
  /** Seconds in which an empty bucket refills completely (a positive integer). */
  windowSeconds: number;
}

export interface RateLimitDecision {
  allowed: boolean;
  /** Whole requests left in the bucket after this one. */
  remaining: number;
  /** Seconds until the bucket is full again (the `t` of the `RateLimit` header). */
  resetSeconds: number;
  /** When refused: seconds until one more request will be allowed (`Retry-After`). */
  retryAfterSeconds: number;
}

export interface RateLimiter {
  /** Takes one request from the bucket `key` under `policy`. */
  take(key: string, policy: RateLimitPolicy): Promise<RateLimitDecision>;
  /** Releases connections, if any. */
  close?(): Promise<void>;
}

/** Throws a TypeError unless `policy` is a sensible bucket. */
export function validatePolicy(policy: RateLimitPolicy): RateLimitPolicy {
  const { limit, windowSeconds } = policy ?? ({} as RateLimitPolicy);
  if (!Number.isInteger(limit) || limit < 1 || limit > 1_000_000_000) throw new TypeError('rate limit: limit must be a positive integer');
  if (!Number.isInteger(windowSeconds) || windowSeconds < 1 || windowSeconds > 31_536_000) {
    throw new TypeError('rate limit: windowSeconds must be a whole number of seconds from 1 to 31 536 000');
  }
  return policy;
}

/** The decision for a bucket holding `tokens` (fractional) after the take, under `policy`. */
export function decision(allowed: boolean, tokens: number, policy: RateLimitPolicy): RateLimitDecision {
  const perSecond = policy.limit / policy.windowSeconds;
  return {
    allowed,
    remaining: Math.max(0, Math.floor(tokens)),
    resetSeconds: Math.max(0, Math.ceil((policy.limit - tokens) / perSecond)),
    retryAfterSeconds: allowed ? 0 : Math.max(1, Math.ceil((1 - tokens) / perSecond)),
  };
}
