// The demo's front end: plain modules, no framework. Everything session-related goes through the
// latchkey browser SDK, served from /sdk/ (packages/client/dist).
import { createLatchkeyClient } from '/sdk/index.js';
import Bowser from '/vendor/bowser.mjs';
import { mountEmailClaim } from '/claims.js';

const latchkey = createLatchkeyClient();
// A handle for the browser console (and the demo's browser tests): try latchkey.fetch('/api/me').
window.latchkey = latchkey;
// "Verify your email" gating the billing API (claims.js).
const emailClaim = mountEmailClaim(latchkey);
const $ = (selector) => document.querySelector(selector);
const views = ['auth', 'dashboard', 'devices', 'keys', 'lab'];
let config = { accessTokenTtl: 0 };
let refreshCount = 0;
let stolenToken = null;

function show(view) {
  for (const v of views) $(`#view-${v}`).hidden = v !== view;
  $('#nav').hidden = view === 'auth';
  for (const a of document.querySelectorAll('nav a')) a.classList.toggle('active', a.dataset.view === view);
  document.body.dataset.view = view;
}

function banner(text, kind = '') {
  const el = $('#banner');
  el.textContent = text;
  el.className = `banner ${kind}`;
  el.hidden = !text;
}

const time = (iso) => (iso ? new Date(iso).toLocaleString() : '–');
const escape = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

async function json(response) {
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw Object.assign(new Error(body?.error?.message ?? `HTTP ${response.status}`), { body, status: response.status });
  return body;
}

async function route() {
  if (!(await latchkey.doesSessionExist())) return show('auth');
  const view = location.hash.replace('#/', '') || 'dashboard';
  show(views.includes(view) && view !== 'auth' ? view : 'dashboard');
  // A new key is shown once: leaving the page forgets it.
  if (view !== 'keys') hideNewKey();
  if (view === 'devices') await loadSessions();
  if (view === 'keys') await loadKeys();
  if (document.body.dataset.view === 'dashboard') await Promise.all([renderClaims(), emailClaim.render()]);
}

async function renderClaims() {
  const claims = await latchkey.getClaims();
  $('#claims').textContent = JSON.stringify(claims, null, 2);
  $('[data-claim="name"]').textContent = claims?.name ?? claims?.sub ?? 'you';
}

// --- Sign in / sign up -----------------------------------------------------------------------
for (const [id, path] of [['#signin-form', '/api/signin'], ['#signup-form', '/api/signup']]) {
  $(id).addEventListener('submit', async (event) => {
    event.preventDefault();
    const form = event.currentTarget;
    form.querySelector('[data-error]').textContent = '';
    try {
      await json(await latchkey.fetch(path, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(Object.fromEntries(new FormData(form))),
      }));
      form.reset();
      banner('');
      location.hash = '#/dashboard';
      await route();
    } catch (err) {
      form.querySelector('[data-error]').textContent = err.message;
    }
  });
}

$('#signout').addEventListener('click', async () => {
  await latchkey.signOut();
});

// --- Dashboard -------------------------------------------------------------------------------
setInterval(async () => {
  if (document.body.dataset.view !== 'dashboard') return;
  const expiry = await latchkey.getAccessTokenExpiry();
  if (!expiry) return;
  const left = Math.max(0, (expiry.getTime() - Date.now()) / 1000);
  $('#countdown').textContent = left.toFixed(0);
  $('#meter-fill').style.width = `${Math.min(100, (left / (config.accessTokenTtl || 1)) * 100)}%`;
}, 250);

$('#call-api').addEventListener('click', async () => {
  const started = performance.now();
  try {
    const body = await json(await latchkey.fetch('/api/me'));
    $('#api-result').textContent = `200 OK in ${(performance.now() - started).toFixed(0)} ms\n${JSON.stringify(body, null, 2)}`;
  } catch (err) {
    $('#api-result').textContent = `${err.status ?? ''} ${err.message}`;
  }
});

