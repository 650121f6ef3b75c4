/**
 * The transport core: one implementation of the HTTP protocol, shared by every adapter. It takes a
 * normalised {@link HttpRequest} and produces a normalised {@link HttpResponse} (or writes headers to
 * a sink for app-owned responses). Adapters only translate.
 *
 * It decides the transport of each request (cookie or header mode), reads credentials without
 * trusting their shape, enforces CSRF in cookie mode, and maps every failure to a typed response.
 */
import { isIP } from 'node:net';
import { isDeepStrictEqual } from 'node:util';
import type { CreateSessionInput, Latchkey } from '../engine.js';
import { InvalidClaimsError, LatchkeyError, TryRefreshError, UnauthorisedError } from '../errors.js';
import type { AccessTokenClaims, IssuedTokens, JsonValue, Session, VerifiedAccessToken } from '../types.js';
import { clearingCookies, cookieFits, cookieShapes, readCookies, setCookieHeader } from './cookies.js';
import { checkCsrf, CSRF_TOKEN_HEADER, csrfToken, isSafeMethod } from './csrf.js';
import { CookieConflictError, invalidRequest, mapError } from './errors.js';
import { ACCESS_TOKEN_HEADER, encodeFrontToken, EXPOSED_HEADERS, FRONT_HEADER, REFRESH_GRACE_HEADER } from './front.js';
import { resolveHttpSettings, type LatchkeyHttpOptions, type ResolvedHttpSettings, type TransportMode } from './options.js';
import { decodeUtf8, type HttpRequest } from './request.js';
import { jsonResponse, toWebResponse, type HeaderSink, type HttpResponse } from './response.js';
import { handleRoute } from './routes.js';
import { createRequestSession, toPublicSession, type LatchkeySession, type PublicSession } from './session.js';
import { authTargetFilter } from './target-filter.js';
import {
  appendAll,
  checkSessionScopes,
  presentsApiKey,
  resolveApiKeyAuthSettings,
  scopeClaim,
  verifyRequestApiKey,
  type ApiKeyAuthSettings,
  type ApiKeyPrincipal,
  type Principal,
  type RequireApiKeyOptions,
  type SessionScopes,
} from './api-key-auth.js';
import { fromWebRequest } from './web.js';

export const MODE_HEADER = 'x-latchkey-mode';

/** What a route or middleware requires of the session. */
export interface RequireSessionOptions {
  /**
   * Claims the access token must carry, compared by deep equality (`{ role: 'admin' }`), or a
   * predicate over all claims. Failing it is 403 `FORBIDDEN`. Default: none.
   */
  claims?: (Readonly<Record<string, JsonValue>> | ((claims: Readonly<AccessTokenClaims>) => boolean)) | undefined;
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

/** What a route that takes a session or an API key requires (`requireAuth`). */
export interface RequireAuthOptions extends RequireSessionOptions, RequireApiKeyOptions {
  /** How a session's scopes are found. Default: the access token's `scope` claim (RFC 9068 §2.2.3). */
  sessionScopes?: SessionScopes;
}

export type ApiKeyAuthResult = { ok: true; principal: ApiKeyPrincipal } | { ok: false; response: HttpResponse };
export type PrincipalResult = { ok: true; principal: Principal } | { ok: false; response: HttpResponse };

export type AuthResult =
  | { ok: true; session: LatchkeySession }
  | { ok: false; response: HttpResponse };

/** An optional-session route's outcome: a session, anonymous (`session: null`), or the refusal to send. */
export type OptionalAuthResult =
  | { ok: true; session: LatchkeySession | null }
  | { ok: false; response: HttpResponse };

/** Sign-in input: the engine's, with the device defaulting to the request's user agent and address. */
export type SignInInput = CreateSessionInput;

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
}

export interface SignInResult {
  mode: TransportMode;
  session: Session;
  /** Send this as the JSON response body (merge in your own fields if you like). */
  body: CookieTokenBody | HeaderTokenBody;
}

