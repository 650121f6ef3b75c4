/**
 * ID ("front") tokens: the readable half of the OIDC split. The UI decodes them for display; no
 * server ever accepts one as a credential. Their `typ` (`JWT`) and audience differ from the access
 * token's, so the rules for the two kinds are mutually exclusive (RFC 8725 §3.12).
 */
import type { KeyRing, RingKey } from '../keys/ring.js';
import type { JsonObject } from '../types.js';
import { LOW_S_HEADER } from './ecdsa.js';
import { encodeSegment, signCompact } from './jws.js';

export const ID_TOKEN_TYPE = 'JWT';

export interface IdTokenSettings {
  issuer: string;
  audience: string;
}

/** The encoded protected header per key: the same text for every ID token the key signs. */
const headerSegments = new WeakMap<RingKey, string>();

function idHeaderSegment(key: RingKey): string {
  let segment = headerSegments.get(key);
  if (segment === undefined) {
    segment = encodeSegment({ alg: key.alg, typ: ID_TOKEN_TYPE, kid: key.kid, ...(key.alg === 'ES256' ? { [LOW_S_HEADER]: true } : {}) });
    headerSegments.set(key, segment);
  }
  return segment;
}

/** Signed with node:crypto like access tokens (tokens/jws.ts); low s for ES256, for verifiers elsewhere that insist on it. */
export async function signIdToken(
  ring: KeyRing,
  key: RingKey,
  settings: IdTokenSettings,
  subject: { sessionId: string; userId: string; authTime: number; claims: JsonObject },
  now: number,
  expiresAt: number,
): Promise<string> {
  const payload = {
    ...subject.claims,
    iss: settings.issuer,
    aud: settings.audience,
    sub: subject.userId,
    sid: subject.sessionId,
    iat: Math.floor(now / 1000),
    exp: Math.floor(expiresAt / 1000),
    auth_time: Math.floor(subject.authTime / 1000),
  };
  return signCompact(key.alg, key.signKeyObject ?? (await ring.signingKeyObject(key)), idHeaderSegment(key), payload);
}
