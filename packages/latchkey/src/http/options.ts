/**
 * Options of the HTTP layer, each with its default and the reason for it, and their resolution into
 * the settings every adapter shares. Every default is the safe one: loosening is an explicit choice.
 */
import type { VerifiedApiKey } from '../api-keys/types.js';
import type { RateLimiter, RateLimitPolicy } from '../rate-limit/types.js';
import { systemClock, type Clock } from '../clock.js';
import type { ErrorBody } from './errors.js';
import type { HttpRequest } from './request.js';
import type { HttpResponse } from './response.js';
import type { TransportMode } from './transport-mode.js';

/**
 * A fixed policy, or one per key (e.g. from its metadata); null: no limit for that key. Declared here,
 * with the option that takes it, so that the options never import the API-key code that reads them.
 */
export type ApiKeyRateLimit = RateLimitPolicy | ((key: VerifiedApiKey) => RateLimitPolicy | null);

/** Which transports the server accepts. */
export type HttpModes = 'cookie' | 'header' | 'both';

export type { TransportMode };

/**
 * CSRF defence for cookie-mode requests.
 * - `header` (default): every state-changing request must carry `X-Latchkey-CSRF: 1`. A cross-site form
 *   cannot set a header, and a cross-site `fetch` that sets one needs a CORS preflight we never grant
 *   to an origin outside `allowedOrigins` (OWASP CSRF cheat sheet, "custom request headers").
 * - `token`: as `header`, but the header's value must be an anti-CSRF token bound to the session
 *   (HMAC of the session id under `secret`), issued in a readable `__Host-lk_csrf` cookie and the
 *   `X-Latchkey-CSRF-Token` response header. For apps that want the synchroniser-token pattern on top.
 */
export type CsrfOptions =
  | { mode: 'header' }
  | {
      mode: 'token';
      /** At least 32 bytes; the same on every instance. Keep it apart from the engine's master secret. */
      secret: string | Uint8Array;
    };

/** `Clear-Site-Data` directives (W3C Clear Site Data §3.1). */
export type ClearSiteDataDirective = 'cache' | 'cookies' | 'storage' | 'executionContexts' | '*';

export interface CookieOptions {
  /**
   * Prefix of the cookie names after the `__Host-`/`__Secure-` prefix. Default `'lk_'`, giving
   * `__Host-lk_access`, `__Secure-lk_refresh` and `lk_front`. Change it to run two latchkey apps on
   * one host. Letters, digits, `_` and `-` only.
   */
  prefix?: string | undefined;
  /**
   * Share the session with sibling hosts under a parent domain (`example.com` for `app.example.com`
   * and `api.example.com`). Default: none (host-only cookies). With a domain, the access cookie can no
   * longer be `__Host-` (that prefix forbids `Domain`), so it becomes `__Secure-<prefix>access`: any
   * host under that domain can then overwrite ("toss") it, which is why this is opt-in. Leave unset
   * unless you need it.
   */
  domain?: string | undefined;
  /**
   * SameSite of the access and front cookies. Default `'lax'`: sent on top-level navigations (a link
   * from elsewhere opens the app signed in) but not on cross-site subresource or form POSTs. `'strict'`
   * is stricter still. `'none'` is not offered: cookie auth across sites is a CSRF surface; use header
   * mode for that. The refresh cookie is always `Strict`.
   */
  sameSite?: 'lax' | 'strict' | undefined;
  /**
   * Domains an older configuration set cookies on. Whenever latchkey clears its cookies (sign-out, a
   * failed refresh, duplicate cookies) it also clears them on each of these domains, so stale copies
   * that would shadow or duplicate the current ones go away. Default: none.
   */
  staleDomains?: readonly string[] | undefined;
}

