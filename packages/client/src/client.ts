/**
 * `createLatchkeyClient`: the browser (and native/CLI) side of a latchkey session.
 *
 * What it guarantees:
 * - credentials go only to the API (apiBase), with the CSRF header on state-changing requests;
 * - a 401 `TRY_REFRESH_TOKEN` leads to exactly one refresh and exactly one retry; the retry's answer
 *   is final, and a refused refresh ends the session (event `signedOut`): there is no path that loops;
 *   a refresh that got no verdict (network, 5xx) is an error (`REFRESH_UNAVAILABLE`), never a sign-out;
 * - one refresh at a time across all tabs (tabs/lock.ts), whose outcome every tab learns
 *   (tabs/channel.ts), as it learns sign-outs, detected thefts and claim updates;
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
import {
  DEFAULT_AUTH_BASE,
  DEFAULT_COOKIE_PREFIX,
  FRONT_HEADER,
  REFRESH_ROUTE,
  SIGNOUT_ROUTE,
  TOKEN_THEFT_DETECTED,
  TRY_REFRESH_TOKEN,
  UNAUTHORISED,
  type ServerError,
} from './protocol.js';
import { DEFAULT_GRACE, learnGrace, refreshOnce, type RefreshOutcome } from './refresher.js';
import type { FetchInit, FetchInput, FetchResponse } from './web-types.js';
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
  /**
   * The server saw an old refresh token replayed and revoked the whole session. Reaches every tab,
   * whichever of them first got the server's `TOKEN_THEFT_DETECTED` (from a refresh or any API call);
   * followed by `signedOut` `{ reason: 'theft' }` unless the session had already ended here.
   */
  theftDetected: {
    sessionId: string | null;
    userId: string | null;
    /**
     * What the server saw, when it said: `'rotated-out-replay'`, `'parent-after-grace'` (perhaps a very
     * late retry rather than a thief) or `'revoked-for-theft'` (this session had been revoked for theft
     * elsewhere: how a victim's other tabs and devices learn it). `null` from a server that does not say.
     */
    reason: string | null;
  };
  /**
   * The server reissued this session's tokens with new claims (`session.update()` in an app route):
   * header mode adopted the new access token, cookie mode got new cookies. Reaches every tab.
   * `claims` are the new ID token's, for display.
   */
  claimsUpdated: { claims: Claims | null };
  /**
   * A refresh succeeded but the browser did not keep its cookies (third-party cookie blocking, ITP).
   * The SDK stops refreshing rather than loop; the app should tell the user or use a first-party API.
   */
  cookieBlocked: { url: string };
}

export interface LatchkeyClient {
  /** `fetch` with credentials, CSRF header, and one refresh-and-retry on an expired access token. */
  fetch(input: FetchInput, init?: FetchInit): Promise<FetchResponse>;
  /** Installs the same behaviour on an axios instance; returns a function that removes it. */
  axiosInterceptor<C extends object, R extends object>(instance: AxiosLike<C, R>): () => void;
  /**
   * True when a session exists. Asks the server (one refresh) only when the local front token says
   * the access token expired. `false` only when there is no session here or the server refused it;
   * a server that could not be asked (or cookies the browser blocks) leaves it `true`.
   */
  doesSessionExist(): Promise<boolean>;
  /** The ID token's claims (display only: unverified in the client; the server decides access). */
  getClaims(): Promise<Claims | null>;
  /**
   * True when the server bound this session to a key on this device: DPoP (header mode, `dpop`
   * option) or DBSC (cookie mode, done by the browser). The server says so in the front token, so
   * this is display only, like the claims: the server enforces the binding on every request.
   */
  isDeviceBound(): Promise<boolean>;
  /** When the access token expires, converted to this device's clock (so UI countdowns are right). */
  getAccessTokenExpiry(): Promise<Date | null>;
  /** Ends the session on the server and in every tab. Local state is cleared even if the server is unreachable. */
  signOut(): Promise<void>;
  /**
   * Refreshes now (once across tabs). Resolves `true` when a session exists afterwards, `false` when
   * it ended. Rejects with `REFRESH_UNAVAILABLE` (no verdict: unreachable, 5xx) or `COOKIE_BLOCKED`.
   */
  refresh(): Promise<boolean>;
  on<K extends keyof LatchkeyEvents>(event: K, listener: (payload: LatchkeyEvents[K]) => void): () => void;
  /** Removes timers and listeners (single-page-app teardown, tests). */
  close(): void;
}

