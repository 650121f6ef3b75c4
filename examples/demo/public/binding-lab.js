// The security lab's device-binding half and the dashboard's "bound to this device" badge. Its own
// module (the server side is src/binding-lab.mjs): "steal the tokens" (header mode, DPoP) and "steal
// the cookies" (cookie mode, DBSC). Each plays a thief who copied a session's credentials and uses
// them from another device, and shows the server's answers as they come.
import { createLatchkeyClient, memoryTokenStorage } from '/sdk/index.js';
import { createDpop, memoryKeyStore } from '/sdk/dpop/index.js';

// The page's own client (cookie mode), made by app.js, which runs first.
const main = window.latchkey;
const $ = (selector) => document.querySelector(selector);
const mask = (value) => (value.length > 24 ? `${value.slice(0, 14)}…${value.slice(-4)}` : '…');
const config = await (await fetch('/api/config')).json();

// --- Dashboard badge -------------------------------------------------------------------------
const badge = document.createElement('p');
badge.id = 'bound-badge';
badge.className = 'binding';
$('#view-dashboard h1').after(badge);

/** isDeviceBound() reads the front token, which the server re-issues when the browser registers a DBSC key. */
async function renderBadge() {
  const bound = await main.isDeviceBound();
  badge.dataset.bound = String(bound);
  // The page's own session is a cookie-mode one, so its binding is DBSC (DPoP binds header mode: the lab's app).
  badge.innerHTML = bound
    ? '<span class="badge">This session is bound to this device</span> <span class="muted">(DBSC: a copy of its cookies stops working when the short-lived access cookie expires)</span>'
    : `<span class="badge off">Not device-bound</span> <span class="muted">${
        config.dbsc
          ? 'This browser did not register a DBSC key (Chromium with DBSC, over HTTPS, does).'
          : 'DBSC is off in this demo (it needs HTTPS: see the security lab).'
      } A copy of its cookies works elsewhere until rotation catches it.</span>`;
}
main.on('refreshed', renderBadge);
window.addEventListener('hashchange', renderBadge);
// The browser registers its key moments after sign-in, on its own: no SDK event tells the page.
setInterval(() => void renderBadge(), 1000);
void renderBadge();

// --- Lab markup ------------------------------------------------------------------------------
const lab = document.createElement('div');
lab.id = 'binding-lab';
lab.innerHTML = `
  <h1>Security lab: device binding</h1>
  <p class="muted">Rotation catches a thief after the fact. Binding makes the stolen copy useless: the session is tied to
    a private key that never leaves this device, and every refresh (and, with DPoP, every request) must prove it.</p>
  <div class="card" id="lab-tokens">
    <h2>Steal the tokens (header mode, DPoP)</h2>
    <p class="muted">An SPA or mobile app in header mode holds its tokens where its code can read them, and so can an
      injected script. Sign such an app in (a second latchkey client on this page, same account), steal its tokens, and
      replay them from "another device": plain <code>fetch</code>, without the app's key.</p>
    <label class="check"><input type="checkbox" id="lab-dpop" checked> Bind the app's session to a key on this device
      (DPoP, <code>@latchkey/client/dpop</code>: a non-extractable WebCrypto key)</label>
    <div class="actions">
      <button id="lab-tokens-signin" type="button">1. Sign the app in</button>
      <button id="lab-tokens-steal" type="button">2. Steal its tokens</button>
      <button id="lab-tokens-replay" type="button" class="danger">3. Use them on another device</button>
    </div>
    <pre id="lab-tokens-log" class="log"></pre>
    <p id="lab-tokens-verdict" class="verdict" hidden></p>
  </div>
  <div class="card" id="lab-cookies">
    <h2>Steal the cookies (cookie mode, DBSC)</h2>
    <p class="muted">Cookie-stealing malware copies the whole jar, HttpOnly cookies included. With DBSC (W3C Device Bound
      Session Credentials) the browser registered a key with this session after sign-in and the access cookie is short-lived:
      only the browser holding that key can get a new one. The thief's replay is made by the server on its behalf (the
      access cookie verified, then the refresh cookie presented alone, as another device would).</p>
    <p id="lab-dbsc-status" class="muted"></p>
    <div class="actions">
      <button id="lab-cookies-steal" type="button">1. Copy the cookie jar</button>
      <button id="lab-cookies-replay" type="button" class="danger">2. Use it on another device</button>
    </div>
    <pre id="lab-cookies-log" class="log"></pre>
    <p id="lab-cookies-verdict" class="verdict" hidden></p>
  </div>`;