export interface LatchkeyHttpOptions {
  /** Where the auth routes live. Default `'/auth'`. Must start with `/` and not end with one. */
  basePath?: string | undefined;
  /**
   * Transports accepted. Default `'both'`: browsers use cookies, native apps and CLIs opt into header
   * mode per request with `X-Latchkey-Mode: header`. Set `'cookie'` for a browser-only app, so that
   * bearer tokens are never accepted.
   */
  modes?: HttpModes | undefined;
  cookies?: CookieOptions | undefined;
  /**
   * Origins (scheme://host[:port]) other than the request's own that may make credentialed,
   * state-changing requests and receive CORS headers on the auth routes. Default: none, i.e. only the
   * request's own origin. Wildcards are refused: reflecting any origin with credentials defeats CSRF
   * protection. Behind a TLS-terminating proxy, list your public origin here (or make the framework
   * trust the proxy) so that the own-origin check sees `https`.
   */
  allowedOrigins?: readonly string[] | undefined;
  /**
   * The origin (scheme://host[:port]) clients address, for the DPoP `htu` check (RFC 9449 §4.3 step 9):
   * a proof names the URL the client sent it to, and behind a TLS-terminating proxy the request this
   * server sees says `http://internal:3000`. Default: the request's own origin as the framework reports
   * it, which is right when the server is addressed directly or the framework trusts the proxy's
   * forwarded headers. Set it rather than trusting `X-Forwarded-*` from anyone: a fixed value cannot be
   * spoofed by a client. Paths are compared as the server sees them, so a proxy must not rewrite them.
   */
  publicOrigin?: string | undefined;
  /** Default `{ mode: 'header' }`. See {@link CsrfOptions}. */
  csrf?: CsrfOptions | undefined;
  /**
   * Send `Clear-Site-Data` on sign-out. Default `false`: the `"cookies"` directive clears every cookie
   * of the origin, the app's own included, which is only right when the app wants that. `true` sends
   * `"cache", "cookies", "storage"`; a list sends exactly those directives.
   */
  clearSiteData?: boolean | readonly ClearSiteDataDirective[] | undefined;
  /** Path of the public JWKS. Default `'/.well-known/jwks.json'`; `false` serves none. */
  jwksPath?: string | false | undefined;
  /**
   * Serve the revocation feed at `GET <base>/revocations` for edge verifiers (`latchkey/edge`), to
   * callers presenting one of `credentials` as `Authorization: Bearer <credential>` (each at least 32
   * characters; list two while rotating). Default: not served, since session ids and revocation times
   * are nobody's business but your verifiers'.
   */
  revocationFeed?: { credentials: readonly string[] } | undefined;
  /**
   * DBSC, Device Bound Session Credentials (W3C webappsec-dbsc), for cookie mode: after sign-in the
   * browser registers a key that never leaves the device (`POST <base>/dbsc/register`), and renews
   * the access cookie only by proving possession of it (`POST <base>/refresh/dbsc`); a session that
   * registered a key is never again refreshed with the refresh cookie alone, so a copied cookie jar
   * dies with its access cookie. Browsers without DBSC ignore the registration header and keep
   * today's behaviour. Default `false`: it adds two routes and a response header, and a browser that
   * registered a key loses its session if that key is lost (cleared site data ends it anyway), so it
   * is the app's choice. Needs cookie mode (`modes` other than `'header'`). See docs/security.md.
   */
  dbsc?: boolean | undefined;
  /** Largest request body the auth routes read, bytes. Default 16 384: a refresh request is under 100. */
  maxBodyBytes?: number | undefined;
  /** Source of time for the front token's `now` and cookie lifetimes. Default: the system clock. Tests pass the engine's clock. */
  clock?: Clock | undefined;
  /**
   * Called with unexpected errors (answered with a generic 500). Default: `console.error`. Errors
   * never contain tokens, but the hook lets you route them to your logger.
   */
  onError?: ((error: unknown) => void) | undefined;
  /**
   * Where API-key rate-limit buckets live (`requireApiKey`/`requireAuth` with a `rateLimit`).
   * Default: in memory, per instance; `redisRateLimiter()` (`latchkey/rate-limit/redis`) shares one
   * limit across instances.
   */
  rateLimiter?: RateLimiter | undefined;
  /**
   * Rate limit for every API-key request, as a token bucket (`{ limit, windowSeconds }`), or one per
   * key (`(key) => policy | null`, e.g. from its metadata). Routes may override it. Default: none,
   * since a limit that suits one API is wrong for another.
   */
  apiKeyRateLimit?: ApiKeyRateLimit | undefined;
  /**
   * Per auth route: `false` turns it off (the request falls through to the app), or an override
   * that wraps it (`before`, `after`) or replaces it (`replace`, which may call the built-in through
   * `builtIn`). Default: every route as built in. See docs/http.md, "Extension points".
   */
  routes?: Partial<Record<AuthRouteName, false | RouteOverride>> | undefined;
  /**
   * Renders error responses your way (another JSON shape, an HTML page for a browser navigation).
   * Return undefined to keep latchkey's JSON. The status, challenge, `Cache-Control` and cleared
   * cookies stay unless you replace them: they are the protocol. Default: latchkey's JSON.
   */
  renderError?: ErrorRenderer | undefined;
}

