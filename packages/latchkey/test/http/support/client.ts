/**
 * A small browser-like client for the HTTP suite: a cookie jar that honours Path and Max-Age=0 (the
 * attributes the protocol relies on) and helpers to read JSON errors. Set-Cookie parsing is the
 * `cookie` package's.
 */
import { parseSetCookie, type SetCookie } from 'cookie';
import type { Served } from './harness.js';

export interface Reply {
  status: number;
  headers: Headers;
  body: any;
  setCookies: SetCookie[];
}

export interface SendOptions {
  headers?: Record<string, string>;
  body?: string;
  /** Send X-Latchkey-CSRF: 1. Default true for unsafe methods. */
  csrf?: boolean;
  /** Send the jar's cookies. Default true. */
  cookies?: boolean;
  /** Raw Cookie header instead of the jar's. */
  cookieHeader?: string;
}

export class Client {
  readonly jar = new Map<string, { value: string; path: string }>();

  constructor(readonly served: Served) {}

  cookieFor(path: string): string {
    return [...this.jar.entries()]
      .filter(([, c]) => path === c.path || path.startsWith(c.path.endsWith('/') ? c.path : `${c.path}/`) || c.path === '/')
      .map(([name, c]) => `${name}=${c.value}`)
      .join('; ');
  }

  async send(method: string, path: string, options: SendOptions = {}): Promise<Reply> {
    const headers: Record<string, string> = { ...options.headers };
    const unsafe = !['GET', 'HEAD', 'OPTIONS'].includes(method);
    if (options.csrf ?? unsafe) headers['x-latchkey-csrf'] = '1';
    const cookie = options.cookieHeader ?? (options.cookies === false ? '' : this.cookieFor(path.split('?')[0] ?? path));
    if (cookie) headers.cookie = cookie;
    const response = await this.served.fetch(path, { method, headers, ...(options.body === undefined ? {} : { body: options.body }) });
    const setCookies = response.headers.getSetCookie().map((v) => parseSetCookie(v));
    for (const c of setCookies) {
      if (c.maxAge === 0 || c.value === '') this.jar.delete(c.name);
      else this.jar.set(c.name, { value: c.value ?? '', path: c.path ?? '/' });
    }
    const text = await response.text();
    let body: unknown = text;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      body = text;
    }
    return { status: response.status, headers: response.headers, body, setCookies };
  }
}
