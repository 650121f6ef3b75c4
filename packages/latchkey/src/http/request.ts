/**
 * The normalised request every adapter hands to the core: method, path, query, headers, the
 * request's own origin and a body reader. Nothing framework-specific gets past this shape.
 */
import { invalidRequest } from './errors.js';

/** Read access to request headers, by case-insensitive name. */
export interface HeaderReader {
  get(name: string): string | null;
}

/** A body as an adapter found it: raw text, an object a framework already parsed, or none. */
export type RawBody = string | Uint8Array | Record<string, unknown> | undefined;

export interface HttpRequest {
  /** Upper-case method. */
  readonly method: string;
  /** Path without the query, percent-encoded as received. Empty when the target was unparseable. */
  readonly path: string;
  readonly query: URLSearchParams;
  readonly headers: HeaderReader;
  /**
   * This server's own origin as the framework sees it (`https://app.example.com`), the default
   * allowed Origin for CSRF checks. Undefined when the Host header was unusable: then only
   * `allowedOrigins` match, so a broken Host header fails closed.
   */
  readonly ownOrigin: string | undefined;
  /** Client address for the sessions list, as the framework resolved it (proxy trust is the framework's setting). */
  readonly ip: string | undefined;
  /** Reads the body (at most `limit` bytes). Called at most once, only by routes that take one. */
  readonly body: (limit: number) => Promise<RawBody>;
}

export interface RawRequestParts {
  method: string | undefined;
  /** The request target: origin-form `/path?query` (or absolute-form from a proxy). */
  target: string | undefined;
  /** `http` or `https`. */
  protocol: string | undefined;
  host: string | null | undefined;
  headers: HeaderReader;
  ip?: string | undefined;
  body: (limit: number) => Promise<RawBody>;
}

function parseTarget(target: string): { path: string; query: URLSearchParams } {
  try {
    // Prefixing a fixed origin keeps `//evil.example/x` a path instead of a host (protocol-relative form).
    const url = target.startsWith('/') ? new URL(`http://target.invalid${target}`) : new URL(target);
    return { path: url.pathname, query: url.searchParams };
  } catch {
    // The empty path: no route matches it.
    return { path: '', query: new URLSearchParams() };
  }
}

function parseOrigin(protocol: string | undefined, host: string | null | undefined): string | undefined {
  if (!host || (protocol !== 'http' && protocol !== 'https')) return undefined;
  // A Host header with userinfo, a path or anything else beyond host[:port] is not an origin.
  if (/[/?#@\\\s]/.test(host)) return undefined;
  try {
    const url = new URL(`${protocol}://${host}`);
    // `origin` drops a default port, as browsers do in the Origin header.
    return url.pathname === '/' && url.search === '' && url.hash === '' ? url.origin : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Builds the normalised request. Never throws: an unparseable target yields an empty path, matching
 * no route. Path, query and own origin are parsed on first use only: verifying a session on a GET
 * needs none of them, and that is the hot path.
 */
export function normaliseRequest(parts: RawRequestParts): HttpRequest {
  let target: { path: string; query: URLSearchParams } | undefined;
  let origin: { value: string | undefined } | undefined;
  return {
    method: (parts.method ?? '').toUpperCase(),
    get path() {
      return (target ??= parseTarget(parts.target ?? '')).path;
    },
    get query() {
      return (target ??= parseTarget(parts.target ?? '')).query;
    },
    headers: parts.headers,
    get ownOrigin() {
      return (origin ??= { value: parseOrigin(parts.protocol, parts.host) }).value;
    },
    ip: parts.ip,
    body: parts.body,
  };
}

/** Headers reader over a Node.js `IncomingHttpHeaders` object (already lower-cased by Node). */
export function nodeHeaders(headers: Record<string, string | string[] | undefined>): HeaderReader {
  return {
    get(name: string): string | null {
      const value = headers[name.toLowerCase()];
      if (value === undefined) return null;
      return Array.isArray(value) ? value.join(', ') : value;
    },
  };
}

/** Decodes UTF-8 strictly: malformed bytes are a bad request, not replacement characters. */
export function decodeUtf8(bytes: Uint8Array): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw invalidRequest('request body is not valid UTF-8');
  }
}

function tooLarge(): Error {
  return invalidRequest('request body too large', 413);
}

/** Reads a web `Request` body, refusing more than `limit` bytes without buffering them. */
export async function readWebBody(request: Request, limit: number): Promise<string | undefined> {
  const declared = Number(request.headers.get('content-length') ?? '0');
  if (declared > limit) throw tooLarge();
  if (!request.body) return undefined;
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > limit) {
      await reader.cancel().catch(() => undefined);
      throw tooLarge();
    }
    chunks.push(value);
  }
  const all = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    all.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return decodeUtf8(all);
}

/** The parts of a Node.js readable request body reader needs. */
export interface NodeReadable {
  readonly headers: Record<string, string | string[] | undefined>;
  readonly readableEnded: boolean;
  on(event: 'data', listener: (chunk: Uint8Array) => void): unknown;
  on(event: 'end' | 'error' | 'close', listener: (error?: unknown) => void): unknown;
  removeAllListeners(event: 'data'): unknown;
  resume(): unknown;
}

/**
 * Reads a Node.js request body, refusing more than `limit` bytes. On overflow the rest is drained
 * unread (not buffered) so that the refusal can still be sent on the connection.
 */
export function readNodeBody(stream: NodeReadable, limit: number): Promise<string | undefined> {
  const declared = Number(stream.headers['content-length'] ?? '0');
  if (declared > limit) {
    stream.resume();
    return Promise.reject(tooLarge());
  }
  if (stream.readableEnded) return Promise.resolve(undefined);
  return new Promise((resolve, reject) => {
    const chunks: Uint8Array[] = [];
    let total = 0;
    let failed = false;
    stream.on('data', (chunk) => {
      if (failed) return;
      total += chunk.byteLength;
      if (total > limit) {
        failed = true;
        stream.removeAllListeners('data');
        stream.resume();
        reject(tooLarge());
        return;
      }
      chunks.push(chunk);
    });
    let ended = false;
    stream.on('end', () => {
      ended = true;
      if (failed) return;
      if (total === 0) return resolve(undefined);
      const all = new Uint8Array(total);
      let offset = 0;
      for (const chunk of chunks) {
        all.set(chunk, offset);
        offset += chunk.byteLength;
      }
      try {
        resolve(decodeUtf8(all));
      } catch (error) {
        reject(error);
      }
    });
    stream.on('error', (error) => {
      if (!failed) reject(invalidRequest('request body could not be read'));
      failed = true;
      void error;
    });
    // A client that hangs up mid-body: settle, so nothing waits forever on a request that is gone.
    stream.on('close', () => {
      if (!ended && !failed) {
        failed = true;
        reject(invalidRequest('request body ended early'));
      }
    });
  });
}