/** The auth routes, by name: `POST refresh`, `POST signout`, `GET|DELETE sessions`, `DELETE sessions/:id`, the JWKS, the revocation feed. */
export type AuthRouteName = 'refresh' | 'signout' | 'sessions' | 'session' | 'jwks' | 'revocations' | 'dbsc-register' | 'dbsc-refresh';

/** Wraps or replaces one auth route. Errors thrown here are answered like the route's own. */
export interface RouteOverride {
  /** Runs first; return a response to answer with it instead of the route (e.g. a maintenance 503). */
  before?: ((request: HttpRequest) => HttpResponse | undefined | Promise<HttpResponse | undefined>) | undefined;
  /** Replaces the route. `builtIn()` runs latchkey's own, so a replacement can still wrap it. */
  replace?: ((request: HttpRequest, builtIn: () => Promise<HttpResponse>) => HttpResponse | Promise<HttpResponse>) | undefined;
  /** Runs last with the response about to be sent (success or refusal); returns the one to send. */
  after?: ((request: HttpRequest, response: HttpResponse) => HttpResponse | Promise<HttpResponse>) | undefined;
}

/** What an error renderer gets: latchkey's answer, and the request when it is known. */
export interface ErrorRendering {
  error: unknown;
  status: number;
  body: ErrorBody;
  request: HttpRequest | undefined;
  mode: TransportMode | undefined;
}

export type ErrorRenderer = (rendering: ErrorRendering) => { status?: number; contentType: string; body: string } | undefined;

export interface CookieNames {
  access: string;
  refresh: string;
  front: string;
  csrf: string;
}

export interface ResolvedHttpSettings {
  basePath: string;
  refreshPath: string;
  modes: { cookie: boolean; header: boolean };
  names: CookieNames;
  cookieDomain: string | undefined;
  sameSite: 'lax' | 'strict';
  staleDomains: readonly string[];
  allowedOrigins: ReadonlySet<string>;
  /** The `publicOrigin` option; undefined: each request's own origin. */
  publicOrigin: string | undefined;
  csrf: { mode: 'header' } | { mode: 'token'; key: Uint8Array };
  clearSiteData: string | undefined;
  jwksPath: string | undefined;
  /** The feed's accepted bearer credentials, as bytes; undefined when the feed is not served. */
  revocationFeed: { credentials: readonly Uint8Array<ArrayBuffer>[] } | undefined;
  /** DBSC routes and the registration header are on. */
  dbsc: boolean;
  maxBodyBytes: number;
  clock: Clock;
  onError: (error: unknown) => void;
  routes: Partial<Record<AuthRouteName, false | RouteOverride>>;
  renderError: ErrorRenderer | undefined;
}

const PREFIX = /^[A-Za-z0-9_-]{0,32}$/;
// A registrable host name: labels of letters, digits and hyphens. No scheme, port, path or leading dot.
const DOMAIN = /^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
const PATH = /^(\/[A-Za-z0-9._~-]+)+$/;

function validDomain(name: string, value: unknown): string {
  if (typeof value !== 'string' || !DOMAIN.test(value)) throw new TypeError(`latchkey http option ${name} must be a bare domain such as example.com`);
  return value.toLowerCase();
}

