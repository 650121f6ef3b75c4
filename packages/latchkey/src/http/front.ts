/**
 * The front token: what the UI may know about the session, in a readable cookie and header.
 * base64url(JSON `{"v":1,"idToken","exp","now"}`, plus `"bound"` for a device-bound session): the ID
 * token for display, the access token's expiry so the SDK can refresh ahead of time, the server's
 * clock so it can correct for skew, and whether the session is bound to a device key.
 */
import { base64url } from 'jose';
import { CSRF_TOKEN_HEADER } from './csrf.js';

export const FRONT_HEADER = 'x-latchkey-front';
/**
 * The new access token after `session.update()` in header mode: the client has no cookie for the
 * server to replace, so the token that carries the changed claims travels in this header.
 */
export const ACCESS_TOKEN_HEADER = 'x-latchkey-access-token';
/**
 * On every token-issuing response (sign-in, refresh, claim update) and every refresh refusal: the
 * server's refresh grace window, whole seconds. The SDK fits its timeout and retry inside it, from
 * its first refresh on, so a server configured with another window cannot silently turn a retried
 * refresh into a theft alarm.
 */
export const REFRESH_GRACE_HEADER = 'x-latchkey-refresh-grace';
/** Response headers a cross-origin SDK must be able to read (Access-Control-Expose-Headers). */
// DPoP-Nonce (RFC 9449 §8): a cross-origin SDK must read the server's nonce to put it in its next proof.
export const EXPOSED_HEADERS = `${FRONT_HEADER}, ${CSRF_TOKEN_HEADER}, ${ACCESS_TOKEN_HEADER}, ${REFRESH_GRACE_HEADER}, DPoP-Nonce`;

export interface FrontToken {
  v: 1;
  idToken: string;
  /** Access-token expiry, ms since the epoch. */
  exp: number;
  /** Server time when issued, ms since the epoch. */
  now: number;
  /**
   * Present when the session is bound to a device key: `dbsc` (the browser registered a DBSC key;
   * the SDK's `isDeviceBound()`) or `dpop`. Absent for a bearer session.
   */
  bound?: 'dpop' | 'dbsc';
}

export function encodeFrontToken(idToken: string, accessTokenExpiresAt: Date, now: number, bound?: 'dpop' | 'dbsc' | null): string {
  const front: FrontToken = { v: 1, idToken, exp: accessTokenExpiresAt.getTime(), now, ...(bound ? { bound } : {}) };
  return base64url.encode(JSON.stringify(front));
}

/** Decodes a front token (for tests and tools). Returns null for anything that is not one. */
export function decodeFrontToken(value: string): FrontToken | null {
  try {
    const parsed: unknown = JSON.parse(new TextDecoder().decode(base64url.decode(value)));
    if (typeof parsed !== 'object' || parsed === null) return null;
    const f = parsed as Record<string, unknown>;
    if (f.v !== 1 || typeof f.idToken !== 'string' || typeof f.exp !== 'number' || typeof f.now !== 'number') return null;
    return { v: 1, idToken: f.idToken, exp: f.exp, now: f.now, ...(f.bound === 'dpop' || f.bound === 'dbsc' ? { bound: f.bound } : {}) };
  } catch {
    return null;
  }
}
