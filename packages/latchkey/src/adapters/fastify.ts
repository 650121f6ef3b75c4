/**
 * latchkey for Fastify 5: a plugin that serves the auth routes and decorates the instance with
 * `fastify.latchkey` (helpers, `requireSession()` pre-handlers) and each request with
 * `request.latchkey`. All protocol work is the shared transport core's; this module only translates.
 *
 * @example
 * await app.register(latchkeyFastify, { latchkey });
 * app.post('/auth/login', async (request, reply) => {      // your sign-in route
 *   const user = await checkPassword(request);             // your authentication
 *   return (await app.latchkey.signIn(request, reply, { userId: user.id })).body;
 * });
 * app.get('/api/me', { preHandler: app.latchkey.requireSession() }, async (request) => ({ userId: request.latchkey!.userId }));
 */
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify';
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
import { invalidRequest } from '../http/errors.js';
import { fromNodeRequest } from '../http/node-io.js';
import { routePatterns } from '../http/routes.js';
import type { LatchkeyHttpOptions } from '../http/options.js';
import { oncePerRequest, type HttpRequest } from '../http/request.js';
import { JOINED_HEADERS, withoutValue, type HeaderSink, type HttpResponse } from '../http/response.js';
import type { LatchkeySession } from '../http/session.js';
import type { ApiKeyPrincipal, Principal, RequireApiKeyOptions } from '../http/api-key-auth.js';

export interface FastifyLatchkeyOptions extends LatchkeyHttpOptions {
  /** The engine. */
  latchkey: Latchkey;
}

