/**
 * The edge verifier: access-token verification with nothing but web standards (WebCrypto through
 * jose, fetch), for Bun, Deno, Cloudflare Workers (workerd), Next.js `proxy.ts` and any other
 * JavaScript runtime. It holds no store and no secret: keys come from the issuer's JWKS URL,
 * revocations from its revocation feed.
 *
 * Same checks and error codes as the engine, by construction: both run the gate of
 * tokens/compact-shape.ts and the claim checks of tokens/access-claims.ts; only the signature is
 * checked by jose over WebCrypto here, by node:crypto there (edge/verify-jws.ts). What differs
 * besides is where keys and revocations come from:
 * - keys: jose's remote JWKS set, cached (default 10 minutes); a token naming an unknown `kid` (a key
 *   the issuer published since) triggers one refetch, at most once per cooldown (default 30 s), never
 *   a fetch per request. latchkey publishes a key a day before it signs with it (`keyPublishLead`), so
 *   a cached set normally already holds the next key.
 * - revocations: the feed, polled on demand (edge/revocation-poller.ts): a revoked session is refused
 *   within one poll interval.
 */
import { createRemoteJWKSet, customFetch, errors as joseErrors, type CompactVerifyGetKey, type FetchImplementation } from 'jose';
import { InvalidDpopProofError, StoreUnavailableError, TokenTheftError, TryRefreshError, UnauthorisedError } from '../errors.js';
import { tokenMintedAt } from '../revocation/claims-epochs.js';
import { hasExpired } from '../tokens/access-claims.js';
import { VerifiedTokenCache } from '../tokens/verify-cache.js';
import type { VerifiedAccessToken } from '../types.js';
import { RevocationPoller } from './revocation-poller.js';
import { verifyAccessTokenWeb, type EdgeTokenSettings } from './verify-jws.js';

export interface EdgeRevocationFeedOptions {
  /** The feed's URL: `https://auth.example.com/auth/revocations` (HTTP layer) or `.../v1/revocations` (service). */
  url: string | URL;
  /** The bearer credential the feed accepts (the HTTP layer's `revocationFeed.credentials`, or a service API key). */
  credential: string;
  /**
   * Seconds between polls, and so the longest a revoked session's tokens are still accepted here.
   * Default 10. The engine's own instances learn of revocations at once over the bus; this is the
   * price of having none at the edge: choose it against the feed's load (one request per verifier
   * instance per interval, most of them answered 304).
   */
  pollInterval?: number | undefined;
}

export interface EdgeVerifierOptions {
  /** The issuer's JWKS, e.g. `https://auth.example.com/.well-known/jwks.json`. HTTPS in production. */
  jwksUrl: string | URL;
  /** Must equal the issuer's `issuer` option. */
  issuer: string;
  /** Must equal the issuer's `audience` option. Default `'latchkey'`, as there. */
  audience?: string | undefined;
  /**
   * The revocation feed to poll, or `false` to verify without revocation: then a revoked session's
   * access tokens stay valid until they expire (up to `accessTokenTtl`). Required, so that nobody
   * turns revocation off by omission.
   */
  revocations: EdgeRevocationFeedOptions | false;
  /**
   * The issuer's access-token lifetime, seconds. Default 900, as there. A token claiming a longer
   * life is refused (it was forged with a leaked key, to outlive the key's retirement): set this to
   * the issuer's `accessTokenTtl` when you changed it.
   */
  accessTokenTtl?: number | undefined;
  /** Leeway for `exp`, `nbf` and `iat`, seconds. Default 30, as the engine's. */
  clockTolerance?: number | undefined;
  /** Largest token accepted, bytes. Default 8192, as the engine's. */
  maxTokenBytes?: number | undefined;
  /** How long a fetched JWKS is used before it is fetched again, seconds. Default 600. */
  jwksCacheMaxAge?: number | undefined;
  /** The shortest time between two JWKS fetches caused by unknown `kid`s, seconds. Default 30. */
  jwksRefetchCooldown?: number | undefined;
  /** Verified tokens remembered (signature checks skipped on a repeat), 0 for none. Default 10 000, as the engine's. */
  verifyCacheSize?: number | undefined;
  /** Deadline of each JWKS or feed request, ms. Default 5000. */
  fetchTimeout?: number | undefined;
  /** The fetch to use. Default: the runtime's `fetch`. */
  fetch?: typeof fetch | undefined;
  /** Source of time. Default: the system clock. For tests. */
  clock?: { now(): number } | undefined;
}