export interface SignOutResult {
  mode: TransportMode;
  /** True when this call ended an active session. */
  revoked: boolean;
}

function hasBearer(request: HttpRequest): boolean {
  return /^\s*bearer(\s|$)/i.test(request.headers.get('authorization') ?? '');
}

// The common verify options, shared rather than allocated per request (frozen: the engine only reads them).
const LOCAL_ONLY = Object.freeze({ checkStore: false });
const CHECK_STORE = Object.freeze({ checkStore: true });

// RFC 6750 §2.1 b64token.
const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;

export class LatchkeyHttp {
  readonly engine: Latchkey;
  readonly settings: ResolvedHttpSettings;
  /** The `set-cookie` headers that expire every session cookie. */
  readonly #clearing: readonly [string, string][];
  readonly #mayBeAuthTarget: (target: string) => boolean;
  /** The cookies an authenticated request may carry, built once rather than per request. */
  readonly #sessionCookies: ReadonlySet<string>;
  readonly #apiKeyAuth: ApiKeyAuthSettings;

  constructor(engine: Latchkey, options?: LatchkeyHttpOptions) {
    this.engine = engine;
    this.settings = resolveHttpSettings(options);
    this.#mayBeAuthTarget = authTargetFilter(this.settings.basePath, this.settings.jwksPath);
    const { names } = this.settings;
    this.#sessionCookies = new Set([names.access, names.front, names.csrf]);
    this.#apiKeyAuth = resolveApiKeyAuthSettings(options ?? {});
    // Depends on settings alone, which never change: built once, reused by every sign-out and failure.
    this.#clearing = clearingCookies(this.settings).map((value): [string, string] => ['set-cookie', value]);
  }

  // ---------------------------------------------------------------------------------------------
  // Entry points for adapters

  /**
   * False when the request is certainly not for an auth route, decided from the raw target without
   * parsing it. Adapters whose routes handler sees every request call this first, so that an app
   * route costs one string comparison here rather than a URL parse and a promise.
   */
  mayHandle(request: HttpRequest): boolean {
    const { target } = request;
    return target === undefined || this.#mayBeAuthTarget(target);
  }

  /** Handles the auth routes. Resolves to null when the request is not for one of them. */
  handle(request: HttpRequest): Promise<HttpResponse | null> {
    if (!this.mayHandle(request)) return Promise.resolve(null);
    return handleRoute(this, request);
  }

  /** Web-standard entry point (Hono, Next.js route handlers, Bun, Deno): null when not an auth route. */
  async fetch(request: Request, info?: { ip?: string }): Promise<Response | null> {
    const response = await this.handle(fromWebRequest(request, info));
    return response ? toWebResponse(response) : null;
  }

  /**
   * Authenticates a request. On success the session; otherwise the response to send (401/403/400).
   * In cookie mode a state-changing method must pass the CSRF check. `sink` receives headers that
   * session methods set later (new cookies after `update`, cleared ones after `revoke`).
   */
  async authenticate(request: HttpRequest, options: RequireSessionOptions = {}, sink?: HeaderSink): Promise<AuthResult> {
    let mode: TransportMode | undefined;
    try {
      mode = this.modeOf(request);
      const verified = await this.verify(request, mode, options);
      if (options.claims !== undefined && !claimsMatch(verified.claims, options.claims)) {
        const headers: [string, string][] = [['cache-control', 'no-store']];
        // RFC 6750 §3.1: the token is fine but does not grant this.
        if (mode === 'header') headers.push(['www-authenticate', 'Bearer error="insufficient_scope"']);
        return { ok: false, response: jsonResponse(403, { error: { code: 'FORBIDDEN', message: 'this session may not do that' } }, headers) };
      }
      return { ok: true, session: this.session(verified, mode, sink, this.exposeHeaders(request)) };
    } catch (error) {
      return { ok: false, response: this.errorResponse(error, mode) };
    }
  }

