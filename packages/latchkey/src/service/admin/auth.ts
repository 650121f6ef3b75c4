/**
 * How an operator gets into the admin console, and how the console knows them afterwards.
 *
 * Sign-in is a one-time login link that `latchkey admin login` prints. The link carries a ticket: the
 * id of a short-lived "ticket session" the CLI created through the engine (user `admin-login:<operator>`)
 * and a random secret whose HMAC that session's server-side data holds. Redeeming the ticket revokes
 * the ticket session; the store's revoke is an atomic compare-and-set (it changes an active session
 * only), so across every instance on the store exactly one redemption wins, and a reused link is
 * refused. Why a session rather than a table of its own: every store already has sessions with an
 * atomic revoke, so the single use holds on SQLite, PostgreSQL and memory without a schema change,
 * and the ticket's creation and use appear in the audit log as what they are.
 *
 * The console's own session is an ordinary latchkey session (user `admin:<operator>`) whose access and
 * refresh tokens live in two httpOnly, Secure, SameSite=Strict cookies scoped to the console's path.
 * Each request verifies the access token against the store (`checkStore`, so a revoked console session
 * is refused at once), refreshes server-side when it has expired, and enforces a short idle timeout of
 * its own (the engine's is for end users: two weeks by default).
 *
 * Why an HMAC and not just a user-id prefix: anyone who can create sessions (an app, a backend with a
 * service key) could create a session for `admin:alice`. The marker in the session's data is an HMAC,
 * keyed by a subkey of the master secret, over the session's own id (console) or the ticket's secret
 * (ticket): without the master secret it cannot be forged, and copying one session's marker to another
 * session does not verify. An ordinary user's session has no marker and is refused.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { isLatchkeyError } from '../../errors.js';
import type { Latchkey } from '../../engine.js';
import { deriveSubkey } from '../../keys/derive.js';
import { secretFromValue } from '../../keys/secret.js';
import type { DeviceInfo, IssuedTokens, Session } from '../../types.js';
import { randomToken } from '../../util/random.js';

/** User-id prefix of the ticket sessions behind login links. */
export const TICKET_USER_PREFIX = 'admin-login:';
/** User-id prefix of console sessions. */
export const CONSOLE_USER_PREFIX = 'admin:';
/** Default lifetime of a login link, ms: long enough to copy it into a browser, short enough to be useless later. */
export const DEFAULT_TICKET_TTL_MS = 10 * 60_000;
/** Default console idle timeout, ms: an unattended console signs itself out. */
export const DEFAULT_CONSOLE_IDLE_MS = 15 * 60_000;

/** Operator names: short and plain, so they cannot inject into a user id, a log line or a page. */
const OPERATOR = /^[A-Za-z0-9._@-]{1,64}$/;
/** The ticket secret: 32 random bytes, base64url. */
const TICKET_SECRET = /^[A-Za-z0-9_-]{43}$/;
/** The console session's "last seen" is written at most this often (a store write per page view would be waste). */
const SEEN_WRITE_MS = 30_000;

/** The console's HMAC key: a subkey of the master secret used for nothing else. */
export function consoleKey(secret: string | Uint8Array): Buffer {
  return deriveSubkey(secretFromValue(secret), 'admin-console');
}

function mac(key: Buffer, purpose: string, value: string): string {
  return createHmac('sha256', key).update(`${purpose}\0${value}`).digest('base64url');
}