function validOrigin(value: unknown): string {
  if (typeof value !== 'string') throw new TypeError('latchkey http option allowedOrigins must hold strings');
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new TypeError('latchkey http option allowedOrigins must hold origins such as https://app.example.com');
  }
  // Exact origins only: no wildcard, path, or trailing slash, so a comparison is a string equality.
  if (url.origin !== value || (url.protocol !== 'https:' && url.protocol !== 'http:')) {
    throw new TypeError('latchkey http option allowedOrigins must hold origins such as https://app.example.com (no path, no wildcard)');
  }
  return value;
}

/** The same rule as allowedOrigins' entries (an exact http(s) origin), with this option's name in the error. */
function validPublicOrigin(value: unknown): string {
  try {
    return validOrigin(value);
  } catch {
    throw new TypeError('latchkey http option publicOrigin must be an origin such as https://app.example.com (no path, no trailing slash)');
  }
}

function secretBytes(secret: unknown): Uint8Array {
  const bytes = typeof secret === 'string' ? new TextEncoder().encode(secret) : secret instanceof Uint8Array ? secret : undefined;
  if (!bytes || bytes.byteLength < 32) throw new TypeError('latchkey http option csrf.secret must be at least 32 bytes');
  return new Uint8Array(bytes);
}

function resolveFeed(option: LatchkeyHttpOptions['revocationFeed']): ResolvedHttpSettings['revocationFeed'] {
  if (option === undefined) return undefined;
  const credentials = option?.credentials;
  if (!Array.isArray(credentials) || credentials.length === 0) throw new TypeError('latchkey http option revocationFeed.credentials must list at least one credential');
  return {
    credentials: credentials.map((c: unknown) => {
      // A guessable credential would hand out the feed; 32 characters is what `openssl rand -base64 24` gives.
      if (typeof c !== 'string' || c.length < 32) throw new TypeError('latchkey http option revocationFeed.credentials must hold strings of at least 32 characters');
      return new TextEncoder().encode(c);
    }),
  };
}

