// The security lab's device-binding half, server side: "steal the cookies" and "steal the tokens".
// Development-only routes (mounted with the other lab routes, never with NODE_ENV=production): they
// hand a session's credentials to page JavaScript on purpose, to play the thief.
//
// - Steal the tokens (header mode, DPoP): the page signs a second, header-mode client in for the same
//   user (an SPA or mobile app would hold its tokens this way), with or without a DPoP key. The thief
//   copies its tokens and replays them from "another device" with plain fetch: no key, no proof. The
//   server's answers are the real ones of /api/me and /auth/refresh.
// - Steal the cookies (cookie mode, DBSC): the thief copies the whole cookie jar, HttpOnly cookies
//   included (what cookie-stealing malware takes), and uses it elsewhere. The replay is made here, on
//   the thief's behalf, through the engine: the access cookie verified as the server would, then the
//   refresh cookie presented alone. With DBSC a registered session is refreshed only with the browser's
//   key, so the copy dies with its short-lived access cookie; without DBSC the copy refreshes.
import { randomBytes } from 'node:crypto';
import { parse as parseCookies } from 'cookie';

/** A sign-in ticket lives this long: the page spends it at once. */
const TICKET_MS = 60_000;
/** Bound on outstanding tickets, so the map cannot grow without limit. */
const MAX_TICKETS = 1000;

/** What the page shows of a refusal: the error's stable code and its message. */
function refusal(err) {
  return { ok: false, code: err?.code ?? 'ERROR', message: err?.message ?? String(err) };
}

/**
 * The routes, by "METHOD /path". `deps()` returns `{ latchkey, auth, users, send, error, readJson, scope,
 * cookieNames, dbsc }` once the demo has started.
 */
export function bindingLabRoutes(deps) {
  /** ticket -> { userId, name, email, expiresAt } */
  const tickets = new Map();
  return {
    // Step 1 of "steal the tokens": a one-time ticket, from the cookie session, that lets the page's
    // header-mode client sign in as the same user without asking for the password again.
    'POST /dev/lab/ticket': async (req, res) => {
      const { auth, send, error } = deps();
      const session = await auth.requireSession(req, res);
      if (!session) return;
      const now = Date.now();
      for (const [t, v] of tickets) if (v.expiresAt <= now) tickets.delete(t);
      if (tickets.size >= MAX_TICKETS) return send(res, 429, error('RATE_LIMITED', 'too many lab tickets; wait a minute'));
      const ticket = randomBytes(24).toString('base64url');
      tickets.set(ticket, { userId: session.userId, expiresAt: now + TICKET_MS });
      send(res, 201, { ticket });
    },
    // The header-mode sign-in. The request carries `X-Latchkey-Mode: header`; when it also carries a
    // `DPoP` proof (the SDK's `dpop` option), latchkey binds the new session to the proof's key.
    'POST /dev/lab/header-signin': async (req, res) => {
      const { auth, send, error, readJson, users, scope } = deps();
      const body = await readJson(req);
      const entry = typeof body?.ticket === 'string' ? tickets.get(body.ticket) : undefined;
      if (!entry || entry.expiresAt <= Date.now()) return send(res, 401, error('INVALID_TICKET', 'no such ticket, or it expired'));
      tickets.delete(body.ticket);
      const user = users.byId(entry.userId);
      const result = await auth.signIn(req, res, {
        userId: entry.userId,
        accessClaims: { scope },
        idClaims: user ? { name: user.name, email: user.email } : {},
      });
      send(res, 201, result.body);
    },
    // Step 1 of "steal the cookies": every cookie of this session, HttpOnly ones included. Under the
    // refresh cookie's path, so the browser sends the refresh cookie too.
    'POST /auth/refresh/dev-copy-jar': async (req, res) => {
      const { auth, latchkey, send, error, cookieNames } = deps();
      const session = await auth.requireSession(req, res);
      if (!session) return;
      const bound = (await latchkey.getSession(session.sessionId))?.deviceBinding ?? null;
      const all = parseCookies(req.headers.cookie ?? '');
      const jar = Object.fromEntries(
        Object.values(cookieNames)
          .filter((n) => all[n])
          .map((n) => [n, all[n]]),
      );
      if (!jar[cookieNames.refresh]) return send(res, 400, error('INVALID_REQUEST', 'no refresh cookie'));
      send(res, 200, { jar, bound });
    },
    // Step 2 of "steal the cookies": the thief uses the jar on another device, which has no DBSC key.
    'POST /dev/lab/replay-jar': async (req, res) => {
      const { latchkey, send, error, readJson, cookieNames, dbsc } = deps();
      const body = await readJson(req);
      const jar = body?.jar;
      if (!jar || typeof jar !== 'object' || typeof jar[cookieNames.refresh] !== 'string') {
        return send(res, 400, error('INVALID_REQUEST', 'jar with a refresh cookie required'));
      }
      const access = jar[cookieNames.access];
      let accessResult;
      if (typeof access !== 'string')
        accessResult = { ok: false, code: 'NO_COOKIE', message: 'the access cookie had already expired when it was copied' };
      else {
        try {
          const verified = await latchkey.verifyAccessToken(access);
          const left = Math.max(0, Math.round((verified.expiresAt.getTime() - Date.now()) / 1000));
          accessResult = { ok: true, message: `the copied access cookie still works, for ${left} s at most (it is short-lived)` };
        } catch (err) {
          accessResult = refusal(err);
        }
      }
      let refreshResult;
      try {
        const issued = await latchkey.refresh(jar[cookieNames.refresh]);
        refreshResult = {
          ok: true,
          message: `the thief refreshed: a new session generation for ${issued.session.userId}, on a device that never signed in. Rotation notices only when you and the thief both use the chain.`,
        };
      } catch (err) {
        refreshResult = refusal(err);
      }
      send(res, 200, { access: accessResult, refresh: refreshResult, dbsc });
    },
  };
}