function sameMac(expected: string, given: unknown): boolean {
  if (typeof given !== 'string') return false;
  const a = Buffer.from(expected);
  const b = Buffer.from(given);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Checks an operator name; TypeError otherwise (the CLI turns it into a usage error). */
export function validateOperator(operator: unknown): string {
  if (typeof operator !== 'string' || !OPERATOR.test(operator)) {
    throw new TypeError('operator must be 1-64 characters of letters, digits and . _ @ -');
  }
  return operator;
}

export interface LoginLink {
  /** The whole link to open in a browser. A credential: print it to the operator only. */
  url: string;
  expiresAt: Date;
  operator: string;
}

export interface CreateLoginLinkOptions {
  /** The engine of the service the console runs in (same store): the ticket is a session in it. */
  engine: Latchkey;
  /** The master secret (as the engine's `secret`, or the key file's contents). */
  secret: string | Uint8Array;
  /** Who signs in: 1-64 letters, digits and `. _ @ -`. Recorded with every action in the audit log. */
  operator: string;
  /** Where the console is served, e.g. `https://auth.example.com/admin`. */
  consoleUrl: string;
  /** Lifetime, ms. Default 10 minutes. */
  ttlMs?: number | undefined;
}

/**
 * Creates a one-time login link for `operator` (what `latchkey admin login` prints). The link works
 * once, on any instance sharing the store, until `ttlMs` has passed.
 */
export async function createLoginLink(options: CreateLoginLinkOptions): Promise<LoginLink> {
  const operator = validateOperator(options.operator);
  const ttlMs = options.ttlMs ?? DEFAULT_TICKET_TTL_MS;
  if (!Number.isSafeInteger(ttlMs) || ttlMs < 1000 || ttlMs > 3_600_000) throw new TypeError('ttlMs must be between 1 000 and 3 600 000');
  const key = consoleKey(options.secret);
  const secret = randomToken(32);
  const now = options.engine.clock.now();
  const expiresAt = now + ttlMs;
  // A link never used stays an active session until the engine's idle timeout; end this operator's
  // expired ones now, so they do not pile up in the active-session figures.
  for (const old of await options.engine.listSessions(`${TICKET_USER_PREFIX}${operator}`)) {
    const ticket = old.data['latchkeyTicket'];
    const until = typeof ticket === 'object' && ticket !== null && !Array.isArray(ticket) ? ticket['expiresAt'] : undefined;
    if (typeof until !== 'number' || until <= now) await options.engine.revokeSession(old.id, 'admin');
  }
  const { session } = await options.engine.createSession({
    userId: `${TICKET_USER_PREFIX}${operator}`,
    data: { latchkeyTicket: { mac: mac(key, 'ticket', secret), expiresAt } },
  });
  const url = new URL(options.consoleUrl.replace(/\/?$/, '/login'));
  // In the fragment, not the query: a fragment is never sent to a server, so the secret does not reach
  // access logs or proxies; the login page's form posts it (see console.ts for why a form).
  url.hash = new URLSearchParams({ id: session.id, t: secret }).toString();
  return { url: url.toString(), expiresAt: new Date(expiresAt), operator };
}

/** Why a ticket was refused. Said to the operator only as "this link is invalid, expired or used". */
export type TicketRefusal = 'malformed' | 'unknown' | 'expired' | 'used';

export type RedeemResult = { ok: true; operator: string } | { ok: false; refusal: TicketRefusal };

/** Redeems a ticket once: true for the first caller on any instance, refused for every later one. */
export async function redeemTicket(engine: Latchkey, key: Buffer, id: unknown, secret: unknown): Promise<RedeemResult> {
  if (typeof id !== 'string' || id.length === 0 || id.length > 128 || typeof secret !== 'string' || !TICKET_SECRET.test(secret)) {
    return { ok: false, refusal: 'malformed' };
  }
  const session = await engine.getSession(id);
  if (!session || !session.userId.startsWith(TICKET_USER_PREFIX)) return { ok: false, refusal: 'unknown' };
  const ticket = session.data['latchkeyTicket'];
  if (typeof ticket !== 'object' || ticket === null || Array.isArray(ticket)) return { ok: false, refusal: 'unknown' };
  if (!sameMac(mac(key, 'ticket', secret), ticket['mac'])) return { ok: false, refusal: 'unknown' };
  if (session.revokedAt !== null) return { ok: false, refusal: 'used' };
  const expiresAt = ticket['expiresAt'];
  if (typeof expiresAt !== 'number' || expiresAt <= engine.clock.now()) {
    await engine.revokeSession(id, 'admin');
    return { ok: false, refusal: 'expired' };
  }
  // The single-use step: only the caller whose revoke changed the session wins.
  if (!(await engine.revokeSession(id, 'admin'))) return { ok: false, refusal: 'used' };
  return { ok: true, operator: session.userId.slice(TICKET_USER_PREFIX.length) };
}

/** Opens a console session for an operator whose ticket was redeemed. */
export async function openConsoleSession(
  engine: Latchkey,
  key: Buffer,
  operator: string,
  device: DeviceInfo,
  idleMs: number = DEFAULT_CONSOLE_IDLE_MS,
): Promise<IssuedTokens> {
  // A console closed without signing out stays an active session until its next request finds it idle;
  // end this operator's idle ones at sign-in, so they do not linger for the engine's two-week idle timeout.
  const now = engine.clock.now();
  for (const old of await engine.listSessions(`${CONSOLE_USER_PREFIX}${validateOperator(operator)}`)) {
    const seenAt = old.data['latchkeyConsoleSeenAt'];
    if (typeof seenAt !== 'number' || now - seenAt > idleMs) await engine.revokeSession(old.id, 'signout');
  }
  const tokens = await engine.createSession({
    userId: `${CONSOLE_USER_PREFIX}${validateOperator(operator)}`,
    accessClaims: { latchkey_console: true },
    device,
  });
  // The marker needs the session's id, so it is written after creation. A crash in between leaves a
  // session without a marker, which the console refuses: never a half-made console session that works.
  await engine.updateSession(tokens.session.id, {
    mergeData: { latchkeyConsole: mac(key, 'console', tokens.session.id), latchkeyConsoleSeenAt: engine.clock.now() },
  });
  return tokens;
}

/** The operator a console request comes from. */
export interface ConsoleIdentity {
  session: Session;
  operator: string;
  /** The CSRF token of this session, for forms. */
  csrf: string;
  /** New tokens when the access token had expired and was refreshed: set them as cookies. */
  refreshed: IssuedTokens | undefined;
}

/** The CSRF token for a console session: derived, so nothing is stored, and bound to the session. */
export function csrfToken(key: Buffer, sessionId: string): string {
  return mac(key, 'csrf', sessionId);
}

export function csrfMatches(key: Buffer, sessionId: string, given: unknown): boolean {
  return sameMac(csrfToken(key, sessionId), given);
}

/** Is this a console session (marker verifies, user id is an operator's)? An ordinary user's is not. */
export function isConsoleSession(key: Buffer, session: Session): boolean {
  return session.userId.startsWith(CONSOLE_USER_PREFIX) && sameMac(mac(key, 'console', session.id), session.data['latchkeyConsole']);
}

/**
 * Who is asking, from the console's cookies, or null (sign in again). Refuses: no or bad tokens, a
 * revoked or expired session, a session that is not a console session, a console idle for longer than
 * `idleMs` (which is then revoked).
 */
export async function authenticateConsole(
  engine: Latchkey,
  key: Buffer,
  tokens: { access: string | undefined; refresh: string | undefined },
  device: DeviceInfo,
  idleMs: number,
): Promise<ConsoleIdentity | null> {
  let sessionId: string | undefined;
  let refreshed: IssuedTokens | undefined;
  if (tokens.access !== undefined) {
    try {
      sessionId = (await engine.verifyAccessToken(tokens.access, { checkStore: true })).sessionId;
    } catch (err) {
      // Expired, or signed by a key dropped since (the operator's own "drop leaked keys"): fall back to
      // the refresh token below, as a client would. A forged or revoked token gains nothing by it: the
      // refresh needs a valid refresh token of an active session, with theft detection.
      if (!isLatchkeyError(err)) throw err;
    }
  }
  if (sessionId === undefined) {
    if (tokens.refresh === undefined) return null;
    try {
      refreshed = await engine.refresh(tokens.refresh, { device });
    } catch (err) {
      if (isLatchkeyError(err)) return null;
      throw err;
    }
    sessionId = refreshed.session.id;
  }
  const session = refreshed?.session ?? (await engine.getSession(sessionId));
  if (!session || session.revokedAt !== null || !isConsoleSession(key, session)) return null;
  const now = engine.clock.now();
  const seenAt = session.data['latchkeyConsoleSeenAt'];
  if (typeof seenAt !== 'number' || now - seenAt > idleMs) {
    await engine.revokeSession(session.id, 'signout');
    return null;
  }
  if (now - seenAt > SEEN_WRITE_MS) await engine.updateSession(session.id, { mergeData: { latchkeyConsoleSeenAt: now } });
  return { session, operator: session.userId.slice(CONSOLE_USER_PREFIX.length), csrf: csrfToken(key, session.id), refreshed };
}
