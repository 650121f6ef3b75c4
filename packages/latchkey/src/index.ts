/**
 * latchkey: short-lived signed access tokens, rotating opaque refresh tokens with theft detection,
 * self-rotating signing keys published as JWKS, and revocation that takes effect at once.
 *
 * Stores and adapters live behind their own subpaths (`latchkey/stores/sqlite`, ...), so an app
 * loads only the drivers it uses. Every name is listed (no `export *`), so that a new export is a
 * decision visible in review, and in the API report (api/index.api.md).
 */
export { createLatchkey, Latchkey } from './engine.js';
export type {
  CreateSessionInput,
  DiscoveryDocument,
  RefreshOptions,
  ReissuedTokens,
  RevokeUserSessionsOptions,
  SessionUpdate,
  VerifyOptions,
} from './engine.js';
export type { ClaimChange, ClaimTarget } from './engine.js';
export type { LatchkeyOptions, ResolvedSettings } from './options.js';
export type { BeforeCreateInput, BeforeCreateResult, SessionHooks } from './engine/hooks.js';
export { defineClaim, EmailVerifiedClaim, MfaClaim, PermissionsClaim, RolesClaim } from './claims/claim.js';
export type { ClaimDefinition, ClaimFetch, ClaimFetchContext, ClaimLocation, SessionClaim } from './claims/claim.js';
export {
  booleanClaimChecks,
  CLAIM_KEYS,
  isStale,
  listClaimChecks,
  mfaClaimChecks,
  readClaimEntry,
  validateClaimEntries,
} from './claims/checks.js';
export type {
  BooleanClaimChecks,
  ClaimEntry,
  ClaimValidationError,
  ClaimValidator,
  ListClaimChecks,
  MfaClaimChecks,
} from './claims/checks.js';
export { ApiKeys } from './api-keys/manager.js';
export type {
  ApiKey,
  ApiKeyRejectReason,
  CreateApiKeyInput,
  CreatedApiKey,
  RotateApiKeyOptions,
  VerifiedApiKey,
  VerifyApiKeyOptions,
} from './api-keys/types.js';
export { API_KEY_LENGTH, API_KEY_PATTERN, API_KEY_PREFIX, API_KEY_SCAN_PATTERN, isApiKey } from './api-keys/format.js';
export type { Clock } from './clock.js';
export {
  HookError,
  InsufficientFreshnessError,
  InsufficientScopeError,
  InvalidClaimsError,
  InvalidDbscProofError,
  InvalidDpopProofError,
  isLatchkeyError,
  LatchkeyError,
  MissingDependencyError,
  NotFoundError,
  SecretMismatchError,
  SessionRefusedError,
  StoreUnavailableError,
  TokenTheftError,
  TryRefreshError,
  UnauthorisedError,
  UseDpopNonceError,
} from './errors.js';
// Raised by the HTTP layer's API-key check (its code is an HttpErrorCode), exported here as well, where it always was.
export { RateLimitedError } from './http/errors.js';
export type {
  DbscProofFailure,
  DpopProofFailure,
  HookName,
  LatchkeyErrorCode,
  LatchkeyErrorOptions,
  TheftReason,
  UnauthorisedReason,
} from './errors.js';
export type { LatchkeyEventName, LatchkeyEvents, LatchkeyListener } from './events.js';
export type { JsonWebKeySet } from './keys/ring.js';
export type { BusHandlers, BusMessage, BusRevocation, ClaimsEpoch, RevocationBus } from './revocation/bus.js';
export type { RevocationFeed, RevocationFeedEntry } from './revocation/feed.js';
export type {
  ApiKeyRecord,
  ApiKeyStore,
  ClaimsEpochRecord,
  CleanupResult,
  JsonMerge,
  MigrationReport,
  NewSession,
  RefreshTokenRecord,
  Revocation,
  RotateApiKeyInput,
  RotateRefreshInput,
  RotateRefreshOutcome,
  ServiceKeyRecord,
  ServiceKeyStore,
  ServiceSessionStore,
  SessionBinding,
  SessionPatch,
  SessionRecord,
  SessionStore,
  SigningKeyRecord,
  UpdateSessionOptions,
} from './stores/types.js';
export { decideRotation, isSessionActive, isSessionExpired, successorTokenRecord } from './refresh/decide.js';
export { ACCESS_TOKEN_TYPE } from './tokens/access.js';
export { accessTokenHash, DEFAULT_DPOP_ALGORITHMS, DPOP_PROOF_TYPE, type DpopProofInput } from './dpop/proof.js';
export { MemoryReplayCache, type DpopReplayCache, type MemoryReplayCacheOptions } from './dpop/replay.js';
export type { DpopOptions } from './dpop/verifier.js';
export { ID_TOKEN_TYPE } from './tokens/id.js';
export { REFRESH_TOKEN_PREFIX } from './refresh/token.js';
export { RESERVED_CLAIMS } from './tokens/claims.js';
export type {
  AccessTokenClaims,
  DetectedTheftReason,
  DeviceInfo,
  IssuedTokens,
  JsonObject,
  JsonValue,
  RevocationReason,
  Session,
  SigningAlgorithm,
  VerifiedAccessToken,
} from './types.js';
export { REVOCATION_REASONS, SIGNING_ALGORITHMS } from './types.js';
