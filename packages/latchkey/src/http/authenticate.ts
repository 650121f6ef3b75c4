/**
 * Authenticating a request by its session: reading the credential of the request's transport without
 * trusting its shape (a bearer token in header mode, cookies in cookie mode, never both), the CSRF
 * checks of cookie-mode writes, verification by the engine, and the per-request session object. The
 * sign-out step is here too, because it is "authenticate, then revoke".
 *
 * Shared by the public methods of `LatchkeyHttp` and by the auth routes.
 */
import { dpopAccessToken, dpopFromRequest, usesDpopScheme } from './dpop.js';
import { isDeepStrictEqual } from 'node:util';
import { TryRefreshError, UnauthorisedError } from '../errors.js';
import type { AccessTokenClaims, JsonValue, Session, VerifiedAccessToken } from '../types.js';
import type { ClaimValidator } from '../claims/checks.js';
import { checkClaimValidators } from './claims.js';
import type { HttpContext } from './context.js';
import { readCookies } from './cookies.js';
import { checkCsrfHeader, checkCsrfToken, isSafeMethod } from './csrf.js';
import { errorResponse } from './error-response.js';
import { HttpError, invalidRequest } from './errors.js';
import { ACCESS_TOKEN_HEADER } from './front.js';
import { exposeHeaders, issueHeaders } from './issue.js';
import { MODE_HEADER, modeOf } from './mode.js';
import type { TransportMode } from './options.js';
import type { HttpRequest } from './request.js';
import type { HeaderSink, HttpResponse } from './response.js';
import { createRequestSession, type LatchkeySession } from './session.js';

/** What a route or middleware requires of the session. */
export interface RequireSessionOptions {
  /**
   * Claims the access token must carry, compared by deep equality (`{ role: 'admin' }`), or a
   * predicate over all claims. Failing it is 403 `FORBIDDEN`. Default: none.
   */
  claims?: (Readonly<Record<string, JsonValue>> | ((claims: Readonly<AccessTokenClaims>) => boolean)) | undefined;
  /**
   * Claim validators (`RolesClaim.includes('admin')`, `EmailVerifiedClaim.isTrue()`, ...). A missing
   * or stale value is fetched again first; a failing check is 403 `CLAIM_VALIDATION_FAILED` with
   * `claimValidationErrors: [{ id, reason }]`. Default: none.
   */
  validators?: readonly ClaimValidator[] | undefined;
  /**
   * Refuse with 403 `INSUFFICIENT_FRESHNESS` unless the user authenticated within this many
   * seconds: for sensitive actions (change password, delete account). Default: no limit.
   */
  maxAuthAge?: number | undefined;
  /**
   * Also read the session from the store and refuse it unless active. Default `false`: verification
   * is local, and revocation already takes effect through the denylist. Turn on for routes where even
   * the cross-instance fan-out delay is too long.
   */
  checkStore?: boolean | undefined;
}

export type AuthResult = { ok: true; session: LatchkeySession } | { ok: false; response: HttpResponse };

export interface SignOutResult {
  mode: TransportMode;
  /** True when this call ended an active session. */
  revoked: boolean;
}

// The common verify options, shared rather than allocated per request (frozen: the engine only reads them).
const LOCAL_ONLY = Object.freeze({ checkStore: false });
const CHECK_STORE = Object.freeze({ checkStore: true });
// The scheme travels to the engine so that a DPoP-bound token sent as Bearer is refused (RFC 9449 §7.1).
const BEARER_LOCAL = Object.freeze({ checkStore: false, scheme: 'Bearer' as const });
const BEARER_CHECK_STORE = Object.freeze({ checkStore: true, scheme: 'Bearer' as const });

// RFC 6750 §2.1 b64token.
const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;

function hasBearer(request: HttpRequest): boolean {
  const authorization = request.headers.get('authorization');
  return /^\s*bearer(\s|$)/i.test(authorization ?? '') || usesDpopScheme(authorization);
}

