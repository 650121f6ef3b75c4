/**
 * The front token: what the server lets page JavaScript know about the session (the access and
 * refresh tokens themselves stay in HttpOnly cookies, out of reach of XSS).
 *
 * Wire form (TEAM protocol): base64url(JSON `{"v":1,"idToken":"<JWT>","exp":<ms>,"now":<ms>}`), where
 * `exp` is the access token's expiry and `now` the server's clock when it was issued, both in
 * milliseconds since the epoch. `now` is what lets a client with a wrong clock still schedule
 * refreshes correctly (see clock.ts).
 */
import { base64urlToText } from './base64url.js';

export interface FrontToken {
  /** The raw cookie/header value: compared as a whole to tell whether another tab refreshed. */
  raw: string;
  /** The ID token (a JWT the server signed for the UI; never accepted as an access token). */
  idToken: string;
  /** Access-token expiry, server clock, ms since the epoch. */
  exp: number;
  /** Server time when issued, ms since the epoch. */
  now: number;
  /** `'dpop'` or `'dbsc'` when the server bound the session to a key on this device (isDeviceBound()). */
  bound?: string;
}

/** Claims of the ID token, as the server put them (`sub`, `sid`, `exp`, plus the app's `idClaims`). */
export type Claims = Record<string, unknown>;

/** Decodes a front token; anything malformed is `null` (treated as "no session"), never an exception. */
export function decodeFrontToken(raw: string | null | undefined): FrontToken | null {
  if (!raw) return null;
  try {
    const v = JSON.parse(base64urlToText(raw)) as Record<string, unknown>;
    if (v.v !== 1 || typeof v.idToken !== 'string' || typeof v.exp !== 'number' || typeof v.now !== 'number') return null;
    return { raw, idToken: v.idToken, exp: v.exp, now: v.now, bound: v.bound as string };
  } catch {
    return null;
  }
}

/**
 * Reads the ID token's payload for display. Deliberately unverified: the browser holds no key, and
 * trusting these claims for an access decision would be wrong anyway; the server decides.
 */
export function decodeClaims(idToken: string): Claims | null {
  try {
    const payload = JSON.parse(base64urlToText(idToken.split('.')[1] ?? '')) as unknown;
    return payload !== null && typeof payload === 'object' && !Array.isArray(payload) ? (payload as Claims) : null;
  } catch {
    return null;
  }
}

/**
 * Reads one readable latchkey cookie (front token, CSRF token) from `document.cookie`. Why not a
 * cookie library: the SDK has no runtime dependencies, and this is a lookup of a known name whose
 * value is base64url (no quoting, no escaping), not general cookie parsing.
 */
export function readCookie(name: string): string | null {
  if (typeof document === 'undefined') return null;
  for (const part of document.cookie.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim() || null;
  }
  return null;
}
