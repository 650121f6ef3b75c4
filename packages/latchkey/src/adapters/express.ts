/**
 * latchkey for Express 5: a router with the auth routes, `requireSession()` middleware that puts the
 * session on `req.latchkey`, and sign-in/out helpers for the app's own handlers. All protocol work
 * is the shared transport core's; this module only translates.
 *
 * @example
 * const auth = latchkeyExpress(latchkey);
 * app.use(auth.router);                                   // mount at the root: paths come from `basePath`
 * app.post('/auth/login', auth.loginCsrf(), async (req, res) => { // login CSRF before the password
 *   const user = await checkPassword(req);                // your authentication
 *   const { body } = await auth.signIn(req, res, { userId: user.id });
 *   res.json(body);
 * });
 * app.get('/api/me', auth.requireSession(), (req, res) => res.json({ userId: req.latchkey!.userId }));
 * app.use(auth.errorHandler());                           // typed JSON for errors thrown by signIn/signOut
 *
 * Forgetting `errorHandler()` is safe: a latchkey error thrown by `signIn`, `signOut` or a session
 * method still becomes its typed JSON response (see {@link guardApp}), never Express's HTML page
 * with a stack trace.
 */
import type { Router, ErrorRequestHandler, NextFunction, Request, RequestHandler, Response } from 'express';
import type { Latchkey } from '../engine.js';
import {
  createLatchkeyHttp,
  type LatchkeyHttp,
  type RequireAuthOptions,
  type RequireSessionOptions,
  type SignInInput,
  type SignInResult,
  type SignOutResult,
} from '../http/core.js';
import { LatchkeyError } from '../errors.js';
import { fromNodeRequest } from '../http/node-io.js';
import type { LatchkeyHttpOptions } from '../http/options.js';
import { oncePerRequest, type HttpRequest, type RawBody } from '../http/request.js';
import { nodeSink, writeNodeResponse } from '../http/response.js';
import type { LatchkeySession } from '../http/session.js';
import type { ApiKeyPrincipal, Principal, RequireApiKeyOptions } from '../http/api-key-auth.js';
import { importPeer } from '../util/peer.js';

/** Express is a peer dependency of this adapter only: a missing one is a typed error naming it. */
const { Router: createRouter } = await importPeer(() => import('express'), 'express', 'latchkey/adapters/express');

// Typing `req.latchkey` the conventional way (as express-session and passport type theirs).
declare global {
  namespace Express {
    interface Request {
      /** Set by `requireSession()` (always a session) and `session()` (a session or null). */
      latchkey?: LatchkeySession | null;
      /** Set by `requireApiKey()` (an API key) and `requireAuth()` (a session or an API key). */
      latchkeyPrincipal?: Principal;
    }
  }
}

export interface ExpressLatchkey {
  /** The shared transport core. */
  readonly http: LatchkeyHttp;
  /**
   * The auth routes (`<base>/refresh`, `/signout`, `/sessions`, `/sessions/:id`) and the JWKS. Mount
   * it at the root, before any body parser: `app.use(auth.router)`.
   */
  readonly router: Router;
  /** Refuses (401/403/400, typed JSON) unless the request has a session meeting `options`; sets `req.latchkey`. */
  requireSession(options?: RequireSessionOptions): RequestHandler;
  /**
   * Refuses (401, 403 `INSUFFICIENT_SCOPE`, 429) unless the request carries a valid API key
   * (`Authorization: Bearer lk_...` or `X-API-Key`) with `options.scopes`; sets `req.latchkeyPrincipal`.
   * Cookies are never read and CSRF never applies.
   */
  requireApiKey(options?: RequireApiKeyOptions): RequestHandler;
  /**
   * Accepts a session or an API key (one route for the web app and for scripts); sets
   * `req.latchkeyPrincipal` (and `req.latchkey` for a session).
   */
  requireAuth(options?: RequireAuthOptions): RequestHandler;
  /**
   * For pages that work signed in or out: sets `req.latchkey` to the session, or to null when the
   * request carries no credential. An expired access token is still refused with `401
   * TRY_REFRESH_TOKEN` (so the client refreshes), and a bad one as on a required route.
   */
  session(): RequestHandler;
  /** Refuses a forged (cross-site) request with 403 CSRF_REJECTED: put it in front of your sign-in route. */
  loginCsrf(): RequestHandler;
  /** The request's session, or null when it carries no credential; throws the typed error for an expired or bad one (see `session()`). */
  getSession(req: Request, res?: Response): Promise<LatchkeySession | null>;
  /** Starts a session; sets the cookies (or the front header) on `res`. Send `result.body` with `res.json`. */
  signIn(req: Request, res: Response, input: SignInInput): Promise<SignInResult>;
  /** Ends the request's session and clears the cookies on `res`. */
  signOut(req: Request, res: Response): Promise<SignOutResult>;
  /**
   * Error middleware: latchkey errors become their typed JSON response; others pass on to yours.
   * Optional: without it, the adapter appends the same handler to the app on the first request that
   * needs it, after every route and error handler the app has by then.
   */
  errorHandler(): ErrorRequestHandler;
}

export type ExpressAdapterOptions = LatchkeyHttpOptions;

