/**
 * Node.js requests (`IncomingMessage`, as Express, Fastify and node:http hand them over) into the
 * normalised shape. Only types come from node:http, so the module costs nothing elsewhere.
 */
import type { IncomingMessage } from 'node:http';
import { force, nodeHeaders, normaliseRequest, readNodeBody, type HttpRequest, type Lazy, type RawBody } from './request.js';

/**
 * What the framework resolved about a request. Protocol, host and ip may be functions, called only
 * when needed (CSRF origin checks, CORS, the sessions list): frameworks resolve them through their
 * proxy-trust logic, which would otherwise run on every authenticated GET for nothing.
 */
export interface NodeRequestInfo {
  /** `http`/`https` as the framework resolved it (honouring its proxy-trust setting). Default: from the socket. */
  protocol?: Lazy<string | undefined>;
  /** Host as the framework resolved it. Default: the Host header. */
  host?: Lazy<string | undefined>;
  /** Client address as the framework resolved it. Default: the socket's remote address. */
  ip?: Lazy<string | undefined>;
  /** The request target. Default `req.url`. Express passes `originalUrl` so mounting does not matter. */
  target?: string;
  /** A body the framework already read, if any; otherwise the stream is read on demand. */
  body?: () => RawBody;
}

export function fromNodeRequest(req: IncomingMessage, info: NodeRequestInfo = {}): HttpRequest {
  const { protocol, host, ip, body } = info;
  return normaliseRequest({
    method: req.method,
    target: info.target ?? req.url,
    // Each falls back to what the socket and headers say when the framework resolved nothing.
    protocol: () => force(protocol) ?? socketProtocol(req),
    host: () => force(host) ?? req.headers.host ?? (req.headers[':authority'] as string | undefined),
    headers: nodeHeaders(req.headers),
    ip: () => force(ip) ?? req.socket?.remoteAddress,
    body: (limit) => {
      const parsed = body?.();
      if (parsed !== undefined) return Promise.resolve(parsed);
      return readNodeBody(req, limit);
    },
  });
}

function socketProtocol(req: IncomingMessage): string {
  return (req.socket as { encrypted?: boolean } | null)?.encrypted === true ? 'https' : 'http';
}
