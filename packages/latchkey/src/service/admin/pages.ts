/**
 * The console's pages: server-rendered HTML from plain data. Every value goes through hono/html's
 * `html` template, which escapes text and attributes by construction; nothing here builds markup by
 * string concatenation, so attacker-controlled text (a User-Agent, a device name, a claim value, an
 * API key's name) is shown as text, never run. No inline script and no inline style: the CSP forbids both.
 */
import { html } from 'hono/html';
import type { ApiKey } from '../../api-keys/types.js';
import type { AuditEvent } from '../../audit/types.js';
import type { SigningKeyRecord } from '../../stores/types.js';
import type { Session } from '../../types.js';
import { barChart, type Series } from './charts.js';

type Markup = ReturnType<typeof html>;

export interface PageContext {
  base: string;
  operator: string;
  csrf: string;
  /** A fixed message chosen by the server (never request text). */
  notice?: string | undefined;
}

const NAV = [
  ['', 'Overview'],
  ['/users', 'Users'],
  ['/audit', 'Audit'],
  ['/keys', 'Keys'],
] as const;

function time(ms: number | Date | null): string {
  if (ms === null) return '—';
  return new Date(ms).toISOString().replace('T', ' ').slice(0, 19) + ' UTC';
}

function csrfField(ctx: PageContext) {
  return html`<input type="hidden" name="_csrf" value="${ctx.csrf}" />`;
}

export function layout(ctx: PageContext, title: string, current: string, body: Markup) {
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>${title} · latchkey admin</title>
        <link rel="stylesheet" href="${ctx.base}/static/admin.css" />
      </head>
      <body>
        <a class="skip" href="#main">Skip to content</a>
        <header>
          <strong>latchkey admin</strong>
          <nav aria-label="Console">
            <ul>
              ${NAV.map(
                ([path, label]) =>
                  html`<li><a href="${ctx.base}${path}" ${current === label ? html`aria-current="page"` : ''}>${label}</a></li>`,
              )}
            </ul>
          </nav>
          <form method="post" action="${ctx.base}/logout" class="inline">
            ${csrfField(ctx)}<span>Signed in as ${ctx.operator}</span> <button type="submit">Sign out</button>
          </form>
        </header>
        <main id="main">
          <h1>${title}</h1>
          ${ctx.notice ? html`<p role="status" class="notice">${ctx.notice}</p>` : ''} ${body}
        </main>
      </body>
    </html>`;
}

/** The sign-in page: paste the link (or have login.js fill it from the link's fragment) and press the button. */
export function loginPage(base: string, problem?: string) {
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>Sign in · latchkey admin</title>
        <link rel="stylesheet" href="${base}/static/admin.css" />
        <script src="${base}/static/login.js" defer></script>
      </head>
      <body>
        <main id="main">
          <h1>Sign in to the latchkey admin console</h1>
          ${problem ? html`<p role="alert" class="error">${problem}</p>` : ''}
          <p>
            Run <code>latchkey admin login --operator &lt;your name&gt;</code> where the service runs, then open the link it prints. A link
            works once, for 10 minutes.
          </p>
          <form method="post" action="${base}/login">
            <label for="link">Login link</label>
            <input id="link" name="link" type="password" autocomplete="off" required size="60" />
            <button type="submit">Sign in</button>
          </form>
        </main>
      </body>
    </html>`;
}

export interface HealthRow {
  name: string;
  ok: boolean;
  detail: string;
}

export interface OverviewData {
  activeSessions: number;
  refreshesPerMinute: number;
  theftsLast24h: number;
  keys: KeyRow[];
  health: HealthRow[];
  refreshes: Series;
  thefts: Series;
  /** True when the audit rows read for the figures hit the page cap (figures are a lower bound). */
  truncated: boolean;
}

