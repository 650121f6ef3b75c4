// The demo's "API keys" page, server side: a signed-in user issues, lists and revokes keys for their
// scripts (latchkey.apiKeys), and GET /api/reports is one route that serves both the web app (a
// session) and those scripts (a key), through requireAuth.
//
// The plaintext key leaves the server exactly once, in the answer to its creation; nothing here
// logs a request, a header or a body, so a key never reaches a log line.

/** The scopes the demo offers. A key gets only the ones its owner ticks. */
export const DEMO_SCOPES = Object.freeze({
  'reports:read': 'read the reports (GET /api/reports)',
  'reports:write': 'change reports (no demo route uses it: try a key without reports:read and see the 403)',
});

/** What a session may do: a person at the browser holds every scope (granted at sign-in as the `scope` claim). */
export const SESSION_SCOPE = Object.keys(DEMO_SCOPES).join(' ');

/** Expiry choices, in days; null is "never". Thirty days is preselected in the page: keys should expire. */
const EXPIRY_DAYS = new Set([1, 7, 30, 90, 365, null]);

/** A bound on each user's usable keys, so one account cannot fill the store. */
const MAX_KEYS_PER_USER = 25;

/**
 * The key-authenticated API's rate limit, per key: a bucket of 60 requests refilled each minute,
 * so `curl -i` shows the RateLimit headers and a runaway loop meets a 429 rather than the server.
 */
const REPORTS_RATE_LIMIT = Object.freeze({ limit: 60, windowSeconds: 60 });

/** An API key as the page shows it: metadata only (latchkey never returns the secret or its hash). */
const view = (k) => ({
  id: k.id,
  name: k.name,
  prefix: k.prefix,
  scopes: k.scopes,
  createdAt: k.createdAt.toISOString(),
  expiresAt: k.expiresAt?.toISOString() ?? null,
  lastUsedAt: k.lastUsedAt?.toISOString() ?? null,
});

/**
 * The routes, by "METHOD /path", plus `match(method, pathname)` for DELETE /api/keys/{id}.
 * `deps()` returns `{ latchkey, auth, send, error, readJson, text }` once the demo has started.
 */
export function apiKeyRoutes(deps) {
  const routes = {
    'GET /api/keys': async (req, res) => {
      const { auth, latchkey, send } = deps();
      const session = await auth.requireSession(req, res);
      if (!session) return;
      const keys = await latchkey.apiKeys.list(session.userId);
      send(res, 200, { keys: keys.map(view), scopes: DEMO_SCOPES });
    },
    'POST /api/keys': async (req, res) => {
      const { auth, latchkey, send, error, readJson, text } = deps();
      // requireSession checks CSRF on this unsafe method, as on every cookie-authenticated change.
      const session = await auth.requireSession(req, res);
      if (!session) return;
      const body = await readJson(req);
      const name = text(body?.name, 80);
      const scopes = body?.scopes;
      const days = body?.expiresInDays ?? null;
      if (
        !name ||
        !Array.isArray(scopes) ||
        scopes.length > 10 ||
        !scopes.every((s) => Object.hasOwn(DEMO_SCOPES, s)) ||
        !EXPIRY_DAYS.has(days)
      ) {
        return send(
          res,
          400,
          error(
            'INVALID_REQUEST',
            `a name (1-80 characters), scopes among ${Object.keys(DEMO_SCOPES).join(', ')} and an expiry in days (1, 7, 30, 90, 365 or null) are required`,
          ),
        );
      }
      if ((await latchkey.apiKeys.list(session.userId)).length >= MAX_KEYS_PER_USER) {
        return send(res, 409, error('TOO_MANY_KEYS', `at most ${MAX_KEYS_PER_USER} keys per account: revoke one first`));
      }
      const { key, apiKey } = await latchkey.apiKeys.create({
        ownerId: session.userId,
        name,
        scopes: [...new Set(scopes)],
        ...(days === null ? {} : { expiresIn: days * 86_400 }),
      });
      // The only time the plaintext leaves the server: the page shows it once and keeps no copy.
      send(res, 201, { key, apiKey: view(apiKey) });
    },
    // One route for people and scripts: a session (cookies, CSRF-checked on unsafe methods) or a key
    // (Authorization: Bearer lk_... or X-API-Key; cookies ignored, no CSRF), one principal either way.
    'GET /api/reports': async (req, res) => {
      const { auth, send } = deps();
      const principal = await auth.requireAuth(req, res, { scopes: ['reports:read'], rateLimit: REPORTS_RATE_LIMIT });
      if (!principal) return;
      send(res, 200, {
        principal: {
          kind: principal.kind,
          subject: principal.subject,
          scopes: principal.scopes,
          ...(principal.kind === 'apiKey' ? { keyId: principal.keyId, keyName: principal.apiKey.name } : {}),
        },
        reports: [
          { id: 'weekly-signups', title: 'Sign-ups this week', value: 42 },
          { id: 'active-sessions', title: 'Active sessions', value: 7 },
        ],
      });
    },
  };

  async function revoke(req, res, id) {
    const { auth, latchkey, send, error } = deps();
    const session = await auth.requireSession(req, res);
    if (!session) return;
    const key = id.length > 0 && id.length <= 64 ? await latchkey.apiKeys.get(id) : null;
    // Another user's key is "not found", exactly like an unknown one: ids are not secret, but
    // whether a given id exists under someone else's account is none of this user's business.
    if (!key || key.ownerId !== session.userId) return send(res, 404, error('NOT_FOUND', 'no such key'));
    await latchkey.apiKeys.revoke(id);
    send(res, 200, { revoked: true });
  }

  return {
    routes,
    /** The handler for a parameterised route, or undefined. */
    match(method, pathname) {
      const prefix = '/api/keys/';
      if (method !== 'DELETE' || !pathname.startsWith(prefix)) return undefined;
      const raw = pathname.slice(prefix.length);
      if (raw.length === 0 || raw.includes('/')) return undefined;
      // A malformed escape is an unknown key (404), not a URIError and a 500.
      let id;
      try {
        id = decodeURIComponent(raw);
      } catch {
        id = '';
      }
      return (req, res) => revoke(req, res, id);
    },
  };
}
