/**
 * An in-memory store: for tests and single-process demos. Everything is lost when the process ends.
 * Each method runs synchronously to completion, which makes every one of them trivially atomic.
 * Records are copied in and out, so callers can never alias stored state.
 */
import { isApiKeyActive } from '../api-keys/state.js';
import { decideRotation, isSessionActive, successorTokenRecord } from '../refresh/decide.js';
import type { RevocationReason } from '../types.js';
import type {
  ApiKeyRecord,
  ApiKeyStore,
  ClaimsEpochRecord,
  CleanupResult,
  NewSession,
  RefreshTokenRecord,
  Revocation,
  RotateApiKeyInput,
  RotateRefreshInput,
  RotateRefreshOutcome,
  SessionBinding,
  SessionPatch,
  SessionRecord,
  ServiceKeyRecord,
  ServiceKeyStore,
  SessionStore,
  SigningKeyRecord,
  UpdateSessionOptions,
} from './types.js';
import { patchedSession } from './patch.js';

const copy = <T>(value: T): T => structuredClone(value);

export class MemoryStore implements SessionStore, ApiKeyStore, ServiceKeyStore {
  #sessions = new Map<string, SessionRecord>();
  #tokens = new Map<string, RefreshTokenRecord>();
  #keys = new Map<string, SigningKeyRecord>();
  #serviceKeys = new Map<string, ServiceKeyRecord>();
  #apiKeys = new Map<string, ApiKeyRecord>();
  /** Claims epochs by `kind:id`. */
  #epochs = new Map<string, ClaimsEpochRecord>();

  async migrate(): Promise<void> {}

