/**
 * Which PostgreSQL failures mean "the store is unavailable, try again" and which are real errors.
 *
 * The line matters to callers: `STORE_UNAVAILABLE` tells an HTTP layer to answer 503 and a client to
 * retry the same refresh token (safe: a retry inside the grace window gets the same successor), while
 * anything else is a bug or bad data that no retry will fix and must stay visible as itself.
 */
import { InvalidClaimsError, StoreUnavailableError } from '../../errors.js';
import { describeTlsFailure } from '../../util/tls-failure.js';

/** Socket-level failures: the server is down, restarting, or the network is gone. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH',
  'ENETDOWN', 'ENOTFOUND', 'EAI_AGAIN', 'ENOENT',
]);

/**
 * SQLSTATEs that say "not now" rather than "never" (PostgreSQL manual, Appendix A):
 * class 08 connection exceptions, 53 insufficient resources (too many connections, disk full),
 * 57P01-57P03 shutdown / crash / starting up, 57014 statement timeout, 55P03 lock timeout,
 * 40001/40P01 serialization failure and deadlock (retryable by definition), 25006 a read-only
 * transaction (a failover that left us on a replica).
 */
const RETRYABLE_SQLSTATES = new Set(['57P01', '57P02', '57P03', '57014', '55P03', '40001', '40P01', '25006']);
const RETRYABLE_SQLSTATE_CLASSES = ['08', '53'];

/** pg reports some failures only through the message text (no code): connection loss and its own timeouts. */
const DRIVER_MESSAGES = [
  'Connection terminated',
  'timeout exceeded when trying to connect',
  'Query read timeout',
  'Client has encountered a connection error',
  'Client was closed',
  'Cannot use a pool after calling end',
];

/** SQLSTATEs for text PostgreSQL cannot represent: U+0000 in TEXT (22021) or JSONB (22P05). */
const UNSTORABLE_TEXT_SQLSTATES = new Set(['22021', '22P05']);

export function isUnavailable(err: unknown): boolean {
  if (err instanceof StoreUnavailableError) return true;
  if (typeof err !== 'object' || err === null) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string') {
    if (NETWORK_CODES.has(code) || RETRYABLE_SQLSTATES.has(code)) return true;
    if (code.length === 5 && RETRYABLE_SQLSTATE_CLASSES.includes(code.slice(0, 2))) return true;
  }
  const message = (err as { message?: unknown }).message;
  return typeof message === 'string' && DRIVER_MESSAGES.some((m) => message.includes(m));
}

/**
 * Translates a driver error into latchkey's vocabulary. Unavailability becomes
 * `StoreUnavailableError` (the driver error kept as `cause`, for logs); text PostgreSQL cannot store
 * becomes `InvalidClaimsError`, since it can only come from app-supplied values; anything else is
 * returned unchanged.
 */
export function translateError(err: unknown): unknown {
  if (err instanceof StoreUnavailableError) return err;
  // A certificate that does not verify, or a server without TLS when TLS is required: refused, and
  // unavailable to us (503), but with the reason in the message, since no retry will fix it.
  const tls = describeTlsFailure(err, 'the PostgreSQL server');
  if (tls) return new StoreUnavailableError(tls, { cause: err });
  if (isUnavailable(err)) return new StoreUnavailableError('the PostgreSQL store is unavailable', { cause: err });
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && UNSTORABLE_TEXT_SQLSTATES.has(code)) {
    return new InvalidClaimsError('PostgreSQL cannot store the NUL character (U+0000) in text or JSON');
  }
  return err;
}