// --- Devices ---------------------------------------------------------------------------------
/** "Chrome 156 on Linux" for a User-Agent string (parsed by bowser); the raw string, cut, when unknown. */
function describeDevice(userAgent) {
  if (!userAgent) return 'unknown device';
  const { browser, os } = Bowser.parse(userAgent);
  if (!browser.name) return userAgent.slice(0, 60);
  const major = browser.version?.split('.')[0];
  const name = major ? `${browser.name} ${major}` : browser.name;
  return os.name ? `${name} on ${os.name}` : name;
}

async function loadSessions() {
  const { sessions } = await json(await latchkey.fetch('/auth/sessions'));
  $('#sessions').innerHTML = sessions.map((s) => `
    <tr data-session="${escape(s.id)}">
      <td><span class="device" title="${escape(s.device?.userAgent ?? '')}">${escape(describeDevice(s.device?.userAgent))}</span> ${s.current ? '<span class="badge">this device</span>' : ''}</td>
      <td>${escape(s.device?.ip ?? '–')}</td>
      <td>${escape(time(s.createdAt))}</td>
      <td>${escape(time(s.lastActiveAt))}</td>
      <td>${s.current ? '' : `<button class="small danger" data-revoke="${escape(s.id)}">Revoke</button>`}</td>
    </tr>`).join('');
}

$('#sessions').addEventListener('click', async (event) => {
  const id = event.target?.dataset?.revoke;
  if (!id) return;
  await json(await latchkey.fetch(`/auth/sessions/${encodeURIComponent(id)}`, { method: 'DELETE' })).catch(() => {});
  await loadSessions();
});
$('#signout-others').addEventListener('click', async () => {
  const { revoked } = await json(await latchkey.fetch('/auth/sessions?others=true', { method: 'DELETE' }));
  banner(`Signed out ${revoked ?? 0} other session(s).`, 'ok');
  await loadSessions();
});
$('#reload-sessions').addEventListener('click', loadSessions);

// --- API keys --------------------------------------------------------------------------------
/** The ready-to-paste call of the demo API with `key`: what a script would send. */
const curlLine = (key) => `curl -H "Authorization: Bearer ${key}" ${location.origin}/api/reports`;

function hideNewKey() {
  // The only copy the page ever held: gone from the DOM when hidden, never in storage.
  $('#new-key').hidden = true;
  $('#new-key-value').textContent = '';
  $('#curl-line').textContent = '';
  $('#copy-key').textContent = 'Copy';
}

async function loadKeys() {
  const { keys } = await json(await latchkey.fetch('/api/keys'));
  $('#keys-empty').hidden = keys.length > 0;
  $('#keys').innerHTML = keys.map((k) => `
    <tr data-key="${escape(k.id)}">
      <td>${escape(k.name)}</td>
      <td><code>${escape(k.prefix)}…</code></td>
      <td>${k.scopes.map((s) => `<code>${escape(s)}</code>`).join(' ') || '<span class="muted">none</span>'}</td>
      <td>${escape(time(k.createdAt))}</td>
      <td class="expires">${k.expiresAt ? escape(time(k.expiresAt)) : 'never'}</td>
      <td class="last-used">${k.lastUsedAt ? escape(time(k.lastUsedAt)) : 'never'}</td>
      <td><button class="small danger" data-revoke-key="${escape(k.id)}">Revoke</button></td>
    </tr>`).join('');
}

$('#key-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  const data = new FormData(form);
  const days = data.get('expiresInDays');
  form.querySelector('[data-error]').textContent = '';
  try {
    const { key } = await json(await latchkey.fetch('/api/keys', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: data.get('name'), scopes: data.getAll('scopes'), expiresInDays: days === 'never' ? null : Number(days) }),
    }));
    form.reset();
    $('#new-key-value').textContent = key;
    $('#curl-line').textContent = curlLine(key);
    $('#copy-key').textContent = 'Copy';
    $('#new-key').hidden = false;
    await loadKeys();
  } catch (err) {
    form.querySelector('[data-error]').textContent = err.message;
  }
});

