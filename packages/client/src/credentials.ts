/**
 * The two ways a client holds its session, behind one small interface so the refresh logic is
 * written once:
 * - cookie mode: the browser holds the access and refresh tokens in HttpOnly cookies; the SDK only
 *   ever sees the readable front token (cookie `lk_front`, shared by every tab of the origin);
 * - header mode: the tokens live in a {@link TokenStorage} and travel in `Authorization` and in the
 *   refresh request's JSON body.
 */
import type { DpopSigner } from './dpop-signer.js';
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
   * `method` and `url` are the request's: a DPoP proof names them.
   */
  authorize(headers: FetchHeaders, stale: string | null, method: string, url: string): Promise<void>;
  /**
   * The refresh request's extra headers and body; `null` when there is nothing to refresh with. Made
   * afresh for every attempt: a DPoP proof is good for one request only.
   */
  refreshRequest(url: string): Promise<{ headers: Record<string, string>; body?: string } | null>;
  /** Takes the server's `DPoP-Nonce`; true when it is new (a refused request is then worth one resend). */
  nonce(value: string | null): boolean;
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
    nonce: () => false,
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

/**
 * @param dpop With DPoP on: a bound session's requests carry `Authorization: DPoP` and a proof of its
 *   key; requests without a session carry a proof of a fresh key, so that a sign-in among them binds
 *   the new session to it (the server binds whatever session a proven sign-in creates).
 */
export function headerCredentials(storage: TokenStorage, dpop?: DpopSigner): Credentials {
  return {
    marker: async () => (await storage.get())?.accessToken ?? null,
    front: async () => decodeFrontToken((await storage.get())?.front),
    csrf: () => '1',
    async authorize(headers, stale, method, url) {
      headers.set(MODE_HEADER, 'header');
      const tokens = await storage.get();
      const own = headers.get('authorization');
      const key = dpop && tokens?.dpopKey;
      if (tokens && (!own || own.split(' ')[1] === stale)) {
        headers.set('Authorization', `${key ? 'DPoP' : 'Bearer'} ${tokens.accessToken}`);
        if (key) headers.set('DPoP', await dpop.proof(method, url, key, tokens.accessToken));
      } else if (dpop && !tokens) headers.set('DPoP', await dpop.proof(method, url, undefined));
    },
    async refreshRequest(url) {
      const tokens = await storage.get();
      if (!tokens?.refreshToken) return null;
      const key = dpop && tokens.dpopKey;
      return {
        headers: { [MODE_HEADER]: 'header', 'Content-Type': 'application/json', ...(key && { DPoP: await dpop.proof('POST', url, key) }) },
        body: JSON.stringify({ refreshToken: tokens.refreshToken }),
      };
    },
    nonce: (value) => dpop?.nonce(value) ?? false,
    async accept(response) {
      const body = (await response
        .clone()
        .json()
        .catch(() => null)) as { accessToken?: unknown; refreshToken?: unknown; tokenType?: unknown } | null;
      const front = response.headers.get(FRONT_HEADER) ?? undefined;
      const tokens = await storage.get();
      const updated = response.headers.get(ACCESS_TOKEN_HEADER);
      dpop?.nonce(response.headers.get('dpop-nonce'));
      if (typeof body?.accessToken === 'string' && typeof body.refreshToken === 'string') {
        // Bound to the key the request was signed with: the session's own (a refresh), else the fresh
        // one every session-less request used (a sign-in), which becomes this session's.
        const dpopKey = dpop && body.tokenType === 'DPoP' ? (tokens?.dpopKey ?? (await dpop.claim())) : undefined;
        await storage.set({ accessToken: body.accessToken, refreshToken: body.refreshToken, front, dpopKey });
      } else if (updated && tokens) {
        // A claim update (`session.update()`): a new access token for the same session; the refresh
        // token did not rotate, so it is kept.
        await storage.set({ ...tokens, accessToken: updated, front });
      }
      return true;
    },
    async clear() {
      const key = (await storage.get())?.dpopKey;
      await storage.clear();
      // One key per session: the next sign-in gets a new one.
      if (key) await dpop?.forget(key);
    },
    adopt() {},
    authoritative: true,
  };
}
