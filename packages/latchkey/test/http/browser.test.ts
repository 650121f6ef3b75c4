/**
 * The cookie protocol in real Chromium (the system's /usr/bin/chromium via playwright-core): the
 * browser stores the `__Host-`/`__Secure-` Secure cookies on http://localhost, keeps the tokens from
 * page script, sends the refresh cookie only to the refresh route, and a cross-site page can neither
 * forge a state-changing request nor get a preflight through.
 */
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { chromium, type Browser } from 'playwright-core';
import { createLatchkey, type Latchkey } from 'latchkey';
import { latchkeyNode } from 'latchkey/adapters/node';
import { memoryStore } from 'latchkey/stores/memory';
import { serviceAvailable } from '../helpers/services.js';

const EXECUTABLE = '/usr/bin/chromium';
const launch = () =>
  chromium.launch({
    executablePath: EXECUTABLE,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
  });

const available = await serviceAvailable('Chromium', async () => {
  if (!existsSync(EXECUTABLE)) throw new Error(`${EXECUTABLE} not found`);
  await (await launch()).close();
});

function listen(server: Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

describe.skipIf(!available)('cookie mode in Chromium', () => {
  let engine: Latchkey;
  let browser: Browser;
  let app: Server;
  let attacker: Server;
  let origin: string;
  let attackerOrigin: string;
  const seen: string[] = [];

  beforeAll(async () => {
    engine = await createLatchkey({ issuer: 'http://localhost', store: memoryStore(), secret: 'browser-test-secret-0123456789abcdef', timers: false });
    const auth = latchkeyNode(engine);
    app = createServer((req, res) => {
      void (async () => {
        seen.push(`${req.method} ${req.url}`);
        if (await auth.handle(req, res)) return;
        const url = new URL(req.url ?? '/', 'http://x');
        if (req.method === 'GET' && url.pathname === '/') {
          res.setHeader('content-type', 'text/html');
          return res.end('<!doctype html><title>app</title>');
        }
        if (req.method === 'POST' && url.pathname === '/auth/login') {
          try {
            const result = await auth.signIn(req, res, { userId: url.searchParams.get('user') ?? 'nobody' });
            res.setHeader('content-type', 'application/json');
            return res.end(JSON.stringify(result.body));
          } catch (error) {
            return auth.sendError(res, error);
          }
        }
        if (req.method === 'GET' && url.pathname === '/api/optional') {
          const optional = await auth.optionalSession(req, res);
          if (optional === false) return;
          res.setHeader('content-type', 'application/json');
          return res.end(JSON.stringify({ userId: optional?.userId ?? null }));
        }
        const session = await auth.requireSession(req, res);
        if (!session) return;
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ userId: session.userId }));
      })();
    });
    const port = await listen(app);
    origin = `http://localhost:${port}`;
    attacker = createServer((req, res) => {
      res.setHeader('content-type', 'text/html');
      // A classic forged form POST, then a credentialed fetch that needs a preflight.
      res.end(`<!doctype html><body><form id="f" method="POST" action="${origin}/api/me"><input name="x" value="1"></form>
        <script>
          window.tryFetch = () => fetch('${origin}/auth/refresh', { method: 'POST', credentials: 'include', headers: { 'X-Latchkey-CSRF': '1' } })
            .then((r) => 'status ' + r.status, (e) => 'blocked');
        </script></body>`);
    });
    attackerOrigin = `http://127.0.0.1:${await listen(attacker)}`;
    browser = await launch();
  });

  afterAll(async () => {
    await browser?.close();
    app?.closeAllConnections();
    attacker?.closeAllConnections();
    await Promise.all([new Promise((r) => app?.close(r)), new Promise((r) => attacker?.close(r))]);
    await engine?.close();
  });

  test('Secure prefixed cookies on http://localhost, hidden from script, path-scoped refresh, forged requests refused', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${origin}/`);
    // Page-side code is passed as strings or DOM-free functions: the tests compile without the DOM lib.
    const call = (path: string, method = 'POST') =>
      page.evaluate(async ([p, m]) => {
        const r = await fetch(p!, { method: m, headers: m === 'GET' ? {} : { 'X-Latchkey-CSRF': '1' } });
        return { status: r.status, body: await r.json(), front: r.headers.get('x-latchkey-front') };
      }, [path, method]);

    const login = await call('/auth/login?user=alice');
    expect(login.status).toBe(200);
    const stored = await context.cookies(`${origin}/auth/refresh`);
    const byName = new Map(stored.map((c) => [c.name, c]));
    expect(byName.get('__Host-lk_access')).toMatchObject({ httpOnly: true, secure: true, sameSite: 'Lax', path: '/', domain: 'localhost' });
    expect(byName.get('__Secure-lk_refresh')).toMatchObject({ httpOnly: true, secure: true, sameSite: 'Strict', path: '/auth/refresh' });
    expect(byName.get('lk_front')).toMatchObject({ httpOnly: false, secure: true, sameSite: 'Lax', path: '/' });
    // Page script sees the front token only, and it equals the header the response carried.
    const visible = await page.evaluate('document.cookie');
    expect(visible).toBe(`lk_front=${login.front}`);
    // The refresh cookie is not sent to other paths.
    expect((await context.cookies(`${origin}/api/me`)).map((c) => c.name).sort()).toEqual(['__Host-lk_access', 'lk_front']);

    expect(await call('/api/me', 'GET')).toMatchObject({ status: 200, body: { userId: 'alice' } });
    const before = byName.get('__Secure-lk_refresh')!.value;
    expect((await call('/auth/refresh')).status).toBe(200);
    const after = (await context.cookies(`${origin}/auth/refresh`)).find((c) => c.name === '__Secure-lk_refresh')!.value;
    expect(after).not.toBe(before);

    // A cross-site page: the form POST is refused, the credentialed fetch never passes its preflight.
    seen.length = 0;
    const evil = await context.newPage();
    await evil.goto(`${attackerOrigin}/`);
    const [response] = await Promise.all([evil.waitForNavigation(), evil.evaluate("document.getElementById('f').submit()")]);
    expect(response?.status()).toBe(403);
    expect(await response?.json()).toMatchObject({ error: { code: 'CSRF_REJECTED' } });
    await evil.goto(`${attackerOrigin}/`);
    expect(await evil.evaluate('window.tryFetch()')).toBe('blocked');
    expect(seen.filter((line) => line.startsWith('POST /auth/refresh'))).toEqual([]);
    expect(seen).toContain('OPTIONS /auth/refresh');
    expect((await call('/api/me', 'GET')).status).toBe(200);

    expect((await call('/auth/signout')).body).toEqual({ revoked: true });
    expect(await context.cookies(`${origin}/auth/refresh`)).toEqual([]);
    await context.close();
  });

  test('an optional route: anonymous without cookies; once the access cookie is gone, 401 TRY_REFRESH_TOKEN, then signed in after the refresh', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${origin}/`);
    const call = (path: string, method = 'GET') =>
      page.evaluate(async ([p, m]) => {
        const r = await fetch(p!, { method: m, headers: m === 'GET' ? {} : { 'X-Latchkey-CSRF': '1' } });
        return { status: r.status, body: await r.json() };
      }, [path, method]);
    expect(await call('/api/optional')).toEqual({ status: 200, body: { userId: null } });
    expect((await call('/auth/login?user=olive', 'POST')).status).toBe(200);
    expect(await call('/api/optional')).toEqual({ status: 200, body: { userId: 'olive' } });
    // The browser drops the access cookie at its Max-Age (the token's expiry); the front cookie stays.
    await context.clearCookies({ name: '__Host-lk_access' });
    const expired = await call('/api/optional');
    expect(expired.status).toBe(401);
    expect(expired.body.error.code).toBe('TRY_REFRESH_TOKEN');
    expect((await call('/auth/refresh', 'POST')).status).toBe(200);
    expect(await call('/api/optional')).toEqual({ status: 200, body: { userId: 'olive' } });
    await context.close();
  });
});
