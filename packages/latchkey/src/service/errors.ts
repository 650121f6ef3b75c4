/**
 * Maps every failure to the contract's error shape `{"error": {"code", "message", ...}}` and a
 * status. Engine errors keep their stable codes; anything unexpected becomes a bare 500 whose
 * message reveals nothing (the detail goes to the log, without tokens or secrets).
 */
import type { ZodError } from 'zod';
import {
  InsufficientFreshnessError,
  InsufficientScopeError,
  InvalidClaimsError,
  InvalidDpopProofError,
  NotFoundError,
  SecretMismatchError,
  StoreUnavailableError,
  TokenTheftError,
  TryRefreshError,
  UnauthorisedError,
  UseDpopNonceError,
} from '../errors.js';
import type { TheftReason } from '../errors.js';
import type { ErrorBody, ServiceErrorCode } from './schemas.js';

/** An error the service answers on purpose. */
export class HttpError extends Error {
  readonly status: number;
  readonly code: ServiceErrorCode;
  readonly extra: { field?: string; sessionId?: string; userId?: string; reason?: TheftReason; missingScopes?: string[]; nonce?: string };
  readonly headers: Record<string, string>;

  constructor(
    status: number,
    code: ServiceErrorCode,
    message: string,
    extra: HttpError['extra'] = {},
    headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'HttpError';
    this.status = status;
    this.code = code;
    this.extra = extra;
    this.headers = headers;
  }

  body(): ErrorBody {
    return { error: { code: this.code, message: this.message, ...this.extra } };
  }
}

/** `['device', 'ip']` → `device.ip`; the root is `body`. */
export function fieldPath(path: ReadonlyArray<PropertyKey>): string {
  if (path.length === 0) return 'body';
  return path.map((p) => (typeof p === 'number' ? `[${p}]` : String(p))).join('.').replace(/\.\[/g, '[');
}

/** The first zod issue, as a 400 naming its field. Unknown keys are named one by one. */
export function invalidRequest(error: ZodError): HttpError {
  const issue = error.issues[0];
  if (!issue) return new HttpError(400, 'INVALID_REQUEST', 'invalid request body', { field: 'body' });
  if (issue.code === 'unrecognized_keys') {
    const field = fieldPath([...issue.path, issue.keys[0] ?? '']);
    return new HttpError(400, 'INVALID_REQUEST', `${field}: unknown field`, { field });
  }
  const field = fieldPath(issue.path);
  return new HttpError(400, 'INVALID_REQUEST', `${field}: ${issue.message}`, { field });
}

/** Turns whatever a handler threw into an {@link HttpError}. Unexpected errors become 500. */
export function toHttpError(err: unknown): HttpError {
  if (err instanceof HttpError) return err;
  if (err instanceof TokenTheftError) {
    // The contract answers a token of an already revoked session with UNAUTHORISED, on verify and on
    // refresh alike; `reason` beside the code (an addition) tells a backend that it was theft.
    if (err.reason === 'revoked-for-theft') return new HttpError(401, 'UNAUTHORISED', err.message, { reason: err.reason });
    return new HttpError(401, 'TOKEN_THEFT_DETECTED', err.message, { sessionId: err.sessionId, userId: err.userId, reason: err.reason });
  }
  if (err instanceof SecretMismatchError) {
    // This instance runs with the wrong master secret; nothing was written, another instance can serve the retry.
    return new HttpError(503, 'STORE_UNAVAILABLE', 'this instance cannot issue tokens; retry', {}, { 'Retry-After': '1' });
  }
  // Service contract v1.1; the DPoP challenge headers as RFC 9449 §7.1 and §9 give them.
  if (err instanceof InvalidDpopProofError) return new HttpError(401, 'INVALID_DPOP_PROOF', err.message, {}, { 'WWW-Authenticate': 'DPoP error="invalid_dpop_proof"' });
  if (err instanceof UseDpopNonceError) {
    return new HttpError(401, 'USE_DPOP_NONCE', err.message, { nonce: err.nonce }, { 'WWW-Authenticate': 'DPoP error="use_dpop_nonce"', 'DPoP-Nonce': err.nonce });
  }
  if (err instanceof TryRefreshError) return new HttpError(401, 'TRY_REFRESH_TOKEN', err.message);
  if (err instanceof UnauthorisedError) return new HttpError(401, 'UNAUTHORISED', err.message);
  if (err instanceof InsufficientFreshnessError) return new HttpError(403, 'INSUFFICIENT_FRESHNESS', err.message);
  if (err instanceof InsufficientScopeError) return new HttpError(403, 'INSUFFICIENT_SCOPE', err.message, { missingScopes: [...err.missingScopes] });
  if (err instanceof InvalidClaimsError) {
    // The engine's own checks (size, nesting, non-JSON values) after the schema passed.
    const field = err.claim ?? 'body';
    return new HttpError(400, 'INVALID_REQUEST', err.message, { field });
  }
  if (err instanceof NotFoundError) return new HttpError(404, 'NOT_FOUND', err.message);
  if (err instanceof StoreUnavailableError) return new HttpError(503, 'STORE_UNAVAILABLE', 'the session store is unavailable; retry later', {}, { 'Retry-After': '1' });
  return new HttpError(500, 'INTERNAL_ERROR', 'internal error');
}
