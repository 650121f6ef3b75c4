/**
 * The demo's device-binding lab in real Chromium: "steal the tokens" (header mode, DPoP) and "steal the
 * cookies" (cookie mode, DBSC), each with binding on (the stolen set is refused, on the page) and off
 * (the theft works, on the page), and the dashboard's "bound to this device" badge.
 *
 * DBSC needs what packages/latchkey/test/http/browser-dbsc.test.ts found: HTTPS with a certificate the
 * browser accepts as valid (the test CA's, trusted by its SPKI hash) and the features that enable DBSC
 * with software keys. So the demo runs here over HTTPS with `dbsc: true`; the binding-off cookie case
 * uses a Chromium without those features, which registers nothing (a browser without DBSC).
 * Screenshots go to test-artifacts/demo/ (git-ignored).
 */
import { createHash, X509Certificate } from 'node:crypto';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM, CHROMIUM_ARGS as ARGS, chromiumAvailable } from './support/chromium.js';
import { makeTestCa } from '../../../packages/latchkey/test/helpers/test-ca.js';
import { startDemo } from '../src/app.mjs';

const DBSC_FEATURES = 'DeviceBoundSessions,DeviceBoundSessionsDevTools,EnableBoundSessionCredentialsSoftwareKeysForManualTesting';
// playwright-core passes an --enable-features of its own; Chromium reads only one, so ours carries its entries too.
const PLAYWRIGHT_FEATURES = '--enable-features=CDPScreenshotNewSurface,SkipListAccountsWithoutGaiaCookies';
/**
 * Seconds the access (DBSC-bound) cookie lives. Long on purpose: Chromium 156 refreshes a bound cookie
 * ahead of its expiry (seen: on every request with a 6 s cookie, never with a 300 s one) and caps how
 * often it signs (`SigningQuotaExceeded`), after which it sends requests without the bound cookie. The
 * expiry and the browser's refresh are proven in packages/latchkey/test/http/browser-dbsc.test.ts.
 */
const ACCESS_TTL = 300;
const artifacts = join(process.cwd(), 'test-artifacts', 'demo');

const available = await chromiumAvailable('Chromium (demo binding lab)');

/** base64(SHA-256(SubjectPublicKeyInfo)), the form --ignore-certificate-errors-spki-list takes. */
function spkiHash(certificate: string): string {
  const der = new X509Certificate(certificate).publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(der).digest('base64');
}

type Demo = Awaited<ReturnType<typeof startDemo>>;

