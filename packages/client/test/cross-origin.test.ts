/**
 * The SDK with its API on another host of the same site (app.lk.test → api.lk.test, over HTTPS):
 * the page cannot read the API's cookies, so the front token comes from the exposed
 * X-Latchkey-Front header, lives in memory, and reaches other tabs over BroadcastChannel.
 * Chromium maps *.lk.test to 127.0.0.1; the certificate is a throwaway self-signed one.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LatchkeyClient } from '../src/index.js';
import { serviceAvailable } from '../../latchkey/test/helpers/services.js';
import { chromiumAvailable } from './helpers/browser.js';
import { startServer, type TestServer } from './helpers/server.js';

interface PageGlobals {
  lk: LatchkeyClient;
  events: { name: string; payload: Record<string, unknown> }[];
  call(path: string, init?: RequestInit): Promise<{ status: number; body: Record<string, unknown> | null }>;
}
declare const window: PageGlobals & Window;

function selfSigned(): { key: string; cert: string } {
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-tls-'));
  try {
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1',
      '-subj', '/CN=lk.test', '-addext', 'subjectAltName=DNS:app.lk.test,DNS:api.lk.test',
      '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
    ], { stdio: 'ignore' });
    return { key: readFileSync(join(dir, 'key.pem'), 'utf8'), cert: readFileSync(join(dir, 'cert.pem'), 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const available =
  (await chromiumAvailable()) && (await serviceAvailable('openssl', async () => execFileSync('openssl', ['version'], { stdio: 'ignore' })));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(!available)('@latchkey/client with the API on a sibling host (Chromium, HTTPS)', () => {
  let browser: Browser;
  let server: TestServer;
  let context: BrowserContext;
  let app: string;
  let api: string;

  beforeAll(async () => {
    server = await startServer({ tls: selfSigned(), appOrigins: (port) => [`https://app.lk.test:${port}`] });
    app = `https://app.lk.test:${server.port}`;
    api = `https://api.lk.test:${server.port}`;
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--host-resolver-rules=MAP *.lk.test 127.0.0.1'],
    });
    context = await browser.newContext({ ignoreHTTPSErrors: true });
  });
  afterAll(async () => {
    await context?.close();
    await browser?.close();
    await server?.close();
  });

  const open = async (): Promise<Page> => {
    const page = await context.newPage();
    await page.goto(`${app}/?api=${encodeURIComponent(api)}`);
    await page.waitForFunction(() => (window as unknown as { ready?: boolean }).ready === true);
    return page;
  };
  const call = (page: Page, url: string, init?: RequestInit) => page.evaluate(([u, i]) => window.call(u, i), [url, init] as const);

  it('signs in, refreshes once on expiry and shares the front token with other tabs', async () => {
    const a = await open();
    expect((await call(a, `${api}/app/signin`, { method: 'POST' })).status).toBe(200);
    // The API's cookies are not the page's: the front token came from the exposed header.
    expect(await a.evaluate(() => document.cookie)).toBe('');
    expect(await a.evaluate(() => window.lk.getClaims())).toMatchObject({ sub: 'alice' });
    expect(await a.evaluate(() => window.lk.doesSessionExist())).toBe(true);

    const b = await open();
    await sleep(2_150);
    expect(await call(a, `${api}/api/me`)).toEqual({ status: 200, body: { userId: 'alice' } });
    expect(server.count('POST /auth/refresh')).toBe(1);
    // Tab b heard of the refresh, front token included, without a request of its own.
    await b.waitForFunction(() => window.events.some((e) => e.name === 'refreshed'));
    expect(await b.evaluate(() => window.lk.getClaims())).toMatchObject({ sub: 'alice' });
    expect(await call(b, `${api}/api/me`)).toEqual({ status: 200, body: { userId: 'alice' } });
    expect(server.count('POST /auth/refresh')).toBe(1);
  });

  it('a fresh tab asks the server whether a session exists, since it cannot read the cookie', async () => {
    await call(await open(), `${api}/app/signin`, { method: 'POST' });
    const c = await open();
    const before = server.count('POST /auth/refresh');
    expect(await c.evaluate(() => window.lk.doesSessionExist())).toBe(true);
    expect(await c.evaluate(() => window.lk.getClaims())).toMatchObject({ sub: 'alice' });
    expect(server.count('POST /auth/refresh')).toBe(before + 1);
  });
});
