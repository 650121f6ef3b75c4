/**
 * Shared set-up for the service suites: a real service on 127.0.0.1:0 over a real store, and a tiny
 * HTTP client that returns status, headers and parsed JSON.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadServiceConfig, silentLogger, startService, type RunningService } from 'latchkey/service';
import type { LatchkeyOptions, ServiceSessionStore } from 'latchkey';

export const API_KEY = 'test-api-key-0123456789-abcdefghijklmnop';

export interface TestService {
  service: RunningService;
  clock: TestClock | undefined;
  url: string;
  dir: string;
  call(method: string, path: string, options?: { body?: unknown; raw?: string; headers?: Record<string, string>; auth?: string | null }): Promise<Reply>;
  close(): Promise<void>;
}

export interface Reply {
  status: number;
  headers: Headers;
  text: string;
  json: any;
}

export function tempDir(prefix = 'latchkey-service-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** A clock the test moves forward (expiry and grace windows without waiting). */
export interface TestClock {
  now(): number;
  advance(ms: number): void;
}

export function testClock(): TestClock {
  let offset = 0;
  return { now: () => Date.now() + offset, advance: (ms) => void (offset += ms) };
}

export async function startTestService(
  options: { env?: Record<string, string>; store?: ServiceSessionStore; clock?: TestClock; engineOptions?: Partial<LatchkeyOptions> } = {},
): Promise<TestService> {
  const dir = tempDir();
  const config = loadServiceConfig({
    PORT: '0',
    LATCHKEY_STORE: `sqlite:${join(dir, 'latchkey.db')}`,
    LATCHKEY_SECRET_FILE: join(dir, 'secret.key'),
    LATCHKEY_API_KEYS: API_KEY,
    ...options.env,
  });
  const service = await startService({
    config,
    logger: silentLogger,
    defaultMetrics: false,
    ...(options.store ? { store: options.store } : {}),
    engineOptions: { ...options.engineOptions, ...(options.clock ? { clock: options.clock } : {}) },
  });
  const call: TestService['call'] = async (method, path, opts = {}) => {
    const headers: Record<string, string> = { ...opts.headers };
    if (opts.auth !== null) headers.authorization = `Bearer ${opts.auth ?? API_KEY}`;
    let body: string | undefined = opts.raw;
    if (opts.body !== undefined) {
      body = JSON.stringify(opts.body);
      headers['content-type'] ??= 'application/json';
    }
    const res = await fetch(service.url + path, { method, headers, ...(body !== undefined ? { body } : {}) });
    const text = await res.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    return { status: res.status, headers: res.headers, text, json };
  };
  return {
    service,
    clock: options.clock,
    url: service.url,
    dir,
    call,
    async close() {
      await service.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
