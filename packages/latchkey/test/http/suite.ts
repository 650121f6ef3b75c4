/**
 * The shared HTTP conformance suite: the same cases against every adapter, in process and over a
 * real socket. Time is a controlled clock shared by the engine and the HTTP layer.
 */
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import fc from 'fast-check';
import { createLatchkey, StoreUnavailableError, type Latchkey, type SessionStore } from 'latchkey';
import { decodeFrontToken, type LatchkeyHttpOptions } from 'latchkey/http';
import { memoryStore } from 'latchkey/stores/memory';
import { Client, type Reply } from './support/client.js';
import { KeepAliveClient } from './support/keep-alive.js';
import type { AdapterHarness, Served } from './support/harness.js';

const SECRET = 'http-suite-secret-0123456789abcdef';
const TTL = 900;

const WRITES = [
  'createSession', 'updateSession', 'rotateRefreshToken', 'revokeSession', 'revokeUserSessions',
  'insertSigningKey', 'deleteSigningKeys', 'insertServiceKey', 'revokeServiceKey', 'deleteExpired',
  'insertApiKey', 'revokeApiKey', 'rotateApiKey', 'touchApiKeys',
] as const;

/** A memory store whose write methods are counted. */
function countingStore(): { store: SessionStore; writes: () => number } {
  const inner = memoryStore();
  let writes = 0;
  const store = {} as Record<string, unknown>;
  for (const name of Object.getOwnPropertyNames(Object.getPrototypeOf(inner)) as (keyof typeof inner)[]) {
    if (name === ('constructor' as never)) continue;
    const fn = (inner[name] as (...args: unknown[]) => unknown).bind(inner);
    store[name] = (WRITES as readonly string[]).includes(name) ? (...args: unknown[]) => { writes++; return fn(...args); } : fn;
  }
  return { store: store as unknown as SessionStore, writes: () => writes };
}

export function errorCode(reply: Reply): string | undefined {
  return reply.body?.error?.code;
}

