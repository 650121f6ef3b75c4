// "Verify your email" (issue 16): one session claim gating one API, end to end.
//
// - The claim: latchkey's EmailVerifiedClaim, fetched from the demo's user store at every sign-in,
//   so a new account starts with `lk-ev: false` in its tokens (the ID token too, where the browser
//   SDK reads it).
// - The gate: GET /api/billing answers 403 CLAIM_VALIDATION_FAILED with `claimValidationErrors` until
//   the claim is true. The page runs the same validator first (public/claims.js) and shows a "verify
//   your email" banner instead of calling.
// - The change: POST /api/verify-email stands in for the link a real app would email. It sets the
//   claim for every session of the user at once (setClaimValue): each older access token, on any
//   instance, is answered TRY_REFRESH_TOKEN at its next request, and its SDK refreshes into the new
//   value. This tab gets its new tokens in the answer (session.update), so its SDK emits claimsUpdated.
import { EmailVerifiedClaim } from 'latchkey';

/** What /api/billing requires: the same validator the page runs (from @latchkey/client/claims). */
export const BILLING_VALIDATORS = Object.freeze([EmailVerifiedClaim.isTrue()]);

/** The claim as the demo registers it with the engine: `users()` is the user store, once it is open. */
export function emailVerifiedClaim(users) {
  return EmailVerifiedClaim.with({ fetch: (userId) => users().isEmailVerified(userId) });
}

/** The routes, given the demo's parts once they exist (`deps()`: latchkey, auth, users, send). */
export function emailClaimRoutes(deps) {
  return {
    'GET /api/billing': async (req, res) => {
      const { auth, send } = deps();
      const session = await auth.requireSession(req, res, { validators: BILLING_VALIDATORS });
      if (!session) return; // 401, or 403 with the failed validators: sent by the adapter
      send(res, 200, { plan: 'Pro', nextInvoice: '2027-01-01', at: new Date().toISOString() });
    },
    'POST /api/verify-email': async (req, res) => {
      const { latchkey, auth, users, send } = deps();
      const session = await auth.requireSession(req, res);
      if (!session) return;
      users.markEmailVerified(session.userId);
      // Every session of the user, on every instance, without waiting for access tokens to expire.
      const sessions = await latchkey.setClaimValue({ userId: session.userId }, EmailVerifiedClaim, true);
      // This tab: new tokens in this answer (its SDK adopts them and emits claimsUpdated in every tab).
      await session.update({ mergeData: { emailVerifiedAt: new Date().toISOString() } });
      send(res, 200, { verified: true, sessions });
    },
  };
}
