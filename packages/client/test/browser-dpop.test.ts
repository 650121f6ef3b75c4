/**
 * DPoP in real Chromium: the SDK's header mode with `createDpop()` (WebCrypto ES256, keys in
 * IndexedDB) against the real server. A session created through the SDK's proofs verifies on the
 * server; the SDK's proofs are refused in every RFC 9449 failure case the interop tests check; a new
 * server nonce costs one resend; the private key cannot be exported; sign-out deletes it; two tabs
 * sharing the tokens sign with the same key, also across a refresh made by one of them.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { InvalidDpopProofError } from 'latchkey';
import type * as Sdk from '../src/index.js';
import type * as SdkDpop from '../src/dpop/index.js';
import { chromiumAvailable, launchChromium, openTab } from './helpers/browser.js';
import { startServer, type TestServer, type TestServerOptions } from './helpers/server.js';

interface PageGlobals {
  sdk: typeof Sdk & typeof SdkDpop;
  dlk: Sdk.LatchkeyClient;
  tokens(): Sdk.StoredTokens | null;
  storedKey(id: string): Promise<CryptoKeyPair | undefined>;
}
declare const window: PageGlobals & Window;

const available = await chromiumAvailable();

/**
 * A header-mode DPoP client in the page. Tokens go to localStorage here only so that two tabs share
 * them (the cross-tab case); the key goes to the default store, IndexedDB.
 */
async function dpopClient(page: Page): Promise<void> {
  await page.evaluate(() => {
    const tokenStorage = {
      get: () => JSON.parse(localStorage.getItem('tokens') ?? 'null') as Sdk.StoredTokens | null,
      set: (t: Sdk.StoredTokens) => localStorage.setItem('tokens', JSON.stringify(t)),
      clear: () => localStorage.removeItem('tokens'),
    };
    window.tokens = tokenStorage.get;
    window.storedKey = (id) => window.sdk.indexedDbKeyStore().get(id);
    window.dlk = window.sdk.createLatchkeyClient({
      mode: 'header',
      apiBase: location.origin,
      autoRefresh: false,
      tokenStorage,
      dpop: window.sdk.createDpop(),
    });
  });
}

const fetchStatus = (page: Page, path: string, method = 'GET') =>
  page.evaluate(async ([p, m]) => (await window.dlk.fetch(p, { method: m })).status, [path, method] as const);

