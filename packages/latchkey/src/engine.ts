/**
 * The session engine. It knows nothing of HTTP: transports and adapters are thin layers over it.
 *
 * The hot path, {@link Latchkey.verifyAccessToken}, touches no store: signature and claims are
 * checked against the in-memory key ring, revocation against the in-memory denylist. Everything that
 * changes state (create, refresh, revoke, key rotation) goes through one atomic store call.
 *
 * This module holds the public operations. Their parts live in `engine/`: input validation
 * (validate.ts), the records-to-results mapping (results.ts) and keeping a fleet of instances in step
 * (fleet.ts: the denylist, the bus, catch-up, key reloads and timers).
 */
import { ApiKeys } from './api-keys/manager.js';
import type { ClaimFetchContext, SessionClaim } from './claims/claim.js';
import { systemClock, type Clock } from './clock.js';
import { DbscVerifier } from './dbsc/verifier.js';
import { DpopVerifier } from './dpop/verifier.js';
import { MemoryReplayCache } from './dpop/replay.js';
import type { DpopProofInput } from './dpop/proof.js';
import {
  InsufficientFreshnessError,
  InvalidClaimsError,
  InvalidDbscProofError,
  InvalidDpopProofError,
  NotFoundError,
  TokenTheftError,
  TryRefreshError,
  UnauthorisedError,
} from './errors.js';
import { FleetSync, type PeriodicTask } from './engine/fleet.js';
import { runAfterHook, runBeforeHook, validateHooks, type SessionHooks } from './engine/hooks.js';
import { deepFreeze, revokedError, toSession } from './engine/results.js';
import {
  validateAuthTime,
  validateDevice,
  validateMaxAuthAge,
  validateSessionId,
  validateSessionUpdate,
  validateUserId,
} from './engine/validate.js';
import { TypedEmitter, type LatchkeyEventName, type LatchkeyListener } from './events.js';
import { deriveSubkey } from './keys/derive.js';
import { generateSigningKey } from './keys/generate.js';
import { KeyRing, type JsonWebKeySet } from './keys/ring.js';
import { planKeyMaintenance, type KeyScheduleOptions } from './keys/schedule.js';
import { secretFromFile, secretFromValue } from './keys/secret.js';
import { resolveSettings, type LatchkeyOptions, type ResolvedSettings } from './options.js';
import { isSessionActive, isSessionExpired } from './refresh/decide.js';
import { deriveSuccessor, hashRefreshToken, isRefreshTokenShape, newRefreshToken } from './refresh/token.js';
import type { BusRevocation, ClaimsEpoch, RevocationBus } from './revocation/bus.js';
import { tokenMintedAt } from './revocation/claims-epochs.js';
import { readRevocationFeed, type RevocationFeed } from './revocation/feed.js';
import type { ApiKeyStore, CleanupResult, JsonMerge, Revocation, SessionRecord, SessionStore } from './stores/types.js';
import { signAccessToken, verifyAccessTokenJws, type AccessTokenSettings } from './tokens/access.js';
import { hasExpired } from './tokens/access-claims.js';
import { assertWithinLimit, MAX_CLAIMS_BYTES, MAX_DATA_BYTES, RESERVED_CLAIMS, validateAppClaims, validateJsonObject } from './tokens/claims.js';
import { signIdToken } from './tokens/id.js';
import { VerifiedTokenCache } from './tokens/verify-cache.js';
import type {
  AccessTokenClaims,
  IssuedTokens,
  JsonObject,
  JsonValue,
  RevocationReason,
  Session,
  VerifiedAccessToken,
  DeviceInfo,
} from './types.js';
import { randomToken } from './util/random.js';

export interface CreateSessionInput {
  /** The user's immutable id; becomes `sub`. Never an email address or anything else that can change. */
  userId: string;
  /** Extra claims for every access token of this session. Reserved names are refused. */
  accessClaims?: JsonObject | undefined;
  /** Extra claims for the ID (front) token, readable by the UI. Reserved names are refused. */
  idClaims?: JsonObject | undefined;
  /** Server-side data; never enters a token. */
  data?: JsonObject | undefined;
  device?: DeviceInfo | undefined;
  /** When the user authenticated, if not now (e.g. a session created after a step-up). Default: now. */
  authTime?: Date | undefined;
  /**
   * A DPoP proof (RFC 9449) sent with the sign-in request: the session is bound to its key. Access
   * tokens then carry `cnf.jkt` and verify only with a proof from that key, and the refresh token
   * rotates only with one. Default: none, a bearer session.
   */
  dpop?: DpopProofInput | undefined;
}

export interface VerifyOptions {
  /**
   * Also read the session from the store and refuse it unless active. Costs a store round trip; for
   * the most sensitive routes, where even the revocation fan-out delay is too long.
   */
  checkStore?: boolean | undefined;
  /** Refuse with `INSUFFICIENT_FRESHNESS` unless the user authenticated within this many seconds. */
  maxAuthAge?: number | undefined;
  /**
   * The request's DPoP proof with its method and URL. Required for a token bound to a key (`cnf.jkt`):
   * without it, or with a proof that fails any RFC 9449 §4.3 check, `INVALID_DPOP_PROOF`.
   */
  dpop?: DpopProofInput | undefined;
  /**
   * The `Authorization` scheme the token came with, when the caller knows it. A bound token sent as
   * `Bearer` is refused (RFC 9449 §7.1), and so is an unbound one sent as `DPoP`. Default: not checked.
   */
  scheme?: 'Bearer' | 'DPoP' | undefined;
}

export interface RefreshOptions {
  /** Replaces the session's device info (a new IP, a browser update). */
  device?: DeviceInfo | undefined;
  /**
   * The refresh request's DPoP proof. A session bound with DPoP rotates only with a valid proof from
   * its key; otherwise `INVALID_DPOP_PROOF`, nothing rotated, the session not revoked.
   */
  dpop?: DpopProofInput | undefined;
  /**
   * For the HTTP layer's DBSC refresh only: the thumbprint of the key whose possession a verified DBSC
   * proof showed. Never take it from the request.
   */
  provenKey?: string | undefined;
  /**
   * A DBSC refresh (W3C Device Bound Session Credentials): the session the browser named
   * (`Sec-Secure-Session-Id`) and its proof (`Secure-Session-Response`), a JWT signed by the key the
   * session registered over a challenge from {@link Latchkey.dbscChallenge}. A session that registered
   * a key rotates only with one; otherwise `INVALID_DBSC_PROOF`, nothing rotated, nothing revoked.
   */
  dbsc?: { sessionId: string; proof: string } | undefined;
}

