/**
 * Access to `localStorage` that never throws (it is missing outside browsers, throws in some private
 * modes and when disabled). Only coordination markers ever go here: lock owners and message nonces,
 * never a token, because anything in localStorage is readable by any script on the origin.
 */
export function localStore(): Storage | null {
  try {
    const s = globalThis.localStorage;
    if (!s) return null;
    const probe = '__lk_probe';
    s.setItem(probe, '1');
    s.removeItem(probe);
    return s;
  } catch {
    return null;
  }
}

/** Tells apart lock owners and repeated messages: unique enough for that, and never a secret. */
export const randomId = (): string => Math.random().toString(36);

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
