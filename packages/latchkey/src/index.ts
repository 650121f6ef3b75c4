/**
 * latchkey: short-lived signed access tokens, rotating opaque refresh tokens with theft detection,
 * self-rotating signing keys published as JWKS, and revocation that takes effect at once.
 *
 * Stores and adapters live behind their own subpaths (`latchkey/stores/sqlite`, ...), so an app
 * loads only the drivers it uses.
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
export type { LatchkeyOptions, ResolvedSettings } from './options.js';
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
export * from './errors.js';
export type { LatchkeyEventName, LatchkeyEvents, LatchkeyListener } from './events.js';
export type { JsonWebKeySet } from './keys/ring.js';
export type { BusHandlers, BusMessage, BusRevocation, RevocationBus } from './revocation/bus.js';
export type * from './stores/types.js';
export { decideRotation, isSessionActive, isSessionExpired, successorTokenRecord } from './refresh/decide.js';
export { ACCESS_TOKEN_TYPE } from './tokens/access.js';
export { accessTokenHash, DEFAULT_DPOP_ALGORITHMS, DPOP_PROOF_TYPE, type DpopProofInput } from './dpop/proof.js';
export { MemoryReplayCache, type DpopReplayCache, type MemoryReplayCacheOptions } from './dpop/replay.js';
export type { DpopOptions } from './dpop/verifier.js';
export { ID_TOKEN_TYPE } from './tokens/id.js';
export { REFRESH_TOKEN_PREFIX } from './refresh/token.js';
export { RESERVED_CLAIMS } from './tokens/claims.js';
export type * from './types.js';
export { REVOCATION_REASONS, SIGNING_ALGORITHMS } from './types.js';
