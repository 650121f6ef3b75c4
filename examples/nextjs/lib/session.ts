/**
 * `await getSession()`: the session of the request being handled, for server components and route
 * handlers alike. It only reads (render must never refresh or set cookies; the browser refreshes,
 * see app/refresh). Verified by the process's one engine, so a session revoked anywhere in this
 * process (sign-out, "your devices") is refused here at once.
 */
import { headers } from 'next/headers';
import { requestFromHeaders } from 'latchkey/http';
import { getAuth } from './auth';
import { config } from './config';

export interface AppSession {
  userId: string;
  sessionId: string;
}

export async function getSession(): Promise<AppSession | null> {
  // headers() first: it marks the page dynamic, so `next build` stops here instead of prerendering
  // the page and starting the engine (which would open the database at build time).
  const incoming = await headers();
  const { http } = await getAuth();
  const result = await http.authenticate(requestFromHeaders(incoming, config.origin()));
  return result.ok ? { userId: result.session.userId, sessionId: result.session.sessionId } : null;
}
