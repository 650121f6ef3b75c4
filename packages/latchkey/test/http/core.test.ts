/**
 * Unit tests of the transport core's pieces that the adapter suite does not reach: option
 * validation (and the types that forbid unsafe combinations), the shared-domain cookie variant,
 * the 4096-byte cookie bound, duplicate-cookie parsing, and the web-standard entry point.
 */
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { parseSetCookie } from 'cookie';
import { createLatchkey, type Latchkey } from 'latchkey';
import {
  createLatchkeyHttp,
  CookieConflictError,
  decodeFrontToken,
  encodeFrontToken,
  HeaderList,
  normaliseRequest,
  readCookies,
  requestFromHeaders,
  resolveHttpSettings,
  type HttpRequest,
  type LatchkeyHttpOptions,
} from 'latchkey/http';
import { memoryStore } from 'latchkey/stores/memory';

function request(parts: { method?: string; path?: string; headers?: Record<string, string>; host?: string; protocol?: string }): HttpRequest {
  const headers = new Headers(parts.headers);
  return normaliseRequest({
    method: parts.method ?? 'GET',
    target: parts.path ?? '/',
    protocol: parts.protocol ?? 'https',
    host: parts.host ?? 'app.example.com',
    headers,
    body: async () => undefined,
  });
}

describe('options', () => {
  test('defaults give the protocol names and safe settings', () => {
    const s = resolveHttpSettings();
    expect(s.names).toEqual({ access: '__Host-lk_access', refresh: '__Secure-lk_refresh', front: 'lk_front', csrf: '__Host-lk_csrf' });
    expect(s).toMatchObject({ basePath: '/auth', refreshPath: '/auth/refresh', modes: { cookie: true, header: true }, sameSite: 'lax', csrf: { mode: 'header' }, jwksPath: '/.well-known/jwks.json', maxBodyBytes: 16_384 });
    expect(s.cookieDomain).toBeUndefined();
    expect(s.clearSiteData).toBeUndefined();
    expect(s.allowedOrigins.size).toBe(0);
  });

  test('a shared cookie domain turns __Host- into __Secure- (that prefix forbids Domain)', () => {
    const s = resolveHttpSettings({ cookies: { domain: 'example.com', prefix: 'app_' } });
    expect(s.names).toMatchObject({ access: '__Secure-app_access', refresh: '__Secure-app_refresh', front: 'app_front' });
    expect(s.cookieDomain).toBe('example.com');
  });

  test.each<[string, LatchkeyHttpOptions]>([
    ['wildcard origin', { allowedOrigins: ['*'] }],
    ['origin with a path', { allowedOrigins: ['https://a.example/'] }],
    ['origin with a path segment', { allowedOrigins: ['https://a.example/app'] }],
    ['non-http origin', { allowedOrigins: ['ftp://a.example'] }],
    ['base path without slash', { basePath: 'auth' }],
    ['base path with trailing slash', { basePath: '/auth/' }],
    ['cookie prefix with separators', { cookies: { prefix: 'a;b' } }],
    ['cookie domain with a leading dot', { cookies: { domain: '.example.com' } }],
    ['cookie domain with a scheme', { cookies: { domain: 'https://example.com' } }],
    ['SameSite=None', { cookies: { sameSite: 'none' as 'lax' } }],
    ['short CSRF secret', { csrf: { mode: 'token', secret: 'short' } }],
    ['unknown mode', { modes: 'all' as 'both' }],
    ['unknown Clear-Site-Data directive', { clearSiteData: ['everything' as 'cache'] }],
    ['tiny body limit', { maxBodyBytes: 10 }],
  ])('refuses %s with a TypeError', (_name, options) => {
    expect(() => resolveHttpSettings(options)).toThrow(TypeError);
  });

  test('the types forbid unsafe combinations', () => {
    // Type-level checks (verified by tsc over the tests); the calls also fail at run time.
    // @ts-expect-error SameSite=None is not offered for session cookies
    expect(() => resolveHttpSettings({ cookies: { sameSite: 'none' } })).toThrow(TypeError);
    // @ts-expect-error token-mode CSRF needs a secret
    expect(() => resolveHttpSettings({ csrf: { mode: 'token' } })).toThrow(TypeError);
    // @ts-expect-error modes is 'cookie' | 'header' | 'both'
    expect(() => resolveHttpSettings({ modes: 'none' })).toThrow(TypeError);
  });

  test('never mutates the caller\'s options', () => {
    const options = Object.freeze({ allowedOrigins: Object.freeze(['https://spa.example']), cookies: Object.freeze({ prefix: 'x_' }) });
    expect(() => resolveHttpSettings(options)).not.toThrow();
  });
});

