/**
 * `createLatchkeyClient`: the browser (and native/CLI) side of a latchkey session.
 *
 * What it guarantees:
 * - credentials go only to the API (apiBase), with the CSRF header on state-changing requests;
 * - a 401 `TRY_REFRESH_TOKEN` leads to exactly one refresh and exactly one retry; the retry's answer
 *   is final, and a refused refresh ends the session (event `signedOut`): there is no path that loops;
 * - one refresh at a time across all tabs (tabs/lock.ts), whose outcome every tab learns
 *   (tabs/channel.ts), as it learns sign-outs and detected thefts;
 * - expiry reasoning in server time (clock.ts), so a wrong device clock changes nothing.
 */
import { createAxiosInterceptor, type AxiosLike } from './axios.js';
import { createServerClock } from './clock.js';
import { cookieCredentials, headerCredentials, type Credentials } from './credentials.js';
import { createEmitter } from './emitter.js';
import { LatchkeyClientError } from './errors.js';
import { createFetch } from './fetch.js';
import { decodeClaims, decodeFrontToken, type Claims } from './front-token.js';
import type { LatchkeyClientOptions } from './options.js';
import { FRONT_HEADER, type ServerError } from './protocol.js';
import { refreshOnce, type RefreshOutcome } from './refresher.js';
import { createScheduler } from './scheduler.js';
import { createTabChannel, type TabMessage } from './tabs/channel.js';
import { createTabLock } from './tabs/lock.js';
import { memoryTokenStorage } from './token-storage.js';
import type { TransportHooks } from './transport.js';

export interface LatchkeyEvents {
  /** New tokens: refreshed (by this tab or another) or issued by a sign-in in another tab. */
  refreshed: { claims: Claims | null; expiresAt: Date | null };
  /** The session ended: signed out here or in another tab, refresh refused, or theft detected. */
  signedOut: { reason: 'signOut' | 'refreshFailed' | 'theft' | 'otherTab' };
  /** A request's final answer was 401 (after the one refresh and retry, where those applied). */
  unauthorised: { url: string; code: string | null };
  /** The server saw an old refresh token replayed and revoked the whole session. Reaches every tab. */
  theftDetected: { sessionId: string | null; userId: string | null };
  /**
   * A refresh succeeded but the browser did not keep its cookies (third-party cookie blocking, ITP).
   * The SDK stops refreshing rather than loop; the app should tell the user or use a first-party API.
   */
  cookieBlocked: { url: string };
}

export interface LatchkeyClient {
  /** `fetch` with credentials, CSRF header, and one refresh-and-retry on an expired access token. */
  fetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response>;
  /** Installs the same behaviour on an axios instance; returns a function that removes it. */
  axiosInterceptor<C extends object, R extends object>(instance: AxiosLike<C, R>): () => void;
  /**
   * True when a session exists. Asks the server (one refresh) only when the local front token says
   * the access token expired; a refused refresh token is `false`, never an error.
   */
  doesSessionExist(): Promise<boolean>;
  /** The ID token's claims (display only: unverified in the client; the server decides access). */
  getClaims(): Promise<Claims | null>;
  /** When the access token expires, converted to this device's clock (so UI countdowns are right). */
  getAccessTokenExpiry(): Promise<Date | null>;
  /** Ends the session on the server and in every tab. Local state is cleared even if the server is unreachable. */
  signOut(): Promise<void>;
  /**
   * Refreshes now (once across tabs). Resolves `true` when a session exists afterwards, `false` when
   * it ended. Rejects with `REFRESH_UNAVAILABLE` (server unreachable) or `COOKIE_BLOCKED`.
   */
  refresh(): Promise<boolean>;
  on<K extends keyof LatchkeyEvents>(event: K, listener: (payload: LatchkeyEvents[K]) => void): () => void;
  /** Removes timers and listeners (single-page-app teardown, tests). */
  close(): void;
}