export function overviewPage(ctx: PageContext, d: OverviewData) {
  return layout(
    ctx,
    'Overview',
    'Overview',
    html`<section aria-labelledby="figures">
        <h2 id="figures">Now</h2>
        <dl class="figures">
          <div>
            <dt>Active sessions</dt>
            <dd id="active-sessions">${d.activeSessions}</dd>
          </div>
          <div>
            <dt>Refreshes per minute (last 5 min)</dt>
            <dd id="refreshes-per-minute">${d.refreshesPerMinute}</dd>
          </div>
          <div>
            <dt>Thefts detected, last 24 h</dt>
            <dd id="thefts-24h">${d.theftsLast24h}${d.truncated ? '+' : ''}</dd>
          </div>
        </dl>
      </section>
      <section aria-labelledby="health">
        <h2 id="health">Health</h2>
        <table>
          <thead>
            <tr>
              <th scope="col">Component</th>
              <th scope="col">State</th>
              <th scope="col">Detail</th>
            </tr>
          </thead>
          <tbody>
            ${d.health.map(
              (h) =>
                html`<tr>
                  <td>${h.name}</td>
                  <td class="${h.ok ? 'ok' : 'bad'}">${h.ok ? 'healthy' : 'failing'}</td>
                  <td>${h.detail}</td>
                </tr>`,
            )}
          </tbody>
        </table>
      </section>
      <section aria-labelledby="activity">
        <h2 id="activity">Last 24 hours</h2>
        ${barChart('chart-refreshes', 'Refreshes per hour', d.refreshes, '#1f5fa8')}
        ${barChart('chart-thefts', 'Thefts detected per hour', d.thefts, '#a11d1d')}
      </section>
      <section aria-labelledby="schedule">
        <h2 id="schedule">Signing keys</h2>
        ${keyTable(d.keys)}
        <p><a href="${ctx.base}/keys">Rotate or drop keys</a></p>
      </section>`,
  );
}

export interface UserData {
  userId: string;
  sessions: Session[];
  apiKeys: ApiKey[];
}

export function usersPage(ctx: PageContext, user: UserData | null, query: string) {
  const body = html`<form method="get" action="${ctx.base}/users" role="search">
      <label for="user">User id</label>
      <input id="user" name="user" value="${query}" required maxlength="256" />
      <button type="submit">Look up</button>
    </form>
    ${user === null ? '' : userDetails(ctx, user)}`;
  return layout(ctx, 'Users', 'Users', body);
}

function userDetails(ctx: PageContext, u: UserData) {
  return html`<section aria-labelledby="sessions-heading">
      <h2 id="sessions-heading">Active sessions of ${u.userId} (${u.sessions.length})</h2>
      ${
        u.sessions.length === 0
          ? html`<p>No active session.</p>`
          : html`<table id="sessions">
                <thead>
                  <tr>
                    <th scope="col">Session</th>
                    <th scope="col">Device</th>
                    <th scope="col">IP</th>
                    <th scope="col">Created</th>
                    <th scope="col">Last active</th>
                    <th scope="col">Claims</th>
                    <th scope="col"><span class="visually-hidden">Action</span></th>
                  </tr>
                </thead>
                <tbody>
                  ${u.sessions.map(
                    (s) =>
                      html`<tr>
                        <td><code>${s.id}</code></td>
                        <td class="device">${s.device.userAgent ?? '—'}</td>
                        <td>${s.device.ip ?? '—'}</td>
                        <td>${time(s.createdAt)}</td>
                        <td>${time(s.lastActiveAt)}</td>
                        <td class="claims"><code>${JSON.stringify(s.accessClaims)}</code></td>
                        <td>
                          <form method="post" action="${ctx.base}/users/revoke-session">
                            ${csrfField(ctx)}<input type="hidden" name="user" value="${u.userId}" /><input
                              type="hidden"
                              name="session"
                              value="${s.id}"
                            />
                            <button type="submit" aria-label="Revoke session ${s.id}">Revoke</button>
                          </form>
                        </td>
                      </tr>`,
                  )}
                </tbody>
              </table>
              <form method="post" action="${ctx.base}/users/revoke-all">
                ${csrfField(ctx)}<input type="hidden" name="user" value="${u.userId}" />
                <button type="submit" class="danger">Revoke all ${u.sessions.length} sessions of this user</button>
              </form>`
      }
    </section>
    <section aria-labelledby="keys-heading">
      <h2 id="keys-heading">API keys of ${u.userId} (${u.apiKeys.length})</h2>
      ${
        u.apiKeys.length === 0
          ? html`<p>No API key.</p>`
          : html`<table id="api-keys">
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Prefix</th>
                  <th scope="col">Scopes</th>
                  <th scope="col">Created</th>
                  <th scope="col">Last used</th>
                  <th scope="col">Expires</th>
                  <th scope="col"><span class="visually-hidden">Action</span></th>
                </tr>
              </thead>
              <tbody>
                ${u.apiKeys.map(
                  (k) =>
                    html`<tr>
                      <td class="key-name">${k.name}</td>
                      <td><code>${k.prefix}</code></td>
                      <td>${k.scopes.join(' ')}</td>
                      <td>${time(k.createdAt)}</td>
                      <td>${time(k.lastUsedAt)}</td>
                      <td>${time(k.expiresAt)}</td>
                      <td>
                        <form method="post" action="${ctx.base}/users/revoke-api-key">
                          ${csrfField(ctx)}<input type="hidden" name="user" value="${u.userId}" /><input
                            type="hidden"
                            name="key"
                            value="${k.id}"
                          />
                          <button type="submit" aria-label="Revoke API key ${k.name}">Revoke</button>
                        </form>
                      </td>
                    </tr>`,
                )}
              </tbody>
            </table>`
      }
    </section>
    <p><a href="${ctx.base}/audit?user=${encodeURIComponent(u.userId)}">Audit events of this user</a></p>`;
}