describe('request normalisation', () => {
  test('own origin drops default ports and refuses odd Host headers (fail closed)', () => {
    expect(request({ host: 'app.example.com:443' }).ownOrigin).toBe('https://app.example.com');
    expect(request({ host: 'localhost:3000', protocol: 'http' }).ownOrigin).toBe('http://localhost:3000');
    for (const host of ['evil.example/x', 'user@evil.example', 'a b', '', 'evil.example?x']) {
      expect(request({ host }).ownOrigin, host).toBeUndefined();
    }
  });

  test('a protocol-relative target stays a path; garbage targets match no route', () => {
    expect(request({ path: '//evil.example/auth/refresh' }).path).toBe('//evil.example/auth/refresh');
    expect(normaliseRequest({ method: 'GET', target: 'http://[bad', protocol: 'https', host: 'a.example', headers: new Headers(), body: async () => undefined }).path).toBe('');
  });
});

describe('cookies', () => {
  test('reads the wanted cookies and refuses a duplicate of any of them', () => {
    const names = ['__Host-lk_access', 'lk_front'];
    expect([...readCookies('a=1; __Host-lk_access=t; lk_front=f; a=2', names)]).toEqual([['__Host-lk_access', 't'], ['lk_front', 'f']]);
    expect(() => readCookies('__Host-lk_access=t;__Host-lk_access=u', names)).toThrow(CookieConflictError);
    expect(() => readCookies('lk_front=1; x=1; lk_front=1', names)).toThrow(CookieConflictError);
    expect(readCookies(null, names).size).toBe(0);
    expect(readCookies(';;;=;', names).size).toBe(0);
  });

  test('the front token round-trips in the protocol format', () => {
    const value = encodeFrontToken('a.b.c', new Date(2_000), 1_000);
    expect(JSON.parse(Buffer.from(value, 'base64url').toString())).toEqual({ v: 1, idToken: 'a.b.c', exp: 2_000, now: 1_000 });
    expect(decodeFrontToken(value)).toEqual({ v: 1, idToken: 'a.b.c', exp: 2_000, now: 1_000 });
    expect(decodeFrontToken('not-json')).toBeNull();
  });
});

