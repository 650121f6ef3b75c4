/**
 * `useSession()` and the components that render by it. Built on `useSyncExternalStore` with a server
 * snapshot (`loading`), so server and first client render agree and nothing reads `window` in render.
 */
import { useCallback, useSyncExternalStore, type ReactNode } from 'react';
import { LOADING, type SessionState } from './session-store.js';
import { useLatchkeyContext } from './provider.js';

const noSubscription = (): (() => void) => () => {};
const loading = (): SessionState => LOADING;

/**
 * The current session: `{ status, userId, claims, expiresAt }`. Re-renders on sign-in, refresh,
 * claim updates and sign-out, in this tab and in every other tab of the same browser.
 */
export function useSession(): SessionState {
  const { store } = useLatchkeyContext();
  return useSyncExternalStore(store ? store.subscribe : noSubscription, store ? store.getSnapshot : loading, loading);
}

/**
 * Returns a function that makes `useSession()` ask the client again. Call it after signing in through
 * `client.fetch` in this tab: the SDK tells the other tabs of a sign-in, not the tab that made it.
 */
export function useReloadSession(): () => Promise<void> {
  const { store } = useLatchkeyContext();
  return useCallback(() => (store ? store.reload() : Promise.resolve()), [store]);
}

/** Props of `<SignedIn>` and `<SignedOut>`. */
export interface SessionGateProps {
  /** Rendered only in the gate's state. */
  children?: ReactNode;
}

/** Renders its children only while signed in (not while loading). */
export function SignedIn({ children }: SessionGateProps): ReactNode {
  return useSession().status === 'signedIn' ? children : null;
}

/** Renders its children only once the session is known to be absent (not while loading). */
export function SignedOut({ children }: SessionGateProps): ReactNode {
  return useSession().status === 'signedOut' ? children : null;
}
