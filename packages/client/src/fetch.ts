/**
 * The `fetch` wrapper: credentials and the CSRF header for API requests, then on a latchkey 401 one
 * refresh (shared with every other request and tab) and one retry, whose answer is final.
 */
import { CSRF_HEADER, isStateChanging, readServerError } from './protocol.js';
import type { TransportHooks } from './transport.js';

export function createFetch(baseFetch: typeof fetch, hooks: TransportHooks): typeof fetch {
  const { credentials } = hooks;

  async function send(request: Request, marker: string | null): Promise<Response> {
    const headers = new Headers(request.headers);
    if (isStateChanging(request.method)) headers.set(CSRF_HEADER, credentials.csrf());
    await credentials.authorize(headers, marker, request.method, request.url);
    const before = await credentials.marker();
    // Cookie mode: `include`, so the cookies go along even to an API on another origin of the site.
    const response = await baseFetch(new Request(request, { headers, credentials: hooks.mode === 'cookie' ? 'include' : request.credentials }));
    await hooks.observe(response, before);
    return response;
  }

  return async (input, init) => {
    const request = new Request(input, init);
    if (!hooks.isApi(request.url)) return baseFetch(request);
    // Taken before sending: if it has moved by the time we hold the refresh lock, someone refreshed.
    const marker = await credentials.marker();
    // Send a clone, keeping an unread copy of the body for the one retry.
    let first = await send(request.clone(), marker);
    // DPoP (RFC 9449 §8): refused for want of a nonce we did not have yet: one resend, with it.
    if (first.status === 401 && credentials.nonce(first.headers.get('dpop-nonce'))) first = await send(request.clone(), marker);
    if (first.status !== 401) return first;
    const error = await readServerError(first);
    // recover() rejects with REFRESH_UNAVAILABLE when the refresh got no verdict (network, 5xx): that
    // rejection is this call's result, so the app can tell "try again later" from "signed out".
    if (!(await hooks.refreshable(error, marker)) || !(await hooks.recover(marker))) {
      hooks.unauthorised(request.url, error?.code ?? null);
      return first;
    }
    // The 401's body is not needed any more; releasing it frees the connection (Node keeps it otherwise).
    void first.body?.cancel().catch(() => {});
    // With the marker from before the refresh, so that a bearer token the app copied in itself is
    // recognised as the stale one and replaced.
    const retry = await send(request, marker);
    if (retry.status === 401) {
      // Final: a retried request that is refused again is never refreshed again.
      hooks.unauthorised(request.url, (await readServerError(retry))?.code ?? null);
    }
    return retry;
  };
}
