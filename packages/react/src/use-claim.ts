/**
 * `useClaim()`: the session's claims judged by the server's own validators (`@latchkey/client/claims`,
 * the module `requireSession({ validators })` runs), so a UI can show "verify your email" before the
 * API answers 403 `CLAIM_VALIDATION_FAILED`. Display and routing only: the server decides.
 */
import { validateClaimEntries, type ClaimValidationError, type ClaimValidator } from '@latchkey/client/claims';
import { useSession } from './use-session.js';

/** What `useClaim()` returns. */
export interface ClaimState {
  /** True until the session is known (server render, first paint): judge nothing yet. */
  readonly loading: boolean;
  /** Every validator passed. `false` while loading and when signed out. */
  readonly valid: boolean;
  /**
   * The failed validators (`{ id, reason }`, as in the server's 403). Empty while loading; every one
   * `missing` when signed out. `stale` means the server would fetch the value again before judging:
   * "ask the server", not a refusal.
   */
  readonly failures: readonly ClaimValidationError[];
}

const LOADING: ClaimState = Object.freeze({ loading: true, valid: false, failures: Object.freeze([]) as readonly ClaimValidationError[] });

/**
 * Judges the session's claims (the ID token's: claims kept `where: 'token'`) with `validators`, e.g.
 * `useClaim([EmailVerifiedClaim.isTrue()])`. Judged again on every render, so on every session change
 * (sign-in, refresh, `claimsUpdated`, sign-out, in any tab); a verdict that depends on the time alone
 * (`maxAgeSeconds`, `completedWithin`) changes at the next render. Time is the server's, as the
 * server judges: the ID token's `exp` against the same expiry on this device's clock.
 */
export function useClaim(validators: readonly ClaimValidator[]): ClaimState {
  const { status, claims, expiresAt } = useSession();
  if (status === 'loading') return LOADING;
  const exp = claims?.exp;
  const skew = typeof exp === 'number' && expiresAt ? exp * 1000 - expiresAt.getTime() : 0;
  const failures = validateClaimEntries(claims ?? {}, validators, Date.now() + skew);
  return { loading: false, valid: failures.length === 0, failures };
}
