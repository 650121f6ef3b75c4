/**
 * The auth routes of the protocol, on the normalised request:
 * `POST <base>/refresh`, `POST <base>/signout`, `GET <base>/sessions`, `DELETE <base>/sessions/:id`,
 * `DELETE <base>/sessions?others=true`, `GET /.well-known/jwks.json`, and (when configured)
 * `GET <base>/revocations`, the revocation feed, and (with `dbsc`) `POST <base>/dbsc/register` and
 * `POST <base>/refresh/dbsc`, DBSC's registration and refresh (dbsc.ts).
 * Unknown paths resolve to null (the app's own routes, such as sign-in, may share the base path).
 */
import { NotFoundError, UnauthorisedError } from '../errors.js';
import { authenticate, signOut } from './authenticate.js';
import type { HttpContext } from './context.js';
import { EXPOSED_HEADERS, REFRESH_GRACE_HEADER } from './front.js';
import { readCookies } from './cookies.js';
import { checkCsrf, CSRF_HEADER, originAllowed } from './csrf.js';
import { errorResponse } from './error-response.js';
import { invalidRequest, refreshFailureClears } from './errors.js';
import { DBSC_REFRESH_PATH, DBSC_REGISTER_PATH, dbscRefresh, dbscRegister } from './dbsc.js';
import { dpopFromRequest } from './dpop.js';
import { deviceOf, issueHeaders, tokenBody } from './issue.js';
import { readJsonBody } from './json-body.js';
import { MODE_HEADER, modeOf } from './mode.js';
import type { AuthRouteName, ResolvedHttpSettings, TransportMode } from './options.js';
import type { HttpRequest } from './request.js';
import { HeaderList, jsonResponse, type HttpResponse } from './response.js';
import { revocationFeedResponse } from './revocation-feed.js';
import { toPublicSession } from './session.js';

type Route = AuthRouteName;

/** Each route under the base path: its path (`:id` names the one parameter) and methods. The JWKS has its own path. */
const ROUTES: Record<Exclude<Route, 'jwks'>, { path: string; methods: readonly string[] }> = {
  refresh: { path: '/refresh', methods: ['POST'] },
  signout: { path: '/signout', methods: ['POST'] },
  sessions: { path: '/sessions', methods: ['GET', 'DELETE'] },
  session: { path: '/sessions/:id', methods: ['DELETE'] },
  revocations: { path: '/revocations', methods: ['GET'] },
  'dbsc-register': { path: DBSC_REGISTER_PATH, methods: ['POST'] },
  'dbsc-refresh': { path: DBSC_REFRESH_PATH, methods: ['POST'] },
};
const JWKS_METHODS: readonly string[] = ['GET', 'HEAD'];

function methodsOf(route: Route): readonly string[] {
  return route === 'jwks' ? JWKS_METHODS : ROUTES[route].methods;
}

/**
 * The auth routes' paths as route patterns (`/auth/sessions/:id`), for a framework that registers
 * routes one by one (Fastify) rather than passing every request through `handle`. Taken from the
 * table {@link handleRoute} matches against, so an adapter cannot drift from it.
 */
export function routePatterns(settings: ResolvedHttpSettings): string[] {
  const { basePath, jwksPath } = settings;
  // The revocation feed and the DBSC routes are routes only where they are configured; a route the
  // app turned off is not registered either.
  const on = (route: string): boolean => settings.routes[route as AuthRouteName] !== false;
  const routes = Object.entries(ROUTES).filter(
    ([route]) => on(route) && (route !== 'revocations' || settings.revocationFeed !== undefined) && (!route.startsWith('dbsc-') || settings.dbsc),
  );
  return [...routes.map(([, { path }]) => `${basePath}${path}`), ...(jwksPath === undefined || !on('jwks') ? [] : [jwksPath])];
}

// Session ids are base64url; anything else cannot name a session, so it never reaches the store.
const SESSION_ID = /^[A-Za-z0-9_-]{1,128}$/;
const SESSION_PREFIX = ROUTES.session.path.slice(0, -':id'.length);

function match(ctx: HttpContext, path: string): { route: Route; id?: string } | undefined {
  const { basePath, jwksPath } = ctx.settings;
  if (jwksPath !== undefined && path === jwksPath) return { route: 'jwks' };
  if (!path.startsWith(`${basePath}/`)) return undefined;
  const rest = path.slice(basePath.length);
  if (rest === ROUTES.refresh.path) return { route: 'refresh' };
  if (rest === ROUTES.signout.path) return { route: 'signout' };
  if (rest === ROUTES.sessions.path) return { route: 'sessions' };
  if (rest === ROUTES.revocations.path && ctx.settings.revocationFeed !== undefined) return { route: 'revocations' };
  if (ctx.settings.dbsc && rest === DBSC_REGISTER_PATH) return { route: 'dbsc-register' };
  if (ctx.settings.dbsc && rest === DBSC_REFRESH_PATH) return { route: 'dbsc-refresh' };
  if (rest.startsWith(SESSION_PREFIX) && rest.indexOf('/', SESSION_PREFIX.length) === -1) return { route: 'session', id: rest.slice(SESSION_PREFIX.length) };
  return undefined;
}