export function runHttpSuite(harness: AdapterHarness): void {
  describe(`HTTP protocol: ${harness.name}`, () => {
    let now: number;
    let engine: Latchkey;
    /** The store the engine runs on (the engine keeps its own reference private). */
    let engineStore: SessionStore;
    let served: Served;
    let writes: () => number;
    const clock = { now: () => now };

    async function start(options: LatchkeyHttpOptions = {}): Promise<Client> {
      await served?.close();
      served = await harness.start(engine, { clock, ...options });
      return new Client(served);
    }

    beforeEach(async () => {
      now = Date.UTC(2026, 0, 1);
      const counted = countingStore();
      writes = counted.writes;
      engineStore = counted.store;
      engine = await createLatchkey({ issuer: 'http://localhost', store: counted.store, secret: SECRET, clock, timers: false, accessTokenTtl: TTL });
      served = await harness.start(engine, { clock });
    });

    afterEach(async () => {
      await served.close();
      await engine.close();
    });

    async function signIn(client: Client, user = 'alice', extra = ''): Promise<Reply> {
      const reply = await client.send('POST', `/auth/login?user=${user}${extra}`, { headers: { origin: served.origin } });
      expect(reply.status).toBe(200);
      return reply;
    }

    async function signInHeader(client: Client, user = 'alice'): Promise<{ accessToken: string; refreshToken: string; idToken: string }> {
      const reply = await client.send('POST', `/auth/login?user=${user}`, { headers: { 'x-latchkey-mode': 'header' }, csrf: false, cookies: false });
      expect(reply.status).toBe(200);
      return reply.body;
    }

    test('sign-in sets the three cookies with exactly the protocol attributes', async () => {
      const client = new Client(served);
      const reply = await signIn(client);
      const byName = new Map(reply.setCookies.map((c) => [c.name, c]));
      expect([...byName.keys()].sort()).toEqual(['__Host-lk_access', '__Secure-lk_refresh', 'lk_front']);
      expect(reply.setCookies).toHaveLength(3);
      const access = byName.get('__Host-lk_access')!;
      expect(access).toMatchObject({ httpOnly: true, secure: true, sameSite: 'lax', path: '/', maxAge: TTL });
      expect(access.domain).toBeUndefined();
      const refresh = byName.get('__Secure-lk_refresh')!;
      expect(refresh).toMatchObject({ httpOnly: true, secure: true, sameSite: 'strict', path: '/auth/refresh', maxAge: 1_209_600 });
      expect(refresh.domain).toBeUndefined();
      const front = byName.get('lk_front')!;
      expect(front).toMatchObject({ secure: true, sameSite: 'lax', path: '/', maxAge: 1_209_600 });
      expect(front.httpOnly).toBeFalsy();
      // The same front token in the header and the cookie, in the protocol's format.
      expect(reply.headers.get('x-latchkey-front')).toBe(front.value);
      const decoded = decodeFrontToken(front.value!);
      expect(decoded).toMatchObject({ v: 1, exp: now + TTL * 1000, now });
      expect(decoded!.idToken.split('.')).toHaveLength(3);
      // Cookie mode never puts tokens in the body.
      expect(reply.body.accessToken).toBeUndefined();
      expect(reply.body.refreshToken).toBeUndefined();
      expect(reply.body.session.userId).toBe('alice');
      expect(reply.headers.get('set-cookie')).not.toContain('Domain');
    });

    test('a protected route accepts the session cookie and refuses a request without one', async () => {
      const client = new Client(served);
      await signIn(client);
      const me = await client.send('GET', '/api/me');
      expect(me.status).toBe(200);
      expect(me.body).toMatchObject({ userId: 'alice', mode: 'cookie' });
      const anonymous = await new Client(served).send('GET', '/api/me');
      expect(anonymous.status).toBe(401);
      expect(errorCode(anonymous)).toBe('UNAUTHORISED');
      expect((await new Client(served).send('GET', '/api/optional')).body).toEqual({ userId: null });
      expect((await client.send('GET', '/api/optional')).body).toEqual({ userId: 'alice' });
    });

    test('expiry → TRY_REFRESH_TOKEN → refresh → success, with rotated cookies', async () => {
      const client = new Client(served);
      await signIn(client);
      const oldRefresh = client.jar.get('__Secure-lk_refresh')!.value;
      now += (TTL + 60) * 1000;
      const expired = await client.send('GET', '/api/me');
      expect(expired.status).toBe(401);
      expect(errorCode(expired)).toBe('TRY_REFRESH_TOKEN');
      expect(expired.headers.get('www-authenticate')).toBeNull();
      // A browser drops the access cookie at Max-Age; the front cookie still says "refresh".
      client.jar.delete('__Host-lk_access');
      const dropped = await client.send('GET', '/api/me');
      expect(errorCode(dropped)).toBe('TRY_REFRESH_TOKEN');
      const refreshed = await client.send('POST', '/auth/refresh');
      expect(refreshed.status).toBe(200);
      expect(refreshed.setCookies.map((c) => c.name).sort()).toEqual(['__Host-lk_access', '__Secure-lk_refresh', 'lk_front']);
      expect(client.jar.get('__Secure-lk_refresh')!.value).not.toBe(oldRefresh);
      expect(decodeFrontToken(refreshed.headers.get('x-latchkey-front')!)).toMatchObject({ now, exp: now + TTL * 1000 });
      expect(refreshed.headers.get('cache-control')).toBe('no-store');
      const me = await client.send('GET', '/api/me');
      expect(me.status).toBe(200);
    });

    test('header mode end to end: JSON tokens, Bearer, refresh by body, RFC 6750 challenges', async () => {
      const client = new Client(served);
      const tokens = await signInHeader(client);
      expect(client.jar.size).toBe(0);
      expect(tokens).toMatchObject({ accessToken: expect.any(String), refreshToken: expect.stringMatching(/^lkrt_/), idToken: expect.any(String) });
      const h = (token: string) => ({ 'x-latchkey-mode': 'header', authorization: `Bearer ${token}` });
      const me = await client.send('GET', '/api/me', { headers: h(tokens.accessToken) });
      expect(me.status).toBe(200);
      expect(me.body.mode).toBe('header');
      // No CSRF header needed: header mode carries no ambient credential.
      expect((await client.send('POST', '/api/me', { headers: h(tokens.accessToken), csrf: false })).status).toBe(200);
      const listed = await client.send('GET', '/auth/sessions', { headers: h(tokens.accessToken) });
      expect(listed.body.sessions).toMatchObject([{ userId: 'alice', current: true }]);
      const missing = await client.send('GET', '/api/me', { headers: { 'x-latchkey-mode': 'header' } });
      expect(missing.status).toBe(401);
      expect(missing.headers.get('www-authenticate')).toBe('Bearer');
      const garbage = await client.send('GET', '/api/me', { headers: h('not.a.jwt') });
      expect(garbage.status).toBe(401);
      expect(garbage.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"');
      now += (TTL + 60) * 1000;
      const expired = await client.send('GET', '/api/me', { headers: h(tokens.accessToken) });
      expect(errorCode(expired)).toBe('TRY_REFRESH_TOKEN');
      expect(expired.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"');
      const refreshed = await client.send('POST', '/auth/refresh', {
        headers: { 'x-latchkey-mode': 'header', 'content-type': 'application/json' },
        body: JSON.stringify({ refreshToken: tokens.refreshToken }),
        csrf: false,
      });
      expect(refreshed.status).toBe(200);
      expect(refreshed.setCookies).toHaveLength(0);
      expect(refreshed.body.accessTokenExpiresAt).toBe(new Date(now + TTL * 1000).toISOString());
      expect(refreshed.headers.get('x-latchkey-front')).toBeTruthy();
      expect((await client.send('GET', '/api/me', { headers: h(refreshed.body.accessToken) })).status).toBe(200);
      const out = await client.send('POST', '/auth/signout', { headers: h(refreshed.body.accessToken), csrf: false });
      expect(out.body).toEqual({ revoked: true });
      const after = await client.send('GET', '/api/me', { headers: h(refreshed.body.accessToken) });
      expect(errorCode(after)).toBe('UNAUTHORISED');
    });

    test('CSRF: state-changing cookie requests need X-Latchkey-CSRF; GET does not', async () => {
      const client = new Client(served);
      await signIn(client);
      for (const [method, path] of [['POST', '/api/me'], ['POST', '/auth/refresh'], ['POST', '/auth/signout'], ['DELETE', '/auth/sessions?others=true']] as const) {
        const refused = await client.send(method, path, { csrf: false });
        expect(refused.status, `${method} ${path}`).toBe(403);
        expect(errorCode(refused)).toBe('CSRF_REJECTED');
        expect(refused.setCookies).toHaveLength(0);
      }
      const wrongValue = await client.send('POST', '/api/me', { csrf: false, headers: { 'x-latchkey-csrf': 'yes' } });
      expect(errorCode(wrongValue)).toBe('CSRF_REJECTED');
      expect((await client.send('POST', '/api/me')).status).toBe(200);
      expect((await client.send('GET', '/api/me', { csrf: false })).status).toBe(200);
      // Login CSRF: the sign-in helper refuses a forged sign-in.
      const forgedLogin = await new Client(served).send('POST', '/auth/login?user=mallory', { csrf: false });
      expect(errorCode(forgedLogin)).toBe('CSRF_REJECTED');
      expect(forgedLogin.setCookies).toHaveLength(0);
      // The refused sign-out left the session working.
      expect((await client.send('GET', '/api/me')).status).toBe(200);
    });

    test('Origin: own origin accepted, foreign origin rejected, allowed origins get CORS without reflection', async () => {
      const client = new Client(served);
      await signIn(client);
      expect((await client.send('POST', '/api/me', { headers: { origin: served.origin } })).status).toBe(200);
      const foreign = await client.send('POST', '/api/me', { headers: { origin: 'https://evil.example' } });
      expect(foreign.status).toBe(403);
      expect(errorCode(foreign)).toBe('CSRF_REJECTED');
      expect(errorCode(await client.send('POST', '/api/me', { headers: { origin: 'null' } }))).toBe('CSRF_REJECTED');
      expect(errorCode(await client.send('POST', '/api/me', { headers: { 'sec-fetch-site': 'cross-site' } }))).toBe('CSRF_REJECTED');
      const evilRefresh = await client.send('POST', '/auth/refresh', { headers: { origin: 'https://evil.example' } });
      expect(errorCode(evilRefresh)).toBe('CSRF_REJECTED');
      expect(evilRefresh.headers.get('access-control-allow-origin')).toBeNull();
      const evilPreflight = await client.send('OPTIONS', '/auth/refresh', { headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' } });
      expect(evilPreflight.headers.get('access-control-allow-origin')).toBeNull();

      const spa = 'https://spa.example';
      const c2 = await start({ allowedOrigins: [spa] });
      await signIn(c2);
      const preflight = await c2.send('OPTIONS', '/auth/refresh', { headers: { origin: spa, 'access-control-request-method': 'POST' } });
      expect(preflight.status).toBe(204);
      expect(preflight.headers.get('access-control-allow-origin')).toBe(spa);
      expect(preflight.headers.get('access-control-allow-credentials')).toBe('true');
      expect(preflight.headers.get('access-control-allow-headers')).toContain('x-latchkey-csrf');
      const refreshed = await c2.send('POST', '/auth/refresh', { headers: { origin: spa } });
      expect(refreshed.status).toBe(200);
      expect(refreshed.headers.get('access-control-allow-origin')).toBe(spa);
      expect(refreshed.headers.get('access-control-expose-headers')).toContain('x-latchkey-front');
      expect(errorCode(await c2.send('POST', '/api/me', { headers: { origin: 'https://other.example' } }))).toBe('CSRF_REJECTED');
      // The app-owned sign-in route exposes the front-token headers to the allowed origin (the app's CORS owns the rest).
      const spaLogin = await new Client(served).send('POST', '/auth/login?user=spa', { headers: { origin: spa } });
      expect(spaLogin.status).toBe(200);
      expect(spaLogin.headers.get('access-control-expose-headers')).toContain('x-latchkey-front');
      const sameOriginLogin = await new Client(served).send('POST', '/auth/login?user=same', { headers: { origin: served.origin } });
      expect(sameOriginLogin.headers.get('access-control-expose-headers')).toBeNull();
    });

    test('sessions list marks the current one; a user cannot revoke another user\'s session', async () => {
      const alice1 = new Client(served);
      const alice2 = new Client(served);
      const bob = new Client(served);
      await signIn(alice1, 'alice');
      await signIn(alice2, 'alice');
      await signIn(bob, 'bob');
      const list = await alice1.send('GET', '/auth/sessions');
      expect(list.status).toBe(200);
      expect(list.body.sessions).toHaveLength(2);
      const mine = (await alice1.send('GET', '/api/me')).body.sessionId as string;
      const other = (await alice2.send('GET', '/api/me')).body.sessionId as string;
      expect(list.body.sessions.filter((s: { current: boolean }) => s.current).map((s: { id: string }) => s.id)).toEqual([mine]);
      const writesBefore = writes();
      const stolen = await bob.send('DELETE', `/auth/sessions/${mine}`);
      expect(stolen.status).toBe(404);
      expect(errorCode(stolen)).toBe('NOT_FOUND');
      expect(errorCode(await bob.send('DELETE', '/auth/sessions/..%2Fx'))).toBe('NOT_FOUND');
      expect(writes()).toBe(writesBefore);
      expect((await alice1.send('GET', '/api/me')).status).toBe(200);
      // Ending one's own other session works and takes effect at once.
      const ended = await alice1.send('DELETE', `/auth/sessions/${other}`);
      expect(ended.body).toEqual({ revoked: true });
      expect(errorCode(await alice2.send('GET', '/api/me'))).toBe('UNAUTHORISED');
      expect(errorCode(await alice1.send('DELETE', `/auth/sessions/${other}`))).toBe('NOT_FOUND');
      // "Sign out everywhere else".
      const alice3 = new Client(served);
      await signIn(alice3, 'alice');
      expect(errorCode(await alice1.send('DELETE', '/auth/sessions'))).toBe('INVALID_REQUEST');
      const others = await alice1.send('DELETE', '/auth/sessions?others=true');
      expect(others.body).toEqual({ revoked: 1 });
      expect(errorCode(await alice3.send('GET', '/api/me'))).toBe('UNAUTHORISED');
      expect((await alice1.send('GET', '/api/me')).status).toBe(200);
      expect((await bob.send('GET', '/api/me')).status).toBe(200);
    });

    test('sign-out revokes the session and clears every cookie', async () => {
      const client = new Client(served);
      await signIn(client);
      const saved = new Map(client.jar);
      const out = await client.send('POST', '/auth/signout');
      expect(out.status).toBe(200);
      expect(out.body).toEqual({ revoked: true });
      const cleared = new Map(out.setCookies.map((c) => [c.name, c]));
      for (const [name, path] of [['__Host-lk_access', '/'], ['__Secure-lk_refresh', '/auth/refresh'], ['lk_front', '/']]) {
        expect(cleared.get(name!), name).toMatchObject({ value: '', maxAge: 0, path, secure: true });
      }
      expect(client.jar.size).toBe(0);
      expect(out.headers.get('clear-site-data')).toBeNull();
      // The old cookies, replayed, no longer work: the access token is revoked, the refresh fails (and clears).
      const replay = new Client(served);
      for (const [k, v] of saved) replay.jar.set(k, v);
      expect(errorCode(await replay.send('GET', '/api/me'))).toBe('UNAUTHORISED');
      const failed = await replay.send('POST', '/auth/refresh');
      expect(failed.status).toBe(401);
      expect(failed.setCookies.filter((c) => c.maxAge === 0).map((c) => c.name).sort()).toEqual(['__Host-lk_access', '__Secure-lk_refresh', 'lk_front']);
      // Signing out with nothing is harmless.
      expect((await new Client(served).send('POST', '/auth/signout')).body).toEqual({ revoked: false });
      // The app's own sign-out handler uses the same helper.
      const c2 = new Client(served);
      await signIn(c2);
      expect((await c2.send('POST', '/app/logout')).body).toMatchObject({ revoked: true, mode: 'cookie' });
      expect(c2.jar.size).toBe(0);
    });

    test('sign-out with clearSiteData sends Clear-Site-Data; with an expired token it asks for a refresh first', async () => {
      const client = await start({ clearSiteData: true });
      await signIn(client);
      now += (TTL + 60) * 1000;
      const expired = await client.send('POST', '/auth/signout');
      expect(errorCode(expired)).toBe('TRY_REFRESH_TOKEN');
      expect((await client.send('POST', '/auth/refresh')).status).toBe(200);
      const out = await client.send('POST', '/auth/signout');
      expect(out.body).toEqual({ revoked: true });
      expect(out.headers.get('clear-site-data')).toBe('"cache", "cookies", "storage"');
    });

    test('a replayed rotated-out refresh token is reported as theft and clears the cookies', async () => {
      const client = new Client(served);
      await signIn(client);
      const first = client.jar.get('__Secure-lk_refresh')!.value;
      expect((await client.send('POST', '/auth/refresh')).status).toBe(200);
      now += 60_000; // past the grace window
      const me = (await client.send('GET', '/api/me')).body;
      const thief = await new Client(served).send('POST', '/auth/refresh', { cookieHeader: `__Secure-lk_refresh=${first}` });
      expect(thief.status).toBe(401);
      expect(thief.body.error).toMatchObject({ code: 'TOKEN_THEFT_DETECTED', sessionId: me.sessionId, userId: 'alice' });
      expect(thief.setCookies.some((c) => c.name === '__Secure-lk_refresh' && c.maxAge === 0)).toBe(true);
      // D2: the victim's next request learns it was theft, not a plain sign-out.
      const victim = await client.send('GET', '/api/me');
      expect([victim.status, errorCode(victim)]).toEqual([401, 'TOKEN_THEFT_DETECTED']);
    });

    test('after a theft revocation every route answers TOKEN_THEFT_DETECTED, in both modes, optional routes too (D2)', async () => {
      const header = { 'x-latchkey-mode': 'header', 'content-type': 'application/json' };
      const tokens = await signInHeader(new Client(served), 'victim');
      const rotated = await new Client(served).send('POST', '/auth/refresh', { headers: header, body: JSON.stringify({ refreshToken: tokens.refreshToken }), csrf: false, cookies: false });
      expect(rotated.status).toBe(200);
      now += 60_000; // past the grace window
      const thief = await new Client(served).send('POST', '/auth/refresh', { headers: header, body: JSON.stringify({ refreshToken: tokens.refreshToken }), csrf: false, cookies: false });
      expect(errorCode(thief)).toBe('TOKEN_THEFT_DETECTED');
      const bearer = { 'x-latchkey-mode': 'header', authorization: `Bearer ${rotated.body.accessToken}` };
      for (const path of ['/api/me', '/api/optional', '/api/optional-pre', '/auth/sessions']) {
        const reply = await new Client(served).send('GET', path, { headers: bearer });
        expect([reply.status, errorCode(reply)], path).toEqual([401, 'TOKEN_THEFT_DETECTED']);
        expect(reply.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"');
      }
      const victimRefresh = await new Client(served).send('POST', '/auth/refresh', { headers: header, body: JSON.stringify({ refreshToken: rotated.body.refreshToken }), csrf: false, cookies: false });
      expect([victimRefresh.status, errorCode(victimRefresh)]).toEqual([401, 'TOKEN_THEFT_DETECTED']);
      // Cookie mode, on an optional route.
      const browser = new Client(served);
      await signIn(browser, 'victim2');
      const first = browser.jar.get('__Secure-lk_refresh')!.value;
      expect((await browser.send('POST', '/auth/refresh')).status).toBe(200);
      now += 60_000;
      expect(errorCode(await new Client(served).send('POST', '/auth/refresh', { cookieHeader: `__Secure-lk_refresh=${first}` }))).toBe('TOKEN_THEFT_DETECTED');
      const optional = await browser.send('GET', '/api/optional');
      expect([optional.status, errorCode(optional)]).toEqual([401, 'TOKEN_THEFT_DETECTED']);
    });

    test('duplicate session cookies (cookie tossing) are refused with a code and cleared, with no store write', async () => {
      const client = new Client(served);
      await signIn(client);
      const access = client.jar.get('__Host-lk_access')!.value;
      const refresh = client.jar.get('__Secure-lk_refresh')!.value;
      const before = writes();
      const tossed = await client.send('GET', '/api/me', { cookieHeader: `__Host-lk_access=${access}; __Host-lk_access=attacker` });
      expect(tossed.status).toBe(400);
      expect(errorCode(tossed)).toBe('INVALID_REQUEST');
      expect(tossed.setCookies.filter((c) => c.maxAge === 0).map((c) => c.name)).toContain('__Host-lk_access');
      const tossedRefresh = await client.send('POST', '/auth/refresh', { cookieHeader: `__Secure-lk_refresh=x; __Secure-lk_refresh=${refresh}` });
      expect(tossedRefresh.status).toBe(400);
      const tossedSignout = await client.send('POST', '/auth/signout', { cookieHeader: `lk_front=a; lk_front=b; __Host-lk_access=${access}` });
      expect(errorCode(tossedSignout)).toBe('INVALID_REQUEST');
      expect(tossedSignout.setCookies.filter((c) => c.maxAge === 0).map((c) => c.name).sort()).toEqual(['__Host-lk_access', '__Secure-lk_refresh', 'lk_front']);
      expect(errorCode(tossedRefresh)).toBe('INVALID_REQUEST');
      expect(writes()).toBe(before);
      // Stale cookies from an old shared Domain are cleared on that domain too.
      const c2 = await start({ cookies: { staleDomains: ['example.com'] } });
      const out = await c2.send('POST', '/auth/signout');
      const onDomain = out.setCookies.filter((c) => c.domain === 'example.com');
      expect(onDomain.map((c) => c.name).sort()).toEqual(['__Secure-lk_access', '__Secure-lk_refresh', 'lk_front']);
      expect(onDomain.every((c) => c.maxAge === 0)).toBe(true);
    });

    test('bearer where a cookie is expected, and a cookie where a bearer is expected, are refused with codes', async () => {
      const client = new Client(served);
      const tokens = await signInHeader(client);
      const bearerInCookieMode = await client.send('GET', '/api/me', { headers: { authorization: `Bearer ${tokens.accessToken}` } });
      expect(bearerInCookieMode.status).toBe(400);
      expect(errorCode(bearerInCookieMode)).toBe('INVALID_REQUEST');
      const browser = new Client(served);
      await signIn(browser);
      const cookieInHeaderMode = await browser.send('GET', '/api/me', { headers: { 'x-latchkey-mode': 'header' } });
      expect(cookieInHeaderMode.status).toBe(401);
      expect(cookieInHeaderMode.headers.get('www-authenticate')).toBe('Bearer');
      expect(errorCode(await browser.send('GET', '/api/me', { headers: { 'x-latchkey-mode': 'sideways' } }))).toBe('INVALID_REQUEST');
      // A cookie-only server refuses header mode outright.
      const cookieOnly = await start({ modes: 'cookie' });
      expect(errorCode(await cookieOnly.send('POST', '/auth/refresh', { headers: { 'x-latchkey-mode': 'header' }, body: '{}' }))).toBe('INVALID_REQUEST');
    });

    test('malformed input: wrong methods, bad JSON, oversized bodies, bad refresh tokens', async () => {
      const client = new Client(served);
      const put = await client.send('PUT', '/auth/refresh');
      expect(put.status).toBe(405);
      expect(put.headers.get('allow')).toBe('POST');
      expect(errorCode(put)).toBe('INVALID_REQUEST');
      const header = { 'x-latchkey-mode': 'header', 'content-type': 'application/json' };
      for (const body of ['{', '[]', '"x"', '{"refreshToken":42}', '']) {
        const reply = await client.send('POST', '/auth/refresh', { headers: header, body, csrf: false });
        expect(reply.status, body).toBe(400);
        expect(errorCode(reply)).toBe('INVALID_REQUEST');
      }
      const big = await client.send('POST', '/auth/refresh', { headers: header, body: JSON.stringify({ refreshToken: 'x'.repeat(20_000) }), csrf: false });
      expect(big.status).toBe(413);
      const wrongShape = await client.send('POST', '/auth/refresh', { headers: header, body: '{"refreshToken":"lkrt_nope"}', csrf: false });
      expect(wrongShape.status).toBe(401);
      expect(wrongShape.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"');
      const noCookie = await client.send('POST', '/auth/refresh');
      expect(noCookie.status).toBe(401);
      expect(errorCode(noCookie)).toBe('UNAUTHORISED');
      const jwks = await client.send('GET', '/.well-known/jwks.json');
      expect(jwks.status).toBe(200);
      expect(jwks.body.keys.length).toBeGreaterThan(0);
      expect(jwks.body.keys[0].d).toBeUndefined();
    });

    test.runIf(harness.name.includes('socket'))('an oversized body gets 413 and leaves the pooled connection usable for the next request', async () => {
      const client = new KeepAliveClient(served.origin);
      try {
        const header = { 'x-latchkey-mode': 'header', 'content-type': 'application/json' };
        const refreshBody = (size: number) => JSON.stringify({ refreshToken: 'x'.repeat(size) });
        const probe = async () => {
          // The next request on the pool: another user's refresh, answered as usual.
          const next = await client.send('POST', '/auth/refresh', header, refreshBody(10));
          expect(next.status).toBe(401);
          expect(JSON.parse(next.body).error.code).toBe('UNAUTHORISED');
          const jwks = await client.send('GET', '/.well-known/jwks.json', {});
          expect(jwks.status).toBe(200);
        };
        // Declared too large (Content-Length), a little and a lot over the limit: refused on the
        // declaration alone, before any of the body (see sendUntilRefused for why the client waits
        // for the answer instead of writing the body).
        for (const size of [20_000, 200_000, 4_000_000]) {
          const big = await client.sendUntilRefused('POST', '/auth/refresh', { ...header, 'content-length': String(Buffer.byteLength(refreshBody(size))) }, '');
          expect(big.status, `${size} bytes`).toBe(413);
          expect(JSON.parse(big.body).error.code).toBe('INVALID_REQUEST');
          expect(big.headers.connection).toBe('close');
          await probe();
        }
        // Chunked, with no length declared: found too large while reading (17 kB of a body that would
        // go on, sent in one write; the limit is 16 KiB).
        const chunked = await client.sendUntilRefused('POST', '/auth/refresh', header, `{"refreshToken":"${'x'.repeat(17_000)}`);
        expect(chunked.status).toBe(413);
        expect(JSON.parse(chunked.body).error.code).toBe('INVALID_REQUEST');
        expect(chunked.headers.connection).toBe('close');
        await probe();
      } finally {
        client.close();
      }
    });

    test('requireSession options: claims, freshness, store check; session.update and session.data', async () => {
      const client = new Client(served);
      await signIn(client);
      const forbidden = await client.send('GET', '/api/admin');
      expect(forbidden.status).toBe(403);
      expect(errorCode(forbidden)).toBe('FORBIDDEN');
      expect((await client.send('GET', '/api/data')).body).toEqual({ data: { plan: 'pro' } });
      const promoted = await client.send('POST', '/api/promote');
      expect(promoted.status).toBe(200);
      expect(promoted.setCookies.map((c) => c.name).sort()).toEqual(['__Host-lk_access', 'lk_front']);
      expect((await client.send('GET', '/api/admin')).status).toBe(200);
      expect((await client.send('GET', '/api/fresh')).status).toBe(200);
      expect((await client.send('GET', '/api/checked')).status).toBe(200);
      now += 120_000;
      const stale = await client.send('GET', '/api/fresh');
      expect(stale.status).toBe(403);
      expect(errorCode(stale)).toBe('INSUFFICIENT_FRESHNESS');
      const scopeless = await signInHeader(client, 'dave');
      const notAdmin = await client.send('GET', '/api/admin', { headers: { 'x-latchkey-mode': 'header', authorization: `Bearer ${scopeless.accessToken}` } });
      expect(notAdmin.status).toBe(403);
      expect(notAdmin.headers.get('www-authenticate')).toBe('Bearer error="insufficient_scope"');
      // Header mode: RFC 9470 step-up challenge.
      const tokens = await signInHeader(client, 'carol');
      now += 120_000;
      const staleHeader = await client.send('GET', '/api/fresh', { headers: { 'x-latchkey-mode': 'header', authorization: `Bearer ${tokens.accessToken}` } });
      expect(staleHeader.headers.get('www-authenticate')).toBe('Bearer error="insufficient_user_authentication", max_age=60');
    });

    test('optional routes: no credential is anonymous; an expired token asks for a refresh; a bad one is refused', async () => {
      const h = (token: string) => ({ 'x-latchkey-mode': 'header', authorization: `Bearer ${token}` });
      for (const path of ['/api/optional', '/api/optional-pre']) {
        now = Date.UTC(2026, 0, 1);
        // No credential at all, in either mode: anonymous.
        expect((await new Client(served).send('GET', path)).body, path).toEqual({ userId: null });
        expect((await new Client(served).send('GET', path, { headers: { 'x-latchkey-mode': 'header' } })).body).toEqual({ userId: null });
        // Cookie mode: an expired token is TRY_REFRESH_TOKEN (not anonymous), with the cookie or without it.
        const browser = new Client(served);
        await signIn(browser);
        expect((await browser.send('GET', path)).body).toEqual({ userId: 'alice' });
        now += (TTL + 60) * 1000;
        const expired = await browser.send('GET', path);
        expect(expired.status, path).toBe(401);
        expect(errorCode(expired)).toBe('TRY_REFRESH_TOKEN');
        browser.jar.delete('__Host-lk_access');
        expect(errorCode(await browser.send('GET', path))).toBe('TRY_REFRESH_TOKEN');
        expect((await browser.send('POST', '/auth/refresh')).status).toBe(200);
        expect((await browser.send('GET', path)).body).toEqual({ userId: 'alice' });
        // A forged access cookie is refused as on a required route, and clears nothing.
        const forged = await browser.send('GET', path, { cookieHeader: '__Host-lk_access=not.a.jwt; lk_front=x' });
        expect(forged.status).toBe(401);
        expect(errorCode(forged)).toBe('UNAUTHORISED');
        expect(forged.setCookies).toHaveLength(0);
        // Header mode: the same rules, with RFC 6750 challenges.
        const tokens = await signInHeader(new Client(served), 'bob');
        expect((await browser.send('GET', path, { headers: h(tokens.accessToken), cookies: false })).body).toEqual({ userId: 'bob' });
        const garbage = await browser.send('GET', path, { headers: h('not.a.jwt'), cookies: false });
        expect(errorCode(garbage)).toBe('UNAUTHORISED');
        expect(garbage.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"');
        now += (TTL + 60) * 1000;
        const stale = await browser.send('GET', path, { headers: h(tokens.accessToken), cookies: false });
        expect(errorCode(stale)).toBe('TRY_REFRESH_TOKEN');
        expect(stale.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"');
        // A revoked session is refused, not silently anonymous.
        const carol = new Client(served);
        await signIn(carol, 'carol');
        const access = carol.jar.get('__Host-lk_access')!.value;
        expect((await carol.send('POST', '/auth/signout')).status).toBe(200);
        const revoked = await carol.send('GET', path, { cookieHeader: `__Host-lk_access=${access}` });
        expect(revoked.status).toBe(401);
        expect(errorCode(revoked)).toBe('UNAUTHORISED');
      }
    });

    test('header-mode updates send the new access token and front token; two updates send each cookie once', async () => {
      const client = new Client(served);
      const tokens = await signInHeader(client, 'erin');
      const h = (token: string) => ({ 'x-latchkey-mode': 'header', authorization: `Bearer ${token}` });
      expect((await client.send('GET', '/api/admin', { headers: h(tokens.accessToken) })).status).toBe(403);
      const promoted = await client.send('POST', '/api/promote', { headers: h(tokens.accessToken), csrf: false });
      expect(promoted.status).toBe(200);
      const adopted = promoted.headers.get('x-latchkey-access-token');
      expect(adopted).toBe(promoted.body.accessToken);
      expect(promoted.headers.get('cache-control')).toBe('no-store');
      const front = decodeFrontToken(promoted.headers.get('x-latchkey-front')!);
      expect(front).toMatchObject({ v: 1, now, exp: now + TTL * 1000 });
      expect(promoted.setCookies).toHaveLength(0);
      expect((await client.send('GET', '/api/admin', { headers: h(adopted!) })).status).toBe(200);
      // Two updates in one request: one value of each header, the last update's.
      const twice = await client.send('POST', '/api/promote-twice', { headers: h(tokens.accessToken), csrf: false });
      expect(twice.status).toBe(200);
      expect(twice.headers.get('x-latchkey-access-token')).toBe(twice.body.accessToken);
      expect(twice.headers.get('x-latchkey-front')).not.toContain(',');
      expect((await client.send('GET', '/api/admin', { headers: h(twice.body.accessToken) })).status).toBe(200);
      // Cookie mode: the access and front cookies once each, carrying the last update.
      const browser = new Client(served);
      await signIn(browser, 'frank');
      const cookieTwice = await browser.send('POST', '/api/promote-twice');
      expect(cookieTwice.status).toBe(200);
      expect(cookieTwice.setCookies.map((c) => c.name).sort()).toEqual(['__Host-lk_access', 'lk_front']);
      expect(cookieTwice.headers.get('x-latchkey-front')).toBe(cookieTwice.setCookies.find((c) => c.name === 'lk_front')!.value);
      expect((await browser.send('GET', '/api/admin')).status).toBe(200);
      // An allowed cross-origin SDK may read the new headers.
      const spa = 'https://spa.example';
      const c2 = await start({ allowedOrigins: [spa] });
      const t2 = await signInHeader(c2, 'gina');
      const cross = await c2.send('POST', '/api/promote', { headers: { ...h(t2.accessToken), origin: spa }, csrf: false });
      expect(cross.headers.get('access-control-expose-headers')).toContain('x-latchkey-access-token');
      expect(cross.headers.get('access-control-expose-headers')).not.toContain(',,');
    });

    test('every refresh response carries X-Latchkey-Refresh-Grace, success or refusal, in both modes', async () => {
      const grace = String(engine.refreshGraceSeconds);
      expect(grace).toBe('30');
      const client = new Client(served);
      await signIn(client);
      const ok = await client.send('POST', '/auth/refresh');
      expect(ok.status).toBe(200);
      expect(ok.headers.get('x-latchkey-refresh-grace')).toBe(grace);
      const noCookie = await new Client(served).send('POST', '/auth/refresh');
      expect(noCookie.status).toBe(401);
      expect(noCookie.headers.get('x-latchkey-refresh-grace')).toBe(grace);
      const forged = await client.send('POST', '/auth/refresh', { csrf: false });
      expect(errorCode(forged)).toBe('CSRF_REJECTED');
      expect(forged.headers.get('x-latchkey-refresh-grace')).toBe(grace);
      const tokens = await signInHeader(client, 'hal');
      const header = { 'x-latchkey-mode': 'header', 'content-type': 'application/json' };
      const headerOk = await client.send('POST', '/auth/refresh', { headers: header, body: JSON.stringify({ refreshToken: tokens.refreshToken }), csrf: false, cookies: false });
      expect(headerOk.status).toBe(200);
      expect(headerOk.headers.get('x-latchkey-refresh-grace')).toBe(grace);
      const headerBad = await client.send('POST', '/auth/refresh', { headers: header, body: '{"refreshToken":"lkrt_nope"}', csrf: false, cookies: false });
      expect(headerBad.status).toBe(401);
      expect(headerBad.headers.get('x-latchkey-refresh-grace')).toBe(grace);
      // Every token-issuing answer carries it too, so a fresh page's first refresh already fits the window:
      // a sign-in in both modes, and a claim update's reissue in both modes.
      const signedIn = await signIn(new Client(served), 'ida');
      expect(signedIn.headers.get('x-latchkey-refresh-grace')).toBe(grace);
      const headerSignIn = await client.send('POST', '/auth/login?user=ida', { headers: { 'x-latchkey-mode': 'header' }, csrf: false, cookies: false });
      expect(headerSignIn.headers.get('x-latchkey-refresh-grace')).toBe(grace);
      const promoted = await client.send('POST', '/api/promote');
      expect(promoted.status).toBe(200);
      expect(promoted.headers.get('x-latchkey-refresh-grace')).toBe(grace);
      const headerPromoted = await client.send('POST', '/api/promote', { headers: { 'x-latchkey-mode': 'header', authorization: `Bearer ${tokens.accessToken}` }, csrf: false, cookies: false });
      expect(headerPromoted.status).toBe(200);
      expect(headerPromoted.headers.get('x-latchkey-refresh-grace')).toBe(grace);
      // Sent once on a successful refresh, not once by the token headers and again by the route.
      expect(ok.headers.get('x-latchkey-refresh-grace')).not.toContain(',');
      // Other routes do not carry it.
      expect((await client.send('GET', '/auth/sessions')).headers.get('x-latchkey-refresh-grace')).toBeNull();
      // Exposed to an allowed cross-origin SDK.
      const spa = 'https://spa.example';
      const c2 = await start({ allowedOrigins: [spa] });
      await signIn(c2);
      const cross = await c2.send('POST', '/auth/refresh', { headers: { origin: spa } });
      expect(cross.headers.get('access-control-expose-headers')).toContain('x-latchkey-refresh-grace');
    });

    test('token CSRF mode: the session-bound token is issued and required', async () => {
      const client = await start({ csrf: { mode: 'token', secret: 'csrf-secret-0123456789abcdef-0123456789' } });
      const login = await signIn(client);
      const token = client.jar.get('__Host-lk_csrf')?.value;
      expect(token).toBeTruthy();
      expect(login.headers.get('x-latchkey-csrf-token')).toBe(token);
      const csrfCookie = login.setCookies.find((c) => c.name === '__Host-lk_csrf');
      expect(csrfCookie).toMatchObject({ secure: true, path: '/', sameSite: 'lax' });
      expect(csrfCookie?.httpOnly).toBeFalsy();
      expect(errorCode(await client.send('POST', '/api/me'))).toBe('CSRF_REJECTED');
      expect((await client.send('POST', '/api/me', { csrf: false, headers: { 'x-latchkey-csrf': token! } })).status).toBe(200);
      // Another session's token does not pass for this one.
      const other = new Client(served);
      await signIn(other, 'bob');
      const bobToken = other.jar.get('__Host-lk_csrf')!.value;
      client.jar.set('__Host-lk_csrf', { value: bobToken, path: '/' });
      expect(errorCode(await client.send('POST', '/api/me', { csrf: false, headers: { 'x-latchkey-csrf': bobToken } }))).toBe('CSRF_REJECTED');
      client.jar.set('__Host-lk_csrf', { value: token!, path: '/' });
      expect((await client.send('POST', '/auth/refresh', { csrf: false, headers: { 'x-latchkey-csrf': token! } })).status).toBe(200);
    });

    test('oversized cookies and bearer tokens are refused with a code, never a 500', async () => {
      const client = new Client(served);
      const big = 'a'.repeat(10_000);
      const cookie = await client.send('GET', '/api/me', { cookieHeader: `__Host-lk_access=${big}` });
      expect(cookie.status).toBe(401);
      expect(errorCode(cookie)).toBe('UNAUTHORISED');
      const bearer = await client.send('GET', '/api/me', { headers: { 'x-latchkey-mode': 'header', authorization: `Bearer ${big}` } });
      expect(bearer.status).toBe(401);
      expect(bearer.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"');
      const refresh = await client.send('POST', '/auth/refresh', { cookieHeader: `__Secure-lk_refresh=${big}` });
      expect(refresh.status).toBe(401);
      const head = await client.send('HEAD', '/.well-known/jwks.json');
      expect(head.status).toBe(200);
      expect(head.body).toBeUndefined();
    });

    test('an unexpected error is a generic 500 that leaks nothing; a store outage is 503 and keeps the cookies', async () => {
      const reported: unknown[] = [];
      const client = await start({ onError: (error) => reported.push(error) });
      await signIn(client);
      const store = engineStore as unknown as Record<string, unknown>;
      const list = store.listActiveSessions;
      store.listActiveSessions = async () => {
        throw new Error('connection string postgres://admin:hunter2@db');
      };
      const boom = await client.send('GET', '/auth/sessions');
      expect(boom.status).toBe(500);
      expect(boom.body).toEqual({ error: { code: 'INTERNAL_ERROR', message: 'internal error' } });
      expect(reported).toHaveLength(1);
      store.listActiveSessions = list;
      store.rotateRefreshToken = async () => {
        throw new StoreUnavailableError();
      };
      const outage = await client.send('POST', '/auth/refresh');
      expect(outage.status).toBe(503);
      expect(errorCode(outage)).toBe('STORE_UNAVAILABLE');
      expect(outage.setCookies).toHaveLength(0);
      expect(client.jar.has('__Secure-lk_refresh')).toBe(true);
    });

    test('property: random cookies, headers and bodies never yield a 5xx nor write to the store', async () => {
      // A real access token with one character changed: well formed, wrongly signed. Never the last
      // character of a segment, whose low bits base64url may not carry (that would not be a change).
      const victim = new Client(served);
      await signIn(victim, 'victim');
      const realAccess = victim.jar.get('__Host-lk_access')!.value;
      const positions = [...realAccess].flatMap((ch, i) => (ch !== '.' && i + 1 < realAccess.length && realAccess[i + 1] !== '.' ? [i] : []));
      const before = writes();
      const client = new Client(served);
      const b64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
      const forged = fc.tuple(fc.constantFrom(...positions), fc.constantFrom(...b64)).map(([i, c]) =>
        realAccess.slice(0, i) + (realAccess[i] === c ? (c === 'A' ? 'B' : 'A') : c) + realAccess.slice(i + 1));
      const text = fc.oneof({ weight: 4, arbitrary: fc.string({ unit: 'grapheme-ascii', maxLength: 60 }) }, { weight: 1, arbitrary: forged });
      const cookieName = fc.constantFrom('__Host-lk_access', '__Secure-lk_refresh', 'lk_front', '__Host-lk_csrf', 'x');
      const cookieHeader = fc.array(fc.tuple(cookieName, text), { maxLength: 4 }).map((pairs) => pairs.map(([n, v]) => `${n}=${v}`).join('; '));
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom('GET', 'POST', 'DELETE', 'PUT', 'PATCH'),
          fc.constantFrom('/auth/refresh', '/auth/signout', '/auth/sessions', '/auth/sessions/abc', '/auth/sessions?others=true', '/api/me', '/api/promote', '/.well-known/jwks.json'),
          fc.oneof(cookieHeader, text),
          fc.option(fc.oneof(text, text.map((t) => `Bearer ${t}`)), { nil: undefined }),
          fc.option(fc.constantFrom('header', 'cookie', 'HEADER', 'x'), { nil: undefined }),
          fc.option(fc.oneof(text, fc.json()), { nil: undefined }),
          fc.boolean(),
          async (method, path, cookie, authorization, mode, body, csrf) => {
            const headers: Record<string, string> = {};
            if (authorization !== undefined) headers.authorization = authorization;
            if (mode !== undefined) headers['x-latchkey-mode'] = mode;
            if (body !== undefined) headers['content-type'] = 'application/json';
            const reply = await client.send(method, path, { headers, cookieHeader: cookie, csrf, ...(body !== undefined && method !== 'GET' ? { body } : {}) });
            expect(reply.status).toBeGreaterThanOrEqual(200);
            expect(reply.status).toBeLessThan(500);
            // The auth routes always answer a refusal with a typed code.
            if (reply.status >= 400 && !path.startsWith('/api/')) expect(errorCode(reply)).toMatch(/^[A-Z_]+$/);
          },
        ),
        { numRuns: 60 },
      );
      expect(writes()).toBe(before);
    });
  });
}
