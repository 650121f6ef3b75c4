/**
 * Web-standard requests (`Request`) into the normalised shape: for Hono and any fetch runtime
 * (Next.js route handlers and middleware, Bun, Deno, Cloudflare Workers).
 */
import { normaliseRequest, readWebBody, type HeaderReader, type HttpRequest, type Lazy } from './request.js';

export interface WebRequestInfo {
  /** Client address, if the runtime knows it; a function is called only when the address is needed. */
  ip?: Lazy<string | undefined>;
}

/**
 * Builds the normalised request without parsing the URL: the origin-form target is cut from
 * `request.url` (always a serialised absolute URL, whose authority cannot contain `/`), and protocol
 * and host are parsed from it only when something needs the request's own origin (CSRF origin
 * checks, CORS). A GET through a session guard parses nothing.
 */
export function fromWebRequest(request: Request, info?: WebRequestInfo): HttpRequest {
  const { url } = request;
  let parsed: URL | null | undefined;
  const parse = (): URL | null => {
    if (parsed === undefined) {
      try {
        parsed = new URL(url);
      } catch {
        parsed = null;
      }
    }
    return parsed;
  };
  return normaliseRequest({
    method: request.method,
    target: originForm(url),
    protocol: () => parse()?.protocol.replace(/:$/, ''),
    host: () => parse()?.host,
    headers: request.headers,
    ip: info?.ip,
    body: (limit) => readWebBody(request, limit),
  });
}

/** `/path?query` of a serialised absolute URL; the URL itself when it has no `scheme://` authority. */
function originForm(url: string): string {
  const authority = url.indexOf('://');
  if (authority === -1) return url;
  const path = url.indexOf('/', authority + 3);
  return path === -1 ? '/' : url.slice(path);
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
