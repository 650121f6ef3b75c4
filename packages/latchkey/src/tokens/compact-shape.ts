/**
 * The first gate of every token (RFC 8725 §3.11, §2.8), before any decoding: present, within the size
 * cap, and shaped as a JWS compact serialisation (three non-empty segments of base64url characters).
 * Web standards only: the engine (tokens/compact.ts) and the edge verifier run this one gate.
 */
import { UnauthorisedError } from '../errors.js';

const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

export function checkCompactShape(token: unknown, maxBytes: number): asserts token is string {
  if (typeof token !== 'string' || token.length === 0) {
    throw new UnauthorisedError('missing', 'no access token');
  }
  // The charset is ASCII, so length in characters is length in bytes for anything that passes.
  if (token.length > maxBytes) throw new UnauthorisedError('too_large', `token exceeds ${maxBytes} bytes`);
  if (!COMPACT_JWS.test(token)) throw new UnauthorisedError('malformed', 'token is not a compact JWS');
}
