/**
 * Row mapping shared by the SQL stores. Column names are the same in every dialect; drivers differ
 * only in how they hand values back (PostgreSQL returns BIGINT as a string and JSONB as objects,
 * SQLite returns numbers and text), so each reader normalises.
 */
import type { DeviceInfo, JsonObject, RevocationReason, SigningAlgorithm } from '../../types.js';
import type { ApiKeyRecord, RefreshTokenRecord, Revocation, ServiceKeyRecord, SessionBinding, SessionRecord, SigningKeyRecord } from '../types.js';
import type { JWK } from 'jose';

export type Row = Record<string, unknown>;

function num(value: unknown): number {
  return typeof value === 'number' ? value : Number(value);
}

function numOrNull(value: unknown): number | null {
  return value === null || value === undefined ? null : num(value);
}

function json<T>(value: unknown): T {
  return (typeof value === 'string' ? JSON.parse(value) : value) as T;
}

export const SESSION_COLUMNS = [
  'id', 'user_id', 'created_at', 'last_active_at', 'idle_expires_at', 'absolute_expires_at', 'auth_time',
  'device', 'data', 'access_claims', 'id_claims', 'revoked_at', 'revoked_reason',
  'current_refresh_hash', 'previous_refresh_hash', 'rotated_at', 'generation', 'binding',
] as const;

export function sessionFromRow(row: Row): SessionRecord {
  return {
    id: String(row.id),
    userId: String(row.user_id),
    createdAt: num(row.created_at),
    lastActiveAt: num(row.last_active_at),
    idleExpiresAt: num(row.idle_expires_at),
    absoluteExpiresAt: num(row.absolute_expires_at),
    authTime: num(row.auth_time),
    device: json<DeviceInfo>(row.device),
    data: json<JsonObject>(row.data),
    accessClaims: json<JsonObject>(row.access_claims),
    idClaims: json<JsonObject>(row.id_claims),
    revokedAt: numOrNull(row.revoked_at),
    revokedReason: (row.revoked_reason ?? null) as RevocationReason | null,
    currentRefreshHash: String(row.current_refresh_hash),
    previousRefreshHash: (row.previous_refresh_hash ?? null) as string | null,
    rotatedAt: numOrNull(row.rotated_at),
    generation: num(row.generation),
    binding: row.binding === null || row.binding === undefined ? null : json<SessionBinding>(row.binding),
  };
}

/** Values in {@link SESSION_COLUMNS} order; JSON fields serialised as text. */
export function sessionToValues(s: SessionRecord): unknown[] {
  return [
    s.id, s.userId, s.createdAt, s.lastActiveAt, s.idleExpiresAt, s.absoluteExpiresAt, s.authTime,
    JSON.stringify(s.device), JSON.stringify(s.data), JSON.stringify(s.accessClaims), JSON.stringify(s.idClaims),
    s.revokedAt, s.revokedReason, s.currentRefreshHash, s.previousRefreshHash, s.rotatedAt, s.generation,
    s.binding ? JSON.stringify(s.binding) : null,
  ];
}

/** A revocation from `id, user_id, revoked_at, revoked_reason`. A row revoked without a reason reads as a sign-out. */
export function revocationFromRow(row: Row): Revocation {
  return {
    sessionId: String(row.id),
    userId: String(row.user_id),
    revokedAt: num(row.revoked_at),
    reason: (row.revoked_reason ?? 'signout') as RevocationReason,
  };
}

export function refreshTokenFromRow(row: Row): RefreshTokenRecord {
  return {
    hash: String(row.hash),
    sessionId: String(row.session_id),
    generation: num(row.generation),
    createdAt: num(row.created_at),
  };
}

export function signingKeyFromRow(row: Row): SigningKeyRecord {
  return {
    kid: String(row.kid),
    alg: String(row.alg) as SigningAlgorithm,
    generation: num(row.generation),
    publicJwk: json<JWK>(row.public_jwk),
    privateKeyEncrypted: String(row.private_key_encrypted),
    createdAt: num(row.created_at),
    activatesAt: num(row.activates_at),
  };
}

export function serviceKeyFromRow(row: Row): ServiceKeyRecord {
  return {
    id: String(row.id),
    name: String(row.name),
    hash: String(row.hash),
    createdAt: num(row.created_at),
    revokedAt: numOrNull(row.revoked_at),
  };
}

/** Columns of the user API key table, in {@link apiKeyToValues} order. */
export const API_KEY_COLUMNS = [
  'id', 'owner_id', 'name', 'scopes', 'prefix', 'hash', 'metadata', 'created_at', 'expires_at', 'last_used_at', 'revoked_at', 'changed_at',
] as const;

export function apiKeyFromRow(row: Row): ApiKeyRecord {
  return {
    id: String(row.id),
    ownerId: String(row.owner_id),
    name: String(row.name),
    scopes: json<string[]>(row.scopes),
    prefix: String(row.prefix),
    hash: String(row.hash),
    metadata: json<JsonObject>(row.metadata),
    createdAt: num(row.created_at),
    expiresAt: numOrNull(row.expires_at),
    lastUsedAt: numOrNull(row.last_used_at),
    revokedAt: numOrNull(row.revoked_at),
    changedAt: num(row.changed_at),
  };
}

/** Values in {@link API_KEY_COLUMNS} order; JSON fields serialised as text. */
export function apiKeyToValues(k: ApiKeyRecord): unknown[] {
  return [
    k.id, k.ownerId, k.name, JSON.stringify(k.scopes), k.prefix, k.hash, JSON.stringify(k.metadata),
    k.createdAt, k.expiresAt, k.lastUsedAt, k.revokedAt, k.changedAt,
  ];
}
