/**
 * `latchkey/stores`: everything needed to write a store of one's own (MySQL, DynamoDB, ...). The
 * contracts and their record types, the helpers every built-in store shares so that a decision means
 * the same on each (the rotation decision, the session patch), and the conformance kit that proves a
 * store keeps the contracts, runnable under any test runner. See docs/custom-stores.md.
 *
 * The built-in drivers have entries of their own (`latchkey/stores/memory`, `/sqlite`, `/postgres`),
 * so importing this one loads no database client.
 */
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
} from './types.js';
export { StoreUnavailableError } from '../errors.js';
export { decideRotation, isSessionActive, isSessionExpired, successorTokenRecord } from '../refresh/decide.js';
export { applySessionPatch, mergeJson, patchedSession } from './patch.js';
export type { StoreContractTarget, StoreContractTestApi } from './kit/harness.js';
export { runSessionStoreContract } from './kit/session.js';
export { runApiKeyStoreContract } from './kit/api-keys.js';
export { runServiceKeyStoreContract } from './kit/service-keys.js';
export { apiKeyFixture, FIXTURE_T0, sessionFixture } from './kit/fixtures.js';
