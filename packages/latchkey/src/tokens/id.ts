/**
 * ID ("front") tokens: the readable half of the OIDC split. The UI decodes them for display; no
 * server ever accepts one as a credential. Their `typ` (`JWT`) and audience differ from the access
 * token's, so the rules for the two kinds are mutually exclusive (RFC 8725 §3.12).
 */
import { SignJWT } from 'jose';
import type { KeyRing, RingKey } from '../keys/ring.js';
import type { JsonObject } from '../types.js';
import { LOW_S_HEADER, lowSCompactJws } from './ecdsa.js';

export const ID_TOKEN_TYPE = 'JWT';

export interface IdTokenSettings {
  issuer: string;
  audience: string;
}

export async function signIdToken(
  ring: KeyRing,
  key: RingKey,
  settings: IdTokenSettings,
  subject: { sessionId: string; userId: string; authTime: number; claims: JsonObject },
  now: number,
  expiresAt: number,
): Promise<string> {
  const signed = await new SignJWT({
    ...subject.claims,
    iss: settings.issuer,
    aud: settings.audience,
    sub: subject.userId,
    sid: subject.sessionId,
    iat: Math.floor(now / 1000),
    exp: Math.floor(expiresAt / 1000),
    auth_time: Math.floor(subject.authTime / 1000),
  })
    .setProtectedHeader({ alg: key.alg, typ: ID_TOKEN_TYPE, kid: key.kid, ...(key.alg === 'ES256' ? { [LOW_S_HEADER]: true } : {}) })
    .sign(await ring.signingKey(key));
  // Low s, like access tokens, for verifiers elsewhere that insist on it (tokens/ecdsa.ts).
  return key.alg === 'ES256' ? lowSCompactJws(signed) : signed;
}
