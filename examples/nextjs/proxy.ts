/**
 * Route protection before rendering (Next.js 16's `proxy.ts`, formerly middleware). It runs the
 * verify-only edge entry: no database, no engine, only the app's JWKS and its revocation feed, both
 * fetched from this app at request time (never at build time).
 *
 * Revocation bound here: one feed poll interval (LATCHKEY_FEED_POLL, default 5 s). That is the
 * proxy's only; the pages and route handlers verify with the process's engine (lib/session.ts),
 * which refuses a revoked session at once, so a revoked session never renders a guarded page.
 */
import { NextResponse, type NextRequest } from 'next/server';
import { createEdgeVerifier, isLatchkeyError, type EdgeVerifier } from 'latchkey/edge';
import { config as settings } from '@/lib/config';

export const config = { matcher: ['/dashboard/:path*', '/devices/:path*'] };

let verifier: EdgeVerifier | undefined;

function edgeVerifier(): EdgeVerifier {
  const origin = settings.origin();
  return (verifier ??= createEdgeVerifier({
    jwksUrl: `${origin}/.well-known/jwks.json`,
    issuer: origin,
    accessTokenTtl: settings.accessTokenTtl(),
    revocations: { url: `${origin}/auth/revocations`, credential: settings.feedCredential(), pollInterval: settings.feedPollInterval() },
  }));
}

export async function proxy(request: NextRequest): Promise<NextResponse> {
  try {
    await edgeVerifier().verify(request.cookies.get('__Host-lk_access')?.value);
    return NextResponse.next();
  } catch (error) {
    // Misconfiguration (a TypeError naming the option): an error page, not a redirect loop.
    if (!isLatchkeyError(error)) throw error;
    // The JWKS or the feed unreadable: fail closed, and say so.
    if (error.code === 'STORE_UNAVAILABLE') return new NextResponse('Service unavailable', { status: 503 });
    // Expired, missing or refused: the browser refreshes (the refresh cookie is only sent to /auth/refresh).
    const to = new URL('/refresh', request.url);
    to.searchParams.set('next', request.nextUrl.pathname);
    return NextResponse.redirect(to);
  }
}
