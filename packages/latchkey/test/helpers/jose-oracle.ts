/**
 * The differential oracle for latchkey's node:crypto verification (src/tokens/jws.ts): the same
 * access-token rules expressed through jose's `jwtVerify` (WebCrypto), with jose's errors mapped to
 * latchkey's refusal reasons. This was the production verifier before the fast path; it stays here,
 * unchanged in substance, so that every rule of the fast path is checked against jose's reading.
 */
import { errors as joseErrors, jwtVerify, type JWTHeaderParameters } from 'jose';
import { TryRefreshError, UnauthorisedError } from 'latchkey';
import { ACCESS_TOKEN_TYPE, type AccessTokenSettings } from '../../src/tokens/access.js';
import { assertCompactJws } from '../../src/tokens/compact.js';
import { compactJwsHasHighS, LOW_S_HEADER } from '../../src/tokens/ecdsa.js';
import type { KeyRing, RingKey } from '../../src/keys/ring.js';
import type { AccessTokenClaims } from '../../src/types.js';

const REQUIRED_CLAIMS = ['iss', 'aud', 'sub', 'sid', 'jti', 'iat', 'exp', 'auth_time'];

class KeySelectionError extends Error {
  constructor(readonly reason: 'unknown_key' | 'wrong_algorithm') {
    super(reason);
  }
}

export async function joseVerifyAccessToken(
  token: unknown,
  ring: KeyRing,
  settings: AccessTokenSettings,
  now: number,
): Promise<{ claims: AccessTokenClaims; kid: string }> {
  assertCompactJws(token, settings.maxTokenBytes);
  let kid = '';
  const resolveKey = (header: JWTHeaderParameters) => {
    const key: RingKey | undefined = typeof header.kid === 'string' ? ring.get(header.kid) : undefined;
    if (!key) throw new KeySelectionError('unknown_key');
    if (header.alg !== key.alg) throw new KeySelectionError('wrong_algorithm');
    kid = key.kid;
    return key.verifyKey;
  };
  try {
    const { payload, protectedHeader } = await jwtVerify(token, resolveKey, {
      typ: ACCESS_TOKEN_TYPE,
      issuer: settings.issuer,
      audience: settings.audience,
      clockTolerance: settings.clockToleranceSeconds,
      currentDate: new Date(now),
      requiredClaims: REQUIRED_CLAIMS,
    });
    if (protectedHeader.alg === 'ES256' && protectedHeader[LOW_S_HEADER] === true && compactJwsHasHighS(token)) {
      throw new UnauthorisedError('bad_signature', 'signature is not in the low-s form this token was issued with');
    }
    const claims = payload as AccessTokenClaims;
    if (
      typeof claims.sub !== 'string' ||
      typeof claims.sid !== 'string' ||
      typeof claims.jti !== 'string' ||
      typeof claims.auth_time !== 'number'
    ) {
      throw new UnauthorisedError('claim_invalid', 'access token claims have the wrong types');
    }
    if (claims.iat > Math.floor(now / 1000) + settings.clockToleranceSeconds) {
      throw new UnauthorisedError('not_yet_valid', 'access token issued in the future', { claim: 'iat' });
    }
    if (claims.exp - claims.iat > settings.ttlSeconds) {
      throw new UnauthorisedError('claim_invalid', 'access token lifetime exceeds the configured TTL', { claim: 'exp' });
    }
    return { claims, kid };
  } catch (err) {
    throw toVerificationError(err);
  }
}

function toVerificationError(err: unknown): Error {
  if (err instanceof UnauthorisedError) return err;
  if (err instanceof KeySelectionError) return new UnauthorisedError(err.reason, err.reason);
  if (err instanceof joseErrors.JWTExpired) return new TryRefreshError();
  if (err instanceof joseErrors.JWTClaimValidationFailed) {
    if (err.claim === 'typ') return new UnauthorisedError('wrong_type', 'not an access token', { claim: 'typ' });
    if (err.claim === 'nbf') return new UnauthorisedError('not_yet_valid', 'token not yet valid', { claim: 'nbf' });
    return new UnauthorisedError('claim_invalid', `claim "${err.claim}" is invalid: ${err.reason}`, { claim: err.claim });
  }
  if (err instanceof joseErrors.JWSSignatureVerificationFailed)
    return new UnauthorisedError('bad_signature', 'signature verification failed');
  if (err instanceof joseErrors.JOSEAlgNotAllowed) return new UnauthorisedError('wrong_algorithm', 'algorithm not allowed');
  // JWSInvalid, JWTInvalid, JOSENotSupported, decoding errors.
  if (err instanceof joseErrors.JOSEError) return new UnauthorisedError('malformed', 'token could not be parsed');
  // Anything else is a bug of the oracle or of jose: surface it, never fold it into a refusal.
  return err instanceof Error ? err : new Error(String(err));
}
