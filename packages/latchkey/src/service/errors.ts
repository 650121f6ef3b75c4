/**
 * The service's errors: every failure becomes the contract's error shape
 * `{"error": {"code", "message", ...}}` and a status, through the HTTP layer's one error table
 * (http/errors.ts) in the contract's wording. Anything unexpected becomes a bare 500 whose message
 * reveals nothing (the detail goes to the log, without tokens or secrets).
 */
import type { ZodError } from 'zod';
import type { TheftReason } from '../errors.js';
import { mapError } from '../http/errors.js';
import { ERROR_CODES, type ErrorBody, type ServiceErrorCode } from './schemas.js';

/**
 * An error the service answers on purpose, with its status and the contract's code. (Named apart from
 * `latchkey/http`'s `HttpError`, the HTTP layer's refusals, which are `LatchkeyError`s.)
 */
export class ServiceError extends Error {
  readonly status: number;
  readonly code: ServiceErrorCode;
  readonly extra: { field?: string; sessionId?: string; userId?: string; reason?: TheftReason; missingScopes?: string[]; nonce?: string };
  readonly headers: Record<string, string>;

  constructor(
    status: number,
    code: ServiceErrorCode,
    message: string,
    extra: ServiceError['extra'] = {},
    headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'ServiceError';
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
export function invalidRequest(error: ZodError): ServiceError {
  const issue = error.issues[0];
  if (!issue) return new ServiceError(400, 'INVALID_REQUEST', 'invalid request body', { field: 'body' });
  if (issue.code === 'unrecognized_keys') {
    const field = fieldPath([...issue.path, issue.keys[0] ?? '']);
    return new ServiceError(400, 'INVALID_REQUEST', `${field}: unknown field`, { field });
  }
  const field = fieldPath(issue.path);
  return new ServiceError(400, 'INVALID_REQUEST', `${field}: ${issue.message}`, { field });
}

const SERVICE_CODES: ReadonlySet<string> = new Set(ERROR_CODES);

/**
 * Turns whatever a handler threw into a {@link ServiceError}: the table's answer in the contract's
 * wording. A code the contract does not name (the HTTP layer's CSRF refusal, say, which no service
 * route raises) and anything unexpected become a bare 500.
 */
export function toServiceError(err: unknown): ServiceError {
  if (err instanceof ServiceError) return err;
  const mapped = mapError(err, undefined, 'service');
  const { code, message, ...extra } = mapped.body.error;
  if (!SERVICE_CODES.has(code)) return new ServiceError(500, 'INTERNAL_ERROR', 'internal error');
  const headers: Record<string, string> = {};
  // The service names its headers as its own handlers do (`Retry-After`); the table's are lower case.
  for (const [name, value] of mapped.headers) headers[name.replace(/(^|-)([a-z])/g, (_, dash: string, letter: string) => dash + letter.toUpperCase())] = value;
  return new ServiceError(mapped.status, code as ServiceErrorCode, message, extra, headers);
}

/** @deprecated the name before the service's error class became {@link ServiceError}; use {@link toServiceError}. */
export const toHttpError = toServiceError;