$('#view-lab').append(lab);

$('#lab-dbsc-status').textContent = config.dbsc
  ? 'DBSC is on in this demo (HTTPS). Chromium registers a key only with DBSC enabled (the flags: docs/security.md, "Device binding"); other browsers keep an unbound session.'
  : 'DBSC is off in this demo: it needs HTTPS (start it with DEMO_TLS_CERT and DEMO_TLS_KEY), so here the copied jar works. The DPoP lab above works on plain HTTP.';

function verdict(id, refused, text) {
  const el = $(id);
  el.hidden = false;
  el.dataset.outcome = refused ? 'refused' : 'stolen';
  el.className = `verdict ${refused ? 'ok' : 'danger'}`;
  el.textContent = text;
}

function log(id, line) {
  $(id).textContent += `${line}\n`;
}

/** "401 INVALID_DPOP_PROOF" or "200 OK": what the server answered, as a thief sees it. */
async function answer(response) {
  const body = await response.json().catch(() => ({}));
  return { ok: response.ok, line: `${response.status} ${body?.error?.code ?? (response.ok ? 'OK' : '')}`.trim() };
}

// --- Steal the tokens ------------------------------------------------------------------------
let app = null;
let appStorage = null;
let stolenTokens = null;

$('#lab-tokens-signin').addEventListener('click', async () => {
  $('#lab-tokens-log').textContent = '';
  $('#lab-tokens-verdict').hidden = true;
  stolenTokens = null;
  app?.close();
  const bind = $('#lab-dpop').checked;
  appStorage = memoryTokenStorage();
  app = createLatchkeyClient({
    mode: 'header',
    apiBase: location.origin,
    tokenStorage: appStorage,
    // A key in memory for this lab (the default, IndexedDB, keeps it across reloads).
    dpop: bind ? createDpop({ keyStore: memoryKeyStore() }) : undefined,
    name: 'latchkey-lab-app',
    autoRefresh: false,
  });
  try {
    // A one-time ticket from this page's cookie session, so that the app needs no password here.
    const ticket = await (await main.fetch('/dev/lab/ticket', { method: 'POST' })).json();
    const signedIn = await app.fetch('/dev/lab/header-signin', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ticket: ticket.ticket }),
    });
    const body = await signedIn.json();
    if (!signedIn.ok) throw new Error(body?.error?.message ?? `HTTP ${signedIn.status}`);
    const me = await app.fetch('/api/me');
    log('#lab-tokens-log', `The app signed in: tokenType ${body.tokenType ?? 'Bearer'}, isDeviceBound() ${await app.isDeviceBound()}`);
    log('#lab-tokens-log', `The app calls GET /api/me: ${(await answer(me)).line}`);
  } catch (err) {
    log('#lab-tokens-log', `Sign-in failed: ${err.message}`);
  }
});

$('#lab-tokens-steal').addEventListener('click', async () => {
  const tokens = await appStorage?.get();
  if (!tokens) return log('#lab-tokens-log', 'Sign the app in first (step 1).');
  // What an injected script reads: the app's token storage. (The DPoP key is a non-extractable
  // CryptoKey: a script can use it while it runs here, never copy it out.)
  stolenTokens = { accessToken: tokens.accessToken, refreshToken: tokens.refreshToken, scheme: tokens.dpopKey ? 'DPoP' : 'Bearer' };
  log('#lab-tokens-log', `The thief copied access token ${mask(tokens.accessToken)} and refresh token ${mask(tokens.refreshToken)}.`);
});

