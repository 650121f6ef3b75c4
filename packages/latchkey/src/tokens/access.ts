/**
 * Access tokens: JWT profile of RFC 9068. Signed with the ring's active key; verified against our
 * own keys only, with the algorithm pinned by the key, `typ` compared as a media type, `iss` and
 * `aud` always checked, and time claims checked with a small leeway. Signatures are node:crypto's
 * (tokens/jws.ts), checked against jose's `jwtVerify` as a differential oracle; the rules are
 * jose's, in jose's order, plus latchkey's own (low s, claim types, `iat`, lifetime).
 */
import { TryRefreshError, UnauthorisedError } from '../errors.js';
import type { KeyRing, RingKey } from '../keys/ring.js';
import type { AccessTokenClaims, JsonObject } from '../types.js';
import { randomToken } from '../util/random.js';
import { splitCompactJws } from './compact.js';
import { isHighS, LOW_S_HEADER } from './ecdsa.js';
import { encodeSegment, parseClaimsSet, parseProtectedHeader, signCompact, typMatches, verifySignature } from './jws.js';

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

/** The encoded protected header per key: the same text for every token the key signs. */
const headerSegments = new WeakMap<RingKey, string>();

function accessHeaderSegment(key: RingKey): string {
  let segment = headerSegments.get(key);
  if (segment === undefined) {
    segment = encodeSegment({ alg: key.alg, typ: ACCESS_TOKEN_TYPE, kid: key.kid, ...(key.alg === 'ES256' ? { [LOW_S_HEADER]: true } : {}) });
    headerSegments.set(key, segment);
  }
  return segment;
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
  const payload = {
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
  const signKey = key.signKeyObject ?? (await ring.signingKeyObject(key));
  // ES256: signCompact returns the low-s form (tokens/ecdsa.ts), which the header announces.
  return { token: signCompact(key.alg, signKey, accessHeaderSegment(key), payload), expiresAt: exp * 1000 };
}

const REQUIRED_CLAIMS = ['iss', 'aud', 'sub', 'sid', 'jti', 'iat', 'exp', 'auth_time'];

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
  const parts = splitCompactJws(token, settings.maxTokenBytes);
  const header = parseProtectedHeader(parts.header);
  if (typeof header.kid !== 'string') throw new UnauthorisedError('unknown_key', 'token names no key of ours');
  let key = ring.get(header.kid);
  // A promise only when an unknown kid warrants a reload; a held kid stays synchronous.
  if (!key && onUnknownKid) {
    await onUnknownKid(header.kid);
    key = ring.get(header.kid);
  }
  if (!key) throw new UnauthorisedError('unknown_key', 'token names no key of ours');
  // The algorithm comes from the key, never from the token (RFC 8725 §2.1, §3.1).
  if (header.alg !== key.alg) throw new UnauthorisedError('wrong_algorithm', 'token algorithm does not match its key');
  if (!verifySignature(key.alg, key.verifyKeyObject, parts.signingInput, parts.signature)) {
    throw new UnauthorisedError('bad_signature', 'signature verification failed');
  }
  return { claims: checkAccessClaims(header, parseClaimsSet(header, parts.payload), parts.signature, settings, now), kid: key.kid };
}

/** The claim checks, after the signature: jose's `jwtVerify` options as latchkey sets them, then latchkey's own. */
function checkAccessClaims(
  header: Readonly<Record<string, unknown>>,
  claims: Record<string, unknown>,
  signature: Uint8Array,
  settings: AccessTokenSettings,
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
    if (typeof claims.nbf !== 'number' || claims.nbf > nowSeconds + tolerance) throw new UnauthorisedError('not_yet_valid', 'token not yet valid', { claim: 'nbf' });
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
  if (typeof checked.sub !== 'string' || typeof checked.sid !== 'string' || typeof checked.jti !== 'string' || typeof checked.auth_time !== 'number') {
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
