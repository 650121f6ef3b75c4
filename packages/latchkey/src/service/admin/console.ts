/**
 * The admin console (issue 17): a small server-rendered web app over the engine and the audit log,
 * for the operator answering "someone is in my account": what happened (audit timeline, a theft with
 * both sides), and stop it (revoke a session, all of a user's sessions, an API key; rotate or drop
 * signing keys).
 *
 * A Hono app with a web-standard `fetch(request)`, so `latchkey serve` mounts it at `/admin` and an
 * app can mount it in its own server (docs/admin.md). No framework on the page: plain HTML forms that
 * POST and redirect (keyboard accessible with no script at all), escaped by construction (pages.ts),
 * one 10-line script on the sign-in page only.
 *
 * Security model (each point tested in test/admin/security.test.ts):
 * - Every route but the sign-in page and the two static files needs a console session (auth.ts);
 *   without one a page redirects to the sign-in page and anything else answers 401.
 * - Every POST needs the session's CSRF token (a form field) and, when the browser sends them, an
 *   `Origin` of this host and `Sec-Fetch-Site: same-origin`. The cookies are SameSite=Strict too.
 * - A strict CSP (`default-src 'none'`; scripts, styles and forms from this origin only;
 *   `frame-ancestors 'none'`), X-Frame-Options DENY, nosniff, no referrer to other sites, no caching.
 * - Every action is written to the audit log with actor `admin`, the operator's name and address.
 */