/** Verifies the request's access token in the given mode, with CSRF checks for cookie-mode writes. */
export async function verifyRequest(
  ctx: HttpContext,
  request: HttpRequest,
  mode: TransportMode,
  options: RequireSessionOptions,
): Promise<VerifiedAccessToken> {
  const { engine, settings } = ctx;
  const verifyOptions =
    options.maxAuthAge === undefined
      ? options.checkStore === true
        ? CHECK_STORE
        : LOCAL_ONLY
      : { checkStore: options.checkStore === true, maxAuthAge: options.maxAuthAge };
  if (mode === 'header') {
    // Cookies are never read in header mode: header mode must carry no ambient credential.
    const authorization = request.headers.get('authorization');
    if (authorization === null) throw new UnauthorisedError('missing', 'no bearer token');
    // RFC 9449 §7.1: `DPoP <token>` with a proof of the key the token is bound to. The scheme goes to
    // the engine, which refuses a bound token sent as Bearer and an unbound one sent as DPoP.
    const dpopToken = dpopAccessToken(authorization);
    if (dpopToken !== undefined) {
      const dpop = dpopFromRequest(request, ctx.settings.publicOrigin ?? request.ownOrigin);
      return engine.verifyAccessToken(dpopToken, { ...verifyOptions, scheme: 'DPoP', ...(dpop ? { dpop } : {}) });
    }
    const match = BEARER.exec(authorization);
    if (!match?.[1]) throw new UnauthorisedError('malformed', 'authorization header is not a bearer token');
    const bearerOptions =
      verifyOptions === LOCAL_ONLY
        ? BEARER_LOCAL
        : verifyOptions === CHECK_STORE
          ? BEARER_CHECK_STORE
          : { ...verifyOptions, scheme: 'Bearer' as const };
    return engine.verifyAccessToken(match[1], bearerOptions);
  }
  // A bearer token in cookie mode is a client that forgot X-Latchkey-Mode: say so instead of
  // silently ignoring one credential and using another.
  if (hasBearer(request)) throw invalidRequest(`bearer token sent in cookie mode; send ${MODE_HEADER}: header`);
  const { names } = settings;
  const cookies = readCookies(request.headers.get('cookie'), ctx.sessionCookies);
  const unsafe = !isSafeMethod(request.method);
  // Header and Origin first, once: a forged request is refused before any token work.
  const csrfHeader = unsafe ? checkCsrfHeader(request, settings) : undefined;
  const access = cookies.get(names.access);
  if (access === undefined || access === '') {
    // The access cookie's Max-Age equals the token's lifetime, so an expired token usually arrives as
    // no cookie at all. The front cookie lives as long as the session: its presence means "refresh".
    if (cookies.has(names.front)) throw new TryRefreshError();
    throw new UnauthorisedError('missing', 'no session');
  }
  const verified = await engine.verifyAccessToken(access, verifyOptions);
  // Token mode: the header must also be the session's signed token (the header itself was checked above).
  if (csrfHeader !== undefined && settings.csrf.mode === 'token')
    checkCsrfToken(csrfHeader, settings.csrf.key, cookies.get(names.csrf), verified.sessionId);
  return verified;
}

/** The session object of one request; `sink` receives what its `update` and `revoke` set later. */
export function requestSession(
  ctx: HttpContext,
  verified: VerifiedAccessToken,
  mode: TransportMode,
  sink: HeaderSink | undefined,
  request?: HttpRequest,
): LatchkeySession {
  return createRequestSession(
    verified,
    mode,
    {
      engine: ctx.engine,
      reissued: (tokens, session: Session, m) => [
        // Header mode has no cookie to replace: the new access token travels in a header (D3).
        ...(m === 'header' ? [[ACCESS_TOKEN_HEADER, tokens.accessToken] as [string, string]] : []),
        ...issueHeaders(ctx, tokens, session, m),
        // Worked out only when tokens are reissued (rare), not on every authenticated request.
        ...(request === undefined ? [] : exposeHeaders(ctx.settings, request)),
        // It carries tokens: no shared cache may keep it.
        ['cache-control', 'no-store'],
      ],
      cleared: (m) => (m === 'cookie' ? [...ctx.clearing] : []),
    },
    sink,
  );
}

function claimsMatch(claims: Readonly<AccessTokenClaims>, required: NonNullable<RequireSessionOptions['claims']>): boolean {
  if (typeof required === 'function') return required(claims) === true;
  return Object.entries(required).every(([name, value]) => isDeepStrictEqual(claims[name], value));
}

/** See `LatchkeyHttp.authenticate`. */
export async function authenticate(
  ctx: HttpContext,
  request: HttpRequest,
  options: RequireSessionOptions = {},
  sink?: HeaderSink,
): Promise<AuthResult> {
  let mode: TransportMode | undefined;
  try {
    mode = modeOf(ctx.settings, request);
    const verified = await verifyRequest(ctx, request, mode, options);
    if (options.claims !== undefined && !claimsMatch(verified.claims, options.claims)) {
      throw new HttpError(403, 'FORBIDDEN', 'this session may not do that');
    }
    const session = requestSession(ctx, verified, mode, sink, request);
    if (options.validators !== undefined && options.validators.length > 0)
      await checkClaimValidators(ctx.engine, session, options.validators);
    return { ok: true, session };
  } catch (error) {
    return { ok: false, response: errorResponse(ctx, error, mode, { request }) };
  }
}

/** See `LatchkeyHttp.signOut`. */
export async function signOut(ctx: HttpContext, request: HttpRequest, mode: TransportMode, sink: HeaderSink): Promise<SignOutResult> {
  const clear = (): void => {
    if (mode === 'cookie') for (const [name, value] of ctx.clearing) sink.append(name, value);
    if (ctx.settings.clearSiteData !== undefined) sink.append('clear-site-data', ctx.settings.clearSiteData);
  };
  let verified: VerifiedAccessToken;
  try {
    verified = await verifyRequest(ctx, request, mode, {});
  } catch (error) {
    // Duplicate cookies (CookieConflictError) are rethrown: their error response clears every copy.
    if (mode === 'cookie' && error instanceof UnauthorisedError) {
      clear();
      return { mode, revoked: false };
    }
    throw error;
  }
  const revoked = await ctx.engine.revokeSession(verified.sessionId, 'signout');
  clear();
  return { mode, revoked };
}
