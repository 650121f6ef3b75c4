/**
 * latchkey for Hono 4, and through it any fetch runtime (Node via @hono/node-server, Bun, Deno,
 * Cloudflare Workers, Next.js route handlers): middleware that serves the auth routes, a sub-app
 * holding them, `requireSession()` that puts the session on `c.var.latchkey`, and sign-in/out
 * helpers. All protocol work is the shared transport core's; this module only translates.
 *
 * @example
 * const auth = latchkeyHono(latchkey);
 * const app = new Hono<LatchkeyEnv>();
 * app.route('/', auth.app);                                 // the auth routes and JWKS
 * app.post('/auth/login', auth.loginCsrf(), async (c) => {  // login CSRF before the password
 *   const user = await checkPassword(c);                    // your authentication
 *   return c.json((await auth.signIn(c, { userId: user.id })).body);
 * });
 * app.get('/api/me', auth.requireSession(), (c) => c.json({ userId: c.var.latchkey.userId }));
 *
 * Without `app.onError`, an error thrown by `signIn`/`signOut` still gets its typed JSON response
 * (it carries `getResponse()`, which Hono's default error handler answers with).
 */
import type { Context, Hono, MiddlewareHandler, Next } from 'hono';
import type { Latchkey } from '../engine.js';
import { LatchkeyError } from '../errors.js';
import {
  createLatchkeyHttp,
  type LatchkeyHttp,
  type RequireAuthOptions,
  type RequireSessionOptions,
  type SignInInput,
  type SignInResult,
  type SignOutResult,
} from '../http/core.js';
import type { LatchkeyHttpOptions } from '../http/options.js';
import { oncePerRequest, type HttpRequest } from '../http/request.js';
import { JOINED_HEADERS, toWebResponse, withoutValue, type HeaderSink } from '../http/response.js';
import type { LatchkeySession } from '../http/session.js';
import type { ApiKeyPrincipal, Principal, RequireApiKeyOptions } from '../http/api-key-auth.js';
import { fromWebRequest } from '../http/web.js';
import { importPeer } from '../util/peer.js';

/** Hono is a peer dependency of this adapter only (the app's own copy): a missing one is a typed error naming it. */
const { Hono: HonoApp } = await importPeer(() => import('hono'), 'hono', 'latchkey/adapters/hono');

/** Hono env for routes behind `requireSession()`: `c.var.latchkey` is the session. */
export type LatchkeyEnv = { Variables: { latchkey: LatchkeySession } };
/** Hono env for routes behind `requireApiKey()`: `c.var.latchkeyPrincipal` is the key's principal. */
export type ApiKeyEnv = { Variables: { latchkeyPrincipal: ApiKeyPrincipal } };
/** Hono env for routes behind `requireAuth()`: `c.var.latchkeyPrincipal` is a session's or an API key's principal. */
export type AuthEnv = { Variables: { latchkeyPrincipal: Principal; latchkey?: LatchkeySession } };
/** Hono env for routes behind `session()`: `c.var.latchkey` is the session or null. */
export type OptionalLatchkeyEnv = { Variables: { latchkey: LatchkeySession | null } };

export interface HonoAdapterOptions extends LatchkeyHttpOptions {
  /**
   * The client address for the sessions list, e.g. `(c) => getConnInfo(c).remote.address` from your
   * runtime's helper, or a header your trusted proxy sets. Default: none (not recorded).
   */
  clientIp?: (c: Context) => string | undefined;
}

export interface HonoLatchkey {
  /** The shared transport core. */
  readonly http: LatchkeyHttp;
  /** A sub-app with the auth routes and JWKS: `app.route('/', auth.app)`. */
  readonly app: Hono;
  /** Middleware answering the auth routes and passing everything else on: `app.use(auth.routes())`. */
  routes(): MiddlewareHandler;
  /** Refuses (typed 401/403/400) unless the request has a session meeting `options`; sets `c.var.latchkey`. */
  requireSession(options?: RequireSessionOptions): MiddlewareHandler<LatchkeyEnv>;
  /**
   * Refuses (401, 403 `INSUFFICIENT_SCOPE`, 429) unless the request carries a valid API key
   * (`Authorization: Bearer lk_...` or `X-API-Key`); sets `c.var.latchkeyPrincipal`. Cookies are never
   * read and CSRF never applies.
   */
  requireApiKey(options?: RequireApiKeyOptions): MiddlewareHandler<ApiKeyEnv>;
  /** Accepts a session or an API key; sets `c.var.latchkeyPrincipal` (and `c.var.latchkey` for a session). */
  requireAuth(options?: RequireAuthOptions): MiddlewareHandler<AuthEnv>;
  /**
   * For pages that work signed in or out: sets `c.var.latchkey` to the session, or to null when the
   * request carries no credential. An expired access token is still refused with `401
   * TRY_REFRESH_TOKEN` (so the client refreshes), and a bad one as on a required route.
   */
  session(): MiddlewareHandler<OptionalLatchkeyEnv>;
  /** Refuses a forged (cross-site) sign-in with 403 CSRF_REJECTED. */
  loginCsrf(): MiddlewareHandler;
  /**
   * The session of a Hono context, or of a bare `Request` (Next.js route handlers and middleware,
   * where there is no context; session methods then cannot set cookies, use `auth.http` for that).
   */
  getSession(c: Context | Request): Promise<LatchkeySession | null>;
  /**
   * Starts a session; sets the cookies (or the front header) on the context's response. Return
   * `c.json(result.body)`. A latchkey error it throws carries `getResponse()`, its typed JSON
   * response, so Hono's default error handler answers it even without `app.onError`.
   */
  signIn(c: Context, input: SignInInput): Promise<SignInResult>;
  /** Ends the request's session and clears the cookies on the context's response. Errors as `signIn`. */
  signOut(c: Context): Promise<SignOutResult>;
  /**
   * For `app.onError((error, c) => auth.errorResponse(error, c))`: latchkey errors become their
   * typed JSON response; others a generic 500. A header-mode refusal carries its RFC 6750
   * `WWW-Authenticate` challenge: the core remembers the transport of the request it threw for; pass
   * the context for a latchkey error you threw yourself.
   */
  errorResponse(error: unknown, c?: Context): Response;
  /** Web-standard handler for the auth routes (null when not an auth route), e.g. a Next.js catch-all route. */
  fetch(request: Request): Promise<Response | null>;
}

