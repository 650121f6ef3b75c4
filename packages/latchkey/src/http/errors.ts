/**
 * How errors become HTTP responses. Every refusal is JSON `{"error":{"code","message"}}` with a
 * stable code; anything unexpected becomes a generic 500 whose body says nothing about the cause.
 */
import {
  InsufficientFreshnessError,
  InsufficientScopeError,
  LatchkeyError,
  RateLimitedError,
  StoreUnavailableError,
  TokenTheftError,
  UseDpopNonceError,
  type LatchkeyErrorCode,
  type TheftReason,
} from '../errors.js';
import type { TransportMode } from './options.js';

/** Codes that appear on the wire: the engine's, plus two the HTTP layer adds. */
export type WireErrorCode = LatchkeyErrorCode | 'FORBIDDEN' | 'INTERNAL_ERROR';

/** The JSON body of every error response. */
export interface ErrorBody {
  error: { code: WireErrorCode; message: string; sessionId?: string; userId?: string; reason?: TheftReason; missingScopes?: string[]; nonce?: string };
}

/** A refusal raised by the HTTP layer itself (bad request shape, CSRF), carrying its status. */
export class HttpError extends LatchkeyError {
  readonly status: number;

  constructor(status: number, code: LatchkeyErrorCode, message: string) {
    super(code, message);
    this.status = status;
  }
}

export function invalidRequest(message: string, status = 400): HttpError {
  return new HttpError(status, 'INVALID_REQUEST', message);
}

export function csrfRejected(message: string): HttpError {
  return new HttpError(403, 'CSRF_REJECTED', message);
}

const STATUS: Record<LatchkeyErrorCode, number> = {
  TRY_REFRESH_TOKEN: 401,
  UNAUTHORISED: 401,
  TOKEN_THEFT_DETECTED: 401,
  CSRF_REJECTED: 403,
  INSUFFICIENT_FRESHNESS: 403,
  INVALID_REQUEST: 400,
  INVALID_CLAIMS: 400,
  NOT_FOUND: 404,
  INVALID_API_KEY: 401,
  INSUFFICIENT_SCOPE: 403,
  RATE_LIMITED: 429,
  STORE_UNAVAILABLE: 503,
  // A deployment problem, not a property of the request: mapped as an internal error below.
  MISSING_DEPENDENCY: 500,
  // This instance cannot sign (wrong master secret); nothing was written, so another instance can serve the retry.
  SECRET_MISMATCH: 503,
  // RFC 9449 §7.1 and §9: both are 401 with a DPoP challenge.
  INVALID_DPOP_PROOF: 401,
  USE_DPOP_NONCE: 401,
};

export interface MappedError {
  status: number;
  body: ErrorBody;
  /** Extra headers (WWW-Authenticate in header mode, Retry-After on 503). */
  headers: [string, string][];
}

/**
 * Maps an error to its response. `expected` is false for anything that is not a LatchkeyError: the
 * caller reports it through `onError`, and the client sees only "internal error".
 */