import { Hono, type Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import { secureHeaders } from 'hono/secure-headers';
import { InvalidAuditQueryError } from '../../audit/query.js';
import type { AuditRecorder } from '../../audit/recorder.js';
import { AUDIT_EVENT_TYPES, type AuditEvent, type AuditQuery, type AuditStore } from '../../audit/types.js';
import type { Latchkey } from '../../engine.js';
import type { SessionStore } from '../../stores/types.js';
import type { DeviceInfo, IssuedTokens } from '../../types.js';
import { auditQueryFrom } from '../audit.js';
import { ADMIN_CSS, LOGIN_JS } from './assets.js';
import {
  authenticateConsole,
  consoleKey,
  csrfMatches,
  DEFAULT_CONSOLE_IDLE_MS,
  openConsoleSession,
  redeemTicket,
  type ConsoleIdentity,
} from './auth.js';
import { bucketise } from './charts.js';
import {
  auditPage,
  dropConfirmPage,
  keyRows,
  keysPage,
  loginPage,
  messagePage,
  overviewPage,
  usersPage,
  type HealthRow,
  type PageContext,
} from './pages.js';

export interface AdminConsoleOptions {
  /** The engine whose sessions and keys the console shows and changes (and whose sessions its own are). */
  engine: Latchkey;
  /**
   * The master secret the engine runs with (its `secret`, or the key file's contents). The console
   * derives its own key from it (HKDF, purpose `admin-console`) to mark console sessions and login
   * tickets and to make CSRF tokens; without the secret nobody can forge either.
   */
  secret: string | Uint8Array;
  /** The audit log the Audit page and the figures read, and the recorder the console's own actions are written through. */
  audit: { store: AuditStore; recorder: AuditRecorder };
  /** Read for the signing-key schedule only (`listSigningKeys`); keys are changed through the engine. */
  store: Pick<SessionStore, 'listSigningKeys'>;
  /** Where the console is mounted. Default `/admin`. The cookies are scoped to this path. */
  basePath?: string | undefined;
  /** A console session unused for this long is signed out, ms. Default 900 000 (15 min): an unattended console is a risk. */
  idleTimeoutMs?: number | undefined;
  /** Health checks shown on the Overview besides the store's (the service adds Redis). Each resolves when healthy. */
  health?: Record<string, () => Promise<unknown>> | undefined;
  /**
   * Told about an unexpected failure behind a 500 page. Default: one line on stderr with the error's
   * message only (the service passes its JSON logger).
   */
  onError?: ((error: unknown) => void) | undefined;
  /** The client's IP address for the audit log and the console session's device. Default: none recorded. */
  clientIp?: ((c: Context) => string | undefined) | undefined;
}

/** The console app's Hono environment: the signed-in operator of the request. */
export type AdminConsoleEnv = { Variables: { identity: ConsoleIdentity } };

/** Rows read for the Overview's figures and charts at most (the figures say "+" past it). */
const FIGURE_ROW_CAP = 20_000;
const HOUR_MS = 3_600_000;
const ACCESS_COOKIE = 'lk_admin';
const REFRESH_COOKIE = 'lk_admin_refresh';

/** Messages after an action, chosen by a fixed key: a query parameter never becomes page text. */
const NOTICES: Record<string, string> = {
  'session-revoked': 'The session was revoked on every instance.',
  'session-not-active': 'That session was not active (already revoked or expired).',
  'sessions-revoked': "The user's sessions were revoked on every instance.",
  'api-key-revoked': 'The API key was revoked.',
  'api-key-not-active': 'That API key was not active.',
  rotated: 'A new signing key signs from now on.',
  dropped: 'Earlier keys were dropped; a new key signs from now on.',
};

/** Builds the console. Mount its `fetch` at `basePath`. */
export function createAdminConsole(options: AdminConsoleOptions): Hono<AdminConsoleEnv> {
  const { engine } = options;
  const base = (options.basePath ?? '/admin').replace(/\/$/, '');
  if (!/^(\/[A-Za-z0-9._-]+)+$/.test(base)) throw new TypeError('basePath must be a path such as /admin');
  const idleMs = options.idleTimeoutMs ?? DEFAULT_CONSOLE_IDLE_MS;
  if (!Number.isSafeInteger(idleMs) || idleMs < 60_000) throw new TypeError('idleTimeoutMs must be at least 60 000');
  const key = consoleKey(options.secret);
  const { recorder } = options.audit;
  const auditStore = options.audit.store;
  const app = new Hono<AdminConsoleEnv>().basePath(base);

  const cookieOptions = { path: base, httpOnly: true, secure: true, sameSite: 'Strict', prefix: 'secure' } as const;
  const setTokens = (c: Context, tokens: IssuedTokens) => {
    setCookie(c, ACCESS_COOKIE, tokens.accessToken, cookieOptions);
    setCookie(c, REFRESH_COOKIE, tokens.refreshToken, cookieOptions);
  };
  const clearTokens = (c: Context) => {
    deleteCookie(c, ACCESS_COOKIE, cookieOptions);
    deleteCookie(c, REFRESH_COOKIE, cookieOptions);
  };
  const device = (c: Context): DeviceInfo => {
    const ua = c.req.header('user-agent');
    const ip = options.clientIp?.(c);
    return { ...(ua ? { userAgent: ua.slice(0, 512) } : {}), ...(ip ? { ip } : {}) };
  };
  const record = (
    c: Context,
    operator: string,
    reason: string,
    target: { userId?: string; sessionId?: string; details?: Record<string, string | number> },
  ) => {
    const d = device(c);
    recorder.record({
      type: 'admin.action',
      actor: 'admin',
      reason,
      userId: target.userId ?? null,
      sessionId: target.sessionId ?? null,
      device: d.userAgent ?? null,
      ip: d.ip ?? null,
      details: { operator, ...target.details },
    });
    // An operator's action is rare and matters: written now rather than with the next batch.
    return recorder.flush();
  };

  app.use(
    '*',
    secureHeaders({
      contentSecurityPolicy: {
        defaultSrc: ["'none'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
        baseUri: ["'none'"],
      },
      xFrameOptions: 'DENY',
      // Not no-referrer: under it Chromium sends `Origin: null` on the console's own form posts, and the
      // origin check below could not tell them from a sandboxed attacker's. same-origin sends nothing to
      // other sites (and the ticket is in the fragment, which no referrer carries).
      referrerPolicy: 'same-origin',
      crossOriginResourcePolicy: 'same-origin',
      crossOriginOpenerPolicy: 'same-origin',
    }),
  );
  app.use('*', async (c, next) => {
    await next();
    // Pages show sessions and audit rows: never stored by a browser or a proxy.
    if (!c.req.path.startsWith(`${base}/static/`)) c.header('Cache-Control', 'no-store');
  });
  app.use('*', bodyLimit({ maxSize: 16_384, onError: (c) => c.text('request body too large', 413) }));

  app.onError((err, c) => {
    // Never the error's text on the page: it could carry a store's message. The operator's log gets it.
    if (options.onError) options.onError(err);
    else console.error('latchkey admin console:', err instanceof Error ? err.message : 'failed');
    return c.html(
      messagePage(base, 'Something went wrong', 'The action failed; nothing was half done. Try again, and check the service log.'),
      500,
    );
  });
  app.notFound((c) => c.html(messagePage(base, 'Not found', 'No such page in the console.'), 404));

  /** A browser's signals that a POST comes from this console, when it sends them; the CSRF token is checked as well. */
  const sameOrigin = (c: Context): boolean => {
    const site = c.req.header('sec-fetch-site');
    if (site !== undefined && site !== 'same-origin') return false;
    const origin = c.req.header('origin');
    if (origin === undefined) return true;
    try {
      return new URL(origin).host === (c.req.header('host') ?? new URL(c.req.url).host);
    } catch {
      return false;
    }
  };

  // ---- Public: static files and sign-in ----------------------------------------------------------

  app.get('/static/admin.css', (c) => {
    c.header('Cache-Control', 'public, max-age=300');
    return c.body(ADMIN_CSS, 200, { 'Content-Type': 'text/css; charset=utf-8' });
  });
  app.get('/static/login.js', (c) => {
    c.header('Cache-Control', 'public, max-age=300');
    return c.body(LOGIN_JS, 200, { 'Content-Type': 'text/javascript; charset=utf-8' });
  });
  app.get('/login', (c) => c.html(loginPage(base)));
  app.post('/login', async (c) => {
    if (!sameOrigin(c)) return c.html(messagePage(base, 'Refused', 'A sign-in must come from the console itself.'), 403);
    const form = await c.req.parseBody();
    // The field holds the link's fragment (`id=...&t=...`, filled by login.js) or the whole pasted link.
    const text = typeof form['link'] === 'string' ? form['link'].trim() : '';
    const fragment = text.includes('#') ? text.slice(text.indexOf('#') + 1) : text;
    const params = new URLSearchParams(fragment);
    const result = await redeemTicket(engine, key, params.get('id'), params.get('t'));
    if (!result.ok) {
      return c.html(loginPage(base, 'This login link is invalid, expired or already used. Run `latchkey admin login` for a new one.'), 401);
    }
    const tokens = await openConsoleSession(engine, key, result.operator, device(c), idleMs);
    setTokens(c, tokens);
    await record(c, result.operator, 'sign-in', { userId: tokens.session.userId, sessionId: tokens.session.id });
    return c.redirect(`${base}`, 303);
  });

  // ---- Everything else needs a console session ---------------------------------------------------

  app.use('*', async (c, next) => {
    const identity = await authenticateConsole(
      engine,
      key,
      { access: getCookie(c, ACCESS_COOKIE, 'secure'), refresh: getCookie(c, REFRESH_COOKIE, 'secure') },
      device(c),
      idleMs,
    );
    if (!identity) {
      clearTokens(c);
      const page = c.req.method === 'GET' || c.req.method === 'HEAD';
      if (page && !c.req.path.startsWith(`${base}/api/`)) return c.redirect(`${base}/login`, 303);
      c.header('WWW-Authenticate', 'Cookie realm="latchkey admin"');
      return c.json({ error: { code: 'UNAUTHORISED', message: 'sign in to the console first' } }, 401);
    }
    if (identity.refreshed) setTokens(c, identity.refreshed);
    if (c.req.method === 'POST') {
      const form = await c.req.parseBody();
      if (!sameOrigin(c) || !csrfMatches(key, identity.session.id, form['_csrf'])) {
        return c.html(
          messagePage(
            base,
            'Refused',
            'This form did not come from your console session (CSRF check failed). Reload the page and try again.',
          ),
          403,
        );
      }
    }
    c.set('identity', identity);
    await next();
  });

  const page = (c: Context<AdminConsoleEnv>): PageContext => {
    const identity = c.get('identity');
    const done = c.req.query('done');
    return { base, operator: identity.operator, csrf: identity.csrf, notice: done !== undefined ? NOTICES[done] : undefined };
  };
  const formField = async (c: Context<AdminConsoleEnv>, name: string): Promise<string> => {
    const value = (await c.req.parseBody())[name];
    return typeof value === 'string' ? value : '';
  };
  const userUrl = (userId: string, done: string) => `${base}/users?${new URLSearchParams({ user: userId, done }).toString()}`;

  /** Audit rows of `types` since `since`, newest first, at most FIGURE_ROW_CAP. */
  const auditSince = async (types: AuditQuery['types'], since: number): Promise<{ events: AuditEvent[]; truncated: boolean }> => {
    const events: AuditEvent[] = [];
    let cursor: string | undefined;
    do {
      const result = await auditStore.query({ types, since, limit: 1000, ...(cursor ? { cursor } : {}) });
      events.push(...result.events);
      cursor = result.nextCursor ?? undefined;
    } while (cursor !== undefined && events.length < FIGURE_ROW_CAP);
    return { events, truncated: cursor !== undefined };
  };

  const health = async (): Promise<HealthRow[]> => {
    const checks: [string, () => Promise<unknown>][] = [['store', () => engine.ping()], ...Object.entries(options.health ?? {})];
    return Promise.all(
      checks.map(async ([name, check]): Promise<HealthRow> => {
        const started = performance.now();
        try {
          await check();
          return { name, ok: true, detail: `answered in ${Math.round(performance.now() - started)} ms` };
        } catch {
          // Not the error's text: it may name a host or carry a driver message with a credential.
          return { name, ok: false, detail: 'did not answer' };
        }
      }),
    );
  };

  const overview = async () => {
    const now = engine.clock.now();
    const [activeSessions, refreshes, thefts, keys, healthRows] = await Promise.all([
      engine.countActiveSessions(now),
      auditSince(['session.refreshed'], now - 24 * HOUR_MS),
      auditSince(['session.theft_detected'], now - 24 * HOUR_MS),
      options.store.listSigningKeys(),
      health(),
    ]);
    const lastFive = refreshes.events.filter((e) => e.at >= now - 5 * 60_000).reduce((sum, e) => sum + e.count, 0);
    return {
      activeSessions,
      refreshesPerMinute: Math.round((lastFive / 5) * 10) / 10,
      theftsLast24h: thefts.events.length,
      keys: keyRows(keys, now),
      health: healthRows,
      refreshes: bucketise(refreshes.events, now, 24, HOUR_MS),
      thefts: bucketise(thefts.events, now, 24, HOUR_MS),
      truncated: refreshes.truncated || thefts.truncated,
    };
  };

  app.get('/', async (c) => c.html(overviewPage(page(c), await overview())));
  app.get('', async (c) => c.html(overviewPage(page(c), await overview())));

  /** The Overview's figures as JSON, for scripts and monitors that hold a console session. */
  app.get('/api/overview', async (c) => {
    const d = await overview();
    return c.json({
      activeSessions: d.activeSessions,
      refreshesPerMinute: d.refreshesPerMinute,
      theftsLast24h: d.theftsLast24h,
      keys: d.keys.map((k) => ({
        ...k,
        createdAt: new Date(k.createdAt).toISOString(),
        activatesAt: new Date(k.activatesAt).toISOString(),
      })),
      health: d.health,
    });
  });

  // ---- Users -------------------------------------------------------------------------------------

  app.get('/users', async (c) => {
    const query = c.req.query('user') ?? '';
    if (query === '' || query.length > 256) return c.html(usersPage(page(c), null, query.slice(0, 256)));
    const [sessions, apiKeys] = await Promise.all([engine.listSessions(query), engine.apiKeys.list(query)]);
    return c.html(usersPage(page(c), { userId: query, sessions, apiKeys }, query));
  });

  app.post('/users/revoke-session', async (c) => {
    const sessionId = await formField(c, 'session');
    const userId = await formField(c, 'user');
    const session = sessionId === '' ? null : await engine.getSession(sessionId);
    // Only a session of the user the page showed: a form edited to name another id does nothing.
    if (!session || session.userId !== userId) return c.redirect(userUrl(userId, 'session-not-active'), 303);
    const revoked = await engine.revokeSession(sessionId, 'admin');
    await record(c, c.get('identity').operator, 'revoke-session', { userId, sessionId });
    return c.redirect(userUrl(userId, revoked ? 'session-revoked' : 'session-not-active'), 303);
  });

  app.post('/users/revoke-all', async (c) => {
    const userId = await formField(c, 'user');
    if (userId === '' || userId.length > 256) return c.redirect(`${base}/users`, 303);
    const count = await engine.revokeUserSessions(userId, { reason: 'admin' });
    await record(c, c.get('identity').operator, 'revoke-user-sessions', { userId, details: { count } });
    return c.redirect(userUrl(userId, 'sessions-revoked'), 303);
  });

  app.post('/users/revoke-api-key', async (c) => {
    const keyId = await formField(c, 'key');
    const userId = await formField(c, 'user');
    const owned = userId !== '' && (await engine.apiKeys.list(userId)).some((k) => k.id === keyId);
    if (!owned) return c.redirect(userUrl(userId, 'api-key-not-active'), 303);
    const revoked = await engine.apiKeys.revoke(keyId);
    await record(c, c.get('identity').operator, 'revoke-api-key', { userId, details: { keyId } });
    return c.redirect(userUrl(userId, revoked ? 'api-key-revoked' : 'api-key-not-active'), 303);
  });

  // ---- Audit -------------------------------------------------------------------------------------

  app.get('/audit', async (c) => {
    const q = c.req.query();
    const filters = { user: q['user'] ?? '', session: q['session'] ?? '', type: q['type'] ?? '', since: q['since'] ?? '' };
    const given = (v: string) => (v === '' ? undefined : v);
    try {
      const query = auditQueryFrom(
        {
          user: given(filters.user),
          session: given(filters.session),
          type: given(filters.type),
          since: given(filters.since),
          cursor: given(q['cursor'] ?? ''),
          limit: '50',
        },
        engine.clock.now(),
      );
      const result = await auditStore.query(query);
      return c.html(auditPage(page(c), filters, AUDIT_EVENT_TYPES, result.events, result.nextCursor));
    } catch (err) {
      if (!(err instanceof InvalidAuditQueryError)) throw err;
      return c.html(auditPage(page(c), filters, AUDIT_EVENT_TYPES, [], null, `The ${err.field} filter is not valid.`), 400);
    }
  });

  // ---- Keys --------------------------------------------------------------------------------------

  app.get('/keys', async (c) => c.html(keysPage(page(c), keyRows(await options.store.listSigningKeys(), engine.clock.now()))));
  app.get('/keys/drop', async (c) => c.html(dropConfirmPage(page(c), keyRows(await options.store.listSigningKeys(), engine.clock.now()))));

  app.post('/keys/rotate', async (c) => {
    const { kid } = await engine.rotateKeys();
    await record(c, c.get('identity').operator, 'rotate-keys', { details: { kid } });
    return c.redirect(`${base}/keys?done=rotated`, 303);
  });

  app.post('/keys/drop', async (c) => {
    // The confirmation is part of the request: a POST without it (a replayed or hand-made form) does nothing.
    if ((await formField(c, 'confirm')) !== 'yes') return c.redirect(`${base}/keys/drop`, 303);
    const dropped = (await options.store.listSigningKeys()).map((k) => k.kid);
    const { kid } = await engine.rotateKeys({ dropPrevious: true });
    await record(c, c.get('identity').operator, 'drop-keys', { details: { kid, dropped: dropped.join(' ') } });
    return c.redirect(`${base}/keys?done=dropped`, 303);
  });

  // ---- Sign out ----------------------------------------------------------------------------------

  app.post('/logout', async (c) => {
    const { session, operator } = c.get('identity');
    await engine.revokeSession(session.id, 'signout');
    clearTokens(c);
    await record(c, operator, 'sign-out', { userId: session.userId, sessionId: session.id });
    return c.redirect(`${base}/login`, 303);
  });

  return app;
}
