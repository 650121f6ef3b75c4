/**
 * The demo's "verify your email" claim in real Chromium (issue 16): a new account starts with
 * EmailVerifiedClaim false; the page's SDK validator shows the banner and keeps the billing call
 * from being made; the API, asked anyway, answers 403 CLAIM_VALIDATION_FAILED with the claim list
 * (which the SDK reads into its claimValidationFailed event); "verify" sets the claim for every session
 * of the user, this tab redraws on claimsUpdated, and another device's older token is sent to refresh
 * at its next request, after which billing opens there too. Screenshots in test-artifacts/demo/.
 */
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM, CHROMIUM_ARGS as ARGS, chromiumAvailable } from './support/chromium.js';
import { startDemo } from '../src/app.mjs';

const artifacts = join(process.cwd(), 'test-artifacts', 'demo');

const available = await chromiumAvailable('Chromium (demo claims test)');

type Demo = Awaited<ReturnType<typeof startDemo>>;

describe.skipIf(!available)('the demo’s "verify your email" claim in Chromium', () => {
  let browser: Browser;
  let demo: Demo;

  beforeAll(async () => {
    mkdirSync(artifacts, { recursive: true });
    // 30 s tokens: nothing here may pass because a token happened to expire and refresh by itself.
    demo = await startDemo({ port: 0, dataDir: mkdtempSync(join(tmpdir(), 'latchkey-demo-claims-')), accessTokenTtl: 30 });
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS });
  });
  afterAll(async () => {
    await browser?.close();
    await demo?.close();
  });

  async function device(): Promise<BrowserContext> {
    const context = await browser.newContext({ viewport: { width: 1200, height: 1100 } });
    context.setDefaultTimeout(10_000);
    return context;
  }

  async function open(context: BrowserContext): Promise<Page> {
    const page = await context.newPage();
    await page.goto(`${demo.url}/`);
    await page.waitForSelector('body[data-ready="true"]');
    return page;
  }

  async function signUp(context: BrowserContext, email: string): Promise<Page> {
    const page = await open(context);
    await page.fill('#signup-form [name=name]', 'Grace Hopper');
    await page.fill('#signup-form [name=email]', email);
    await page.fill('#signup-form [name=password]', 'correct horse battery');
    await page.click('#signup-form button');
    await page.waitForSelector('#view-dashboard:not([hidden])');
    return page;
  }

  async function signIn(context: BrowserContext, email: string): Promise<Page> {
    const page = await open(context);
    await page.fill('#signin-form [name=email]', email);
    await page.fill('#signin-form [name=password]', 'correct horse battery');
    await page.click('#signin-form button');
    await page.waitForSelector('#view-dashboard:not([hidden])');
    return page;
  }

  const billingRequests = (page: Page): string[] => {
    const seen: string[] = [];
    page.on('request', (r) => {
      if (r.url().endsWith('/api/billing')) seen.push(r.method());
    });
    return seen;
  };

  it(
    'the banner first, the 403 with the claim list when asked anyway, then verify: every tab and device opens billing',
    { timeout: 60_000 },
    async () => {
      const laptop = await device();
      const phone = await device();
      const email = `grace${Date.now()}@example.com`;
      const page = await signUp(laptop, email);
      const other = await signIn(phone, email);

      // A new account: the claim is in the tokens, false; the page's validator shows the banner.
      await page.waitForSelector('#email-claim[data-verified="false"]');
      expect(await page.isVisible('#verify-banner')).toBe(true);
      expect(await page.isVisible('#verified-note')).toBe(false);
      expect(await page.textContent('#claims')).toContain('"lk-ev"');
      await page.screenshot({ path: join(artifacts, 'claims-verify-banner.png'), fullPage: true });

      // "Open billing" is gated in the page: no request is made.
      const requests = billingRequests(page);
      await page.click('#call-billing');
      await page.waitForSelector('#billing-result:not(:empty)');
      expect(await page.textContent('#billing-result')).toContain('lk-ev.isTrue (is not true)');
      expect(requests).toEqual([]);

      // Asked anyway, the server refuses by the same rule, and says which.
      const [refused] = await Promise.all([
        page.waitForResponse((r) => r.url().endsWith('/api/billing')),
        page.click('#call-billing-anyway'),
      ]);
      expect(refused.status()).toBe(403);
      expect(await refused.json()).toMatchObject({
        error: { code: 'CLAIM_VALIDATION_FAILED' },
        claimValidationErrors: [{ id: 'lk-ev.isTrue', reason: 'is not true' }],
      });
      // The SDK read it into its event (claims.js marks the card).
      await page.waitForSelector('#email-claim[data-refused="lk-ev.isTrue"]');

      // Verify: the answer carries this tab's new tokens; claimsUpdated redraws the card.
      const [verified] = await Promise.all([
        page.waitForResponse((r) => r.url().endsWith('/api/verify-email')),
        page.click('#verify-email'),
      ]);
      expect(verified.status()).toBe(200);
      // Both sessions of the user hold the claim now (read on the server: the answer's body is the page's).
      const userId = await page.evaluate(
        async () => (await (window as unknown as { latchkey: { getClaims(): Promise<{ sub: string }> } }).latchkey.getClaims()).sub,
      );
      const sessions = await demo.latchkey.listSessions(userId);
      expect(sessions.map((s) => (s.accessClaims['lk-ev'] as { v?: unknown } | undefined)?.v)).toEqual([true, true]);
      await page.waitForSelector('#email-claim[data-verified="true"]');
      expect(await page.isVisible('#verify-banner')).toBe(false);
      expect(await page.isVisible('#verified-note')).toBe(true);
      const [opened] = await Promise.all([page.waitForResponse((r) => r.url().endsWith('/api/billing')), page.click('#call-billing')]);
      expect(opened.status()).toBe(200);
      await page.screenshot({ path: join(artifacts, 'claims-verified.png'), fullPage: true });

      // The other device still holds a token minted before the change (30 s tokens): its next request
      // is answered TRY_REFRESH_TOKEN, its SDK refreshes into the new claim and retries, and opens.
      expect(await other.getAttribute('#email-claim', 'data-verified')).toBe('false');
      const statuses: number[] = [];
      other.on('response', (r) => {
        if (r.url().endsWith('/api/billing') || r.url().endsWith('/auth/refresh')) statuses.push(r.status());
      });
      const [fromPhone] = await Promise.all([
        other.waitForResponse((r) => r.url().endsWith('/api/billing') && r.status() === 200),
        other.click('#call-billing-anyway'),
      ]);
      expect(fromPhone.status()).toBe(200);
      expect(statuses).toEqual([401, 200, 200]); // TRY_REFRESH_TOKEN, the refresh, the retry
      await other.waitForSelector('#email-claim[data-verified="true"]');

      // A new sign-in after the change fetches the claim from the user store: true from the start.
      const tablet = await device();
      const third = await signIn(tablet, email);
      await third.waitForSelector('#email-claim[data-verified="true"]');
      for (const context of [laptop, phone, tablet]) await context.close();
    },
  );
});
