/**
 * Tells the other tabs of the origin what happened here: a refresh or claim update (so they reschedule
 * and do not refresh again), a sign-out, a detected theft (so every tab drops the session at once).
 *
 * Preferred: BroadcastChannel. Fallback: a write-then-remove of a localStorage key, which fires a
 * `storage` event in every other tab. No access or refresh token is ever in a message. The front
 * token (the UI's readable ID token) rides along over BroadcastChannel only, for an API on another
 * origin whose cookie the page cannot read; it never goes into localStorage, where it would persist.
 */
import type { ServerError } from '../protocol.js';
import { localStore, randomId } from './storage.js';

export type TabMessage =
  /**
   * `front`: only over BroadcastChannel (memory), for tabs that cannot read the API's cookie.
   * `skew`: the sender's precise server-clock offset (clock.ts), for tabs that only have a `Date` header's.
   * `claims`: the new tokens came from a claim update in the same session, not a refresh or sign-in.
   * `grace`: the server's refresh grace window (seconds) as the last answer announced it (refresh, sign-in, update).
   */
  | { type: 'refreshed'; front?: string | null; skew?: number | undefined; claims?: boolean; grace?: number }
  | { type: 'signedOut' }
  /** The server's theft error, as the tab that received it read it (ids and reason, no token). */
  | { type: 'theft'; error: ServerError };

export interface TabChannel {
  post(message: TabMessage): void;
  close(): void;
}

export function createTabChannel(name: string, onMessage: (message: TabMessage) => void): TabChannel {
  if (typeof BroadcastChannel === 'function') {
    const channel = new BroadcastChannel(name);
    channel.onmessage = (event: MessageEvent) => onMessage(event.data as TabMessage);
    return { post: (m) => channel.postMessage(m), close: () => channel.close() };
  }
  const store = localStore();
  if (!store || typeof addEventListener !== 'function') return { post() {}, close() {} };
  const listener = (event: StorageEvent): void => {
    if (event.key !== name || !event.newValue) return;
    try {
      onMessage((JSON.parse(event.newValue) as { m: TabMessage }).m);
    } catch {
      // Not ours or truncated: ignore.
    }
  };
  addEventListener('storage', listener);
  return {
    post(m) {
      // The nonce makes repeated identical messages distinct, so each one fires an event.
      store.setItem(name, JSON.stringify({ m: { ...m, front: undefined }, n: randomId() }));
      store.removeItem(name);
    },
    close: () => removeEventListener('storage', listener),
  };
}
