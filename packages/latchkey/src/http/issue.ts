/**
 * What a token-issuing answer carries (sign-in, refresh, a session update): the front token and the
 * refresh grace window in headers, the cookies in cookie mode, and the JSON body in the protocol's
 * shape. One implementation for the app's sign-in helper, the refresh route and `session.update`.
 */
import { isIP } from 'node:net';
import { InvalidClaimsError } from '../errors.js';
import type { IssuedTokens, Session } from '../types.js';
import type { HttpContext } from './context.js';
import { cookieFits, cookieShapes, setCookieHeader } from './cookies.js';
import { CSRF_TOKEN_HEADER, csrfToken } from './csrf.js';
import { encodeFrontToken, EXPOSED_HEADERS, FRONT_HEADER, REFRESH_GRACE_HEADER } from './front.js';
import type { ResolvedHttpSettings, TransportMode } from './options.js';
import type { HttpRequest } from './request.js';
import { toPublicSession, type PublicSession } from './session.js';

/** JSON a token-issuing response carries in cookie mode. */
export interface CookieTokenBody {
  session: PublicSession;
  accessTokenExpiresAt: string;
}

/** JSON a token-issuing response carries in header mode (the protocol's shape). */
export interface HeaderTokenBody extends CookieTokenBody {
  accessToken: string;
  refreshToken: string;
  idToken: string;
  /** `DPoP` for a session bound to the client's DPoP key: send `Authorization: DPoP` with a proof. */
  tokenType: 'Bearer' | 'DPoP';
}

/** The tokens {@link issueHeaders} needs: a refresh token only when one was issued (not on `update`). */
export interface TokensToIssue {
  accessToken: string;
  accessTokenExpiresAt: Date;
  idToken: string;
  refreshToken?: string;
}

/**
 * Headers for a token-issuing response: always the front token header and the refresh grace
 * window; in cookie mode the cookies (the refresh cookie only when a refresh token was issued).
 * Each cookie is checked against the 4096-byte bound: a browser would drop a larger one silently.
 *
 * The grace window goes on every token-issuing answer (sign-in, refresh, claim update), not only on
 * refreshes: a client that first heard of it on its first refresh would time that refresh out by
 * the 30 s default, and on a server configured with a short window its retry of a lost answer
 * would land past the window and count as theft.
 */
export function issueHeaders(ctx: HttpContext, tokens: TokensToIssue, session: Session, mode: TransportMode): [string, string][] {
  const { settings } = ctx;
  const now = settings.clock.now();
  const front = encodeFrontToken(tokens.idToken, tokens.accessTokenExpiresAt, now, session.deviceBinding);
  const headers: [string, string][] = [
    [FRONT_HEADER, front],
    [REFRESH_GRACE_HEADER, String(ctx.engine.refreshGraceSeconds)],
  ];
  if (mode === 'header') {
    // RFC 9449 §8: with nonces required, every token answer hands the client the current one.
    if (ctx.engine.dpopRequiresNonce) headers.push(['dpop-nonce', ctx.engine.dpopNonce()]);
    return headers;
  }
  const shapes = cookieShapes(settings);
  const accessMaxAge = Math.max(1, Math.ceil((tokens.accessTokenExpiresAt.getTime() - now) / 1000));
  const sessionMaxAge = Math.max(1, Math.floor((session.expiresAt.getTime() - now) / 1000));
  const cookies = [
    { ...shapes.access, value: tokens.accessToken, maxAge: accessMaxAge },
    ...(tokens.refreshToken === undefined ? [] : [{ ...shapes.refresh, value: tokens.refreshToken, maxAge: sessionMaxAge }]),
    // The front cookie lives as long as the session, so the page knows to refresh after the access cookie expired.
    { ...shapes.front, value: front, maxAge: sessionMaxAge },
  ];
  if (settings.csrf.mode === 'token') {
    const token = csrfToken(settings.csrf.key, session.id);
    cookies.push({ ...shapes.csrf, value: token, maxAge: sessionMaxAge });
    headers.push([CSRF_TOKEN_HEADER, token]);
  }
  for (const cookie of cookies) {
    if (!cookieFits(cookie.name, cookie.value)) {
      // App-supplied claims made the tokens too large to deliver: the claims are refused, as the engine refuses oversized ones.
      throw new InvalidClaimsError(`the ${cookie.name} cookie would exceed 4096 bytes; put fewer claims in the session's tokens`);
    }
    headers.push(['set-cookie', setCookieHeader(cookie, settings.cookieDomain)]);
  }
  return headers;
}

/** The JSON body of a token-issuing answer: the tokens themselves only in header mode (cookie mode has them in httpOnly cookies). */
export function tokenBody(tokens: IssuedTokens, mode: TransportMode): CookieTokenBody | HeaderTokenBody {
  const base = { session: toPublicSession(tokens.session), accessTokenExpiresAt: tokens.accessTokenExpiresAt.toISOString() };
  if (mode === 'cookie') return base;
  return {
    accessToken: tokens.accessToken,
    refreshToken: tokens.refreshToken,
    idToken: tokens.idToken,
    tokenType: tokens.tokenType,
    ...base,
  };
}

// The expose list is the same text for every request: built once, shared by every answer that needs it.
const EXPOSE: readonly [string, string][] = Object.freeze([['access-control-expose-headers', EXPOSED_HEADERS]]);
const NO_HEADERS: readonly [string, string][] = Object.freeze([]);

/**
 * On a token-issuing response in an app-owned route (sign-in, `session.update`) to an allowed
 * cross-origin caller, the front-token headers must be exposed or the SDK cannot read them. The
 * app's CORS middleware owns `Access-Control-Allow-Origin`; this only adds the expose list. With no
 * allowed origins configured no caller can qualify, so the Origin header is not even read. Callers
 * ask only when they issue tokens (see {@link requestSession}'s `expose`), never per request.
 */
export function exposeHeaders(settings: ResolvedHttpSettings, request: HttpRequest): readonly [string, string][] {
  if (settings.allowedOrigins.size === 0) return NO_HEADERS;
  const origin = request.headers.get('origin');
  if (origin === null || origin === request.ownOrigin || !settings.allowedOrigins.has(origin)) return NO_HEADERS;
  return EXPOSE;
}

/** The device a session records: the request's user agent and address. */
export function deviceOf(request: HttpRequest): { userAgent?: string; ip?: string } {
  const userAgent = request.headers.get('user-agent');
  // An address resolver the app supplied (a proxy header, say) may return something that is not an
  // address; the engine would refuse it, and a sign-in must not fail over an informational field.
  const ip = request.ip;
  return { ...(userAgent ? { userAgent } : {}), ...(ip && isIP(ip) !== 0 ? { ip } : {}) };
}
