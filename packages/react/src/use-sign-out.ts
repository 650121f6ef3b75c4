/** `useSignOut()`: ends the session on the server and in every tab (the SDK's `signOut`). */
import { useCallback } from 'react';
import { useLatchkeyContext } from './provider.js';

/**
 * Returns `signOut()`. It rejects with `SIGN_OUT_FAILED` when the server could not be told (the
 * session is still ended in this browser), and with a TypeError before the client exists (before
 * hydration, when no user can have clicked yet).
 */
export function useSignOut(): () => Promise<void> {
  const { client } = useLatchkeyContext();
  return useCallback(() => (client ? client.signOut() : Promise.reject(new TypeError('latchkey: the client is not ready'))), [client]);
}
