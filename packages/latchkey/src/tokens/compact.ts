/**
 * Gatekeeping before any decoding (RFC 8725 §3.11, §2.8): a size cap, then the JWS compact
 * serialisation's shape: exactly three non-empty segments of base64url characters. A JWE (five
 * segments), a JSON serialisation, an unsigned token (empty third segment) or anything with other
 * characters is refused here, before base64 or JSON parsing ever sees it.
 */
import { UnauthorisedError } from '../errors.js';
import { checkCompactShape } from './compact-shape.js';

export function assertCompactJws(token: unknown, maxBytes: number): asserts token is string {
  splitCompactJws(token, maxBytes);
}

/** A compact JWS that passed the gate: its segments, and its signature decoded. */
export interface CompactJwsParts {
  header: string;
  payload: string;
  /** `header.payload`, the JWS signing input (RFC 7515 §5.2). */
  signingInput: string;
  signature: Buffer;
}

/** The checks of {@link assertCompactJws}, returning the parts so that nothing is split or decoded twice. */
export function splitCompactJws(token: unknown, maxBytes: number): CompactJwsParts {
  checkCompactShape(token, maxBytes);
  // The signature must be spelled canonically. base64url's last character carries unused bits that
  // decoders ignore, so without this check one signature has several spellings that all verify: a
  // token an attacker can alter and still get accepted, which also defeats caches and denylists keyed
  // on the token text. (Header and payload need no such check: the signature covers their text.)
  const lastDot = token.lastIndexOf('.');
  const encodedSignature = token.slice(lastDot + 1);
  const signature = Buffer.from(encodedSignature, 'base64url');
  if (signature.toString('base64url') !== encodedSignature) {
    throw new UnauthorisedError('malformed', 'token signature is not canonical base64url');
  }
  const firstDot = token.indexOf('.');
  return {
    header: token.slice(0, firstDot),
    payload: token.slice(firstDot + 1, lastDot),
    signingInput: token.slice(0, lastDot),
    signature,
  };
}
