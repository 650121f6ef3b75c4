/**
 * DBSC (W3C Device Bound Session Credentials) over HTTP, cookie mode, with a software client that
 * plays the browser's part byte for byte as Chromium 156 does it (the Chromium test,
 * browser-dbsc.test.ts, recorded the same exchange): the registration header it parses, the
 * registration POST with `Secure-Session-Response` (header `{alg, jwk, typ: "dbsc+jwt"}`, payload
 * `{jti}`) and the session's cookies, the refresh POST with a bare `Sec-Secure-Session-Id`, the 403
 * `Secure-Session-Challenge` and the proof without `jwk`. Time is the engine's fake clock, so the
 * bound cookie really expires.
 */
import { parseSetCookie } from 'cookie';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { afterEach, describe, expect, test } from 'vitest';
import type { Latchkey, SessionStore } from 'latchkey';
import {
  createLatchkeyHttp,
  decodeFrontToken,
  HeaderList,
  normaliseRequest,
  type LatchkeyHttp,
  type LatchkeyHttpOptions,
} from 'latchkey/http';
import { testEngine, type FakeClock } from '../helpers/engine.js';

const ORIGIN = 'https://app.example.com';
const ACCESS = '__Host-lk_access';
const REFRESH = '__Secure-lk_refresh';
const FRONT = 'lk_front';
// RFC 9651 inner list of tokens with string parameters, the shape Chromium's RegistrationFetcherParam accepts.
const REGISTRATION = /^\(ES256 RS256\);path="([^"\\]+)";challenge="([^"\\]+)"$/;
const CHALLENGE = /^"([^"\\]+)";id="([^"\\]+)"$/;

/** A browser's cookie jar that honours Path and expiry on the engine's clock (what makes the bound cookie go). */
class Browser {
  readonly jar = new Map<string, { value: string; path: string; expiresAt: number }>();
  key: { privateKey: CryptoKey; jwk: JWK; alg: 'ES256' | 'RS256' } | undefined;
  sessionId: string | undefined;

  constructor(
    readonly http: LatchkeyHttp,
    readonly clock: FakeClock,
  ) {}

  cookieFor(path: string): string {
    return [...this.jar.entries()]
      .filter(([, c]) => c.expiresAt > this.clock.now() && (c.path === '/' || path === c.path || path.startsWith(`${c.path}/`)))
      .map(([name, c]) => `${name}=${c.value}`)
      .join('; ');
  }

  take(setCookies: string[]): void {
    for (const header of setCookies) {
      const c = parseSetCookie(header);
      if (c.maxAge === 0 || !c.value) this.jar.delete(c.name);
      else this.jar.set(c.name, { value: c.value, path: c.path ?? '/', expiresAt: this.clock.now() + (c.maxAge ?? 1e9) * 1000 });
    }
  }

  async post(path: string, headers: Record<string, string> = {}): Promise<Response> {
    const cookie = this.cookieFor(path);
    const response = await this.http.fetch(
      new Request(`${ORIGIN}${path}`, { method: 'POST', headers: { ...headers, ...(cookie ? { cookie } : {}) } }),
    );
    if (!response) throw new Error(`${path} is not an auth route`);
    this.take(response.headers.getSetCookie());
    return response;
  }

  copy(): Browser {
    const thief = new Browser(this.http, this.clock);
    for (const [name, c] of this.jar) thief.jar.set(name, { ...c });
    thief.sessionId = this.sessionId;
    return thief;
  }
}

let engine: Latchkey | undefined;
afterEach(async () => {
  await engine?.close();
  engine = undefined;
});

/** The store behind the latest setup's engine (the engine keeps its own reference private). */
let engineStore: SessionStore;

async function setup(options: LatchkeyHttpOptions = { dbsc: true }): Promise<{ http: LatchkeyHttp; clock: FakeClock; lk: Latchkey }> {
  const { lk, clock, store } = await testEngine({ accessTokenTtl: 300 });
  engine = lk;
  engineStore = store;
  // The HTTP layer reads the same fake clock, so cookie lifetimes run on test time.
  return { http: createLatchkeyHttp(lk, { clock, ...options }), clock, lk };
}

/** The app's sign-in route in cookie mode; returns the registration header (null when none). */
async function signIn(browser: Browser): Promise<string | null> {
  const sink = new HeaderList();
  const request = normaliseRequest({
    method: 'POST',
    target: '/login',
    protocol: 'https',
    host: 'app.example.com',
    headers: new Headers({ 'x-latchkey-csrf': '1', origin: ORIGIN }),
    body: async () => undefined,
  });
  const result = await browser.http.signIn(request, { userId: 'alice' }, sink);
  browser.sessionId = result.session.id;
  browser.take(sink.entries.filter(([n]) => n === 'set-cookie').map(([, v]) => v));
  return sink.entries.find(([n]) => n === 'secure-session-registration')?.[1] ?? null;
}

async function newKey(alg: 'ES256' | 'RS256' = 'ES256'): Promise<{ privateKey: CryptoKey; jwk: JWK; alg: 'ES256' | 'RS256' }> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return { privateKey, jwk: await exportJWK(publicKey), alg };
}

/** The registration proof as Chromium makes it: header {alg, jwk, typ}, payload {jti}. */
function registrationProof(
  key: { privateKey: CryptoKey; jwk: JWK; alg: string },
  challenge: string,
  header: Record<string, unknown> = {},
): Promise<string> {
  return new SignJWT({ jti: challenge })
    .setProtectedHeader({ alg: key.alg, jwk: key.jwk, typ: 'dbsc+jwt', ...header })
    .sign(key.privateKey);
}

/** The refresh proof as Chromium makes it: header {alg, typ}, payload {jti}. */
function refreshProof(key: { privateKey: CryptoKey; alg: string }, challenge: string): Promise<string> {
  return new SignJWT({ jti: challenge }).setProtectedHeader({ alg: key.alg, typ: 'dbsc+jwt' }).sign(key.privateKey);
}

/** Sign-in and registration, as a DBSC browser does them. */
async function registered(browser: Browser, alg: 'ES256' | 'RS256' = 'ES256'): Promise<Response> {
  const header = await signIn(browser);
  const [, path, challenge] = REGISTRATION.exec(header ?? '') ?? [];
  browser.key = await newKey(alg);
  return browser.post(path!, { 'secure-session-response': await registrationProof(browser.key, challenge!) });
}

/** The browser's refresh: a bare POST, the 403 challenge, the proven POST. */
async function dbscRefresh(browser: Browser): Promise<{ challenge: Response; answer: Response }> {
  const sid = { 'sec-secure-session-id': browser.sessionId! };
  const challenge = await browser.post('/auth/refresh/dbsc', sid);
  const [, value, id] = CHALLENGE.exec(challenge.headers.get('secure-session-challenge') ?? '') ?? [];
  expect(id).toBe(browser.sessionId);
  const answer = await browser.post('/auth/refresh/dbsc', { ...sid, 'secure-session-response': await refreshProof(browser.key!, value!) });
  return { challenge, answer };
}

const errorCode = async (response: Response): Promise<unknown> => ((await response.json()) as { error: { code: string } }).error.code;

describe('DBSC over HTTP (cookie mode, a software browser playing Chromium)', () => {
  test('a cookie-mode sign-in asks for registration with the structured header Chromium parses; header mode and dbsc off do not', async () => {
    const { http, clock } = await setup();
    const header = await signIn(new Browser(http, clock));
    expect(header).toMatch(REGISTRATION);
    expect(REGISTRATION.exec(header!)![1]).toBe('/auth/dbsc/register');
    const sink = new HeaderList();
    const headerMode = normaliseRequest({
      method: 'POST',
      target: '/login',
      protocol: 'https',
      host: 'app.example.com',
      headers: new Headers({ 'x-latchkey-mode': 'header' }),
      body: async () => undefined,
    });
    await http.signIn(headerMode, { userId: 'bob' }, sink);
    expect(sink.entries.some(([n]) => n === 'secure-session-registration')).toBe(false);

    const off = await setup({});
    expect(await signIn(new Browser(off.http, off.clock))).toBeNull();
    // And the routes do not exist without the option.
    expect(await off.http.fetch(new Request(`${ORIGIN}/auth/dbsc/register`, { method: 'POST' }))).toBeNull();
    expect(() => createLatchkeyHttp(off.lk, { dbsc: true, modes: 'header' })).toThrow(TypeError);
  });

  test('registration binds the session to the key, answers the session config, and the front token says bound', async () => {
    const { http, clock, lk } = await setup();
    const browser = new Browser(http, clock);
    const response = await registered(browser);
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(await response.json()).toEqual({
      session_identifier: browser.sessionId,
      refresh_url: '/auth/refresh/dbsc',
      scope: { include_site: false, scope_specification: [] },
      credentials: [{ type: 'cookie', name: ACCESS, attributes: 'Path=/; Secure; HttpOnly; SameSite=Lax' }],
    });
    expect((await lk.getSession(browser.sessionId!))?.deviceBinding).toBe('dbsc');
    // The binding stored is the public key itself, which later proofs are checked against.
    const record = await engineStore.getSession(browser.sessionId!);
    expect(record?.binding).toMatchObject({
      method: 'dbsc',
      jwk: { kty: 'EC', crv: 'P-256', x: browser.key!.jwk.x, y: browser.key!.jwk.y },
    });
    expect(record?.binding?.jwk).not.toHaveProperty('d');
    // The answer re-sets the bound cookie and the front cookie, which now tells the SDK.
    const set = response.headers.getSetCookie().map((v) => parseSetCookie(v).name);
    expect(set).toEqual(expect.arrayContaining([ACCESS, FRONT]));
    expect(decodeFrontToken(browser.jar.get(FRONT)!.value)?.bound).toBe('dbsc');
  });

  test('an RS256 key registers and refreshes too', async () => {
    const { http, clock } = await setup();
    const browser = new Browser(http, clock);
    expect((await registered(browser, 'RS256')).status).toBe(200);
    clock.advance(301);
    expect((await dbscRefresh(browser)).answer.status).toBe(200);
  });

  test('bound cookie expiry: the refresh cookie alone no longer refreshes; the proven DBSC refresh does and rotates', async () => {
    const { http, clock, lk } = await setup();
    const browser = new Browser(http, clock);
    await registered(browser);
    clock.advance(301);
    expect(browser.cookieFor('/')).not.toContain(ACCESS);
    const refreshBefore = browser.jar.get(REFRESH)!.value;
    const generation = (await engineStore.getSession(browser.sessionId!))!.generation;

    // The plain refresh route (what a copied jar or a non-DBSC client would use): refused, typed,
    // nothing rotated, nothing revoked, and the cookies stay (a thief must not sign the holder out).
    const plain = await browser.post('/auth/refresh', { 'x-latchkey-csrf': '1' });
    expect(plain.status).toBe(401);
    expect(await errorCode(plain)).toBe('INVALID_DBSC_PROOF');
    expect(plain.headers.getSetCookie()).toEqual([]);
    expect((await engineStore.getSession(browser.sessionId!))!.generation).toBe(generation);
    expect((await lk.getSession(browser.sessionId!))?.revokedAt).toBeNull();

    const { challenge, answer } = await dbscRefresh(browser);
    expect(challenge.status).toBe(403);
    expect(await challenge.text()).toBe('');
    expect(answer.status).toBe(200);
    expect(((await answer.json()) as { session_identifier: string }).session_identifier).toBe(browser.sessionId);
    expect(browser.cookieFor('/')).toContain(ACCESS);
    expect(browser.jar.get(REFRESH)!.value).not.toBe(refreshBefore);
    expect((await engineStore.getSession(browser.sessionId!))!.generation).toBe(generation + 1);
    expect(decodeFrontToken(browser.jar.get(FRONT)!.value)?.bound).toBe('dbsc');
    // The new bound cookie authenticates.
    const access = browser.jar.get(ACCESS)!.value;
    expect((await lk.verifyAccessToken(access)).sessionId).toBe(browser.sessionId);
  });

  test('a copied cookie jar without the key fails once the bound cookie expires, and cannot burn the session', async () => {
    const { http, clock, lk } = await setup();
    const victim = new Browser(http, clock);
    await registered(victim);
    const thief = victim.copy();
    thief.key = await newKey();
    clock.advance(301);
    // With its own key: the proof is checked against the registered key.
    const { answer } = await dbscRefresh(thief);
    expect(answer.status).toBe(401);
    expect(await errorCode(answer)).toBe('INVALID_DBSC_PROOF');
    expect(answer.headers.getSetCookie()).toEqual([]);
    // Without a key: the plain route.
    const plain = await thief.post('/auth/refresh', { 'x-latchkey-csrf': '1' });
    expect(await errorCode(plain)).toBe('INVALID_DBSC_PROOF');
    expect(thief.cookieFor('/')).not.toContain(ACCESS);
    // The victim's browser still refreshes.
    expect((await dbscRefresh(victim)).answer.status).toBe(200);
    expect((await lk.getSession(victim.sessionId!))?.revokedAt).toBeNull();
  });

  test('registration refusals: typed INVALID_DBSC_PROOF, nothing bound', async () => {
    const { http, clock } = await setup();
    const browser = new Browser(http, clock);
    const header = await signIn(browser);
    const challenge = REGISTRATION.exec(header!)![2]!;
    const key = await newKey();
    const hmacKey = new TextEncoder().encode('k'.repeat(32));
    const { privateKey: rsaPs } = await generateKeyPair('PS256');
    const attempts: [string, string | undefined][] = [
      ['missing', undefined],
      ['malformed', 'not-a-jwt'],
      ['wrong_type', await registrationProof(key, challenge, { typ: 'dpop+jwt' })],
      [
        'algorithm (HS256)',
        await new SignJWT({ jti: challenge }).setProtectedHeader({ alg: 'HS256', typ: 'dbsc+jwt', jwk: key.jwk }).sign(hmacKey),
      ],
      [
        'algorithm (PS256)',
        await new SignJWT({ jti: challenge }).setProtectedHeader({ alg: 'PS256', typ: 'dbsc+jwt', jwk: key.jwk }).sign(rsaPs),
      ],
      [
        'algorithm (none)',
        `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'dbsc+jwt', jwk: key.jwk })).toString('base64url')}.${Buffer.from(JSON.stringify({ jti: challenge })).toString('base64url')}.`,
      ],
      ['private key', await registrationProof({ ...key, jwk: await exportJWK(key.privateKey) }, challenge)],
      ['no jwk', await new SignJWT({ jti: challenge }).setProtectedHeader({ alg: 'ES256', typ: 'dbsc+jwt' }).sign(key.privateKey)],
      ['another key signed', await registrationProof({ ...key, privateKey: (await newKey()).privateKey }, challenge)],
      ['a challenge not ours', await registrationProof(key, 'x.y.z')],
    ];
    for (const [what, proof] of attempts) {
      const response = await browser.post('/auth/dbsc/register', proof === undefined ? {} : { 'secure-session-response': proof });
      expect(response.status, what).toBe(401);
      expect(await errorCode(response), what).toBe('INVALID_DBSC_PROOF');
    }
    expect((await engineStore.getSession(browser.sessionId!))?.binding).toBeNull();

    // A challenge issued for another session does not bind this one.
    const other = new Browser(http, clock);
    const otherChallenge = REGISTRATION.exec((await signIn(other))!)![2]!;
    expect(
      (await browser.post('/auth/dbsc/register', { 'secure-session-response': await registrationProof(key, otherChallenge) })).status,
    ).toBe(401);
    // No session cookie: no registration.
    const anonymous = new Browser(http, clock);
    expect(
      await errorCode(await anonymous.post('/auth/dbsc/register', { 'secure-session-response': await registrationProof(key, challenge) })),
    ).toBe('UNAUTHORISED');
    // An expired challenge.
    clock.advance(121);
    const late = await browser.post('/auth/dbsc/register', { 'secure-session-response': await registrationProof(key, challenge) });
    expect(await errorCode(late)).toBe('INVALID_DBSC_PROOF');
    expect((await engineStore.getSession(browser.sessionId!))?.binding).toBeNull();
  });

  test('a challenge is answered once, and a bound session never takes a second key', async () => {
    const { http, clock, lk } = await setup();
    const browser = new Browser(http, clock);
    const header = await signIn(browser);
    const challenge = REGISTRATION.exec(header!)![2]!;
    browser.key = await newKey();
    const proof = await registrationProof(browser.key, challenge);
    expect((await browser.post('/auth/dbsc/register', { 'secure-session-response': proof })).status).toBe(200);
    // The same answer again: a replay.
    expect(await errorCode(await browser.post('/auth/dbsc/register', { 'secure-session-response': proof }))).toBe('INVALID_DBSC_PROOF');
    // A fresh challenge with another key: the session stays bound to the first.
    const second = lk.dbscChallenge(browser.sessionId!);
    const thiefKey = await newKey();
    expect(
      await errorCode(await browser.post('/auth/dbsc/register', { 'secure-session-response': await registrationProof(thiefKey, second) })),
    ).toBe('INVALID_DBSC_PROOF');
    expect((await engineStore.getSession(browser.sessionId!))?.binding?.jwk).toMatchObject({ x: browser.key.jwk.x });
  });

  test('refresh refusals: a proof with a jwk, a replayed proof (answered with a fresh challenge), an unknown session, no refresh cookie', async () => {
    const { http, clock } = await setup();
    const browser = new Browser(http, clock);
    await registered(browser);
    clock.advance(301);
    const sid = { 'sec-secure-session-id': browser.sessionId! };
    const challenge = CHALLENGE.exec((await browser.post('/auth/refresh/dbsc', sid)).headers.get('secure-session-challenge')!)![1]!;
    const withJwk = await registrationProof(browser.key!, challenge);
    expect(await errorCode(await browser.post('/auth/refresh/dbsc', { ...sid, 'secure-session-response': withJwk }))).toBe(
      'INVALID_DBSC_PROOF',
    );
    const proof = await refreshProof(browser.key!, challenge);
    expect((await browser.post('/auth/refresh/dbsc', { ...sid, 'secure-session-response': proof })).status).toBe(200);
    clock.advance(301);
    // The spec's 403 restarts the browser's request with the new challenge: a replay gets one.
    const replay = await browser.post('/auth/refresh/dbsc', { ...sid, 'secure-session-response': proof });
    expect(replay.status).toBe(403);
    expect(replay.headers.get('secure-session-challenge')).toMatch(CHALLENGE);
    // Chromium sends the id bare; the spec's structured-field string form is accepted too.
    expect((await browser.post('/auth/refresh/dbsc', { 'sec-secure-session-id': `"${browser.sessionId!}"` })).status).toBe(403);
    expect((await browser.post('/auth/refresh/dbsc', {})).status).toBe(400);
    // The session id names the key; a proof for session A cannot refresh with B's id.
    const other = new Browser(http, clock);
    await registered(other);
    const forOther = { 'sec-secure-session-id': other.sessionId! };
    const c2 = CHALLENGE.exec((await browser.post('/auth/refresh/dbsc', forOther)).headers.get('secure-session-challenge')!)![1]!;
    const crossed = await browser.post('/auth/refresh/dbsc', {
      ...forOther,
      'secure-session-response': await refreshProof(browser.key!, c2),
    });
    expect(await errorCode(crossed)).toBe('INVALID_DBSC_PROOF');
    // No refresh cookie (signed out): 401 at once, which ends the browser's DBSC session.
    const empty = new Browser(http, clock);
    const noCookie = await empty.post('/auth/refresh/dbsc', sid);
    expect(noCookie.status).toBe(401);
    expect(await errorCode(noCookie)).toBe('UNAUTHORISED');
  });

  test('a browser without DBSC ignores the header and keeps refreshing with the refresh cookie', async () => {
    const { http, clock } = await setup();
    const browser = new Browser(http, clock);
    expect(await signIn(browser)).toMatch(REGISTRATION);
    clock.advance(301);
    const response = await browser.post('/auth/refresh', { 'x-latchkey-csrf': '1' });
    expect(response.status).toBe(200);
    expect(browser.cookieFor('/')).toContain(ACCESS);
    expect(decodeFrontToken(browser.jar.get(FRONT)!.value)?.bound).toBeUndefined();
  });
});
