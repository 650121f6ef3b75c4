/**
 * How errors become HTTP responses: the one table for the adapters, the HTTP core and the service.
 * Every refusal is JSON `{"error":{"code","message"}}` with a stable code; anything unexpected becomes
 * a generic 500 whose body says nothing about the cause.
 *
 * Codes come from two unions: the engine's (`LatchkeyErrorCode`, errors.ts) and the HTTP layer's own
 * (`HttpErrorCode`, here). The service answers through the same table, in its contract's words where
 * they differ (`surface: 'service'`, see {@link mapError}); it adds codes of its own only for what is
 * not an error of latchkey at all (a bad service key, a body over its limit, shutting down).
 */
import {
  InsufficientFreshnessError,
  InsufficientScopeError,
  InvalidClaimsError,
  InvalidDbscProofError,
  LatchkeyError,
  StoreUnavailableError,
  TokenTheftError,
  UseDpopNonceError,
  type LatchkeyErrorCode,
  type TheftReason,
} from '../errors.js';
import type { ClaimValidationError } from '../claims/checks.js';
import type { TransportMode } from './transport-mode.js';

/**
 * The HTTP layer's own refusals: a request of the wrong shape, a forged cross-site request, a session
 * that lacks the claims a route requires, an API key over its request rate. Not the engine's: the
 * engine never sees a request.
 */
export type HttpErrorCode = 'INVALID_REQUEST' | 'CSRF_REJECTED' | 'FORBIDDEN' | 'CLAIM_VALIDATION_FAILED' | 'RATE_LIMITED';

/** Codes that appear on the wire: the engine's, the HTTP layer's, and the generic 500's. */
export type WireErrorCode = LatchkeyErrorCode | HttpErrorCode | 'INTERNAL_ERROR';

/** The JSON body of every error response. */
export interface ErrorBody {
  error: {
    code: WireErrorCode;
    message: string;
    /** The service's INVALID_REQUEST: the offending field. */
    field?: string;
    sessionId?: string;
    userId?: string;
    reason?: TheftReason;
    missingScopes?: string[];
    nonce?: string;
  };
  /** `CLAIM_VALIDATION_FAILED`: every validator that failed, with why (the SDK reads it). */
  claimValidationErrors?: ClaimValidationError[];
}

/** A refusal raised by the HTTP layer itself (bad request shape, CSRF), carrying its status. */
export class HttpError extends LatchkeyError<HttpErrorCode> {
  readonly status: number;

  constructor(status: number, code: HttpErrorCode, message: string) {
    super(code, message);
    this.status = status;
  }
}

/**
 * The session lacks what a route's claim validators require (after refetching stale values): 403 with
 * the machine-readable list, so that a client can tell "verify your email" from "not an admin".
 */
export class ClaimValidationFailedError extends HttpError {
  readonly claimValidationErrors: readonly ClaimValidationError[];

  constructor(errors: readonly ClaimValidationError[]) {
    super(403, 'CLAIM_VALIDATION_FAILED', `session claims do not satisfy this route: ${errors.map((e) => e.id).join(', ')}`);
    this.claimValidationErrors = errors;
  }
}

/**
 * Too many requests with one API key: its rate limit is spent (429). `retryAfterSeconds` is when one
 * more request will be allowed (sent as `Retry-After`). Raised by the HTTP layer's API-key check
 * (`requireApiKey`, `requireAuth`), which owns the rate limiter; the engine never rate-limits.
 */
export class RateLimitedError extends HttpError {
  /** Seconds until the key's bucket allows one more request. */
  readonly retryAfterSeconds: number;