export interface AuditFilters {
  user: string;
  session: string;
  type: string;
  since: string;
}

export function auditPage(
  ctx: PageContext,
  filters: AuditFilters,
  types: readonly string[],
  events: AuditEvent[],
  next: string | null,
  problem?: string,
) {
  const nextHref =
    next === null
      ? null
      : `${ctx.base}/audit?${new URLSearchParams({ ...Object.fromEntries(Object.entries(filters).filter(([, v]) => v !== '')), cursor: next }).toString()}`;
  return layout(
    ctx,
    'Audit',
    'Audit',
    html`<form method="get" action="${ctx.base}/audit" class="filters">
        <label for="f-user">User id</label><input id="f-user" name="user" value="${filters.user}" maxlength="256" />
        <label for="f-session">Session id</label><input id="f-session" name="session" value="${filters.session}" maxlength="128" />
        <label for="f-type">Type</label>
        <select id="f-type" name="type">
          <option value="">any</option>
          ${types.map((t) => html`<option value="${t}" ${filters.type === t ? 'selected' : ''}>${t}</option>`)}
        </select>
        <label for="f-since">Since</label>
        <input id="f-since" name="since" value="${filters.since}" placeholder="24h, 7d or an ISO time" maxlength="40" />
        <button type="submit">Filter</button>
      </form>
      ${problem ? html`<p role="alert" class="error">${problem}</p>` : ''}
      <ol class="timeline" id="timeline">
        ${events.length === 0 ? html`<li>No event matches.</li>` : events.map((e) => auditItem(ctx, e))}
      </ol>
      ${nextHref ? html`<p><a href="${nextHref}">Older events</a></p>` : ''}`,
  );
}

function auditItem(ctx: PageContext, e: AuditEvent) {
  const theft = e.type === 'session.theft_detected';
  return html`<li class="${theft ? 'event theft' : 'event'}" data-type="${e.type}">
    <p class="head">
      <time datetime="${new Date(e.at).toISOString()}">${time(e.at)}</time>
      <strong>${e.type}</strong>${e.count > 1 ? html` ×${e.count} (from ${time(e.firstAt)})` : ''} by
      ${e.actor}${e.reason ? html`, reason <em>${e.reason}</em>` : ''}
    </p>
    <p>
      ${e.userId ? html`User <a href="${ctx.base}/users?user=${encodeURIComponent(e.userId)}">${e.userId}</a>` : ''}
      ${e.sessionId ? html` · session <code>${e.sessionId}</code>` : ''}
    </p>
    ${
      theft
        ? html`<div class="sides">
            <section class="side" aria-label="The request that replayed the old token">
              <h3>Replayed the old token</h3>
              <p>Device: <span class="device">${e.device ?? 'unknown'}</span></p>
              <p>IP: ${e.ip ?? 'unknown'}</p>
            </section>
            <section class="side" aria-label="The session's last known holder">
              <h3>Session's last known holder</h3>
              <p>Device: <span class="device">${String(e.details['sessionDevice'] ?? 'unknown')}</span></p>
              <p>IP: ${String(e.details['sessionIp'] ?? 'unknown')}</p>
            </section>
          </div>`
        : e.device || e.ip
          ? html`<p>Device: <span class="device">${e.device ?? '—'}</span> · IP: ${e.ip ?? '—'}</p>`
          : ''
    }
    ${Object.keys(e.details).length > 0 && !theft ? html`<p class="details"><code>${JSON.stringify(e.details)}</code></p>` : ''}
  </li>`;
}

