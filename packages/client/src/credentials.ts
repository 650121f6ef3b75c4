/**
 * The two ways a client holds its session, behind one small interface so the refresh logic is
 * written once:
 * - cookie mode: the browser holds the access and refresh tokens in HttpOnly cookies; the SDK only
 *   ever sees the readable front token (cookie `lk_front`, shared by every tab of the origin);
 * - header mode: the tokens live in a {@link TokenStorage} and travel in `Authorization` and in the
 *   refresh request's JSON body.
 */
import { ACCESS_TOKEN_HEADER, CSRF_TOKEN_HEADER, csrfCookies, FRONT_HEADER, frontCookie as frontCookieOf, MODE_HEADER } from './protocol.js';
import { decodeFrontToken, readCookie, type FrontToken } from './front-token.js';
import type { TokenStorage } from './token-storage.js';
import type { FetchHeaders, FetchResponse } from './web-types.js';

export interface Credentials {
  /**
   * A value that changes whenever the tokens change. Taken before a request and compared after the
   * refresh lock is held: if it moved, another tab (or request) refreshed meanwhile, and this one
   * just retries instead of spending the refresh token again.
   */
  marker(): Promise<string | null>;
  front(): Promise<FrontToken | null>;
  /** Value of the CSRF header on state-changing requests. */
  csrf(): string;
  /**
   * Adds what authenticates an API request (header mode: the bearer token). An `Authorization` the app
   * set itself is kept, unless it is `Bearer <stale>`: the token this client held when the request was
   * first sent, which a refresh has since replaced (the retry must not resend it).
   */
  authorize(headers: FetchHeaders, stale: string | null): Promise<void>;
  /** The refresh request's extra headers and body; `null` when there is nothing to refresh with. */
  refreshRequest(): Promise<{ headers: Record<string, string>; body?: string } | null>;
  /**
   * Takes in a response that issued tokens (a refresh, the app's own sign-in, a claim update). Returns
   * `false` in cookie mode when the browser did not store the front cookie the response set: its
   * cookies are being blocked (third-party cookie blocking, ITP).
   */
  accept(response: FetchResponse): Promise<boolean>;
  /** Forgets the session locally (the server has ended it, or is being told to). */
  clear(): Promise<void>;
  /** Takes a front token another tab received (only used where the cookie is not readable). */
  adopt(front: string | null | undefined): void;
  /**
   * Whether "no marker" proves "no session". True where the front token is always visible (it lives
   * as long as the session); false for a cross-origin API, where only the server can tell.
   */
  authoritative: boolean;
}

/**
 * @param visible Whether `document.cookie` shows the API's cookies: only when the API is on the page's
 *   own origin. Otherwise the front token from response headers, kept in memory, is the only copy.
 * @param prefix The server's cookie name prefix (`cookies.prefix`), default `lk_`.
 */
export function cookieCredentials(visible: boolean, prefix: string): Credentials {
  const frontCookie = frontCookieOf(prefix);
  const [hostCsrf, secureCsrf] = csrfCookies(prefix);
  let lastSeen: string | null = null;
  let lastCsrf: string | null = null;
  const current = (): string | null => (visible ? readCookie(frontCookie) : lastSeen);
  return {
    marker: async () => current(),
    front: async () => decodeFrontToken(current()),
    // Server `csrf: { mode: 'token' }` issues a session-bound token to echo (cookie `__Host-<prefix>csrf`,
    // or header X-Latchkey-CSRF-Token cross-origin); the default mode wants the constant `1`.
    csrf: () =>
      (visible ? (readCookie(hostCsrf) ?? readCookie(secureCsrf)) : null) ?? lastCsrf ?? '1',
    authorize: async () => {},
    refreshRequest: async () => ({ headers: {} }),
    async accept(response) {
      lastCsrf = response.headers.get(CSRF_TOKEN_HEADER) ?? lastCsrf;
      const issued = response.headers.get(FRONT_HEADER);
      if (!issued) return true;
      lastSeen = issued;
      // Set-Cookie is applied before fetch resolves, so a mismatch here means the browser refused it.
      return !visible || readCookie(frontCookie) === issued;
    },
    async clear() {
      lastSeen = lastCsrf = null;
      // The front cookie is readable, so it can be expired here too: this keeps every tab's view
      // consistent even when the server could not be reached to clear it.
      if (visible) document.cookie = `${frontCookie}=; Max-Age=0; Path=/; Secure; SameSite=Lax`;
    },
    adopt(front) {
      if (front) lastSeen = front;
    },
    authoritative: visible,
  };
}

export function headerCredentials(storage: TokenStorage): Credentials {
  return {
    marker: async () => (await storage.get())?.accessToken ?? null,
    front: async () => decodeFrontToken((await storage.get())?.front),
    csrf: () => '1',
    async authorize(headers, stale) {
      headers.set(MODE_HEADER, 'header');
      const tokens = await storage.get();
      const own = headers.get('authorization');
      if (tokens && (!own || own === `Bearer ${stale}`)) headers.set('Authorization', `Bearer ${tokens.accessToken}`);
    },
    async refreshRequest() {
      const tokens = await storage.get();
      if (!tokens?.refreshToken) return null;
      return {
        headers: { [MODE_HEADER]: 'header', 'Content-Type': 'application/json' },
        body: JSON.stringify({ refreshToken: tokens.refreshToken }),
      };
    },
    async accept(response) {
      const body = (await response
        .clone()
        .json()
        .catch(() => null)) as { accessToken?: unknown; refreshToken?: unknown } | null;
      const front = response.headers.get(FRONT_HEADER) ?? undefined;
      const tokens = await storage.get();
      const updated = response.headers.get(ACCESS_TOKEN_HEADER);
      if (typeof body?.accessToken === 'string' && typeof body.refreshToken === 'string') {
        await storage.set({ accessToken: body.accessToken, refreshToken: body.refreshToken, front });
      } else if (updated && tokens) {
        // A claim update (`session.update()`): a new access token for the same session; the refresh
        // token did not rotate, so it is kept.
        await storage.set({ ...tokens, accessToken: updated, front });
      }
      return true;
    },
    clear: async () => storage.clear(),
    adopt() {},
    authoritative: true,
  };
}
