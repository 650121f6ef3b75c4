/**
 * Web-standard requests (`Request`) into the normalised shape: for Hono and any fetch runtime
 * (Next.js route handlers and middleware, Bun, Deno, Cloudflare Workers).
 */
import { normaliseRequest, readWebBody, type HeaderReader, type HttpRequest } from './request.js';

export interface WebRequestInfo {
  /** Client address, if the runtime knows it. */
  ip?: string;
}

export function fromWebRequest(request: Request, info?: WebRequestInfo): HttpRequest {
  let url: URL | undefined;
  try {
    url = new URL(request.url);
  } catch {
    url = undefined;
  }
  return normaliseRequest({
    method: request.method,
    target: url ? `${url.pathname}${url.search}` : undefined,
    protocol: url?.protocol.replace(/:$/, ''),
    host: url?.host,
    headers: request.headers,
    ip: info?.ip,
    body: (limit) => readWebBody(request, limit),
  });
}

/**
 * A read-only request from headers alone, for places that have headers but no `Request`: Next.js
 * Server Components (`await headers()` from `next/headers`). Good for `getSession` (reading); it
 * has no body and a GET method, so nothing state-changing can be done with it.
 */
export function requestFromHeaders(headers: HeaderReader, url: string): HttpRequest {
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    parsed = undefined;
  }
  return normaliseRequest({
    method: 'GET',
    target: parsed ? `${parsed.pathname}${parsed.search}` : undefined,
    protocol: parsed?.protocol.replace(/:$/, ''),
    host: parsed?.host,
    headers,
    body: async () => undefined,
  });
}
