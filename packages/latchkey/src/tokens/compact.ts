/**
 * Gatekeeping before any decoding (RFC 8725 §3.11, §2.8): a size cap, then the JWS compact
 * serialisation's shape: exactly three non-empty segments of base64url characters. A JWE (five
 * segments), a JSON serialisation, an unsigned token (empty third segment) or anything with other
 * characters is refused here, before base64 or JSON parsing ever sees it.
 */
import { UnauthorisedError } from '../errors.js';

const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

export function assertCompactJws(token: unknown, maxBytes: number): asserts token is string {
  if (typeof token !== 'string' || token.length === 0) {
    throw new UnauthorisedError('missing', 'no access token');
  }
  // The charset is ASCII, so length in characters is length in bytes for anything that passes.
  if (token.length > maxBytes) throw new UnauthorisedError('too_large', `token exceeds ${maxBytes} bytes`);
  if (!COMPACT_JWS.test(token)) throw new UnauthorisedError('malformed', 'token is not a compact JWS');
  // The signature must be spelled canonically. base64url's last character carries unused bits that
  // decoders ignore, so without this check one signature has several spellings that all verify: a
  // token an attacker can alter and still get accepted, which also defeats caches and denylists keyed
  // on the token text. (Header and payload need no such check: the signature covers their text.)
  const signature = token.slice(token.lastIndexOf('.') + 1);
  if (Buffer.from(signature, 'base64url').toString('base64url') !== signature) {
    throw new UnauthorisedError('malformed', 'token signature is not canonical base64url');
  }
}
