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
  /**
   * The request target exactly as received (`/path?query`, or absolute-form from a proxy), when the
   * adapter had one. Lets the core rule out the auth routes with a string comparison before parsing
   * anything (see `LatchkeyHttp.mayHandle`). Undefined: the core decides from {@link path}.
   */
  readonly target?: string | undefined;
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

/**
 * A value or a function computing it on first use. Frameworks resolve protocol, host and client
 * address through getters that run their proxy-trust logic (Express: `proxy-addr` on every read);
 * only CSRF origin checks, CORS and the sessions list need them, so adapters may pass them unevaluated.
 */
export type Lazy<T> = T | (() => T);

export interface RawRequestParts {
  method: string | undefined;
  /** The request target: origin-form `/path?query` (or absolute-form from a proxy). */
  target: string | undefined;
  /** `http` or `https`. */
  protocol: Lazy<string | undefined>;
  host: Lazy<string | null | undefined>;
  headers: HeaderReader;
  ip?: Lazy<string | undefined>;
  body: (limit: number) => Promise<RawBody>;
}

interface ParsedTarget {
  path: string;
  query: URLSearchParams;
}

function parseTarget(target: string): ParsedTarget {
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

/** The value of a {@link Lazy}. */
export function force<T>(value: Lazy<T>): T {
  return typeof value === 'function' ? (value as () => T)() : value;
}

/**
 * The normalised request as a class, so that its lazy members are getters shared on the prototype
 * rather than closures allocated per request: building one is a handful of field stores, which
 * matters because every authenticated request builds one. Path, query, own origin and client address
 * are computed on first use only: verifying a session on a GET needs none of them, and that is the
 * hot path.
 */
class NormalisedRequest implements HttpRequest {
  readonly method: string;
  readonly target: string | undefined;
  readonly headers: HeaderReader;
  readonly body: (limit: number) => Promise<RawBody>;
  #parts: RawRequestParts;
  #parsed: ParsedTarget | undefined;
  #origin: { value: string | undefined } | undefined;
  #ip: { value: string | undefined } | undefined;

  constructor(parts: RawRequestParts) {
    this.method = (parts.method ?? '').toUpperCase();
    this.target = parts.target;
    this.headers = parts.headers;
    this.body = parts.body;
    this.#parts = parts;
  }

  get path(): string {
    return (this.#parsed ??= parseTarget(this.target ?? '')).path;
  }

  get query(): URLSearchParams {
    return (this.#parsed ??= parseTarget(this.target ?? '')).query;
  }

  get ownOrigin(): string | undefined {
    return (this.#origin ??= { value: parseOrigin(force(this.#parts.protocol), force(this.#parts.host)) }).value;
  }

  get ip(): string | undefined {
    return (this.#ip ??= { value: force(this.#parts.ip) }).value;
  }
}

/**
 * Builds the normalised request. Never throws: an unparseable target yields an empty path, matching
 * no route.
 */
export function normaliseRequest(parts: RawRequestParts): HttpRequest {
  return new NormalisedRequest(parts);
}

/** Headers reader over a Node.js `IncomingHttpHeaders` object (already lower-cased by Node). */
class NodeHeaders implements HeaderReader {
  readonly #headers: Record<string, string | string[] | undefined>;

  constructor(headers: Record<string, string | string[] | undefined>) {
    this.#headers = headers;
  }

  get(name: string): string | null {
    const value = this.#headers[name.toLowerCase()];
    if (value === undefined) return null;
    return Array.isArray(value) ? value.join(', ') : value;
  }
}

/** Headers reader over a Node.js `IncomingHttpHeaders` object (already lower-cased by Node). */
export function nodeHeaders(headers: Record<string, string | string[] | undefined>): HeaderReader {
  return new NodeHeaders(headers);
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
  /** Node's IncomingMessage: destroys the request and its socket. */
  destroy?(): unknown;
}

/** Bytes of an oversized body read (and discarded) after the 413 before the connection is dropped. */
const DRAIN_MAX_BYTES = 8 * 1024 * 1024;
/** How long an oversized body is drained after the 413 before the connection is dropped. */
const DRAIN_MAX_MS = 5_000;

/**
 * Discards the rest of a refused body so the 413 can reach the client, but only so much and so long:
 * a client declaring (or streaming) gigabytes would otherwise hold the connection and cost bandwidth
 * for as long as it likes. Past either bound the request and its socket are destroyed (the 413 went
 * out with `Connection: close`, so no keep-alive connection is lost by it).
 */
function drainBounded(stream: NodeReadable): void {
  let drained = 0;
  let done = false;
  const stop = (drop: boolean) => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    if (drop) {
      stream.removeAllListeners('data');
      stream.destroy?.();
    }
  };
  const timer = setTimeout(() => stop(true), DRAIN_MAX_MS);
  timer.unref?.();
  stream.on('data', (chunk) => {
    drained += chunk.byteLength;
    if (drained > DRAIN_MAX_BYTES) stop(true);
  });
  stream.on('end', () => stop(false));
  stream.on('close', () => stop(false));
  stream.resume();
}

/**
 * Reads a Node.js request body, refusing more than `limit` bytes. On overflow the rest is drained
 * unread (not buffered) so that the refusal can still be sent on the connection, within the bounds
 * of {@link drainBounded}.
 */
export function readNodeBody(stream: NodeReadable, limit: number): Promise<string | undefined> {
  const declared = Number(stream.headers['content-length'] ?? '0');
  if (declared > limit) {
    drainBounded(stream);
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
        drainBounded(stream);
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

/**
 * Memoises an adapter's normalisation per framework request object, so that the routes handler, the
 * guard and any helper called on the same request share one normalised request instead of each
 * building their own.
 *
 * Kept under a symbol on the request object (as express-session keeps `req.session`), not in a
 * WeakMap: WeakMap entries are ephemerons, which the garbage collector must trace specially, and a
 * WeakMap with an entry per request cost 1.4 to 2.4 µs per request in collection work, more than the
 * normalisation it saves. A symbol is invisible to `Object.keys`, `for...in` and `JSON.stringify`, and
 * each memo has its own, so two adapters on the same request never see each other's.
 */
export function oncePerRequest<K extends object>(build: (key: K) => HttpRequest): (key: K) => HttpRequest {
  const slot = Symbol('latchkey.request');
  return (key) => {
    const holder = key as K & { [slot]?: HttpRequest };
    const cached = holder[slot];
    if (cached !== undefined) return cached;
    const request = build(key);
    // A frozen or sealed request object (a test double, say) is simply not memoised.
    if (Object.isExtensible(key)) holder[slot] = request;
    return request;
  };
}