  async createSession({ session, refreshToken }: NewSession): Promise<void> {
    if (this.#sessions.has(session.id) || this.#tokens.has(refreshToken.hash)) throw new Error('duplicate session or token');
    this.#sessions.set(session.id, copy(session));
    this.#tokens.set(refreshToken.hash, copy(refreshToken));
  }

  async getSession(id: string): Promise<SessionRecord | null> {
    const s = this.#sessions.get(id);
    return s ? copy(s) : null;
  }

  async listActiveSessions(userId: string, now: number): Promise<SessionRecord[]> {
    return [...this.#sessions.values()]
      .filter((s) => s.userId === userId && isSessionActive(s, now))
      .sort((a, b) => b.createdAt - a.createdAt)
      .map(copy);
  }

  async countActiveSessions(now: number): Promise<number> {
    let count = 0;
    for (const s of this.#sessions.values()) if (isSessionActive(s, now)) count++;
    return count;
  }

  async updateSession(id: string, patch: SessionPatch, options?: UpdateSessionOptions): Promise<SessionRecord | null> {
    const next = patchedSession(this.#sessions.get(id) ?? null, copy(patch), options);
    if (!next) return null;
    this.#sessions.set(id, next);
    return copy(next);
  }

  async rotateRefreshToken(input: RotateRefreshInput): Promise<RotateRefreshOutcome> {
    const token = this.#tokens.get(input.presentedHash) ?? null;
    const session = token ? (this.#sessions.get(token.sessionId) ?? null) : null;
    const outcome = decideRotation(token, session, input);
    if (outcome.kind === 'rotated') {
      const successor = successorTokenRecord(outcome.session);
      this.#tokens.set(successor.hash, successor);
    }
    if (outcome.kind === 'rotated' || outcome.kind === 'theft') this.#sessions.set(outcome.session.id, outcome.session);
    return copy(outcome);
  }

  async bindSession(id: string, binding: SessionBinding, now: number): Promise<SessionRecord | null> {
    const s = this.#sessions.get(id);
    if (!s || !isSessionActive(s, now)) return null;
    if (!s.binding) this.#sessions.set(id, { ...s, binding: copy(binding) });
    return copy(this.#sessions.get(id) ?? null);
  }

  async revokeSession(id: string, now: number, reason: RevocationReason): Promise<Revocation | null> {
    const s = this.#sessions.get(id);
    if (!s || s.revokedAt !== null) return null;
    this.#sessions.set(id, { ...s, revokedAt: now, revokedReason: reason });
    return { sessionId: id, userId: s.userId, revokedAt: now };
  }

  async revokeUserSessions(userId: string, now: number, reason: RevocationReason, exceptSessionId?: string): Promise<Revocation[]> {
    const revoked: Revocation[] = [];
    for (const s of this.#sessions.values()) {
      if (s.userId !== userId || s.id === exceptSessionId || !isSessionActive(s, now)) continue;
      this.#sessions.set(s.id, { ...s, revokedAt: now, revokedReason: reason });
      revoked.push({ sessionId: s.id, userId, revokedAt: now });
    }
    return revoked;
  }

  async listRevocationsSince(since: number): Promise<Revocation[]> {
    return [...this.#sessions.values()]
      .filter((s) => s.revokedAt !== null && s.revokedAt >= since)
      .map((s) => ({ sessionId: s.id, userId: s.userId, revokedAt: s.revokedAt!, reason: s.revokedReason ?? 'signout' }));
  }

  async recordClaimsEpoch(epoch: ClaimsEpochRecord, expireBefore: number): Promise<void> {
    const key = `${epoch.kind}:${epoch.id}`;
    const held = this.#epochs.get(key);
    if (held === undefined || held.at < epoch.at) this.#epochs.set(key, { ...epoch });
    for (const [k, e] of this.#epochs) if (e.at < expireBefore) this.#epochs.delete(k);
  }

  async listClaimsEpochsSince(since: number): Promise<ClaimsEpochRecord[]> {
    return [...this.#epochs.values()].filter((e) => e.at >= since).map((e) => ({ ...e }));
  }

  async listSigningKeys(): Promise<SigningKeyRecord[]> {
    return [...this.#keys.values()].sort((a, b) => a.generation - b.generation).map(copy);
  }

  async insertSigningKey(key: SigningKeyRecord): Promise<boolean> {
    for (const k of this.#keys.values()) if (k.generation === key.generation || k.kid === key.kid) return false;
    this.#keys.set(key.kid, copy(key));
    return true;
  }

  async deleteSigningKeys(kids: string[]): Promise<void> {
    for (const kid of kids) this.#keys.delete(kid);
  }

  async insertServiceKey(key: ServiceKeyRecord): Promise<void> {
    this.#serviceKeys.set(key.id, copy(key));
  }

  async findServiceKeyByHash(hash: string): Promise<ServiceKeyRecord | null> {
    for (const k of this.#serviceKeys.values()) if (k.hash === hash) return copy(k);
    return null;
  }

  async listServiceKeys(): Promise<ServiceKeyRecord[]> {
    return [...this.#serviceKeys.values()].sort((a, b) => a.createdAt - b.createdAt).map(copy);
  }

  async revokeServiceKey(id: string, now: number): Promise<boolean> {
    const k = this.#serviceKeys.get(id);
    if (!k || k.revokedAt !== null) return false;
    this.#serviceKeys.set(id, { ...k, revokedAt: now });
    return true;
  }

  /** Synchronous, so that rotateApiKey checks and writes with no await in between (no interleaving). */
  #insertApiKey(key: ApiKeyRecord): void {
    if (this.#apiKeys.has(key.id)) throw new Error('duplicate API key id');
    for (const k of this.#apiKeys.values()) if (k.hash === key.hash) throw new Error('duplicate API key hash');
    this.#apiKeys.set(key.id, copy(key));
  }

  async insertApiKey(key: ApiKeyRecord): Promise<void> {
    this.#insertApiKey(key);
  }

  async getApiKey(id: string): Promise<ApiKeyRecord | null> {
    const k = this.#apiKeys.get(id);
    return k ? copy(k) : null;
  }

  async listApiKeys(ownerId: string, now: number): Promise<ApiKeyRecord[]> {
    return [...this.#apiKeys.values()]
      .filter((k) => k.ownerId === ownerId && isApiKeyActive(k, now))
      .sort((a, b) => b.createdAt - a.createdAt || (a.id < b.id ? -1 : 1))
      .map(copy);
  }

  async revokeApiKey(id: string, now: number): Promise<ApiKeyRecord | null> {
    const k = this.#apiKeys.get(id);
    if (!k || k.revokedAt !== null) return null;
    const next = { ...k, revokedAt: now, changedAt: now };
    this.#apiKeys.set(id, next);
    return copy(next);
  }

  async rotateApiKey({ previousId, next, now, previousExpiresAt }: RotateApiKeyInput): Promise<boolean> {
    const previous = this.#apiKeys.get(previousId);
    if (!previous || !isApiKeyActive(previous, now)) return false;
    this.#insertApiKey(next);
    this.#apiKeys.set(previousId, previousExpiresAt === null
      ? { ...previous, revokedAt: now, changedAt: now }
      : { ...previous, expiresAt: Math.min(previous.expiresAt ?? Infinity, previousExpiresAt), changedAt: now });
    return true;
  }

  async touchApiKeys(uses: ReadonlyArray<{ id: string; lastUsedAt: number }>): Promise<void> {
    for (const { id, lastUsedAt } of uses) {
      const k = this.#apiKeys.get(id);
      if (k && (k.lastUsedAt === null || k.lastUsedAt < lastUsedAt)) this.#apiKeys.set(id, { ...k, lastUsedAt });
    }
  }

  async listApiKeysChangedSince(since: number): Promise<string[]> {
    return [...this.#apiKeys.values()].filter((k) => k.changedAt >= since).map((k) => k.id);
  }

  async deleteExpired(before: number): Promise<CleanupResult> {
    const result: CleanupResult = { sessions: 0, refreshTokens: 0 };
    for (const s of [...this.#sessions.values()]) {
      // Theft-revoked sessions stay until their natural expiry (see SessionStore.deleteExpired).
      const revokedAt = s.revokedReason === 'theft' ? null : s.revokedAt;
      const ended = Math.min(s.idleExpiresAt, s.absoluteExpiresAt, revokedAt ?? Infinity);
      if (ended >= before) continue;
      this.#sessions.delete(s.id);
      result.sessions++;
      for (const [hash, t] of this.#tokens) {
        if (t.sessionId === s.id) {
          this.#tokens.delete(hash);
          result.refreshTokens++;
        }
      }
    }
    return result;
  }

  async ping(): Promise<void> {}
  async close(): Promise<void> {}
}

/** A fresh in-memory store. */
export function memoryStore(): MemoryStore {
  return new MemoryStore();
}