  /**
   * Authenticates a request by its API key (`Authorization: Bearer lk_...` or `X-API-Key`), never by
   * cookies and without CSRF checks (see api-key-auth.ts). On success the principal, with the
   * rate-limit headers (if the route is limited) sent to `sink`; otherwise the response to send
   * (401, 403 `INSUFFICIENT_SCOPE`, 429 `RATE_LIMITED`, 400).
   */
  async authenticateApiKey(request: HttpRequest, options: RequireApiKeyOptions = {}, sink?: HeaderSink): Promise<ApiKeyAuthResult> {
    const headers: [string, string][] = [];
    try {
      const principal = await verifyRequestApiKey(this.engine, this.#apiKeyAuth, request, options, headers);
      appendAll(sink, headers);
      return { ok: true, principal };
    } catch (error) {
      const response = this.errorResponse(error, 'header');
      response.headers.push(...headers);
      return { ok: false, response };
    }
  }

  /**
   * Authenticates a request by an API key when it presents one (`X-API-Key`, or a bearer token
   * starting `lk_`), else by its session exactly as {@link authenticate} does; `scopes` apply to
   * both (a session's come from its `scope` claim). One principal either way.
   */
  async authenticateAny(request: HttpRequest, options: RequireAuthOptions = {}, sink?: HeaderSink): Promise<PrincipalResult> {
    let byKey: boolean;
    try {
      byKey = presentsApiKey(request);
    } catch (error) {
      return { ok: false, response: this.errorResponse(error, 'header') };
    }
    if (byKey) return this.authenticateApiKey(request, options, sink);
    const result = await this.authenticate(request, options, sink);
    if (!result.ok) return result;
    const { session } = result;
    try {
      const scopes = checkSessionScopes(session.claims, options.scopes, options.sessionScopes ?? scopeClaim);
      return { ok: true, principal: { kind: 'session', subject: session.userId, userId: session.userId, scopes, session } };
    } catch (error) {
      return { ok: false, response: this.errorResponse(error, session.mode) };
    }
  }

  /**
   * For routes that work signed in or out. The request's session, or null when it carried no
   * credential at all (no bearer token in header mode; neither the access nor the front cookie in
   * cookie mode), or when a state-changing cookie-mode request fails the CSRF check (its cookies
   * are not used, so it is anonymous).
   *
   * A credential that is there but not good is refused exactly as on a required route, by throwing
   * its `LatchkeyError`: `TRY_REFRESH_TOKEN` for an expired access token (or a front cookie without
   * an access cookie), so the client refreshes instead of rendering the page signed out;
   * `UNAUTHORISED` for a forged, malformed or revoked one; `TOKEN_THEFT_DETECTED` for a session
   * revoked as stolen. Cookies are not cleared here: a key this instance has not loaded yet must
   * not sign anyone out; a session that really ended has its cookies cleared by the refresh the
   * client then attempts. The adapters' error handlers turn the error into its response; the
   * adapters' `session()` middleware sends it itself (see {@link optionalSession}).
   */
  async getSession(request: HttpRequest, sink?: HeaderSink): Promise<LatchkeySession | null> {
    const mode = this.modeOf(request);
    let verified: VerifiedAccessToken;
    try {
      verified = await this.verify(request, mode, {});
    } catch (error) {
      if (isAnonymous(error)) return null;
      throw error;
    }
    return this.session(verified, mode, sink, this.exposeHeaders(request));
  }

  /** {@link getSession} as a result: the session or null, or the refusal to send (401/400). */
  async optionalSession(request: HttpRequest, sink?: HeaderSink): Promise<OptionalAuthResult> {
    try {
      return { ok: true, session: await this.getSession(request, sink) };
    } catch (error) {
      let mode: TransportMode | undefined;
      try {
        mode = this.modeOf(request);
      } catch {
        mode = undefined;
      }
      return { ok: false, response: this.errorResponse(error, mode) };
    }
  }

  /**
   * Starts a session after the app has authenticated the user (call from your sign-in handler).
   * In cookie mode this first checks CSRF (login CSRF: a cross-site form must not sign the victim
   * into the attacker's account) and throws `CSRF_REJECTED` if it fails; then it sets the cookies on
   * `sink`. In header mode the tokens are in the returned body. The front token header is set in
   * both. Always a new session: never reuse one across authentications (ASVS V7.2.4).
   */
  async signIn(request: HttpRequest, input: SignInInput, sink: HeaderSink): Promise<SignInResult> {
    const mode = this.modeOf(request);
    if (mode === 'cookie') this.checkLoginCsrf(request);
    const device = input.device ?? this.deviceOf(request);
    const tokens = await this.engine.createSession({ ...input, device });
    let headers: [string, string][];
    try {
      headers = this.issueHeaders(tokens, tokens.session, mode);
    } catch (error) {
      // Tokens too large for a cookie: do not leave a session behind that the client never received.
      await this.engine.revokeSession(tokens.session.id, 'signout');
      throw error;
    }
    for (const [name, value] of [...headers, ...this.exposeHeaders(request)]) sink.append(name, value);
    return { mode, session: tokens.session, body: this.tokenBody(tokens, mode) };
  }

  /**
   * Ends the request's session (call from your own sign-out handler; `POST <base>/signout` does the
   * same). Cookies are cleared even when there was no valid session. An expired access token gets
   * `TRY_REFRESH_TOKEN` thrown, so that the client refreshes and retries and the session is really
   * ended on the server, not merely forgotten by the browser.
   */
  async signOut(request: HttpRequest, sink: HeaderSink): Promise<SignOutResult> {
    const mode = this.modeOf(request);
    const clear = (): void => {
      if (mode === 'cookie') for (const [name, value] of this.#clearing) sink.append(name, value);
      if (this.settings.clearSiteData !== undefined) sink.append('clear-site-data', this.settings.clearSiteData);
    };
    let verified: VerifiedAccessToken;
    try {
      verified = await this.verify(request, mode, {});
    } catch (error) {
      // Duplicate cookies (CookieConflictError) are rethrown: their error response clears every copy.
      if (mode === 'cookie' && error instanceof UnauthorisedError) {
        clear();
        return { mode, revoked: false };
      }
      throw error;
    }
    const revoked = await this.engine.revokeSession(verified.sessionId, 'signout');
    clear();
    return { mode, revoked };
  }

  /** Throws CSRF_REJECTED unless a state-changing request passes the header and Origin checks. For the app's sign-in route. */
  checkLoginCsrf(request: HttpRequest): void {
    checkCsrf(request, this.settings, { requireToken: false });
  }

  /** Headers that expire every session cookie (sign-out, duplicate cookies, stale Domain copies). */
  clearCookies(sink: HeaderSink): void {
    for (const [name, value] of this.#clearing) sink.append(name, value);
  }

  /** The response for an error (typed codes; a generic 500 for anything unexpected, which is reported to `onError`). */
  errorResponse(error: unknown, mode?: TransportMode, options?: { clearCookies?: boolean }): HttpResponse {
    const mapped = mapError(error, mode);
    if (!mapped.expected) this.settings.onError(error);
    const headers: [string, string][] = [...mapped.headers, ['cache-control', 'no-store']];
    if (options?.clearCookies || error instanceof CookieConflictError) {
      headers.push(...this.#clearing);
    }
    return jsonResponse(mapped.status, mapped.body, headers);
  }

  // ---------------------------------------------------------------------------------------------
  // Shared steps (used by the routes)

  /** The request's transport: `X-Latchkey-Mode: header` asks for header mode, within what the server allows. */
  modeOf(request: HttpRequest): TransportMode {
    const asked = request.headers.get(MODE_HEADER);
    const { modes } = this.settings;
    if (asked === null) return modes.cookie ? 'cookie' : 'header';
    const value = asked.trim().toLowerCase();
    if (value === 'header' || value === 'cookie') {
      if (!modes[value]) throw invalidRequest(`${value} mode is not enabled on this server`);
      return value;
    }
    throw invalidRequest('X-Latchkey-Mode must be header or cookie');
  }

  /** Verifies the request's access token in the given mode, with CSRF checks for cookie-mode writes. */
  async verify(request: HttpRequest, mode: TransportMode, options: RequireSessionOptions): Promise<VerifiedAccessToken> {
    const verifyOptions = options.maxAuthAge === undefined ? (options.checkStore === true ? CHECK_STORE : LOCAL_ONLY) : { checkStore: options.checkStore === true, maxAuthAge: options.maxAuthAge };
    if (mode === 'header') {
      // Cookies are never read in header mode: header mode must carry no ambient credential.
      const authorization = request.headers.get('authorization');
      if (authorization === null) throw new UnauthorisedError('missing', 'no bearer token');
      const match = BEARER.exec(authorization);
      if (!match?.[1]) throw new UnauthorisedError('malformed', 'authorization header is not a bearer token');
      return this.engine.verifyAccessToken(match[1], verifyOptions);
    }
    // A bearer token in cookie mode is a client that forgot X-Latchkey-Mode: say so instead of
    // silently ignoring one credential and using another.
    if (hasBearer(request)) throw invalidRequest(`bearer token sent in cookie mode; send ${MODE_HEADER}: header`);
    const { names } = this.settings;
    const cookies = readCookies(request.headers.get('cookie'), this.#sessionCookies);
    const unsafe = !isSafeMethod(request.method);
    // Header and Origin first: a forged request is refused before any token work.
    if (unsafe) checkCsrf(request, this.settings, { requireToken: false });
    const access = cookies.get(names.access);
    if (access === undefined || access === '') {
      // The access cookie's Max-Age equals the token's lifetime, so an expired token usually arrives as
      // no cookie at all. The front cookie lives as long as the session: its presence means "refresh".
      if (cookies.has(names.front)) throw new TryRefreshError();
      throw new UnauthorisedError('missing', 'no session');
    }
    const verified = await this.engine.verifyAccessToken(access, verifyOptions);
    if (unsafe && this.settings.csrf.mode === 'token') {
      checkCsrf(request, this.settings, { requireToken: true, cookieToken: cookies.get(names.csrf), sessionId: verified.sessionId });
    }
    return verified;
  }

  session(verified: VerifiedAccessToken, mode: TransportMode, sink: HeaderSink | undefined, expose: [string, string][] = []): LatchkeySession {
    return createRequestSession(verified, mode, {
      engine: this.engine,
      reissued: (tokens, session, m) => [
        // Header mode has no cookie to replace: the new access token travels in a header (D3).
        ...(m === 'header' ? [[ACCESS_TOKEN_HEADER, tokens.accessToken] as [string, string]] : []),
        ...this.issueHeaders(tokens, session, m),
        ...expose,
        // It carries tokens: no shared cache may keep it.
        ['cache-control', 'no-store'],
      ],
      cleared: (m) => (m === 'cookie' ? [...this.#clearing] : []),
    }, sink);
  }

  /**
   * On a token-issuing response in an app-owned route (sign-in, `session.update`) to an allowed
   * cross-origin caller, the front-token headers must be exposed or the SDK cannot read them. The
   * app's CORS middleware owns `Access-Control-Allow-Origin`; this only adds the expose list.
   */
  exposeHeaders(request: HttpRequest): [string, string][] {
    const origin = request.headers.get('origin');
    if (origin === null || origin === request.ownOrigin || !this.settings.allowedOrigins.has(origin)) return [];
    return [['access-control-expose-headers', EXPOSED_HEADERS]];
  }

  deviceOf(request: HttpRequest): { userAgent?: string; ip?: string } {
    const userAgent = request.headers.get('user-agent');
    // An address resolver the app supplied (a proxy header, say) may return something that is not an
    // address; the engine would refuse it, and a sign-in must not fail over an informational field.
    const ip = request.ip;
    return { ...(userAgent ? { userAgent } : {}), ...(ip && isIP(ip) !== 0 ? { ip } : {}) };
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
  issueHeaders(
    tokens: { accessToken: string; accessTokenExpiresAt: Date; idToken: string; refreshToken?: string },
    session: Session,
    mode: TransportMode,
  ): [string, string][] {
    const now = this.settings.clock.now();
    const front = encodeFrontToken(tokens.idToken, tokens.accessTokenExpiresAt, now);
    const headers: [string, string][] = [[FRONT_HEADER, front], [REFRESH_GRACE_HEADER, String(this.engine.refreshGraceSeconds)]];
    if (mode === 'header') return headers;
    const shapes = cookieShapes(this.settings);
    const accessMaxAge = Math.max(1, Math.ceil((tokens.accessTokenExpiresAt.getTime() - now) / 1000));
    const sessionMaxAge = Math.max(1, Math.floor((session.expiresAt.getTime() - now) / 1000));
    const cookies = [
      { ...shapes.access, value: tokens.accessToken, maxAge: accessMaxAge },
      ...(tokens.refreshToken === undefined ? [] : [{ ...shapes.refresh, value: tokens.refreshToken, maxAge: sessionMaxAge }]),
      // The front cookie lives as long as the session, so the page knows to refresh after the access cookie expired.
      { ...shapes.front, value: front, maxAge: sessionMaxAge },
    ];
    if (this.settings.csrf.mode === 'token') {
      const token = csrfToken(this.settings.csrf.key, session.id);
      cookies.push({ ...shapes.csrf, value: token, maxAge: sessionMaxAge });
      headers.push([CSRF_TOKEN_HEADER, token]);
    }
    for (const cookie of cookies) {
      if (!cookieFits(cookie.name, cookie.value)) {
        throw new InvalidClaimsError(`the ${cookie.name} cookie would exceed 4096 bytes; put fewer claims in the session's tokens`);
      }
      headers.push(['set-cookie', setCookieHeader(cookie, this.settings.cookieDomain)]);
    }
    return headers;
  }

  tokenBody(tokens: IssuedTokens, mode: TransportMode): CookieTokenBody | HeaderTokenBody {
    const base = { session: toPublicSession(tokens.session), accessTokenExpiresAt: tokens.accessTokenExpiresAt.toISOString() };
    if (mode === 'cookie') return base;
    return { accessToken: tokens.accessToken, refreshToken: tokens.refreshToken, idToken: tokens.idToken, ...base };
  }

  /** Reads a JSON object body. Malformed or oversized input is a 400/413, never a 500. */
  async jsonBody(request: HttpRequest): Promise<Record<string, unknown>> {
    const raw = await request.body(this.settings.maxBodyBytes);
    let value: unknown = raw;
    if (raw instanceof Uint8Array) value = decodeUtf8(raw);
    if (typeof value === 'string') {
      if (value.trim() === '') throw invalidRequest('request body must be a JSON object');
      try {
        value = JSON.parse(value);
      } catch {
        throw invalidRequest('request body is not valid JSON');
      }
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalidRequest('request body must be a JSON object');
    return value as Record<string, unknown>;
  }
}

/**
 * On an optional route, the failures that mean "no credential was presented": nothing to verify,
 * or cookies that a failed CSRF check forbids using. Everything else is refused as on a required route.
 */
function isAnonymous(error: unknown): boolean {
  if (error instanceof UnauthorisedError) return error.reason === 'missing';
  return error instanceof LatchkeyError && error.code === 'CSRF_REJECTED';
}

function claimsMatch(claims: Readonly<AccessTokenClaims>, required: NonNullable<RequireSessionOptions['claims']>): boolean {
  if (typeof required === 'function') return required(claims) === true;
  return Object.entries(required).every(([name, value]) => isDeepStrictEqual(claims[name], value));
}

/** Wires the HTTP layer to an engine. */
export function createLatchkeyHttp(engine: Latchkey, options?: LatchkeyHttpOptions): LatchkeyHttp {
  return new LatchkeyHttp(engine, options);
}

