/**
 * The demo in real Chromium: what a newcomer sees after `npm start`, and the browser-side promises of
 * latchkey (tokens unreadable by page JavaScript, one refresh per expiry across tabs, revocation and
 * theft reaching every tab, CSRF from another origin refused). Screenshots of each page are written
 * to test-artifacts/demo/ (git-ignored).
 */
import { mkdirSync, mkdtempSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM, CHROMIUM_ARGS as ARGS, chromiumAvailable } from './support/chromium.js';
import { startDemo } from '../src/app.mjs';

const artifacts = join(process.cwd(), 'test-artifacts', 'demo');

const available = await chromiumAvailable('Chromium (demo browser tests)');

type Demo = Awaited<ReturnType<typeof startDemo>>;

describe.skipIf(!available)('the demo in Chromium', () => {
  let browser: Browser;
  let demo: Demo;
  let counter = 0;

  beforeAll(async () => {
    mkdirSync(artifacts, { recursive: true });
    demo = await startDemo({ port: 0, dataDir: mkdtempSync(join(tmpdir(), 'latchkey-demo-')), accessTokenTtl: 2, devRoutes: true });
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS });
  });
  afterAll(async () => {
    await browser?.close();
    await demo?.close();
  });

  /** A new browser profile (a device); waits fail after 10 s with the selector named, not at the test timeout. */
  async function device(options: Parameters<Browser['newContext']>[0] = {}): Promise<BrowserContext> {
    const context = await browser.newContext(options);
    context.setDefaultTimeout(10_000);
    return context;
  }

  async function open(context: BrowserContext, hash = ''): Promise<Page> {
    const page = await context.newPage();
    await page.goto(`${demo.url}/${hash}`);
    await page.waitForSelector('body[data-ready="true"]');
    return page;
  }

  /** Signs up a fresh user in a new context (a new device); returns the page on the dashboard. */
  async function signUp(context: BrowserContext, email = `user${++counter}@example.com`): Promise<{ page: Page; email: string }> {
    const page = await open(context);
    await page.fill('#signup-form [name=name]', 'Ada Lovelace');
    await page.fill('#signup-form [name=email]', email);
    await page.fill('#signup-form [name=password]', 'correct horse battery');
    await page.click('#signup-form button');
    await page.waitForSelector('#view-dashboard:not([hidden])');
    return { page, email };
  }

  async function signIn(context: BrowserContext, email: string): Promise<Page> {
    const page = await open(context);
    await page.fill('#signin-form [name=email]', email);
    await page.fill('#signin-form [name=password]', 'correct horse battery');
    await page.click('#signin-form button');
    await page.waitForSelector('#view-dashboard:not([hidden])');
    return page;
  }

  /** A request through the page's SDK, whichever view the page shows. */
  const sdkFetchStatus = (page: Page) =>
    page.evaluate(async () => (await (window as unknown as { latchkey: { fetch(u: string): Promise<Response> } }).latchkey.fetch('/api/me')).status);

  const callApi = async (page: Page) => {
    const [response] = await Promise.all([page.waitForResponse((r) => r.url().endsWith('/api/me')), page.click('#call-api')]);
    return response;
  };

  it('after sign-in, page JavaScript sees the front token and no access or refresh token', async () => {
    const context = await device({ viewport: { width: 1200, height: 900 } });
    const signedOut = await open(context);
    await signedOut.screenshot({ path: join(artifacts, 'sign-in.png'), fullPage: true });
    const { page } = await signUp(context);
    const cookie = await page.evaluate(() => document.cookie);
    expect(cookie).toContain('lk_front=');
    expect(cookie).not.toContain('lk_access');
    expect(cookie).not.toContain('lk_refresh');
    expect(cookie).not.toMatch(/eyJhbGciOiJFZERTQSIsInR5cCI6ImF0K2p3dCI/); // no access-token JWT header anywhere
    // The HttpOnly cookies exist nonetheless.
    const names = (await context.cookies()).map((c) => `${c.name}:${c.httpOnly}`);
    expect(names).toEqual(expect.arrayContaining(['__Host-lk_access:true', '__Secure-lk_refresh:true', 'lk_front:false']));
    expect(await page.textContent('#claims')).toContain('Ada Lovelace');
    expect((await callApi(page)).status()).toBe(200);
    await page.screenshot({ path: join(artifacts, 'dashboard.png'), fullPage: true });
    await context.close();
  });

  it('three tabs across several 2-second expiries: the app keeps working with one refresh per expiry', async () => {
    const context = await device();
    const { page: first } = await signUp(context);
    const tabs = [first, await open(context), await open(context)];
    const refreshes: Array<{ at: number; grace: boolean }> = [];
    const off = demo.latchkey.on('session.refreshed', (e) => refreshes.push({ at: Date.now(), grace: e.grace }));
    const statuses: number[] = [];
    const started = Date.now();
    while (Date.now() - started < 7_500) {
      for (const tab of tabs) statuses.push((await callApi(tab)).status());
      await first.waitForTimeout(400);
    }
    off();
    expect(new Set(statuses)).toEqual(new Set([200]));
    // 7.5 s of 2-second tokens: at least three expiries, each met by exactly one refresh.
    expect(refreshes.length).toBeGreaterThanOrEqual(3);
    expect(refreshes.filter((r) => r.grace)).toEqual([]); // a second tab refreshing the same token would show as a grace refresh
    // And never two for one token: another tab refreshing the same token would follow within moments.
    for (let i = 1; i < refreshes.length; i++) expect(refreshes[i]!.at - refreshes[i - 1]!.at).toBeGreaterThan(700);
    for (const tab of tabs) expect(await tab.getAttribute('body', 'data-signed-out')).toBeNull();
    await context.close();
  });

  it('"Your devices" names each device ("Chrome 156 on Linux"), with the raw User-Agent on hover', { timeout: 60_000 }, async () => {
    const chrome = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36';
    const firefox = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:140.0) Gecko/20100101 Firefox/140.0';
    const laptop = await device({ userAgent: chrome, viewport: { width: 1200, height: 900 } });
    const pc = await device({ userAgent: firefox });
    const { page, email } = await signUp(laptop);
    await signIn(pc, email);
    await page.goto(`${demo.url}/#/devices`);
    await page.waitForSelector('#sessions tr >> nth=1');
    const shown = await page.locator('#sessions .device').evaluateAll((cells) => cells.map((c) => ({ text: c.textContent, title: c.getAttribute('title') })));
    expect(shown).toHaveLength(2);
    expect(shown).toEqual(expect.arrayContaining([{ text: 'Chrome 156 on Linux', title: chrome }, { text: 'Firefox 140 on Windows', title: firefox }]));
    // The raw string is only in the tooltip, never in the visible text.
    expect(await page.locator('#sessions').innerText()).not.toContain('Mozilla/5.0');
    await page.screenshot({ path: join(artifacts, 'devices-named.png'), fullPage: true });
    await laptop.close();
    await pc.close();
  });

  it('revoking a device signs it out on its next request; "sign out everywhere else" leaves only this session', async () => {
    const laptop = await device({ viewport: { width: 1200, height: 900 } });
    const phone = await device();
    const tablet = await device();
    const { page: a, email } = await signUp(laptop);
    const b = await signIn(phone, email);
    const c = await signIn(tablet, email);

    await a.goto(`${demo.url}/#/devices`);
    await a.waitForSelector('#sessions tr >> nth=2');
    expect(await a.locator('#sessions tr').count()).toBe(3);
    expect(await a.locator('#sessions .badge').count()).toBe(1);
    await a.screenshot({ path: join(artifacts, 'devices.png'), fullPage: true });

    // Revoke the phone's session (the row for the session that tab B holds).
    const phoneSession = ((await (await callApi(b)).json()) as { sessionId: string }).sessionId;
    await a.click(`[data-revoke="${phoneSession}"]`);
    await a.waitForFunction(() => document.querySelectorAll('#sessions tr').length === 2);
    expect(await sdkFetchStatus(b)).toBe(401);
    await b.waitForSelector('#view-auth:not([hidden])');

    await a.click('#signout-others');
    await a.waitForFunction(() => document.querySelectorAll('#sessions tr').length === 1);
    // The tablet may notice by itself first (its SDK refreshes ahead of each 2-second expiry).
    expect(await sdkFetchStatus(c)).toBe(401);
    await c.waitForSelector('#view-auth:not([hidden])');
    expect(await sdkFetchStatus(a)).toBe(200);
    for (const ctx of [laptop, phone, tablet]) await ctx.close();
  });

  it('the security lab: replaying a stolen refresh token revokes the session and every tab shows it', async () => {
    const context = await device({ viewport: { width: 1200, height: 1100 } });
    const { page: lab } = await signUp(context);
    const other = await open(context);
    await lab.goto(`${demo.url}/#/lab`);
    await lab.waitForSelector('#view-lab:not([hidden])');
    await lab.click('#lab-steal');
    await lab.waitForSelector('#lab-stolen:not(:empty)');
    await lab.click('#lab-rotate');
    await lab.waitForSelector('#lab-rotated:not(:empty)');
    await lab.screenshot({ path: join(artifacts, 'security-lab.png'), fullPage: true });
    await lab.click('#lab-replay');
    // Attached, not visible: the tab may already have switched to the signed-out view.
    await lab.waitForSelector('#lab-replayed:not(:empty)', { state: 'attached' });
    expect(await lab.textContent('#lab-replayed')).toContain('TOKEN_THEFT_DETECTED');
    expect(await lab.textContent('#banner')).toContain('Theft detected');
    await lab.screenshot({ path: join(artifacts, 'security-lab-theft.png'), fullPage: true });
    // Every tab is signed out, and the session is dead on the server.
    await other.waitForSelector('#view-auth:not([hidden])');
    await lab.waitForSelector('#view-auth:not([hidden])');
    const status = await other.evaluate(async () => (await fetch('/api/me')).status);
    expect(status).toBe(401);
    await context.close();
  });

  it('a form POST from another origin (another local port) is refused and changes nothing', async () => {
    const context = await device();
    const { page } = await signUp(context);
    const attacker: Server = createServer((_req, res) => {
      res.setHeader('content-type', 'text/html');
      const target = _req.url === '/signup' ? '/api/signup' : '/auth/signout';
      res.end(`<form id="f" method="POST" action="${demo.url}${target}"><input name="email" value="evil@example.com"></form>
        <script>document.getElementById('f').submit()</script>`);
    });
    await new Promise<void>((resolve) => attacker.listen(0, '127.0.0.1', resolve));
    try {
      const evil = await context.newPage();
      const [response] = await Promise.all([
        evil.waitForResponse((r) => r.url() === `${demo.url}/auth/signout`),
        evil.goto(`http://127.0.0.1:${(attacker.address() as AddressInfo).port}/`),
      ]);
      expect(response.status()).toBe(403);
      expect(await response.json()).toMatchObject({ error: { code: 'CSRF_REJECTED' } });
      // Login CSRF: nor can it sign the victim up into an attacker's account.
      const [signup] = await Promise.all([
        evil.waitForResponse((r) => r.url() === `${demo.url}/api/signup`),
        evil.goto(`http://127.0.0.1:${(attacker.address() as AddressInfo).port}/signup`),
      ]);
      expect(signup.status()).toBe(403);
      // The victim is still signed in.
      expect((await callApi(page)).status()).toBe(200);
    } finally {
      attacker.close();
      await context.close();
    }
  });
});
