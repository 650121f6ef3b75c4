/**
 * The transport core: one implementation of the HTTP protocol, shared by every adapter. It takes a
 * normalised {@link HttpRequest} and produces a normalised {@link HttpResponse} (or writes headers to
 * a sink for app-owned responses). Adapters only translate.
 *
 * `LatchkeyHttp` is the public face: what apps and adapters call, and nothing else. The steps of the
 * protocol are functions over a shared context in small internal modules, which never import this
 * one: the transport of a request (mode.ts), authentication and sign-out (authenticate.ts), what a
 * token-issuing answer carries (issue.ts), the auth routes (routes.ts) and error responses
 * (error-response.ts, over the error table in errors.ts).
 */
import type { CreateSessionInput, Latchkey } from '../engine.js';
import { LatchkeyError, UnauthorisedError } from '../errors.js';
import type { Session, VerifiedAccessToken } from '../types.js';
import { appendAll, checkSessionScopes, presentsApiKey, scopeClaim, verifyRequestApiKey } from './api-key-auth.js';
import type { ApiKeyPrincipal, Principal, RequireApiKeyOptions, SessionScopes } from './api-key-auth.js';
import { authenticate, requestSession, signOut, verifyRequest } from './authenticate.js';
import type { AuthResult, RequireSessionOptions, SignOutResult } from './authenticate.js';
import { createHttpContext, type HttpContext } from './context.js';
import { checkCsrf } from './csrf.js';
import { errorResponse, inMode, type ErrorContext } from './error-response.js';
import { registrationHeader } from './dbsc.js';
import { dpopFromRequest } from './dpop.js';
import { deviceOf, exposeHeaders, issueHeaders, tokenBody } from './issue.js';
import type { CookieTokenBody, HeaderTokenBody } from './issue.js';
import { MODE_HEADER, modeOf } from './mode.js';
import type { LatchkeyHttpOptions, ResolvedHttpSettings, TransportMode } from './options.js';
import type { HttpRequest } from './request.js';
import { toWebResponse, type HeaderSink, type HttpResponse } from './response.js';
import { handleRoute } from './routes.js';
import type { LatchkeySession } from './session.js';
import { fromWebRequest } from './web.js';

export { MODE_HEADER };
export type { AuthResult, CookieTokenBody, HeaderTokenBody, RequireSessionOptions, SignOutResult };

/** What a route that takes a session or an API key requires (`requireAuth`). */
export interface RequireAuthOptions extends RequireSessionOptions, RequireApiKeyOptions {
  /** How a session's scopes are found. Default: the access token's `scope` claim (RFC 9068 §2.2.3). */
  sessionScopes?: SessionScopes;
}

export type ApiKeyAuthResult = { ok: true; principal: ApiKeyPrincipal } | { ok: false; response: HttpResponse };
export type PrincipalResult = { ok: true; principal: Principal } | { ok: false; response: HttpResponse };

/** An optional-session route's outcome: a session, anonymous (`session: null`), or the refusal to send. */
export type OptionalAuthResult =
  | { ok: true; session: LatchkeySession | null }
  | { ok: false; response: HttpResponse };

/** Sign-in input: the engine's, with the device defaulting to the request's user agent and address. */
export type SignInInput = CreateSessionInput;

export interface SignInResult {
  mode: TransportMode;
  session: Session;
  /** Send this as the JSON response body (merge in your own fields if you like). */
  body: CookieTokenBody | HeaderTokenBody;
}

export class LatchkeyHttp {
  /** The engine this HTTP layer serves. */
  readonly engine: Latchkey;
  /** The options, resolved to their defaults and validated (read-only). */
  readonly settings: ResolvedHttpSettings;
  /** What the internal steps (authenticate.ts, issue.ts, routes.ts, error-response.ts) share. */
  readonly #ctx: HttpContext;

  constructor(engine: Latchkey, options?: LatchkeyHttpOptions) {
    this.#ctx = createHttpContext(engine, options);
    this.engine = engine;
    this.settings = this.#ctx.settings;
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
    return target === undefined || this.#ctx.mayBeAuthTarget(target);
  }

