/**
 * The SDK in real Chromium against a real latchkey server (engine + node:http adapter, 2 s access
 * tokens). Counts are taken on the server, so "exactly one refresh" means one request really arrived.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page, Route } from 'playwright-core';
import type { LatchkeyClient } from '../src/index.js';
import { chromiumAvailable, launchChromium, openTab } from './helpers/browser.js';
import { startServer, type TestServer } from './helpers/server.js';

interface PageGlobals {
  lk: LatchkeyClient;
  events: { name: string; payload: Record<string, unknown> }[];
  /** status 0 with `error` (the LatchkeyClientError code) when the SDK's fetch rejected. */
  call(path: string, init?: RequestInit): Promise<{ status: number; body?: Record<string, unknown> | null; error?: string }>;
}
declare const window: PageGlobals & Window;

const available = await chromiumAvailable();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Past the 2 s access-token lifetime (JWT `exp` is whole seconds, so at most 2 s after issue). */
const EXPIRY_MS = 2_150;

const call = (page: Page, path: string, init?: RequestInit) => page.evaluate(([p, i]) => window.call(p, i), [path, init] as const);
const signIn = (page: Page) => call(page, '/app/signin', { method: 'POST' });
const eventsOf = (page: Page, name: string) => page.evaluate((n) => window.events.filter((e) => e.name === n).map((e) => e.payload), name);
const waitForEvent = (page: Page, name: string) =>
  page.waitForFunction((n) => window.events.some((e) => e.name === n), name, { timeout: 5_000 });

/** Removes BroadcastChannel and Web Locks before any page script, to exercise the localStorage fallbacks. */
async function withoutTabApis(context: BrowserContext): Promise<void> {
  await context.addInitScript(() => {
    delete (window as { BroadcastChannel?: unknown }).BroadcastChannel;
    Object.defineProperty(Navigator.prototype, 'locks', { get: () => undefined, configurable: true });
  });
}

