/**
 * Records for the store conformance kit, as the engine would write them: exported so that a store's
 * own extra tests can build the same rows.
 */
import { randomBytes } from 'node:crypto';
import type { ApiKeyRecord, NewSession, SessionRecord } from '../types.js';

/** The instant every fixture is dated from (2027-01-15): far from the epoch and from the 2038 limit. */
export const FIXTURE_T0 = 1_800_000_000_000;
const T0 = FIXTURE_T0;
const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;
const IDLE = 14 * DAY;

/** Random lowercase hex, `bytes` long before encoding. */
export const hex = (bytes = 32): string => randomBytes(bytes).toString('hex');

/** A session as the engine would create it at `now` (default {@link FIXTURE_T0}), with its first refresh token. */
export function sessionFixture(overrides: Partial<SessionRecord> = {}, now = T0): NewSession {
  const session: SessionRecord = {
    id: `s_${hex(12)}`,
    userId: `u_${hex(6)}`,
    createdAt: now,
    lastActiveAt: now,
    idleExpiresAt: now + IDLE,
    absoluteExpiresAt: now + 90 * DAY,
    authTime: now - 1000,
    device: { userAgent: 'Mozilla/5.0 (X11; Linux x86_64)', ip: '2001:db8::1' },
    data: { theme: 'dark' },
    accessClaims: { role: 'admin' },
    idClaims: { name: 'Ada' },
    revokedAt: null,
    revokedReason: null,
    currentRefreshHash: hex(),
    previousRefreshHash: null,
    rotatedAt: null,
    generation: 0,
    binding: null,
    ...overrides,
  };
  return {
    session,
    refreshToken: { hash: session.currentRefreshHash, sessionId: session.id, generation: session.generation, createdAt: now },
  };
}

/** A user API key record, active and never used, created at {@link FIXTURE_T0}. */
export function apiKeyFixture(overrides: Partial<ApiKeyRecord> = {}): ApiKeyRecord {
  const id = randomBytes(12).toString('base64url');
  return {
    id,
    ownerId: `u_${hex(4)}`,
    name: 'CI “deploys”',
    scopes: ['deploy', 'invoices:read'],
    prefix: `lk_${id.slice(0, 8)}`,
    hash: hex(),
    metadata: { team: 'ops', limits: { perMinute: 60 } },
    createdAt: T0,
    expiresAt: null,
    lastUsedAt: null,
    revokedAt: null,
    changedAt: T0,
    ...overrides,
  };
}
