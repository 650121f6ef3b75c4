/**
 * @latchkey/react in real Chromium: a small React 19 app (bundled from the sources with esbuild, as
 * an app's bundler would) on a real latchkey server in cookie mode, two tabs of one browser. Proves
 * what jsdom cannot: cookies, the SDK's cross-tab channel reaching `useSession()` in another tab, a
 * silent refresh showing up as a new expiry, and a claim set on the server reaching `useClaim()` in
 * every tab with that refresh.
 */
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { chromiumAvailable, launchChromium } from '../../client/test/helpers/browser.js';
import { startAppServer, type AppServer } from './helpers/server.js';

const available = await chromiumAvailable();

const APP = `
import { createElement as h } from 'react';
import { createRoot } from 'react-dom/client';
import { createLatchkeyClient } from '@latchkey/client';
import { EmailVerifiedClaim } from '@latchkey/client/claims';
import { LatchkeyProvider, SignedIn, SignedOut, useClaim, useLatchkeyClient, useReloadSession, useSession, useSignOut } from '@latchkey/react';

const emailVerified = [EmailVerifiedClaim.isTrue()];

function App() {
  const s = useSession();
  const client = useLatchkeyClient();
  const reload = useReloadSession();
  const signOut = useSignOut();
  const claim = useClaim(emailVerified);
  const signIn = async () => {
    await client.fetch('/app/signin', { method: 'POST' });
    await reload();
  };
  return h('main', null,
    h('p', { id: 'status' }, s.status + ' ' + (s.userId ?? '-')),
    h('p', { id: 'expires' }, s.expiresAt ? String(s.expiresAt.getTime()) : '-'),
    h('p', { id: 'claim' }, claim.loading ? 'loading' : claim.valid ? 'valid' : claim.failures.map((f) => f.id + ':' + f.reason).join(',')),
    h('button', { id: 'verify', onClick: () => void client.fetch('/api/verify-email', { method: 'POST' }) }, 'Verify'),
    h(SignedIn, null, h('button', { id: 'signout', onClick: () => void signOut() }, 'Sign out')),
    h(SignedOut, null, h('button', { id: 'signin', onClick: () => void signIn() }, 'Sign in')));
}
createRoot(document.getElementById('root')).render(h(LatchkeyProvider, { client: () => createLatchkeyClient() }, h(App)));
`;
const HTML =
  '<!doctype html><meta charset="utf-8"><title>@latchkey/react test</title><div id="root"></div><script type="module" src="/app.js"></script>';

async function bundleApp(): Promise<string> {
  const src = (path: string) => fileURLToPath(new URL(path, import.meta.url));
  const result = await build({
    stdin: { contents: APP, resolveDir: src('.'), loader: 'js' },
    // The SDK's folder, so that its subpaths resolve too (`@latchkey/client/claims` is claims/index.ts).
    alias: { '@latchkey/client': src('../../client/src'), '@latchkey/react': src('../src/index.ts') },
    define: { 'process.env.NODE_ENV': '"production"' },
    bundle: true,
    format: 'esm',
    target: 'es2022',
    platform: 'browser',
    write: false,
    logLevel: 'silent',
  });
  return result.outputFiles[0]!.text;
}

const statusOf = (page: Page) => page.textContent('#status');
const waitForStatus = (page: Page, text: string) =>
  page.waitForFunction((t) => document.getElementById('status')?.textContent === t, text, { timeout: 10_000 });

describe.skipIf(!available)('@latchkey/react in Chromium', () => {
  let browser: Browser;
  let script: string;
  let server: AppServer;
  let context: BrowserContext;

  beforeAll(async () => {
    [browser, script] = await Promise.all([launchChromium(), bundleApp()]);
  });
  afterAll(async () => {
    await browser?.close();
  });
  beforeEach(async () => {
    server = await startAppServer({ page: { html: HTML, script } });
    context = await browser.newContext();
  });
  afterEach(async () => {
    await context?.close();
    await server?.close();
  });

  async function openTab(): Promise<Page> {
    const page = await context.newPage();
    await page.goto(`${server.origin}/`);
    await page.waitForFunction(() => /^(signedIn|signedOut) /.test(document.getElementById('status')?.textContent ?? ''));
    return page;
  }

  it('signs in, and the other tab follows; signs out in one tab, and the other follows', async () => {
    const a = await openTab();
    const b = await openTab();
    expect(await statusOf(a)).toBe('signedOut -');
    expect(await statusOf(b)).toBe('signedOut -');

    await a.click('#signin');
    await waitForStatus(a, 'signedIn alice');
    // Tab B did nothing: the SDK's tab channel told it of the sign-in.
    await waitForStatus(b, 'signedIn alice');

    await b.click('#signout');
    await waitForStatus(b, 'signedOut -');
    await waitForStatus(a, 'signedOut -');
    expect(await a.isVisible('#signin')).toBe(true);
  });

  it('a new tab of a signed-in browser renders signedIn from the cookies', async () => {
    const a = await openTab();
    await a.click('#signin');
    await waitForStatus(a, 'signedIn alice');
    const c = await openTab();
    expect(await statusOf(c)).toBe('signedIn alice');
  });

  it('useClaim: a claim the server sets reaches both tabs with the next silent refresh', async () => {
    const a = await openTab();
    const b = await openTab();
    expect(await a.textContent('#claim')).toBe('lk-ev.isTrue:missing'); // signed out: nothing to judge but absence
    await a.click('#signin');
    await waitForStatus(b, 'signedIn alice');
    expect(await a.textContent('#claim')).toBe('lk-ev.isTrue:missing');
    await a.click('#verify');
    // The tokens held predate the claim; the SDK's next refresh (2 s tokens) brings it to every tab.
    for (const tab of [a, b])
      await tab.waitForFunction(() => document.getElementById('claim')?.textContent === 'valid', undefined, { timeout: 10_000 });
  });

  it('shows the new expiry after the SDK refreshed silently, in both tabs', async () => {
    const a = await openTab();
    const b = await openTab();
    await a.click('#signin');
    await waitForStatus(b, 'signedIn alice');
    const first = Number(await a.textContent('#expires'));
    // 2 s access tokens: the SDK refreshes before expiry (once, across tabs), and useSession sees it.
    await a.waitForFunction((t) => Number(document.getElementById('expires')?.textContent) > t, first, { timeout: 10_000 });
    await b.waitForFunction((t) => Number(document.getElementById('expires')?.textContent) > t, first, { timeout: 10_000 });
    expect(await statusOf(a)).toBe('signedIn alice');
  });
});