describe.skipIf(!available)('@latchkey/client in Chromium', () => {
  let browser: Browser;
  let server: TestServer;
  let context: BrowserContext;

  beforeAll(async () => {
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
  });
  beforeEach(async () => {
    server = await startServer();
    context = await browser.newContext();
  });
  afterEach(async () => {
    await context?.close();
    await server?.close();
  });

  it('keeps the access and refresh tokens out of page JS; the front token is readable', async () => {
    const page = await openTab(context, server.origin);
    expect((await signIn(page)).status).toBe(200);

    const visible = await page.evaluate(() => document.cookie);
    expect(visible).toMatch(/(^|; )lk_front=/);
    expect(visible).not.toMatch(/lk_access|lk_refresh/);
    const jar = await context.cookies();
    expect(jar.find((c) => c.name === '__Host-lk_access')).toMatchObject({ httpOnly: true, secure: true, sameSite: 'Lax', path: '/' });
    expect(jar.find((c) => c.name === '__Secure-lk_refresh')).toMatchObject({ httpOnly: true, secure: true, sameSite: 'Strict', path: '/auth/refresh' });

    const state = await page.evaluate(async () => ({
      exists: await window.lk.doesSessionExist(),
      claims: await window.lk.getClaims(),
      expiresIn: ((await window.lk.getAccessTokenExpiry())?.getTime() ?? 0) - Date.now(),
    }));
    expect(state.exists).toBe(true);
    expect(state.claims).toMatchObject({ sub: 'alice', name: 'Alice Ünicode' });
    expect(state.expiresIn).toBeGreaterThan(0);
    expect(state.expiresIn).toBeLessThanOrEqual(2_100);
    expect(server.count('POST /auth/refresh')).toBe(0);
  });

  it('on an expired token: exactly one refresh, then the original request (body and CSRF header included) succeeds', async () => {
    const page = await openTab(context, server.origin);
    await signIn(page);
    await sleep(EXPIRY_MS);

    const result = await call(page, '/api/echo', { method: 'POST', body: JSON.stringify({ n: 42 }), headers: { 'content-type': 'application/json' } });
    expect(result).toEqual({ status: 200, body: { userId: 'alice', echo: { n: 42 } } });
    expect(server.count('POST /auth/refresh')).toBe(1);
    expect(server.count('POST /api/echo')).toBe(2); // the 401, then the one retry
    expect(await eventsOf(page, 'refreshed')).toHaveLength(1);
    expect(await eventsOf(page, 'unauthorised')).toHaveLength(0);
  });

  it('axios interceptor: credentials, CSRF header, one refresh for concurrent requests, retry with body', async () => {
    const page = await openTab(context, server.origin);
    // A module script of the page's own (the test runner would rewrite an import() inside evaluate).
    await page.addScriptTag({
      type: 'module',
      content: "import axios from '/axios.js'; window.api = axios.create(); window.lk.axiosInterceptor(window.api); window.apiReady = true;",
    });
    await page.waitForFunction(() => (window as unknown as { apiReady?: boolean }).apiReady === true);
    await signIn(page);
    await sleep(EXPIRY_MS);
    const data = await page.evaluate(async () => {
      const api = (window as unknown as { api: { get(u: string): Promise<{ data: unknown }>; post(u: string, d: unknown): Promise<{ data: unknown }> } }).api;
      const [a, b] = await Promise.all([api.post('/api/echo', { n: 2 }), api.get('/api/me')]);
      return [a.data, b.data];
    });
    expect(data).toEqual([{ userId: 'alice', echo: { n: 2 } }, { userId: 'alice' }]);
    expect(server.count('POST /auth/refresh')).toBe(1);
    expect(server.count('POST /api/echo')).toBe(2);
  });

  it('a sign-in in one tab reaches the others, which then refresh on their own', async () => {
    const tabs = [await openTab(context, server.origin, '?auto=1'), await openTab(context, server.origin, '?auto=1')];
    expect(await tabs[1]!.evaluate(() => window.lk.doesSessionExist())).toBe(false);
    await signIn(tabs[0]!);
    await waitForEvent(tabs[1]!, 'refreshed');
    expect(await eventsOf(tabs[1]!, 'refreshed')).toEqual([{ claims: expect.objectContaining({ sub: 'alice' }), expiresAt: expect.any(Date) }]);
    await tabs[0]!.close(); // the tab that signed in is gone: the other keeps the session alive alone
    await sleep(EXPIRY_MS + 500);
    // No request was made since the sign-in: this refresh was the remaining tab's own, planned one.
    expect(server.count('POST /auth/refresh')).toBeGreaterThanOrEqual(1);
    expect((await call(tabs[1]!, '/api/me')).status).toBe(200);
  });

  it('echoes the session-bound CSRF token when the server runs csrf mode "token"', async () => {
    await server.close();
    server = await startServer({ csrfToken: true });
    const page = await openTab(context, server.origin);
    await signIn(page);
    expect(await page.evaluate(() => document.cookie)).toMatch(/__Host-lk_csrf=/);
    const post = () => call(page, '/api/echo', { method: 'POST', body: '"x"', headers: { 'content-type': 'application/json' } });
    expect(await post()).toEqual({ status: 200, body: { userId: 'alice', echo: 'x' } });
    await sleep(EXPIRY_MS);
    expect(await post()).toEqual({ status: 200, body: { userId: 'alice', echo: 'x' } }); // refresh (a POST) passed the check too
    expect(server.count('POST /auth/refresh')).toBe(1);
    // Without the token the server would have refused: prove the check is on.
    const bare = await page.evaluate(() => fetch('/api/echo', { method: 'POST', headers: { 'X-Latchkey-CSRF': '1' } }).then((r) => r.status));
    expect(bare).toBe(403);
  });

  for (const variant of ['Web Locks + BroadcastChannel', 'localStorage fallback'] as const) {
    describe(variant, () => {
      beforeEach(async () => {
        if (variant === 'localStorage fallback') await withoutTabApis(context);
      });

      it('three tabs, three expiries: one refresh request per expiry, every request succeeds', async () => {
        const tabs = [await openTab(context, server.origin), await openTab(context, server.origin), await openTab(context, server.origin)];
        if (variant === 'localStorage fallback') {
          expect(await tabs[0]!.evaluate(() => typeof BroadcastChannel + typeof navigator.locks)).toBe('undefinedundefined');
        }
        await signIn(tabs[0]!);
        for (let round = 1; round <= 3; round++) {
          await sleep(EXPIRY_MS);
          // Two requests per tab at once: in-tab single flight and cross-tab lock together.
          const results = await Promise.all(tabs.flatMap((tab) => [call(tab, '/api/me'), call(tab, '/api/me')]));
          expect(results.map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 200]);
          expect(server.count('POST /auth/refresh')).toBe(round);
        }
        expect(new Set(server.presentedRefresh).size).toBe(3);
        // Every tab heard of every refresh, by doing it or from the tab that did; tabs 1 and 2 also
        // heard of tab 0's sign-in.
        expect(await Promise.all(tabs.map((tab) => eventsOf(tab, 'refreshed').then((e) => e.length)))).toEqual([3, 4, 4]);
      });

      it('sign-out in one tab reaches the others at once', async () => {
        const tabs = [await openTab(context, server.origin), await openTab(context, server.origin), await openTab(context, server.origin)];
        await signIn(tabs[0]!);
        await tabs[1]!.evaluate(() => window.lk.signOut());
        for (const tab of [tabs[0]!, tabs[2]!]) {
          await waitForEvent(tab, 'signedOut');
          expect(await eventsOf(tab, 'signedOut')).toEqual([{ reason: 'otherTab' }]);
        }
        expect(await eventsOf(tabs[1]!, 'signedOut')).toEqual([{ reason: 'signOut' }]);
        expect(await tabs[2]!.evaluate(() => window.lk.doesSessionExist())).toBe(false);
        // The server ended the session too; a request now is simply refused, with no refresh attempt.
        expect((await call(tabs[2]!, '/api/me')).status).toBe(401);
        expect(server.count('POST /auth/signout')).toBe(1);
        expect(server.count('POST /auth/refresh')).toBe(0);
      });

      it('theft detected in one tab reaches every tab', async () => {
        const tabs = [await openTab(context, server.origin), await openTab(context, server.origin)];
        await signIn(tabs[0]!);
        const stolen = (await context.cookies()).find((c) => c.name === '__Secure-lk_refresh')!;
        // Two rotations: the stolen token is now a grandparent, which no grace window covers.
        expect(await tabs[0]!.evaluate(() => window.lk.refresh())).toBe(true);
        expect(await tabs[1]!.evaluate(() => window.lk.refresh())).toBe(true);
        await context.addCookies([stolen]);

        expect(await tabs[0]!.evaluate(() => window.lk.refresh())).toBe(false);
        await waitForEvent(tabs[1]!, 'theftDetected');
        const sid = (await tabs[0]!.evaluate(() => window.events.find((e) => e.name === 'refreshed')?.payload.claims as { sid: string })).sid;
        for (const tab of tabs) {
          // The tab that replayed read the server's reason; the other heard it over the tab channel.
          expect(await eventsOf(tab, 'theftDetected')).toEqual([{ sessionId: sid, userId: 'alice', reason: 'rotated-out-replay' }]);
          expect(await eventsOf(tab, 'signedOut')).toEqual([{ reason: 'theft' }]);
        }
        expect((await server.engine.getSession(sid))?.revokedReason).toBe('theft');
      });
    });
  }

  it('proactive refresh in three tabs: never one refresh token spent twice, no request fails', async () => {
    const tabs = [
      await openTab(context, server.origin, '?auto=1'),
      await openTab(context, server.origin, '?auto=1'),
      await openTab(context, server.origin, '?auto=1'),
    ];
    await signIn(tabs[0]!);
    // Let the tabs learn the new front token through the cookie: the sign-in was in tab 0 only.
    await Promise.all(tabs.map((tab) => call(tab, '/api/me')));
    const statuses: number[] = [];
    for (let i = 0; i < 10; i++) {
      await sleep(500);
      for (const r of await Promise.all(tabs.map((tab) => call(tab, '/api/me')))) statuses.push(r.status);
    }
    expect(statuses.every((s) => s === 200)).toBe(true);
    const refreshes = server.count('POST /auth/refresh');
    // ~5.5 s of tokens that live 1–2 s (JWT `exp` is in whole seconds): a handful of refreshes. The
    // bound only has to tell that from a loop, which would make hundreds.
    expect(refreshes).toBeGreaterThanOrEqual(2);
    expect(refreshes).toBeLessThanOrEqual(10);
    expect(new Set(server.presentedRefresh).size).toBe(refreshes);
  });

  it('a DBSC-bound session is never refreshed proactively by the SDK: the browser renews its bound cookie itself', async () => {
    // The server's POST /auth/refresh refuses a DBSC-bound session (INVALID_DBSC_PROOF), which would end
    // it; Chromium refreshes the bound cookie with its key instead (examples/demo/test/binding-lab.test.ts).
    // Here the front cookie is marked bound as the server marks it after a DBSC registration; the same
    // flow unmarked refreshes (the control, first).
    const tab = await openTab(context, server.origin, '?auto=1');
    await signIn(tab);
    await tab.reload();
    await call(tab, '/api/me'); // teaches the server clock: the refresh is planned from here
    await sleep(EXPIRY_MS + 500);
    expect(server.count('POST /auth/refresh')).toBeGreaterThanOrEqual(1);

    await signIn(tab);
    const before = server.count('POST /auth/refresh');
    await tab.evaluate(() => {
      const raw = /(?:^|; )lk_front=([^;]*)/.exec(document.cookie)![1]!;
      const b64 = (s: string) => atob(s.replace(/-/g, '+').replace(/_/g, '/'));
      const front = { ...(JSON.parse(b64(raw)) as object), bound: 'dbsc' };
      const encoded = btoa(JSON.stringify(front)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
      document.cookie = `lk_front=${encoded}; path=/; secure; samesite=lax`;
    });
    await tab.reload();
    expect(await tab.evaluate(() => window.lk.isDeviceBound())).toBe(true);
    await call(tab, '/api/me');
    await sleep(EXPIRY_MS + 500);
    expect(server.count('POST /auth/refresh')).toBe(before);
    expect(await eventsOf(tab, 'signedOut')).toEqual([]);
  });

  it('a proactive refresh whose token another tab replaces while it looks sends nothing (no second rotation)', async () => {
    const page = await openTab(context, server.origin, '?auto=1');
    await signIn(page);
    // The next read of the front cookie (the planned refresh's first look) stands for a tab paused
    // right after reading: meanwhile another tab's refresh lands (here a synchronous request, so the
    // moment is exact), and the read returns what it saw before. A later read sees the new cookie.
    await page.evaluate(() => {
      const real = Object.getOwnPropertyDescriptor(Document.prototype, 'cookie')!;
      let armed = true;
      Object.defineProperty(document, 'cookie', {
        configurable: true,
        set: (v: string) => real.set!.call(document, v),
        get() {
          const seen = real.get!.call(document) as string;
          if (armed) {
            armed = false;
            const other = new XMLHttpRequest();
            other.open('POST', '/auth/refresh', false);
            other.setRequestHeader('X-Latchkey-CSRF', '1');
            other.send();
          }
          return seen;
        },
      });
    });
    await expect.poll(() => server.count('POST /auth/refresh'), { timeout: 5_000 }).toBeGreaterThanOrEqual(1);
    // Any refresh the planned one started is queued on the tab lock by now: once we get it, it is done.
    await page.evaluate(() => navigator.locks.request('latchkey:refresh', async () => {}));
    expect(server.count('POST /auth/refresh')).toBe(1);
    expect((await call(page, '/api/me')).status).toBe(200);
    expect(server.count('POST /auth/refresh')).toBe(1);
  });

  it('a tab that learns of new tokens from another tab takes its server clock too (it would otherwise refresh them early)', async () => {
    await server.close();
    server = await startServer({ dateAheadMs: 900 });
    const [a, b] = [await openTab(context, server.origin), await openTab(context, server.origin)];
    // Tab B has only seen a Date header (not signed in yet): its server-time estimate is coarse.
    expect((await call(b, '/api/me')).status).toBe(401);
    await signIn(a);
    await waitForEvent(b, 'refreshed');
    // Both tabs now place the expiry at the same moment: B uses A's offset (from the front token), not
    // its Date-header guess, which here is 0.4 to 1.4 s ahead: a proactive refresh planned on it would
    // spend a 1-2 s token soon after another tab got it.
    const expiry = (page: Page) => page.evaluate(async () => (await window.lk.getAccessTokenExpiry())!.getTime());
    expect(Math.abs((await expiry(b)) - (await expiry(a)))).toBeLessThan(50);
    expect(server.count('POST /auth/refresh')).toBe(0);
  });

  it('a refused refresh ends the session: signedOut, the 401 returned, and no loop', async () => {
    const page = await openTab(context, server.origin);
    await signIn(page);
    const claims = await page.evaluate(() => window.lk.getClaims());
    await server.engine.revokeSession(String(claims?.sid), 'admin');
    await sleep(EXPIRY_MS);

    expect((await call(page, '/api/me')).status).toBe(401);
    expect(await eventsOf(page, 'signedOut')).toEqual([{ reason: 'refreshFailed' }]);
    expect(await page.evaluate(() => document.cookie)).not.toContain('lk_front');
    expect(await page.evaluate(() => window.lk.doesSessionExist())).toBe(false);
    expect((await call(page, '/api/me')).status).toBe(401);
    await sleep(500);
    expect(server.count('POST /auth/refresh')).toBe(1);
    expect(server.count('GET /api/me')).toBe(2);
  });

  it('an invalid refresh token at start-up means signed out, not an error', async () => {
    const now = Date.now();
    const staleFront = Buffer.from(JSON.stringify({ v: 1, idToken: 'e30.e30.x', exp: now - 60_000, now: now - 120_000 })).toString('base64url');
    await context.addCookies([
      { name: 'lk_front', value: staleFront, url: server.origin, secure: true, sameSite: 'Lax' },
      { name: '__Secure-lk_refresh', value: 'not-a-real-token', domain: 'localhost', path: '/auth/refresh', secure: true, httpOnly: true, sameSite: 'Strict' },
    ]);
    const page = await openTab(context, server.origin, '?auto=1');
    const errors: Error[] = [];
    page.on('pageerror', (e) => errors.push(e));
    expect(await page.evaluate(() => window.lk.doesSessionExist())).toBe(false);
    expect(await page.evaluate(() => window.lk.refresh())).toBe(false);
    await sleep(500);
    expect(await eventsOf(page, 'signedOut')).toEqual([{ reason: 'refreshFailed' }]);
    expect(errors).toEqual([]);
    // One refused refresh for doesSessionExist() (the front token said "expired"), one for the
    // explicit refresh() call, and nothing after: the server cleared the front cookie.
    expect(server.count('POST /auth/refresh')).toBe(2);
  });

  it('a refresh whose cookies the browser drops is reported once, and never retried in a loop', async () => {
    // The browser refusing Set-Cookie (third-party blocking, ITP), reproduced by removing it in transit.
    // (Playwright's route.fetch would store the cookies itself, so the request is relayed from Node.)
    await context.route('**/auth/refresh', async (route) => {
      const request = route.request();
      const headers = Object.fromEntries(Object.entries(await request.allHeaders()).filter(([name]) => !/^(:|host$|connection$|content-length$)/.test(name)));
      const response = await fetch(request.url(), { method: request.method(), headers, body: request.postData() ?? null });
      const kept = Object.fromEntries([...response.headers].filter(([name]) => name !== 'set-cookie'));
      await route.fulfill({ status: response.status, headers: kept, body: Buffer.from(await response.arrayBuffer()) });
    });
    const page = await openTab(context, server.origin, '?auto=1');
    await signIn(page);
    expect(await page.evaluate(() => window.lk.refresh().catch((e: { code: string }) => e.code))).toBe('COOKIE_BLOCKED');
    expect(await eventsOf(page, 'cookieBlocked')).toHaveLength(1);
    // Asking again sends nothing: the answer cannot change until a new sign-in stores cookies.
    expect(await page.evaluate(() => window.lk.refresh().catch((e: { code: string }) => e.code))).toBe('COOKIE_BLOCKED');

    await sleep(EXPIRY_MS);
    expect((await call(page, '/api/me')).status).toBe(401);
    expect(server.count('POST /auth/refresh')).toBe(1);
    expect(await eventsOf(page, 'unauthorised')).toHaveLength(1);
  });

  for (const trigger of ['online', 'visibilitychange'] as const) {
    it(`after a failed proactive refresh, the ${trigger} event retries at once instead of waiting for the back-off`, async () => {
      const page = await openTab(context, server.origin, '?auto=1');
      let aborted = 0;
      await context.route('**/auth/refresh', async (route) => {
        aborted += 1;
        await route.abort('internetdisconnected');
      });
      await signIn(page);
      // The planned refresh and its one immediate retry (a lost answer), both offline; then the back-off.
      await expect.poll(() => aborted, { timeout: 5_000 }).toBe(2);
      await context.unrouteAll();
      // As the browser fires them: `online` at the window, `visibilitychange` at the document, bubbling.
      await page.evaluate((t) => (t === 'online' ? window : document).dispatchEvent(new Event(t, { bubbles: true })), trigger);
      // The back-off would wait 5 s; the event makes it go now.
      await page.waitForFunction(() => window.events.some((e) => e.name === 'refreshed'), null, { timeout: 2_500 });
      expect(server.count('POST /auth/refresh')).toBe(1);
      expect(await eventsOf(page, 'signedOut')).toEqual([]);
    });
  }

  /** Sends a request the page made to the real server from Node (so the server really handles it), answering nothing yet. */
  async function relay(route: Route): Promise<Response> {
    const request = route.request();
    const headers = Object.fromEntries(Object.entries(await request.allHeaders()).filter(([name]) => !/^(:|host$|connection$|content-length$)/.test(name)));
    const response = await fetch(request.url(), { method: request.method(), headers, body: request.postData() ?? null });
    await response.arrayBuffer();
    return response;
  }

  it('a refresh the server committed but whose answer is lost is retried at once, inside the grace window: no theft, the request succeeds', async () => {
    const page = await openTab(context, server.origin);
    await signIn(page);
    let attempts = 0;
    await context.route('**/auth/refresh', async (route) => {
      if (attempts++ > 0) return route.continue();
      await relay(route); // the server rotates the token...
      await route.abort('connectionreset'); // ...and the answer never reaches the browser
    });
    await sleep(EXPIRY_MS);
    expect(await call(page, '/api/me')).toEqual({ status: 200, body: { userId: 'alice' } });
    expect(server.count('POST /auth/refresh')).toBe(2); // the lost one and its one retry, with the same token
    expect(new Set(server.presentedRefresh).size).toBe(1);
    expect(await eventsOf(page, 'theftDetected')).toEqual([]);
    expect(await eventsOf(page, 'signedOut')).toEqual([]);
    const sid = String((await page.evaluate(() => window.lk.getClaims()))?.sid);
    expect((await server.engine.getSession(sid))?.revokedAt).toBeNull();
    // The retry's tokens are current: the next refresh is an ordinary rotation.
    expect(await page.evaluate(() => window.lk.refresh())).toBe(true);
  });

  it('a refresh answer that hangs is given up and retried inside the window the server announced, learnt by another tab', async () => {
    await server.close();
    server = await startServer({ refreshGrace: 2 });
    const [a, b] = [await openTab(context, server.origin), await openTab(context, server.origin)];
    await signIn(a);
    // Tab A's refresh answer says X-Latchkey-Refresh-Grace: 2; tab B hears it with the new tokens.
    expect(await a.evaluate(() => window.lk.refresh())).toBe(true);
    await waitForEvent(b, 'refreshed');
    let held: Route | undefined;
    await context.route('**/auth/refresh', async (route) => {
      if (held) return route.continue();
      held = route;
      await relay(route); // committed; the answer is then held until the page gives up on it
    });
    const started = Date.now();
    // With the default window's 7.5 s timeout, the retry would come after the 2 s window: theft.
    expect(await b.evaluate(() => window.lk.refresh())).toBe(true);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(server.count('POST /auth/refresh')).toBe(3);
    for (const tab of [a, b]) expect(await eventsOf(tab, 'theftDetected')).toEqual([]);
    expect((await call(a, '/api/me')).status).toBe(200);
    await held?.abort().catch(() => {});
  });

  it('a refresh without network is an error the app can tell from "signed out": no unauthorised, no signedOut', async () => {
    const page = await openTab(context, server.origin);
    await signIn(page);
    await context.route('**/auth/refresh', (route) => route.abort('internetdisconnected'));
    await sleep(EXPIRY_MS);
    expect(await call(page, '/api/me')).toEqual({ status: 0, error: 'REFRESH_UNAVAILABLE' });
    expect(await eventsOf(page, 'unauthorised')).toEqual([]);
    expect(await eventsOf(page, 'signedOut')).toEqual([]);
    expect(await page.evaluate(() => window.lk.doesSessionExist())).toBe(true);
    await context.unrouteAll();
    expect((await call(page, '/api/me')).status).toBe(200); // the session was fine all along
  });

  for (const [label, status, contentType, body] of [
    ['a 503 of latchkey', 503, 'application/json', '{"error":{"code":"STORE_UNAVAILABLE","message":"store unavailable"}}'],
    ["a proxy's 502 HTML page", 502, 'text/html', '<html><body><h1>502 Bad Gateway</h1></body></html>'],
  ] as const) {
    it(`a refresh answered with ${label} is REFRESH_UNAVAILABLE: no unauthorised, no signedOut, the session stays`, async () => {
      const page = await openTab(context, server.origin);
      await signIn(page);
      await context.route('**/auth/refresh', (route) => route.fulfill({ status, contentType, body }));
      await sleep(EXPIRY_MS);
      expect(await call(page, '/api/me')).toEqual({ status: 0, error: 'REFRESH_UNAVAILABLE' });
      expect(await eventsOf(page, 'unauthorised')).toEqual([]);
      expect(await eventsOf(page, 'signedOut')).toEqual([]);
      // The 5xx said nothing about the session: its cookies are kept, and it works once the server does.
      expect(await page.evaluate(() => document.cookie)).toContain('lk_front');
      await context.unrouteAll();
      expect((await call(page, '/api/me')).status).toBe(200);
    });
  }

  it('axios interceptor installed twice in cookie mode: unauthorised fires once per failed request', async () => {
    const page = await openTab(context, server.origin);
    await page.addScriptTag({
      type: 'module',
      content: "import axios from '/axios.js'; window.api = axios.create(); window.lk.axiosInterceptor(window.api); window.lk.axiosInterceptor(window.api); window.apiReady = true;",
    });
    await page.waitForFunction(() => (window as unknown as { apiReady?: boolean }).apiReady === true);
    await signIn(page);
    // The session ends on the server: the access cookie is refused, the one refresh too.
    await server.engine.revokeSession(String((await page.evaluate(() => window.lk.getClaims()))?.sid), 'admin');
    const status = await page.evaluate(async () => {
      const api = (window as unknown as { api: { get(u: string): Promise<unknown> } }).api;
      return api.get('/api/me').then(() => 200, (e: { response?: { status: number } }) => e.response?.status ?? 0);
    });
    expect(status).toBe(401);
    expect(await eventsOf(page, 'unauthorised')).toHaveLength(1);
    expect(await eventsOf(page, 'signedOut')).toEqual([{ reason: 'refreshFailed' }]);
    expect(server.count('POST /auth/refresh')).toBe(1);
  });

  it('a claim update in one tab (new cookies) emits claimsUpdated in every tab, with the new claims', async () => {
    const [a, b] = [await openTab(context, server.origin, '?auto=1'), await openTab(context, server.origin, '?auto=1')];
    await signIn(a);
    await waitForEvent(b, 'refreshed'); // B heard of the sign-in
    const rename = await call(a, '/api/rename', { method: 'POST', body: JSON.stringify({ name: 'Bob' }), headers: { 'content-type': 'application/json' } });
    expect(rename.status).toBe(200);
    await waitForEvent(b, 'claimsUpdated');
    for (const tab of [a, b]) {
      expect(await eventsOf(tab, 'claimsUpdated')).toEqual([{ claims: expect.objectContaining({ sub: 'alice', name: 'Bob' }) }]);
      expect(await tab.evaluate(() => window.lk.getClaims())).toMatchObject({ name: 'Bob' });
    }
    // An update is not a refresh, nor a new sign-in.
    expect(await eventsOf(a, 'refreshed')).toEqual([]);
    expect(await eventsOf(b, 'refreshed')).toHaveLength(1);
    expect(server.count('POST /auth/refresh')).toBe(0);
  });

  for (const path of ['an API call', 'a refresh'] as const) {
    it(`after a theft elsewhere, the next 401 (${path}) makes every tab emit theftDetected, never signedOut: refreshFailed`, async () => {
      const [a, b] = [await openTab(context, server.origin), await openTab(context, server.origin)];
      await signIn(a);
      const stolen = (await context.cookies()).find((c) => c.name === '__Secure-lk_refresh')!.value;
      // Two rotations in the victim's browser: the stolen token is now a grandparent, theft in any window.
      expect(await a.evaluate(() => window.lk.refresh())).toBe(true);
      expect(await a.evaluate(() => window.lk.refresh())).toBe(true);
      // The thief replays it from elsewhere: the server revokes the session.
      const thief = await fetch(`${server.origin}/auth/refresh`, { method: 'POST', headers: { cookie: `__Secure-lk_refresh=${stolen}`, 'x-latchkey-csrf': '1' } });
      expect(thief.status).toBe(401);
      const sid = String((await a.evaluate(() => window.lk.getClaims()))?.sid);
      expect((await server.engine.getSession(sid))?.revokedReason).toBe('theft');
      // The victim's next request: its access token is still unexpired (API call), or a refresh.
      if (path === 'a refresh') expect(await b.evaluate(() => window.lk.refresh())).toBe(false);
      else expect((await call(b, '/api/me')).status).toBe(401);
      await waitForEvent(a, 'theftDetected');
      for (const tab of [a, b]) {
        // The victim learns it was theft, and that its session had been revoked for it elsewhere.
        expect(await eventsOf(tab, 'theftDetected')).toEqual([{ sessionId: sid, userId: 'alice', reason: 'revoked-for-theft' }]);
        expect(await eventsOf(tab, 'signedOut')).toEqual([{ reason: 'theft' }]);
      }
    });
  }

  for (const skewMinutes of [10, -10]) {
    it(`a client clock ${skewMinutes > 0 ? 'ahead' : 'behind'} by 10 minutes changes nothing`, async () => {
      await context.addInitScript((skew: number) => {
        const real = Date.now;
        Date.now = () => real() + skew;
      }, skewMinutes * 60_000);
      const page = await openTab(context, server.origin, '?auto=1');
      expect(await page.evaluate(() => Math.abs(Date.now() - performance.timeOrigin - performance.now()))).toBeGreaterThan(9 * 60_000);
      await signIn(page);
      // Expiry on the device's clock: in the (skewed) near future, as it is on the server's.
      const expiresIn = await page.evaluate(async () => ((await window.lk.getAccessTokenExpiry())?.getTime() ?? 0) - Date.now());
      expect(expiresIn).toBeGreaterThan(0);
      expect(expiresIn).toBeLessThanOrEqual(2_100);
      expect(await page.evaluate(() => window.lk.doesSessionExist())).toBe(true);
      expect(server.count('POST /auth/refresh')).toBe(0);

      const statuses: number[] = [];
      for (let i = 0; i < 8; i++) {
        await sleep(500);
        statuses.push((await call(page, '/api/me')).status);
      }
      expect(statuses.every((s) => s === 200)).toBe(true);
      const refreshes = server.count('POST /auth/refresh');
      expect(refreshes).toBeGreaterThanOrEqual(1);
      expect(refreshes).toBeLessThanOrEqual(8); // ~4 s of 1–2 s tokens; a clock-driven loop would make hundreds
    });
  }
});
