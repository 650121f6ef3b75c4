// "Verify your email" in the page (issue 16). The SDK's validator, the server's own rule
// (@latchkey/client/claims), decides before any call whether the user may open billing; the
// server's 403 says the same when asked anyway; and once the email is verified, the SDK's
// claimsUpdated event (this tab and the others) or refreshed event (other devices, after the server
// sent their older token to refresh) redraws the card. The server side: src/claims.mjs.
import { EmailVerifiedClaim, withClaims } from '/sdk/claims/index.js';

/** What GET /api/billing requires (src/claims.mjs has the same list). */
const BILLING = [EmailVerifiedClaim.isTrue()];

const $ = (selector) => document.querySelector(selector);

export function mountEmailClaim(latchkey) {
  const client = withClaims(latchkey);
  const card = $('#email-claim');
  const show = (text) => ($('#billing-result').textContent = text);

  async function render() {
    const failures = await client.validateClaims(BILLING);
    const verified = failures.length === 0;
    card.dataset.verified = String(verified);
    $('#verify-banner').hidden = verified;
    $('#verified-note').hidden = !verified;
    return failures;
  }

  async function callBilling() {
    const response = await client.fetch('/api/billing');
    const body = await response.json().catch(() => null);
    show(`${response.status} ${JSON.stringify(body, null, 2)}`);
  }

  $('#call-billing').addEventListener('click', async () => {
    const failures = await render();
    // Gated in the page: no request the server would refuse.
    if (failures.length > 0)
      return show(`Not called: ${failures.map((f) => `${f.id} (${f.reason})`).join(', ')}. Verify your email first.`);
    await callBilling();
  });
  // The server's gate, for the curious: 403 CLAIM_VALIDATION_FAILED with the same list.
  $('#call-billing-anyway').addEventListener('click', callBilling);
  $('#verify-email').addEventListener('click', async () => {
    const response = await client.fetch('/api/verify-email', { method: 'POST' });
    if (!response.ok) show(`The email could not be verified: ${response.status}`);
    // No redraw here: claimsUpdated does it, here and in the other tabs.
  });

  client.on('claimValidationFailed', ({ claimValidationErrors }) => {
    card.dataset.refused = claimValidationErrors.map((e) => e.id).join(' ');
    void render();
  });
  client.on('claimsUpdated', () => void render());
  client.on('refreshed', () => void render());
  return { render };
}
