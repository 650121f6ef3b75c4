/**
 * One refresh, done once: takes the cross-tab lock, checks whether someone else already refreshed,
 * otherwise calls `POST <authBase>/refresh` and classifies the answer. The only retry is the one
 * immediate resend of an attempt whose answer never came (see attemptTimeout); an answer is never
 * retried, and retrying a request is the caller's single, bounded step: no refresh loop is possible.
 */
import type { ServerClock } from './clock.js';
import type { Credentials } from './credentials.js';
import { LatchkeyClientError } from './errors.js';
import { decodeFrontToken } from './front-token.js';
import type { Lock } from './tabs/lock.js';
import { CSRF_HEADER, FRONT_HEADER, GRACE_HEADER, readServerError, type ServerError } from './protocol.js';

/**
 * How long one refresh attempt may take, from the server's grace window (seconds): a quarter of it,
 * so that the attempt and its one retry together end by half the window.
 *
 * Why: a refresh the server committed but whose answer was lost (timeout, dropped connection) leaves
 * this client holding the parent token. The server accepts the parent again only inside its grace
 * window, so the retry must reach it well inside; a retry outside would be a parent replay, theft,
 * and the user would be signed out everywhere. A refresh that hangs would also hold the cross-tab
 * lock, and so every tab, hostage.
 * Bounds: at least 1 s (a window of 0 has no safe retry anyway; a timeout of 0 would be no request),
 * at most 7.5 s (the quarter of the default 30 s window; the tab lock's lease outlasts two).
 */
export const attemptTimeout = (graceSeconds: number): number => Math.min(Math.max(graceSeconds * 250, 1e3), 7500);

/** The protocol's default grace window (seconds), assumed until the server has told its own. */
export const DEFAULT_GRACE = 30;

/**
 * Takes in the window a response announces (`X-Latchkey-Refresh-Grace`). The server sends it on every
 * token-issuing answer (sign-in, claim update), not only on refreshes, so that the first refresh after
 * a sign-in already fits a window shorter than the default.
 */
export const learnGrace = (deps: { grace: number }, response: Response): void => {
  const grace = parseFloat(response.headers.get(GRACE_HEADER)!);
  if (grace >= 0) deps.grace = grace;
};

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
  /** The server's grace window in seconds, as last told by `X-Latchkey-Refresh-Grace` (updated here). */
  grace: number;
}

/**
 * @param marker The credentials marker when the caller decided to refresh (see Credentials.marker).
 * @throws LatchkeyClientError `REFRESH_UNAVAILABLE` when the server could not be reached (twice) or
 *   answered anything but tokens or latchkey's 401: the session may well be fine, so nothing is cleared.
 */
export function refreshOnce(deps: RefresherDeps, marker: string | null): Promise<RefreshOutcome> {
  return deps.lock(async (): Promise<RefreshOutcome> => {
    const current = await deps.credentials.marker();
    // Someone refreshed while we waited for the lock. (A marker that vanished is not proof of
    // anything, so then we still ask the server: the refresh token decides.)
    if (current !== null && current !== marker) return { kind: 'refreshed', here: false };

    if (!(await deps.credentials.refreshRequest(deps.url))) return { kind: 'signedOut', error: null };
    // Each attempt is made afresh: a DPoP proof is single-use, so a resend with the first one's
    // would be refused as a replay (and so end the session) if the server had seen the first.
    const send = async (): Promise<Response> => {
      const request = (await deps.credentials.refreshRequest(deps.url))!;
      return deps.fetch(deps.url, {
        method: 'POST',
        credentials: 'include',
        headers: { [CSRF_HEADER]: deps.credentials.csrf(), ...request.headers },
        body: request.body ?? null,
        cache: 'no-store',
        // Guarded: some runtimes (React Native) have AbortSignal without timeout().
        signal: globalThis.AbortSignal?.timeout?.(attemptTimeout(deps.grace)),
      });
    };
    let response: Response;
    try {
      // A timed-out or failed attempt is retried at once, once, with the same token: if the server
      // committed the first, its answer was lost and the retry falls inside the grace window, where
      // the server hands back the same successor. Nothing more: a third attempt could fall outside.
      response = await send().catch(send);
      // DPoP: refused for want of a nonce we did not have yet: one more attempt, with it.
      if (response.status === 401 && deps.credentials.nonce(response.headers.get('dpop-nonce'))) response = await send();
    } catch (cause) {
      throw new LatchkeyClientError('REFRESH_UNAVAILABLE', 'refresh unreachable', { cause });
    }
    deps.clock.fromDateHeader(response.headers.get('date'));
    learnGrace(deps, response);

    if (response.ok) {
      const front = decodeFrontToken(response.headers.get(FRONT_HEADER));
      if (front) deps.clock.fromFrontToken(front.now);
      return (await deps.credentials.accept(response)) ? { kind: 'refreshed', here: true } : { kind: 'blocked' };
    }
    // Only latchkey's own 401 is a verdict on the token (unknown, expired, revoked, replayed). Anything
    // else (5xx, 429, a CSRF refusal, a proxy's 400/403/404 or HTML) says nothing about the session,
    // so it stays: the app gets a typed error, never a sign-out.
    const error = response.status === 401 ? await readServerError(response) : null;
    if (error) {
      await deps.credentials.clear();
      return { kind: 'signedOut', error };
    }
    throw new LatchkeyClientError('REFRESH_UNAVAILABLE', `refresh answered ${response.status}`, { status: response.status });
  });
}
