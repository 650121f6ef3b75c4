/**
 * Shared set-up for the admin console suites: a real service (SQLite file, optionally a second
 * instance on the same file and a Redis bus), login links made as `latchkey admin login` makes them,
 * and a small cookie-keeping client for the plain-HTTP tests (Set-Cookie parsing is the `cookie`
 * package's).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseSetCookie } from 'cookie';
import { createLoginLink, loadServiceConfig, silentLogger, startService, type RunningService } from 'latchkey/service';
import { API_KEY, startTestService, type TestClock, type TestService } from '../service/helpers.js';

export interface AdminService extends TestService {
  secret: string;
  /** A one-time login link for `operator`, made as the CLI makes it. */
  link(operator?: string, ttlMs?: number): Promise<string>;
}

export async function startAdminService(options: { clock?: TestClock; env?: Record<string, string> } = {}): Promise<AdminService> {
  const svc = await startTestService({ ...(options.clock ? { clock: options.clock } : {}), ...(options.env ? { env: options.env } : {}) });
  const secret = options.env?.['LATCHKEY_SECRET'] ?? readFileSync(join(svc.dir, 'secret.key'), 'utf8').trim();
  return {
    ...svc,
    secret,
    link: async (operator = 'alice', ttlMs?: number) =>
      (await createLoginLink({ engine: svc.service.engine, secret, operator, consoleUrl: `${svc.url}/admin`, ...(ttlMs ? { ttlMs } : {}) }))
        .url,
  };
}

/** A second instance of `first` (same SQLite file, same key file, same env). */
export async function startSecondInstance(first: TestService, env: Record<string, string> = {}): Promise<RunningService> {
  const config = loadServiceConfig({
    PORT: '0',
    LATCHKEY_STORE: `sqlite:${join(first.dir, 'latchkey.db')}`,
    LATCHKEY_SECRET_FILE: join(first.dir, 'secret.key'),
    LATCHKEY_API_KEYS: API_KEY,
    ...env,
  });
  return startService({ config, logger: silentLogger, defaultMetrics: false });
}

export interface Reply {
  status: number;
  headers: Headers;
  text: string;
  location: string | null;
}

/** The login link's fragment as the login page's script submits it. */
export function ticketOf(link: string): string {
  return new URL(link).hash.slice(1);
}

/** A client that keeps the console's cookies, sends forms and never follows redirects. */
export class ConsoleClient {
  readonly jar = new Map<string, string>();

  /** `base` is the server's origin, `prefix` where the console is mounted. */
  constructor(
    readonly base: string,
    readonly prefix = '/admin',
  ) {}

  get cookieHeader(): string {
    return [...this.jar.entries()].map(([n, v]) => `${n}=${v}`).join('; ');
  }

  async send(
    method: string,
    path: string,
    options: { form?: Record<string, string>; headers?: Record<string, string>; cookies?: boolean } = {},
  ): Promise<Reply> {
    const headers: Record<string, string> = { ...options.headers };
    if (options.cookies !== false && this.jar.size > 0) headers.cookie = this.cookieHeader;
    let body: string | undefined;
    if (options.form) {
      body = new URLSearchParams(options.form).toString();
      headers['content-type'] = 'application/x-www-form-urlencoded';
    }
    const response = await fetch(this.base + path, { method, headers, redirect: 'manual', ...(body !== undefined ? { body } : {}) });
    for (const raw of response.headers.getSetCookie()) {
      const c = parseSetCookie(raw);
      if (c.maxAge === 0 || c.value === '') this.jar.delete(c.name);
      else this.jar.set(c.name, c.value ?? '');
    }
    return { status: response.status, headers: response.headers, text: await response.text(), location: response.headers.get('location') };
  }

  get(path: string, options?: { headers?: Record<string, string>; cookies?: boolean }): Promise<Reply> {
    return this.send('GET', path, options);
  }

  post(path: string, form: Record<string, string>, headers?: Record<string, string>): Promise<Reply> {
    return this.send('POST', path, { form, ...(headers ? { headers } : {}) });
  }

  /** Redeems a login link (as the sign-in form does). */
  signIn(link: string): Promise<Reply> {
    return this.post(`${this.prefix}/login`, { link: ticketOf(link) });
  }

  /** The CSRF token of the current session, from a page's form. */
  async csrf(): Promise<string> {
    const page = await this.get(`${this.prefix}/keys`);
    const match = /name="_csrf" value="([^"]+)"/.exec(page.text);
    if (!match?.[1]) throw new Error(`no CSRF token on the page (status ${page.status})`);
    return match[1];
  }
}