  /** Handles the auth routes. Resolves to null when the request is not for one of them. */
  handle(request: HttpRequest): Promise<HttpResponse | null> {
    if (!this.mayHandle(request)) return Promise.resolve(null);
    return handleRoute(this.#ctx, request);
  }

  /** Web-standard entry point (Hono, Next.js route handlers, Bun, Deno): null when not an auth route. */
  async fetch(request: Request, info?: { ip?: string }): Promise<Response | null> {
    const response = await this.handle(fromWebRequest(request, info));
    return response ? toWebResponse(response) : null;
  }

  // ---------------------------------------------------------------------------------------------
  // What apps call (directly, or through an adapter)

  /**
   * Authenticates a request. On success the session; otherwise the response to send (401/403/400).
   * In cookie mode a state-changing method must pass the CSRF check. `sink` receives headers that
   * session methods set later (new cookies after `update`, cleared ones after `revoke`).
   */
  authenticate(request: HttpRequest, options: RequireSessionOptions = {}, sink?: HeaderSink): Promise<AuthResult> {
    return authenticate(this.#ctx, request, options, sink);
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
      const principal = await verifyRequestApiKey(this.engine, this.#ctx.apiKeyAuth, request, options, headers);
      appendAll(sink, headers);
      return { ok: true, principal };
    } catch (error) {
      const response = errorResponse(this.#ctx, error, 'header');
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
      return { ok: false, response: errorResponse(this.#ctx, error, 'header') };
    }
    if (byKey) return this.authenticateApiKey(request, options, sink);
    const result = await this.authenticate(request, options, sink);
    if (!result.ok) return result;
    const { session } = result;
    try {
      const scopes = checkSessionScopes(session.claims, options.scopes, options.sessionScopes ?? scopeClaim);
      return { ok: true, principal: { kind: 'session', subject: session.userId, userId: session.userId, scopes, session } };
    } catch (error) {
      return { ok: false, response: errorResponse(this.#ctx, error, session.mode) };
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
    const ctx = this.#ctx;
    const mode = modeOf(ctx.settings, request);
    let verified: VerifiedAccessToken;
    try {
      verified = await inMode(mode, () => verifyRequest(ctx, request, mode, {}));
    } catch (error) {
      if (isAnonymous(error)) return null;
      throw error;
    }
    return requestSession(ctx, verified, mode, sink, request);
  }

  /** {@link getSession} as a result: the session or null, or the refusal to send (401/400). */
  async optionalSession(request: HttpRequest, sink?: HeaderSink): Promise<OptionalAuthResult> {
    try {
      return { ok: true, session: await this.getSession(request, sink) };
    } catch (error) {
      return { ok: false, response: errorResponse(this.#ctx, error, request) };
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
    const ctx = this.#ctx;
    const mode = modeOf(ctx.settings, request);
    return inMode(mode, async () => {
      if (mode === 'cookie') this.checkLoginCsrf(request);
      const device = input.device ?? deviceOf(request);
      // Header mode: a DPoP header on the sign-in request binds the new session to the client's key.
      const dpop = input.dpop ?? (mode === 'header' ? dpopFromRequest(request, ctx.settings.publicOrigin ?? request.ownOrigin) : undefined);
      const tokens = await ctx.engine.createSession({ ...input, device, ...(dpop ? { dpop } : {}) });
      let headers: [string, string][];
      try {
        headers = issueHeaders(ctx, tokens, tokens.session, mode);
      } catch (error) {
        // Tokens too large for a cookie: do not leave a session behind that the client never received.
        await ctx.engine.revokeSession(tokens.session.id, 'signout');
        throw error;
      }
      // DBSC: ask a browser that supports it to bind the new session to a key of its own (dbsc.ts).
      if (mode === 'cookie' && ctx.settings.dbsc) headers.push(registrationHeader(ctx, tokens.session.id));
      for (const [name, value] of [...headers, ...exposeHeaders(ctx.settings, request)]) sink.append(name, value);
      return { mode, session: tokens.session, body: tokenBody(tokens, mode) };
    });
  }

  /**
   * Ends the request's session (call from your own sign-out handler; `POST <base>/signout` does the
   * same). Cookies are cleared even when there was no valid session. An expired access token gets
   * `TRY_REFRESH_TOKEN` thrown, so that the client refreshes and retries and the session is really
   * ended on the server, not merely forgotten by the browser.
   */
  signOut(request: HttpRequest, sink: HeaderSink): Promise<SignOutResult> {
    const mode = modeOf(this.settings, request);
    return inMode(mode, () => signOut(this.#ctx, request, mode, sink));
  }

  /** Throws CSRF_REJECTED unless a state-changing request passes the header and Origin checks. For the app's sign-in route. */
  checkLoginCsrf(request: HttpRequest): void {
    checkCsrf(request, this.settings, { requireToken: false });
  }

  /** Headers that expire every session cookie (sign-out, duplicate cookies, stale Domain copies). */
  clearCookies(sink: HeaderSink): void {
    for (const [name, value] of this.#ctx.clearing) sink.append(name, value);
  }

  /**
   * The request's transport (`X-Latchkey-Mode`, within the enabled modes); throws INVALID_REQUEST.
   * @deprecated Pass the request to {@link errorResponse} instead, which works the mode out (and
   * never throws); the other steps this class used to expose are internal now.
   */
  modeOf(request: HttpRequest): TransportMode {
    return modeOf(this.settings, request);
  }

  /**
   * The response for an error: its status and typed JSON body, and in header mode its RFC 6750
   * `WWW-Authenticate` challenge; a generic 500 for anything unexpected, which is reported to
   * `onError`. The transport comes from `context`: a mode, or the request (pass it when you have it);
   * without either, from the request the error was thrown for when latchkey threw it (`signIn`,
   * `signOut`, `getSession`), so an error handler that has only the error answers the same.
   */
  errorResponse(error: unknown, context?: ErrorContext, options?: { clearCookies?: boolean }): HttpResponse {
    return errorResponse(this.#ctx, error, context, options);
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

/** Wires the HTTP layer to an engine. */
export function createLatchkeyHttp(engine: Latchkey, options?: LatchkeyHttpOptions): LatchkeyHttp {
  return new LatchkeyHttp(engine, options);
}