/** CORS for an allowed cross-origin caller (never a reflected arbitrary origin), and no caching of token responses. */
function finish(ctx: HttpContext, request: HttpRequest, response: HttpResponse, route: Route): HttpResponse {
  const headers = response.headers.filter(([name]) => name !== 'cache-control');
  headers.push(['cache-control', route === 'jwks' && response.status === 200 ? 'public, max-age=300' : 'no-store']);
  // Every refresh answer, success or refusal, tells the SDK the grace window it must retry within (D1).
  // A successful refresh already has it from issueHeaders: sent once, not twice.
  if (route === 'refresh' && !headers.some(([name]) => name === REFRESH_GRACE_HEADER)) headers.push([REFRESH_GRACE_HEADER, String(ctx.engine.refreshGraceSeconds)]);
  if (route === 'jwks') return { ...response, headers };
  headers.push(['vary', 'Origin']);
  const origin = request.headers.get('origin');
  if (origin !== null && origin !== request.ownOrigin && originAllowed(origin, request, ctx.settings)) {
    headers.push(
      ['access-control-allow-origin', origin],
      ['access-control-allow-credentials', 'true'],
      ['access-control-expose-headers', EXPOSED_HEADERS],
    );
  }
  return { ...response, headers };
}

function preflight(ctx: HttpContext, request: HttpRequest, methods: readonly string[]): HttpResponse {
  const origin = request.headers.get('origin');
  const headers: [string, string][] = [['vary', 'Origin']];
  // An unknown origin gets no CORS headers, so the browser never sends the real request.
  if (origin !== null && originAllowed(origin, request, ctx.settings)) {
    headers.push(
      ['access-control-allow-origin', origin],
      ['access-control-allow-credentials', 'true'],
      ['access-control-allow-methods', methods.join(', ')],
      // DPoP: the proof header of a header-mode client bound to a key (RFC 9449 §4.1).
      ['access-control-allow-headers', `content-type, authorization, dpop, ${CSRF_HEADER}, ${MODE_HEADER}`],
      ['access-control-max-age', '600'],
    );
  }
  return { status: 204, headers, body: undefined };
}

export async function handleRoute(ctx: HttpContext, request: HttpRequest): Promise<HttpResponse | null> {
  const matched = match(ctx, request.path);
  if (!matched) return null;
  const override = ctx.settings.routes[matched.route];
  // Turned off by the app: not an auth route any more, so the request falls through to the app.
  if (override === false) return null;
  const methods = methodsOf(matched.route);
  if (request.method === 'OPTIONS' && matched.route !== 'jwks') return preflight(ctx, request, methods);
  const builtIn = (): Promise<HttpResponse> => answer(ctx, request, matched.route, methods, matched.id);
  let response: HttpResponse;
  if (override === undefined) response = await builtIn();
  else {
    try {
      response = (await override.before?.(request)) ?? (override.replace ? await override.replace(request, builtIn) : await builtIn());
      if (override.after) response = await override.after(request, response);
    } catch (error) {
      response = errorResponse(ctx, error, request);
    }
  }
  // CORS and no-store apply to a wrapped or replaced route's answer too: they are the protocol.
  return finish(ctx, request, response, matched.route);
}

/** The built-in route: its answer, or its refusal as a response. */
async function answer(ctx: HttpContext, request: HttpRequest, route: Route, methods: readonly string[], id: string | undefined): Promise<HttpResponse> {
  let mode: TransportMode | undefined;
  try {
    if (!methods.includes(request.method)) {
      const response = errorResponse(ctx, invalidRequest(`method not allowed; use ${methods.join(' or ')}`, 405), request);
      response.headers.push(['allow', methods.join(', ')]);
      return response;
    }
    if (route === 'jwks') {
      const response = jsonResponse(200, ctx.engine.jwks());
      if (request.method === 'HEAD') response.body = undefined;
      return response;
    }
    mode = modeOf(ctx.settings, request);
    return await dispatch(ctx, request, route, mode, id);
  } catch (error) {
    return errorResponse(ctx, error, mode, { request });
  }
}

