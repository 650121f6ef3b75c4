/**
 * Input validation for the engine's public operations: everything a caller passes is checked here,
 * before any store access, so that bad input is a clear error and never a half-written session.
 *
 * Programmer misuse (a wrong type, a user id that is not one) is a plain `TypeError`; content that a
 * caller may legitimately get wrong at run time (a reserved claim name, a value over the size limits)
 * is `INVALID_CLAIMS`, from tokens/claims.ts.
 */
import { isIP } from 'node:net';
import { InvalidClaimsError } from '../errors.js';
import type { SessionPatch } from '../stores/types.js';
import {
  isStorableText,
  MAX_CLAIMS_BYTES,
  MAX_DATA_BYTES,
  validateAppClaims,
  validateJsonObject,
  validateMerge,
} from '../tokens/claims.js';
import type { DeviceInfo } from '../types.js';

/** Longest user id: fits every store's index, and no real id needs more. */
export const MAX_USER_ID_LENGTH = 255;
/** Device fields are informational: longer values are cut, not refused. */
const MAX_DEVICE_FIELD_LENGTH = 512;

export function validateUserId(userId: unknown): string {
  if (typeof userId !== 'string' || userId.length === 0 || userId.length > MAX_USER_ID_LENGTH || !isStorableText(userId)) {
    throw new TypeError(`userId must be a non-empty string of at most ${MAX_USER_ID_LENGTH} characters, without NUL or lone surrogates`);
  }
  return userId;
}

export function validateSessionId(sessionId: unknown): string {
  if (typeof sessionId !== 'string') throw new TypeError('sessionId must be a string');
  return sessionId;
}

export function validateDevice(device: unknown): DeviceInfo {
  if (device === undefined) return {};
  if (typeof device !== 'object' || device === null || Array.isArray(device)) throw new TypeError('device must be an object');
  const result: DeviceInfo = {};
  for (const field of ['userAgent', 'ip'] as const) {
    const value = (device as Record<string, unknown>)[field];
    if (value === undefined) continue;
    if (typeof value !== 'string') throw new TypeError(`device.${field} must be a string`);
    // Shown to the user in "your devices" and kept for investigations: an address that is not one
    // (a whole X-Forwarded-For list, a header an attacker wrote) is a caller bug, refused, not stored.
    if (field === 'ip' && isIP(value) === 0) throw new TypeError('device.ip must be an IPv4 or IPv6 address');
    // Informational only: text PostgreSQL cannot store is dropped rather than failing a sign-in.
    const text = value.slice(0, MAX_DEVICE_FIELD_LENGTH);
    if (isStorableText(text)) result[field] = text;
  }
  return result;
}

/** `authTime` as epoch ms: a valid instant, not after `now`. Default: `now`. */
export function validateAuthTime(authTime: Date | undefined, now: number): number {
  const ms = authTime?.getTime() ?? now;
  if (!Number.isFinite(ms) || ms > now) throw new TypeError('authTime must be a valid date, not in the future');
  return ms;
}

/** NaN would make the freshness comparison always false, silently switching the check off. */
export function validateMaxAuthAge(maxAuthAge: number | undefined): void {
  if (maxAuthAge !== undefined && !(Number.isFinite(maxAuthAge) && maxAuthAge >= 0)) {
    throw new TypeError('maxAuthAge must be a non-negative finite number of seconds');
  }
}

/** A `SessionUpdate` as the store's patch: each part replaced or merged, never both. */
export function validateSessionUpdate(update: unknown): SessionPatch {
  if (typeof update !== 'object' || update === null || Array.isArray(update)) throw new TypeError('update must be an object');
  const u = update as Record<string, unknown>;
  const patch: SessionPatch = {};
  const parts = [
    ['accessClaims', 'mergeAccessClaims', true],
    ['idClaims', 'mergeIdClaims', true],
    ['data', 'mergeData', false],
  ] as const;
  for (const [replace, merge, claims] of parts) {
    if (u[replace] !== undefined && u[merge] !== undefined) throw new InvalidClaimsError(`give ${replace} or ${merge}, not both`, merge);
    const max = claims ? MAX_CLAIMS_BYTES : MAX_DATA_BYTES;
    if (u[replace] !== undefined) {
      patch[replace] = claims ? validateAppClaims(u[replace], replace) : validateJsonObject(u[replace], replace, max);
    }
    if (u[merge] !== undefined) patch[merge] = validateMerge(u[merge], merge, max, claims);
  }
  return patch;
}
