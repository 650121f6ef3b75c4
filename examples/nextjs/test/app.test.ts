/**
 * examples/nextjs as CI runs it: `next build` in a fresh copy, then `next start`, driven in real Chromium.
 *
 * The build gets every setting the app reads at run time, plus a Redis URL that points at a TCP trap:
 * it must create no file outside `.next` (no SQLite database, no key file) and open no connection.
 * Then, on the built app (3 s access tokens, 1 s revocation-feed polls): sign-up, a guarded page,
 * expiry and silent refresh, sign-out in one tab reflected in another, revocation of another device
 * from "your devices" taking effect on its next navigation, and refresh in header mode.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumAvailable, launchChromium } from '../../../packages/client/test/helpers/browser.js';

const available = await chromiumAvailable();
const root = fileURLToPath(new URL('../../../', import.meta.url));
const example = join(root, 'examples/nextjs');
const NEXT = join(root, 'node_modules/next/dist/bin/next');
/** A build on a loaded two-core machine takes minutes: generous, never asserted on. */
const BUILD_TIMEOUT = 900_000;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Every file under `dir`, relative, except the build output and dependencies. */
function files(dir: string): string[] {
  return (readdirSync(dir, { recursive: true, withFileTypes: true }) as { name: string; parentPath: string; isFile(): boolean }[])
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)))
    .filter((f) => !f.startsWith('.next/') && !f.startsWith('node_modules/'))
    .sort();
}

function run(args: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [NEXT, ...args], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    child.once('exit', (code) => resolve({ code, output }));
  });
}

