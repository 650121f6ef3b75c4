/**
 * The normalised response the core returns: a status, headers (a list, because `Set-Cookie` repeats)
 * and an optional JSON body. Adapters copy it onto their framework's response.
 */

export interface HttpResponse {
  status: number;
  /** Lower-case names; `set-cookie` may appear many times. */
  headers: [string, string][];
  /** Serialised JSON, or undefined for an empty body. */
  body: string | undefined;
}

/** Anything that can take response headers: the adapters' per-request sink. */
export interface HeaderSink {
  append(name: string, value: string): void;
  /**
   * Takes back one value this request appended earlier (exactly equal), if it is still there. Used
   * when a session writes twice in one request (two `update()` calls, `update()` then `revoke()`):
   * the last write wins and each cookie is sent once. A sink without it only appends; browsers
   * then apply the cookies in order, so the last still wins, but the response carries both.
   */
  remove?(name: string, value: string): void;
}

/** A sink that collects headers, for building an {@link HttpResponse}. */
export class HeaderList implements HeaderSink {
  readonly entries: [string, string][] = [];

  append(name: string, value: string): void {
    this.entries.push([name.toLowerCase(), value]);
  }

  remove(name: string, value: string): void {
    const lower = name.toLowerCase();
    const index = this.entries.findIndex(([n, v]) => n === lower && v === value);
    if (index !== -1) this.entries.splice(index, 1);
  }
}

/**
 * A header's values with one occurrence of `value` taken out, from whatever a framework's
 * `getHeader` returned (a string, a list, or nothing). Undefined when `value` was not there.
 */
export function withoutValue(current: unknown, value: string): string[] | undefined {
  const list = current === undefined || current === null ? [] : Array.isArray(current) ? current.map(String) : [String(current)];
  const index = list.indexOf(value);
  if (index === -1) return undefined;
  list.splice(index, 1);
  return list;
}

export function jsonResponse(status: number, body: unknown, headers: [string, string][] = []): HttpResponse {
  return {
    status,
    headers: [['content-type', 'application/json; charset=utf-8'], ...headers],
    body: JSON.stringify(body),
  };
}

/** Converts to a web `Response` (Hono, Next.js route handlers, Bun, Deno). */
export function toWebResponse(response: HttpResponse): Response {
  const headers = new Headers();
  for (const [name, value] of response.headers) headers.append(name, value);
  return new Response(response.body ?? null, { status: response.status, headers });
}

/** The parts of a Node.js `ServerResponse` the writer needs. */
export interface NodeWritable {
  statusCode: number;
  readonly headersSent: boolean;
  setHeader(name: string, value: string | string[]): unknown;
  getHeader(name: string): unknown;
  removeHeader(name: string): unknown;
  end(body?: string): unknown;
}

/**
 * List-valued headers that latchkey adds to rather than replaces: the app's CORS middleware may have
 * exposed headers of its own, and the app may vary on more than Origin.
 */
export const JOINED_HEADERS: ReadonlySet<string> = new Set(['vary', 'access-control-expose-headers']);

/** Copies headers onto a Node.js response, appending to any `Set-Cookie` (or list header) already there. */
export function appendNodeHeader(res: NodeWritable, name: string, value: string): void {
  const lower = name.toLowerCase();
  if (lower === 'set-cookie' || JOINED_HEADERS.has(lower)) {
    const existing = res.getHeader(lower);
    const list = existing === undefined ? [] : Array.isArray(existing) ? existing.map(String) : [String(existing)];
    if (lower !== 'set-cookie') {
      res.setHeader(lower, [...list, value].join(', '));
    } else {
      res.setHeader(lower, [...list, value]);
    }
    return;
  }
  res.setHeader(lower, value);
}

/** Writes a complete response to a Node.js response object. */
export function writeNodeResponse(res: NodeWritable, response: HttpResponse): void {
  if (res.headersSent) return;
  res.statusCode = response.status;
  for (const [name, value] of response.headers) appendNodeHeader(res, name, value);
  res.end(response.body);
}

/** A sink that appends straight onto a Node.js response (Express, Fastify's raw reply, node:http). */
export function nodeSink(res: NodeWritable): HeaderSink {
  return {
    append: (name, value) => appendNodeHeader(res, name, value),
    remove: (name, value) => {
      if (res.headersSent) return;
      const lower = name.toLowerCase();
      const kept = withoutValue(res.getHeader(lower), value);
      if (kept === undefined) return;
      if (kept.length === 0) res.removeHeader(lower);
      else res.setHeader(lower, lower === 'set-cookie' ? kept : kept.join(', '));
    },
  };
}
