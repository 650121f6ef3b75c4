/**
 * `latchkey/edge`: verify-only, on web standards alone (WebCrypto, fetch; no `node:` module, no
 * native code), for edge runtimes. See edge/verifier.ts and docs/edge.md.
 */
export { createEdgeVerifier } from './verifier.js';
export type { EdgeRevocationFeedOptions, EdgeVerifier, EdgeVerifierOptions } from './verifier.js';
export { LatchkeyError, StoreUnavailableError, TokenTheftError, TryRefreshError, UnauthorisedError, isLatchkeyError } from '../errors.js';
export type { LatchkeyErrorCode, UnauthorisedReason } from '../errors.js';
export type { AccessTokenClaims, VerifiedAccessToken } from '../types.js';
