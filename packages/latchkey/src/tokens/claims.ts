/**
 * Validation of claims supplied by the application. Latchkey owns the registered and session claims:
 * an app claim may never override them (a caller-controlled `sub` or `exp` would defeat the point).
 */
import { InvalidClaimsError } from '../errors.js';
import type { JsonObject, JsonValue } from '../types.js';

/** Claim names latchkey sets itself; refused in app claims. */
export const RESERVED_CLAIMS: ReadonlySet<string> = new Set([
  'iss', 'aud', 'sub', 'sid', 'jti', 'iat', 'nbf', 'exp', 'auth_time', 'typ', 'client_id',
  // The confirmation claim (RFC 7800, RFC 9449 §6): an app that could set it could bind a token to its own key.
  'cnf',
  // The mint time in ms (tokens/access.ts): an app that could set it could dodge a claims epoch.
  'lk_iat_ms',
]);

/** Upper bound on the serialised size of app claims: they ride in every request's token or cookie. */
export const MAX_CLAIMS_BYTES = 2048;
/** Upper bound on server-side session data. */
export const MAX_DATA_BYTES = 64 * 1024;

// eslint-disable-next-line no-control-regex -- U+0000 is exactly what PostgreSQL's jsonb cannot store.
const UNSTORABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * False for text PostgreSQL cannot store in TEXT or JSONB: U+0000, and UTF-16 lone surrogates (which
 * JSON.parse accepts from `\ud800` escapes but are not Unicode text). Refused on every store, so that
 * an app never finds out which store it runs on by way of a failure.
 */
export function isStorableText(value: string): boolean {
  return !UNSTORABLE.test(value);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function assertJson(value: unknown, path: string, depth: number): asserts value is JsonValue {
  if (depth > 32) throw new InvalidClaimsError(`${path} is nested too deeply`, path);
  if (value === null || typeof value === 'boolean') return;
  if (typeof value === 'string') {
    if (!isStorableText(value)) throw new InvalidClaimsError(`${path} contains a NUL character or a lone surrogate`, path);
    return;
  }
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new InvalidClaimsError(`${path} is not a finite number`, path);
    return;
  }
  if (Array.isArray(value)) {
    value.forEach((item, i) => assertJson(item, `${path}[${i}]`, depth + 1));
    return;
  }
  if (isPlainObject(value)) {
    for (const [key, item] of Object.entries(value)) {
      if (!isStorableText(key)) throw new InvalidClaimsError(`${path} has a name with a NUL character or a lone surrogate`, path);
      assertJson(item, `${path}.${key}`, depth + 1);
    }
    return;
  }
  throw new InvalidClaimsError(`${path} is not a JSON value`, path);
}

/** Checks a JSON object of app data; returns a detached copy so later mutation by the caller changes nothing. */
export function validateJsonObject(value: unknown, what: string, maxBytes: number): JsonObject {
  if (value === undefined) return {};
  if (!isPlainObject(value)) throw new InvalidClaimsError(`${what} must be a JSON object`, what);
  assertJson(value, what, 0);
  const text = JSON.stringify(value);
  if (Buffer.byteLength(text) > maxBytes) throw new InvalidClaimsError(`${what} exceeds ${maxBytes} bytes`, what);
  return JSON.parse(text) as JsonObject;
}

/** As {@link validateJsonObject}, and refuses reserved claim names. */
export function validateAppClaims(value: unknown, what: string): JsonObject {
  const claims = validateJsonObject(value, what, MAX_CLAIMS_BYTES);
  for (const name of Object.keys(claims)) {
    if (RESERVED_CLAIMS.has(name)) throw new InvalidClaimsError(`${what}: "${name}" is set by latchkey and cannot be supplied`, name);
  }
  return claims;
}

/**
 * Checks a merge (`{ key: value }`, `null` deleting the key) as strictly as the replacing form: JSON
 * values only, storable text, at most `maxBytes` by itself, and for claims no reserved name, since
 * a merged `sub` or `exp` would override latchkey's own as surely as a replaced one. The size of the
 * merged result is checked again in the store's atomic step (see {@link assertWithinLimit}).
 */
export function validateMerge(value: unknown, what: string, maxBytes: number, claims: boolean): JsonObject {
  const merge = validateJsonObject(value, what, maxBytes);
  if (claims) {
    for (const name of Object.keys(merge)) {
      if (RESERVED_CLAIMS.has(name)) throw new InvalidClaimsError(`${what}: "${name}" is set by latchkey and cannot be supplied`, name);
    }
  }
  return merge;
}

/** Refuses a (merged) object whose serialised size exceeds `maxBytes`. */
export function assertWithinLimit(value: JsonObject, what: string, maxBytes: number): void {
  if (Buffer.byteLength(JSON.stringify(value)) > maxBytes) throw new InvalidClaimsError(`${what} would exceed ${maxBytes} bytes after the merge`, what);
}