$('#lab-tokens-replay').addEventListener('click', async () => {
  if (!stolenTokens) return log('#lab-tokens-log', 'Steal the tokens first (step 2).');
  const { accessToken, refreshToken, scheme } = stolenTokens;
  // The thief's own requests: no cookies (another device), no DPoP key, no proof.
  const thief = (path, init = {}) =>
    fetch(path, { ...init, credentials: 'omit', headers: { 'x-latchkey-mode': 'header', ...init.headers } });
  const attempts = [
    [`GET /api/me with Authorization: ${scheme}`, () => thief('/api/me', { headers: { authorization: `${scheme} ${accessToken}` } })],
  ];
  if (scheme === 'DPoP')
    attempts.push([
      'GET /api/me with the token as Bearer',
      () => thief('/api/me', { headers: { authorization: `Bearer ${accessToken}` } }),
    ]);
  attempts.push([
    'POST /auth/refresh with the refresh token',
    () =>
      thief('/auth/refresh', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ refreshToken }) }),
  ]);
  let anyWorked = false;
  for (const [what, send] of attempts) {
    const result = await answer(await send());
    anyWorked ||= result.ok;
    log('#lab-tokens-log', `Thief: ${what}: ${result.line}`);
  }
  // The victim: the app, with its key, is unaffected (a thief without the key cannot sign it out).
  log('#lab-tokens-log', `The app (with its key) calls GET /api/me: ${(await answer(await app.fetch('/api/me'))).line}`);
  verdict(
    '#lab-tokens-verdict',
    !anyWorked,
    anyWorked
      ? 'The theft worked: a bearer token works for whoever holds it. Rotation catches the refresh token only when the app and the thief both use it.'
      : 'Refused: the stolen tokens are useless without the key on the device. Nothing was revoked; the app keeps working.',
  );
});

// --- Steal the cookies -----------------------------------------------------------------------
let stolenJar = null;

$('#lab-cookies-steal').addEventListener('click', async () => {
  $('#lab-cookies-log').textContent = '';
  $('#lab-cookies-verdict').hidden = true;
  const response = await main.fetch('/auth/refresh/dev-copy-jar', { method: 'POST' });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) return log('#lab-cookies-log', `Copy failed: ${response.status} ${body?.error?.code ?? ''}`);
  stolenJar = body.jar;
  log(
    '#lab-cookies-log',
    `The thief copied ${Object.entries(stolenJar)
      .map(([name, value]) => `${name}=${mask(value)}`)
      .join(', ')}`,
  );
  log('#lab-cookies-log', `This session is ${body.bound ? `bound to this browser (${body.bound})` : 'not device-bound'}.`);
});

$('#lab-cookies-replay').addEventListener('click', async () => {
  if (!stolenJar) return log('#lab-cookies-log', 'Copy the cookie jar first (step 1).');
  const response = await main.fetch('/dev/lab/replay-jar', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jar: stolenJar }),
  });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) return log('#lab-cookies-log', `Replay failed: ${response.status} ${body?.error?.code ?? ''}`);
  const line = (r) => (r.ok ? `works: ${r.message}` : `refused: ${r.code} (${r.message})`);
  log('#lab-cookies-log', `Thief, the access cookie: ${line(body.access)}`);
  log('#lab-cookies-log', `Thief, the refresh cookie alone: ${line(body.refresh)}`);
  verdict(
    '#lab-cookies-verdict',
    !body.refresh.ok,
    body.refresh.ok
      ? 'The theft worked: the copied refresh cookie refreshed on another device. Rotation catches it only when you and the thief both use the chain.'
      : 'Refused: without the browser key the copied jar cannot be refreshed; it dies with its short-lived access cookie. Nothing was revoked.',
  );
});
