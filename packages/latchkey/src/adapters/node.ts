/**
 * latchkey for plain node:http (and anything that hands over `IncomingMessage`/`ServerResponse`).
 *
 * @example
 * const auth = latchkeyNode(latchkey);
 * http.createServer(auth.requestListener(async (req, res) => { // the auth routes, then yours
 *   const session = await auth.requireSession(req, res);     // 401/403 already sent when null
 *   if (!session) return;
 *   res.end(`hello ${session.userId}`);
 * }));
 *
 * `requestListener` also answers whatever your handler throws (a latchkey error from `signIn` as its
 * typed JSON, anything else as a bare 500), so a forgotten try/catch never crashes the process
 * with an unhandled rejection nor leaves the request hanging.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
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
import { fromNodeRequest, type NodeRequestInfo } from '../http/node-io.js';
import type { LatchkeyHttpOptions } from '../http/options.js';
import { oncePerRequest } from '../http/request.js';
import { nodeSink, writeNodeResponse } from '../http/response.js';
import type { LatchkeySession } from '../http/session.js';
import type { ApiKeyPrincipal, Principal, RequireApiKeyOptions } from '../http/api-key-auth.js';

export interface NodeAdapterOptions extends LatchkeyHttpOptions {
  /**
   * Resolves protocol, host and client address for a request, e.g. from `X-Forwarded-*` behind a
   * proxy you trust. Default: the socket (`https` when TLS) and the Host header; forwarded headers
   * are ignored, because any client can send them.
   */
  requestInfo?: ((req: IncomingMessage) => NodeRequestInfo) | undefined;
}

export interface NodeLatchkey {
  /** The shared transport core. */
  readonly http: LatchkeyHttp;
  /** Answers the auth routes. Resolves true when it sent a response, false when the request is not for it. */
  handle(req: IncomingMessage, res: ServerResponse): Promise<boolean>;
  /**
   * The request's session, or null when it carries no credential. An expired access token throws
   * `TRY_REFRESH_TOKEN` (so the client refreshes) and a bad one `UNAUTHORISED`, as on a required
   * route: send them with `sendError`, or use {@link optionalSession}. Pass `res` so that
   * `session.update()`/`revoke()` can set cookies.
   */
  getSession(req: IncomingMessage, res?: ServerResponse): Promise<LatchkeySession | null>;
  /** For pages that work signed in or out: the session, null when there is none, or `false` after sending the 401/400 refusal. */
  optionalSession(req: IncomingMessage, res: ServerResponse): Promise<LatchkeySession | null | false>;
  /** The session, or null after sending the 401/403/400 response. */
  requireSession(req: IncomingMessage, res: ServerResponse, options?: RequireSessionOptions): Promise<LatchkeySession | null>;
  /**
   * The API key's principal, or null after sending the 401/403/429/400 response. The key comes from
   * `Authorization: Bearer lk_...` or `X-API-Key`; cookies are never read and CSRF never applies.
   */
  requireApiKey(req: IncomingMessage, res: ServerResponse, options?: RequireApiKeyOptions): Promise<ApiKeyPrincipal | null>;
  /** A session's or an API key's principal, or null after sending the refusal. */
  requireAuth(req: IncomingMessage, res: ServerResponse, options?: RequireAuthOptions): Promise<Principal | null>;
  /** Starts a session from your sign-in handler; cookies (or the front header) are set on `res`. Send `result.body` yourself. */
  signIn(req: IncomingMessage, res: ServerResponse, input: SignInInput): Promise<SignInResult>;
  /** Ends the request's session from your own handler; cookies are cleared on `res`. */
  signOut(req: IncomingMessage, res: ServerResponse): Promise<SignOutResult>;
  /** Login CSRF for your sign-in route: false after sending 403 CSRF_REJECTED. (`signIn` checks it too.) */
  checkLoginCsrf(req: IncomingMessage, res: ServerResponse): boolean;
  /**
   * Sends the JSON error response for an error thrown by `signIn`/`signOut`/`getSession` (or a 500
   * for anything else). A header-mode refusal carries its RFC 6750 challenge: the core remembers the
   * transport of the request it threw for; pass `req` for a latchkey error you threw yourself.
   */
  sendError(res: ServerResponse, error: unknown, req?: IncomingMessage): void;
  /**
   * A listener for `http.createServer`: answers the auth routes, passes every other request to
   * `handler`, and answers anything `handler` throws or rejects with: a latchkey error (from
   * `signIn`, `signOut`, `getSession`, a session method) as its typed JSON response, anything else as
   * a bare 500 reported to `onError`. A response already started is cut off instead.
   */
  requestListener(handler: (req: IncomingMessage, res: ServerResponse) => unknown): (req: IncomingMessage, res: ServerResponse) => void;
}