async function dispatch(ctx: HttpContext, request: HttpRequest, route: Route, mode: TransportMode, id: string | undefined): Promise<HttpResponse> {
  switch (route) {
    case 'refresh':
      return refresh(ctx, request, mode);
    case 'signout': {
      const sink = new HeaderList();
      const result = await signOut(ctx, request, mode, sink);
      return jsonResponse(200, { revoked: result.revoked }, sink.entries);
    }
    case 'sessions':
      return request.method === 'GET' ? listSessions(ctx, request) : revokeOthers(ctx, request);
    case 'session':
      return revokeOne(ctx, request, id ?? '');
    case 'revocations':
      return revocationFeedResponse(ctx.engine, ctx.settings, request);
    case 'dbsc-register':
      return dbscRegister(ctx, request);
    case 'dbsc-refresh':
      return dbscRefresh(ctx, request);
    default:
      throw invalidRequest('unknown route');
  }
}

async function refresh(ctx: HttpContext, request: HttpRequest, mode: TransportMode): Promise<HttpResponse> {
  const found = deviceOf(request);
  const device = found.userAgent !== undefined || found.ip !== undefined ? found : undefined;
  if (mode === 'header') {
    const body = await readJsonBody(ctx.settings, request);
    if (typeof body.refreshToken !== 'string') throw invalidRequest('refreshToken must be a string');
    // A DPoP-bound session rotates only with a proof of its key (RFC 9449 §5); the engine decides.
    const dpop = dpopFromRequest(request, ctx.settings.publicOrigin ?? request.ownOrigin);
    const tokens = await ctx.engine.refresh(body.refreshToken, device || dpop ? { ...(device ? { device } : {}), ...(dpop ? { dpop } : {}) } : undefined);
    return jsonResponse(200, tokenBody(tokens, mode), issueHeaders(ctx, tokens, tokens.session, mode));
  }
  const { names } = ctx.settings;
  const cookies = readCookies(request.headers.get('cookie'), [names.refresh, names.csrf]);
  // No session is known before rotation, so in token mode the token must merely be ours and match its cookie.
  checkCsrf(request, ctx.settings, { requireToken: true, cookieToken: cookies.get(names.csrf) });
  const refreshToken = cookies.get(names.refresh);
  try {
    if (refreshToken === undefined || refreshToken === '') throw new UnauthorisedError('missing', 'no refresh token');
    const tokens = await ctx.engine.refresh(refreshToken, device ? { device } : undefined);
    return jsonResponse(200, tokenBody(tokens, mode), issueHeaders(ctx, tokens, tokens.session, mode));
  } catch (error) {
    // A failed refresh ends the session on the client: the protocol says the cookies go.
    return errorResponse(ctx, error, mode, { clearCookies: refreshFailureClears(error), request });
  }
}

async function listSessions(ctx: HttpContext, request: HttpRequest): Promise<HttpResponse> {
  const auth = await authenticate(ctx, request);
  if (!auth.ok) return auth.response;
  const sessions = await ctx.engine.listSessions(auth.session.userId);
  return jsonResponse(200, { sessions: sessions.map((s) => toPublicSession(s, auth.session.sessionId)) });
}

async function revokeOthers(ctx: HttpContext, request: HttpRequest): Promise<HttpResponse> {
  // Authentication first, so a caller without a session gets 401 rather than a lesson in the route's parameters.
  const auth = await authenticate(ctx, request);
  if (!auth.ok) return auth.response;
  if (request.query.get('others') !== 'true') throw invalidRequest('use DELETE sessions?others=true, or DELETE sessions/<id>');
  const revoked = await ctx.engine.revokeUserSessions(auth.session.userId, { exceptSessionId: auth.session.sessionId });
  return jsonResponse(200, { revoked });
}

async function revokeOne(ctx: HttpContext, request: HttpRequest, id: string): Promise<HttpResponse> {
  const sink = new HeaderList();
  const auth = await authenticate(ctx, request, {}, sink);
  if (!auth.ok) return auth.response;
  // Another user's session, a revoked one and a missing one all look the same: 404, so that session
  // ids of other users can be neither revoked nor probed.
  const target = SESSION_ID.test(id) ? await ctx.engine.getSession(id) : null;
  if (!target || target.userId !== auth.session.userId || target.revokedAt !== null) throw new NotFoundError('no such session');
  if (id === auth.session.sessionId) {
    const revoked = await auth.session.revoke();
    return jsonResponse(200, { revoked }, sink.entries);
  }
  const revoked = await ctx.engine.revokeSession(id, 'signout');
  return jsonResponse(200, { revoked });
}
