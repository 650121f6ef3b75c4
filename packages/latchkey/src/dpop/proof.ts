/**
 * DPoP proof validation, RFC 9449 §4.3, every step, with jose doing all JOSE work.
 *
 * A proof is a JWT the client signs with its own key for one request. Checked here, in the RFC's
 * order: one compact JWS; `typ: dpop+jwt`; an asymmetric `alg` from the allow-list (never `none`,
 * never HMAC: a proof whose "key" is a shared secret proves nothing); a `jwk` header that is a public
 * key (a private key in it means the client leaked it, and whoever copied the proof has it too); the
 * signature by that key; `jti`, `htm`, `htu` and `iat` present; `htm` and `htu` equal to the request's
 * method and URL, `htu` without query and fragment (§4.3 step 9); `iat` inside the window; `ath` equal
 * to the hash of the access token when one is presented; the nonce when the server requires one.
 * Replay (`jti`) is checked by the caller through a {@link DpopReplayCache}, after everything here
 * succeeded, so that junk proofs never fill the cache.
 */
import { createHash } from 'node:crypto';
import {
  base64url,
  calculateJwkThumbprint,
  decodeProtectedHeader,
  EmbeddedJWK,
  errors as joseErrors,
  jwtVerify,
  type CryptoKey,
  type FlattenedJWSInput,
  type JWK,
  type JWSHeaderParameters,
} from 'jose';
import { InvalidDpopProofError } from '../errors.js';
import { ProofKeyCache } from './key-cache.js';

/** The `typ` of a DPoP proof (RFC 9449 §4.2). */
export const DPOP_PROOF_TYPE = 'dpop+jwt';

/**
 * Proof algorithms accepted by default: asymmetric only. `EdDSA` and `Ed25519` are the same algorithm
 * under RFC 8037's and RFC 9864's names; both are accepted because clients send both.
 */
export const DEFAULT_DPOP_ALGORITHMS: readonly string[] = Object.freeze([
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'Ed25519',
  'PS256',
  'PS384',
  'PS512',
  'RS256',
  'RS384',
  'RS512',
]);

/** Algorithms that can never be allowed: no signature, or a symmetric one (RFC 9449 §4.3 step 5). */
const FORBIDDEN = /^(none|HS\d+)$/i;

/** Largest proof accepted, bytes, before any decoding: an RSA-4096 proof is under 2 KiB. */
const MAX_PROOF_BYTES = 4096;
/** Longest `jti` kept for replay detection; a UUID or 16 random bytes are far shorter. */
const MAX_JTI_LENGTH = 256;
/** JWK members that only private or symmetric keys have. */
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'] as const;

/** What a request presents to be checked: the `DPoP` header, and that request's method and URL. */
export interface DpopProofInput {
  /** The value of the `DPoP` request header. */
  proof: string;
  /** The request's HTTP method, as sent (`GET`, `POST`). */
  method: string;
  /** The request's absolute URL as the client addressed it (behind a proxy: the public URL). */
  url: string;
}

export interface DpopCheck {
  /** Now, ms since the epoch (the engine's clock). */
  now: number;
  /**
   * Seconds a proof's `iat` may lie in the past or the future. The service contract says "within the
   * clock tolerance"; the engine passes its `clockTolerance`.
   */
  windowSeconds: number;
  /** Allowed `alg` values; default {@link DEFAULT_DPOP_ALGORITHMS}. Forbidden ones are refused whatever the list says. */
  algorithms?: readonly string[] | undefined;
  /** The access token the proof must be bound to (`ath`). Absent for a token request (sign-in, refresh). */
  accessToken?: string | undefined;
  /**
   * Checks the `nonce` claim; returns normally when acceptable, throws `UseDpopNonceError` otherwise.
   * Absent when the server does not require nonces (a nonce the client sends anyway is then ignored).
   */
  checkNonce?: ((nonce: unknown) => void) | undefined;
  /** Keys already imported from identical proof headers (see key-cache.ts). Absent: import every time. */
  keyCache?: ProofKeyCache | undefined;
}

/** A proof that passed every check but replay. */
export interface VerifiedDpopProof {
  /** RFC 7638 SHA-256 thumbprint of the proof's public key: what `cnf.jkt` carries. */
  jkt: string;
  /** The public key, as sent. */
  jwk: JWK;
  jti: string;
  /** `iat`, seconds. */
  iat: number;
}

/** base64url(SHA-256(accessToken)): the `ath` claim (RFC 9449 §4.2). */
export function accessTokenHash(accessToken: string): string {
  return base64url.encode(createHash('sha256').update(accessToken, 'ascii').digest());
}

/**
 * `htu` comparison (RFC 9449 §4.3 step 9, RFC 3986 §6.2.2 and §6.2.3 normalisation): scheme and host
 * case, default ports and percent-encoding case are normalised by the WHATWG URL parser; query and
 * fragment are dropped. Null when the text is not an absolute http(s) URL.
 */
export function normaliseHtu(url: unknown): string | null {
  if (typeof url !== 'string' || url.length > 8192) return null;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return null;
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') return null;
  return `${parsed.origin}${parsed.pathname}`;
}

