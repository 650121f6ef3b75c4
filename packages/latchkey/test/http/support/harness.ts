/**
 * The adapter harness the shared HTTP suite runs against. Every adapter builds the same small app:
 * the auth routes, an app-owned sign-in route, and a few protected routes.
 *
 *   POST /auth/login?user=<id>[&role=<r>]  sign-in helper (CSRF-checked in cookie mode)
 *   POST /app/logout                       sign-out helper from an app route
 *   GET  /api/me, POST /api/me             requireSession()
 *   GET  /api/admin                        requireSession({ claims: { role: 'admin' } })
 *   GET  /api/fresh                        requireSession({ maxAuthAge: 60 })
 *   GET  /api/checked                      requireSession({ checkStore: true })
 *   POST /api/promote                      session.update({ accessClaims: { role: 'admin' } })
 *   GET  /api/data                         session.data()
 *   POST /api/promote-twice                two updates in one request (role editor, then admin)
 *   GET  /api/optional                     the optional-session middleware (or getSession())
 *   GET  /api/optional-pre                 the other optional form (getSession() or the middleware)
 */
import type { Latchkey } from 'latchkey';
import type { LatchkeyHttpOptions } from 'latchkey/http';

export interface Served {
  /** Sends a request to `path` on the app (in process or over a socket). */
  fetch(path: string, init: { method: string; headers: Record<string, string>; body?: string }): Promise<Response>;
  /** The app's own origin as requests see it. */
  origin: string;
  close(): Promise<void>;
}

export interface AdapterHarness {
  name: string;
  start(engine: Latchkey, options: LatchkeyHttpOptions): Promise<Served>;
}

/** Sends a web Request to a listening node server at `origin` with fetch. */
export function socketFetch(origin: string): Served['fetch'] {
  return (path, init) => fetch(`${origin}${path}`, { ...init, redirect: 'manual' });
}
