/**
 * Options of {@link createLatchkeyClient}, each with its default and the reason for it.
 */
import type { DpopSigner } from './dpop-signer.js';
import type { TokenStorage } from './token-storage.js';
import type { FetchFunction } from './web-types.js';

export type LatchkeyMode = 'cookie' | 'header';

export interface LatchkeyClientOptions {
  /**
   * Where the API lives: only requests under this URL get credentials, the CSRF header and (header
   * mode) the bearer token; requests anywhere else pass through untouched, so a token never leaks to a
   * third party. Default: the page's origin (`location.origin`). Required outside browsers.
   */
  apiBase?: string | undefined;
  /** The server's auth base path (or absolute URL), as configured there. Default `'/auth'`. */
  authBase?: string | undefined;
  /**
   * `'cookie'` (default, for browsers): tokens in HttpOnly cookies the page cannot read. `'header'`
   * (React Native, CLIs, other non-browser clients): tokens in {@link tokenStorage}, sent as
   * `Authorization: Bearer`.
   */
  mode?: LatchkeyMode | undefined;
  /**
   * Cookie mode: the server's cookie name prefix (its `cookies.prefix` option), which names the
   * readable `<prefix>front` cookie. Default `'lk_'`.
   */
  cookiePrefix?: string | undefined;
  /** Header mode only: where tokens are kept. Default: memory. */
  tokenStorage?: TokenStorage | undefined;
  /**
   * Header mode only: bind sessions to a key on this device with DPoP (RFC 9449), from
   * `createDpop()` of `@latchkey/client/dpop`. A copied access or refresh token is then useless
   * without the key, which never leaves the device (non-extractable). Default: off (Bearer), since it
   * costs a signature per request and a separate module; see the README.
   */
  dpop?: DpopSigner | undefined;
  /** The fetch to wrap. Default: the global `fetch`. */
  fetch?: FetchFunction | undefined;
  /**
   * Refresh shortly before the access token expires (with jitter, so tabs do not contend), when a tab
   * becomes visible again and when the device comes back online. Default `true`: requests then rarely
   * meet an expired token. With `false`, refresh happens only on a 401 (or a call to `refresh()`).
   */
  autoRefresh?: boolean | undefined;
  /**
   * Name that scopes the cross-tab lock and channel, for two independent clients on one origin.
   * Default `'latchkey'`.
   */
  name?: string | undefined;
}
