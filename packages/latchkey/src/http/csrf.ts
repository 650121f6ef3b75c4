/**
 * CSRF defence for cookie mode (OWASP CSRF cheat sheet; ASVS 5.0 V3.5). Cookies ride along on
 * cross-site requests; these checks make sure a state-changing request came from our own pages.
 *
 * 1. A custom header, `X-Latchkey-CSRF`: a cross-site HTML form cannot set one, and a cross-site
 *    `fetch` that sets one triggers a CORS preflight, which we answer only for allowed origins.
 * 2. The `Origin` header, when present, must be the request's own origin or an allowed one. A
 *    missing Origin is accepted (old browsers, same-origin GET-turned-POST), but `Sec-Fetch-Site:
 *    cross-site` without it is not.
 * 3. In `token` mode, the header's value must also be an HMAC of the session id, echoed from the
 *    readable `__Host-` csrf cookie (a signed double submit, bound to the session).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { csrfRejected } from './errors.js';
import type { ResolvedHttpSettings } from './options.js';
import type { HttpRequest } from './request.js';

export const CSRF_HEADER = 'x-latchkey-csrf';
export const CSRF_TOKEN_HEADER = 'x-latchkey-csrf-token';

/** RFC 9110 §9.2.1 safe methods: they must never change state, so they need no CSRF check. */
export function isSafeMethod(method: string): boolean {
  return method === 'GET' || method === 'HEAD' || method === 'OPTIONS';
}

/** True when the origin may send credentialed state-changing requests here. */
export function originAllowed(origin: string, request: HttpRequest, settings: ResolvedHttpSettings): boolean {
  return origin === request.ownOrigin || settings.allowedOrigins.has(origin);
}

/** Throws CSRF_REJECTED unless the Origin (or, failing that, Sec-Fetch-Site) says same origin or allowed. */
export function checkOrigin(request: HttpRequest, settings: ResolvedHttpSettings): void {
  const origin = request.headers.get('origin');
  if (origin !== null) {
    // `Origin: null` (sandboxed frames, some redirects) never matches: it is not an origin we know.
    if (!originAllowed(origin, request, settings)) throw csrfRejected('request origin not allowed');
    return;
  }
  if (request.headers.get('sec-fetch-site') === 'cross-site') throw csrfRejected('cross-site request without an Origin');
}

/** The session-bound token of `token` mode: `<sessionId>.<HMAC-SHA256(key, sessionId)>`. */
export function csrfToken(key: Uint8Array, sessionId: string): string {
  return `${sessionId}.${mac(key, sessionId)}`;
}

function mac(key: Uint8Array, sessionId: string): string {
  return createHmac('sha256', key).update(`latchkey-csrf\0${sessionId}`).digest('base64url');
}

function equal(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Returns the session id a `token`-mode token is bound to, or undefined when it is not one of ours. */
function tokenSession(key: Uint8Array, token: string): string | undefined {
  const dot = token.indexOf('.');
  if (dot <= 0 || token.length > 256) return undefined;
  const sessionId = token.slice(0, dot);
  return equal(token.slice(dot + 1), mac(key, sessionId)) ? sessionId : undefined;
}

/**
 * Full CSRF check for a state-changing cookie-mode request.
 * @param cookieToken the csrf cookie's value (`token` mode), if sent.
 * @param sessionId the caller's session, when known; in `token` mode the token must be bound to it.
 *   Unknown for refresh (the session is only known after rotation) and sign-in (none yet): then the
 *   token must still be one we signed and match the cookie.
 * @param requireToken false for sign-in, where no session (so no token) exists yet.
 */
export function checkCsrf(
  request: HttpRequest,
  settings: ResolvedHttpSettings,
  context: { cookieToken?: string | undefined; sessionId?: string | undefined; requireToken: boolean },
): void {
  if (isSafeMethod(request.method)) return;
  const header = checkCsrfHeader(request, settings);
  if (settings.csrf.mode === 'token' && context.requireToken) checkCsrfToken(header, settings.csrf.key, context.cookieToken, context.sessionId);
}

/**
 * The request-only part of {@link checkCsrf} (the custom header, its value in `header` mode, and the
 * Origin), for a state-changing request. Returns the header's value, which `token` mode then checks
 * with {@link checkCsrfToken} once the session is known: authentication refuses a forged request
 * before any token work, and reads the header and Origin only once.
 */
export function checkCsrfHeader(request: HttpRequest, settings: ResolvedHttpSettings): string {
  const header = request.headers.get(CSRF_HEADER);
  if (header === null || header === '') throw csrfRejected(`missing ${CSRF_HEADER} header`);
  checkOrigin(request, settings);
  if (settings.csrf.mode === 'header' && header !== '1') throw csrfRejected(`${CSRF_HEADER} must be 1`);
  return header;
}

/** `token` mode's signed double submit: the header value must equal the csrf cookie and be bound to the session. */
export function checkCsrfToken(header: string, key: Uint8Array, cookieToken: string | undefined, sessionId: string | undefined): void {
  if (cookieToken === undefined || !equal(header, cookieToken)) throw csrfRejected('csrf token does not match');
  const bound = tokenSession(key, header);
  if (bound === undefined || (sessionId !== undefined && bound !== sessionId)) throw csrfRejected('csrf token not valid for this session');
}
