/**
 * Checks of API key input. Misuse by the calling code (a wrong type, an empty name) is a TypeError,
 * as everywhere in the engine; metadata goes through the same JSON checks as session data.
 */
import { isStorableText, validateJsonObject } from '../tokens/claims.js';
import type { JsonObject } from '../types.js';

const MAX_OWNER_ID_LENGTH = 255;
const MAX_NAME_LENGTH = 200;
const MAX_SCOPES = 100;
/** RFC 6749 §3.3 scope-token: printable ASCII except space, `"` and `\`. Bounded in length. */
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]{1,128}$/;
export const MAX_METADATA_BYTES = 8192;
/** Longest lifetime accepted, seconds (100 years): beyond it, "no expiry" says what is meant. */
const MAX_LIFETIME_SECONDS = 100 * 365 * 86_400;

export function validateOwnerId(value: unknown): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_OWNER_ID_LENGTH || !isStorableText(value)) {
    throw new TypeError(`ownerId must be a non-empty string of at most ${MAX_OWNER_ID_LENGTH} characters, without NUL or lone surrogates`);
  }
  return value;
}

export function validateName(value: unknown): string {
  if (typeof value !== 'string' || value.trim().length === 0 || value.length > MAX_NAME_LENGTH || !isStorableText(value)) {
    throw new TypeError(`name must be a non-blank string of at most ${MAX_NAME_LENGTH} characters, without NUL or lone surrogates`);
  }
  return value;
}

/** Scope tokens, duplicates dropped, order kept. */
export function validateScopes(value: unknown, what = 'scopes'): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || value.length > MAX_SCOPES) throw new TypeError(`${what} must be an array of at most ${MAX_SCOPES} scope tokens`);
  const scopes = new Set<string>();
  for (const scope of value as unknown[]) {
    if (typeof scope !== 'string' || !SCOPE_TOKEN.test(scope)) {
      throw new TypeError(`${what} must hold RFC 6749 scope tokens (1 to 128 printable ASCII characters, no space, quote or backslash)`);
    }
    scopes.add(scope);
  }
  return [...scopes];
}

/** A lifetime in whole seconds, or undefined. */
export function validateLifetime(value: unknown, what: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > MAX_LIFETIME_SECONDS) {
    throw new TypeError(`${what} must be a whole number of seconds from 1 to ${MAX_LIFETIME_SECONDS}`);
  }
  return value;
}

export function validateMetadata(value: unknown): JsonObject {
  return validateJsonObject(value, 'metadata', MAX_METADATA_BYTES);
}
