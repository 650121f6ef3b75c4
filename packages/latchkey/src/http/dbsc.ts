/**
 * DBSC, Device Bound Session Credentials (W3C webappsec-dbsc), for cookie mode: the browser keeps a
 * key that never leaves the device and proves possession of it whenever the short-lived bound cookie
 * (the access cookie) needs renewal. A copied cookie jar then stops working when its access cookie
 * expires: the refresh cookie alone no longer rotates a session that registered a key.
 *
 * The protocol, as the spec and Chromium speak it:
 * 1. A cookie-mode sign-in answer carries
 *    `Secure-Session-Registration: (ES256 RS256);path="<base>/dbsc/register";challenge="<c>"`.
 *    Browsers without DBSC ignore it and keep today's behaviour.
 * 2. The browser makes a key and POSTs to that path with `Secure-Session-Response: <JWT>` (header
 *    `typ: dbsc+jwt`, `jwk`; payload `jti: <c>`) and the session's cookies. {@link dbscRegister}
 *    verifies it, stores the key with the session, re-issues the cookies and answers the session
 *    configuration JSON: the bound cookie's name and attributes, and the refresh URL.
 * 3. When the access cookie is missing, the browser holds requests in scope and POSTs to the refresh
 *    URL with `Sec-Secure-Session-Id`. {@link dbscRefresh} answers 403 with
 *    `Secure-Session-Challenge: "<c>";id="<session>"`; the browser retries with a proof (`jti: <c>`, no
 *    `jwk`) signed by the registered key; the answer rotates the refresh token and sets fresh cookies.
 *
 * The refresh URL is `<base>/refresh/dbsc`, under the refresh cookie's path, so that the browser sends
 * the refresh cookie there. Neither route asks for the CSRF header (the browser cannot add one); a
 * forged request cannot answer a challenge, which is bound to one session and signed by its key.
 */
import { InvalidDbscProofError, UnauthorisedError } from '../errors.js';
import type { HttpContext } from './context.js';
import { readCookies } from './cookies.js';
import { errorResponse } from './error-response.js';
import { invalidRequest, refreshFailureClears } from './errors.js';
import { deviceOf, issueHeaders } from './issue.js';
import type { ResolvedHttpSettings } from './options.js';
import type { HttpRequest } from './request.js';
import { jsonResponse, type HttpResponse } from './response.js';

/** Where the browser registers its key, under the base path. */
export const DBSC_REGISTER_PATH = '/dbsc/register';
/** Where the browser refreshes, under the base path: inside the refresh cookie's path on purpose. */
export const DBSC_REFRESH_PATH = '/refresh/dbsc';
/** The request header carrying a proof (registration and refresh). */
const RESPONSE_HEADER = 'secure-session-response';
const SESSION_ID_HEADER = 'sec-secure-session-id';
const SESSION_ID = /^[A-Za-z0-9_-]{1,128}$/;

/** The `Secure-Session-Registration` header for a cookie-mode sign-in answer. */
export function registrationHeader(ctx: HttpContext, sessionId: string): [string, string] {
  const challenge = ctx.engine.dbscChallenge(sessionId);
  return ['secure-session-registration', `(ES256 RS256);path="${ctx.settings.basePath}${DBSC_REGISTER_PATH}";challenge="${challenge}"`];
}

/**
 * The session configuration (the spec's "session instructions"): the session is the access cookie's
 * origin (the default scope), bound to the access cookie with exactly the attributes it is set with.
 */
export function sessionConfig(settings: ResolvedHttpSettings, sessionId: string): Record<string, unknown> {
  const sameSite = settings.sameSite === 'strict' ? 'Strict' : 'Lax';
  const domain = settings.cookieDomain === undefined ? '' : `Domain=${settings.cookieDomain}; `;
  return {
    session_identifier: sessionId,
    refresh_url: `${settings.basePath}${DBSC_REFRESH_PATH}`,
    scope: { include_site: false, scope_specification: [] },
    credentials: [{ type: 'cookie', name: settings.names.access, attributes: `${domain}Path=/; Secure; HttpOnly; SameSite=${sameSite}` }],
  };
}

/** `POST <base>/dbsc/register`: binds the session of the request's access cookie to the proof's key. */
export async function dbscRegister(ctx: HttpContext, request: HttpRequest): Promise<HttpResponse> {
  const { engine, settings } = ctx;
  const proof = request.headers.get(RESPONSE_HEADER);
  if (proof === null) throw new InvalidDbscProofError('missing', 'no DBSC proof (Secure-Session-Response)');
  // The access cookie was set by the sign-in answer that asked for this registration.
  const access = readCookies(request.headers.get('cookie'), [settings.names.access]).get(settings.names.access);
  if (access === undefined || access === '') throw new UnauthorisedError('missing', 'no session');
  const verified = await engine.verifyAccessToken(access);
  const session = await engine.registerDbscKey(verified.sessionId, proof);
  // Fresh cookies: the front token now says the session is bound (the SDK's isDeviceBound()).
  const tokens = await engine.reissueTokens(session.id);
  return jsonResponse(200, sessionConfig(settings, session.id), issueHeaders(ctx, tokens, session, 'cookie'));
}

/** `POST <base>/refresh/dbsc`: the challenge, then the proven refresh. */
export async function dbscRefresh(ctx: HttpContext, request: HttpRequest): Promise<HttpResponse> {
  const { engine, settings } = ctx;
  const sessionId = sessionIdOf(request);
  const refreshToken = readCookies(request.headers.get('cookie'), [settings.names.refresh]).get(settings.names.refresh);
  try {
    if (refreshToken === undefined || refreshToken === '') throw new UnauthorisedError('missing', 'no refresh token');
    const proof = request.headers.get(RESPONSE_HEADER);
    if (proof === null) return challengeResponse(ctx, sessionId);
    const found = deviceOf(request);
    const device = found.userAgent !== undefined || found.ip !== undefined ? found : undefined;
    const tokens = await engine.refresh(refreshToken, { dbsc: { sessionId, proof }, ...(device ? { device } : {}) });
    return jsonResponse(200, sessionConfig(settings, sessionId), issueHeaders(ctx, tokens, tokens.session, 'cookie'));
  } catch (error) {
    // An expired or already answered challenge: a new one, which the browser answers once more
    // (spec: a 403 restarts the request with the challenge it carries). Any other refusal ends the
    // browser's DBSC session (a 4xx); the cookies go only when the token itself was refused.
    if (error instanceof InvalidDbscProofError && (error.reason === 'challenge' || error.reason === 'replay'))
      return challengeResponse(ctx, sessionId);
    return errorResponse(ctx, error, 'cookie', { clearCookies: refreshFailureClears(error) });
  }
}

function challengeResponse(ctx: HttpContext, sessionId: string): HttpResponse {
  const challenge = ctx.engine.dbscChallenge(sessionId);
  return { status: 403, headers: [['secure-session-challenge', `"${challenge}";id="${sessionId}"`]], body: undefined };
}

/** The session the browser names. The spec makes it a structured-field string; Chromium 156 sends it bare. */
function sessionIdOf(request: HttpRequest): string {
  const raw = request.headers.get(SESSION_ID_HEADER)?.trim() ?? '';
  const id = raw.length >= 2 && raw.startsWith('"') && raw.endsWith('"') ? raw.slice(1, -1) : raw;
  if (!SESSION_ID.test(id)) throw invalidRequest(`${SESSION_ID_HEADER} must name a session`);
  return id;
}
