/**
 * The wire protocol shared with the latchkey server's HTTP layer: names and codes, in one place, so
 * that the SDK and the server cannot drift apart silently.
 */
import type { FetchResponse } from './web-types.js';

/** Response header carrying the same front token on every response that issues tokens. */
export const FRONT_HEADER = 'X-Latchkey-Front';
/**
 * Anti-CSRF header on every state-changing request. A cross-site form cannot set a custom header, and
 * a cross-site fetch that sets one needs a CORS preflight the server never grants to unknown origins.
 */
export const CSRF_HEADER = 'X-Latchkey-CSRF';
/** Session-bound CSRF token, when the server runs `csrf: { mode: 'token' }` (exposed cross-origin). */
export const CSRF_TOKEN_HEADER = 'X-Latchkey-CSRF-Token';
/** Asks the server for header mode: tokens in JSON bodies and `Authorization`, no cookies. */
export const MODE_HEADER = 'X-Latchkey-Mode';
/**
 * On every refresh response: the server's refresh grace window in seconds, the time during which the
 * token just rotated out may be presented again (a lost answer). The SDK fits its refresh timeout and
 * its one retry inside it (refresher.ts).
 */
export const GRACE_HEADER = 'X-Latchkey-Refresh-Grace';
/** Header mode: the new access token after a claim update (`session.update()`) on an API response. */
export const ACCESS_TOKEN_HEADER = 'X-Latchkey-Access-Token';

/** The server's auth routes, under `authBase` (its `basePath`, default `/auth`). */
export const DEFAULT_AUTH_BASE = '/auth';
export const REFRESH_ROUTE = 'refresh';
export const SIGNOUT_ROUTE = 'signout';

/** The server's default cookie name prefix (its option `cookies.prefix`); the SDK's `cookiePrefix` default. */
export const DEFAULT_COOKIE_PREFIX = 'lk_';
/** The readable front cookie, `<prefix>front` (server option `cookies.prefix`, default `lk_`). */
export const frontCookie = (prefix: string): string => `${prefix}front`;
/** The session-bound CSRF cookie of `csrf: { mode: 'token' }`: `__Host-` without a cookie domain, `__Secure-` with one. */
export const csrfCookies = (prefix: string): [string, string] => [`__Host-${prefix}csrf`, `__Secure-${prefix}csrf`];

/** Methods that must not change state, so need no CSRF header (RFC 9110 §9.2.1 safe methods). */
export const isStateChanging = (method: string): boolean => !/^(GET|HEAD|OPTIONS)$/i.test(method);

/** The latchkey error codes the SDK acts on. Others pass through to the application untouched. */
export const TRY_REFRESH_TOKEN = 'TRY_REFRESH_TOKEN';
export const UNAUTHORISED = 'UNAUTHORISED';
export const TOKEN_THEFT_DETECTED = 'TOKEN_THEFT_DETECTED';
export type ServerErrorCode = typeof TRY_REFRESH_TOKEN | typeof UNAUTHORISED | typeof TOKEN_THEFT_DETECTED | (string & {});

/** A latchkey error body, `{"error":{"code","message",...}}`, reduced to what the SDK needs. */
export interface ServerError {
  code: ServerErrorCode;
  sessionId?: string;
  userId?: string;
  /**
   * With `TOKEN_THEFT_DETECTED`: what the server saw. `'rotated-out-replay'` (a token rotated out long
   * ago), `'parent-after-grace'` (the immediate parent just past the grace window: perhaps a very late
   * retry), `'revoked-for-theft'` (a later request of a session already revoked for theft).
   */
  reason?: string;
}

/**
 * Reads the latchkey error object from a response without consuming the caller's body (it reads a
 * clone). Anything that is not a latchkey error body (an app's own 401, HTML from a proxy) is `null`,
 * so the SDK never acts on a 401 it does not understand.
 */
export async function readServerError(response: FetchResponse): Promise<ServerError | null> {
  if (!(response.headers.get('content-type') ?? '').includes('json')) return null;
  try {
    return toServerError(await response.clone().json());
  } catch {
    return null;
  }
}

/** Shape check for an already-parsed error body (the axios path parses bodies itself). */
export function toServerError(body: unknown): ServerError | null {
  const error = (body as { error?: Record<string, unknown> } | null)?.error;
  const text = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);
  return typeof error?.code === 'string' ? { code: error.code, sessionId: text(error.sessionId), userId: text(error.userId), reason: text(error.reason) } : null;
}
