/**
 * Access-token verification for the edge: the engine's gate (tokens/compact-shape.ts) and claim
 * checks (tokens/access-claims.ts), with the signature checked by jose over WebCrypto instead of
 * node:crypto. jose's compact verification applies the same header rules the engine's node:crypto
 * path copies from it (JSON object header, `crit`, `alg`), in the same order: header, key, signature,
 * payload, claims. test/edge/verifier.test.ts holds the two to the same verdict and reason.
 */
import { base64url, compactVerify, errors as joseErrors, type CompactVerifyGetKey } from 'jose';
import { LatchkeyError, UnauthorisedError } from '../errors.js';
import { checkAccessClaims, type AccessClaimSettings } from '../tokens/access-claims.js';
import { checkCompactShape } from '../tokens/compact-shape.js';
import type { AccessTokenClaims } from '../types.js';

export interface EdgeTokenSettings extends AccessClaimSettings {
  maxTokenBytes: number;
}

/** jose decodes with a fatal UTF-8 decoder: so does the engine, so do we. */
const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true });

const malformed = (cause?: unknown) =>
  new UnauthorisedError('malformed', 'token could not be parsed', cause === undefined ? undefined : { cause });

export async function verifyAccessTokenWeb(
  token: unknown,
  resolveKey: CompactVerifyGetKey,
  settings: EdgeTokenSettings,
  now: number,
): Promise<{ claims: AccessTokenClaims; kid: string }> {
  checkCompactShape(token, settings.maxTokenBytes);
  // One spelling per signature (see tokens/compact.ts): a re-spelt signature is refused before any key is fetched.
  const encoded = token.slice(token.lastIndexOf('.') + 1);
  let signature: Uint8Array;
  try {
    signature = base64url.decode(encoded);
  } catch (cause) {
    throw new UnauthorisedError('malformed', 'token signature is not canonical base64url', { cause });
  }
  if (base64url.encode(signature) !== encoded) throw new UnauthorisedError('malformed', 'token signature is not canonical base64url');
  let verified: Awaited<ReturnType<typeof compactVerify>>;
  try {
    verified = await compactVerify(token, resolveKey);
  } catch (err) {
    if (err instanceof LatchkeyError) throw err; // the key resolver's own verdict, or an unreachable key set
    if (err instanceof joseErrors.JWSSignatureVerificationFailed)
      throw new UnauthorisedError('bad_signature', 'signature verification failed', { cause: err });
    if (err instanceof joseErrors.JOSEAlgNotAllowed)
      throw new UnauthorisedError('wrong_algorithm', 'algorithm not allowed', { cause: err });
    throw malformed(err);
  }
  const header = verified.protectedHeader;
  // A JWT never uses an unencoded payload (RFC 7797 §7). As in the engine (tokens/jws.ts) and jose,
  // `b64` means something only when `crit` lists it; without that it is an unknown header parameter.
  if (header.b64 === false && Array.isArray(header.crit) && header.crit.includes('b64')) throw malformed();
  let claims: unknown;
  try {
    claims = JSON.parse(STRICT_UTF8.decode(verified.payload));
  } catch (cause) {
    throw malformed(cause);
  }
  if (typeof claims !== 'object' || claims === null || Array.isArray(claims)) throw malformed();
  const checked = checkAccessClaims(
    header as Readonly<Record<string, unknown>>,
    claims as Record<string, unknown>,
    signature,
    settings,
    now,
  );
  return { claims: checked, kid: typeof header.kid === 'string' ? header.kid : '' };
}