function fail(reason: ConstructorParameters<typeof InvalidDpopProofError>[0], message: string, cause?: unknown): InvalidDpopProofError {
  return new InvalidDpopProofError(reason, message, cause === undefined ? undefined : { cause });
}

/** Validates everything but replay. Throws `InvalidDpopProofError` (or the nonce check's `UseDpopNonceError`). */
export async function verifyDpopProof(input: DpopProofInput, check: DpopCheck): Promise<VerifiedDpopProof> {
  const { proof } = input;
  if (typeof proof !== 'string' || proof.length === 0) throw fail('missing', 'no DPoP proof');
  // One proof, compact form only: a comma means two DPoP headers were joined (§4.3 step 1).
  if (proof.length > MAX_PROOF_BYTES || !/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(proof)) {
    throw fail('malformed', 'the DPoP proof is not a single compact JWS');
  }
  if (typeof input.method !== 'string' || input.method.length === 0) throw new TypeError('dpop method must be a non-empty string');
  const expectedHtu = normaliseHtu(input.url);
  if (expectedHtu === null) throw new TypeError('dpop url must be an absolute http(s) URL');

  let header: ReturnType<typeof decodeProtectedHeader>;
  try {
    header = decodeProtectedHeader(proof);
  } catch (error) {
    throw fail('malformed', 'the DPoP proof header could not be decoded', error);
  }
  // typ is compared exactly: RFC 9449 fixes the value, there is no media-type form to allow.
  if (header.typ !== DPOP_PROOF_TYPE) throw fail('wrong_type', 'the DPoP proof typ is not dpop+jwt');
  const allowed = (check.algorithms ?? DEFAULT_DPOP_ALGORITHMS).filter((alg) => !FORBIDDEN.test(alg));
  if (typeof header.alg !== 'string' || FORBIDDEN.test(header.alg) || !allowed.includes(header.alg)) {
    throw fail('algorithm', 'the DPoP proof alg is not an accepted asymmetric algorithm');
  }
  const jwk = header.jwk;
  if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk)) throw fail('key', 'the DPoP proof has no jwk header');
  if (PRIVATE_MEMBERS.some((member) => member in jwk)) throw fail('private_key', 'the DPoP proof jwk holds private key material');

  let payload: Record<string, unknown>;
  const cacheId = check.keyCache && ProofKeyCache.id(header.alg, jwk as JWK);
  const cached = cacheId === undefined ? undefined : check.keyCache!.get(cacheId);
  let imported: CryptoKey | undefined;
  try {
    const options = { typ: DPOP_PROOF_TYPE, algorithms: allowed, currentDate: new Date(check.now) };
    // EmbeddedJWK imports the header's key for the header's alg (so the key type must fit the alg)
    // and refuses anything but a public key; the algorithm list stops alg substitution. A cached key
    // was imported by it from a byte-identical jwk for the same alg; the signature is checked either way.
    ({ payload } = cached
      ? await jwtVerify(proof, cached.key, options)
      : await jwtVerify(
          proof,
          async (protectedHeader: JWSHeaderParameters, token: FlattenedJWSInput) => (imported = await EmbeddedJWK(protectedHeader, token)),
          options,
        ));
  } catch (error) {
    if (error instanceof joseErrors.JWSSignatureVerificationFailed) throw fail('signature', 'the DPoP proof signature is invalid', error);
    if (error instanceof joseErrors.JOSEAlgNotAllowed) throw fail('algorithm', 'the DPoP proof alg is not accepted', error);
    if (error instanceof joseErrors.JWTExpired || error instanceof joseErrors.JWTClaimValidationFailed) {
      throw fail('malformed', 'the DPoP proof claims are invalid', error);
    }
    throw fail('key', 'the DPoP proof jwk is not a usable public key for its alg', error);
  }

  const { jti, htm, htu, iat, ath } = payload;
  if (typeof jti !== 'string' || jti.length === 0 || jti.length > MAX_JTI_LENGTH)
    throw fail('malformed', 'the DPoP proof jti is missing or too long');
  if (typeof htm !== 'string' || htm !== input.method) throw fail('htm', 'the DPoP proof htm does not match the request method');
  if (normaliseHtu(htu) !== expectedHtu) throw fail('htu', 'the DPoP proof htu does not match the request URL');
  if (typeof iat !== 'number' || !Number.isFinite(iat)) throw fail('malformed', 'the DPoP proof has no numeric iat');
  const nowSeconds = check.now / 1000;
  if (Math.abs(nowSeconds - iat) > check.windowSeconds) throw fail('iat', 'the DPoP proof iat is outside the accepted window');
  if (check.accessToken !== undefined) {
    if (typeof ath !== 'string' || ath !== accessTokenHash(check.accessToken))
      throw fail('ath', 'the DPoP proof ath does not match the access token');
  }
  check.checkNonce?.(payload.nonce);
  const jkt = cached?.jkt ?? (await calculateJwkThumbprint(jwk as JWK, 'sha256'));
  // Only a key whose proof passed every check is kept: junk headers never take an entry.
  if (cacheId !== undefined && imported !== undefined) check.keyCache!.set(cacheId, { key: imported, jkt });
  return { jkt, jwk: jwk as JWK, jti, iat };
}