export function resolveHttpSettings(options: LatchkeyHttpOptions = {}): ResolvedHttpSettings {
  const basePath = options.basePath ?? '/auth';
  if (typeof basePath !== 'string' || !PATH.test(basePath)) throw new TypeError('latchkey http option basePath must look like /auth');
  const modes = options.modes ?? 'both';
  if (modes !== 'cookie' && modes !== 'header' && modes !== 'both') throw new TypeError("latchkey http option modes must be 'cookie', 'header' or 'both'");
  const cookies = options.cookies ?? {};
  const prefix = cookies.prefix ?? 'lk_';
  if (typeof prefix !== 'string' || !PREFIX.test(prefix)) throw new TypeError('latchkey http option cookies.prefix may hold letters, digits, _ and - only');
  const cookieDomain = cookies.domain === undefined ? undefined : validDomain('cookies.domain', cookies.domain);
  const sameSite = cookies.sameSite ?? 'lax';
  if (sameSite !== 'lax' && sameSite !== 'strict') throw new TypeError("latchkey http option cookies.sameSite must be 'lax' or 'strict'");
  const staleDomains = (cookies.staleDomains ?? []).map((d) => validDomain('cookies.staleDomains', d));
  const csrfOption = options.csrf ?? { mode: 'header' };
  let csrf: ResolvedHttpSettings['csrf'];
  if (csrfOption.mode === 'header') csrf = { mode: 'header' };
  else if (csrfOption.mode === 'token') csrf = { mode: 'token', key: secretBytes(csrfOption.secret) };
  else throw new TypeError("latchkey http option csrf.mode must be 'header' or 'token'");
  let clearSiteData: string | undefined;
  if (options.clearSiteData === true) clearSiteData = '"cache", "cookies", "storage"';
  else if (Array.isArray(options.clearSiteData) && options.clearSiteData.length > 0) {
    const allowed = new Set(['cache', 'cookies', 'storage', 'executionContexts', '*']);
    for (const d of options.clearSiteData) if (!allowed.has(d)) throw new TypeError('latchkey http option clearSiteData holds an unknown directive');
    clearSiteData = options.clearSiteData.map((d) => `"${d}"`).join(', ');
  }
  const jwksPath = options.jwksPath === false ? undefined : (options.jwksPath ?? '/.well-known/jwks.json');
  if (jwksPath !== undefined && !PATH.test(jwksPath)) throw new TypeError('latchkey http option jwksPath must be a path such as /.well-known/jwks.json');
  const revocationFeed = resolveFeed(options.revocationFeed);
  const dbsc = options.dbsc ?? false;
  if (typeof dbsc !== 'boolean') throw new TypeError('latchkey http option dbsc must be a boolean');
  if (dbsc && modes === 'header') throw new TypeError("latchkey http option dbsc binds cookies: it needs modes 'cookie' or 'both'");
  const maxBodyBytes = options.maxBodyBytes ?? 16_384;
  if (!Number.isInteger(maxBodyBytes) || maxBodyBytes < 256 || maxBodyBytes > 1_048_576) throw new TypeError('latchkey http option maxBodyBytes must be an integer from 256 to 1048576');
  // The access cookie is `__Host-` (no Domain, Path=/, Secure: cannot be set by a sibling host) unless
  // a shared domain is asked for, which that prefix forbids.
  const hostPrefix = cookieDomain === undefined ? '__Host-' : '__Secure-';
  return {
    basePath,
    refreshPath: `${basePath}/refresh`,
    modes: { cookie: modes !== 'header', header: modes !== 'cookie' },
    names: {
      access: `${hostPrefix}${prefix}access`,
      // Path-scoped to the refresh route, so `__Host-` (which demands Path=/) is impossible.
      refresh: `__Secure-${prefix}refresh`,
      front: `${prefix}front`,
      csrf: `${hostPrefix}${prefix}csrf`,
    },
    cookieDomain,
    sameSite,
    staleDomains,
    allowedOrigins: new Set((options.allowedOrigins ?? []).map(validOrigin)),
    publicOrigin: options.publicOrigin === undefined ? undefined : validPublicOrigin(options.publicOrigin),
    csrf,
    clearSiteData,
    jwksPath,
    revocationFeed,
    dbsc,
    maxBodyBytes,
    clock: options.clock ?? systemClock,
    onError: options.onError ?? ((error: unknown) => console.error('latchkey http: unexpected error', error)),
    routes: resolveRoutes(options.routes),
    renderError: resolveRenderer(options.renderError),
  };
}

const ROUTE_NAMES: readonly AuthRouteName[] = ['refresh', 'signout', 'sessions', 'session', 'jwks', 'revocations', 'dbsc-register', 'dbsc-refresh'];

function resolveRoutes(routes: LatchkeyHttpOptions['routes']): Partial<Record<AuthRouteName, false | RouteOverride>> {
  if (routes === undefined) return {};
  if (typeof routes !== 'object' || routes === null) throw new TypeError('latchkey http option routes must be an object');
  for (const [name, override] of Object.entries(routes)) {
    // A typo must not leave a route on that the app meant to turn off.
    if (!ROUTE_NAMES.includes(name as AuthRouteName)) throw new TypeError(`latchkey http option routes: unknown route ${name}`);
    if (override === false || override === undefined) continue;
    if (typeof override !== 'object' || override === null) throw new TypeError(`latchkey http option routes.${name} must be false or an object`);
    for (const [key, fn] of Object.entries(override)) {
      if (!['before', 'replace', 'after'].includes(key)) throw new TypeError(`latchkey http option routes.${name}: unknown key ${key}`);
      if (fn !== undefined && typeof fn !== 'function') throw new TypeError(`latchkey http option routes.${name}.${key} must be a function`);
    }
  }
  return { ...routes };
}

function resolveRenderer(renderer: unknown): ErrorRenderer | undefined {
  if (renderer !== undefined && typeof renderer !== 'function') throw new TypeError('latchkey http option renderError must be a function');
  return renderer as ErrorRenderer | undefined;
}
