/**
 * Hono route protection on the edge verifier (`latchkey/edge`), for Hono apps deployed where the
 * engine cannot run (Cloudflare Workers, Deno Deploy, Bun at the edge, Vercel's edge runtime): no
 * store, no secret, no `node:` module. `latchkey/adapters/hono` is the full adapter (sign-in, refresh,
 * the auth routes) and needs the engine; this one only guards routes, with the same credentials and
 * the same error responses.
 *
 * @example
 * const verifier = createEdgeVerifier({ jwksUrl, issuer, revocations: { url, credential } });
 * const app = new Hono<EdgeSessionEnv>();
 * app.use('/api/*', requireEdgeSession(verifier));
 * app.get('/api/me', (c) => c.json({ userId: c.var.latchkey.userId }));
 *
 * The access token is read as the HTTP layer reads it: `Authorization: Bearer` (header mode), else the
 * access cookie (cookie mode). A cookie-borne request with an unsafe method must carry the CSRF header
 * (`X-Latchkey-CSRF`), as the HTTP layer's default `csrf: { mode: 'header' }` requires; token-mode CSRF
 * (an HMAC under a secret) is not available without the secret, so an app using it guards unsafe
 * routes at the origin.
 */
import { parse as parseCookies } from 'cookie';
import type { MiddlewareHandler } from 'hono';
import type { EdgeVerifier } from '../edge/verifier.js';
import { csrfRejected, mapError } from '../http/errors.js';
import type { VerifiedAccessToken } from '../types.js';

/** Hono env for routes behind `requireEdgeSession()`: `c.var.latchkey` is the verified token. */
export type EdgeSessionEnv = { Variables: { latchkey: VerifiedAccessToken } };

export interface HonoEdgeOptions {
  /** The access cookie's name. Default `'__Host-lk_access'`, the HTTP layer's default; change it with `cookies.prefix` there. */
  accessCookie?: string | undefined;
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
const CSRF_HEADER = 'x-latchkey-csrf';

function respond(error: unknown, mode: 'cookie' | 'header' | undefined): Response {
  const mapped = mapError(error, mode);
  const headers = new Headers(mapped.headers);
  headers.set('content-type', 'application/json');
  headers.set('cache-control', 'no-store');
  return new Response(JSON.stringify(mapped.body), { status: mapped.status, headers });
}

/** Refuses (401, 403, 503: the HTTP layer's typed JSON) unless the request carries a valid access token; sets `c.var.latchkey`. */
export function requireEdgeSession(verifier: EdgeVerifier, options: HonoEdgeOptions = {}): MiddlewareHandler<EdgeSessionEnv> {
  const cookieName = options.accessCookie ?? '__Host-lk_access';
  return async (c, next) => {
    const authorization = c.req.header('authorization');
    const bearer =
      authorization !== undefined && /^Bearer /i.test(authorization) ? authorization.slice('Bearer '.length).trim() : undefined;
    const mode = bearer !== undefined ? 'header' : 'cookie';
    const token = bearer ?? parseCookies(c.req.header('cookie') ?? '')[cookieName];
    try {
      if (mode === 'cookie' && token !== undefined && !SAFE_METHODS.has(c.req.method) && c.req.header(CSRF_HEADER) === undefined)
        throw csrfRejected(`a cookie-authenticated unsafe request must carry the ${CSRF_HEADER} header`);
      c.set('latchkey', await verifier.verify(token));
    } catch (error) {
      return respond(error, mode);
    }
    await next();
  };
}