  constructor(retryAfterSeconds: number) {
    super(429, 'RATE_LIMITED', `rate limit exceeded; retry in ${retryAfterSeconds} s`);
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

export function invalidRequest(message: string, status = 400): HttpError {
  return new HttpError(status, 'INVALID_REQUEST', message);
}

export function csrfRejected(message: string): HttpError {
  return new HttpError(403, 'CSRF_REJECTED', message);
}

/**
 * What kind of failure a code is, for the surfaces that are not HTTP: the CLI's exit code (`refused`
 * and `internal` 1, `configuration` 2, `unavailable` 69, see cli/run.ts).
 * - `refused`: the request or the operation was refused as it stands (a bad token, a missing session);
 * - `unavailable`: a backend did not answer; the same call may succeed later;
 * - `configuration`: this installation is set up wrong (a package missing, the wrong master secret):
 *   nothing was attempted or written, and no retry helps until an operator fixes it;
 * - `internal`: a fault that is not the caller's (an app hook threw).
 */
export type ErrorKind = 'refused' | 'unavailable' | 'configuration' | 'internal';

/** One row of the table: the HTTP status of a code, and its kind. */
export interface ErrorRow {
  status: number;
  kind: ErrorKind;
}

/**
 * The table: the status and kind of every code. An `HttpError` carries its own status (an
 * INVALID_REQUEST may be a 400, 405 or 413); every other error gets its code's. A status of 500 is
 * answered as a generic internal error (see {@link mapError}).
 *
 * `INVALID_CLAIMS` means one thing everywhere: claims the app (or, on the service, the backend)
 * supplied were refused (a reserved name, not JSON, too large, or too large for a cookie), 400. The
 * service's contract words it as `INVALID_REQUEST` naming the field, which is what it is there: a
 * field of the request body.
 */
export const ERROR_TABLE: Readonly<Record<LatchkeyErrorCode | HttpErrorCode, ErrorRow>> = {
  TRY_REFRESH_TOKEN: { status: 401, kind: 'refused' },
  UNAUTHORISED: { status: 401, kind: 'refused' },
  TOKEN_THEFT_DETECTED: { status: 401, kind: 'refused' },
  INSUFFICIENT_FRESHNESS: { status: 403, kind: 'refused' },
  INVALID_CLAIMS: { status: 400, kind: 'refused' },
  NOT_FOUND: { status: 404, kind: 'refused' },
  INSUFFICIENT_SCOPE: { status: 403, kind: 'refused' },
  STORE_UNAVAILABLE: { status: 503, kind: 'unavailable' },
  // A deployment problem, not a property of the request: answered as an internal error (500).
  MISSING_DEPENDENCY: { status: 500, kind: 'configuration' },
  // This instance cannot sign (wrong master secret); nothing was written, so another instance can serve the retry.
  SECRET_MISMATCH: { status: 503, kind: 'configuration' },
  // RFC 9449 §7.1 and §9: both are 401 with a DPoP challenge.
  INVALID_DPOP_PROOF: { status: 401, kind: 'refused' },
  USE_DPOP_NONCE: { status: 401, kind: 'refused' },
  // DBSC: a 4xx other than 403 ends the browser's DBSC session (spec "send a request"); 401 like DPoP.
  INVALID_DBSC_PROOF: { status: 401, kind: 'refused' },
  // The app's beforeCreate hook said no: the app's own refusal, worded by it.
  SESSION_REFUSED: { status: 403, kind: 'refused' },
  // An app hook threw: answered as an internal error (500), reported to onError.
  HOOK_FAILED: { status: 500, kind: 'internal' },
  // The HTTP layer's own.
  INVALID_REQUEST: { status: 400, kind: 'refused' },
  CSRF_REJECTED: { status: 403, kind: 'refused' },
  FORBIDDEN: { status: 403, kind: 'refused' },
  CLAIM_VALIDATION_FAILED: { status: 403, kind: 'refused' },
  RATE_LIMITED: { status: 429, kind: 'refused' },
};

/** The table's row for a code; undefined for a code latchkey does not define. */
export function errorRow(code: string): ErrorRow | undefined {
  return Object.hasOwn(ERROR_TABLE, code) ? ERROR_TABLE[code as keyof typeof ERROR_TABLE] : undefined;
}

export interface MappedError {
  status: number;
  body: ErrorBody;
  /** Extra headers (WWW-Authenticate in header mode, Retry-After on 503). */
  headers: [string, string][];
}

/**
 * Who answers: the HTTP layer (the adapters and the core, the protocol's wording), or the service (its
 * contract's wording, `../shared/service-api.md`, which predates some codes and must not change).
 */
export type ErrorSurface = 'http' | 'service';

/**
 * Maps an error to its response. `expected` is false for anything that is not a LatchkeyError: the
 * caller reports it through `onError`, and the client sees only "internal error". `mode` decides the
 * RFC 6750 challenge (header mode only).
 */
export function mapError(error: unknown, mode: TransportMode | undefined, surface: ErrorSurface = 'http'): MappedError & { expected: boolean } {
  const row = error instanceof LatchkeyError ? errorRow(error.code) : undefined;
  // Not ours, a code outside the table, or a row answered as a generic 500 (MISSING_DEPENDENCY, HOOK_FAILED).
  if (!(error instanceof LatchkeyError) || row === undefined || (row.status === 500 && !(error instanceof HttpError))) {
    return { status: 500, body: { error: { code: 'INTERNAL_ERROR', message: 'internal error' } }, headers: [], expected: false };
  }
  if (error.code === 'SECRET_MISMATCH') {
    // A misconfigured instance: the operator must hear of it (onError), the client only that it may retry.
    return { status: 503, body: { error: { code: 'STORE_UNAVAILABLE', message: 'this instance cannot issue tokens; retry' } }, headers: [['retry-after', '1']], expected: false };
  }
  if (surface === 'service') {
    const worded = serviceWording(error);
    if (worded) return { ...worded, expected: true };
  }
  const code = error.code as LatchkeyErrorCode | HttpErrorCode;
  const status = error instanceof HttpError ? error.status : row.status;
  const body: ErrorBody = { error: { code, message: error.message } };
  // The app (and the user) must learn which session was taken over (protocol: sessionId, userId in the
  // error), and what was seen (`reason`), so that a rare late retry can be told from a replay by a thief.
  if (error instanceof TokenTheftError) Object.assign(body.error, { sessionId: error.sessionId, userId: error.userId, reason: error.reason });
  // The client must learn which scopes to ask its key's owner for.
  if (error instanceof InsufficientScopeError) body.error.missingScopes = [...error.missingScopes];
  if (error instanceof ClaimValidationFailedError) body.claimValidationErrors = error.claimValidationErrors.map((e) => ({ id: e.id, reason: e.reason }));
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

/**
 * Where the service's contract words an error otherwise than the protocol (the meaning is the same):
 * - a token of a session revoked for theft is `UNAUTHORISED`, with `reason` beside the code (an
 *   addition) telling a backend that it was theft;
 * - refused claims are `INVALID_REQUEST` naming the field (see the table);
 * - a store outage says only that it is one (the driver's message is for the log).
 */
function serviceWording(error: LatchkeyError<string>): MappedError | undefined {
  if (error instanceof TokenTheftError && error.reason === 'revoked-for-theft') {
    return { status: 401, body: { error: { code: 'UNAUTHORISED', message: error.message, reason: error.reason } }, headers: [] };
  }
  if (error instanceof InvalidClaimsError) {
    return { status: 400, body: { error: { code: 'INVALID_REQUEST', message: error.message, field: error.claim ?? 'body' } }, headers: [] };
  }
  // The contract has no DBSC: a browser-bound session's refresh token is, to a backend, simply unusable.
  if (error instanceof InvalidDbscProofError) {
    return { status: 401, body: { error: { code: 'UNAUTHORISED', message: 'this session is bound to a browser key (DBSC); only that browser can refresh it' } }, headers: [] };
  }
  if (error instanceof StoreUnavailableError) {
    return { status: 503, body: { error: { code: 'STORE_UNAVAILABLE', message: 'the session store is unavailable; retry later' } }, headers: [['retry-after', '1']] };
  }
  return undefined;
}

/** RFC 6750 §3 (and RFC 9470 §3 for freshness) challenge for a header-mode refusal, if it has one. */
function bearerChallenge(error: LatchkeyError<string>): string | undefined {
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
  // RFC 6750 §3.1: the token is fine but does not grant this.
  if (error.code === 'FORBIDDEN' || error.code === 'CLAIM_VALIDATION_FAILED') return 'Bearer error="insufficient_scope"';
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
  // Nor for a DPoP or DBSC refusal: a request without the device key (a thief's copy) must not sign
  // the holder out, and a nonce challenge is answered by a retry.
  return (
    error instanceof LatchkeyError &&
    !(error instanceof StoreUnavailableError) &&
    error.code !== 'CSRF_REJECTED' &&
    error.code !== 'INVALID_DPOP_PROOF' &&
    error.code !== 'USE_DPOP_NONCE' &&
    error.code !== 'INVALID_DBSC_PROOF' &&
    !(error instanceof CookieConflictError)
  );
}
