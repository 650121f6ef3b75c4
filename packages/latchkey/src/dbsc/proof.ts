/**
 * DBSC proof validation (W3C webappsec-dbsc, "DBSC Proof JWT Syntax"), with jose doing all JOSE work.
 *
 * The browser answers a challenge with a JWT in the `Secure-Session-Response` header:
 * - at registration, header `{ alg, typ: "dbsc+jwt", jwk }` (the new key, public) and payload
 *   `{ jti: <challenge> }`, signed by that key;
 * - at refresh, header `{ alg, typ: "dbsc+jwt" }` without `jwk`, payload `{ jti: <challenge> }`,
 *   signed by the key the session registered.
 * Checked here: one compact JWS; `typ` exactly `dbsc+jwt`; `alg` ES256 or RS256, the two the
 * registration header offers (the spec's `none` proves nothing and is never offered); at registration
 * a public `jwk` (private members refused: a leaked key binds nothing); the signature; a string `jti`.
 * Whether the `jti` is a challenge of ours, and single use, the caller checks.
 */
import { calculateJwkThumbprint, decodeProtectedHeader, EmbeddedJWK, errors as joseErrors, importJWK, jwtVerify, type JWK } from 'jose';
import { InvalidDbscProofError, type DbscProofFailure } from '../errors.js';

/** The `typ` of a DBSC proof. */
export const DBSC_PROOF_TYPE = 'dbsc+jwt';
/** The algorithms offered in `Secure-Session-Registration` and accepted in proofs. */
export const DBSC_ALGORITHMS: readonly string[] = Object.freeze(['ES256', 'RS256']);

/** Largest proof accepted, bytes, before any decoding: an RS256 registration proof is under 1 KiB. */
const MAX_PROOF_BYTES = 4096;
/** JWK members that only private or symmetric keys have. */
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'] as const;
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

/** A registration proof that passed every check but the challenge's. */
export interface VerifiedDbscRegistration {
  /** RFC 7638 SHA-256 thumbprint of the registered key. */
  jkt: string;
  /** The registered public key, as sent. */
  jwk: JWK;
  /** The challenge the proof answers. */
  jti: string;
}

function fail(reason: DbscProofFailure, message: string, cause?: unknown): InvalidDbscProofError {
  return new InvalidDbscProofError(reason, message, cause === undefined ? undefined : { cause });
}

function checkShape(proof: unknown): { proof: string; header: ReturnType<typeof decodeProtectedHeader> } {
  if (typeof proof !== 'string' || proof.length === 0) throw fail('missing', 'no DBSC proof (Secure-Session-Response)');
  if (proof.length > MAX_PROOF_BYTES || !COMPACT_JWS.test(proof)) throw fail('malformed', 'the DBSC proof is not a single compact JWS');
  let header: ReturnType<typeof decodeProtectedHeader>;
  try {
    header = decodeProtectedHeader(proof);
  } catch (error) {
    throw fail('malformed', 'the DBSC proof header could not be decoded', error);
  }
  if (header.typ !== DBSC_PROOF_TYPE) throw fail('wrong_type', 'the DBSC proof typ is not dbsc+jwt');
  if (typeof header.alg !== 'string' || !DBSC_ALGORITHMS.includes(header.alg))
    throw fail('algorithm', 'the DBSC proof alg is not ES256 or RS256');
  return { proof, header };
}

function verifyFailure(error: unknown): InvalidDbscProofError {
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) return fail('signature', 'the DBSC proof signature is invalid', error);
  if (error instanceof joseErrors.JOSEAlgNotAllowed) return fail('algorithm', 'the DBSC proof alg is not accepted', error);
  if (
    error instanceof joseErrors.JWTClaimValidationFailed ||
    error instanceof joseErrors.JWTExpired ||
    error instanceof joseErrors.JWTInvalid
  ) {
    return fail('malformed', 'the DBSC proof claims are invalid', error);
  }
  return fail('key', 'the DBSC proof key is not a usable public key for its alg', error);
}

function jtiOf(payload: Record<string, unknown>): string {
  const { jti } = payload;
  if (typeof jti !== 'string' || jti.length === 0 || jti.length > 256) throw fail('malformed', 'the DBSC proof jti is missing or too long');
  return jti;
}

/** Validates a registration proof: its own `jwk` signs it. Throws `InvalidDbscProofError`. */
export async function verifyDbscRegistrationProof(input: unknown, now: number): Promise<VerifiedDbscRegistration> {
  const { proof, header } = checkShape(input);
  const jwk = header.jwk;
  if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk)) throw fail('key', 'the DBSC registration proof has no jwk header');
  if (PRIVATE_MEMBERS.some((member) => member in jwk))
    throw fail('private_key', 'the DBSC registration proof jwk holds private key material');
  let payload: Record<string, unknown>;
  try {
    // EmbeddedJWK imports the header's key for the header's alg and refuses anything but a public key.
    ({ payload } = await jwtVerify(proof, EmbeddedJWK, {
      typ: DBSC_PROOF_TYPE,
      algorithms: [...DBSC_ALGORITHMS],
      currentDate: new Date(now),
    }));
  } catch (error) {
    throw verifyFailure(error);
  }
  const jti = jtiOf(payload);
  // Only the members a public key needs are kept: the stored key is exactly what the thumbprint covers.
  const publicJwk = publicMembers(jwk as JWK);
  return { jkt: await calculateJwkThumbprint(publicJwk, 'sha256'), jwk: publicJwk, jti };
}

/** Validates a refresh proof against the session's registered key. Returns its `jti`. */
export async function verifyDbscRefreshProof(input: unknown, registered: JWK, now: number): Promise<string> {
  const { proof, header } = checkShape(input);
  // The spec forbids a jwk at refresh; one there is a client that confuses the two steps. Its key is
  // never used anyway: only the registered one is.
  if (header.jwk !== undefined) throw fail('malformed', 'a DBSC refresh proof carries no jwk');
  let payload: Record<string, unknown>;
  try {
    const key = await importJWK(registered, header.alg);
    ({ payload } = await jwtVerify(proof, key, { typ: DBSC_PROOF_TYPE, algorithms: [...DBSC_ALGORITHMS], currentDate: new Date(now) }));
  } catch (error) {
    // A valid signature by another key looks like a bad signature here: the key is the session's.
    if (error instanceof joseErrors.JWSSignatureVerificationFailed)
      throw fail('key_mismatch', 'the DBSC proof was not made with the key this session registered', error);
    throw verifyFailure(error);
  }
  return jtiOf(payload);
}

function publicMembers(jwk: JWK): JWK {
  if (jwk.kty === 'EC') return { kty: 'EC', crv: jwk.crv, x: jwk.x, y: jwk.y } as JWK;
  if (jwk.kty === 'RSA') return { kty: 'RSA', n: jwk.n, e: jwk.e } as JWK;
  throw fail('key', 'the DBSC registration key is neither EC nor RSA');
}
