/**
 * The auth routes of the protocol, on the normalised request:
 * `POST <base>/refresh`, `POST <base>/signout`, `GET <base>/sessions`, `DELETE <base>/sessions/:id`,
 * `DELETE <base>/sessions?others=true`, and `GET /.well-known/jwks.json`.
 * Unknown paths resolve to null (the app's own routes, such as sign-in, may share the base path).
 */
import { NotFoundError, UnauthorisedError } from '../errors.js';
import type { LatchkeyHttp } from './core.js';
import { EXPOSED_HEADERS, REFRESH_GRACE_HEADER } from './front.js';
import { readCookies } from './cookies.js';
import { checkCsrf, CSRF_HEADER, originAllowed } from './csrf.js';
import { invalidRequest, refreshFailureClears } from './errors.js';
import type { TransportMode } from './options.js';
import type { HttpRequest } from './request.js';
import { HeaderList, jsonResponse, type HttpResponse } from './response.js';
import { toPublicSession } from './session.js';

type Route = 'refresh' | 'signout' | 'sessions' | 'session' | 'jwks';

const METHODS: Record<Route, readonly string[]> = {
  refresh: ['POST'],
  signout: ['POST'],
  sessions: ['GET', 'DELETE'],
  session: ['DELETE'],
  jwks: ['GET', 'HEAD'],
};

// Session ids are base64url; anything else cannot name a session, so it never reaches the store.
const SESSION_ID = /^[A-Za-z0-9_-]{1,128}$/;

function match(http: LatchkeyHttp, path: string): { route: Route; id?: string } | undefined {
  const { basePath, jwksPath } = http.settings;
  if (jwksPath !== undefined && path === jwksPath) return { route: 'jwks' };
  if (!path.startsWith(`${basePath}/`)) return undefined;
  const rest = path.slice(basePath.length);
  if (rest === '/refresh') return { route: 'refresh' };
  if (rest === '/signout') return { route: 'signout' };
  if (rest === '/sessions') return { route: 'sessions' };
  if (rest.startsWith('/sessions/') && rest.indexOf('/', '/sessions/'.length) === -1) return { route: 'session', id: rest.slice('/sessions/'.length) };
  return undefined;
}

/** CORS for an allowed cross-origin caller (never a reflected arbitrary origin), and no caching of token responses. */
function finish(http: LatchkeyHttp, request: HttpRequest, response: HttpResponse, route: Route): HttpResponse {
  const headers = response.headers.filter(([name]) => name !== 'cache-control');
  headers.push(['cache-control', route === 'jwks' && response.status === 200 ? 'public, max-age=300' : 'no-store']);
  // Every refresh answer, success or refusal, tells the SDK the grace window it must retry within (D1).
  // A successful refresh already has it from issueHeaders: sent once, not twice.
  if (route === 'refresh' && !headers.some(([name]) => name === REFRESH_GRACE_HEADER)) headers.push([REFRESH_GRACE_HEADER, String(http.engine.refreshGraceSeconds)]);
  if (route === 'jwks') return { ...response, headers };
  headers.push(['vary', 'Origin']);
  const origin = request.headers.get('origin');
  if (origin !== null && origin !== request.ownOrigin && originAllowed(origin, request, http.settings)) {
    headers.push(
      ['access-control-allow-origin', origin],
      ['access-control-allow-credentials', 'true'],
      ['access-control-expose-headers', EXPOSED_HEADERS],
    );
  }
  return { ...response, headers };
}

function preflight(http: LatchkeyHttp, request: HttpRequest, methods: readonly string[]): HttpResponse {
  const origin = request.headers.get('origin');
  const headers: [string, string][] = [['vary', 'Origin']];
  // An unknown origin gets no CORS headers, so the browser never sends the real request.
  if (origin !== null && originAllowed(origin, request, http.settings)) {
    headers.push(
      ['access-control-allow-origin', origin],
      ['access-control-allow-credentials', 'true'],
      ['access-control-allow-methods', methods.join(', ')],
      ['access-control-allow-headers', `content-type, authorization, ${CSRF_HEADER}, x-latchkey-mode`],
      ['access-control-max-age', '600'],
    );
  }
  return { status: 204, headers, body: undefined };
}

