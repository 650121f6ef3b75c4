/**
 * ECDSA signature malleability (ES256), closed.
 *
 * An ECDSA signature (r, s) has a twin, (r, n - s), that verifies just as well for the same message
 * and key (n is the order of the curve's group). Anyone holding a genuine ES256 token can therefore
 * spell a second, different token that every standard verifier accepts. Nothing in latchkey keys on
 * a token's text for security (revocation is by session id), but a second spelling still defeats
 * anything that does (a log search, an app's own replay list, a cache), and "any change to a token
 * is refused" is a property worth having without exceptions.
 *
 * The fix, as Bitcoin's BIP 62/BIP 146 "low S" rule: sign, then replace s by n - s when s > n/2, so
 * every signature latchkey issues has the low s; and refuse a high s on verify.
 *
 * Staging, so that no live token is refused by an upgrade: tokens minted by this version carry the
 * protected header parameter `"lows": true` (RFC 7515 §4.3, a private header parameter; other
 * verifiers ignore it). The header is covered by the signature, so nobody can add it to an old token
 * or strip it from a new one. A marked token with a high s is refused (`bad_signature`); an unmarked
 * one was minted by an earlier version, before signatures were normalised, and is accepted with
 * either s as before. Unmarked tokens stop existing on their own: they expire one access-token
 * lifetime after the last instance of an earlier version stopped minting them, with no clock or
 * upgrade date to configure. (Other algorithms: EdDSA verifiers refuse S >= L by RFC 8032 §5.1.7,
 * and RSASSA-PKCS1-v1_5 signatures are deterministic; neither has a twin.)
 *
 * This module works on the raw 64-byte IEEE P1363 signature (r || s, 32 bytes each), which is what
 * JWS ES256 carries (RFC 7518 §3.4) and what node:crypto produces with `dsaEncoding: 'ieee-p1363'`,
 * so any signer can use it. The only arithmetic is one comparison and one subtraction on bigints.
 *
 * Web standards only (jose's base64url, Uint8Array; no Buffer): the edge verifier runs the same check.
 */
import { base64url } from 'jose';

/** The order n of the P-256 group (SEC 2 v2 §2.4.2; FIPS 186-4 §D.1.2.3). */
export const P256_ORDER = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
const SIGNATURE_BYTES = 64;
/** n/2 (rounded down) as 32 big-endian bytes: comparing bytes is the same order as comparing numbers. */
const HALF_ORDER_BYTES = bigintToBytes32(P256_ORDER >> 1n);

/** The protected header parameter that marks a token as signed with a low s (see above). */
export const LOW_S_HEADER = 'lows';

function bigintToBytes32(value: bigint): Uint8Array {
  const bytes = new Uint8Array(32);
  for (let i = 31, v = value; i >= 0; i--, v >>= 8n) bytes[i] = Number(v & 0xffn);
  return bytes;
}

function sOf(signature: Uint8Array): bigint {
  let s = 0n;
  for (let i = 32; i < 64; i++) s = (s << 8n) | BigInt(signature[i] ?? 0);
  return s;
}

/** Big-endian comparison of two equal-length byte strings: the same order as the numbers they spell. */
function compareBytes(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < a.length; i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/** True when a 64-byte P-256 signature has s > n/2. Any other length is not an ES256 signature: false. */
export function isHighS(signature: Uint8Array): boolean {
  // On the verify path of every ES256 token: a byte comparison, no number parsing.
  return signature.byteLength === SIGNATURE_BYTES && compareBytes(signature.subarray(32, 64), HALF_ORDER_BYTES) > 0;
}

/** The low-s twin of a 64-byte P-256 signature (r, n - s), or the signature itself when s is already low. */
export function toLowS(signature: Uint8Array): Uint8Array {
  if (!isHighS(signature)) return signature;
  const result = new Uint8Array(SIGNATURE_BYTES);
  result.set(signature.subarray(0, 32), 0);
  // s >= n is no valid signature at all (any spelling of it fails to verify); zero keeps the result low.
  const low = P256_ORDER - sOf(signature);
  result.set(bigintToBytes32(low < 0n ? 0n : low), 32);
  return result;
}

/** The same compact JWS with its ES256 signature in low-s form (unchanged when it already was). */
export function lowSCompactJws(token: string): string {
  const dot = token.lastIndexOf('.');
  const signature = base64url.decode(token.slice(dot + 1));
  if (!isHighS(signature)) return token;
  return `${token.slice(0, dot + 1)}${base64url.encode(toLowS(signature))}`;
}

/** True when a compact JWS's signature is a P-256 signature with a high s. */
export function compactJwsHasHighS(token: string): boolean {
  return isHighS(base64url.decode(token.slice(token.lastIndexOf('.') + 1)));
}
