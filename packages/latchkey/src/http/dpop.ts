/**
 * DPoP (RFC 9449) on the wire, for header mode: the `Authorization: DPoP <token>` scheme, the `DPoP`
 * proof header, and the URL a proof's `htu` must name. The checks themselves are the engine's.
 */
import type { DpopProofInput } from '../dpop/proof.js';
import type { HttpRequest } from './request.js';

/** RFC 9449 §7.1: the DPoP scheme, one token68 value (the same characters as RFC 6750's). */
const DPOP_SCHEME = /^DPoP +([A-Za-z0-9\-._~+/]+=*) *$/i;

/** The access token of an `Authorization: DPoP` header; undefined when the header uses another scheme. */
export function dpopAccessToken(authorization: string): string | undefined {
  return DPOP_SCHEME.exec(authorization)?.[1];
}

/** True when the request names the DPoP scheme, well formed or not. */
export function usesDpopScheme(authorization: string | null): boolean {
  return authorization !== null && /^\s*dpop(\s|$)/i.test(authorization);
}

/**
 * The request's proof with the method and URL it must match, or undefined without a `DPoP` header.
 * `origin` is the public origin the client addressed (behind a proxy, the framework's view of it, or
 * the `publicOrigin` option); query and fragment never take part (§4.3 step 9). Without a usable
 * origin the URL cannot match any proof, so the request fails closed.
 */
export function dpopFromRequest(request: HttpRequest, origin: string | undefined): DpopProofInput | undefined {
  const proof = request.headers.get('dpop');
  if (proof === null) return undefined;
  return { proof, method: request.method, url: `${origin ?? 'http://origin.invalid'}${request.path}` };
}
