/**
 * The revocation bus: how one instance tells the others, at once, that sessions were revoked or that
 * the key set changed. The store stays the source of truth; a bus only makes news arrive sooner.
 * An instance that (re)connects reloads from the store everything newer than its last sighting, so
 * nothing revoked while the bus was down slips through.
 */
import type { RevocationReason } from '../types.js';

export type BusMessage =
  | { type: 'revoked'; revocations: BusRevocation[] }
  | { type: 'keys-changed' }
  /**
   * User API keys revoked or re-dated (rotated with an overlap): receivers drop them from their cache
   * and read the store again. Instances that predate it ignore the type (wire.ts).
   */
  | { type: 'api-keys-changed'; keyIds: string[] }
  /**
   * Service keys (the service's own callers, service/api-keys.ts) revoked: receivers drop them from
   * their service-key cache and read the store again on next use. Instances that predate it ignore it.
   */
  | { type: 'service-keys-changed'; keyIds: string[] }
  /**
   * The claims of these users' or sessions' tokens changed at `at` (ms): receivers answer older
   * tokens TRY_REFRESH_TOKEN (claims-epochs.ts). Instances that predate it ignore the type (wire.ts).
   */
  | { type: 'claims-changed'; epochs: ClaimsEpoch[] };

/** One claims epoch: every token of `userId` (or of `sessionId`) minted before `at` (ms) is stale. */
export type ClaimsEpoch = { userId: string; at: number } | { sessionId: string; at: number };

/**
 * One revoked session. `reason` travels so that every instance can tell the holders of a session
 * revoked for theft that it was theft (`TOKEN_THEFT_DETECTED`); a message without it (from an older
 * release) is still a revocation, reported as a plain one.
 */
export interface BusRevocation {
  sessionId: string;
  revokedAt: number;
  reason?: RevocationReason;
}

export interface BusHandlers {
  message(message: BusMessage): void;
  /** Called on every (re)connection, after which messages flow; the engine catches up from the store. */
  connected(): void;
}

export interface RevocationBus {
  /** Best effort: a bus that is down must not fail the revocation, which is already committed. */
  publish(message: BusMessage): Promise<void>;
  subscribe(handlers: BusHandlers): Promise<void>;
  close(): Promise<void>;
}
