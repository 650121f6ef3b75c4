/**
 * The store contract: everything latchkey persists goes through this one interface.
 *
 * It is small on purpose. Methods marked ATOMIC must apply all of their effects or none, even if the
 * process dies at any instant; the engine relies on that for its security guarantees (never two
 * current refresh tokens, never a revoked session with a working refresh token). Decisions are not
 * made here: `decideRotation` (refresh/decide.ts) is shared by every store, so each store only loads
 * rows, calls it inside its transaction, writes what it returns, and returns it.
 *
 * User API keys ({@link ApiKeyStore}) and the standalone service's own keys ({@link ServiceKeyStore})
 * have contracts of their own: only what uses them asks for them.
 *
 * Times are milliseconds since the Unix epoch. Stores report an unreachable backend as
 * `StoreUnavailableError`, never as a driver error.
 */
import type { DetectedTheftReason, DeviceInfo, JsonObject, JsonValue, RevocationReason, SigningAlgorithm } from '../types.js';
import type { JWK } from 'jose';

/** A session row. `refresh` is the rotation state; it never leaves the engine. */
export interface SessionRecord {
  id: string;
  userId: string;
  createdAt: number;
  lastActiveAt: number;
  idleExpiresAt: number;
  absoluteExpiresAt: number;
  authTime: number;
  device: DeviceInfo;
  data: JsonObject;
  accessClaims: JsonObject;
  idClaims: JsonObject;
  revokedAt: number | null;
  revokedReason: RevocationReason | null;
  /** Hash of the one current refresh token. */
  currentRefreshHash: string;
  /** Hash of its immediate parent, the only token a grace retry may present. */
  previousRefreshHash: string | null;
  /** When the current token replaced its parent (start of the grace window). */
  rotatedAt: number | null;
  /** How many times the session has rotated. */
  generation: number;
  /**
   * The key this session is bound to (DPoP or DBSC), or null/absent for a bearer session. Set when the
   * session is created (DPoP) or registered (DBSC), never changed afterwards: a bound session is
   * refreshed only by a holder of that key (refresh/decide.ts).
   */
  binding?: SessionBinding | null;
}

/**
 * A session's proof-of-possession key. `jkt` is the RFC 7638 SHA-256 thumbprint of the public key;
 * `jwk` is kept for DBSC, whose refresh proofs are checked against the registered key itself.
 */
export interface SessionBinding {
  method: 'dpop' | 'dbsc';
  jkt: string;
  jwk?: JWK;
}

/** One refresh token ever issued, by hash: the chain that lets a replayed old token be traced to its session. */
export interface RefreshTokenRecord {
  hash: string;
  sessionId: string;
  generation: number;
  createdAt: number;
}

export interface RotateRefreshInput {
  presentedHash: string;
  /** Hash of the successor the engine derived from the presented token. */
  successorHash: string;
  now: number;
  graceMs: number;
  idleTimeoutMs: number;
  /** Replaces the stored device info on rotation, when given. */
  device?: DeviceInfo;
  /**
   * Thumbprint of the key whose possession the caller proved for this request (a verified DPoP or DBSC
   * proof), if any. A bound session rotates only when it equals the session's `binding.jkt`.
   */
  presentedJkt?: string | null;
}

/**
 * What a rotation attempt came to: the one result type of the rotation, both what `decideRotation`
 * decides and what `rotateRefreshToken` returns. A store writes what the decision says (only
 * `rotated` and `theft` write anything) and returns the decision itself. Every session in it is the
 * session as it stands once that write is committed.
 */
export type RotateRefreshOutcome =
  /**
   * The presented token was current: the successor is now current. Its refresh-token record is
   * `successorTokenRecord(session)` (refresh/decide.ts).
   */
  | { kind: 'rotated'; session: SessionRecord }
  /** The presented token is the immediate parent of the current one, inside the grace window: no write. */
  | { kind: 'grace'; session: SessionRecord }
  /**
   * A rotated-out token outside the grace rules: the session is revoked (`revokedAt` is now,
   * `revokedReason` is `theft`) in the same transaction. `reason` tells the two kinds apart for logs
   * and events only: both are theft.
   */
  | { kind: 'theft'; session: SessionRecord; reason: DetectedTheftReason }
  /** The session was revoked before: no write. */
  | { kind: 'revoked'; session: SessionRecord }
  /** The session is past its idle or absolute expiry: no write. */
  | { kind: 'expired'; session: SessionRecord }
  /** The session is bound to a key and the request did not prove possession of it: no write at all. */
  | { kind: 'binding_mismatch'; session: SessionRecord }
  /** No such token (never issued, or its session deleted), or a token that names another session. */
  | { kind: 'unknown' };

