/**
 * One refresh, done once: takes the cross-tab lock, checks whether someone else already refreshed,
 * otherwise calls `POST <authBase>/refresh` and classifies the answer. It never retries by itself:
 * retrying is the caller's single, bounded step, which is what rules out refresh loops.
 */
import type { ServerClock } from './clock.js';
import type { Credentials } from './credentials.js';
import { LatchkeyClientError } from './errors.js';
import { decodeFrontToken } from './front-token.js';
import type { Lock } from './tabs/lock.js';
import { CSRF_HEADER, FRONT_HEADER, readServerError, type ServerError } from './protocol.js';

/**
 * A refresh that hangs would hold the cross-tab lock, and so every tab, hostage; past this it counts as
 * unreachable. If the server did rotate before the answer was lost, the parent token presented on the
 * next attempt falls in the server's grace window (default 10 s) or fails cleanly as signed out.
 */
const REFRESH_TIMEOUT_MS = 10_000;

export type RefreshOutcome =
  /** Tokens are fresh. `here`: this call refreshed them (false: another tab or request already had). */
  | { kind: 'refreshed'; here: boolean }
  /** The server refused the refresh token (or there was none): the session is over. */
  | { kind: 'signedOut'; error: ServerError | null }
  /** The server refreshed, but the browser did not keep the cookies; refreshing again cannot help. */
  | { kind: 'blocked' };

export interface RefresherDeps {
  url: string;
  fetch: typeof fetch;
  credentials: Credentials;
  lock: Lock;
  clock: ServerClock;
}

/**
 * @param marker The credentials marker when the caller decided to refresh (see Credentials.marker).
 * @throws LatchkeyClientError `REFRESH_UNAVAILABLE` when the server could not be reached or failed
 *   (5xx): the session may well be fine, so nothing is cleared.
 */
export function refreshOnce(deps: RefresherDeps, marker: string | null): Promise<RefreshOutcome> {
  return deps.lock(async (): Promise<RefreshOutcome> => {
    const current = await deps.credentials.marker();
    // Someone refreshed while we waited for the lock. (A marker that vanished is not proof of
    // anything, so then we still ask the server: the refresh token decides.)
    if (current !== null && current !== marker) return { kind: 'refreshed', here: false };

    const request = await deps.credentials.refreshRequest();
    if (!request) return { kind: 'signedOut', error: null };
    let response: Response;
    try {
      response = await deps.fetch(deps.url, {
        method: 'POST',
        credentials: 'include',
        headers: { [CSRF_HEADER]: deps.credentials.csrf(), ...request.headers },
        body: request.body ?? null,
        cache: 'no-store',
        // Guarded: some runtimes (React Native) have AbortSignal without timeout().
        signal: globalThis.AbortSignal?.timeout?.(REFRESH_TIMEOUT_MS),
      });
    } catch (cause) {
      throw new LatchkeyClientError('REFRESH_UNAVAILABLE', 'refresh endpoint unreachable', { cause });
    }
    deps.clock.fromDateHeader(response.headers.get('date'));

    if (response.ok) {
      const front = decodeFrontToken(response.headers.get(FRONT_HEADER));
      if (front) deps.clock.fromFrontToken(front.now);
      return (await deps.credentials.accept(response)) ? { kind: 'refreshed', here: true } : { kind: 'blocked' };
    }
    // 400/401/403: the server looked at the refresh token and said no (unknown, expired, revoked,
    // replayed). Anything else (5xx, 429, a proxy's 404) says nothing about the session.
    if (response.status === 400 || response.status === 401 || response.status === 403) {
      const error = await readServerError(response);
      await deps.credentials.clear();
      return { kind: 'signedOut', error };
    }
    throw new LatchkeyClientError('REFRESH_UNAVAILABLE', `refresh endpoint answered ${response.status}`, {
      status: response.status,
    });
  });
}