/** `fastify.latchkey`. */
export interface FastifyLatchkey {
  /** The shared transport core. */
  readonly http: LatchkeyHttp;
  /** A pre-handler refusing (typed 401/403/400) unless the request has a session meeting `options`; sets `request.latchkey`. */
  requireSession(options?: RequireSessionOptions): preHandlerAsyncHookHandler;
  /**
   * A pre-handler refusing (401, 403 `INSUFFICIENT_SCOPE`, 429) unless the request carries a valid
   * API key (`Authorization: Bearer lk_...` or `X-API-Key`); sets `request.latchkeyPrincipal`.
   * Cookies are never read and CSRF never applies.
   */
  requireApiKey(options?: RequireApiKeyOptions): preHandlerAsyncHookHandler;
  /** A pre-handler accepting a session or an API key; sets `request.latchkeyPrincipal` (and `request.latchkey` for a session). */
  requireAuth(options?: RequireAuthOptions): preHandlerAsyncHookHandler;
  /** A pre-handler refusing a forged (cross-site) sign-in with 403 CSRF_REJECTED. */
  loginCsrf(): preHandlerAsyncHookHandler;
  /**
   * The request's session, or null when it carries no credential. An expired access token throws
   * `TRY_REFRESH_TOKEN` (so the client refreshes) and a bad one `UNAUTHORISED`, as on a required
   * route: with `app.setErrorHandler(app.latchkey.errorHandler)` they become their 401 responses.
   */
  getSession(request: FastifyRequest, reply?: FastifyReply): Promise<LatchkeySession | null>;
  /** A pre-handler for pages that work signed in or out: `request.latchkey` is the session or null; an expired or bad credential is refused as by `getSession`. */
  session(): preHandlerAsyncHookHandler;
  /** Starts a session; sets the cookies (or the front header) on `reply`. Return `result.body`. */
  signIn(request: FastifyRequest, reply: FastifyReply, input: SignInInput): Promise<SignInResult>;
  /** Ends the request's session and clears the cookies on `reply`. */
  signOut(request: FastifyRequest, reply: FastifyReply): Promise<SignOutResult>;
  /**
   * For `app.setErrorHandler(app.latchkey.errorHandler)`: latchkey errors (thrown by `signIn`,
   * `signOut`, session methods) become their typed JSON response; anything else gets Fastify's
   * default treatment. Optional for routes registered after the plugin: each gets the same
   * treatment of latchkey errors as its own route-level error handler (unless it has one).
   */
  errorHandler(error: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply;
}

declare module 'fastify' {
  interface FastifyInstance {
    latchkey: FastifyLatchkey;
  }
  interface FastifyRequest {
    /** Set by `requireSession()`; null otherwise. */
    latchkey: LatchkeySession | null;
    /** Set by `requireApiKey()` and `requireAuth()`; null otherwise. */
    latchkeyPrincipal: Principal | null;
  }
}

/**
 * The normalised request, built once per request and shared by the guard and the helpers. Protocol,
 * host and ip are passed as functions: Fastify resolves them through its `trustProxy` logic, and only
 * CSRF origin checks, CORS and the sessions list need them.
 */
const normalise = oncePerRequest((request: FastifyRequest): HttpRequest =>
  fromNodeRequest(request.raw, {
    // Fastify resolves these honouring its own `trustProxy` setting.
    protocol: () => request.protocol,
    host: () => request.host,
    ip: () => request.ip,
    target: request.url,
    // The plugin's routes take the body unparsed (see the content-type parser below).
    body: () => (typeof request.body === 'string' ? request.body : undefined),
  }),
);

function sink(reply: FastifyReply): HeaderSink {
  return {
    // Fastify accumulates repeated `set-cookie` headers into a list and replaces any other header;
    // list headers (Vary, the CORS expose list) are joined with what the app set.
    append: (name, value) => {
      const lower = name.toLowerCase();
      const existing = JOINED_HEADERS.has(lower) ? reply.getHeader(lower) : undefined;
      reply.header(lower, existing === undefined ? value : `${String(existing)}, ${value}`);
    },
    remove: (name, value) => {
      const lower = name.toLowerCase();
      const kept = withoutValue(reply.getHeader(lower), value);
      if (kept === undefined) return;
      reply.removeHeader(lower);
      if (kept.length > 0) reply.header(lower, lower === 'set-cookie' ? kept : kept.join(', '));
    },
  };
}

function send(reply: FastifyReply, response: HttpResponse): FastifyReply {
  reply.code(response.status);
  for (const [name, value] of response.headers) reply.header(name, value);
  return reply.send(response.body);
}

const plugin: FastifyPluginAsync<FastifyLatchkeyOptions> = async (fastify: FastifyInstance, options: FastifyLatchkeyOptions) => {
  const { latchkey, ...httpOptions } = options;
  const http = createLatchkeyHttp(latchkey, httpOptions);

  fastify.decorateRequest('latchkey', null);
  fastify.decorateRequest('latchkeyPrincipal', null);
  fastify.decorate('latchkey', {
    http,
    requireSession(requirements?: RequireSessionOptions): preHandlerAsyncHookHandler {
      return async (request, reply) => {
        const result = await http.authenticate(normalise(request), requirements, sink(reply));
        if (!result.ok) return send(reply, result.response);
        request.latchkey = result.session;
      };
    },
    requireApiKey(requirements?: RequireApiKeyOptions): preHandlerAsyncHookHandler {
      return async (request, reply) => {
        const result = await http.authenticateApiKey(normalise(request), requirements, sink(reply));
        if (!result.ok) return send(reply, result.response);
        request.latchkeyPrincipal = result.principal;
      };
    },
    requireAuth(requirements?: RequireAuthOptions): preHandlerAsyncHookHandler {
      return async (request, reply) => {
        const result = await http.authenticateAny(normalise(request), requirements, sink(reply));
        if (!result.ok) return send(reply, result.response);
        request.latchkeyPrincipal = result.principal;
        if (result.principal.kind === 'session') request.latchkey = result.principal.session;
      };
    },
    session(): preHandlerAsyncHookHandler {
      return async (request, reply) => {
        const result = await http.optionalSession(normalise(request), sink(reply));
        if (!result.ok) return send(reply, result.response);
        request.latchkey = result.session;
      };
    },
    loginCsrf(): preHandlerAsyncHookHandler {
      return async (request, reply) => {
        try {
          http.checkLoginCsrf(normalise(request));
        } catch (error) {
          return send(reply, http.errorResponse(error, normalise(request)));
        }
      };
    },
    getSession: (request: FastifyRequest, reply?: FastifyReply) => http.getSession(normalise(request), reply ? sink(reply) : undefined),
    signIn: (request: FastifyRequest, reply: FastifyReply, input: SignInInput) => http.signIn(normalise(request), input, sink(reply)),
    signOut: (request: FastifyRequest, reply: FastifyReply) => http.signOut(normalise(request), sink(reply)),
    errorHandler: answerLatchkeyError,
  } satisfies FastifyLatchkey);

  function answerLatchkeyError(error: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
    if (!(error instanceof LatchkeyError)) return reply.send(error);
    return send(reply, http.errorResponse(error, normalise(request)));
  }

  // Forgetting `setErrorHandler(app.latchkey.errorHandler)` must be safe: Fastify's default handler
  // would answer a latchkey error in its own shape, and with 500 for the engine's errors (which carry
  // no statusCode). So every route registered after the plugin that has no error handler of its own
  // gets one that answers latchkey errors with their typed JSON and throws anything else on, which
  // Fastify hands to the instance's handler (yours, or its default) as if this one were not there.
  fastify.addHook('onRoute', (route) => {
    if (route.errorHandler !== undefined) return;
    route.errorHandler = (error, request, reply) => {
      if (!(error instanceof LatchkeyError)) throw error;
      // Sent here, synchronously; nothing is returned, so Fastify has no reply thenable to await.
      answerLatchkeyError(error, request, reply);
    };
  });

  // The auth routes live in their own encapsulated context, so their body handling cannot leak into the app's.
  await fastify.register(async (routes) => {
    // Bodies stay unread here: the core reads them with its own size limit and reports malformed
    // JSON as its typed 400, instead of Fastify's error format.
    routes.removeAllContentTypeParsers();
    routes.addContentTypeParser('*', (_request, _payload, done) => done(null, undefined));
    routes.setErrorHandler(async (error, request, reply) => {
      const status = (error as { statusCode?: number }).statusCode;
      // Fastify's own refusals (a malformed request line, say) are the client's fault, never a 500.
      const mapped = status !== undefined && status >= 400 && status < 500 && !(error instanceof LatchkeyError) ? invalidRequest('malformed request', status) : error;
      return send(reply, http.errorResponse(mapped));
    });
    const handler = async (request: FastifyRequest, reply: FastifyReply) => {
      const response = await http.handle(normalise(request));
      return send(reply, response ?? http.errorResponse(invalidRequest('not found', 404)));
    };
    // The paths come from the core's route table: this list cannot drift from what `handle` answers.
    for (const url of routePatterns(http.settings)) routes.all(url, handler);
  });
};

// Register on the caller's instance rather than an encapsulated child, so the decorators are visible
// to the app's routes (what the `fastify-plugin` package does, through the documented symbols).
Object.assign(plugin, { [Symbol.for('skip-override')]: true, [Symbol.for('fastify.display-name')]: 'latchkey' });

/** The latchkey Fastify plugin. `await app.register(latchkeyFastify, { latchkey, ...httpOptions })`. */
export const latchkeyFastify = plugin;

export type { ApiKeyPrincipal, LatchkeySession, Principal, RequireApiKeyOptions, RequireAuthOptions, RequireSessionOptions, SignInInput, SignInResult, SignOutResult };
