/**
 * Web-standard requests (`Request`) into the normalised shape: for Hono and any fetch runtime
 * (Next.js route handlers and middleware, Bun, Deno, Cloudflare Workers).
 */
import { normaliseRequest, readWebBody, type HttpRequest } from './request.js';

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
