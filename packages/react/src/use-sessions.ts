/**
 * `useSessions()`: the signed-in user's sessions ("your devices") through the HTTP layer's routes,
 * `GET <authBase>/sessions` and `DELETE <authBase>/sessions/:id`, with revoke.
 */
import { useCallback, useEffect, useState } from 'react';
import { useLatchkeyContext } from './provider.js';
import { useSession } from './use-session.js';

/** One session as the server lists it (`GET <authBase>/sessions`). Times are ISO 8601 strings. */
export interface DeviceSession {
  readonly id: string;
  readonly createdAt: string;
  readonly lastActiveAt: string;
  readonly expiresAt: string;
  readonly authTime: string;
  readonly device: { readonly userAgent?: string; readonly ip?: string };
  /** The session of this browser. */
  readonly current?: boolean;
}

/** A sessions request the server refused or could not answer. `status` is 0 when no answer came. */
export class SessionsRequestError extends Error {
  /** Stable code, to tell this error from others without `instanceof`. */
  readonly code = 'SESSIONS_REQUEST_FAILED';
  /** The HTTP status, 0 when no answer came (network). */
  readonly status: number;
  constructor(status: number) {
    super(`latchkey: the sessions request failed (status ${status})`);
    this.status = status;
    this.name = 'SessionsRequestError';
  }
}

export interface UseSessionsOptions {
  /**
   * The sessions route. Default `/auth/sessions`: the HTTP layer's default base path, resolved like
   * every `client.fetch` URL. Set it when the server's `basePath` or origin differs.
   */
  url?: string;
}

/** What `useSessions()` returns. */
export interface SessionsState {
  /** `loading` until the first answer; `error` after a failed load (see `error`). */
  readonly status: 'loading' | 'ready' | 'error';
  /** Newest first, as the server orders them; empty unless `ready`. */
  readonly sessions: readonly DeviceSession[];
  readonly error: SessionsRequestError | null;
  /** Loads the list again. */
  reload(): Promise<void>;
  /**
   * Ends one session and reloads the list. This browser's own session is ended with the SDK's
   * sign-out, so every tab learns it. Rejects with `SessionsRequestError` when the server refused.
   */
  revoke(id: string): Promise<void>;
}

/** The user's sessions ("your devices"), loaded while signed in, with `revoke`. */
export function useSessions(options: UseSessionsOptions = {}): SessionsState {
  const url = options.url ?? '/auth/sessions';
  const { client } = useLatchkeyContext();
  const { status: session } = useSession();
  const [state, setState] = useState<Pick<SessionsState, 'status' | 'sessions' | 'error'>>({
    status: 'loading',
    sessions: [],
    error: null,
  });

  const reload = useCallback(async (): Promise<void> => {
    if (!client) return;
    try {
      const response = await client.fetch(url);
      if (!response.ok) throw new SessionsRequestError(response.status);
      const body = (await response.json()) as { sessions: DeviceSession[] };
      setState({ status: 'ready', sessions: body.sessions, error: null });
    } catch (error) {
      setState({ status: 'error', sessions: [], error: error instanceof SessionsRequestError ? error : new SessionsRequestError(0) });
    }
  }, [client, url]);

  useEffect(() => {
    if (session === 'signedIn') void reload();
    else if (session === 'signedOut') setState({ status: 'ready', sessions: [], error: null });
  }, [session, reload]);

  const revoke = useCallback(
    async (id: string): Promise<void> => {
      if (!client) throw new TypeError('latchkey: the client is not ready');
      if (state.sessions.find((s) => s.id === id)?.current) return client.signOut();
      const response = await client.fetch(`${url}/${encodeURIComponent(id)}`, { method: 'DELETE' });
      // 404: already gone (revoked elsewhere, expired); the list is reloaded either way.
      if (!response.ok && response.status !== 404) throw new SessionsRequestError(response.status);
      await reload();
    },
    [client, url, state.sessions, reload],
  );

  return { ...state, reload, revoke };
}