describe.skipIf(!available)('@latchkey/client DPoP in Chromium', () => {
  let browser: Browser;
  let server: TestServer;
  let context: BrowserContext;

  beforeAll(async () => {
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
  });
  const start = async (options: TestServerOptions = {}) => {
    // The DPoP iat window is the engine's clock tolerance; the default test server has none.
    server = await startServer({ clockTolerance: 5, ...options });
    context = await browser.newContext();
  };
  beforeEach(() => {
    context = undefined as unknown as BrowserContext;
  });
  afterEach(async () => {
    await context?.close();
    await server?.close();
  });

  it('binds the session to a non-extractable key in IndexedDB; requests and refresh verify; sign-out deletes the key', async () => {
    await start();
    const page = await openTab(context, server.origin);
    await dpopClient(page);
    expect(await fetchStatus(page, '/app/signin', 'POST')).toBe(200);
    const tokens = (await page.evaluate(() => window.tokens()))!;
    expect(tokens.dpopKey).toEqual(expect.any(String));
    expect(await page.evaluate(() => window.dlk.isDeviceBound())).toBe(true);
    expect(await fetchStatus(page, '/api/me?q=1')).toBe(200);
    expect(await page.evaluate(() => window.dlk.refresh())).toBe(true);
    expect(await fetchStatus(page, '/api/me')).toBe(200);

    const key = await page.evaluate(async (id) => {
      const pair = await window.storedKey(id);
      const exported = await crypto.subtle.exportKey('jwk', pair!.privateKey).then(
        () => 'exported',
        (e: unknown) => (e as Error).name,
      );
      return { extractable: pair!.privateKey.extractable, type: pair!.privateKey.type, exported };
    }, tokens.dpopKey!);
    expect(key).toEqual({ extractable: false, type: 'private', exported: 'InvalidAccessError' });

    await page.evaluate(() => window.dlk.signOut());
    expect(await page.evaluate((id) => window.storedKey(id).then((k) => k === undefined), tokens.dpopKey!)).toBe(true);
    expect(await page.evaluate(() => window.dlk.isDeviceBound())).toBe(false);
  });

  it("the SDK's proofs made in Chromium are refused in every RFC 9449 failure case: replay, wrong htu, wrong htm, old iat, wrong or no ath, another key", async () => {
    await start();
    const page = await openTab(context, server.origin);
    await dpopClient(page);
    expect(await fetchStatus(page, '/app/signin', 'POST')).toBe(200);
    const { accessToken: at, dpopKey } = (await page.evaluate(() => window.tokens()))!;
    const url = `${server.origin}/api/me`;
    // Proofs by the page's signer over the session's key (its id in IndexedDB), as the client makes them.
    const proof = (method: string, target: string, token: string | undefined, options: { other?: boolean; ageSeconds?: number } = {}) =>
      page.evaluate(
        async ([m, u, t, key, o]) => {
          const real = Date.now;
          if (o.ageSeconds) Date.now = () => real() - o.ageSeconds! * 1000;
          try {
            return await window.sdk.createDpop().proof(m, u, o.other ? undefined : key, t);
          } finally {
            Date.now = real;
          }
        },
        [method, target, token, dpopKey!, options] as const,
      );
    const verify = (text: string, method = 'GET') =>
      server.engine.verifyAccessToken(at, { scheme: 'DPoP', dpop: { proof: text, method, url } });
    const reason = async (promise: Promise<unknown>) => {
      const error = await promise.then(
        () => null,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(InvalidDpopProofError);
      return (error as InvalidDpopProofError).reason;
    };
    const good = await proof('GET', `${url}?query=ignored#and-fragment`, at);
    await expect(verify(good)).resolves.toMatchObject({ userId: 'alice' });
    expect(await reason(verify(good))).toBe('replay');
    expect(await reason(verify(await proof('GET', `${server.origin}/api/other`, at)))).toBe('htu');
    expect(await reason(verify(await proof('POST', url, at)))).toBe('htm');
    expect(await reason(verify(await proof('GET', url, at, { ageSeconds: 60 })))).toBe('iat');
    expect(await reason(verify(await proof('GET', url, 'not the access token')))).toBe('ath');
    expect(await reason(verify(await proof('GET', url, undefined)))).toBe('ath');
    expect(await reason(verify(await proof('GET', url, at, { other: true })))).toBe('key_mismatch');
  });

  it('a new server nonce costs one resend (sign-in, request, refresh)', async () => {
    await start({ dpop: { requireNonce: true } });
    const page = await openTab(context, server.origin);
    await dpopClient(page);
    expect(await fetchStatus(page, '/app/signin', 'POST')).toBe(200);
    expect(server.count('POST /app/signin')).toBe(2);
    expect(await fetchStatus(page, '/api/me')).toBe(200);
    expect(server.count('GET /api/me')).toBe(1);
    expect(await page.evaluate(() => window.dlk.refresh())).toBe(true);
    expect(server.count('POST /auth/refresh')).toBe(1);
  });

  it('two tabs sharing the tokens sign with the same key from IndexedDB, also after one of them refreshed', async () => {
    await start();
    const a = await openTab(context, server.origin);
    const b = await openTab(context, server.origin);
    await dpopClient(a);
    await dpopClient(b);
    expect(await fetchStatus(a, '/app/signin', 'POST')).toBe(200);
    expect(await fetchStatus(b, '/api/me')).toBe(200);
    expect(await b.evaluate(() => window.dlk.refresh())).toBe(true);
    // Tab A reads the tokens tab B stored and signs with the key tab B used: the server accepts both.
    expect(await fetchStatus(a, '/api/me')).toBe(200);
    expect(await a.evaluate(() => window.dlk.isDeviceBound())).toBe(true);
  });
});