/**
 * A change to a session. For each part, either replace it (`accessClaims`, `idClaims`, `data`) or
 * merge into it (`mergeAccessClaims`, `mergeIdClaims`, `mergeData`: each key is set, a `null` value
 * deletes the key; top level only, a nested object replaces the stored one). Giving both forms for
 * one part is refused. A merge is applied by the store atomically, so two writers merging different
 * keys at once never lose each other's change (a read-modify-write in the app would).
 */
export interface SessionUpdate {
  accessClaims?: JsonObject;
  idClaims?: JsonObject;
  data?: JsonObject;
  mergeAccessClaims?: JsonMerge;
  mergeIdClaims?: JsonMerge;
  mergeData?: JsonMerge;
}

export interface RevokeUserSessionsOptions {
  /** Keep this session (the caller's own, for "sign out everywhere else"). */
  exceptSessionId?: string | undefined;
  reason?: RevocationReason | undefined;
}

/** Fresh tokens for an existing session, without rotating its refresh token. */
export interface ReissuedTokens {
  accessToken: string;
  accessTokenExpiresAt: Date;
  idToken: string;
}

/** A subset of OpenID Provider Metadata (OpenID Connect Discovery 1.0 §3) that fits a session service. */
export interface DiscoveryDocument {
  issuer: string;
  jwks_uri: string;
  id_token_signing_alg_values_supported: string[];
  subject_types_supported: string[];
  claims_supported: string[];
  [field: string]: unknown;
}

/** True when `store` also keeps user API keys (every built-in store does). */
function keepsApiKeys(store: SessionStore): store is SessionStore & ApiKeyStore {
  const s = store as Partial<ApiKeyStore>;
  return typeof s.getApiKey === 'function' && typeof s.insertApiKey === 'function' && typeof s.rotateApiKey === 'function';
}

export class Latchkey {
  /** Settings after defaults. */
  readonly settings: Readonly<ResolvedSettings>;
  /** User API keys: create, verify, list, revoke, rotate (see docs/api-keys.md). */
  readonly apiKeys: ApiKeys;

  /**
   * Private: a write straight to the store would bypass the denylist, the events and the revocation
   * bus, so other instances would keep honouring a session revoked that way. Callers get what they
   * need through narrow methods (`ping`, `countActiveSessions`, `currentSigningKey`, `revocationFeed`).
   */
  readonly #store: SessionStore;
  readonly #clock: Clock;
  readonly #ring: KeyRing;
  readonly #derivationKey: Uint8Array;
  readonly #encryptionKey: Uint8Array;
  readonly #fleet: FleetSync;
  readonly #cache: VerifiedTokenCache;
  readonly #events = new TypedEmitter();
  readonly #cleanupTasks = new Set<() => Promise<void>>();
  readonly #tokenSettings: AccessTokenSettings;
  readonly #schedule: KeyScheduleOptions;
  readonly #ownsStore: boolean;
  readonly #dpop: DpopVerifier;
  readonly #dbsc: DbscVerifier;
  /** Registered claim types by key (the `claims` option). */
  readonly #claims: ReadonlyMap<string, SessionClaim>;
  readonly #hooks: SessionHooks;
  #closed = false;

