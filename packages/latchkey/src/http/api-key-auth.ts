/**
 * API-key authentication for app routes: `requireApiKey({ scopes })`, and `requireAuth({ scopes })`
 * which accepts either a session or an API key and hands the route one principal.
 *
 * An API key is read from `Authorization: Bearer lk_...` or `X-API-Key: lk_...`, never from a
 * cookie, and CSRF checks never apply to it: a cross-site page can make a browser send cookies, but
 * not a header of its choosing without a CORS preflight the app must have allowed. So an API-key
 * request carries no ambient credential, and cookies it may also carry are ignored entirely.
 *
 * Optional per-key rate limiting runs after verification (an invalid key never spends anyone's
 * budget): 429 with `Retry-After`, and the IETF `RateLimit-Policy` / `RateLimit` headers
 * (draft-ietf-httpapi-ratelimit-headers) on every answer of a limited route.
 */
import type { Latchkey } from '../engine.js';
import { InsufficientScopeError, UnauthorisedError } from '../errors.js';
import type { VerifiedApiKey } from '../api-keys/types.js';
import { API_KEY_PREFIX } from '../api-keys/format.js';
import { memoryRateLimiter } from '../rate-limit/memory.js';
import { validatePolicy, type RateLimitDecision, type RateLimiter, type RateLimitPolicy } from '../rate-limit/types.js';
import type { AccessTokenClaims } from '../types.js';
import type { ApiKeyRateLimit } from './options.js';
import { invalidRequest, RateLimitedError } from './errors.js';
import type { HttpRequest } from './request.js';
import type { HeaderSink } from './response.js';
import type { LatchkeySession } from './session.js';

export const API_KEY_HEADER = 'x-api-key';

export type { ApiKeyRateLimit };

export interface RequireApiKeyOptions {
  /** Scopes the key must all hold; otherwise 403 `INSUFFICIENT_SCOPE` naming the missing ones. Default: none. */
  scopes?: readonly string[];
  /** This route's rate limit; `null` turns the adapter-wide `apiKeyRateLimit` off here. Default: that one. */
  rateLimit?: ApiKeyRateLimit | null;
}

/** The caller of a route that takes a session or an API key. */
export type Principal = SessionPrincipal | ApiKeyPrincipal;

export interface SessionPrincipal {
  kind: 'session';
  /** The user: for a session, `userId`. */
  subject: string;
  userId: string;
  /** From the access token's `scope` claim (RFC 9068 §2.2.3), or `sessionScopes`. */
  scopes: readonly string[];
  session: LatchkeySession;
}

export interface ApiKeyPrincipal {
  kind: 'apiKey';
  /** The key's owner. */
  subject: string;
  ownerId: string;
  keyId: string;
  scopes: readonly string[];
  apiKey: VerifiedApiKey;
}

/**
 * How a session's scopes are found, for `requireAuth({ scopes })`. Default: the access token's
 * `scope` claim, space-separated (RFC 9068 §2.2.3), so a session without one holds no scope and
 * passes only routes that ask for none. Put `scope` in `accessClaims` at sign-in to grant some.
 */
export type SessionScopes = (claims: Readonly<AccessTokenClaims>) => readonly string[];

export function scopeClaim(claims: Readonly<AccessTokenClaims>): readonly string[] {
  const scope = claims.scope;
  return typeof scope === 'string' ? scope.split(' ').filter((s) => s.length > 0) : [];
}

export interface ApiKeyAuthSettings {
  rateLimiter: RateLimiter;
  rateLimit: ApiKeyRateLimit | undefined;
}

export function resolveApiKeyAuthSettings(options: { rateLimiter?: RateLimiter; apiKeyRateLimit?: ApiKeyRateLimit }): ApiKeyAuthSettings {
  if (options.apiKeyRateLimit !== undefined && typeof options.apiKeyRateLimit !== 'function') validatePolicy(options.apiKeyRateLimit);
  return { rateLimiter: options.rateLimiter ?? memoryRateLimiter(), rateLimit: options.apiKeyRateLimit };
}

// RFC 6750 §2.1 b64token.
const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;

