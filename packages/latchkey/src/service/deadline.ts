/**
 * A deadline on store work: the contract promises `503 STORE_UNAVAILABLE` within 2 s when the store
 * does not answer, whatever the driver's own timeouts. Every store call is atomic, so giving up
 * waiting never leaves a half-written change; at worst the change completes after the 503, exactly
 * as if the response had been lost on the wire (the client retries).
 */
import { StoreUnavailableError } from '../errors.js';

/** Default deadline, ms: under the contract's 2 s with room to write the response. */
export const STORE_DEADLINE_MS = 1_800;

export async function withDeadline<T>(work: Promise<T>, ms: number = STORE_DEADLINE_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new StoreUnavailableError(`the session store did not answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
    // A late rejection of the abandoned work must not become an unhandled rejection.
    work.catch(() => {});
  }
}
