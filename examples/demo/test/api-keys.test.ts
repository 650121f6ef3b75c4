/**
 * The demo's "API keys" page in real Chromium: a signed-in user creates a key (scopes, expiry), reads
 * it once from the page, and a script (here Node's fetch, sending exactly what the page's curl line
 * sends) calls the demo API with it; revoking the key in the page stops that call at once. The list
 * shows the key's last use, the page runs under its Content-Security-Policy, and the key never
 * reaches the server's output. Screenshots go to test-artifacts/demo/ (git-ignored).
 */
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM, CHROMIUM_ARGS as ARGS, chromiumAvailable } from './support/chromium.js';
import { startDemo } from '../src/app.mjs';

const artifacts = join(process.cwd(), 'test-artifacts', 'demo');
const KEY = /^lk_[A-Za-z0-9_-]{65}$/;

const available = await chromiumAvailable('Chromium (demo browser tests)');

type Demo = Awaited<ReturnType<typeof startDemo>>;

/** What the page's curl line sends: `curl -H "Authorization: Bearer <key>" <url>`. */
function parseCurl(line: string): { url: string; headers: Record<string, string> } {
  const match = /^curl -H "([^:"]+): ([^"]+)" (\S+)$/.exec(line);
  if (!match) throw new Error(`not the expected curl line: ${line.replace(/lk_\S+/g, 'lk_…')}`);
  return { headers: { [match[1]!]: match[2]! }, url: match[3]! };
}

describe.skipIf(!available)('the demo API keys page in Chromium', () => {
  let browser: Browser;
  let demo: Demo;
  /** Everything the demo process printed while the tests ran: no key may appear in it. */
  const output: string[] = [];
  const restore: Array<() => void> = [];

  beforeAll(async () => {
    mkdirSync(artifacts, { recursive: true });
    for (const stream of [process.stdout, process.stderr]) {
      const write = stream.write.bind(stream);
      stream.write = ((chunk: unknown, ...rest: unknown[]) => {
        output.push(String(chunk));
        return (write as (...args: unknown[]) => boolean)(chunk, ...rest);
      }) as typeof stream.write;
      restore.push(() => (stream.write = write));
    }
    // The test runner routes console output around the streams, so the console is watched too.
    for (const level of ['log', 'info', 'warn', 'error', 'debug'] as const) {
      const original = console[level];
      console[level] = (...args: unknown[]) => {
        output.push(args.map((a) => (typeof a === 'string' ? a : inspect(a, { depth: 6 }))).join(' '));
        original(...args);
      };
      restore.push(() => (console[level] = original));
    }
    demo = await startDemo({ port: 0, dataDir: mkdtempSync(join(tmpdir(), 'latchkey-demo-keys-')) });
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS });
  });
  afterAll(async () => {
    for (const undo of restore) undo();
    await browser?.close();
    await demo?.close();
  });

  async function signUp(context: BrowserContext): Promise<Page> {
    const page = await context.newPage();
    await page.goto(`${demo.url}/`);
    await page.waitForSelector('body[data-ready="true"]');
    await page.fill('#signup-form [name=name]', 'Grace Hopper');
    await page.fill('#signup-form [name=email]', `keys${Date.now()}@example.com`);
    await page.fill('#signup-form [name=password]', 'correct horse battery');
    await page.click('#signup-form button');
    await page.waitForSelector('#view-dashboard:not([hidden])');
    return page;
  }

  /** Creates a key through the form; returns the key and the curl line, read from the page. */
  async function createKey(page: Page, name: string, scopes: string[], expiry: string): Promise<{ key: string; curl: string }> {
    await page.fill('#key-form [name=name]', name);
    for (const box of await page.locator('#key-form [name=scopes]').all())
      await box.setChecked(scopes.includes((await box.getAttribute('value'))!));
    await page.selectOption('#key-form [name=expiresInDays]', expiry);
    await page.click('#key-form button[type=submit]');
    await page.waitForSelector('#new-key:not([hidden])');
    return { key: (await page.textContent('#new-key-value'))!, curl: (await page.textContent('#curl-line'))! };
  }

  it(
    'create (scopes, expiry, shown once, copy), call the API with the curl line (200), see the last use, revoke (401 at once)',
    { timeout: 60_000 },
    async () => {
      const context = await browser.newContext({ viewport: { width: 1280, height: 1000 } });
      context.setDefaultTimeout(10_000);
      await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: demo.url });
      const cspViolations: string[] = [];
      const page = await signUp(context);
      page.on('console', (m) => {
        if (/Content.Security.Policy/i.test(m.text())) cspViolations.push(m.text());
      });
      const [html] = await Promise.all([page.waitForResponse((r) => r.url() === `${demo.url}/`), page.reload()]);
      expect(html.headers()['content-security-policy']).toContain("script-src 'self'");
      await page.waitForSelector('body[data-ready="true"]');

      await page.click('nav a[data-view="keys"]');
      await page.waitForSelector('#view-keys:not([hidden])');
      await page.waitForSelector('#keys-empty:not([hidden])');
      const { key, curl } = await createKey(page, 'CI deploys', ['reports:read'], '7');
      expect(key).toMatch(KEY);
      const id = key.slice(3, 19);

      // The copy button puts exactly the key on the clipboard.
      await page.click('#copy-key');
      await page.waitForSelector('#copy-key:text("Copied")');
      expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(key);

      // Listed with its display prefix, scopes and expiry (in about 7 days), never used yet.
      const row = page.locator(`#keys tr[data-key="${id}"]`);
      await row.waitFor();
      expect(await row.locator('td').nth(1).textContent()).toBe(`${key.slice(0, 11)}…`);
      expect(await row.locator('td').nth(2).textContent()).toBe('reports:read');
      expect(await row.locator('.last-used').textContent()).toBe('never');
      const expires = await page.evaluate(async () => {
        const body = (await (await fetch('/api/keys')).json()) as { keys: Array<{ expiresAt: string | null; createdAt: string }> };
        return body.keys.map((k) => (Date.parse(k.expiresAt!) - Date.parse(k.createdAt)) / 86_400_000);
      });
      expect(expires).toEqual([7]);
      await page.screenshot({ path: join(artifacts, 'api-keys-created.png'), fullPage: true });

      // The script's call, as the curl line makes it: 200, as the key's owner, with RateLimit headers.
      const { url, headers } = parseCurl(curl);
      expect(url).toBe(`${demo.url}/api/reports`);
      expect(headers).toEqual({ Authorization: `Bearer ${key}` });
      const calledAt = Date.now();
      const ok = await fetch(url, { headers });
      expect(ok.status).toBe(200);
      expect(ok.headers.get('ratelimit')).toMatch(/^"apikey";r=\d+;t=\d+$/);
      const okBody = (await ok.json()) as { principal: { kind: string; keyId: string; keyName: string; scopes: string[] } };
      expect(okBody.principal).toMatchObject({ kind: 'apiKey', keyId: id, keyName: 'CI deploys', scopes: ['reports:read'] });
      // The same route serves the signed-in page through its session.
      const viaSession = await page.evaluate(async () => {
        const response = await (window as unknown as { latchkey: { fetch(u: string): Promise<Response> } }).latchkey.fetch('/api/reports');
        return { status: response.status, body: (await response.json()) as { principal: { kind: string } } };
      });
      expect(viaSession).toMatchObject({ status: 200, body: { principal: { kind: 'session' } } });

      // The list shows the last use, from the engine's batch of pending uses (no write per request).
      await page.click('#reload-keys');
      await page.waitForFunction(
        (keyId) => document.querySelector(`#keys tr[data-key="${keyId}"] .last-used`)?.textContent !== 'never',
        id,
      );
      const listed = await page.evaluate(
        async () => ((await (await fetch('/api/keys')).json()) as { keys: Array<{ lastUsedAt: string | null }> }).keys,
      );
      const usedAt = Date.parse(listed[0]!.lastUsedAt!);
      expect(usedAt).toBeGreaterThanOrEqual(calledAt - 1000);
      expect(usedAt).toBeLessThanOrEqual(Date.now());
      expect(await row.locator('.last-used').textContent()).toBe(
        await page.evaluate((at) => new Date(at).toLocaleString(), listed[0]!.lastUsedAt!),
      );

      // Revoke in the page: the very same call is refused at once, with the invalid_token challenge.
      await row.locator('[data-revoke-key]').click();
      await row.waitFor({ state: 'detached' });
      expect(await page.textContent('#banner')).toContain('Key revoked');
      const refused = await fetch(url, { headers });
      expect(refused.status).toBe(401);
      expect(refused.headers.get('www-authenticate')).toContain('error="invalid_token"');
      expect(await refused.json()).toMatchObject({ error: { code: 'UNAUTHORISED', message: 'invalid API key' } });
      await page.screenshot({ path: join(artifacts, 'api-keys-revoked.png'), fullPage: true });

      // "Hide it" removes the only copy from the page.
      await page.click('#hide-key');
      expect(await page.content()).not.toContain(key);

      expect(cspViolations).toEqual([]);
      expect(output.join('')).not.toContain(key.slice(19, 62));
      await context.close();
    },
  );

  it(
    "a key without the route's scope gets 403 INSUFFICIENT_SCOPE naming it; another user cannot revoke it",
    { timeout: 60_000 },
    async () => {
      const context = await browser.newContext();
      context.setDefaultTimeout(10_000);
      const page = await signUp(context);
      await page.goto(`${demo.url}/#/keys`);
      await page.waitForSelector('#view-keys:not([hidden])');
      const { key, curl } = await createKey(page, 'writer', ['reports:write'], 'never');
      const id = key.slice(3, 19);
      expect(await page.locator(`#keys tr[data-key="${id}"] .expires`).textContent()).toBe('never');
      const { url, headers } = parseCurl(curl);
      const refused = await fetch(url, { headers });
      expect(refused.status).toBe(403);
      expect(await refused.json()).toMatchObject({ error: { code: 'INSUFFICIENT_SCOPE', missingScopes: ['reports:read'] } });

      // Someone else's session: the key is "not found" to them, and keeps working for its owner.
      const intruder = await browser.newContext();
      const other = await signUp(intruder);
      const status = await other.evaluate(
        async (keyId) =>
          (
            await (window as unknown as { latchkey: { fetch(u: string, i: RequestInit): Promise<Response> } }).latchkey.fetch(
              `/api/keys/${keyId}`,
              { method: 'DELETE' },
            )
          ).status,
        id,
      );
      expect(status).toBe(404);
      expect(await demo.latchkey.apiKeys.get(id)).toMatchObject({ revokedAt: null });
      expect(output.join('')).not.toContain(key.slice(19, 62));
      await intruder.close();
      await context.close();
    },
  );
});