/**
 * The normalised request, built once per request (the router and the guard share it). Protocol, host
 * and ip are passed as functions: Express resolves each through its `trust proxy` logic (`proxy-addr`)
 * on every read, and only CSRF origin checks, CORS and the sessions list need them.
 */
const normalise = oncePerRequest((req: Request): HttpRequest =>
  fromNodeRequest(req, {
    // Express resolves these honouring its own `trust proxy` setting.
    protocol: () => req.protocol,
    host: () => req.host,
    ip: () => req.ip,
    target: req.originalUrl,
    body: () => {
      const body: unknown = req.body;
      // A body parser that ran before us left the body here; otherwise the stream is read.
      if (typeof body === 'string' || body instanceof Uint8Array) return body;
      if (typeof body === 'object' && body !== null) return body as RawBody;
      return undefined;
    },
  }),
);

/** Apps that already end with a latchkey safety net (one per app, whatever the number of adapters). */
const guardedApps = new WeakSet<object>();

/**
 * Appends a last-resort error handler to the request's app, once: a latchkey error that reaches it
 * (thrown by `signIn`, `signOut` or a session method in a route, with no `errorHandler()` installed)
 * becomes its typed JSON response instead of Express's default HTML page, which in development shows
 * the stack trace. Every other error, and one whose response has started, passes on untouched.
 *
 * Why at request time: the app's stack is complete by then, so the handler lands after every route
 * and after any error handler of the app's own, which still sees every error first. Express walks
 * its stack by index, so a handler appended while a request is in flight is reached by that request.
 */
function guardApp(req: Request, handler: ErrorRequestHandler): void {
  const app = req.app as Request['app'] | undefined;
  if (app === undefined || guardedApps.has(app)) return;
  guardedApps.add(app);
  app.use(handler);
}

export function latchkeyExpress(engine: Latchkey, options: ExpressAdapterOptions = {}): ExpressLatchkey {
  const http = createLatchkeyHttp(engine, options);
  const router = createRouter();
  const errorHandler: ErrorRequestHandler = (error: unknown, req, res, next) => {
    if (!(error instanceof LatchkeyError) || res.headersSent) return next(error);
    writeNodeResponse(res, http.errorResponse(error, normalise(req)));
  };
  /** Rethrows after making sure the app will answer it as JSON. */
  const guarded = <T>(req: Request, promise: Promise<T>): Promise<T> =>
    promise.catch((error: unknown) => {
      guardApp(req, errorHandler);
      throw error;
    });
  const serve = async (request: HttpRequest, res: Response, next: NextFunction): Promise<void> => {
    let response;
    try {
      response = await http.handle(request);
    } catch (error) {
      // The auth routes answer their own errors: nothing reaches the app's error handling.
      response = http.errorResponse(error, request);
    }
    if (!response) return next();
    writeNodeResponse(res, response);
  };
  // Synchronous for app routes, which are ruled out from the raw target before any URL parsing: an
  // async middleware would cost every request a promise that Express then tracks.
  router.use((req, res, next) => {
    const request = normalise(req);
    if (!http.mayHandle(request)) return next();
    return serve(request, res, next);
  });
  return {
    http,
    router,
    requireSession(requirements) {
      return async (req, res, next) => {
        // Session methods (`update`, `revoke`) throw in the route that follows.
        guardApp(req, errorHandler);
        const result = await http.authenticate(normalise(req), requirements, nodeSink(res));
        if (!result.ok) return writeNodeResponse(res, result.response);
        req.latchkey = result.session;
        next();
      };
    },
    requireApiKey(requirements) {
      return async (req, res, next) => {
        const result = await http.authenticateApiKey(normalise(req), requirements, nodeSink(res));
        if (!result.ok) return writeNodeResponse(res, result.response);
        req.latchkeyPrincipal = result.principal;
        next();
      };
    },
    requireAuth(requirements) {
      return async (req, res, next) => {
        const result = await http.authenticateAny(normalise(req), requirements, nodeSink(res));
        if (!result.ok) return writeNodeResponse(res, result.response);
        req.latchkeyPrincipal = result.principal;
        if (result.principal.kind === 'session') req.latchkey = result.principal.session;
        next();
      };
    },
    session() {
      return async (req, res, next) => {
        guardApp(req, errorHandler);
        const result = await http.optionalSession(normalise(req), nodeSink(res));
        if (!result.ok) return writeNodeResponse(res, result.response);
        req.latchkey = result.session;
        next();
      };
    },
    loginCsrf() {
      return (req, res, next) => {
        try {
          http.checkLoginCsrf(normalise(req));
        } catch (error) {
          return writeNodeResponse(res, http.errorResponse(error, normalise(req)));
        }
        next();
      };
    },
    getSession(req, res) {
      return guarded(req, http.getSession(normalise(req), res ? nodeSink(res) : undefined));
    },
    signIn(req, res, input) {
      return guarded(req, http.signIn(normalise(req), input, nodeSink(res)));
    },
    signOut(req, res) {
      return guarded(req, http.signOut(normalise(req), nodeSink(res)));
    },
    errorHandler() {
      return errorHandler;
    },
  };
}

export type { ApiKeyPrincipal, LatchkeySession, Principal, RequireApiKeyOptions, RequireAuthOptions, RequireSessionOptions, SignInInput, SignInResult, SignOutResult };
