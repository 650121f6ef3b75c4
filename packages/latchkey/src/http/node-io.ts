/**
 * Node.js requests (`IncomingMessage`, as Express, Fastify and node:http hand them over) into the
 * normalised shape. Only types come from node:http, so the module costs nothing elsewhere.
 */
import type { IncomingMessage } from 'node:http';
import { nodeHeaders, normaliseRequest, readNodeBody, type HttpRequest, type RawBody } from './request.js';

export interface NodeRequestInfo {
  /** `http`/`https` as the framework resolved it (honouring its proxy-trust setting). Default: from the socket. */
  protocol?: string;
  /** Host as the framework resolved it. Default: the Host header. */
  host?: string;
  /** Client address as the framework resolved it. Default: the socket's remote address. */
  ip?: string;
  /** The request target. Default `req.url`. Express passes `originalUrl` so mounting does not matter. */
  target?: string;
  /** A body the framework already read, if any; otherwise the stream is read on demand. */
  body?: () => RawBody;
}

export function fromNodeRequest(req: IncomingMessage, info: NodeRequestInfo = {}): HttpRequest {
  const encrypted = (req.socket as { encrypted?: boolean } | null)?.encrypted === true;
  const protocol = info.protocol ?? (encrypted ? 'https' : 'http');
  return normaliseRequest({
    method: req.method,
    target: info.target ?? req.url,
    protocol,
    host: info.host ?? req.headers.host ?? (req.headers[':authority'] as string | undefined),
    headers: nodeHeaders(req.headers),
    ip: info.ip ?? req.socket?.remoteAddress,
    body: (limit) => {
      const parsed = info.body?.();
      if (parsed !== undefined) return Promise.resolve(parsed);
      return readNodeBody(req, limit);
    },
  });
}
