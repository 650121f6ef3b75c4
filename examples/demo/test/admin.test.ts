/**
 * The admin console in the demo (docs/admin.md): `npm start` mounts it at /admin in the demo's own
 * node:http server (through @hono/node-server's getRequestListener) and prints a one-time sign-in link.
 * In real Chromium: the operator opens the printed link, lands on the Overview, looks up a demo user
 * who signed in, revokes their session, and the user's next API call is refused. Over plain HTTP:
 * /admin without a session goes to the sign-in page, and the demo's own routes answer as before.
 * Screenshots go to test-artifacts/demo/ (git-ignored).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serviceAvailable } from '../../../packages/latchkey/test/helpers/services.js';
import { CHROMIUM, CHROMIUM_ARGS as ARGS, chromiumAvailable } from './support/chromium.js';

const MAIN = fileURLToPath(new URL('../src/main.mjs', import.meta.url));
const BUILT = fileURLToPath(new URL('../../../packages/latchkey/dist/service/index.js', import.meta.url));
const artifacts = join(process.cwd(), 'test-artifacts', 'demo');

// main.mjs imports the built packages, as `npm start` does.
const built = await serviceAvailable('built latchkey package (run npm run build)', async () => {
  if (!existsSync(BUILT)) throw new Error(`${BUILT} is missing`);
});
const browserAvailable = await chromiumAvailable('Chromium (demo admin console test)');

interface Started {
  child: ChildProcess;
  origin: string;
  link: string;
  stdout: () => string;
  stderr: () => string;
}

/** `npm start` in `cwd` on a free port; resolves once the banner is printed, with the demo's URL and the admin link from it. */
function startDemoProcess(cwd: string): Promise<Started> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN], {
      cwd,
      env: { PATH: process.env.PATH ?? '', PORT: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the demo printed no banner within 30 s\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, 30_000);
    child.stdout.on('data', (d: Buffer) => {
      stdout += d;
      if (!stdout.includes('Ctrl-C to stop')) return;
      clearTimeout(timer);
      const origin = /latchkey demo: (http:\/\/localhost:\d+)/.exec(stdout)?.[1];
      const link = /admin console: (\S+)/.exec(stdout)?.[1];
      if (!origin || !link) return reject(new Error(`unexpected banner:\n${stdout}`));
      resolve({ child, origin, link, stdout: () => stdout, stderr: () => stderr });
    });
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      reject(new Error(`the demo exited (${code}) before its banner\nstdout: ${stdout}\nstderr: ${stderr}`));
    });
  });
}

