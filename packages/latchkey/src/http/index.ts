/**
 * `latchkey/http`: the transport core shared by every adapter. Web-standard and framework-free:
 * it takes a normalised request and returns a normalised response. Use it directly in a fetch
 * runtime (`http.fetch(request)`), or through `latchkey/adapters/{express,fastify,hono,node}`.
 */
export { createLatchkeyHttp, LatchkeyHttp, MODE_HEADER } from './core.js';
export type { ApiKeyAuthResult, AuthResult, CookieTokenBody, PrincipalResult, RequireAuthOptions, OptionalAuthResult, HeaderTokenBody, RequireSessionOptions, SignInInput, SignInResult, SignOutResult } from './core.js';
export { resolveHttpSettings } from './options.js';
export type { AuthRouteName, ClearSiteDataDirective, CookieNames, CookieOptions, CsrfOptions, ErrorRenderer, ErrorRendering, HttpModes, LatchkeyHttpOptions, ResolvedHttpSettings, RouteOverride, TransportMode } from './options.js';
export { MAX_COOKIE_BYTES, readCookies } from './cookies.js';
export { CSRF_HEADER, CSRF_TOKEN_HEADER, isSafeMethod } from './csrf.js';
export { ClaimValidationFailedError, CookieConflictError, HttpError, RateLimitedError } from './errors.js';
export type { ErrorContext } from './error-response.js';
export type { ErrorBody, HttpErrorCode, WireErrorCode } from './errors.js';
export { ACCESS_TOKEN_HEADER, decodeFrontToken, encodeFrontToken, EXPOSED_HEADERS, FRONT_HEADER, REFRESH_GRACE_HEADER } from './front.js';
export type { FrontToken } from './front.js';
export { normaliseRequest } from './request.js';
export type { HeaderReader, HttpRequest, Lazy, RawBody, RawRequestParts } from './request.js';
export { HeaderList, jsonResponse, toWebResponse, writeNodeResponse, nodeSink } from './response.js';
export type { HeaderSink, HttpResponse } from './response.js';
export type { LatchkeySession, PublicSession, SessionUpdateResult } from './session.js';
export { fromWebRequest, requestFromHeaders } from './web.js';
export type { WebRequestInfo } from './web.js';
export { fromNodeRequest } from './node-io.js';
export type { NodeRequestInfo } from './node-io.js';
export { API_KEY_HEADER, presentedApiKey, rateLimitHeaders, scopeClaim } from './api-key-auth.js';
export type { ApiKeyPrincipal, ApiKeyRateLimit, Principal, RequireApiKeyOptions, SessionPrincipal, SessionScopes } from './api-key-auth.js';
export { memoryRateLimiter, MemoryRateLimiter } from '../rate-limit/memory.js';
export type { MemoryRateLimiterOptions } from '../rate-limit/memory.js';
export type { RateLimitDecision, RateLimiter, RateLimitPolicy } from '../rate-limit/types.js';