export interface NewSession {
  session: SessionRecord;
  refreshToken: RefreshTokenRecord;
}

/** Keys to merge into a stored JSON object: each is set to its value; a `null` value deletes the key. */
export type JsonMerge = { [key: string]: JsonValue };

/**
 * A session update. For each part (access claims, ID claims, data) at most one of the replacing
 * field and the merging one is given; the merge is applied to the stored value inside the store's
 * atomic step (see stores/patch.ts), so concurrent merges of different keys never lose each other.
 */
export interface SessionPatch {
  accessClaims?: JsonObject;
  idClaims?: JsonObject;
  data?: JsonObject;
  mergeAccessClaims?: JsonMerge;
  mergeIdClaims?: JsonMerge;
  mergeData?: JsonMerge;
}

export interface UpdateSessionOptions {
  /** When given, a session expired (idle or absolute) at this instant is not updated: null, nothing written. */
  now?: number;
  /**
   * Called with the updated record inside the atomic step, before it is written; throwing aborts
   * the update with nothing written (the engine refuses a merged result over the size limits).
   */
  check?: (next: SessionRecord) => void;
}

export interface Revocation {
  sessionId: string;
  userId: string;
  revokedAt: number;
  /**
   * Why it was revoked. Required from `listRevocationsSince`, so that an instance catching up knows
   * which sessions ended for theft and can say so to their holders (`TOKEN_THEFT_DETECTED`, not a
   * plain `UNAUTHORISED`); optional elsewhere, where the caller passed the reason itself.
   */
  reason?: RevocationReason;
}

/** A signing key. The private half is only ever stored encrypted. */
export interface SigningKeyRecord {
  kid: string;
  alg: SigningAlgorithm;
  /** Strictly increasing; unique. Two instances racing to create the same generation: one wins. */
  generation: number;
  publicJwk: JWK;
  /** AES-256-GCM ciphertext of the private key (PKCS#8), see keys/encryption.ts. */
  privateKeyEncrypted: string;
  createdAt: number;
  /** From this instant the key signs (until the next generation activates). Published before. */
  activatesAt: number;
}

/**
 * A service key: a credential with which a backend calls the standalone service's `/v1/` routes
 * (called "API keys" before v1.1 of the service contract). Only the hash is stored.
 */
export interface ServiceKeyRecord {
  id: string;
  name: string;
  hash: string;
  createdAt: number;
  revokedAt: number | null;
}

/**
 * A user API key: a long-lived, scoped credential an app issues to its users' scripts and machine
 * clients. `id` is the key's public id (it is part of the key, so finding the record needs no hash
 * index); `hash` is the hex SHA-256 of the whole key. Neither the key nor anything that could
 * rebuild it is stored.
 */
export interface ApiKeyRecord {
  id: string;
  ownerId: string;
  name: string;
  scopes: string[];
  /** The non-secret start of the key, for display (`lk_Ab3dEf9h`). */
  prefix: string;
  hash: string;
  metadata: JsonObject;
  createdAt: number;
  /** Null: never expires. */
  expiresAt: number | null;
  /** Batched: at most about once a minute per key and instance. */
  lastUsedAt: number | null;
  revokedAt: number | null;
  /** Last time the key was revoked or its expiry changed: other instances poll for this. */
  changedAt: number;
}

export interface RotateApiKeyInput {
  previousId: string;
  next: ApiKeyRecord;
  now: number;
  /**
   * Null: the previous key is revoked at `now`. Otherwise its expiry becomes the earlier of its own
   * and this (the overlap during which both keys work).
   */
  previousExpiresAt: number | null;
}

/**
 * Where user API keys live: separate from {@link SessionStore}, since an app may keep them elsewhere
 * (the built-in stores implement both, on the same database).
 */
