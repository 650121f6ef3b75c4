/**
 * Applying a session update, shared by every store so that replace and merge mean the same thing on
 * each. A store runs {@link applySessionPatch} inside its atomic step (memory: synchronously; SQLite:
 * one IMMEDIATE transaction; PostgreSQL: one transaction with the row locked `FOR UPDATE`), so two
 * writers merging different keys at once both land: neither reads a value the other is about to
 * replace, which is the race a read-modify-write in the application would lose.
 */
import { isSessionActive } from '../refresh/decide.js';
import type { JsonObject } from '../types.js';
import type { JsonMerge, SessionPatch, SessionRecord, UpdateSessionOptions } from './types.js';

/**
 * A top-level merge: each key of `merge` is set to its value, and a key whose value is `null` is
 * deleted. A nested object replaces the stored one whole (it is not merged into it).
 */
export function mergeJson(current: JsonObject, merge: JsonMerge): JsonObject {
  const next: JsonObject = { ...current };
  for (const [key, value] of Object.entries(merge)) {
    if (value === null) delete next[key];
    else next[key] = value;
  }
  return next;
}

/** The record after `patch`: replacing fields replace, merge fields merge into what is stored. */
export function applySessionPatch(record: SessionRecord, patch: SessionPatch): SessionRecord {
  const part = (current: JsonObject, replace: JsonObject | undefined, merge: JsonMerge | undefined): JsonObject =>
    replace !== undefined ? replace : merge !== undefined ? mergeJson(current, merge) : current;
  return {
    ...record,
    accessClaims: part(record.accessClaims, patch.accessClaims, patch.mergeAccessClaims),
    idClaims: part(record.idClaims, patch.idClaims, patch.mergeIdClaims),
    data: part(record.data, patch.data, patch.mergeData),
  };
}

/**
 * Whether the stored session may be updated: it exists, is not revoked and, when `options.now` is
 * given, has not expired (a session past its idle or absolute expiry is over, even if no one has
 * revoked it yet: its claims must not change any more).
 */
export function mayUpdate(record: SessionRecord | null, options: UpdateSessionOptions | undefined): record is SessionRecord {
  if (!record || record.revokedAt !== null) return false;
  return options?.now === undefined || isSessionActive(record, options.now);
}

/** The update as a store performs it: null when the session may not be updated, else the new record (checked). */
export function patchedSession(record: SessionRecord | null, patch: SessionPatch, options: UpdateSessionOptions | undefined): SessionRecord | null {
  if (!mayUpdate(record, options)) return null;
  const next = applySessionPatch(record, patch);
  // Inside the atomic step: a refusal here (a merged result too large) aborts with nothing written.
  options?.check?.(next);
  return next;
}
