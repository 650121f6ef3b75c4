/**
 * examples/nextjs as CI runs it: `next build` in a fresh copy, then `next start`, driven in real Chromium.
 *
 * The build gets every setting the app reads at run time, plus a Redis URL that points at a TCP trap:
 * it must create no file outside `.next` (no SQLite database, no key file) and open no connection.
 * Then, on the built app (3 s access tokens, 1 s revocation-feed polls): sign-up, a guarded page,
 * expiry and silent refresh, sign-out in one tab reflected in another, revocation of another device
 * from "your devices" taking effect on its next navigation, and refresh in header mode.
 *
 * Then each layer on its own: proxy.ts (the edge verifier) verifies a genuine token and refuses a
 * forged, an expired and a revoked one, the last within its poll interval; after a sign-out the old
 * cookie is refused by the route handlers and renders no guarded page, at once (one engine per
 * process). And two `next start` processes on one SQLite file and the Redis bus: a sign-out through
 * one is refused by the other's route handler and server components at once, while its proxy (a
 * long poll interval there) still lets the token through: each layer holds by itself.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { decodeJwt, decodeProtectedHeader, generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumAvailable, launchChromium } from '../../../packages/client/test/helpers/browser.js';
import { redisAvailable, REDIS_URL } from '../../../packages/latchkey/test/helpers/postgres.js';

const available = await chromiumAvailable();
const redis = available && (await redisAvailable());
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

interface NextServer {
  origin: string;
  output(): string;
  stop(): void;
}

/** `next start` on `port`, answering once `/` does. */
async function startNext(cwd: string, port: number, env: NodeJS.ProcessEnv): Promise<NextServer> {
  const child: ChildProcess = spawn(process.execPath, [NEXT, 'start', '-p', String(port), '-H', 'localhost'], {
    cwd,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
  const origin = `http://localhost:${port}`;
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
  return { origin, output: () => output, stop: () => void child.kill('SIGTERM') };
}

const ACCESS_COOKIE = '__Host-lk_access';

/** The access token the browser holds for the app (cookies are per host, not per port). */
async function accessToken(context: BrowserContext): Promise<string> {
  const cookie = (await context.cookies()).find((c) => c.name === ACCESS_COOKIE);
  if (!cookie) throw new Error('the browser holds no access cookie');
  return cookie.value;
}

/** Where a 307 answer sends the browser: `/refresh?next=...` is how every layer refuses a page. */
function refreshTarget(res: Response, at: string): string | null {
  if (res.status !== 307) return null;
  const to = new URL(res.headers.get('location') ?? '', at);
  return to.pathname === '/refresh' ? to.searchParams.get('next') : null;
}

/**
 * What proxy.ts alone says of a token: a guarded path (the matcher's `/dashboard/:path*`) with no
 * page behind it, so a 404 means the proxy let the request through, and its redirect to /refresh
 * means it refused it.
 */
async function proxyVerdict(at: string, token: string): Promise<'passed' | 'refused'> {
  const res = await fetch(`${at}/dashboard/proxy-probe`, { headers: { cookie: `${ACCESS_COOKIE}=${token}` }, redirect: 'manual' });
  if (res.status === 404) return 'passed';
  if (refreshTarget(res, at) === '/dashboard/proxy-probe') return 'refused';
  throw new Error(`unexpected answer at the proxy: ${res.status} ${res.headers.get('location')}`);
}

/** Whether `/dashboard` renders for a token (the proxy, then the page's getSession()). */
async function dashboardVerdict(at: string, token: string): Promise<'rendered' | 'refused'> {
  const res = await fetch(`${at}/dashboard`, { headers: { cookie: `${ACCESS_COOKIE}=${token}` }, redirect: 'manual' });
  if (res.status === 200 && (await res.text()).includes('Signed in as')) return 'rendered';
  if (refreshTarget(res, at) === '/dashboard') return 'refused';
  throw new Error(`unexpected answer for /dashboard: ${res.status} ${res.headers.get('location')}`);
}

/** The route handler `/api/me` (not behind the proxy): its status for a token. */
async function apiStatus(at: string, token: string): Promise<number> {
  return (await fetch(`${at}/api/me`, { headers: { cookie: `${ACCESS_COOKIE}=${token}` } })).status;
}

/** Asks until `check` answers `want` or `ms` pass; the last answer is returned (and asserted by the caller). */
async function until<T>(check: () => Promise<T>, want: T, ms: number): Promise<T> {
  const deadline = Date.now() + ms;
  let got = await check();
  while (got !== want && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    got = await check();
  }
  return got;
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
  let server: NextServer | undefined;
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

    server = await startNext(dir, port, runtimeEnv);
    browser = await launchChromium();
  }, BUILD_TIMEOUT);

  afterAll(async () => {
    await browser?.close();
    server?.stop();
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
  it('proxy.ts verifies a genuine token and refuses a forged, an expired and a revoked one (within its 1 s poll); after sign-out the old cookie is refused at once', async () => {
    expect(built.code, built.output).toBe(0);
    const at = server!.origin;
    const laptop = await browser.newContext();
    const phone = await browser.newContext();
    try {
      await signUp(laptop, 'alan@example.com').then((p) => p.close());
      const older = await accessToken(laptop);
      const onPhone = await signIn(phone, 'alan@example.com');
      const revoked = await accessToken(phone);

      // Genuine: the proxy lets it through, the page renders, the route handler answers.
      expect(await proxyVerdict(at, older)).toBe('passed');
      expect(await proxyVerdict(at, revoked)).toBe('passed');
      expect(await dashboardVerdict(at, revoked)).toBe('rendered');
      expect(await apiStatus(at, revoked)).toBe(200);

      // Forged: claims altered under the genuine signature; a token signed by another key under the
      // app's kid; an unsigned one.
      const [header, payload, signature] = older.split('.') as [string, string, string];
      const claims = decodeJwt(older);
      const altered = `${header}.${Buffer.from(JSON.stringify({ ...claims, sub: 'mallory' })).toString('base64url')}.${signature}`;
      expect(await proxyVerdict(at, altered)).toBe('refused');
      const { alg, kid, typ } = decodeProtectedHeader(older);
      const { privateKey } = await generateKeyPair(alg!);
      const foreign = await new SignJWT({ ...claims, sub: 'mallory' })
        .setProtectedHeader({ alg: alg!, kid: kid!, typ: typ! })
        .sign(privateKey);
      expect(await proxyVerdict(at, foreign)).toBe('refused');
      const unsigned = `${Buffer.from(JSON.stringify({ alg: 'none', typ })).toString('base64url')}.${payload}.`;
      expect(await proxyVerdict(at, unsigned)).toBe('refused');

      // Sign-out on the phone: the process's one engine knows at once, so the route handler (not
      // behind the proxy) refuses the old cookie on the very next request, and /dashboard no longer
      // renders for it, whatever the proxy's poll has seen yet.
      await onPhone.click('#sign-out');
      await onPhone.waitForURL(`${at}/sign-in`, { timeout: 30_000 });
      expect(await apiStatus(at, revoked)).toBe(401);
      expect(await dashboardVerdict(at, revoked)).toBe('refused');

      // The proxy on its own refuses it within its poll interval (1 s here; asked with slack for a
      // loaded machine, never assumed), while the older token of the session still open passes: the
      // refusal is the revocation, not the clock.
      expect(await until(() => proxyVerdict(at, revoked), 'refused', 1_000 + 10_000)).toBe('refused');
      expect(await proxyVerdict(at, older)).toBe('passed');

      // Expired: the same genuine token, once past its 3 s lifetime and the edge verifier's default
      // 30 s clock tolerance, is refused (the browser is sent through /refresh).
      const expiredAt = (claims.exp! + 30) * 1000;
      await new Promise((r) => setTimeout(r, Math.max(0, expiredAt - Date.now()) + 1_500));
      expect(await proxyVerdict(at, older)).toBe('refused');
      expect(await apiStatus(at, older)).toBe(401);
    } finally {
      await laptop.close();
      await phone.close();
    }
  }, 180_000);

  it.skipIf(!redis)(
    'two next start processes on one SQLite file and the Redis bus: a sign-out through one is refused by the other at once, in its route handler and its pages, while its proxy still passes the token',
    async () => {
      expect(built.code, built.output).toBe(0);
      const [portA, portB] = [await freePort(), await freePort()];
      // Two instances behind one public origin (APP_ORIGIN: the issuer, and where the proxies read
      // the JWKS and the feed): A's, as a load balancer would present it. A 60 s lifetime and a 120 s
      // feed poll, so that neither expiry nor the proxy explains a refusal: only the bus can.
      const fleetEnv = {
        ...runtimeEnv,
        APP_ORIGIN: `http://localhost:${portA}`,
        LATCHKEY_DB: join(dir, '.data/fleet.db'),
        LATCHKEY_ACCESS_TTL: '60',
        LATCHKEY_FEED_POLL: '120',
        // The engine's store poll off: B can learn of the sign-out from the bus alone.
        LATCHKEY_REVOCATION_POLL: '0',
        LATCHKEY_REDIS_URL: REDIS_URL,
      };
      const a = await startNext(dir, portA, fleetEnv);
      let b: NextServer | undefined;
      const context = await browser.newContext();
      try {
        const page = await context.newPage();
        await page.goto(`${a.origin}/sign-up`);
        await page.fill('input[name=email]', 'barbara@example.com');
        await page.fill('input[name=password]', 'correct horse battery');
        await page.click('#submit:not([disabled])');
        await page.waitForURL(`${a.origin}/dashboard`, { timeout: 30_000 });
        const token = await accessToken(context);

        // B starts after A made the keys, and knows the session from the shared store.
        b = await startNext(dir, portB, fleetEnv);
        expect(await apiStatus(b.origin, token)).toBe(200);
        expect(await dashboardVerdict(b.origin, token)).toBe('rendered');
        expect(await proxyVerdict(b.origin, token)).toBe('passed');

        await page.waitForFunction(() => document.getElementById('client-status')?.textContent?.startsWith('signedIn '));
        await page.click('#sign-out');
        await page.waitForURL(`${a.origin}/sign-in`, { timeout: 30_000 });
        expect(await apiStatus(a.origin, token)).toBe(401);

        // B learns it from the bus (within 1 s; asked with slack for a loaded machine, never assumed).
        expect(await until(() => apiStatus(b!.origin, token), 401, 1_000 + 5_000)).toBe(401);
        // Its proxy, whose feed is not due for two minutes, still lets the token through, and the
        // page refuses it anyway: the server components' check holds by itself.
        expect(await proxyVerdict(b.origin, token)).toBe('passed');
        expect(await dashboardVerdict(b.origin, token)).toBe('refused');
        expect(await proxyVerdict(b.origin, token)).toBe('passed');
      } finally {
        await context.close();
        a.stop();
        b?.stop();
      }
    },
    240_000,
  );
});