const TRIGGERS = ['online', 'pageshow', 'visibilitychange'];

type SignedOutReason = LatchkeyEvents['signedOut']['reason'];
/** See `state` in createLatchkeyClient. */
type SessionState = { readonly kind: 'active' } | { readonly kind: 'ended'; readonly theft: boolean } | { readonly kind: 'blocked' };
const ACTIVE: SessionState = { kind: 'active' };
const BLOCKED: SessionState = { kind: 'blocked' };

export function createLatchkeyClient(options: LatchkeyClientOptions = {}): LatchkeyClient {
  const mode = options.mode ?? 'cookie';
  if (mode !== 'cookie' && mode !== 'header') throw new TypeError("latchkey: mode must be 'cookie' or 'header'");
  const pageOrigin = typeof location === 'undefined' ? undefined : location.origin;
  const base = options.apiBase ?? pageOrigin;
  if (!base) throw new TypeError('latchkey: apiBase is required outside a browser');
  const apiBase = new URL(base, pageOrigin);
  const authBase = (options.authBase ?? DEFAULT_AUTH_BASE).replace(/\/+$/, '');
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
      ? cookieCredentials(apiBase.origin === pageOrigin, options.cookiePrefix ?? DEFAULT_COOKIE_PREFIX)
      : headerCredentials(options.tokenStorage ?? memoryTokenStorage(), options.dpop);
  if (options.dpop && mode !== 'header') throw new TypeError('latchkey: dpop needs header mode');
  const clock = createServerClock();
  const events = createEmitter<LatchkeyEvents>();
  // Tabs share cookies, so they share one session and must coordinate. Header-mode storage is
  // private to its JS context unless the app says otherwise, so it gets the in-context flight only.
  const inBrowserCookieMode = mode === 'cookie' && typeof window !== 'undefined';
  const lock = inBrowserCookieMode ? createTabLock(`${name}:refresh`) : <T>(fn: () => Promise<T>) => fn();
  const channel = inBrowserCookieMode ? createTabChannel(name, (m) => void onTabMessage(m)) : { post() {}, close() {} };

  /**
   * The one session state. It replaces flags (ended, theft reported, cookies blocked, signing out)
   * whose combinations could contradict each other; each transition below is one assignment.
   * - `active`: a session may exist (requests carry it, refreshes are planned);
   * - `ended`: the server ended it or the user signed out; `signedOut` was emitted once, and
   *   `theftDetected` too when `theft` is set (so a second report of the same theft stays silent);
   * - `blocked`: the browser drops the session cookies, so refreshing cannot help; nothing is refreshed.
   * A new token (sign-in, refresh here or in another tab) makes it `active` again.
   * There is no "signing out" state: a sign-out's own request carries its reason (see `signOut`), so
   * nothing can stay set when it throws.
   */
  let state: SessionState = ACTIVE;
  let inflight: Promise<RefreshOutcome> | null = null;
  /** The last front token observe() took in: the same response seen twice (two interceptors) counts once. */
  let observed: string | undefined;
  const refreshDeps = { url: authUrl(REFRESH_ROUTE), fetch: baseFetch, credentials, lock, clock, grace: DEFAULT_GRACE };

  const scheduler = createScheduler(clock, async (front) => {
    // The marker first, then the look: a marker read after the look could already be another tab's
    // new one, which the lock's "already refreshed?" check would then take for ours and spend.
    const marker = await credentials.marker();
    // Already replaced; or bound by DBSC, whose refresh is the browser's own (with its key, when the
    // bound cookie expires): a refresh of ours would be refused (INVALID_DBSC_PROOF) and end the session.
    if ((await credentials.front())?.raw !== front.raw || front.bound === 'dbsc') return true;
    try {
      await refreshFrom(marker);
      return true;
    } catch {
      return false;
    }
  });
  const autoRefresh = options.autoRefresh ?? true;
  const plan = async (): Promise<void> => {
    if (autoRefresh && state.kind === 'active') scheduler.plan(await credentials.front());
  };
  const check = (): void => {
    if (autoRefresh && state.kind === 'active') void credentials.front().then((f) => scheduler.check(f));
  };
  // Re-checked when the device comes back online, when a page is restored from the back/forward cache
  // (its timers' state is from before, possibly stale) and when a tab is shown or hidden (a background
  // tab's timers are throttled; checking on hide too is harmless: check() only refreshes what is due).
  // `visibilitychange` bubbles from the document to the window. Outside browsers these do not exist.
  for (const type of TRIGGERS) globalThis.addEventListener?.(type, check);
  void plan();

  const claimsNow = async (): Promise<Claims | null> => {
    const front = await credentials.front();
    return front && decodeClaims(front.idToken);
  };
  async function refreshedInfo(): Promise<LatchkeyEvents['refreshed']> {
    const front = await credentials.front();
    return { claims: await claimsNow(), expiresAt: front && new Date(front.exp - (clock.now() - Date.now())) };
  }

  async function endSession(reason: SignedOutReason, theft: ServerError | null, tell: boolean): Promise<void> {
    const was = state;
    const theftNews = theft !== null && !(was.kind === 'ended' && was.theft);
    // The state moves before anything is awaited, so that a second ending meanwhile sees it ended.
    state = { kind: 'ended', theft: theftNews || (was.kind === 'ended' && was.theft) };
    scheduler.stop();
    await credentials.clear();
    if (theftNews) {
      events.emit('theftDetected', { sessionId: theft.sessionId ?? null, userId: theft.userId ?? null, reason: theft.reason ?? null });
      if (tell) channel.post({ type: 'theft', error: theft });
    } else if (tell && was.kind !== 'ended') {
      channel.post({ type: 'signedOut' });
    }
    if (was.kind !== 'ended') events.emit('signedOut', { reason });
  }

  /** A new token in the same session (not a sign-in) means its claims were updated. */
  const claimsUpdated = async (): Promise<void> => events.emit('claimsUpdated', { claims: await claimsNow() });

  async function onTabMessage(message: TabMessage): Promise<void> {
    if (message.type === 'refreshed') {
      credentials.adopt(message.front);
      if (Number.isFinite(message.skew)) clock.fromFrontToken(Date.now() + message.skew!);
      // The server's window, as the refreshing tab learnt it: this tab's next refresh must fit it too.
      if (message.grace! >= 0) refreshDeps.grace = message.grace!;
      state = ACTIVE;
      await plan();
      if (message.claims) await claimsUpdated();
      else events.emit('refreshed', await refreshedInfo());
    } else if (message.type === 'signedOut') {
      await endSession('otherTab', null, false);
    } else if (message.type === 'theft') {
      await endSession('theft', message.error, false);
    }
  }

  /**
   * The single flight: however many requests of this tab meet an expired token at once, one refresh
   * runs and they all wait for it. Outcome events fire once, here, not once per waiting request.
   * `refused` is how a refused refresh is reported: `'signOut'` when the refresh was the sign-out's
   * own (its access token had expired), since the session ended as the user asked.
   */
  function refreshFrom(marker: string | null, refused: SignedOutReason = 'refreshFailed'): Promise<RefreshOutcome> {
    if (state.kind === 'blocked') return Promise.resolve({ kind: 'blocked' });
    inflight ??= (async () => {
      try {
        const outcome = await refreshOnce(refreshDeps, marker);
        if (outcome.kind === 'refreshed') {
          state = ACTIVE;
          await plan();
          if (outcome.here) {
            channel.post({ type: 'refreshed', front: await credentials.marker(), skew: clock.skew(), grace: refreshDeps.grace });
            events.emit('refreshed', await refreshedInfo());
          }
        } else if (outcome.kind === 'signedOut') {
          const theft = outcome.error?.code === TOKEN_THEFT_DETECTED ? outcome.error : null;
          await endSession(theft ? 'theft' : refused, theft, true);
        } else {
          state = BLOCKED;
          scheduler.stop();
          events.emit('cookieBlocked', { url: refreshDeps.url });
        }
        return outcome;
      } finally {
        inflight = null;
      }
    })();
    return inflight;
  }

  /**
   * Learns from any API response: server time, the grace window, and tokens issued by an app route: a sign-in, or a
   * claim update (`session.update()`: new tokens in the session we already had).
   */
  async function observe(response: Response, before: string | null): Promise<void> {
    const knew = clock.known();
    clock.fromDateHeader(response.headers.get('date'));
    learnGrace(refreshDeps, response);
    const front = decodeFrontToken(response.headers.get(FRONT_HEADER));
    if (!front || !response.ok || front.raw === observed) {
      if (!knew && clock.known()) await plan(); // the first server time: plan what start-up could not
      return;
    }
    observed = front.raw;
    clock.fromFrontToken(front.now);
    // The session we had, before accept() stores the new tokens (in cookie mode the browser already
    // has: the marker taken before sending is the old front token there).
    const old = mode === 'header' ? await credentials.front() : decodeFrontToken(before);
    if (await credentials.accept(response)) {
      // A fresh, stored front token lifts a cookie block seen earlier.
      state = ACTIVE;
      await plan();
      if (before !== front.raw) {
        const sid = decodeClaims(front.idToken)?.sid;
        const update = sid !== undefined && old !== null && decodeClaims(old.idToken)?.sid === sid;
        // The other tabs plan their refresh from the new tokens too, and hear of the update.
        channel.post({ type: 'refreshed', front: front.raw, skew: clock.skew(), claims: update, grace: refreshDeps.grace });
        if (update) await claimsUpdated();
      }
    } else if (state.kind !== 'blocked') {
      state = BLOCKED;
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
    if (error?.code === TOKEN_THEFT_DETECTED) {
      await endSession('theft', error, true);
      return false;
    }
    return error?.code === TRY_REFRESH_TOKEN || (error?.code === UNAUTHORISED && marker !== null);
  }

  const hooks: TransportHooks = {
    isApi,
    mode,
    credentials,
    observe,
    refreshable,
    // Runs the refresh for a failed request; true when it should be retried (once). An unreachable
    // refresh rejects (REFRESH_UNAVAILABLE): the session stays, and the caller learns why.
    recover: async (marker) => (await refreshFrom(marker)).kind === 'refreshed',
    unauthorised: (url, code) => events.emit('unauthorised', { url, code }),
  };
  const latchkeyFetch = createFetch(baseFetch, hooks);
  // The sign-out's request: the same wrapper, but a refresh it needs and the server refuses ends the
  // session as the sign-out the user asked for, not as a failed refresh.
  const signOutFetch = createFetch(baseFetch, { ...hooks, recover: async (marker) => (await refreshFrom(marker, 'signOut')).kind === 'refreshed' });

  return {
    fetch: latchkeyFetch,
    axiosInterceptor: (instance) => createAxiosInterceptor(instance, hooks),
    async doesSessionExist() {
      const marker = await credentials.marker();
      if (marker === null && credentials.authoritative) return false;
      const front = await credentials.front();
      if (front && clock.now() < front.exp) return true;
      try {
        // Only the server's refusal is "no session": cookies the browser blocks still belong to one.
        return (await refreshFrom(marker)).kind !== 'signedOut';
      } catch {
        return true; // the server could not be asked; the session has not been refused
      }
    },
    getClaims: claimsNow,
    isDeviceBound: async () => !!(await credentials.front())?.bound,
    async getAccessTokenExpiry() {
      return (await refreshedInfo()).expiresAt;
    },
    async signOut() {
      let failure: unknown;
      try {
        // Through the wrapper: an expired access token is refreshed first, so that the server really
        // ends the session rather than the browser merely forgetting it.
        const response = await signOutFetch(authUrl(SIGNOUT_ROUTE), { method: 'POST' });
        if (response.status >= 500) failure = new Error(`status ${response.status}`);
      } catch (err) {
        failure = err;
      }
      // May throw (the app's token storage): the state is already `ended`, and nothing else was set.
      await endSession('signOut', null, true);
      if (failure) throw new LatchkeyClientError('SIGN_OUT_FAILED', 'signed out here only', { cause: failure });
    },
    async refresh() {
      const outcome = await refreshFrom(await credentials.marker());
      if (outcome.kind === 'blocked') throw new LatchkeyClientError('COOKIE_BLOCKED', 'cookies blocked');
      return outcome.kind === 'refreshed';
    },
    on: (event, listener) => events.on(event, listener),
    close() {
      scheduler.stop();
      channel.close();
      for (const type of TRIGGERS) globalThis.removeEventListener?.(type, check);
    },
  };
}