/**
 * The API key a request presents: from `X-API-Key`, or a bearer token that starts with `lk_` (or,
 * when `anyBearer`, any bearer token: on an API-key-only route a session token is a wrong key).
 * Undefined when it presents none; refuses two different keys (which one did the client mean?).
 */
export function presentedApiKey(request: HttpRequest, anyBearer: boolean): string | undefined {
  const header = request.headers.get(API_KEY_HEADER)?.trim();
  const authorization = request.headers.get('authorization');
  let bearer: string | undefined;
  if (authorization !== null) {
    const match = BEARER.exec(authorization)?.[1];
    if (match !== undefined && (anyBearer || match.startsWith(API_KEY_PREFIX))) bearer = match;
    else if (anyBearer && header === undefined) throw new UnauthorisedError('malformed', 'authorization header is not a bearer token');
  }
  if (header !== undefined && bearer !== undefined && header !== bearer) {
    throw invalidRequest('the request carries two different API keys (Authorization and X-API-Key)');
  }
  return header ?? bearer;
}

/** True when the request presents an API key rather than a session (for `requireAuth`). */
export function presentsApiKey(request: HttpRequest): boolean {
  return presentedApiKey(request, false) !== undefined;
}

/**
 * `RateLimit-Policy` and `RateLimit` (draft-ietf-httpapi-ratelimit-headers): the bucket's size and
 * refill window, what is left and when it is full again. (`Retry-After` on a 429 comes with the error.)
 */
export function rateLimitHeaders(policy: RateLimitPolicy, outcome: RateLimitDecision): [string, string][] {
  return [
    ['ratelimit-policy', `"apikey";q=${policy.limit};w=${policy.windowSeconds}`],
    ['ratelimit', `"apikey";r=${outcome.remaining};t=${outcome.resetSeconds}`],
  ];
}

/**
 * Verifies the request's API key and applies the rate limit. Resolves to the principal; throws a
 * `LatchkeyError` for the refusal (UNAUTHORISED, INSUFFICIENT_SCOPE, RATE_LIMITED, INVALID_REQUEST).
 * Rate-limit headers go to `sink` (on success) or onto the thrown error's response (see callers).
 */
export async function verifyRequestApiKey(
  engine: Latchkey,
  settings: ApiKeyAuthSettings,
  request: HttpRequest,
  options: RequireApiKeyOptions,
  headers: [string, string][],
): Promise<ApiKeyPrincipal> {
  const key = presentedApiKey(request, true);
  if (key === undefined) throw new UnauthorisedError('missing', 'an API key is required (Authorization: Bearer lk_... or X-API-Key)');
  const verified = await engine.apiKeys.verify(key, options.scopes === undefined ? undefined : { scopes: options.scopes });
  const limit = options.rateLimit === undefined ? settings.rateLimit : options.rateLimit;
  const policy = typeof limit === 'function' ? limit(verified) : limit;
  if (policy) {
    validatePolicy(policy);
    const outcome = await settings.rateLimiter.take(`${verified.keyId}:${policy.limit}/${policy.windowSeconds}`, policy);
    headers.push(...rateLimitHeaders(policy, outcome));
    if (!outcome.allowed) throw new RateLimitedError(outcome.retryAfterSeconds);
  }
  return { kind: 'apiKey', subject: verified.ownerId, ownerId: verified.ownerId, keyId: verified.keyId, scopes: verified.scopes, apiKey: verified };
}

/** Scopes a session lacks, as INSUFFICIENT_SCOPE; nothing when it has them all. */
export function checkSessionScopes(claims: Readonly<AccessTokenClaims>, required: readonly string[] | undefined, scopesOf: SessionScopes): readonly string[] {
  const held = scopesOf(claims);
  if (required === undefined || required.length === 0) return held;
  const missing = required.filter((scope) => !held.includes(scope));
  if (missing.length > 0) throw new InsufficientScopeError(missing);
  return held;
}

export function appendAll(sink: HeaderSink | undefined, headers: readonly [string, string][]): void {
  if (!sink) return;
  for (const [name, value] of headers) sink.append(name, value);
}
