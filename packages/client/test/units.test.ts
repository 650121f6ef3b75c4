/**
 * The SDK's pure parts, in Node: decoding (with the server's own encoder as the reference), error
 * classification, the event emitter, the scheduler's no-loop rule, and the size budget.
 */
import { describe, expect, it, vi } from 'vitest';
import { TokenTheftError, TryRefreshError, UnauthorisedError } from 'latchkey';
import {
  ACCESS_TOKEN_HEADER as SERVER_ACCESS_TOKEN_HEADER,
  CSRF_HEADER as SERVER_CSRF_HEADER,
  CSRF_TOKEN_HEADER as SERVER_CSRF_TOKEN_HEADER,
  encodeFrontToken,
  FRONT_HEADER as SERVER_FRONT_HEADER,
  MODE_HEADER as SERVER_MODE_HEADER,
  REFRESH_GRACE_HEADER as SERVER_GRACE_HEADER,
  resolveHttpSettings,
} from 'latchkey/http';
import { base64urlToText } from '../src/base64url.js';
import { createServerClock } from '../src/clock.js';
import { createEmitter } from '../src/emitter.js';
import { decodeClaims, decodeFrontToken } from '../src/front-token.js';
import * as protocol from '../src/protocol.js';
import { readServerError, toServerError } from '../src/protocol.js';
import { createScheduler } from '../src/scheduler.js';
import { DEFAULT_GRACE } from '../src/refresher.js';
import { createLatchkeyClient } from '../src/index.js';
import { createLatchkey } from 'latchkey';
import { createLatchkeyHttp } from 'latchkey/http';
import { memoryStore } from 'latchkey/stores/memory';
import { BUDGET_BYTES, CLAIMS_BUDGET_BYTES, DPOP_BUDGET_BYTES, measure } from '../scripts/size.mjs';

describe('decoding', () => {
  it('base64url → UTF-8 text, every padding length, URL-safe alphabet', () => {
    for (const text of ['', 'a', 'ab', 'abc', 'Ünïcödé ✓ 🔑', '?>?>~~~']) {
      expect(base64urlToText(Buffer.from(text).toString('base64url'))).toBe(text);
    }
  });

  it('reads the front token exactly as the server encodes it', () => {
    const raw = encodeFrontToken('h.p.s', new Date(2_000_000), 1_000_000);
    expect(decodeFrontToken(raw)).toEqual({ raw, idToken: 'h.p.s', exp: 2_000_000, now: 1_000_000 });
  });

  it('treats anything malformed as "no front token", never throws', () => {
    const enc = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
    for (const raw of [null, '', '!!!', enc(null), enc([]), enc({ v: 2, idToken: 'x', exp: 1, now: 1 }), enc({ v: 1, idToken: 'x', exp: '1', now: 1 })]) {
      expect(decodeFrontToken(raw)).toBeNull();
    }
  });

  it('decodes ID-token claims for display; garbage is null', () => {
    const payload = Buffer.from(JSON.stringify({ sub: 'u', name: 'Zoë' })).toString('base64url');
    expect(decodeClaims(`h.${payload}.s`)).toEqual({ sub: 'u', name: 'Zoë' });
    expect(decodeClaims('nodots')).toBeNull();
    expect(decodeClaims(`h.${Buffer.from('[1]').toString('base64url')}.s`)).toBeNull();
  });
});

describe('server errors', () => {
  it('acts only on latchkey error bodies', async () => {
    const res = (body: string, type = 'application/json') => new Response(body, { status: 401, headers: { 'content-type': type } });
    expect(await readServerError(res('{"error":{"code":"TRY_REFRESH_TOKEN","message":"m"}}'))).toEqual({ code: 'TRY_REFRESH_TOKEN' });
    expect(await readServerError(res('{"error":{"code":"TOKEN_THEFT_DETECTED","sessionId":"s","userId":"u","reason":"parent-after-grace"}}'))).toEqual({
      code: 'TOKEN_THEFT_DETECTED',
      sessionId: 's',
      userId: 'u',
      reason: 'parent-after-grace',
    });
    expect(await readServerError(res('<html>', 'text/html'))).toBeNull();
    expect(await readServerError(res('not json'))).toBeNull();
    expect(toServerError({ error: 'x' })).toBeNull();
    // The caller's body is still readable afterwards.
    const r = res('{"error":{"code":"UNAUTHORISED"}}');
    await readServerError(r);
    expect(await r.json()).toEqual({ error: { code: 'UNAUTHORISED' } });
  });
});