describe.skipIf(!built)('the admin console in the demo (npm start)', () => {
  let cwd: string;
  let demo: Started;

  beforeAll(async () => {
    mkdirSync(artifacts, { recursive: true });
    cwd = mkdtempSync(join(tmpdir(), 'latchkey-demo-admin-'));
    demo = await startDemoProcess(cwd);
  }, 40_000);
  afterAll(async () => {
    if (demo && demo.child.exitCode === null) {
      const exited = new Promise((resolve) => demo.child.once('close', resolve));
      demo.child.kill('SIGTERM');
      await exited;
    }
    rmSync(cwd, { recursive: true, force: true });
  });

  it('prints a one-time link for operator demo in the start-up banner, beside the other lines', () => {
    expect(demo.link.startsWith(`${demo.origin}/admin/login#id=`)).toBe(true);
    // The secret is in the fragment, which the browser never sends to a server.
    expect(new URL(demo.link).hash).toMatch(/^#id=[\w-]+&t=[\w-]+$/);
    expect(demo.stdout()).toMatch(/one-time sign-in for operator "demo", valid until \d{4}-\d\d-\d\dT[\d:.]+Z; it is a credential/);
    const lines = demo.stdout().split('\n');
    const at = (text: string) => lines.findIndex((line) => line.includes(text));
    expect(at('admin console:')).toBeGreaterThan(at('access tokens live'));
    expect(at('admin console:')).toBeLessThan(at('Ctrl-C to stop'));
    expect(demo.stderr()).toBe('');
  });

  it('/admin without a console session redirects to the sign-in page; its API answers 401; the console keeps its headers', async () => {
    for (const path of ['/admin', '/admin/users?user=anyone', '/admin/audit', '/admin/keys']) {
      const res = await fetch(`${demo.origin}${path}`, { redirect: 'manual' });
      expect([path, res.status]).toEqual([path, 303]);
      expect(new URL(res.headers.get('location') ?? '', demo.origin).pathname).toBe('/admin/login');
    }
    const api = await fetch(`${demo.origin}/admin/api/overview`);
    expect(api.status).toBe(401);
    const login = await fetch(`${demo.origin}/admin/login`);
    expect(login.status).toBe(200);
    expect(login.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect(login.headers.get('x-frame-options')).toBe('DENY');
    // An action without a session or a CSRF token changes nothing.
    const post = await fetch(`${demo.origin}/admin/users/revoke-all`, { method: 'POST', body: new URLSearchParams({ userId: 'x' }) });
    expect([401, 403]).toContain(post.status);
  });

  it("the demo's own routes answer as before, and only /admin and /admin/… reach the console", async () => {
    const home = await fetch(`${demo.origin}/`);
    expect(home.status).toBe(200);
    expect(home.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(home.headers.get('content-security-policy')).toContain("default-src 'self'");
    expect(await home.text()).toContain('<html');
    const config = await fetch(`${demo.origin}/api/config`);
    expect(config.status).toBe(200);
    expect(await config.json()).toEqual({ accessTokenTtl: 30, devRoutes: true, dbsc: false });
    const me = await fetch(`${demo.origin}/api/me`);
    expect(me.status).toBe(401);
    expect(((await me.json()) as { error: { code: string } }).error.code).toBeTypeOf('string');
    for (const path of ['/administrator', '/api/admin', '/adminx/users']) {
      const res = await fetch(`${demo.origin}${path}`, { redirect: 'manual' });
      expect([path, res.status]).toEqual([path, 404]);
      expect(await res.json()).toEqual({ error: { code: 'NOT_FOUND', message: 'no such route' } });
    }
    // A sign-up over plain HTTP still works (login CSRF: the demo's header).
    const signup = await fetch(`${demo.origin}/api/signup`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: demo.origin, 'x-latchkey-csrf': '1' },
      body: JSON.stringify({ name: 'Plain', email: 'plain@example.com', password: 'correct horse battery' }),
    });
    expect(signup.status).toBe(201);
  });

  describe.skipIf(!browserAvailable)('in Chromium', () => {
    let browser: Browser;
    beforeAll(async () => {
      browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS });
    });
    afterAll(async () => {
      await browser?.close();
    });

    async function device(): Promise<BrowserContext> {
      const context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
      context.setDefaultTimeout(10_000);
      return context;
    }

    /** A request through the demo page's SDK (it refreshes on 401 and retries once): the user's next API call. */
    const sdkFetchStatus = (page: Page) =>
      page.evaluate(
        async () => (await (window as unknown as { latchkey: { fetch(u: string): Promise<Response> } }).latchkey.fetch('/api/me')).status,
      );

    it(
      'the operator opens the printed link, lands on the Overview, finds a signed-in user, revokes their session: the user is refused',
      { timeout: 90_000 },
      async () => {
        // A demo user signs up in their own browser profile and calls the API.
        const userContext = await device();
        const user = await userContext.newPage();
        await user.goto(`${demo.origin}/`);
        await user.waitForSelector('body[data-ready="true"]');
        await user.fill('#signup-form [name=name]', 'Grace Hopper');
        await user.fill('#signup-form [name=email]', 'grace@example.com');
        await user.fill('#signup-form [name=password]', 'correct horse battery');
        await user.click('#signup-form button');
        await user.waitForSelector('#view-dashboard:not([hidden])');
        const me = await user.evaluate(async () => {
          const res = await (window as unknown as { latchkey: { fetch(u: string): Promise<Response> } }).latchkey.fetch('/api/me');
          return { status: res.status, body: (await res.json()) as { userId: string; sessionId: string } };
        });
        expect(me.status).toBe(200);
        const { userId, sessionId } = me.body;

        // The operator, in another profile, opens the link the demo printed.
        const operatorContext = await device();
        const page = await operatorContext.newPage();
        await page.goto(demo.link);
        // The sign-in page's script moved the ticket into the form and out of the address bar.
        expect(page.url()).toBe(`${demo.origin}/admin/login`);
        await page.getByRole('button', { name: 'Sign in' }).click();
        await page.waitForURL(`${demo.origin}/admin`);
        await expect.poll(() => page.getByText('Signed in as demo').count()).toBe(1);
        expect(await page.locator('h1').textContent()).toContain('Overview');
        // The console's session and the user's (and the plain-HTTP sign-up's), all on the demo's engine.
        expect(Number(await page.locator('#active-sessions').textContent())).toBeGreaterThanOrEqual(2);
        expect((await page.locator('table tbody tr').allTextContents()).join(' ')).toMatch(/store\s*healthy/);
        await page.screenshot({ path: join(artifacts, 'admin-overview.png'), fullPage: true });
        const names = (await operatorContext.cookies()).map((c) => `${c.name}:${c.httpOnly}:${c.secure}:${c.sameSite}:${c.path}`);
        expect(names).toEqual(
          expect.arrayContaining(['__Secure-lk_admin:true:true:Strict:/admin', '__Secure-lk_admin_refresh:true:true:Strict:/admin']),
        );

        // The same link again: refused (it works once).
        const reuse = await operatorContext.newPage();
        await reuse.goto(demo.link);
        await reuse.getByRole('button', { name: 'Sign in' }).click();
        await expect.poll(() => reuse.getByText('invalid, expired or already used').count()).toBe(1);
        await reuse.close();

        // Users: look the demo user up and see their session.
        await page.getByRole('link', { name: 'Users' }).click();
        await page.waitForURL(`${demo.origin}/admin/users`);
        await page.getByLabel('User id').fill(userId);
        await page.keyboard.press('Enter');
        await page.waitForURL(/\/admin\/users\?user=/);
        const rows = page.locator('#sessions tbody tr');
        expect(await rows.count()).toBe(1);
        const userAgent = await user.evaluate(() => navigator.userAgent);
        expect(await page.locator('#sessions td.device').textContent()).toBe(userAgent);
        expect(await page.locator('#sessions').textContent()).toContain('127.0.0.1');
        await page.screenshot({ path: join(artifacts, 'admin-users.png'), fullPage: true });

        // Revoke it.
        await page.getByRole('button', { name: `Revoke session ${sessionId}` }).click();
        await page.waitForURL(/done=session-revoked/);
        expect(await page.getByRole('status').textContent()).toContain('revoked on every instance');
        expect(await rows.count()).toBe(0);

        // The user's next API call is refused: the access token (30 s, not yet expired) and the refresh
        // token the SDK tries next both belong to a revoked session.
        expect(await sdkFetchStatus(user)).toBe(401);
        expect(await user.evaluate(async () => (await fetch('/api/me')).status)).toBe(401);

        // The audit log on the demo's SQLite: the revocation by the console, with the operator's name.
        await expect
          .poll(
            async () => {
              await page.goto(`${demo.origin}/admin/audit?user=${encodeURIComponent(userId)}`);
              return page.locator('li.event').allTextContents();
            },
            { timeout: 10_000, interval: 500 },
          )
          .toEqual(expect.arrayContaining([expect.stringContaining('session.revoked')]));
        await page.screenshot({ path: join(artifacts, 'admin-audit.png'), fullPage: true });
        const operatorRows = await fetch(`${demo.origin}/admin/api/overview`);
        expect(operatorRows.status).toBe(401); // the operator's cookies are in the browser only

        await userContext.close();
        await operatorContext.close();
      },
    );
  });
});