export interface EdgeVerifier {
  /**
   * Verifies an access token: signature against the issuer's JWKS, claims, revocation. Throws
   * `TryRefreshError` (`TRY_REFRESH_TOKEN`) when it is ours and merely expired, `UnauthorisedError`
   * or `TokenTheftError` when refused, `StoreUnavailableError` when the JWKS or the feed cannot be read.
   */
  verify(token: unknown): Promise<VerifiedAccessToken>;
}

function integer(name: string, value: unknown, fallback: number, min: number, max: number): number {
  const v = value ?? fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)
    throw new TypeError(`latchkey edge option ${name} must be an integer from ${min} to ${max}`);
  return v;
}

function url(name: string, value: unknown): URL {
  try {
    const parsed = new URL(value as string | URL);
    if (parsed.protocol === 'https:' || parsed.protocol === 'http:') return parsed;
  } catch {
    // fall through to the TypeError
  }
  throw new TypeError(`latchkey edge option ${name} must be an http(s) URL`);
}

export function createEdgeVerifier(options: EdgeVerifierOptions): EdgeVerifier {
  if (typeof options !== 'object' || options === null) throw new TypeError('latchkey edge: options are required');
  if (typeof options.issuer !== 'string' || options.issuer.length === 0) throw new TypeError('latchkey edge option issuer is required');
  if (options.revocations === undefined) throw new TypeError('latchkey edge option revocations is required: the feed to poll, or false');
  const jwksUrl = url('jwksUrl', options.jwksUrl);
  const ttlSeconds = integer('accessTokenTtl', options.accessTokenTtl, 900, 1, 86_400);
  const clockToleranceSeconds = integer('clockTolerance', options.clockTolerance, 30, 0, 300);
  const settings: EdgeTokenSettings = {
    issuer: options.issuer,
    audience: options.audience ?? 'latchkey',
    ttlSeconds,
    clockToleranceSeconds,
    maxTokenBytes: integer('maxTokenBytes', options.maxTokenBytes, 8192, 256, 65_536),
  };
  const timeoutMs = integer('fetchTimeout', options.fetchTimeout, 5000, 1, 60_000);
  const doFetch: typeof fetch = options.fetch ?? ((input, init) => fetch(input, init));
  const clock = options.clock ?? { now: () => Date.now() };
  const cache = new VerifiedTokenCache(integer('verifyCacheSize', options.verifyCacheSize, 10_000, 0, 10_000_000));

  // The kids and algorithms of the last JWKS fetched, read from the same response jose reads: a
  // cached verification counts only while its key is still published, and a token whose `alg`
  // differs from its key's is refused as `wrong_algorithm`, exactly as the engine refuses it.
  let published = new Map<string, unknown>();
  const observingFetch: FetchImplementation = async (target, init) => {
    const response = await doFetch(target, init);
    if (response.status === 200) {
      const set = (await response.clone().json()) as { keys?: unknown };
      if (Array.isArray(set.keys)) {
        published = new Map(
          set.keys
            .filter((k): k is { kid: string; alg?: unknown } => typeof (k as { kid?: unknown })?.kid === 'string')
            .map((k) => [k.kid, k.alg]),
        );
      }
    }
    return response;
  };
  const remote = createRemoteJWKSet(jwksUrl, {
    cacheMaxAge: integer('jwksCacheMaxAge', options.jwksCacheMaxAge, 600, 0, 86_400) * 1000,
    cooldownDuration: integer('jwksRefetchCooldown', options.jwksRefetchCooldown, 30, 0, 86_400) * 1000,
    timeoutDuration: timeoutMs,
    [customFetch]: observingFetch,
  });
  // The engine's order: a token without a kid names no key; a kid of ours with another alg is the
  // wrong algorithm (the algorithm comes from the key, never from the token: RFC 8725 §3.1).
  const wrongAlgorithm = (kid: string, alg: unknown) => published.has(kid) && published.get(kid) !== alg;
  const resolveKey: CompactVerifyGetKey = async (header, token) => {
    if (typeof header.kid !== 'string') throw new UnauthorisedError('unknown_key', 'token names no key of the issuer');
    if (wrongAlgorithm(header.kid, header.alg)) throw new UnauthorisedError('wrong_algorithm', 'token algorithm does not match its key');
    try {
      return await remote(header, token);
    } catch (err) {
      if (err instanceof joseErrors.JWKSNoMatchingKey || err instanceof joseErrors.JWKSMultipleMatchingKeys) {
        // jose selects by kid and alg: a mismatched alg on a key fetched just now lands here.
        if (wrongAlgorithm(header.kid, header.alg))
          throw new UnauthorisedError('wrong_algorithm', 'token algorithm does not match its key');
        throw new UnauthorisedError('unknown_key', 'token names no key of the issuer');
      }
      throw new StoreUnavailableError("the issuer's key set could not be fetched", { cause: err });
    }
  };

  const revocationOptions = options.revocations;
  const poller =
    revocationOptions === false
      ? undefined
      : new RevocationPoller({
          url: url('revocations.url', revocationOptions.url),
          credential: credentialOf(revocationOptions.credential),
          intervalMs: integer('revocations.pollInterval', revocationOptions.pollInterval, 10, 1, 3600) * 1000,
          retainMs: (ttlSeconds + clockToleranceSeconds) * 1000,
          timeoutMs,
          fetch: doFetch,
        });

  return {
    async verify(token) {
      const now = clock.now();
      const cached = typeof token === 'string' ? cache.get(token) : undefined;
      let claims;
      if (cached && published.has(cached.kid)) {
        if (hasExpired(cached.claims, now, clockToleranceSeconds)) {
          cache.delete(token as string);
          throw new TryRefreshError();
        }
        claims = cached.claims;
      } else {
        if (cached) cache.delete(token as string); // its key is no longer published
        const verified = await verifyAccessTokenWeb(token, resolveKey, settings, now);
        claims = Object.freeze(verified.claims);
        cache.set(token as string, { claims, kid: verified.kid });
      }
      // A DPoP-bound token (RFC 9449: `cnf.jkt`) is valid only with a proof from its key, which this
      // verifier does not check: refused as the engine refuses it without a proof, never taken as a bearer token.
      if (claims.cnf !== undefined)
        throw new InvalidDpopProofError('missing', 'a DPoP-bound access token needs a DPoP proof, which the edge verifier does not check');
      if (poller) {
        await poller.ensureFresh(now);
        const denied = poller.denied(claims.sid);
        if (denied === 'theft') throw new TokenTheftError(claims.sid, claims.sub, 'revoked-for-theft');
        if (denied === 'revoked') throw new UnauthorisedError('revoked', 'session revoked');
        // Its claims changed after it was minted (setClaimValue): refresh for a token with the new ones.
        if (poller.claimsStale(claims.sub, claims.sid, tokenMintedAt(claims)))
          throw new TryRefreshError('session claims changed; refresh and retry');
      }
      return {
        sessionId: claims.sid,
        userId: claims.sub,
        claims,
        authTime: new Date(claims.auth_time * 1000),
        expiresAt: new Date(claims.exp * 1000),
      };
    },
  };
}

function credentialOf(value: unknown): string {
  if (typeof value !== 'string' || value.length === 0 || !/^[\x21-\x7e]+$/.test(value))
    throw new TypeError('latchkey edge option revocations.credential must be a non-empty printable string');
  return value;
}