describe('protocol constants', () => {
  // The SDK cannot import the server (it ships to browsers with no dependencies), so it keeps its own
  // copy of the wire names; this is what stops the two from drifting apart.
  it('header names equal the server\'s (compared as HTTP does, case-insensitively)', () => {
    const pairs: [string, string][] = [
      [protocol.FRONT_HEADER, SERVER_FRONT_HEADER],
      [protocol.CSRF_HEADER, SERVER_CSRF_HEADER],
      [protocol.CSRF_TOKEN_HEADER, SERVER_CSRF_TOKEN_HEADER],
      [protocol.MODE_HEADER, SERVER_MODE_HEADER],
      [protocol.GRACE_HEADER, SERVER_GRACE_HEADER],
      [protocol.ACCESS_TOKEN_HEADER, SERVER_ACCESS_TOKEN_HEADER],
    ];
    for (const [client, server] of pairs) expect(client.toLowerCase()).toBe(server.toLowerCase());
  });

  it('error codes equal the server\'s', () => {
    expect(protocol.TRY_REFRESH_TOKEN).toBe(new TryRefreshError().code);
    expect(protocol.UNAUTHORISED).toBe(new UnauthorisedError('missing', 'm').code);
    expect(protocol.TOKEN_THEFT_DETECTED).toBe(new TokenTheftError('s', 'u').code);
  });

  it('cookie names and routes equal the server\'s, for the default and a custom prefix, with and without a cookie domain', () => {
    for (const prefix of [undefined, 'app2_']) {
      for (const domain of [undefined, 'example.com']) {
        const settings = resolveHttpSettings({ cookies: { ...(prefix ? { prefix } : {}), ...(domain ? { domain } : {}) } });
        const p = prefix ?? protocol.DEFAULT_COOKIE_PREFIX; // the SDK's cookiePrefix default
        expect(protocol.frontCookie(p)).toBe(settings.names.front);
        expect(protocol.csrfCookies(p)).toContain(settings.names.csrf);
      }
    }
    const settings = resolveHttpSettings({});
    expect(protocol.frontCookie(protocol.DEFAULT_COOKIE_PREFIX)).toBe(settings.names.front);
    expect(protocol.DEFAULT_AUTH_BASE).toBe(settings.basePath);
    expect(`${protocol.DEFAULT_AUTH_BASE}/${protocol.REFRESH_ROUTE}`).toBe(settings.refreshPath);
  });

  it('the sign-out route is one the server handles; the assumed grace window is the server\'s default', async () => {
    const engine = await createLatchkey({ issuer: 'http://localhost', store: memoryStore(), secret: 'a test secret that is long enough for latchkey!!', timers: false });
    try {
      const http = createLatchkeyHttp(engine);
      for (const route of [protocol.SIGNOUT_ROUTE, protocol.REFRESH_ROUTE]) {
        const response = await http.fetch(new Request(`http://localhost${protocol.DEFAULT_AUTH_BASE}/${route}`, { method: 'POST', headers: { [protocol.CSRF_HEADER]: '1' } }));
        expect(response, route).not.toBeNull();
      }
      expect(await http.fetch(new Request(`http://localhost${protocol.DEFAULT_AUTH_BASE}/nothing`, { method: 'POST' }))).toBeNull();
      // Until a refresh answer announces the window, the SDK assumes the server's default one.
      expect(DEFAULT_GRACE * 1000).toBe(engine.settings.refreshGraceMs);
    } finally {
      await engine.close();
    }
  });
});

describe('server clock', () => {
  it('prefers the front token over the Date header', () => {
    const clock = createServerClock();
    expect(clock.known()).toBe(false);
    clock.fromDateHeader(new Date(Date.now() + 600_000).toUTCString());
    expect(clock.now() - Date.now()).toBeGreaterThan(598_000);
    expect(clock.skew()).toBeUndefined(); // a Date header's guess is not shared with other tabs
    clock.fromFrontToken(Date.now() - 600_000);
    clock.fromDateHeader(new Date().toUTCString()); // ignored once a precise value is known
    expect(clock.now() - Date.now()).toBeLessThan(-599_000);
    expect(clock.skew()).toBeLessThan(-599_000);
    expect(clock.skew()).toBeGreaterThan(-600_100);
  });
});

describe('emitter', () => {
  it('a throwing listener does not stop the others', () => {
    const events = createEmitter<{ x: number }>();
    const seen: number[] = [];
    // The emitter rethrows listener errors in a microtask (reported, never swallowed); catch them here.
    const reported: unknown[] = [];
    const spy = vi.spyOn(globalThis, 'queueMicrotask').mockImplementation((task) => {
      try {
        task();
      } catch (err) {
        reported.push(err);
      }
    });
    events.on('x', () => {
      throw new Error('listener bug');
    });
    const off = events.on('x', (n) => seen.push(n));
    events.emit('x', 1);
    off();
    events.emit('x', 2);
    spy.mockRestore();
    expect(seen).toEqual([1]);
    expect(reported).toEqual([new Error('listener bug'), new Error('listener bug')]); // reported both times
  });
});