function sink(c: Context): HeaderSink {
  return {
    // As on Node: `Set-Cookie` and list headers (Vary, the CORS expose list) accumulate, any other
    // header is replaced.
    append: (name, value) => {
      const lower = name.toLowerCase();
      c.header(lower, value, lower === 'set-cookie' || JOINED_HEADERS.has(lower) ? { append: true } : undefined);
    },
    remove: (name, value) => {
      const lower = name.toLowerCase();
      const headers = c.res.headers;
      const kept = withoutValue(lower === 'set-cookie' ? headers.getSetCookie() : (headers.get(lower) ?? undefined), value);
      if (kept === undefined) return;
      c.header(lower, undefined);
      for (const v of kept) c.header(lower, v, { append: true });
    },
  };
}

export function latchkeyHono(engine: Latchkey, options: HonoAdapterOptions = {}): HonoLatchkey {
  const { clientIp, ...httpOptions } = options;
  const http = createLatchkeyHttp(engine, httpOptions);
  // Built once per request (keyed by the context) and shared by the routes middleware, the guard and
  // the helpers. The client address is looked up only if something needs it (sign-in, refresh).
  const normalise = oncePerRequest((c: Context): HttpRequest =>
    fromWebRequest(c.req.raw, clientIp === undefined ? undefined : { ip: () => clientIp(c) }),
  );
  const serve = async (request: HttpRequest, next: Next): Promise<Response | void> => {
    const response = await http.handle(request);
    if (!response) return next();
    return toWebResponse(response);
  };
  // Not async: an app route is ruled out from the raw target, before any URL parsing, and handed
  // straight to the next handler without a promise of our own.
  const routes = (): MiddlewareHandler => (c, next) => {
    const request = normalise(c);
    if (!http.mayHandle(request)) return next();
    return serve(request, next);
  };
  const app = new HonoApp();
  app.use(routes());
  const errorResponse = (error: unknown, c?: Context): Response => toWebResponse(http.errorResponse(error, c ? normalise(c) : undefined));
  /**
   * Forgetting `app.onError` must be safe: Hono's default error handler answers a plain 500, but
   * answers any error with a `getResponse()` method (Hono's HTTPException convention) with that
   * response. So a latchkey error thrown by `signIn`/`signOut` carries its typed JSON response.
   */
  const answerable = <T>(c: Context, promise: Promise<T>): Promise<T> =>
    promise.catch((error: unknown) => {
      if (error instanceof LatchkeyError && !('getResponse' in error)) {
        Object.defineProperty(error, 'getResponse', { value: () => errorResponse(error, c), configurable: true });
      }
      throw error;
    });
  return {
    http,
    app,
    routes,
    requireSession(requirements) {
      return async (c, next) => {
        const result = await http.authenticate(normalise(c), requirements, sink(c));
        if (!result.ok) return toWebResponse(result.response);
        c.set('latchkey', result.session);
        await next();
      };
    },
    requireApiKey(requirements) {
      return async (c, next) => {
        const result = await http.authenticateApiKey(normalise(c), requirements, sink(c));
        if (!result.ok) return toWebResponse(result.response);
        c.set('latchkeyPrincipal', result.principal);
        await next();
      };
    },
    requireAuth(requirements) {
      return async (c, next) => {
        const result = await http.authenticateAny(normalise(c), requirements, sink(c));
        if (!result.ok) return toWebResponse(result.response);
        c.set('latchkeyPrincipal', result.principal);
        if (result.principal.kind === 'session') c.set('latchkey', result.principal.session);
        await next();
      };
    },
    session() {
      return async (c, next) => {
        const result = await http.optionalSession(normalise(c), sink(c));
        if (!result.ok) return toWebResponse(result.response);
        c.set('latchkey', result.session);
        await next();
      };
    },
    loginCsrf() {
      return async (c, next) => {
        try {
          http.checkLoginCsrf(normalise(c));
        } catch (error) {
          return toWebResponse(http.errorResponse(error, normalise(c)));
        }
        await next();
      };
    },
    getSession(c) {
      if (c instanceof Request) return http.getSession(fromWebRequest(c));
      return answerable(c, http.getSession(normalise(c), sink(c)));
    },
    signIn(c, input) {
      return answerable(c, http.signIn(normalise(c), input, sink(c)));
    },
    signOut(c) {
      return answerable(c, http.signOut(normalise(c), sink(c)));
    },
    errorResponse,
    fetch(request) {
      return http.fetch(request);
    },
  };
}

export type { ApiKeyPrincipal, LatchkeySession, Principal, RequireApiKeyOptions, RequireAuthOptions, RequireSessionOptions, SignInInput, SignInResult, SignOutResult };