export interface ApiKeyStore {
  /** Creates or upgrades the schema. Idempotent. (The built-in stores share one schema with sessions.) */
  migrate(): Promise<unknown>;
  insertApiKey(key: ApiKeyRecord): Promise<void>;
  /** The key by public id, whatever its state; null when unknown. */
  getApiKey(id: string): Promise<ApiKeyRecord | null>;
  /** The owner's keys that are neither revoked nor expired at `now`, newest first. */
  listApiKeys(ownerId: string, now: number): Promise<ApiKeyRecord[]>;
  /** ATOMIC. Returns the record as revoked when this call revoked it, null when unknown or already revoked. */
  revokeApiKey(id: string, now: number): Promise<ApiKeyRecord | null>;
  /**
   * ATOMIC: stores `next` and ends the previous key (see {@link RotateApiKeyInput.previousExpiresAt}),
   * only if the previous key is active (neither revoked nor expired) at `now`. Returns false, having
   * written nothing, otherwise.
   */
  rotateApiKey(input: RotateApiKeyInput): Promise<boolean>;
  /** Records last uses; a time older than the stored one is ignored. Unknown ids are skipped. */
  touchApiKeys(uses: ReadonlyArray<{ id: string; lastUsedAt: number }>): Promise<void>;
  /** Ids of keys revoked or re-dated at or after `since`, for instances that missed a bus message. */
  listApiKeysChangedSince(since: number): Promise<string[]>;
}

/**
 * Where the standalone service keeps its own credentials, the service keys with which backends call
 * its `/v1/` routes (not user API keys: {@link ApiKeyStore}). Only the service and the `latchkey` CLI
 * need it; a store written for an app that embeds the engine leaves it out. The built-in stores
 * implement it on the same database as sessions.
 */
export interface ServiceKeyStore {
  /** Creates or upgrades the schema. Idempotent. (The built-in stores share one schema with sessions.) */
  migrate(): Promise<unknown>;
  /** Stores a new key (ids and hashes are random: the caller never reuses one). */
  insertServiceKey(key: ServiceKeyRecord): Promise<void>;
  /** The key with this hash, revoked or not; null when none. */
  findServiceKeyByHash(hash: string): Promise<ServiceKeyRecord | null>;
  /** Every key, revoked ones included, oldest first. */
  listServiceKeys(): Promise<ServiceKeyRecord[]>;
  /** ATOMIC. Revokes the key at `now`; returns false, writing nothing, when there is no such active key. */
  revokeServiceKey(id: string, now: number): Promise<boolean>;
}

/** What the standalone service and the CLI run on: sessions and the service's own keys. */
export type ServiceSessionStore = SessionStore & ServiceKeyStore;

export interface CleanupResult {
  sessions: number;
  refreshTokens: number;
}

/** What one `migrate()` call did, so that tools can say so (`latchkey migrate`). */
export interface MigrationReport {
  /** Versions this call applied, in order; empty when the schema was already current. */
  applied: number[];
  /** The schema version after the call. */
  version: number;
}

/** A claims epoch as a store keeps it: tokens of this user (or session) minted before `at` (ms) carry outdated claims. */
export interface ClaimsEpochRecord {
  kind: 'user' | 'session';
  /** The user id or the session id. */
  id: string;
  at: number;
}

export interface SessionStore {
  /**
   * Creates or upgrades the schema. Idempotent; safe to call from many instances at once. Stores
   * with versioned migrations report what this call applied; others may resolve to nothing.
   */
  migrate(): Promise<MigrationReport | void>;
  /**
   * The applied schema version, 0 when the store has no latchkey schema yet; reads only, creates
   * nothing. Optional: lets the CLI refuse to work on an uninitialised store instead of creating one
   * in the wrong place. Stores without a schema (memory) leave it out.
   */
  schemaVersion?(): Promise<number>;

  /** ATOMIC: the session and its first refresh token. */
  createSession(input: NewSession): Promise<void>;
  getSession(id: string): Promise<SessionRecord | null>;
  /** Sessions of a user that are neither revoked nor expired at `now`, newest first. */
  listActiveSessions(userId: string, now: number): Promise<SessionRecord[]>;
  /** How many sessions (all users) are neither revoked nor expired at `now`: for metrics. */
  countActiveSessions(now: number): Promise<number>;
  /**
   * ATOMIC: replaces or merges the given fields (stores/patch.ts). Returns null, writing nothing,
   * when the session does not exist, is revoked, or (with `options.now`) has expired.
   */
  updateSession(id: string, patch: SessionPatch, options?: UpdateSessionOptions): Promise<SessionRecord | null>;