describe.skipIf(!available)('the demo binding lab in Chromium', () => {
  let demo: Demo;
  let withDbsc: Browser;
  let withoutDbsc: Browser;
  let counter = 0;

  beforeAll(async () => {
    mkdirSync(artifacts, { recursive: true });
    const ca = makeTestCa();
    demo = await startDemo({
      port: 0,
      dataDir: mkdtempSync(join(tmpdir(), 'latchkey-demo-binding-')),
      accessTokenTtl: ACCESS_TTL,
      devRoutes: true,
      tls: { cert: ca.cert, key: ca.key },
      dbsc: true,
    });
    const spki = `--ignore-certificate-errors-spki-list=${spkiHash(ca.cert)}`;
    withDbsc = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      ignoreDefaultArgs: [PLAYWRIGHT_FEATURES],
      args: [...ARGS, `--enable-features=CDPScreenshotNewSurface,SkipListAccountsWithoutGaiaCookies,${DBSC_FEATURES}`, spki],
    });
    withoutDbsc = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: [...ARGS, spki] });
  }, 60_000);
  afterAll(async () => {
    await withDbsc?.close();
    await withoutDbsc?.close();
    await demo?.close();
  });

  async function signUp(browser: Browser): Promise<{ context: BrowserContext; page: Page }> {
    const context = await browser.newContext({ viewport: { width: 1200, height: 1400 } });
    context.setDefaultTimeout(15_000);
    const page = await context.newPage();
    await page.goto(`${demo.url}/`);
    await page.waitForSelector('body[data-ready="true"]');
    await page.fill('#signup-form [name=name]', 'Ada Lovelace');
    await page.fill('#signup-form [name=email]', `binding${++counter}@example.com`);
    await page.fill('#signup-form [name=password]', 'correct horse battery');
    await page.click('#signup-form button');
    await page.waitForSelector('#view-dashboard:not([hidden])');
    return { context, page };
  }

  async function openLab(page: Page): Promise<void> {
    await page.goto(`${demo.url}/#/lab`);
    await page.waitForSelector('#binding-lab');
    await page.waitForSelector('#view-lab:not([hidden])');
  }

  /** Runs "steal the tokens" and returns the verdict's outcome and the log. */
  async function stealTokens(page: Page, bind: boolean): Promise<{ outcome: string | null; log: string }> {
    await page.setChecked('#lab-dpop', bind);
    await page.click('#lab-tokens-signin');
    await page.waitForFunction(() => document.querySelector('#lab-tokens-log')?.textContent?.includes('GET /api/me'));
    await page.click('#lab-tokens-steal');
    await page.waitForFunction(() => document.querySelector('#lab-tokens-log')?.textContent?.includes('The thief copied'));
    await page.click('#lab-tokens-replay');
    await page.waitForSelector('#lab-tokens-verdict:not([hidden])');
    return {
      outcome: await page.getAttribute('#lab-tokens-verdict', 'data-outcome'),
      log: (await page.textContent('#lab-tokens-log')) ?? '',
    };
  }

  async function stealCookies(page: Page): Promise<{ outcome: string | null; log: string; verdict: string }> {
    await page.click('#lab-cookies-steal');
    await page.waitForFunction(() => document.querySelector('#lab-cookies-log')?.textContent?.includes('This session is'));
    await page.click('#lab-cookies-replay');
    await page.waitForSelector('#lab-cookies-verdict:not([hidden])');
    return {
      outcome: await page.getAttribute('#lab-cookies-verdict', 'data-outcome'),
      log: (await page.textContent('#lab-cookies-log')) ?? '',
      verdict: (await page.textContent('#lab-cookies-verdict')) ?? '',
    };
  }

  const apiStatus = (page: Page) =>
    page.evaluate(
      async () => (await (window as unknown as { latchkey: { fetch(u: string): Promise<Response> } }).latchkey.fetch('/api/me')).status,
    );

  it(
    'with binding on, both stolen sets are refused on the page, the badge says so, and the victim keeps working',
    { timeout: 90_000 },
    async () => {
      const { context, page } = await signUp(withDbsc);
      // Chromium registers its key on its own after sign-in; the front token then says bound, and so does the badge.
      await page.waitForSelector('#bound-badge[data-bound="true"]');
      expect(await page.textContent('#bound-badge')).toContain('This session is bound to this device');
      await page.screenshot({ path: join(artifacts, 'dashboard-bound.png'), fullPage: true });

      await openLab(page);
      const cookies = await stealCookies(page);
      expect(cookies.log).toContain('bound to this browser (dbsc)');
      expect(cookies.log).toContain('the refresh cookie alone: refused: INVALID_DBSC_PROOF');
      expect(cookies.outcome).toBe('refused');
      expect(cookies.verdict).toContain('Refused');

      const tokens = await stealTokens(page, true);
      expect(tokens.log).toContain('tokenType DPoP, isDeviceBound() true');
      expect(tokens.log).toContain('Thief: GET /api/me with Authorization: DPoP: 401 INVALID_DPOP_PROOF');
      expect(tokens.log).toContain('Thief: GET /api/me with the token as Bearer: 401 INVALID_DPOP_PROOF');
      expect(tokens.log).toContain('Thief: POST /auth/refresh with the refresh token: 401 INVALID_DPOP_PROOF');
      expect(tokens.log).toContain('The app (with its key) calls GET /api/me: 200 OK');
      expect(tokens.outcome).toBe('refused');
      expect(await page.textContent('#lab-tokens-verdict')).toContain('Refused');
      await page.screenshot({ path: join(artifacts, 'binding-lab-refused.png'), fullPage: true });

      // The thief's attempts left the victim alone: nothing revoked, the page's session works.
      expect(await apiStatus(page)).toBe(200);
      expect(await page.getAttribute('body', 'data-signed-out')).toBeNull();
      await context.close();
    },
  );

  it('with binding off, the same thefts work, on the page', { timeout: 60_000 }, async () => {
    // A Chromium without DBSC: the session stays unbound, as in a browser without support.
    const { context, page } = await signUp(withoutDbsc);
    expect(await page.getAttribute('#bound-badge', 'data-bound')).toBe('false');
    await openLab(page);
    const cookies = await stealCookies(page);
    expect(cookies.log).toContain('not device-bound');
    expect(cookies.log).toContain('the refresh cookie alone: works');
    expect(cookies.outcome).toBe('stolen');

    const tokens = await stealTokens(page, false);
    expect(tokens.log).toContain('tokenType Bearer, isDeviceBound() false');
    expect(tokens.log).toContain('Thief: GET /api/me with Authorization: Bearer: 200 OK');
    expect(tokens.log).toContain('Thief: POST /auth/refresh with the refresh token: 200 OK');
    expect(tokens.outcome).toBe('stolen');
    await page.screenshot({ path: join(artifacts, 'binding-lab-stolen.png'), fullPage: true });
    await context.close();
  });
});