describe('scheduler', () => {
  it('does not fire on the device clock alone: waits until server time is known', async () => {
    vi.useFakeTimers();
    try {
      const clock = createServerClock();
      const refresh = vi.fn(async () => true);
      const scheduler = createScheduler(clock, refresh);
      const looksExpired = { raw: 'a', idToken: 'i', exp: Date.now() - 1, now: Date.now() - 2_000 };
      scheduler.plan(looksExpired);
      scheduler.check(looksExpired);
      await vi.advanceTimersByTimeAsync(60_000);
      expect(refresh).not.toHaveBeenCalled();
      clock.fromDateHeader(new Date().toUTCString());
      scheduler.plan(looksExpired);
      await vi.advanceTimersByTimeAsync(10);
      expect(refresh).toHaveBeenCalledOnce();
      scheduler.stop();
    } finally {
      vi.useRealTimers();
    }
  });

  it('fires at most once per front token, whatever the refresh does', async () => {
    vi.useFakeTimers();
    try {
      const clock = createServerClock();
      clock.fromFrontToken(Date.now());
      const refresh = vi.fn(async () => true);
      const scheduler = createScheduler(clock, refresh);
      const expired = { raw: 'a', idToken: 'i', exp: Date.now() - 1, now: Date.now() - 2_000 };
      scheduler.plan(expired);
      await vi.advanceTimersByTimeAsync(10);
      // A refresh that produced no new front token must not make the old one fire again.
      scheduler.plan(expired);
      scheduler.check(expired);
      await vi.advanceTimersByTimeAsync(60_000);
      expect(refresh).toHaveBeenCalledOnce();
      scheduler.stop();
    } finally {
      vi.useRealTimers();
    }
  });

  it('backs off when the server is unreachable', async () => {
    vi.useFakeTimers();
    try {
      const refresh = vi.fn(async () => false);
      const clock = createServerClock();
      clock.fromFrontToken(Date.now());
      const scheduler = createScheduler(clock, refresh);
      scheduler.plan({ raw: 'a', idToken: 'i', exp: Date.now() - 1, now: Date.now() - 2_000 });
      await vi.advanceTimersByTimeAsync(60_000); // 0, +5 s, +10 s, +20 s, +40 s > 60 s
      expect(refresh).toHaveBeenCalledTimes(4);
      scheduler.stop();
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('options', () => {
  it('refuses a bad mode and a missing apiBase outside browsers', () => {
    expect(() => createLatchkeyClient({ mode: 'cookies' as 'cookie', apiBase: 'http://x' })).toThrow(TypeError);
    expect(() => createLatchkeyClient({ mode: 'header' })).toThrow(/apiBase/);
  });
});

describe('size budget', () => {
  it(`the bundled SDK is at most ${BUDGET_BYTES} bytes min+gzip`, async () => {
    const { minified, gzipped } = await measure();
    console.log(`@latchkey/client: ${minified} B minified, ${gzipped} B min+gzip`);
    expect(gzipped).toBeLessThanOrEqual(BUDGET_BYTES);
  });

  it(`the DPoP entry alone is at most ${DPOP_BUDGET_BYTES} bytes min+gzip`, async () => {
    const { minified, gzipped } = await measure('dpop/index.ts');
    console.log(`@latchkey/client/dpop: ${minified} B minified, ${gzipped} B min+gzip`);
    expect(gzipped).toBeLessThanOrEqual(DPOP_BUDGET_BYTES);
  });

  it(`the claims entry alone is at most ${CLAIMS_BUDGET_BYTES} bytes min+gzip`, async () => {
    const { minified, gzipped } = await measure('claims/index.ts');
    console.log(`@latchkey/client/claims: ${minified} B minified, ${gzipped} B min+gzip`);
    expect(gzipped).toBeLessThanOrEqual(CLAIMS_BUDGET_BYTES);
  });
});

describe('public types', () => {
  it('reject misuse at compile time (checked by tsc -p packages/client/test)', () => {
    // @ts-expect-error: not a mode
    expect(() => createLatchkeyClient({ mode: 'cookies', apiBase: 'http://x' })).toThrow(TypeError);
    const client = createLatchkeyClient({ mode: 'header', apiBase: 'http://x', autoRefresh: false });
    // @ts-expect-error: not an event
    client.on('refresh', () => {});
    client.on('theftDetected', (e) => {
      const id: string | null = e.sessionId;
      void id;
    });
    client.close();
  });
});
