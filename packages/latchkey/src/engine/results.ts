/**
 * How the engine turns store records into what callers see: the public `Session` view (no refresh
 * state ever leaves the engine), and the error for a token of a revoked session.
 */
import { TokenTheftError, UnauthorisedError } from '../errors.js';
import type { SessionRecord } from '../stores/types.js';
import type { RevocationReason, Session } from '../types.js';

export function toSession(record: SessionRecord): Session {
  return {
    id: record.id,
    userId: record.userId,
    createdAt: new Date(record.createdAt),
    lastActiveAt: new Date(record.lastActiveAt),
    expiresAt: new Date(Math.min(record.idleExpiresAt, record.absoluteExpiresAt)),
    idleExpiresAt: new Date(record.idleExpiresAt),
    absoluteExpiresAt: new Date(record.absoluteExpiresAt),
    authTime: new Date(record.authTime),
    device: { ...record.device },
    data: record.data,
    accessClaims: record.accessClaims,
    idClaims: record.idClaims,
    revokedAt: record.revokedAt === null ? null : new Date(record.revokedAt),
    revokedReason: record.revokedReason,
    deviceBinding: record.binding?.method ?? null,
  };
}

/**
 * The error for a token of a revoked session: `TOKEN_THEFT_DETECTED` when it was revoked for theft,
 * so that every later request of the victim (any tab, any device, any instance) learns why it was
 * signed out, and the plain `UNAUTHORISED` otherwise.
 */
export function revokedError(sessionId: string, userId: string, reason: RevocationReason | null): TokenTheftError | UnauthorisedError {
  return reason === 'theft'
    ? new TokenTheftError(sessionId, userId, 'revoked-for-theft')
    : new UnauthorisedError('revoked', 'session revoked');
}

/** Verified claims are cached and shared between callers: frozen, so that no caller can alter another's. */
export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const item of Object.values(value)) deepFreeze(item);
  }
  return value;
}