export function createLatchkeyClient(options: LatchkeyClientOptions = {}): LatchkeyClient {
  const mode = options.mode ?? 'cookie';
  if (mode !== 'cookie' && mode !== 'header') throw new TypeError("latchkey: mode must be 'cookie' or 'header'");
  const pageOrigin = typeof location === 'undefined' ? undefined : location.origin;
  const base = options.apiBase ?? pageOrigin;
  if (!base) throw new TypeError('latchkey: apiBase is required outside a browser');
  const apiBase = new URL(base, pageOrigin);
  const authBase = (options.authBase ?? '/auth').replace(/\/+$/, '');
  const authUrl = (route: string): string => new URL(`${authBase}/${route}`, apiBase).href;
  const baseFetch: typeof fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  const name = options.name ?? 'latchkey';

  // `/v1` covers `/v1` and `/v1/...`, never `/v1beta`.
  const apiPath = apiBase.pathname.replace(/\/?$/, '/');
  const isApi = (url: string): boolean => {
    const u = new URL(url, pageOrigin ?? apiBase); // outside a browser, relative means relative to the API
    return (u.origin === apiBase.origin && `${u.pathname}/`.startsWith(apiPath)) || u.href.startsWith(authUrl(''));
  };

  const credentials: Credentials =
    mode === 'cookie'
      ? cookieCredentials(apiBase.origin === pageOrigin, options.cookiePrefix ?? 'lk_')
      : headerCredentials(options.tokenStorage ?? memoryTokenStorage());
  const clock = createServerClock();
  const events = createEmitter<LatchkeyEvents>();
  // Tabs share cookies, so they share one session and must coordinate. Header-mode storage is
  // private to its JS context unless the app says otherwise, so it gets the in-context flight only.
  const inBrowserCookieMode = mode === 'cookie' && typeof window !== 'undefined';
  const lock = inBrowserCookieMode ? createTabLock(`${name}:refresh`) : <T>(fn: () => Promise<T>) => fn();
  const channel = inBrowserCookieMode ? createTabChannel(name, (m) => void onTabMessage(m)) : { post() {}, close() {} };

  let ended = false;
  let blocked = false;
  // While signOut() runs, a session ending on the way (its access token had expired and the refresh
  // was refused) is still reported as the sign-out the user asked for.
  let signingOut = false;
  let inflight: Promise<RefreshOutcome> | null = null;

  const scheduler = createScheduler(clock, async (front) => {
    // The marker first, then the look: a marker read after the look could already be another tab's
    // new one, which the lock's "already refreshed?" check would then take for ours and spend.
    const marker = await credentials.marker();
    if ((await credentials.front())?.raw !== front.raw) return true; // already replaced
    try {
      await refreshFrom(marker);
      return true;
    } catch {
      return false;
    }
  });
  const autoRefresh = options.autoRefresh ?? true;
  const plan = async (): Promise<void> => {
    if (autoRefresh && !ended && !blocked) scheduler.plan(await credentials.front());
  };
  const check = (): void => {
    if (autoRefresh && !ended && !blocked) void credentials.front().then((f) => scheduler.check(f));
  };
  const onVisible = (): void => {
    if (document.visibilityState === 'visible') check();
  };
  if (typeof document !== 'undefined') document.addEventListener('visibilitychange', onVisible);
  if (typeof window !== 'undefined') {
    window.addEventListener('online', check);
    // A page restored from the back/forward cache kept its timers' state from before, possibly stale.
    window.addEventListener('pageshow', check);
  }
  void plan();

  async function refreshedInfo(): Promise<LatchkeyEvents['refreshed']> {
    const front = await credentials.front();
    return { claims: front ? decodeClaims(front.idToken) : null, expiresAt: front ? new Date(front.exp - (clock.now() - Date.now())) : null };
  }

  async function endSession(reason: LatchkeyEvents['signedOut']['reason'], theft: ServerError | null, tell: boolean): Promise<void> {
    scheduler.stop();
    await credentials.clear();
    if (theft) {
      events.emit('theftDetected', { sessionId: theft.sessionId ?? null, userId: theft.userId ?? null });
      if (tell) channel.post({ type: 'theft', sessionId: theft.sessionId, userId: theft.userId });
    } else if (tell && !ended) {
      channel.post({ type: 'signedOut' });
    }
    if (!ended) {
      ended = true;
      events.emit('signedOut', { reason: signingOut ? 'signOut' : reason });
    }
  }

  async function onTabMessage(message: TabMessage): Promise<void> {
    if (message.type === 'refreshed') {
      credentials.adopt(message.front);
      if (Number.isFinite(message.skew)) clock.fromFrontToken(Date.now() + message.skew!);
      ended = false;
      await plan();
      events.emit('refreshed', await refreshedInfo());
    } else if (message.type === 'signedOut') {
      await endSession('otherTab', null, false);
    } else if (message.type === 'theft') {
      await endSession('theft', { code: 'TOKEN_THEFT_DETECTED', sessionId: message.sessionId, userId: message.userId }, false);
    }
  }

  /**
   * The single flight: however many requests of this tab meet an expired token at once, one refresh
   * runs and they all wait for it. Outcome events fire once, here, not once per waiting request.
   */
  function refreshFrom(marker: string | null): Promise<RefreshOutcome> {
    if (blocked) return Promise.resolve({ kind: 'blocked' });
    inflight ??= (async () => {
      try {
        const outcome = await refreshOnce({ url: authUrl('refresh'), fetch: baseFetch, credentials, lock, clock }, marker);
        if (outcome.kind === 'refreshed') {
          ended = false;
          await plan();
          if (outcome.here) {
            channel.post({ type: 'refreshed', front: await credentials.marker(), skew: clock.skew() });
            events.emit('refreshed', await refreshedInfo());
          }
        } else if (outcome.kind === 'signedOut') {
          const theft = outcome.error?.code === 'TOKEN_THEFT_DETECTED' ? outcome.error : null;
          await endSession(theft ? 'theft' : 'refreshFailed', theft, true);
        } else {
          blocked = true;
          scheduler.stop();
          events.emit('cookieBlocked', { url: authUrl('refresh') });
        }
        return outcome;
      } finally {
        inflight = null;
      }
    })();
    return inflight;
  }

  /** Learns from any API response: server time, and tokens issued by the app's own sign-in route. */
  async function observe(response: Response, before: string | null): Promise<void> {
    const knew = clock.known();
    clock.fromDateHeader(response.headers.get('date'));
    const front = decodeFrontToken(response.headers.get(FRONT_HEADER));
    if (!front || !response.ok) {
      if (!knew && clock.known()) await plan(); // the first server time: plan what start-up could not
      return;
    }
    clock.fromFrontToken(front.now);
    if (await credentials.accept(response)) {
      // A fresh, stored front token (a new sign-in) lifts a cookie block seen earlier.
      blocked = false;
      ended = false;
      await plan();
      // New tokens (a sign-in): the other tabs plan their refresh from them too.
      if (before !== front.raw) channel.post({ type: 'refreshed', front: front.raw, skew: clock.skew() });
    } else if (!blocked) {
      blocked = true;
      scheduler.stop();
      events.emit('cookieBlocked', { url: response.url });
    }
  }

  /**
   * Decides what a 401 means. Besides `TRY_REFRESH_TOKEN`, a latchkey `UNAUTHORISED` is worth one
   * refresh while we believe a session exists: the browser drops the access cookie at its Max-Age, so
   * an expired token can arrive as no token at all. A 401 that is not latchkey's is the app's business.
   */
  async function refreshable(error: ServerError | null, marker: string | null): Promise<boolean> {
    if (error?.code === 'TOKEN_THEFT_DETECTED') {
      await endSession('theft', error, true);
      return false;
    }
    return error?.code === 'TRY_REFRESH_TOKEN' || (error?.code === 'UNAUTHORISED' && marker !== null);
  }

  /** Runs the refresh for a failed request; true when the request should be retried (once). */
  async function recover(marker: string | null): Promise<boolean> {
    try {
      return (await refreshFrom(marker)).kind === 'refreshed';
    } catch {
      return false; // unreachable refresh endpoint: the caller gets the original 401, the session stays
    }
  }

  const hooks: TransportHooks = {
    isApi,
    mode,
    credentials,
    observe,
    refreshable,
    recover,
    unauthorised: (url, code) => events.emit('unauthorised', { url, code }),
  };
  const latchkeyFetch = createFetch(baseFetch, hooks);

  return {
    fetch: latchkeyFetch,
    axiosInterceptor: (instance) => createAxiosInterceptor(instance, hooks),
    async doesSessionExist() {
      const marker = await credentials.marker();
      if (marker === null && credentials.authoritative) return false;
      const front = await credentials.front();
      if (front && clock.now() < front.exp) return true;
      try {
        return (await refreshFrom(marker)).kind === 'refreshed';
      } catch {
        return true; // the server could not be asked; the session has not been refused
      }
    },
    async getClaims() {
      const front = await credentials.front();
      return front ? decodeClaims(front.idToken) : null;
    },
    async getAccessTokenExpiry() {
      return (await refreshedInfo()).expiresAt;
    },
    async signOut() {
      let failure: unknown;
      signingOut = true;
      try {
        // Through the wrapper: an expired access token is refreshed first, so that the server really
        // ends the session rather than the browser merely forgetting it.
        const response = await latchkeyFetch(authUrl('signout'), { method: 'POST' });
        if (response.status >= 500) failure = new Error(`status ${response.status}`);
      } catch (err) {
        failure = err;
      }
      await endSession('signOut', null, true);
      signingOut = false;
      if (failure) throw new LatchkeyClientError('SIGN_OUT_FAILED', 'sign-out failed; signed out locally', { cause: failure });
    },
    async refresh() {
      const outcome = await refreshFrom(await credentials.marker());
      if (outcome.kind === 'blocked') throw new LatchkeyClientError('COOKIE_BLOCKED', 'the browser refused the cookies');
      return outcome.kind === 'refreshed';
    },
    on: (event, listener) => events.on(event, listener),
    close() {
      scheduler.stop();
      channel.close();
      if (typeof document !== 'undefined') document.removeEventListener('visibilitychange', onVisible);
      if (typeof window !== 'undefined') {
        window.removeEventListener('online', check);
        window.removeEventListener('pageshow', check);
      }
    },
  };
}

