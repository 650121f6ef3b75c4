/**
 * The user API key format: `lk_` + public id + secret + checksum, all base64url.
 *
 *     lk_ Ab3dEf9hIj2kLm4n  <43 characters: 256 random bits>  <6 characters: CRC32>
 *         \_ 16 chars, 96 random bits: the record's id (not secret)
 *
 * - The fixed prefix and length let secret scanners (GitHub push protection, trufflehog, gitleaks)
 *   find a leaked key with few false positives: {@link API_KEY_SCAN_PATTERN}.
 * - The id inside the key finds the record without a hash index, and can be shown and logged.
 * - The secret carries the full 256 bits of entropy; only a SHA-256 of the whole key is stored (a
 *   slow password hash adds nothing against guessing 256 random bits).
 * - The checksum (CRC32 of everything before it, as GitHub's tokens have) refuses a mistyped or
 *   truncated key before any hashing or store lookup, and lets a scanner discard random lookalikes
 *   offline. It is not a security check: anyone can compute it.
 */
import * as nodeCrypto from 'node:crypto';
import { createHash, randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';

export const API_KEY_PREFIX = 'lk_';
const ID_BYTES = 12;
const SECRET_BYTES = 32;
/** base64url lengths without padding. */
const ID_LENGTH = 16;
const SECRET_LENGTH = 43;
const CHECKSUM_LENGTH = 6;
/** Total length of a key: 3 + 16 + 43 + 6. */
export const API_KEY_LENGTH = API_KEY_PREFIX.length + ID_LENGTH + SECRET_LENGTH + CHECKSUM_LENGTH;

/** A whole string that has the shape of a key (the checksum is checked separately). */
export const API_KEY_PATTERN = /^lk_[A-Za-z0-9_-]{65}$/;
/**
 * Finds keys in free text (logs, commits, paste sites): `lk_` and 65 base64url characters, not
 * preceded or followed by another base64url character. Confirm a match with {@link isApiKey}.
 */
export const API_KEY_SCAN_PATTERN = /(?<![A-Za-z0-9_-])lk_[A-Za-z0-9_-]{65}(?![A-Za-z0-9_-])/g;
/** Characters of the key shown for recognition (`lk_` and the first 8 of the id). */
const DISPLAY_PREFIX_LENGTH = API_KEY_PREFIX.length + 8;

function checksum(body: string): string {
  const sum = Buffer.alloc(4);
  sum.writeUInt32BE(crc32(body));
  return sum.toString('base64url');
}

/** A new key with its public id; the caller stores only {@link hashApiKey} of it. */
export function generateApiKey(): { key: string; id: string; prefix: string } {
  const id = randomBytes(ID_BYTES).toString('base64url');
  const body = API_KEY_PREFIX + id + randomBytes(SECRET_BYTES).toString('base64url');
  const key = body + checksum(body);
  return { key, id, prefix: key.slice(0, DISPLAY_PREFIX_LENGTH) };
}

/**
 * The public id of `value` when it has the shape of a key (length, prefix, alphabet), else null. The
 * checksum is not checked: see {@link hasValidChecksum}.
 */
export function apiKeyIdOf(value: unknown): string | null {
  if (typeof value !== 'string' || value.length !== API_KEY_LENGTH || !API_KEY_PATTERN.test(value)) return null;
  return value.slice(API_KEY_PREFIX.length, API_KEY_PREFIX.length + ID_LENGTH);
}

/** True when the last 6 characters of a key-shaped string are the CRC32 of the rest. */
export function hasValidChecksum(value: string): boolean {
  const split = API_KEY_LENGTH - CHECKSUM_LENGTH;
  return checksum(value.slice(0, split)) === value.slice(split);
}

/**
 * The public id of `value` when it is a well-formed key with a correct checksum, else null. Costs a
 * regular expression and a CRC: this runs before anything touches a hash or a store.
 */
export function parseApiKey(value: unknown): string | null {
  const id = apiKeyIdOf(value);
  return id !== null && hasValidChecksum(value as string) ? id : null;
}

/** True when `value` is a well-formed key with a correct checksum (for scanners and form checks). */
export function isApiKey(value: unknown): value is string {
  return parseApiKey(value) !== null;
}

/**
 * `crypto.hash` (Node.js 20.12 and 21.7 on): a one-shot digest without a Hash object, about twice as
 * fast as createHash/update/digest for a 68-byte key, which matters because every verification,
 * cache hit or not, hashes the presented key. Looked up at run time, since the engines field still
 * admits Node.js 20.11.
 */
const oneShotHash = (nodeCrypto as { hash?: (algorithm: string, data: string, outputEncoding: 'buffer') => Buffer }).hash;

/** SHA-256 of the whole key: what the store keeps. (A key is ASCII, so latin1 and UTF-8 agree.) */
export function hashApiKey(key: string): Buffer {
  return oneShotHash !== undefined ? oneShotHash('sha256', key, 'buffer') : createHash('sha256').update(key, 'latin1').digest();
}
