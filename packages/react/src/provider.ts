/**
 * `<LatchkeyProvider>`: puts one `LatchkeyClient` and its session store in context for the hooks.
 *
 * SSR: the client can be given as a factory, which the provider calls after mount, in the browser
 * only (a client needs `location`, cookies and timers, none of which a server render has). Until then,
 * and on the server, every hook reports `loading`.
 */
import { createContext, createElement, useContext, useEffect, useMemo, useState, type ReactNode } from 'react';
import type { LatchkeyClient } from '@latchkey/client';
import { createSessionStore, type SessionStore } from './session-store.js';

export interface LatchkeyProviderProps {
  /**
   * The SDK client, or a function that makes it. A function is called once, in the browser, after the
   * provider mounts (SSR-safe), and the client it made is closed when the provider unmounts. An
   * instance is used as given and left open: its owner closes it.
   */
  client: LatchkeyClient | (() => LatchkeyClient);
  /** The app, which may use the latchkey hooks. */
  children?: ReactNode;
}

/** @internal What the hooks read. `null` members until the client exists (server render, first paint). */
export interface LatchkeyContextValue {
  client: LatchkeyClient | null;
  store: SessionStore | null;
}

const LatchkeyContext = createContext<LatchkeyContextValue | null>(null);

/** Provides the client to every latchkey hook below it. One per app, at the root (a Next.js layout's client component). */
export function LatchkeyProvider({ client, children }: LatchkeyProviderProps): ReactNode {
  const [made, setMade] = useState<LatchkeyClient | null>(null);
  useEffect(() => {
    if (typeof client !== 'function') return;
    const instance = client();
    setMade(instance);
    return () => {
      setMade(null);
      instance.close();
    };
  }, [client]);
  const instance = typeof client === 'function' ? made : client;
  const value = useMemo(() => ({ client: instance, store: instance && createSessionStore(instance) }), [instance]);
  return createElement(LatchkeyContext.Provider, { value }, children);
}

/** @internal */
export function useLatchkeyContext(): LatchkeyContextValue {
  const value = useContext(LatchkeyContext);
  if (!value) throw new TypeError('latchkey: wrap the tree in <LatchkeyProvider client={...}>');
  return value;
}

/** The provider's client; `null` on the server and before a factory-made client exists. */
export function useLatchkeyClient(): LatchkeyClient | null {
  return useLatchkeyContext().client;
}