  private constructor(
    settings: ResolvedSettings,
    store: SessionStore,
    ownsStore: boolean,
    secret: Uint8Array,
    clock: Clock,
    bus: RevocationBus | undefined,
    apiKeyStore: ApiKeyStore | undefined,
    dpop: LatchkeyOptions['dpop'],
    extensions: { claims: ReadonlyMap<string, SessionClaim>; hooks: SessionHooks },
  ) {
    this.settings = Object.freeze(settings);
    this.#claims = extensions.claims;
    this.#hooks = extensions.hooks;
    this.#store = store;
    this.#ownsStore = ownsStore;
    this.#clock = clock;
    this.#encryptionKey = deriveSubkey(secret, 'key-encryption');
    this.#derivationKey = deriveSubkey(secret, 'refresh-derivation');
    // DPoP proofs and DBSC challenges share one replay cache: a fleet configures one (Redis) for both.
    const replayCache = dpop?.replayCache ?? new MemoryReplayCache();
    this.#dpop = new DpopVerifier({ ...dpop, replayCache }, { windowSeconds: settings.clockToleranceSeconds, nonceKey: deriveSubkey(secret, 'dpop-nonce') });
    this.#dbsc = new DbscVerifier(deriveSubkey(secret, 'dbsc-challenge'), replayCache);
    this.#ring = new KeyRing(this.#encryptionKey);
    const revocationRetainMs = (settings.accessTokenTtlSeconds + settings.clockToleranceSeconds) * 1000;
    this.#fleet = new FleetSync({
      store,
      clock,
      ring: this.#ring,
      events: this.#events,
      bus,
      retainMs: revocationRetainMs,
      toleranceMs: settings.clockToleranceSeconds * 1000,
    });
    this.#cache = new VerifiedTokenCache(settings.verifyCacheSize);
    this.#tokenSettings = {
      issuer: settings.issuer,
      audience: settings.audience,
      clientId: settings.clientId,
      ttlSeconds: settings.accessTokenTtlSeconds,
      clockToleranceSeconds: settings.clockToleranceSeconds,
      maxTokenBytes: settings.maxTokenBytes,
    };
    this.apiKeys = new ApiKeys({
      store: apiKeyStore,
      clock,
      events: this.#events,
      publish: (message) => this.#fleet.publish(message),
      cacheSize: settings.apiKeyCacheSize,
      toleranceMs: settings.clockToleranceSeconds * 1000,
    });
    this.#schedule = {
      rotationIntervalMs: settings.keyRotationIntervalMs,
      publishLeadMs: settings.keyPublishLeadMs,
      retainMs: revocationRetainMs,
    };
  }

  /** Use {@link createLatchkey}. */
  static async create(options: LatchkeyOptions): Promise<Latchkey> {
    const settings = resolveSettings(options);
    const extensions = { claims: registeredClaims(options.claims), hooks: validateHooks(options.hooks) };
    const clock = options.clock ?? systemClock;
    const secret = options.secret !== undefined
      ? secretFromValue(options.secret)
      : secretFromFile(options.secretFile ?? '.latchkey/secret.key');
    let store = options.store;
    const ownsStore = !store;
    if (!store) {
      // Loaded only when needed, so users of another store never load better-sqlite3.
      const { sqliteStore } = await import('./stores/sqlite.js');
      store = sqliteStore({ path: '.latchkey/latchkey.db' });
    }
    await store.migrate();
    const apiKeyStore = options.apiKeyStore ?? (keepsApiKeys(store) ? store : undefined);
    if (apiKeyStore !== undefined && apiKeyStore !== (store as unknown)) await apiKeyStore.migrate();
    const engine = new Latchkey(settings, store, ownsStore, secret, clock, options.bus, apiKeyStore, options.dpop, extensions);
    // Fail fast on the wrong secret (SECRET_MISMATCH). Without this the instance would look healthy
    // (verification needs public keys only) while failing every sign-in and refresh. Checked before
    // maintainKeys, which must not insert a key sealed with the wrong secret (it would break every
    // correctly configured instance once it activates), and again after it, for a key another
    // instance inserted in a start-up race.
    engine.#ring.assertDecryptable(await store.listSigningKeys());
    await engine.maintainKeys();
    engine.#ring.assertDecryptable();
    await engine.syncRevocations();
    await engine.#fleet.join(engine.apiKeys);
    if (options.timers !== false) engine.#startTimers();
    return engine;
  }

  /**
   * The refresh grace window, whole seconds (the `refreshGrace` option): how long the immediate
   * parent of a refresh token may be presented again. HTTP layers send it to clients as
   * `X-Latchkey-Refresh-Grace`, so an SDK can fit its refresh deadline and retry inside it.
   */
  get refreshGraceSeconds(): number {
    return this.settings.refreshGraceMs / 1000;
  }

  // ---------------------------------------------------------------------------------------------
  // Sessions

  /** Starts a new session: call on every sign-in and every re-authentication (never reuse one). */
  async createSession(input: CreateSessionInput): Promise<IssuedTokens> {
    const userId = validateUserId(input.userId);
    const accessClaims = validateAppClaims(input.accessClaims, 'accessClaims');
    const idClaims = validateAppClaims(input.idClaims, 'idClaims');
    const data = validateJsonObject(input.data, 'data', MAX_DATA_BYTES);
    const device = validateDevice(input.device);
    const now = this.#clock.now();
    const authTime = validateAuthTime(input.authTime, now);
    const id = randomToken(16);
    // Claim fetches and the beforeCreate hook run before any write: one that throws or refuses leaves
    // no session behind.
    const parts = await this.#prepareSession(id, userId, { accessClaims, idClaims, data }, now);

    // Before any write: a session whose tokens cannot be signed must not be stored, nor one whose
    // binding proof fails.
    await this.#assertCanSign(now);
    const bindingProof = input.dpop === undefined ? undefined : await this.#dpop.verify(input.dpop, now);
    const refreshToken = newRefreshToken();
    const refreshHash = hashRefreshToken(refreshToken);
    const record: SessionRecord = {
      id,
      userId,
      createdAt: now,
      lastActiveAt: now,
      idleExpiresAt: Math.min(now + this.settings.idleTimeoutMs, now + this.settings.absoluteTimeoutMs),
      absoluteExpiresAt: now + this.settings.absoluteTimeoutMs,
      authTime,
      device,
      data: parts.data,
      accessClaims: parts.accessClaims,
      idClaims: parts.idClaims,
      revokedAt: null,
      revokedReason: null,
      currentRefreshHash: refreshHash,
      previousRefreshHash: null,
      rotatedAt: null,
      generation: 0,
      binding: bindingProof ? { method: 'dpop', jkt: bindingProof.jkt } : null,
    };
    await this.#store.createSession({
      session: record,
      refreshToken: { hash: refreshHash, sessionId: record.id, generation: 0, createdAt: now },
    });
    this.#events.emit('session.created', { sessionId: record.id, userId, at: new Date(now), device: { ...device } });
    if (record.binding) this.#events.emit('session.device_bound', { sessionId: record.id, userId, at: new Date(now), method: record.binding.method, jkt: record.binding.jkt });
    return { ...(await this.#mint(record, now)), refreshToken, session: toSession(record), tokenType: record.binding?.method === 'dpop' ? 'DPoP' : 'Bearer' };
  }

  /**
   * Verifies an access token with no store access (unless `checkStore`). Throws `TryRefreshError`
   * (`TRY_REFRESH_TOKEN`) when the token is ours and merely expired, `UnauthorisedError` otherwise.
   */
  async verifyAccessToken(token: unknown, options?: VerifyOptions): Promise<VerifiedAccessToken> {
    validateMaxAuthAge(options?.maxAuthAge);
    const now = this.#clock.now();
    let claims: AccessTokenClaims;
    const cached = typeof token === 'string' ? this.#cache.get(token) : undefined;
    if (cached && this.#ring.has(cached.kid)) {
      // Same rule as jose's, shared with the edge verifier.
      if (hasExpired(cached.claims, now, this.settings.clockToleranceSeconds)) {
        this.#cache.delete(token as string);
        throw new TryRefreshError();
      }
      claims = cached.claims;
    } else {
      if (cached) this.#cache.delete(token as string); // its key has left the ring
      const verified = await verifyAccessTokenJws(token, this.#ring, this.#tokenSettings, now, (kid) => this.#fleet.reloadKeysForKid(kid));
      claims = deepFreeze(verified.claims);
      this.#cache.set(token as string, { claims, kid: verified.kid });
    }
    const denied = this.#fleet.denylist.denied(claims.sid);
    if (denied !== undefined) throw revokedError(claims.sid, claims.sub, denied === 'theft' ? 'theft' : null);
    // The session's claims changed after this token was minted (setClaimValue, removeClaim): refresh
    // for a token that carries the new ones. Memory only, like the denylist (claims-epochs.ts).
    if (this.#fleet.epochs.stale(claims.sub, claims.sid, tokenMintedAt(claims))) throw new TryRefreshError('session claims changed; refresh and retry');
    const boundKey = await this.#checkTokenBinding(token as string, claims, options, now);
    if (options?.checkStore) {
      const session = await this.#store.getSession(claims.sid);
      if (!session || session.userId !== claims.sub) throw new UnauthorisedError('revoked', 'session revoked');
      if (session.revokedAt !== null) throw revokedError(session.id, session.userId, session.revokedReason);
      if (isSessionExpired(session, now)) throw new UnauthorisedError('session_expired', 'session expired');
    }
    if (options?.maxAuthAge !== undefined && now - claims.auth_time * 1000 > options.maxAuthAge * 1000) {
      throw new InsufficientFreshnessError(options.maxAuthAge);
    }
    return {
      sessionId: claims.sid,
      userId: claims.sub,
      claims,
      authTime: new Date(claims.auth_time * 1000),
      expiresAt: new Date(claims.exp * 1000),
      ...(boundKey !== undefined ? { boundKey } : {}),
    };
  }

  /**
   * Exchanges a refresh token for a new token set, rotating it. Concurrent or retried use of the same
   * token inside the grace window gets the same successor; any other replay of a rotated-out token
   * revokes the session and throws `TokenTheftError`.
   */
  async refresh(refreshToken: unknown, options?: RefreshOptions): Promise<IssuedTokens> {
    // Wrong shape: refused before hashing, before any store access.
    if (!isRefreshTokenShape(refreshToken)) throw new UnauthorisedError('malformed', 'not a refresh token');
    const device = options?.device === undefined ? undefined : validateDevice(options.device);
    const now = this.#clock.now();
    // The proof is checked before the store is touched: a bad one is refused with nothing written.
    const presentedJkt =
      options?.dpop !== undefined
        ? (await this.#dpop.verify(options.dpop, now)).jkt
        : options?.dbsc !== undefined
          ? await this.#provenDbscKey(options.dbsc, now)
          : options?.provenKey;
    // Before the write: never commit a rotation whose tokens this instance cannot sign (a wrong
    // secret, a key it cannot decrypt). The client's retry elsewhere then finds its token still
    // current, instead of a rotated-out parent that turns into a theft alarm past the grace window.
    // What can still fail after the commit (a crash, a lost answer) is recoverable: the same parent
    // inside the window gets the same derived successor and freshly minted tokens (the grace path).
    await this.#assertCanSign(now);
    const successor = deriveSuccessor(this.#derivationKey, refreshToken);
    const outcome = await this.#store.rotateRefreshToken({
      presentedHash: hashRefreshToken(refreshToken),
      successorHash: hashRefreshToken(successor),
      now,
      graceMs: this.settings.refreshGraceMs,
      idleTimeoutMs: this.settings.idleTimeoutMs,
      ...(device ? { device } : {}),
      presentedJkt: presentedJkt ?? null,
    });
    switch (outcome.kind) {
      case 'rotated':
      case 'grace': {
        const session = await this.#refetchStaleClaims(outcome.session, now);
        const grace = outcome.kind === 'grace';
        this.#events.emit('session.refreshed', {
          sessionId: session.id,
          userId: session.userId,
          at: new Date(now),
          grace,
          device: { ...(device ?? session.device) },
        });
        const tokens: IssuedTokens = {
          ...(await this.#mint(session, now)),
          refreshToken: successor,
          session: toSession(session),
          tokenType: session.binding?.method === 'dpop' ? 'DPoP' : 'Bearer',
        };
        const { afterRefresh } = this.#hooks;
        await runAfterHook(this.#events, 'afterRefresh', afterRefresh && (() => afterRefresh({ session: tokens.session, grace })));
        return tokens;
      }
      case 'theft': {
        const { id, userId, rotatedAt } = outcome.session;
        await this.#revoked([{ sessionId: id, userId, revokedAt: now }], 'theft');
        this.#events.emit('session.theft_detected', {
          sessionId: id,
          userId,
          at: new Date(now),
          reason: outcome.reason,
          msSinceRotation: rotatedAt === null ? null : now - rotatedAt,
          device: { ...device },
          sessionDevice: { ...outcome.session.device },
        });
        const { onTheft } = this.#hooks;
        await runAfterHook(this.#events, 'onTheft', onTheft && (() => onTheft({ sessionId: id, userId, reason: outcome.reason, at: new Date(now) })));
        throw new TokenTheftError(id, userId, outcome.reason);
      }
      case 'revoked':
        throw revokedError(outcome.session.id, outcome.session.userId, outcome.session.revokedReason);
      case 'expired':
        throw new UnauthorisedError('session_expired', 'session expired');
      case 'binding_mismatch': {
        const { id, userId, binding } = outcome.session;
        const reason = presentedJkt === undefined ? 'missing' : 'key_mismatch';
        this.#events.emit('session.binding_mismatch', { sessionId: id, userId, at: new Date(now), method: binding?.method ?? 'dpop', reason });
        // A DBSC-bound session is refreshed by its browser through the DBSC refresh route, never by
        // the refresh cookie alone: a copied cookie jar is worthless once its bound cookie expires.
        if (binding?.method === 'dbsc') throw new InvalidDbscProofError(reason, 'this session is bound to a browser key (DBSC); it is refreshed only with a proof of that key');
        throw new InvalidDpopProofError(reason, 'this session is bound to a device key that the request did not prove possession of');
      }
      case 'unknown':
        throw new UnauthorisedError('unknown_token', 'unknown refresh token');
    }
  }

  /**
   * A DBSC challenge for the session (W3C Device Bound Session Credentials): the HTTP layer sends it
   * in `Secure-Session-Registration` after a cookie-mode sign-in and in `Secure-Session-Challenge`
   * on a DBSC refresh. Valid for two minutes, for this session only, answerable once.
   */
  dbscChallenge(sessionId: string): string {
    validateSessionId(sessionId);
    return this.#dbsc.challenge(sessionId, this.#clock.now());
  }

  /**
   * Binds the session to the browser key of a DBSC registration: `proof` is the registration JWT
   * (`Secure-Session-Response`: `typ: dbsc+jwt`, ES256 or RS256, the new public key as `jwk`, `jti`
   * a challenge from {@link dbscChallenge} for this session). From then on the session is refreshed
   * only with a proof of that key (`refresh` with `dbsc`). Registering the same key again is a no-op;
   * another key for an already bound session is refused (`INVALID_DBSC_PROOF`, `already_bound`).
   * `NOT_FOUND` when the session does not exist, is revoked or has expired.
   */
  async registerDbscKey(sessionId: string, proof: string): Promise<Session> {
    validateSessionId(sessionId);
    const now = this.#clock.now();
    const verified = await this.#dbsc.verifyRegistration(proof, sessionId, now);
    // Read first, only to tell a first registration (an audit event) from a repeat of the same key (none).
    // Two racing first registrations of one key may both report it; the binding itself is decided atomically below.
    const before = await this.#store.getSession(sessionId);
    const record = await this.#store.bindSession(sessionId, { method: 'dbsc', jkt: verified.jkt, jwk: verified.jwk }, now);
    if (!record) throw new NotFoundError('session not found');
    if (record.binding?.method !== 'dbsc' || record.binding.jkt !== verified.jkt) {
      throw new InvalidDbscProofError('already_bound', 'this session is already bound to another key');
    }
    if (!before?.binding) this.#events.emit('session.device_bound', { sessionId, userId: record.userId, at: new Date(now), method: 'dbsc', jkt: verified.jkt });
    return toSession(record);
  }

  /** The engine's source of time (the `clock` option): what the HTTP layer judges claim ages by. */
  get clock(): Clock {
    return this.#clock;
  }

  /** The session, revoked or not; null when it does not exist. */
  async getSession(sessionId: string): Promise<Session | null> {
    validateSessionId(sessionId);
    const record = await this.#store.getSession(sessionId);
    return record ? toSession(record) : null;
  }

  /** The user's active sessions ("your devices"), newest first. */
  async listSessions(userId: string): Promise<Session[]> {
    const records = await this.#store.listActiveSessions(validateUserId(userId), this.#clock.now());
    return records.map(toSession);
  }

  /**
   * Replaces or merges access claims, ID claims and/or data (see {@link SessionUpdate}). New claims
   * appear in tokens minted from then on; call {@link reissueTokens} to get such tokens at once.
   * Throws `NOT_FOUND` when the session does not exist, is revoked or has expired (nothing written),
   * and `INVALID_CLAIMS` for a reserved claim name, a value that is not JSON text every store can
   * keep, both forms for one part, or a result over the size limits (nothing written either).
   */
  async updateSession(sessionId: string, update: SessionUpdate): Promise<Session> {
    validateSessionId(sessionId);
    const patch = validateSessionUpdate(update);
    const record = await this.#store.updateSession(sessionId, patch, {
      now: this.#clock.now(),
      // Merged results are checked where they are computed, inside the store's atomic step.
      check: (next) => {
        if (patch.mergeAccessClaims) assertWithinLimit(next.accessClaims, 'accessClaims', MAX_CLAIMS_BYTES);
        if (patch.mergeIdClaims) assertWithinLimit(next.idClaims, 'idClaims', MAX_CLAIMS_BYTES);
        if (patch.mergeData) assertWithinLimit(next.data, 'data', MAX_DATA_BYTES);
      },
    });
    if (!record) throw new NotFoundError('session not found, revoked or expired');
    return toSession(record);
  }

  /**
   * Sets a claim's value for one session (`{ sessionId }`) or for every active session of a user
   * (`{ userId }`), on every instance at once: tokens minted before the change are answered
   * `TRY_REFRESH_TOKEN` (by the claims epoch, carried on the revocation bus), so each client refreshes
   * at its next request and gets tokens with the new value. No lookup per request. Returns how many
   * sessions were updated. Throws `NOT_FOUND` for a `sessionId` that is not active, `INVALID_CLAIMS`
   * when the value is not JSON or makes the claims too large (that session is not updated).
   */
  async setClaimValue<T extends JsonValue>(target: ClaimTarget, claim: SessionClaim<T>, value: T): Promise<number> {
    return this.updateClaims(target, [{ claim: claim as SessionClaim, value }]);
  }

  /** Removes a claim from one session or from every active session of a user, like {@link setClaimValue}. */
  async removeClaim(target: ClaimTarget, claim: SessionClaim): Promise<number> {
    return this.updateClaims(target, [{ claim, remove: true }]);
  }

  /**
   * Sets and removes several claims at once, like {@link setClaimValue}: one atomic store write per
   * session, and one claims epoch for the lot (the service's claims routes). Returns how many sessions
   * were updated. Nothing is written when a change names a reserved claim.
   */
  async updateClaims(target: ClaimTarget, changes: readonly ClaimChange[]): Promise<number> {
    if (!Array.isArray(changes) || changes.length === 0) throw new TypeError('updateClaims needs at least one change');
    const now = this.#clock.now();
    const token: JsonMerge = {};
    const data: JsonMerge = {};
    for (const change of changes) {
      const { claim } = change;
      if (RESERVED_CLAIMS.has(claim.key)) throw new InvalidClaimsError(`${claim.key} is a reserved claim name`, claim.key);
      (claim.where === 'token' ? token : data)[claim.key] = 'remove' in change ? null : claim.entry(change.value, now);
    }
    return this.#writeClaims(target, token, data);
  }

  /**
   * Fetches a claim's value for an active session now, with the claim's registered fetch (or its own),
   * without writing it: the HTTP layer writes it and reissues tokens. Undefined when the claim has no
   * fetch or the fetch has no value. A fetch that throws gives a `HookError` (`claimFetch`).
   */
  async fetchClaimEntry(sessionId: string, claim: SessionClaim): Promise<JsonObject | undefined> {
    const registered = this.#claims.get(claim.key) ?? claim;
    if (registered.fetch === undefined) return undefined;
    const session = await this.#store.getSession(validateSessionId(sessionId));
    if (!session || !isSessionActive(session, this.#clock.now())) throw new NotFoundError('session not found, revoked or expired');
    return this.#fetchEntry(registered, { sessionId, userId: session.userId, accessClaims: session.accessClaims, data: session.data });
  }

  /** The registered claim type with this key, if any (the `claims` option). */
  registeredClaim(key: string): SessionClaim | undefined {
    return this.#claims.get(key);
  }

  /** Mints a fresh access and ID token for an active session (e.g. right after its claims changed). */
  async reissueTokens(sessionId: string): Promise<ReissuedTokens> {
    const now = this.#clock.now();
    const record = await this.#store.getSession(sessionId);
    if (!record) throw new NotFoundError('session not found');
    if (!isSessionActive(record, now)) throw new UnauthorisedError(record.revokedAt === null ? 'session_expired' : 'revoked', 'session is not active');
    return this.#mint(record, now);
  }

  /** Ends one session at once, on this instance and (through the bus) every other. True if it was active. */
  async revokeSession(sessionId: string, reason: RevocationReason = 'signout'): Promise<boolean> {
    validateSessionId(sessionId);
    const now = this.#clock.now();
    const revocation = await this.#store.revokeSession(sessionId, now, reason);
    if (revocation) {
      await this.#revoked([revocation], reason);
      return true;
    }
    // Already revoked. If that was recent, announce it again: the call that revoked it may have died
    // between its commit and its publish (a retried sign-out is exactly that case), and without this
    // the other instances would learn of it only from their store poll.
    const session = await this.#store.getSession(sessionId);
    if (session?.revokedAt != null && session.revokedAt > now - this.#schedule.retainMs) {
      // Announced with the reason it was revoked for, which may not be this call's.
      const stored = session.revokedReason ?? reason;
      const again: BusRevocation[] = [{ sessionId: session.id, revokedAt: session.revokedAt, reason: stored }];
      this.#fleet.deny(again);
      await this.#fleet.publish({ type: 'revoked', revocations: again });
    }
    return false;
  }

  /**
   * Ends every session of a user (after a password change, on account disable, by an administrator),
   * optionally except one. Returns how many were ended.
   */
  async revokeUserSessions(userId: string, options?: RevokeUserSessionsOptions): Promise<number> {
    const reason = options?.reason ?? (options?.exceptSessionId ? 'signout-others' : 'revoke-all');
    const revocations = await this.#store.revokeUserSessions(validateUserId(userId), this.#clock.now(), reason, options?.exceptSessionId);
    await this.#revoked(revocations, reason);
    return revocations.length;
  }

  /**
   * Deletes expired sessions and their refresh-token chains, then runs the tasks registered with
   * {@link Latchkey.onCleanup} (the audit log's retention). A failing task is reported as an `error`
   * event and does not fail the session cleanup, which has already committed.
   */
  async cleanup(): Promise<CleanupResult> {
    const result = await this.#store.deleteExpired(this.#clock.now() - this.#schedule.retainMs);
    for (const task of [...this.#cleanupTasks]) {
      try {
        await task();
      } catch (error) {
        this.#events.emit('error', { error, during: 'cleanup task' });
      }
    }
    return result;
  }

  /**
   * Adds a step to the periodic cleanup job (hourly by default, `cleanupInterval`) and to every
   * `cleanup()` call, so that data with a retention of its own (the audit log) is trimmed on the same
   * schedule as sessions. Returns a function that removes it.
   */
  onCleanup(task: () => Promise<unknown>): () => void {
    const entry = async () => void (await task());
    this.#cleanupTasks.add(entry);
    return () => this.#cleanupTasks.delete(entry);
  }

  // ---------------------------------------------------------------------------------------------
  // Health and figures (read-only views of the store, for probes, metrics and the revocation feed)

  /** Resolves when the store answers a trivial query, rejects otherwise: for a readiness probe. */
  async ping(): Promise<void> {
    await this.#store.ping();
  }

  /** Sessions neither revoked nor expired at `now` (default: the engine's clock), for metrics. */
  async countActiveSessions(now: number = this.#clock.now()): Promise<number> {
    return this.#store.countActiveSessions(now);
  }

  /**
   * The signing key in use at `now` according to the store (not this instance's key ring, which may
   * lag the store by one key check), or undefined before any key is active. Its id and when it began
   * signing (ms since the epoch), for a key-age metric; never key material.
   */
  async currentSigningKey(now: number = this.#clock.now()): Promise<{ kid: string; activatesAt: number } | undefined> {
    const keys = await this.#store.listSigningKeys();
    const active = keys.filter((k) => k.activatesAt <= now).sort((a, b) => b.activatesAt - a.activatesAt)[0];
    return active === undefined ? undefined : { kid: active.kid, activatesAt: active.activatesAt };
  }

  /**
   * The revocation feed (revocation/feed.ts) from `since` (a previous answer's `cursor`), for edge
   * verifiers. `now` defaults to the engine's clock; the HTTP layer passes its own.
   */
  async revocationFeed(since: number | undefined, now: number = this.#clock.now()): Promise<RevocationFeed> {
    return readRevocationFeed(this.#store, this.settings, since, now);
  }

  // ---------------------------------------------------------------------------------------------
  // Keys

  /**
   * Creates, publishes and loads keys as the schedule says, and drops keys no token needs any more.
   * Runs on start and on a timer; safe on many instances at once (one wins each generation).
   */
  async maintainKeys(): Promise<void> {
    const now = this.#clock.now();
    let records = await this.#store.listSigningKeys();
    const plan = planKeyMaintenance(records, now, this.#schedule);
    if (plan.create) {
      const key = await generateSigningKey(this.settings.signingAlgorithm, plan.create.generation, now, plan.create.activatesAt, this.#encryptionKey);
      if (await this.#store.insertSigningKey(key)) this.#keyCreated(key.kid, key.activatesAt, now);
      records = await this.#store.listSigningKeys();
    }
    if (plan.remove.length > 0) {
      await this.#store.deleteSigningKeys(plan.remove);
      records = records.filter((r) => !plan.remove.includes(r.kid));
    }
    await this.#ring.load(records);
  }

  /**
   * Rotates now: a new key signs from this instant. By default tokens signed by the previous keys
   * keep verifying until they expire, so nobody notices. With `dropPrevious` (a key has leaked), every
   * older key leaves the key set at once, here and (through the bus, or their next key check) on every
   * instance: tokens it signed, forged ones included, stop verifying, and clients refresh, since
   * refresh tokens do not depend on signing keys. Returns the new key's id.
   */
  async rotateKeys(options: { dropPrevious?: boolean } = {}): Promise<{ kid: string }> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const now = this.#clock.now();
      const records = await this.#store.listSigningKeys();
      const generation = Math.max(0, ...records.map((r) => r.generation)) + 1;
      const key = await generateSigningKey(this.settings.signingAlgorithm, generation, now, now, this.#encryptionKey);
      if (await this.#store.insertSigningKey(key)) {
        if (options.dropPrevious) await this.#store.deleteSigningKeys(records.map((r) => r.kid));
        await this.#ring.load(options.dropPrevious ? [key] : [...records, key]);
        this.#keyCreated(key.kid, now, now);
        return { kid: key.kid };
      }
    }
    throw new Error('latchkey: could not rotate keys: other writers kept winning');
  }

  /** The public keys, for `/.well-known/jwks.json`. */
  jwks(): JsonWebKeySet {
    return this.#ring.jwks();
  }

  /** Discovery metadata for `/.well-known/openid-configuration`. */
  discovery(jwksUri = `${this.settings.issuer.replace(/\/$/, '')}/.well-known/jwks.json`): DiscoveryDocument {
    const algs = new Set(this.#ring.all().map((k) => k.alg));
    algs.add(this.settings.signingAlgorithm);
    return {
      issuer: this.settings.issuer,
      jwks_uri: jwksUri,
      id_token_signing_alg_values_supported: [...algs],
      subject_types_supported: ['public'],
      claims_supported: ['iss', 'aud', 'sub', 'sid', 'jti', 'iat', 'exp', 'auth_time'],
    };
  }

  // ---------------------------------------------------------------------------------------------
  // Events and lifecycle

  on<E extends LatchkeyEventName>(name: E, listener: LatchkeyListener<E>): () => void {
    return this.#events.on(name, listener);
  }

  off<E extends LatchkeyEventName>(name: E, listener: LatchkeyListener<E>): void {
    this.#events.off(name, listener);
  }

  /** Loads revocations made by other instances since the last sighting. Runs on a timer and on bus reconnect. */
  async syncRevocations(): Promise<void> {
    await this.#fleet.syncRevocations();
  }

  /**
   * The DPoP nonce to send as `DPoP-Nonce` (RFC 9449 §8). Any instance sharing the master secret
   * accepts it. Proofs must carry it when the `dpop.requireNonce` option is on.
   */
  dpopNonce(): string {
    return this.#dpop.nonce(this.#clock.now());
  }

  /** Whether DPoP proofs must carry a server nonce (the `dpop.requireNonce` option). */
  get dpopRequiresNonce(): boolean {
    return this.#dpop.requiresNonce;
  }

  /** Number of session ids in the in-memory denylist (for metrics). */
  get revokedSessionsInMemory(): number {
    return this.#fleet.denylist.size;
  }

  /** Stops timers, leaves the bus and, if latchkey opened the store itself, closes it. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#fleet.stopTimers();
    try {
      await this.apiKeys.flushLastUsed();
    } catch (error) {
      this.#events.emit('error', { error, during: 'API key last-use flush' });
    }
    await this.#fleet.leave();
    await this.#dpop.close();
    if (this.#ownsStore) await this.#store.close();
  }

  // ---------------------------------------------------------------------------------------------
  // Internals

  /** The new session's claims and data: the app's, the registered claims' fetched values, then beforeCreate's. */
  async #prepareSession(
    sessionId: string,
    userId: string,
    given: { accessClaims: JsonObject; idClaims: JsonObject; data: JsonObject },
    now: number,
  ): Promise<{ accessClaims: JsonObject; idClaims: JsonObject; data: JsonObject }> {
    let { accessClaims, idClaims, data } = given;
    for (const claim of this.#claims.values()) {
      const inToken = claim.where === 'token';
      // A value the app passed itself wins: it may know better (it has just checked the email).
      if (Object.hasOwn(inToken ? accessClaims : data, claim.key)) continue;
      const entry = await this.#fetchEntry(claim, { sessionId, userId, accessClaims, data }, now);
      if (entry === undefined) continue;
      if (inToken) {
        accessClaims = { ...accessClaims, [claim.key]: entry };
        idClaims = { ...idClaims, [claim.key]: entry };
      } else data = { ...data, [claim.key]: entry };
    }
    const { beforeCreate } = this.#hooks;
    if (beforeCreate) {
      const input = { userId, accessClaims, idClaims, data };
      const result = await runBeforeHook('beforeCreate', () => beforeCreate(input));
      if (result) {
        // Whatever the hook adds is held to the rules the app's own claims are.
        if (result.accessClaims) accessClaims = validateAppClaims({ ...accessClaims, ...result.accessClaims }, 'accessClaims');
        if (result.idClaims) idClaims = validateAppClaims({ ...idClaims, ...result.idClaims }, 'idClaims');
        if (result.data) data = validateJsonObject({ ...data, ...result.data }, 'data', MAX_DATA_BYTES);
      }
    }
    // Fetched values count against the same limits as the app's claims.
    assertWithinLimit(accessClaims, 'accessClaims', MAX_CLAIMS_BYTES);
    assertWithinLimit(idClaims, 'idClaims', MAX_CLAIMS_BYTES);
    return { accessClaims, idClaims, data };
  }

  /** Runs a claim's fetch; a throw is a HookError, a value that is not JSON an INVALID_CLAIMS. */
  async #fetchEntry(claim: SessionClaim, context: ClaimFetchContext, now = this.#clock.now()): Promise<JsonObject | undefined> {
    const fetch = claim.fetch;
    if (fetch === undefined) return undefined;
    const value = await runBeforeHook('claimFetch', () => fetch(context.userId, context));
    if (value === undefined) return undefined;
    return validateJsonObject(claim.entry(value, now), claim.key, MAX_CLAIMS_BYTES);
  }

  /**
   * On refresh: refetches the registered claims that are missing or older than their `maxAgeSeconds`
   * and writes them, so that the new tokens carry fresh values. Best effort: the rotation is already
   * committed, so a fetch or write that fails is reported (`error` event) and the old values are kept;
   * a validator that finds them stale will try again.
   */
  async #refetchStaleClaims(session: SessionRecord, now: number): Promise<SessionRecord> {
    const tokenMerge: JsonObject = {};
    const dataMerge: JsonObject = {};
    for (const claim of this.#claims.values()) {
      if (claim.fetch === undefined || claim.maxAgeSeconds === undefined) continue;
      const held = (claim.where === 'token' ? session.accessClaims : session.data)[claim.key];
      const fetchedAt = typeof held === 'object' && held !== null && !Array.isArray(held) ? held.t : undefined;
      if (typeof fetchedAt === 'number' && now - fetchedAt <= claim.maxAgeSeconds * 1000) continue;
      try {
        const entry = await this.#fetchEntry(claim, { sessionId: session.id, userId: session.userId, accessClaims: session.accessClaims, data: session.data }, now);
        (claim.where === 'token' ? tokenMerge : dataMerge)[claim.key] = entry ?? null;
      } catch (error) {
        this.#events.emit('error', { error, during: `claim refetch ${claim.key}` });
      }
    }
    if (Object.keys(tokenMerge).length === 0 && Object.keys(dataMerge).length === 0) return session;
    const update: SessionUpdate = {};
    if (Object.keys(tokenMerge).length > 0) Object.assign(update, { mergeAccessClaims: tokenMerge, mergeIdClaims: tokenMerge });
    if (Object.keys(dataMerge).length > 0) update.mergeData = dataMerge;
    try {
      const patch = validateSessionUpdate(update);
      const updated = await this.#store.updateSession(session.id, patch, {
        now,
        check: (next) => {
          assertWithinLimit(next.accessClaims, 'accessClaims', MAX_CLAIMS_BYTES);
          assertWithinLimit(next.idClaims, 'idClaims', MAX_CLAIMS_BYTES);
          assertWithinLimit(next.data, 'data', MAX_DATA_BYTES);
        },
      });
      return updated ?? session;
    } catch (error) {
      this.#events.emit('error', { error, during: 'claim refetch write' });
      return session;
    }
  }

  /** updateClaims: the store write for each session, then the epoch, here and on the bus. */
  async #writeClaims(target: ClaimTarget, token: JsonMerge, data: JsonMerge): Promise<number> {
    const inToken = Object.keys(token).length > 0;
    const update: SessionUpdate = {
      ...(inToken ? { mergeAccessClaims: token, mergeIdClaims: token } : {}),
      ...(Object.keys(data).length > 0 ? { mergeData: data } : {}),
    };
    let sessionIds: string[];
    let epoch: ClaimsEpoch;
    if ('sessionId' in target) {
      await this.updateSession(target.sessionId, update);
      sessionIds = [target.sessionId];
      epoch = { sessionId: target.sessionId, at: 0 };
    } else {
      const userId = validateUserId(target.userId);
      sessionIds = [];
      for (const session of await this.listSessions(userId)) {
        try {
          await this.updateSession(session.id, update);
          sessionIds.push(session.id);
        } catch (error) {
          // Ended between the list and the write: nothing to update.
          if (!(error instanceof NotFoundError)) throw error;
        }
      }
      epoch = { userId, at: 0 };
    }
    // A claim kept in the session data is read from the store where it is checked: no token to outdate.
    if (inToken) {
      // Taken after the writes, as the next millisecond: a token minted in this one may predate the
      // write (it is outdated); one minted here after it takes the epoch as its mint time (#mint).
      const epochs = [{ ...epoch, at: this.#clock.now() + 1 }];
      this.#fleet.claimsChanged(epochs);
      await this.#fleet.persistClaimsEpochs(epochs);
      await this.#fleet.publish({ type: 'claims-changed', epochs });
    }
    return sessionIds.length;
  }

  /** Throws SECRET_MISMATCH unless the key that signs at `now` can be used. Imported once per key, then cached. */
  async #assertCanSign(now: number): Promise<void> {
    await this.#ring.signingKey(this.#ring.signing(now));
  }

  async #mint(record: SessionRecord, now: number): Promise<ReissuedTokens> {
    const key = this.#ring.signing(now);
    const subject = { sessionId: record.id, userId: record.userId, authTime: record.authTime, mintedAtMs: this.#fleet.epochs.floor(record.userId, record.id) };
    // A DPoP-bound session's access tokens name the key (RFC 9449 §6.1); `cnf` is reserved, so app
    // claims can never set it. DBSC binds cookies, not tokens: its tokens carry no `cnf`.
    const jkt = record.binding?.method === 'dpop' ? record.binding.jkt : undefined;
    const claims = jkt === undefined ? record.accessClaims : { ...record.accessClaims, cnf: { jkt } };
    const access = await signAccessToken(this.#ring, key, this.#tokenSettings, { ...subject, claims }, now);
    const idToken = await signIdToken(
      this.#ring,
      key,
      { issuer: this.settings.issuer, audience: this.settings.idTokenAudience },
      { ...subject, claims: record.idClaims },
      now,
      access.expiresAt,
    );
    return { accessToken: access.token, accessTokenExpiresAt: new Date(access.expiresAt), idToken };
  }

  /** The thumbprint of the session's DBSC key, once `dbsc.proof` proved possession of it over a current challenge. */
  async #provenDbscKey(dbsc: { sessionId: string; proof: string }, now: number): Promise<string> {
    if (typeof dbsc !== 'object' || dbsc === null || typeof dbsc.sessionId !== 'string') throw new TypeError('dbsc needs a sessionId string');
    validateSessionId(dbsc.sessionId);
    const record = await this.#store.getSession(dbsc.sessionId);
    const binding = record?.binding;
    if (binding?.method !== 'dbsc' || binding.jwk === undefined) throw new InvalidDbscProofError('key_mismatch', 'this session registered no DBSC key');
    await this.#dbsc.verifyRefresh(dbsc.proof, dbsc.sessionId, binding.jwk, now);
    return binding.jkt;
  }

  /** RFC 9449 §7.1: a token with `cnf.jkt` is accepted only with a fresh proof from that key, bound to it by `ath`. */
  async #checkTokenBinding(token: string, claims: AccessTokenClaims, options: VerifyOptions | undefined, now: number): Promise<string | undefined> {
    const cnf = claims.cnf;
    const jkt = typeof cnf === 'object' && cnf !== null && !Array.isArray(cnf) ? cnf.jkt : undefined;
    if (jkt === undefined) {
      if (options?.scheme === 'DPoP') throw new InvalidDpopProofError('key_mismatch', 'the access token is not bound to a key; send it as Bearer');
      return undefined;
    }
    if (typeof jkt !== 'string') throw new UnauthorisedError('claim_invalid', 'access token cnf.jkt is not a string', { claim: 'cnf' });
    if (options?.scheme === 'Bearer') throw new InvalidDpopProofError('bearer_scheme', 'a DPoP-bound access token must be sent with the DPoP scheme');
    if (options?.dpop === undefined) throw new InvalidDpopProofError('missing', 'a DPoP-bound access token needs a DPoP proof');
    await this.#dpop.verify(options.dpop, now, { accessToken: token, expectedJkt: jkt });
    return jkt;
  }

  async #revoked(revocations: Revocation[], reason: RevocationReason): Promise<void> {
    if (revocations.length === 0) return;
    // The reason travels so that every instance answers the session's holders TOKEN_THEFT_DETECTED.
    const announced: BusRevocation[] = revocations.map(({ sessionId, revokedAt }) => ({ sessionId, revokedAt, reason }));
    this.#fleet.deny(announced);
    for (const r of revocations) {
      this.#events.emit('session.revoked', { sessionId: r.sessionId, userId: r.userId, at: new Date(r.revokedAt), reason });
    }
    await this.#fleet.publish({ type: 'revoked', revocations: announced });
    const { onRevoke } = this.#hooks;
    const sessions = revocations.map(({ sessionId, userId }) => ({ sessionId, userId }));
    await runAfterHook(this.#events, 'onRevoke', onRevoke && (() => onRevoke({ sessions, reason, at: new Date(revocations[0]!.revokedAt) })));
  }

  #keyCreated(kid: string, activatesAt: number, now: number): void {
    this.#events.emit('keys.rotated', { kid, activatesAt: new Date(activatesAt), at: new Date(now) });
    void this.#fleet.publish({ type: 'keys-changed' });
  }

  #startTimers(): void {
    const tasks: PeriodicTask[] = [
      { everyMs: this.settings.keyCheckIntervalMs, during: 'key maintenance', run: () => this.maintainKeys() },
      { everyMs: this.settings.revocationPollIntervalMs, during: 'revocation poll', run: () => this.syncRevocations() },
      { everyMs: this.settings.cleanupIntervalMs, during: 'cleanup', run: async () => void (await this.cleanup()) },
    ];
    if (this.apiKeys.enabled) {
      tasks.push(
        { everyMs: this.settings.revocationPollIntervalMs, during: 'API key poll', run: () => this.apiKeys.syncChanges() },
        { everyMs: this.settings.apiKeyLastUsedIntervalMs, during: 'API key last-use flush', run: () => this.apiKeys.flushLastUsed() },
      );
    }
    this.#fleet.startTimers(tasks);
  }
}

