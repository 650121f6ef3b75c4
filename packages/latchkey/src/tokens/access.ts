/**
 * Access tokens: JWT profile of RFC 9068. Signed with the ring's active key; verified against our
 * own keys only, with the algorithm pinned by the key, `typ` compared as a media type, `iss` and
 * `aud` always checked, and time claims checked with a small leeway. Signatures are node:crypto's
 * (tokens/jws.ts), checked against jose's `jwtVerify` as a differential oracle; the rules are
 * jose's, in jose's order, plus latchkey's own (low s, claim types, `iat`, lifetime); the claim
 * checks live in access-claims.ts, shared with the edge verifier (`latchkey/edge`).
 */
import { UnauthorisedError } from '../errors.js';
import type { KeyRing, RingKey } from '../keys/ring.js';
import type { AccessTokenClaims, JsonObject } from '../types.js';
import { randomToken } from '../util/random.js';
import { splitCompactJws } from './compact.js';
import { ACCESS_TOKEN_TYPE, checkAccessClaims, type AccessClaimSettings } from './access-claims.js';
import { LOW_S_HEADER } from './ecdsa.js';
import { encodeSegment, parseClaimsSet, parseProtectedHeader, signCompact, verifySignature } from './jws.js';

export { ACCESS_TOKEN_TYPE };

export interface AccessTokenSettings extends AccessClaimSettings {
  clientId: string | undefined;
  maxTokenBytes: number;
}

export interface AccessTokenSubject {
  sessionId: string;
  userId: string;
  authTime: number;
  claims: JsonObject;
  /**
   * `lk_iat_ms` when it must be later than `now`: a claims epoch of this session taken in this very
   * millisecond (at most 1 ms ahead). Default `now`.
   */
  mintedAtMs?: number | undefined;
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
    // The mint time to the millisecond: a claims epoch (revocation/claims-epochs.ts) must tell a token
    // minted just before a claim change from one minted just after it in the same second.
    lk_iat_ms: Math.floor(Math.max(now, subject.mintedAtMs ?? now)),
    ...(settings.clientId ? { client_id: settings.clientId } : {}),
  };
  const signKey = key.signKeyObject ?? (await ring.signingKeyObject(key));
  // ES256: signCompact returns the low-s form (tokens/ecdsa.ts), which the header announces.
  return { token: signCompact(key.alg, signKey, accessHeaderSegment(key), payload), expiresAt: exp * 1000 };
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
