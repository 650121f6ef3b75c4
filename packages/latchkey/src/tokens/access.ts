/**
 * Access tokens: JWT profile of RFC 9068. Signed with the ring's active key; verified against our
 * own keys only, with the algorithm pinned by the key, `typ` compared as a media type, `iss` and
 * `aud` always checked, and time claims checked with a small leeway. All JOSE work is `jose`'s.
 */
import { errors as joseErrors, jwtVerify, SignJWT, type JWTHeaderParameters, type JWTPayload } from 'jose';
import { TryRefreshError, UnauthorisedError } from '../errors.js';
import type { KeyRing, RingKey } from '../keys/ring.js';
import type { AccessTokenClaims, JsonObject } from '../types.js';
import { randomToken } from '../util/random.js';
import { assertCompactJws } from './compact.js';
import { compactJwsHasHighS, LOW_S_HEADER, lowSCompactJws } from './ecdsa.js';

/** The `typ` header of access tokens (RFC 9068 §2.1). */
export const ACCESS_TOKEN_TYPE = 'at+jwt';

export interface AccessTokenSettings {
  issuer: string;
  audience: string;
  clientId: string | undefined;
  ttlSeconds: number;
  clockToleranceSeconds: number;
  maxTokenBytes: number;
}

export interface AccessTokenSubject {
  sessionId: string;
  userId: string;
  authTime: number;
  claims: JsonObject;
}

export async function signAccessToken(
  ring: KeyRing,
  key: RingKey,
  settings: AccessTokenSettings,
  subject: AccessTokenSubject,
  now: number,
): Promise<{ token: string; expiresAt: number }> {
  const iat = Math.floor(now / 1000);
  const exp = iat + settings.ttlSeconds;
  const payload: JWTPayload = {
    ...subject.claims,
    iss: settings.issuer,
    aud: settings.audience,
    sub: subject.userId,
    sid: subject.sessionId,
    jti: randomToken(16),
    iat,
    exp,
    auth_time: Math.floor(subject.authTime / 1000),
    ...(settings.clientId ? { client_id: settings.clientId } : {}),
  };
  const signed = await new SignJWT(payload)
    .setProtectedHeader({ alg: key.alg, typ: ACCESS_TOKEN_TYPE, kid: key.kid, ...(key.alg === 'ES256' ? { [LOW_S_HEADER]: true } : {}) })
    .sign(await ring.signingKey(key));
  // ES256: the one spelling of the signature we stand behind, low s (tokens/ecdsa.ts).
  const token = key.alg === 'ES256' ? lowSCompactJws(signed) : signed;
  return { token, expiresAt: exp * 1000 };
}

const REQUIRED_CLAIMS = ['iss', 'aud', 'sub', 'sid', 'jti', 'iat', 'exp', 'auth_time'];

/** Raised inside the key resolver; mapped to an UnauthorisedError below. */
class KeySelectionError extends Error {
  constructor(readonly reason: 'unknown_key' | 'wrong_algorithm') {
    super(reason);
  }
}

/**
 * Verifies signature, type and claims. Does not consult revocation: the engine does, after this,
 * because revocation changes while a verified token does not.
 *
 * @param onUnknownKid called when the token names a kid we do not hold; may reload the ring (another
 *   instance may have rotated), after which the kid is looked up once more.
 */
export async function verifyAccessTokenJws(
  token: unknown,
  ring: KeyRing,
  settings: AccessTokenSettings,
  now: number,
  onUnknownKid?: (kid: string) => Promise<void>,
): Promise<{ claims: AccessTokenClaims; kid: string }> {
  assertCompactJws(token, settings.maxTokenBytes);
  let kid = '';
  const select = (key: RingKey | undefined, alg: unknown) => {
    if (!key) throw new KeySelectionError('unknown_key');
    // The algorithm comes from the key, never from the token (RFC 8725 §2.1, §3.1).
    if (alg !== key.alg) throw new KeySelectionError('wrong_algorithm');
    kid = key.kid;
    return key.verifyKey;
  };
  // Synchronous on the hot path (a held kid); a promise only when an unknown kid warrants a reload.
  const resolveKey = (header: JWTHeaderParameters) => {
    if (typeof header.kid !== 'string') throw new KeySelectionError('unknown_key');
    const held = ring.get(header.kid);
    if (held || !onUnknownKid) return select(held, header.alg);
    const wanted = header.kid;
    return onUnknownKid(wanted).then(() => select(ring.get(wanted), header.alg));
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
    // ES256 malleability: a token minted low-s (marked) refuses the high-s twin of its signature.
    // Unmarked tokens predate the rule and expire within one access-token lifetime (tokens/ecdsa.ts).
    if (protectedHeader.alg === 'ES256' && protectedHeader[LOW_S_HEADER] === true && compactJwsHasHighS(token)) {
      throw new UnauthorisedError('bad_signature', 'signature is not in the low-s form this token was issued with');
    }
    const claims = payload as AccessTokenClaims;
    if (typeof claims.sub !== 'string' || typeof claims.sid !== 'string' || typeof claims.jti !== 'string' || typeof claims.auth_time !== 'number') {
      throw new UnauthorisedError('claim_invalid', 'access token claims have the wrong types');
    }
    // jose accepts any iat; a token issued in the future was not issued by a correct clock of ours.
    if (claims.iat > Math.floor(now / 1000) + settings.clockToleranceSeconds) {
      throw new UnauthorisedError('not_yet_valid', 'access token issued in the future', { claim: 'iat' });
    }
    // We never mint a token that lives longer than the TTL. One that claims to was forged with a
    // leaked key, to outlive the rotation that retires it: refuse it.
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
  if (err instanceof KeySelectionError) {
    return new UnauthorisedError(err.reason, err.reason === 'unknown_key' ? 'token names no key of ours' : 'token algorithm does not match its key');
  }
  // jose checks the signature before the claims, so an expired token here is one of ours.
  if (err instanceof joseErrors.JWTExpired) return new TryRefreshError();
  if (err instanceof joseErrors.JWTClaimValidationFailed) {
    if (err.claim === 'typ') return new UnauthorisedError('wrong_type', 'not an access token', { cause: err, claim: 'typ' });
    if (err.claim === 'nbf') return new UnauthorisedError('not_yet_valid', 'token not yet valid', { cause: err, claim: 'nbf' });
    return new UnauthorisedError('claim_invalid', `claim "${err.claim}" is invalid: ${err.reason}`, { cause: err, claim: err.claim });
  }
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) return new UnauthorisedError('bad_signature', 'signature verification failed', { cause: err });
  if (err instanceof joseErrors.JOSEAlgNotAllowed) return new UnauthorisedError('wrong_algorithm', 'algorithm not allowed', { cause: err });
  // JWSInvalid, JWTInvalid, JOSENotSupported, decoding errors: the token is not something we issued.
  return new UnauthorisedError('malformed', 'token could not be parsed', { cause: err });
}
