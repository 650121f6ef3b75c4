/**
 * The session as React reads it: an external store over one `LatchkeyClient`, for
 * `useSyncExternalStore`. It asks the client once when the first component subscribes (never during
 * render, so never on the server) and then follows the client's events, which reach every tab: a
 * refresh or sign-in elsewhere (`refreshed`), a claim update (`claimsUpdated`), a sign-out anywhere
 * (`signedOut`). Each change replaces the snapshot object, so React re-renders exactly on change.
 *
 * `isDeviceBound` comes from the front token (`client.isDeviceBound()`, async), which no event
 * carries: it is asked with the claims, and again after each `refreshed` or `claimsUpdated` (a
 * sign-in in another tab may be a new session, bound or not). The event's snapshot keeps the last
 * known answer until the new one arrives, so an event still re-renders synchronously.
 */
import type { Claims, LatchkeyClient } from '@latchkey/client';

/** `loading` (server render, before the client answered), `signedIn` or `signedOut`. */
export type SessionStatus = 'loading' | 'signedIn' | 'signedOut';

/** What `useSession()` returns. */
export interface SessionState {
  /** `loading` on the server and until the client has answered; then `signedIn` or `signedOut`. */
  readonly status: SessionStatus;
  /** The ID token's `sub`; `null` unless signed in. */
  readonly userId: string | null;
  /** The ID token's claims, for display only (unverified in the browser: the server decides access). */
  readonly claims: Claims | null;
  /** When the current access token expires, on this device's clock; the SDK refreshes before it. */
  readonly expiresAt: Date | null;
  /**
   * True when the server bound this session to a key on this device (DPoP, DBSC): a copy of its
   * cookies or tokens is useless elsewhere. `false` unless signed in. Display only, like the claims:
   * the server enforces the binding on every request.
   */
  readonly isDeviceBound: boolean;
}

export interface SessionStore {
  subscribe(listener: () => void): () => void;
  getSnapshot(): SessionState;
  /** Asks the client again: after a sign-in in this tab (the SDK announces those to the other tabs only). */
  reload(): Promise<void>;
}

/** Shared by every server render and every first client render, so hydration always matches. */
export const LOADING: SessionState = Object.freeze({
  status: 'loading',
  userId: null,
  claims: null,
  expiresAt: null,
  isDeviceBound: false,
});
const SIGNED_OUT: SessionState = Object.freeze({ status: 'signedOut', userId: null, claims: null, expiresAt: null, isDeviceBound: false });

function signedIn(claims: Claims | null, expiresAt: Date | null, isDeviceBound: boolean): SessionState {
  const sub = claims?.sub;
  return { status: 'signedIn', userId: typeof sub === 'string' ? sub : null, claims, expiresAt, isDeviceBound };
}

export function createSessionStore(client: LatchkeyClient): SessionStore {
  let snapshot = LOADING;
  const listeners = new Set<() => void>();
  let detach: (() => void) | undefined;
  // Every change takes a ticket; a reload whose answer arrives after a newer change (an event that came
  // while it awaited the client) is dropped, so an old answer never overwrites a newer one.
  let ticket = 0;

  const set = (next: SessionState): void => {
    ticket++;
    snapshot = next;
    for (const listener of [...listeners]) listener();
  };

  async function reload(): Promise<void> {
    const mine = ++ticket;
    let next: SessionState;
    try {
      next = (await client.doesSessionExist())
        ? signedIn(await client.getClaims(), await client.getAccessTokenExpiry(), await client.isDeviceBound())
        : SIGNED_OUT;
    } catch {
      // Only the app's own token storage can throw here (the SDK answers `true` when the server is
      // unreachable): without readable tokens there is no session this page can use.
      next = SIGNED_OUT;
    }
    if (mine === ticket) set(next);
  }

  /** After an event: the binding of the session it announced, unless a newer change came first. */
  const askBound = (): void => {
    const mine = ticket;
    client.isDeviceBound().then(
      (bound) => {
        if (mine === ticket && snapshot.status === 'signedIn' && snapshot.isDeviceBound !== bound)
          set({ ...snapshot, isDeviceBound: bound });
      },
      // As in reload: only the app's token storage can fail here; the last answer stands.
      () => {},
    );
  };

  return {
    subscribe(listener) {
      listeners.add(listener);
      if (!detach) {
        const offs = [
          client.on('refreshed', (e) => {
            set(signedIn(e.claims, e.expiresAt, snapshot.isDeviceBound));
            askBound();
          }),
          client.on('claimsUpdated', (e) => {
            set(signedIn(e.claims, snapshot.expiresAt, snapshot.isDeviceBound));
            askBound();
          }),
          client.on('signedOut', () => set(SIGNED_OUT)),
        ];
        detach = () => offs.forEach((off) => off());
        if (snapshot === LOADING) void reload();
      }
      return () => {
        listeners.delete(listener);
        if (listeners.size === 0) {
          detach?.();
          detach = undefined;
        }
      };
    },
    getSnapshot: () => snapshot,
    reload,
  };
}