  /**
   * ATOMIC compare-and-swap of the current refresh token, decided by `decideRotation` inside the
   * transaction: rotation (successor stored, made current), grace (no write), or theft (session
   * revoked). Returns the decision.
   */
  rotateRefreshToken(input: RotateRefreshInput): Promise<RotateRefreshOutcome>;

  /**
   * ATOMIC: binds the session to a key (DBSC registration) when it has no binding yet; an existing
   * binding is never replaced. Returns the session as it stands afterwards (its `binding` is the one
   * given, or the earlier one when it was bound before: the caller compares), or null, writing
   * nothing, when the session does not exist, is revoked, or has expired at `now`.
   */
  bindSession(id: string, binding: SessionBinding, now: number): Promise<SessionRecord | null>;

  /** ATOMIC. Returns the revocation when this call revoked it, null when missing or already revoked. */
  revokeSession(id: string, now: number, reason: RevocationReason): Promise<Revocation | null>;
  /** ATOMIC. Revokes every active session of the user except `exceptSessionId`; returns those it revoked. */
  revokeUserSessions(
    userId: string,
    now: number,
    reason: RevocationReason,
    exceptSessionId?: string,
  ): Promise<Revocation[]>;
  /** Revocations at or after `since`, each with its `reason`, for an instance that starts or reconnects to catch up. */
  listRevocationsSince(since: number): Promise<Revocation[]>;

  /**
   * Optional (issue 16): records a claims epoch (revocation/claims-epochs.ts), keeping the later of the
   * held time and this one for the same user or session, and deletes every epoch older than
   * `expireBefore` (it outdates no valid token any more). This is what lets an instance that missed the
   * epoch on the bus (restarted, or its bus was down) learn it at its next catch-up. A store without it
   * still works; such an instance then accepts the user's older tokens until they expire. Implement
   * both methods or neither.
   */
  recordClaimsEpoch?(epoch: ClaimsEpochRecord, expireBefore: number): Promise<void>;
  /** Optional, with {@link recordClaimsEpoch}: every epoch at or after `since`. */
  listClaimsEpochsSince?(since: number): Promise<ClaimsEpochRecord[]>;

  listSigningKeys(): Promise<SigningKeyRecord[]>;
  /** Inserts the key unless its generation exists already. Returns false when another writer won. */
  insertSigningKey(key: SigningKeyRecord): Promise<boolean>;
  deleteSigningKeys(kids: string[]): Promise<void>;

  /**
   * Deletes sessions that expired (idle or absolute) or were revoked before `before`, with their
   * refresh-token chains. The engine passes `now - (access TTL + tolerance)`: a revoked session must
   * stay listed until every access token issued for it has expired, so a starting instance still
   * loads the revocation. A session revoked for theft is kept until it would have expired (idle or
   * absolute) instead: its holders may come back with its refresh token at any time until then (a
   * laptop waking up), and must be told it was theft (`TOKEN_THEFT_DETECTED`), not "unknown token".
   */
  deleteExpired(before: number): Promise<CleanupResult>;

  /**
   * Optional; implemented by stores that a fleet shares (PostgreSQL). Records `issuer` as the
   * deployment's issuer when none is recorded yet (or always, with `replace`), and returns the issuer
   * recorded once the call is done, and the one recorded before it (null when none was). Of racing
   * first calls, exactly one records, and every other returns the winner's.
   * The service uses it to refuse an instance whose defaulted issuer differs from the fleet's: it
   * would refuse the fleet's tokens (`claim "iss" is invalid`) and the fleet its tokens. Stores used
   * by one process (SQLite, memory) leave it out: a single instance needs no agreement.
   */
  claimIssuer?(issuer: string, options: { replace: boolean; now: number }): Promise<{ recorded: string; previous: string | null }>;

  /** Resolves when the backend answers; rejects with StoreUnavailableError otherwise. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
