/**
 * The checks an access token (JWT profile of RFC 9068) must pass once its signature verified: the one
 * implementation, run by the engine (tokens/access.ts, node:crypto signatures) and by the edge
 * verifier (`latchkey/edge`, WebCrypto signatures through jose). Keeping both on this module is what
 * stops them from drifting apart: same rules, same order, same error codes and reasons.
 *
 * Web standards only (no `node:` import, no Buffer): it runs in Bun, Deno, workerd and Next.js's edge
 * runtime as it runs in Node. test/edge/runtimes.test.ts bundles it for esbuild's neutral platform.
 */
import { TryRefreshError, UnauthorisedError } from '../errors.js';
import type { AccessTokenClaims } from '../types.js';
import { isHighS, LOW_S_HEADER } from './ecdsa.js';

/** The `typ` header of access tokens (RFC 9068 §2.1). */
export const ACCESS_TOKEN_TYPE = 'at+jwt';

/** What the claim checks need to know of the issuer. */
export interface AccessClaimSettings {
  issuer: string;
  audience: string;
  /** The longest lifetime (exp - iat) a genuine token can have: the issuer's access-token TTL, seconds. */
  ttlSeconds: number;
  clockToleranceSeconds: number;
}

const REQUIRED_CLAIMS = ['iss', 'aud', 'sub', 'sid', 'jti', 'iat', 'exp', 'auth_time'];

/** jose's `typ` comparison: a media type, case-insensitive, `application/` implied (RFC 7515 §4.1.9). */
export function typMatches(typ: unknown, expected: string): boolean {
  if (typeof typ !== 'string') return false;
  const normalise = (value: string) => (value.includes('/') ? value.toLowerCase() : `application/${value.toLowerCase()}`);
  return normalise(typ) === normalise(expected);
}

/**
 * True once a verified token has expired: the rule below (exp <= now - tolerance), for callers that
 * answer from a cache of verified tokens and so must re-check expiry themselves.
 */
export function hasExpired(claims: AccessTokenClaims, now: number, clockToleranceSeconds: number): boolean {
  return claims.exp <= Math.floor(now / 1000) - clockToleranceSeconds;
}

/**
 * The claim checks, after the signature: jose's `jwtVerify` options as latchkey sets them, then
 * latchkey's own. `header` is the verified protected header, `claims` the parsed payload, `signature`
 * the decoded signature bytes (for the ES256 low-s rule).
 */
export function checkAccessClaims(
  header: Readonly<Record<string, unknown>>,
  claims: Record<string, unknown>,
  signature: Uint8Array,
  settings: AccessClaimSettings,
  now: number,
): AccessTokenClaims {
  if (!typMatches(header.typ, ACCESS_TOKEN_TYPE)) throw new UnauthorisedError('wrong_type', 'not an access token', { claim: 'typ' });
  // Presence first, in jose's order (iss, aud, then the required list from its end).
  for (const claim of PRESENCE_ORDER) {
    if (!Object.hasOwn(claims, claim)) throw claimInvalid(claim, 'missing');
  }
  if (claims.iss !== settings.issuer) throw claimInvalid('iss', 'check_failed');
  const aud = claims.aud;
  if (!(typeof aud === 'string' ? aud === settings.audience : Array.isArray(aud) && aud.includes(settings.audience))) {
    throw claimInvalid('aud', 'check_failed');
  }
  const tolerance = settings.clockToleranceSeconds;
  const nowSeconds = Math.floor(now / 1000);
  if (typeof claims.iat !== 'number') throw claimInvalid('iat', 'invalid');
  if (claims.nbf !== undefined) {
    // Any failed nbf check, its type included, reads as "not yet valid" (as jose's claim name maps).
    if (typeof claims.nbf !== 'number' || claims.nbf > nowSeconds + tolerance)
      throw new UnauthorisedError('not_yet_valid', 'token not yet valid', { claim: 'nbf' });
  }
  if (typeof claims.exp !== 'number') throw claimInvalid('exp', 'invalid');
  // The signature verified, so an expired token here is one of ours: the client should refresh.
  if (claims.exp <= nowSeconds - tolerance) throw new TryRefreshError();
  // ES256 malleability: a token minted low-s (marked) refuses the high-s twin of its signature.
  // Unmarked tokens predate the rule and expire within one access-token lifetime (tokens/ecdsa.ts).
  if (header.alg === 'ES256' && header[LOW_S_HEADER] === true && isHighS(signature)) {
    throw new UnauthorisedError('bad_signature', 'signature is not in the low-s form this token was issued with');
  }
  const checked = claims as unknown as AccessTokenClaims;
  if (
    typeof checked.sub !== 'string' ||
    typeof checked.sid !== 'string' ||
    typeof checked.jti !== 'string' ||
    typeof checked.auth_time !== 'number'
  ) {
    throw new UnauthorisedError('claim_invalid', 'access token claims have the wrong types');
  }
  // A token issued in the future was not issued by a correct clock of ours.
  if (checked.iat > nowSeconds + tolerance) {
    throw new UnauthorisedError('not_yet_valid', 'access token issued in the future', { claim: 'iat' });
  }
  // We never mint a token that lives longer than the TTL. One that claims to was forged with a
  // leaked key, to outlive the rotation that retires it: refuse it.
  if (checked.exp - checked.iat > settings.ttlSeconds) {
    throw new UnauthorisedError('claim_invalid', 'access token lifetime exceeds the configured TTL', { claim: 'exp' });
  }
  return checked;
}

/** jose checks presence over `[...requiredClaims, 'aud', 'iss']` reversed and de-duplicated. */
const PRESENCE_ORDER = [...new Set([...REQUIRED_CLAIMS, 'aud', 'iss'].reverse())];

function claimInvalid(claim: string, reason: 'missing' | 'check_failed' | 'invalid'): UnauthorisedError {
  return new UnauthorisedError('claim_invalid', `claim "${claim}" is invalid: ${reason}`, { claim });
}