export function mapError(error: unknown, mode: TransportMode | undefined): MappedError & { expected: boolean } {
  if (!(error instanceof LatchkeyError) || error.code === 'MISSING_DEPENDENCY') {
    return { status: 500, body: { error: { code: 'INTERNAL_ERROR', message: 'internal error' } }, headers: [], expected: false };
  }
  if (error.code === 'SECRET_MISMATCH') {
    // A misconfigured instance: the operator must hear of it (onError), the client only that it may retry.
    return { status: 503, body: { error: { code: 'STORE_UNAVAILABLE', message: 'this instance cannot issue tokens; retry' } }, headers: [['retry-after', '1']], expected: false };
  }
  const status = error instanceof HttpError ? error.status : STATUS[error.code];
  const body: ErrorBody = { error: { code: error.code, message: error.message } };
  // The app (and the user) must learn which session was taken over (protocol: sessionId, userId in the
  // error), and what was seen (`reason`), so that a rare late retry can be told from a replay by a thief.
  if (error instanceof TokenTheftError) Object.assign(body.error, { sessionId: error.sessionId, userId: error.userId, reason: error.reason });
  // The client must learn which scopes to ask its key's owner for.
  if (error instanceof InsufficientScopeError) body.error.missingScopes = [...error.missingScopes];
  const headers: [string, string][] = [];
  if (error instanceof RateLimitedError) headers.push(['retry-after', String(error.retryAfterSeconds)]);
  if (error instanceof UseDpopNonceError) {
    // RFC 9449 §8: the nonce travels in its own header (and in the body, for clients that read JSON).
    Object.assign(body.error, { nonce: error.nonce });
    headers.push(['dpop-nonce', error.nonce]);
  }
  // RFC 9449 §7.1: a DPoP refusal gets a DPoP challenge in either transport mode.
  if (error.code === 'INVALID_DPOP_PROOF') headers.push(['www-authenticate', 'DPoP error="invalid_dpop_proof"']);
  else if (error.code === 'USE_DPOP_NONCE') headers.push(['www-authenticate', 'DPoP error="use_dpop_nonce"']);
  else if (mode === 'header') {
    const challenge = bearerChallenge(error);
    if (challenge) headers.push(['www-authenticate', challenge]);
  }
  if (status === 503) headers.push(['retry-after', '1']);
  // A refused body may still be on its way, unread. Keeping the connection would either leave it to
  // poison the next request on the pooled connection (perhaps another user's) or oblige the server
  // to read an unbounded upload to find the next request: close instead (RFC 9110 §15.5.14).
  if (status === 413) headers.push(['connection', 'close']);
  return { status, body, headers, expected: true };
}

/** RFC 6750 §3 (and RFC 9470 §3 for freshness) challenge for a header-mode refusal, if it has one. */
function bearerChallenge(error: LatchkeyError): string | undefined {
  if (error instanceof InsufficientScopeError) {
    // RFC 6750 §3.1: the scopes the request needed (scope tokens hold no quote or backslash).
    return `Bearer error="insufficient_scope", scope="${error.missingScopes.join(' ')}"`;
  }
  if (error.code === 'INSUFFICIENT_FRESHNESS' && error instanceof InsufficientFreshnessError) {
    return `Bearer error="insufficient_user_authentication", max_age=${error.maxAgeSeconds}`;
  }
  if (error.code === 'TRY_REFRESH_TOKEN' || error.code === 'UNAUTHORISED' || error.code === 'TOKEN_THEFT_DETECTED') {
    // RFC 6750 §3.1: a request that carried no credentials gets a bare challenge, without an error code.
    if ('reason' in error && error.reason === 'missing') return 'Bearer';
    return 'Bearer error="invalid_token"';
  }
  if (error.code === 'INVALID_REQUEST' && error instanceof HttpError && error.status === 401) return 'Bearer error="invalid_request"';
  return undefined;
}

/**
 * The request carried two copies of a session cookie (cookie tossing, or a stale copy from an old
 * `Domain`). Refused; the response also clears every copy it can reach.
 */
export class CookieConflictError extends HttpError {
  constructor() {
    super(400, 'INVALID_REQUEST', 'duplicate session cookies; they have been cleared, sign in again');
  }
}

/**
 * Should a failed refresh clear the session cookies? Yes for every refusal of the token (the
 * protocol), no for a store outage (the session may be fine; retry) or a CSRF refusal (a forged
 * request must not be able to sign the user out).
 */
export function refreshFailureClears(error: unknown): boolean {
  // Nor for a DPoP refusal: a request without the device key (a thief's copy) must not sign the holder
  // out, and a nonce challenge is answered by a retry.
  return (
    error instanceof LatchkeyError &&
    !(error instanceof StoreUnavailableError) &&
    error.code !== 'CSRF_REJECTED' &&
    error.code !== 'INVALID_DPOP_PROOF' &&
    error.code !== 'USE_DPOP_NONCE' &&
    !(error instanceof CookieConflictError)
  );
}