describe.skipIf(!available)('examples/nextjs: next build && next start, in Chromium', () => {
  let dir: string;
  let origin: string;
  let runtimeEnv: NodeJS.ProcessEnv;
  let server: ChildProcess | undefined;
  let serverOutput = '';
  let browser: Browser;
  let trap: Server;
  let trapped = 0;
  let built: { code: number | null; output: string; before: string[]; after: string[]; ms: number };

  beforeAll(async () => {
    dir = mkdtempSync(join(root, 'examples/.nextjs-test-'));
    cpSync(example, dir, { recursive: true, filter: (src) => !/[\\/](\.next|\.data|node_modules|test)$/.test(src) });
    const port = await freePort();
    origin = `http://localhost:${port}`;
    trap = createServer((socket) => {
      trapped++;
      socket.destroy();
    });
    await new Promise<void>((resolve) => trap.listen(0, '127.0.0.1', resolve));
    runtimeEnv = {
      ...process.env,
      NODE_ENV: 'production',
      NEXT_TELEMETRY_DISABLED: '1',
      APP_ORIGIN: origin,
      LATCHKEY_SECRET: 'a secret for the Next.js example test, 32+ bytes',
      LATCHKEY_FEED_CREDENTIAL: 'feed-credential-for-the-nextjs-example-test',
      LATCHKEY_DB: join(dir, '.data/latchkey.db'),
      LATCHKEY_ACCESS_TTL: '3',
      LATCHKEY_FEED_POLL: '1',
    };
    const before = files(dir);
    const started = Date.now();
    const result = await run(['build'], dir, {
      ...runtimeEnv,
      LATCHKEY_REDIS_URL: `redis://127.0.0.1:${(trap.address() as { port: number }).port}`,
    });
    built = { ...result, before, after: files(dir), ms: Date.now() - started };
    console.info(`examples/nextjs: next build took ${Math.round(built.ms / 1000)} s`);
    if (built.code !== 0) return;

    server = spawn(process.execPath, [NEXT, 'start', '-p', String(port), '-H', 'localhost'], {
      cwd: dir,
      env: runtimeEnv,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    server.stdout!.on('data', (c: Buffer) => (serverOutput += c.toString()));
    server.stderr!.on('data', (c: Buffer) => (serverOutput += c.toString()));
    for (let i = 0; i < 300; i++) {
      if (
        (await fetch(`${origin}/`).then(
          (r) => r.status,
          () => 0,
        )) === 200
      )
        break;
      await new Promise((r) => setTimeout(r, 200));
    }
    browser = await launchChromium();
  }, BUILD_TIMEOUT);

  afterAll(async () => {
    await browser?.close();
    server?.kill('SIGTERM');
    await new Promise<void>((resolve) => (trap ? trap.close(() => resolve()) : resolve()));
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('builds', () => {
    expect(built.code, built.output).toBe(0);
  });

  it('next build made no file outside .next (no database, no key) and opened no connection', () => {
    // Next may write next-env.d.ts (committed, so unchanged); nothing else may appear.
    expect(built.after.filter((f) => !built.before.includes(f))).toEqual([]);
    expect(existsSync(join(dir, '.data'))).toBe(false);
    expect(trapped).toBe(0);
  });

  const text = (page: Page, selector: string) => page.locator(selector).textContent();

  async function signUp(context: BrowserContext, email: string): Promise<Page> {
    const page = await context.newPage();
    await page.goto(`${origin}/sign-up`);
    await page.fill('input[name=email]', email);
    await page.fill('input[name=password]', 'correct horse battery');
    await page.click('#submit:not([disabled])');
    await page.waitForURL(`${origin}/dashboard`, { timeout: 30_000 });
    return page;
  }

  async function signIn(context: BrowserContext, email: string): Promise<Page> {
    const page = await context.newPage();
    await page.goto(`${origin}/sign-in`);
    await page.fill('input[name=email]', email);
    await page.fill('input[name=password]', 'correct horse battery');
    await page.click('#submit:not([disabled])');
    await page.waitForURL(`${origin}/dashboard`, { timeout: 30_000 });
    return page;
  }

  it('signs up, renders the guarded page on the server, refreshes silently after expiry, and a sign-out in one tab reaches the other', async () => {
    expect(built.code, built.output).toBe(0);
    const context = await browser.newContext();
    try {
      // A guarded page without a session: the proxy sends the browser to refresh, which sends it to sign in.
      const anonymous = await context.newPage();
      await anonymous.goto(`${origin}/dashboard`);
      await anonymous.waitForURL(`${origin}/sign-in`, { timeout: 30_000 });
      await anonymous.close();

      const a = await signUp(context, 'ada@example.com');
      expect(await text(a, '#server-user')).toMatch(/^Signed in as [\w-]{36}$/);
      await a.waitForFunction(() => document.getElementById('client-status')?.textContent?.startsWith('signedIn '));
      const first = Number(await text(a, '#client-expires'));

      // Past the 3 s lifetime: the SDK has refreshed (or the proxy sends the navigation through /refresh).
      await a.waitForTimeout(4_000);
      await a.goto(`${origin}/dashboard`);
      await a.waitForURL(`${origin}/dashboard`, { timeout: 30_000 });
      expect(await text(a, '#server-user')).toMatch(/^Signed in as /);
      await a.waitForFunction((t) => Number(document.getElementById('client-expires')?.textContent) > t, first, { timeout: 15_000 });

      const b = await context.newPage();
      await b.goto(`${origin}/dashboard`);
      await b.waitForFunction(() => document.getElementById('client-status')?.textContent?.startsWith('signedIn '));
      await a.click('#sign-out');
      await a.waitForURL(`${origin}/sign-in`, { timeout: 30_000 });
      await b.waitForFunction(() => document.getElementById('client-status')?.textContent === 'signedOut -', undefined, {
        timeout: 15_000,
      });
      await b.goto(`${origin}/dashboard`);
      await b.waitForURL(`${origin}/sign-in`, { timeout: 30_000 });
    } finally {
      await context.close();
    }
  }, 180_000);

  it('a session revoked from "your devices" is refused on that device\'s next navigation', async () => {
    expect(built.code, built.output).toBe(0);
    const laptop = await browser.newContext();
    const phone = await browser.newContext();
    try {
      await signUp(laptop, 'grace@example.com').then((p) => p.close());
      const onPhone = await signIn(phone, 'grace@example.com');
      const devices = await laptop.newPage();
      await devices.goto(`${origin}/devices`);
      await devices.waitForSelector('#devices li[data-current=no] button');
      await devices.click('#devices li[data-current=no] button');
      await devices.waitForFunction(() => document.querySelectorAll('#devices li').length === 1, undefined, { timeout: 15_000 });

      // At once, not after the proxy's poll interval: the page checks with the process's engine.
      await onPhone.goto(`${origin}/dashboard`);
      await onPhone.waitForURL(`${origin}/sign-in`, { timeout: 30_000 });
    } finally {
      await laptop.close();
      await phone.close();
    }
  }, 180_000);

  it('header mode: bearer tokens, and the SDK refreshes them after expiry', async () => {
    expect(built.code, built.output).toBe(0);
    const context = await browser.newContext();
    try {
      const setup = await signUp(context, 'hedy@example.com');
      const userId = (await text(setup, '#server-user'))!.replace('Signed in as ', '');
      const page = await context.newPage();
      await page.goto(`${origin}/header-mode`);
      await page.fill('input[name=email]', 'hedy@example.com');
      await page.fill('input[name=password]', 'correct horse battery');
      await page.click('#header-sign-in:not([disabled])');
      await page.waitForFunction(() => document.getElementById('header-status')?.textContent === 'signedIn', undefined, {
        timeout: 15_000,
      });
      const first = Number(await text(page, '#header-expires'));
      await page.click('#header-call-me');
      await page.waitForFunction((id) => document.getElementById('header-me')?.textContent === id, userId, { timeout: 15_000 });
      await page.waitForTimeout(4_000);
      await page.click('#header-call-me');
      await page.waitForFunction((t) => Number(document.getElementById('header-expires')?.textContent) > t, first, { timeout: 15_000 });
      expect(await text(page, '#header-me')).toBe(userId);
    } finally {
      await context.close();
    }
  }, 180_000);
});