export async function handleRoute(http: LatchkeyHttp, request: HttpRequest): Promise<HttpResponse | null> {
  const matched = match(http, request.path);
  if (!matched) return null;
  const methods = METHODS[matched.route];
  if (request.method === 'OPTIONS' && matched.route !== 'jwks') return preflight(http, request, methods);
  let mode: TransportMode | undefined;
  let response: HttpResponse;
  try {
    if (!methods.includes(request.method)) {
      response = http.errorResponse(invalidRequest(`method not allowed; use ${methods.join(' or ')}`, 405));
      response.headers.push(['allow', methods.join(', ')]);
    } else if (matched.route === 'jwks') {
      response = jsonResponse(200, http.engine.jwks());
      if (request.method === 'HEAD') response.body = undefined;
    } else {
      mode = http.modeOf(request);
      response = await dispatch(http, request, matched.route, mode, matched.id);
    }
  } catch (error) {
    response = http.errorResponse(error, mode);
  }
  return finish(http, request, response, matched.route);
}

async function dispatch(http: LatchkeyHttp, request: HttpRequest, route: Route, mode: TransportMode, id: string | undefined): Promise<HttpResponse> {
  switch (route) {
    case 'refresh':
      return refresh(http, request, mode);
    case 'signout': {
      const sink = new HeaderList();
      const result = await http.signOut(request, sink);
      return jsonResponse(200, { revoked: result.revoked }, sink.entries);
    }
    case 'sessions':
      return request.method === 'GET' ? listSessions(http, request) : revokeOthers(http, request);
    case 'session':
      return revokeOne(http, request, id ?? '');
    default:
      throw invalidRequest('unknown route');
  }
}

async function refresh(http: LatchkeyHttp, request: HttpRequest, mode: TransportMode): Promise<HttpResponse> {
  const found = http.deviceOf(request);
  const device = found.userAgent !== undefined || found.ip !== undefined ? found : undefined;
  if (mode === 'header') {
    const body = await http.jsonBody(request);
    if (typeof body.refreshToken !== 'string') throw invalidRequest('refreshToken must be a string');
    const tokens = await http.engine.refresh(body.refreshToken, device ? { device } : undefined);
    return jsonResponse(200, http.tokenBody(tokens, mode), http.issueHeaders(tokens, tokens.session, mode));
  }
  const { names } = http.settings;
  const cookies = readCookies(request.headers.get('cookie'), [names.refresh, names.csrf]);
  // No session is known before rotation, so in token mode the token must merely be ours and match its cookie.
  checkCsrf(request, http.settings, { requireToken: true, cookieToken: cookies.get(names.csrf) });
  const refreshToken = cookies.get(names.refresh);
  try {
    if (refreshToken === undefined || refreshToken === '') throw new UnauthorisedError('missing', 'no refresh token');
    const tokens = await http.engine.refresh(refreshToken, device ? { device } : undefined);
    return jsonResponse(200, http.tokenBody(tokens, mode), http.issueHeaders(tokens, tokens.session, mode));
  } catch (error) {
    // A failed refresh ends the session on the client: the protocol says the cookies go.
    return http.errorResponse(error, mode, { clearCookies: refreshFailureClears(error) });
  }
}

async function listSessions(http: LatchkeyHttp, request: HttpRequest): Promise<HttpResponse> {
  const auth = await http.authenticate(request);
  if (!auth.ok) return auth.response;
  const sessions = await http.engine.listSessions(auth.session.userId);
  return jsonResponse(200, { sessions: sessions.map((s) => toPublicSession(s, auth.session.sessionId)) });
}

async function revokeOthers(http: LatchkeyHttp, request: HttpRequest): Promise<HttpResponse> {
  // Authentication first, so a caller without a session gets 401 rather than a lesson in the route's parameters.
  const auth = await http.authenticate(request);
  if (!auth.ok) return auth.response;
  if (request.query.get('others') !== 'true') throw invalidRequest('use DELETE sessions?others=true, or DELETE sessions/<id>');
  const revoked = await http.engine.revokeUserSessions(auth.session.userId, { exceptSessionId: auth.session.sessionId });
  return jsonResponse(200, { revoked });
}

async function revokeOne(http: LatchkeyHttp, request: HttpRequest, id: string): Promise<HttpResponse> {
  const sink = new HeaderList();
  const auth = await http.authenticate(request, {}, sink);
  if (!auth.ok) return auth.response;
  // Another user's session, a revoked one and a missing one all look the same: 404, so that session
  // ids of other users can be neither revoked nor probed.
  const target = SESSION_ID.test(id) ? await http.engine.getSession(id) : null;
  if (!target || target.userId !== auth.session.userId || target.revokedAt !== null) throw new NotFoundError('no such session');
  if (id === auth.session.sessionId) {
    const revoked = await auth.session.revoke();
    return jsonResponse(200, { revoked }, sink.entries);
  }
  const revoked = await http.engine.revokeSession(id, 'signout');
  return jsonResponse(200, { revoked });
}
