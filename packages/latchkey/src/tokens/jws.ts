/**
 * The Node hot path of JWS: compact signing and signature verification with node:crypto's
 * synchronous `sign`/`verify` over `KeyObject`s the key ring builds once per key.
 *
 * Why not jose here: jose v6 signs and verifies through WebCrypto, an asynchronous dispatch to
 * libuv's thread pool and back for every call, which costs about half the signature rate on one core
 * (docs/performance.md). Everything else JOSE stays jose's: key import and export, JWKS,
 * thumbprints, the browser. This module is only acceptable because jose is its differential oracle:
 * `test/engine/jws-oracle.test.ts` feeds genuine, mutated and forged tokens to both and requires the
 * same accept/refuse answer (and the same refusal reason) for every case; the soak form runs 100k.
 *
 * The rules below are jose's `jwtVerify` rules, in jose's order, so that the reasons match too:
 * the protected header is a JSON object (strict UTF-8); `crit` is absent or lists only `b64`, which
 * must then be present and true (JWTs never use unencoded payloads, RFC 7797 §7); `alg` is a
 * non-empty string; the key comes from our ring and pins the algorithm (RFC 8725 §3.1); then the
 * signature; then the payload is a JSON object. base64url decoding is Node's own (`Buffer`), with
 * the one input Node forgives and jose refuses (a length of 4n+1 characters) refused first.
 */
import { sign as cryptoSign, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { UnauthorisedError } from '../errors.js';
import type { SigningAlgorithm } from '../types.js';
import { isHighS, toLowS } from './ecdsa.js';

/** node:crypto's digest argument per JWS alg (RFC 7518 §3.3, §3.4; RFC 8037 §3.1: EdDSA takes none). */
const DIGEST: Record<SigningAlgorithm, string | null> = { EdDSA: null, ES256: 'sha256', RS256: 'sha256' };

/** JWS ES256 signatures are raw r || s (RFC 7518 §3.4), not DER: node:crypto's `ieee-p1363`. */
function keyInput(alg: SigningAlgorithm, key: KeyObject): KeyObject | { key: KeyObject; dsaEncoding: 'ieee-p1363' } {
  return alg === 'ES256' ? { key, dsaEncoding: 'ieee-p1363' } : key;
}

/** jose decodes with a fatal UTF-8 decoder (a BOM is dropped, bad bytes refuse): so do we. */
const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true });

/** A JSON object as jose's `isObject` sees one: not an array, not null. */
function isJsonObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * base64url → bytes. The segment holds only base64url characters (tokens/compact.ts); Node decodes
 * a trailing single character to nothing where WHATWG's forgiving-base64 (jose's `atob`) fails.
 */
function decodeSegment(segment: string): Buffer | undefined {
  return segment.length % 4 === 1 ? undefined : Buffer.from(segment, 'base64url');
}

function parseJsonObject(segment: string): Record<string, unknown> | undefined {
  const bytes = decodeSegment(segment);
  if (bytes === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(STRICT_UTF8.decode(bytes));
  } catch {
    return undefined;
  }
  return isJsonObject(parsed) ? parsed : undefined;
}

export type ProtectedHeader = Readonly<Record<string, unknown>> & { readonly alg: string };

/**
 * Parsed protected headers by their text. A header is a pure function of its text, and every token
 * one key signs carries the same header, so the parse is done once per key rather than per token.
 * Bounded: a stream of distinct (forged) headers only ever replaces entries.
 */
const headerMemo = new Map<string, ProtectedHeader>();
const HEADER_MEMO_MAX = 64;

/** The protected header, checked as jose's compact verify checks it before any key is chosen. */
export function parseProtectedHeader(segment: string): ProtectedHeader {
  const memo = headerMemo.get(segment);
  if (memo !== undefined) return memo;
  const header = parseJsonObject(segment);
  if (header === undefined) throw new UnauthorisedError('malformed', 'token could not be parsed');
  // RFC 7515 §4.1.11: a critical extension we do not understand refuses the token. The only one
  // jose understands is RFC 7797's b64, which must then be a boolean; `false` is refused after the
  // signature, as jose does (see usesEncodedPayload).
  const crit = header.crit;
  if (crit !== undefined) {
    if (!Array.isArray(crit) || crit.length === 0 || crit.some((name) => typeof name !== 'string' || name.length === 0)) {
      throw new UnauthorisedError('malformed', 'token could not be parsed');
    }
    if (crit.some((name) => name !== 'b64')) throw new UnauthorisedError('malformed', 'token could not be parsed');
    if (typeof header.b64 !== 'boolean') throw new UnauthorisedError('malformed', 'token could not be parsed');
  }
  if (typeof header.alg !== 'string' || header.alg.length === 0) throw new UnauthorisedError('malformed', 'token could not be parsed');
  const parsed = Object.freeze(header) as ProtectedHeader;
  if (headerMemo.size >= HEADER_MEMO_MAX) headerMemo.delete(headerMemo.keys().next().value as string);
  headerMemo.set(segment, parsed);
  return parsed;
}

/** True when `signature` is the signature of `signingInput` (ASCII) by `key` under `alg`. Never throws. */
export function verifySignature(alg: SigningAlgorithm, key: KeyObject, signingInput: string, signature: Uint8Array): boolean {
  try {
    return cryptoVerify(DIGEST[alg], Buffer.from(signingInput, 'latin1'), keyInput(alg, key), signature);
  } catch {
    // A signature node:crypto cannot even parse is one that does not verify (jose: the same).
    return false;
  }
}

/**
 * The JWT claims set (the payload, after the signature verified): a JSON object, or `malformed`.
 * A JWT never uses an unencoded payload (RFC 7797 §7: `b64: false` with `crit`), whatever it says.
 */
export function parseClaimsSet(header: ProtectedHeader, segment: string): Record<string, unknown> {
  if (header.b64 === false && Array.isArray(header.crit) && header.crit.includes('b64')) {
    throw new UnauthorisedError('malformed', 'token could not be parsed');
  }
  const claims = parseJsonObject(segment);
  if (claims === undefined) throw new UnauthorisedError('malformed', 'token could not be parsed');
  return claims;
}

/** A compact JWS segment: base64url of the JSON text. */
export function encodeSegment(value: unknown): string {
  return Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');
}

/**
 * A compact JWS over `headerSegment` (already encoded: callers prepare it once per key) and the
 * payload. ES256 signatures come out in low-s form, the one spelling latchkey stands behind
 * (tokens/ecdsa.ts).
 */
export function signCompact(alg: SigningAlgorithm, key: KeyObject, headerSegment: string, payload: unknown): string {
  const signingInput = `${headerSegment}.${encodeSegment(payload)}`;
  let signature: Uint8Array = cryptoSign(DIGEST[alg], Buffer.from(signingInput, 'latin1'), keyInput(alg, key));
  if (alg === 'ES256' && isHighS(signature)) signature = toLowS(signature);
  return `${signingInput}.${Buffer.from(signature.buffer, signature.byteOffset, signature.byteLength).toString('base64url')}`;
}