$('#copy-key').addEventListener('click', async () => {
  const key = $('#new-key-value').textContent;
  try {
    // Needs a secure context (https, or http://localhost as here).
    await navigator.clipboard.writeText(key);
    $('#copy-key').textContent = 'Copied';
  } catch {
    // No clipboard access (e.g. plain http on another host): select the key for Ctrl-C instead.
    getSelection().selectAllChildren($('#new-key-value'));
    $('#copy-key').textContent = 'Press Ctrl-C';
  }
});
$('#hide-key').addEventListener('click', hideNewKey);
$('#reload-keys').addEventListener('click', loadKeys);
$('#keys').addEventListener('click', async (event) => {
  const id = event.target?.dataset?.revokeKey;
  if (!id) return;
  try {
    await json(await latchkey.fetch(`/api/keys/${encodeURIComponent(id)}`, { method: 'DELETE' }));
    banner('Key revoked: it stopped working at once.', 'ok');
  } catch (err) {
    banner(`The key could not be revoked: ${err.message}`, 'danger');
  }
  await loadKeys();
});

// --- Security lab ----------------------------------------------------------------------------
const mask = (token) => `${token.slice(0, 14)}…${token.slice(-4)}`;
$('#lab-steal').addEventListener('click', async () => {
  const { refreshToken } = await json(await latchkey.fetch('/auth/refresh/dev-copy', { method: 'POST' }));
  stolenToken = refreshToken;
  $('#lab-stolen').textContent = `The attacker now holds ${mask(refreshToken)}`;
});
$('#lab-rotate').addEventListener('click', async () => {
  // Twice: a copy replayed within seconds of a single rotation looks exactly like a lost response
  // being retried, which the grace window forgives (only for the immediate parent). Two rotations
  // later, no benign explanation is left.
  const ok = (await latchkey.refresh()) && (await latchkey.refresh());
  $('#lab-rotated').textContent = ok
    ? `Refreshed twice at ${new Date().toLocaleTimeString()}: the attacker's copy is two generations old.`
    : 'The refresh was refused.';
});
$('#lab-replay').addEventListener('click', async () => {
  if (!stolenToken) return ($('#lab-replayed').textContent = 'Copy a token first (step 1).');
  // The attacker's own request: plain fetch, from "another device", with the stolen token.
  const response = await fetch('/dev/replay', {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-latchkey-csrf': '1' },
    body: JSON.stringify({ refreshToken: stolenToken }),
  });
  const body = await response.json().catch(() => ({}));
  $('#lab-replayed').textContent = `${response.status} ${JSON.stringify(body, null, 2)}`;
  if (body?.error?.code === 'TOKEN_THEFT_DETECTED') {
    banner(`Theft detected: session ${body.error.sessionId} was revoked on the server, in every tab.`, 'danger');
    document.body.dataset.theft = 'detected';
    // Our own next step meets the revoked session: the SDK signs every tab out.
    await latchkey.refresh();
  }
});

// --- SDK events ------------------------------------------------------------------------------
latchkey.on('refreshed', () => {
  refreshCount++;
  $('#refresh-count').textContent = String(refreshCount);
  if (document.body.dataset.view === 'dashboard') void renderClaims();
});
latchkey.on('signedOut', ({ reason }) => {
  const text = {
    signOut: 'You signed out.',
    otherTab: 'You were signed out in another tab.',
    refreshFailed: 'Your session has ended: it was revoked or expired.',
    theft: 'Your session was ended: a stolen refresh token was replayed.',
  }[reason] ?? 'Your session has ended.';
  if (document.body.dataset.theft !== 'detected') banner(text, reason === 'signOut' ? 'ok' : 'danger');
  document.body.dataset.signedOut = reason;
  hideNewKey();
  show('auth');
});
latchkey.on('theftDetected', () => banner('Theft detected: this session was revoked everywhere.', 'danger'));
latchkey.on('cookieBlocked', () => banner('Your browser blocked the session cookies, so the session cannot be kept.', 'danger'));

window.addEventListener('hashchange', route);
const response = await fetch('/api/config');
config = await response.json();
$('#ttl').textContent = String(config.accessTokenTtl);
// Without its development-only routes the lab has nothing to show.
document.querySelector('nav a[data-view="lab"]').hidden = !config.devRoutes;
$('#footer-ttl').textContent = String(config.accessTokenTtl);
await route();
document.body.dataset.ready = 'true';