export function latchkeyNode(engine: Latchkey, options: NodeAdapterOptions = {}): NodeLatchkey {
  const { requestInfo, ...httpOptions } = options;
  const http = createLatchkeyHttp(engine, httpOptions);
  // Built once per request and shared by `handle`, the guard and the helpers (one `requestInfo` call too).
  const normalise = oncePerRequest((req: IncomingMessage) => fromNodeRequest(req, requestInfo?.(req)));
  function sendError(res: ServerResponse, error: unknown, req?: IncomingMessage): void {
    writeNodeResponse(res, http.errorResponse(error, req ? normalise(req) : undefined));
  }
  const adapter: NodeLatchkey = {
    http,
    async handle(req, res) {
      const request = normalise(req);
      // An app route is ruled out from the raw target, before any URL parsing.
      if (!http.mayHandle(request)) return false;
      const response = await http.handle(request);
      if (!response) return false;
      writeNodeResponse(res, response);
      return true;
    },
    getSession(req, res) {
      return http.getSession(normalise(req), res ? nodeSink(res) : undefined);
    },
    async optionalSession(req, res) {
      const result = await http.optionalSession(normalise(req), nodeSink(res));
      if (result.ok) return result.session;
      writeNodeResponse(res, result.response);
      return false;
    },
    async requireSession(req, res, requirements) {
      const result = await http.authenticate(normalise(req), requirements, nodeSink(res));
      if (result.ok) return result.session;
      writeNodeResponse(res, result.response);
      return null;
    },
    async requireApiKey(req, res, requirements) {
      const result = await http.authenticateApiKey(normalise(req), requirements, nodeSink(res));
      if (result.ok) return result.principal;
      writeNodeResponse(res, result.response);
      return null;
    },
    async requireAuth(req, res, requirements) {
      const result = await http.authenticateAny(normalise(req), requirements, nodeSink(res));
      if (result.ok) return result.principal;
      writeNodeResponse(res, result.response);
      return null;
    },
    signIn(req, res, input) {
      return http.signIn(normalise(req), input, nodeSink(res));
    },
    signOut(req, res) {
      return http.signOut(normalise(req), nodeSink(res));
    },
    checkLoginCsrf(req, res) {
      try {
        http.checkLoginCsrf(normalise(req));
        return true;
      } catch (error) {
        writeNodeResponse(res, http.errorResponse(error, normalise(req)));
        return false;
      }
    },
    sendError,
    requestListener(handler) {
      return (req, res) => {
        void (async () => {
          try {
            if (await adapter.handle(req, res)) return;
            await handler(req, res);
          } catch (error) {
            if (!res.headersSent) return sendError(res, error, req);
            // Too late for an error response: report it, and end the connection so the client sees
            // a failure rather than a truncated body it might take for a whole one.
            if (!(error instanceof LatchkeyError)) http.settings.onError(error);
            res.destroy();
          }
        })();
      };
    },
  };
  return adapter;
}

export type { ApiKeyPrincipal, LatchkeySession, Principal, RequireApiKeyOptions, RequireAuthOptions, RequireSessionOptions, SignInInput, SignInResult, SignOutResult };