/** Whose claims `setClaimValue` and `removeClaim` change: one session, or every active session of a user. */
export type ClaimTarget = { sessionId: string } | { userId: string };

/** One change for {@link Latchkey.updateClaims}: set a claim's value, or remove the claim. */
export type ClaimChange = { claim: SessionClaim; value: JsonValue } | { claim: SessionClaim; remove: true };


function registeredClaims(claims: LatchkeyOptions['claims']): ReadonlyMap<string, SessionClaim> {
  const map = new Map<string, SessionClaim>();
  if (claims === undefined) return map;
  if (!Array.isArray(claims)) throw new TypeError('latchkey option claims must be an array of claim types');
  for (const claim of claims as readonly SessionClaim[]) {
    if (typeof claim?.key !== 'string' || typeof claim.entry !== 'function') throw new TypeError('latchkey option claims: use defineClaim or a built-in claim');
    if (map.has(claim.key)) throw new TypeError(`latchkey option claims: ${claim.key} is registered twice`);
    if (RESERVED_CLAIMS.has(claim.key)) throw new TypeError(`latchkey option claims: ${claim.key} is a reserved claim name`);
    map.set(claim.key, claim);
  }
  return map;
}

/**
 * Creates the engine: opens (and migrates) the store, loads or creates signing keys, loads recent
 * revocations, joins the bus, and starts the key, revocation and cleanup timers.
 *
 * @example
 * const latchkey = await createLatchkey({ issuer: 'https://app.example.com' });
 * const { accessToken, refreshToken } = await latchkey.createSession({ userId: 'u_123' });
 */
export function createLatchkey(options: LatchkeyOptions): Promise<Latchkey> {
  return Latchkey.create(options);
}