describe('core helpers', () => {
  let engine: Latchkey;
  beforeEach(async () => {
    engine = await createLatchkey({ issuer: 'https://app.example.com', store: memoryStore(), secret: 'core-test-secret-0123456789abcdef', timers: false });
  });
  afterEach(() => engine.close());

  const signInRequest = (headers: Record<string, string> = {}) =>
    request({ method: 'POST', path: '/auth/login', headers: { 'x-latchkey-csrf': '1', 'user-agent': 'test-agent', ...headers } });

  test('shared-domain cookies carry Domain and the __Secure- access name', async () => {
    const http = createLatchkeyHttp(engine, { cookies: { domain: 'example.com' } });
    const sink = new HeaderList();
    const result = await http.signIn(signInRequest(), { userId: 'u1' }, sink);
    const cookies = sink.entries.filter(([n]) => n === 'set-cookie').map(([, v]) => parseSetCookie(v));
    expect(cookies.map((c) => [c.name, c.domain])).toEqual([
      ['__Secure-lk_access', 'example.com'],
      ['__Secure-lk_refresh', 'example.com'],
      ['lk_front', 'example.com'],
    ]);
    expect(result.session.device).toEqual({ userAgent: 'test-agent' });
  });

  test('tokens that would not fit a 4096-byte cookie are refused and leave no active session', async () => {
    const http = createLatchkeyHttp(engine);
    const sink = new HeaderList();
    // Within the engine's 2048-byte claim budget, but the front token (base64url of JSON holding the
    // ID token, itself base64url) grows past the cookie bound.
    const idClaims = { blob: 'x'.repeat(2_000) };
    await expect(http.signIn(signInRequest(), { userId: 'u1', idClaims }, sink)).rejects.toMatchObject({ code: 'INVALID_CLAIMS', message: expect.stringContaining('lk_front') });
    expect(sink.entries).toHaveLength(0);
    expect(await engine.listSessions('u1')).toHaveLength(0);
    // Header mode has no cookie bound: the same claims are fine there.
    const header = await http.signIn(signInRequest({ 'x-latchkey-mode': 'header' }), { userId: 'u1', idClaims }, sink);
    expect(header.mode).toBe('header');
  });

  test('session.update that would outgrow the cookies is refused and rolled back', async () => {
    const http = createLatchkeyHttp(engine);
    const signInSink = new HeaderList();
    await http.signIn(signInRequest(), { userId: 'u2', idClaims: { name: 'Ann' } }, signInSink);
    const cookie = signInSink.entries.filter(([n]) => n === 'set-cookie').map(([, v]) => parseSetCookie(v)).map((c) => `${c.name}=${c.value}`).join('; ');
    const sink = new HeaderList();
    const session = await http.getSession(request({ headers: { cookie } }), sink);
    expect(session).not.toBeNull();
    await expect(session!.update({ idClaims: { blob: 'x'.repeat(2_000) } })).rejects.toMatchObject({ code: 'INVALID_CLAIMS' });
    expect(sink.entries).toHaveLength(0);
    expect((await engine.getSession(session!.sessionId))?.idClaims).toEqual({ name: 'Ann' });
    const ok = await session!.update({ idClaims: { name: 'Bea' } });
    expect(ok.session.idClaims).toEqual({ name: 'Bea' });
    expect(sink.entries.map(([n]) => n)).toEqual(['x-latchkey-front', 'x-latchkey-refresh-grace', 'set-cookie', 'set-cookie', 'cache-control']);
  });

  test('a merge update that would outgrow the cookies is undone key by key, keeping another writer\'s change', async () => {
    const http = createLatchkeyHttp(engine);
    const signInSink = new HeaderList();
    await http.signIn(signInRequest(), { userId: 'u3', idClaims: { name: 'Ann' }, data: { plan: 'free' } }, signInSink);
    const cookie = signInSink.entries.filter(([n]) => n === 'set-cookie').map(([, v]) => parseSetCookie(v)).map((c) => `${c.name}=${c.value}`).join('; ');
    const sink = new HeaderList();
    const session = (await http.getSession(request({ headers: { cookie } }), sink))!;
    await session.load();
    // Another request merges a key after this one read the session.
    await engine.updateSession(session.sessionId, { mergeIdClaims: { team: 't1' } });
    await expect(session.update({ mergeIdClaims: { blob: 'x'.repeat(2_000) }, mergeData: { plan: 'pro' } })).rejects.toMatchObject({ code: 'INVALID_CLAIMS' });
    expect(sink.entries).toHaveLength(0);
    const stored = (await engine.getSession(session.sessionId))!;
    expect(stored.idClaims).toEqual({ name: 'Ann', team: 't1' });
    expect(stored.data).toEqual({ plan: 'free' });
  });

  test('sign-in in cookie mode is refused without the CSRF header or from a foreign origin (login CSRF)', async () => {
    const http = createLatchkeyHttp(engine);
    const plain = request({ method: 'POST', path: '/auth/login' });
    await expect(http.signIn(plain, { userId: 'u1' }, new HeaderList())).rejects.toMatchObject({ code: 'CSRF_REJECTED', status: 403 });
    const foreign = signInRequest({ origin: 'https://evil.example' });
    await expect(http.signIn(foreign, { userId: 'u1' }, new HeaderList())).rejects.toMatchObject({ code: 'CSRF_REJECTED' });
    expect(() => http.checkLoginCsrf(signInRequest({ origin: 'https://app.example.com' }))).not.toThrow();
    expect(await engine.listSessions('u1')).toHaveLength(0);
  });

  test('a header-only server never sets cookies, even without X-Latchkey-Mode', async () => {
    const http = createLatchkeyHttp(engine, { modes: 'header' });
    const sink = new HeaderList();
    const result = await http.signIn(request({ method: 'POST', path: '/auth/login' }), { userId: 'u3' }, sink);
    expect(result.mode).toBe('header');
    expect(result.body).toMatchObject({ accessToken: expect.any(String), refreshToken: expect.any(String) });
    expect(sink.entries.map(([n]) => n)).toEqual(['x-latchkey-front', 'x-latchkey-refresh-grace']);
    await expect(http.signIn(signInRequest({ 'x-latchkey-mode': 'cookie' }), { userId: 'u3' }, sink)).rejects.toMatchObject({ code: 'INVALID_REQUEST' });
  });

  test('a read-only request from headers alone (Server Components) finds the session', async () => {
    const http = createLatchkeyHttp(engine);
    const sink = new HeaderList();
    await http.signIn(signInRequest(), { userId: 'u9' }, sink);
    const cookie = sink.entries.filter(([n]) => n === 'set-cookie').map(([, v]) => parseSetCookie(v)).map((c) => `${c.name}=${c.value}`).join('; ');
    const session = await http.getSession(requestFromHeaders(new Headers({ cookie }), 'https://app.example.com/dashboard'));
    expect(session?.userId).toBe('u9');
    expect(await http.getSession(requestFromHeaders(new Headers(), 'https://app.example.com/'))).toBeNull();
  });

  test('the web-standard entry point serves the routes and passes others by', async () => {
    const http = createLatchkeyHttp(engine, { basePath: '/api/auth' });
    const jwks = await http.fetch(new Request('https://app.example.com/.well-known/jwks.json'));
    expect(jwks?.status).toBe(200);
    expect(jwks?.headers.get('cache-control')).toBe('public, max-age=300');
    expect(await http.fetch(new Request('https://app.example.com/api/auth/login', { method: 'POST' }))).toBeNull();
    expect(await http.fetch(new Request('https://app.example.com/auth/refresh', { method: 'POST' }))).toBeNull();
    const refresh = await http.fetch(new Request('https://app.example.com/api/auth/refresh', { method: 'POST', headers: { 'x-latchkey-csrf': '1' } }));
    expect(refresh?.status).toBe(401);
    expect(parseSetCookie(refresh!.headers.getSetCookie()[1]!).path).toBe('/api/auth/refresh');
  });
});