export interface KeyRow {
  kid: string;
  alg: string;
  generation: number;
  state: 'signing' | 'published' | 'retired';
  createdAt: number;
  activatesAt: number;
}

export function keyRows(records: readonly SigningKeyRecord[], now: number): KeyRow[] {
  const signing = records.filter((k) => k.activatesAt <= now).sort((a, b) => b.activatesAt - a.activatesAt)[0];
  return [...records]
    .sort((a, b) => b.generation - a.generation)
    .map((k) => ({
      kid: k.kid,
      alg: k.alg,
      generation: k.generation,
      state: k === signing ? 'signing' : k.activatesAt > now ? 'published' : 'retired',
      createdAt: k.createdAt,
      activatesAt: k.activatesAt,
    }));
}

function keyTable(keys: KeyRow[]) {
  return html`<table class="keys">
    <thead>
      <tr>
        <th scope="col">Key id</th>
        <th scope="col">Algorithm</th>
        <th scope="col">Generation</th>
        <th scope="col">State</th>
        <th scope="col">Created</th>
        <th scope="col">Signs from</th>
      </tr>
    </thead>
    <tbody>
      ${keys.map(
        (k) =>
          html`<tr data-kid="${k.kid}">
            <td><code>${k.kid}</code></td>
            <td>${k.alg}</td>
            <td>${k.generation}</td>
            <td>${k.state}</td>
            <td>${time(k.createdAt)}</td>
            <td>${time(k.activatesAt)}</td>
          </tr>`,
      )}
    </tbody>
  </table>`;
}

export function keysPage(ctx: PageContext, keys: KeyRow[]) {
  return layout(
    ctx,
    'Keys',
    'Keys',
    html`<p>
        latchkey publishes each new signing key a day before it signs and keeps retired keys until the tokens they signed have expired.
        "Signing" is the key in use; "published" keys are in the JWKS and sign later; "retired" keys only verify.
      </p>
      ${keyTable(keys)}
      <h2>Rotate now</h2>
      <p>A new key signs from now on. Tokens signed by earlier keys keep verifying until they expire: nobody notices.</p>
      <form method="post" action="${ctx.base}/keys/rotate">${csrfField(ctx)}<button type="submit" id="rotate">Rotate now</button></form>
      <h2>A key has leaked</h2>
      <p><a href="${ctx.base}/keys/drop" id="drop-link">Drop every earlier key…</a> (asks for confirmation first)</p>`,
  );
}

export function dropConfirmPage(ctx: PageContext, keys: KeyRow[]) {
  const earlier = keys.length;
  return layout(
    ctx,
    'Drop leaked keys',
    'Keys',
    html`<div class="warning" role="alert">
        <p><strong>What this does to live sessions:</strong></p>
        <ul>
          <li>
            A new key starts signing, and all ${earlier} current keys are deleted at once, here and on every instance (at once with Redis,
            otherwise within a minute).
          </li>
          <li>
            Every access token signed so far, forged ones included, stops verifying: a signed-in user's next request with one is refused.
            Their refresh token still works, so a client that refreshes gets a new access token from the new key.
          </li>
          <li>
            Sessions are <strong>not</strong> revoked: refresh tokens do not depend on signing keys. If a session was stolen, revoke it on
            the Users page.
          </li>
          <li>Verifiers that cache the JWKS (edge proxies, other services) refuse old tokens once they refetch it.</li>
        </ul>
      </div>
      <form method="post" action="${ctx.base}/keys/drop">
        ${csrfField(ctx)}
        <p>
          <input type="checkbox" id="confirm" name="confirm" value="yes" required />
          <label for="confirm">I understand: every current access token stops working</label>
        </p>
        <button type="submit" class="danger" id="drop">Drop all ${earlier} keys and rotate</button>
        <a href="${ctx.base}/keys">Cancel</a>
      </form>`,
  );
}

export function messagePage(base: string, status: string, message: string) {
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <title>${status} · latchkey admin</title>
        <link rel="stylesheet" href="${base}/static/admin.css" />
      </head>
      <body>
        <main id="main">
          <h1>${status}</h1>
          <p>${message}</p>
          <p><a href="${base}/login">Sign in</a></p>
        </main>
      </body>
    </html>`;
}
