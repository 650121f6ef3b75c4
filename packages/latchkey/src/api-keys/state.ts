/** The one rule for whether a stored API key may be used, shared by the engine and every store. */
import type { ApiKeyRecord } from '../stores/types.js';

/** Neither revoked nor past its expiry at `now` (an expiry equal to `now` has passed). */
export function isApiKeyActive(key: Pick<ApiKeyRecord, 'revokedAt' | 'expiresAt'>, now: number): boolean {
  return key.revokedAt === null && (key.expiresAt === null || key.expiresAt > now);
}
