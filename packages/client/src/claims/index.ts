/**
 * @latchkey/client/claims: the server's claim validators in the browser, and its 403
 * `CLAIM_VALIDATION_FAILED` as a typed error and an event.
 *
 * ```ts
 * import { createLatchkeyClient } from '@latchkey/client';
 * import { EmailVerifiedClaim, RolesClaim, withClaims } from '@latchkey/client/claims';
 * const latchkey = withClaims(createLatchkeyClient());
 * const failures = await latchkey.validateClaims([EmailVerifiedClaim.isTrue(), RolesClaim.includes('admin')]);
 * // [{ id: 'lk-ev.isTrue', reason: 'is not true' }]: show "verify your email" before calling the API
 * ```
 */
import {
  booleanClaimChecks,
  CLAIM_KEYS,
  listClaimChecks,
  mfaClaimChecks,
  type BooleanClaimChecks,
  type ListClaimChecks,
  type MfaClaimChecks,
} from '../claim-checks.js';

export {
  booleanClaimChecks,
  CLAIM_KEYS,
  isStale,
  listClaimChecks,
  mfaClaimChecks,
  readClaimEntry,
  validateClaimEntries,
} from '../claim-checks.js';
export type {
  BooleanClaimChecks,
  ClaimEntry,
  ClaimValidationError,
  ClaimValidator,
  ListClaimChecks,
  MfaClaimChecks,
} from '../claim-checks.js';
export { CLAIM_VALIDATION_FAILED, ClaimValidationFailedError, readClaimValidationErrors, withClaims } from './validate.js';
export type { ClaimsClient, ClaimsEvents } from './validate.js';

/** The built-in claims' validators, as on the server (`latchkey`'s claims of the same names): `RolesClaim.includes('admin')`. */
export const RolesClaim: ListClaimChecks & { readonly key: string } = { key: CLAIM_KEYS.roles, ...listClaimChecks(CLAIM_KEYS.roles) };
/** `PermissionsClaim.includes('invoices:write')`. */
export const PermissionsClaim: ListClaimChecks & { readonly key: string } = {
  key: CLAIM_KEYS.permissions,
  ...listClaimChecks(CLAIM_KEYS.permissions),
};
/** `EmailVerifiedClaim.isTrue()`. */
export const EmailVerifiedClaim: BooleanClaimChecks & { readonly key: string } = {
  key: CLAIM_KEYS.emailVerified,
  ...booleanClaimChecks(CLAIM_KEYS.emailVerified),
};
/** `MfaClaim.completedWithin('totp', 600)`. */
export const MfaClaim: MfaClaimChecks & { readonly key: string } = { key: CLAIM_KEYS.mfa, ...mfaClaimChecks(CLAIM_KEYS.mfa) };
