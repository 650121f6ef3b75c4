/**
 * OWASP (JWT and HTML5 cheat sheets): tokens never in localStorage. In real Chromium, with the SDK
 * and its cross-tab machinery (BroadcastChannel + Web Locks, and the localStorage fallbacks), every
 * value any tab ever writes to localStorage or sessionStorage is recorded (Storage.prototype.setItem
 * is wrapped before any page script), through sign-in, refreshes in two tabs, a theft and sign-out.
 * None may contain an access or refresh token, and no IndexedDB database may be created.
 *
 * Reuses the SDK suite's server and browser helpers (packages/client/test/helpers).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { chromiumAvailable, launchChromium, openTab } from '../../../client/test/helpers/browser.js';
import { startServer, type TestServer } from '../../../client/test/helpers/server.js';

const available = await chromiumAvailable();

/** Records every Storage write in the page, before any page script runs. */
const RECORD_STORAGE = `(() => {
  const written = [];
  const set = Storage.prototype.setItem;
  Storage.prototype.setItem = function (key, value) { written.push(String(key) + '=' + String(value)); return set.call(this, key, value); };
  Object.defineProperty(window, '__written', { value: written });
})();`;

const NO_TAB_APIS = `(() => {
  delete window.BroadcastChannel;
  Object.defineProperty(Navigator.prototype, 'locks', { get: () => undefined, configurable: true });
})();`;

async function evaluate<T>(page: Page, expression: string): Promise<T> {
  return page.evaluate(expression) as Promise<T>;
}

describe.skipIf(!available)('no token in web storage (Chromium, SDK)', () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
  });

  for (const variant of ['BroadcastChannel + Web Locks', 'localStorage fallbacks'] as const) {
    it(`${variant}: nothing written to localStorage or sessionStorage holds a token`, { timeout: 60_000 }, async () => {
      let server: TestServer | undefined;
      let context: BrowserContext | undefined;
      try {
        server = await startServer();
        context = await browser.newContext();
        await context.addInitScript({ content: RECORD_STORAGE });
        if (variant === 'localStorage fallbacks') await context.addInitScript({ content: NO_TAB_APIS });
        const tabs = [await openTab(context, server.origin), await openTab(context, server.origin)];
        const tokens = new Set<string>();
        const collect = async () => {
          for (const c of await context!.cookies()) if (c.name === '__Host-lk_access' || c.name === '__Secure-lk_refresh') tokens.add(c.value);
        };

        expect((await evaluate<{ status: number }>(tabs[0]!, `window.call('/app/signin', { method: 'POST' })`)).status).toBe(200);
        await collect();
        for (let i = 0; i < 3; i++) {
          expect(await evaluate<boolean>(tabs[i % 2]!, 'window.lk.refresh()')).toBe(true);
          await collect();
        }
        // A theft, heard by both tabs through the channel (or its fallback), then a fresh sign-in and sign-out.
        const stolen = (await context.cookies()).find((c) => c.name === '__Secure-lk_refresh')!;
        expect(await evaluate<boolean>(tabs[0]!, 'window.lk.refresh()')).toBe(true);
        expect(await evaluate<boolean>(tabs[1]!, 'window.lk.refresh()')).toBe(true);
        await collect();
        await context.addCookies([stolen]);
        expect(await evaluate<boolean>(tabs[0]!, 'window.lk.refresh()')).toBe(false);
        await tabs[1]!.waitForFunction('window.events.some((e) => e.name === "theftDetected")', undefined, { timeout: 5_000 });
        expect((await evaluate<{ status: number }>(tabs[1]!, `window.call('/app/signin', { method: 'POST' })`)).status).toBe(200);
        await collect();
        await evaluate(tabs[1]!, 'window.lk.signOut()');

        expect(tokens.size).toBeGreaterThanOrEqual(8);
        for (const tab of tabs) {
          const written = await evaluate<string[]>(tab, 'window.__written');
          const stored = await evaluate<string[]>(tab, `[localStorage, sessionStorage].flatMap((s) => Object.keys(s).map((k) => k + '=' + s.getItem(k)))`);
          for (const entry of [...written, ...stored]) {
            for (const token of tokens) expect(entry.includes(token), `storage entry ${entry.slice(0, 80)} holds a token`).toBe(false);
            expect(entry, 'a refresh token shape in storage').not.toMatch(/lkrt_/);
            expect(entry, 'a JWT shape in storage').not.toMatch(/eyJ[A-Za-z0-9_-]{10,}\.eyJ/);
          }
          if (variant === 'localStorage fallbacks') {
            // The fallback really ran: it wrote (notices, lock leases) to localStorage.
            expect(written.length, 'the localStorage fallback wrote nothing: this variant proved nothing').toBeGreaterThan(0);
          }
          expect(await evaluate<unknown[]>(tab, 'indexedDB.databases()')).toEqual([]);
        }
      } finally {
        await context?.close();
        await server?.close();
      }
    });
  }
});
