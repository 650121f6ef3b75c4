/**
 * One refresh at a time across every tab of the origin.
 *
 * Why: refresh tokens rotate on every use, so two tabs refreshing with the same token race; the server
 * forgives the loser for a short grace window, but a lock makes the race not happen at all, and lets
 * the waiting tabs see that the winner already refreshed (so they send nothing).
 *
 * Preferred: the Web Locks API (`navigator.locks`), which the browser releases even when a tab crashes
 * or is closed mid-refresh. Fallback (older Safari, some webviews): a lease in localStorage with an
 * expiry, re-checked after a short settle delay so that of two tabs writing at once only the last
 * writer proceeds; a tab that dies holding it blocks the others for at most the lease. Where neither
 * exists (React Native, Node) there is one JS context, and the in-tab single flight suffices.
 */
import { localStore, randomId, sleep } from './storage.js';

export type Lock = <T>(fn: () => Promise<T>) => Promise<T>;

/** Longer than a refresh's two attempts (refresher.ts, 7.5 s each at most); after it a crashed holder's lock is taken over. */
const LEASE_MS = 20_000;
/** Long enough for a racing tab's write to become visible in this tab's storage. */
const SETTLE_MS = 30;
const POLL_MS = 50;

export function createTabLock(name: string): Lock {
  const locks = (globalThis.navigator as Navigator | undefined)?.locks;
  if (locks?.request) return (fn) => locks.request(name, fn) as Promise<Awaited<ReturnType<typeof fn>>>;
  const store = localStore();
  if (store) return (fn) => withStorageLease(store, name, fn);
  return (fn) => fn();
}

interface Lease {
  id: string;
  until: number;
}

function readLease(store: Storage, key: string): Lease | null {
  try {
    const lease = JSON.parse(store.getItem(key) ?? 'null') as Lease | null;
    return lease && typeof lease.id === 'string' && typeof lease.until === 'number' ? lease : null;
  } catch {
    return null;
  }
}

async function withStorageLease<T>(store: Storage, key: string, fn: () => Promise<T>): Promise<T> {
  const id = randomId();
  for (;;) {
    const held = readLease(store, key);
    // Both tabs share the machine clock, so a lease expiry in local time is comparable between them.
    if (!held || held.until < Date.now()) {
      store.setItem(key, JSON.stringify({ id, until: Date.now() + LEASE_MS }));
      await sleep(SETTLE_MS);
      if (readLease(store, key)?.id === id) break;
    }
    await sleep(POLL_MS);
  }
  try {
    return await fn();
  } finally {
    if (readLease(store, key)?.id === id) store.removeItem(key);
  }
}
