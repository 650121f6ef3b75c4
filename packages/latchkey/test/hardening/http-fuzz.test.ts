/**
 * Property-based tests of the HTTP layer through each adapter (Express, Fastify, Hono, node:http),
 * over real sockets, extending the shared suite's random-junk property (test/http/suite.ts) with
 * properties that need a REAL session to mean anything:
 * - CSRF against an oracle: a state-changing cookie-mode request with genuine cookies is accepted
 *   exactly when it carries `X-Latchkey-CSRF: 1` and its Origin is ours (or, without Origin, it is
 *   not marked cross-site); otherwise 403 CSRF_REJECTED and no store write;
 * - token confusion: genuine tokens of the wrong kind (ID, refresh, front, another installation's
 *   access token, altered spellings) in the cookie or the bearer slot never authenticate;
 * - raw bytes (obs-text, control characters) in the credential headers never get a 5xx, never
 *   write, and leave the real session working.
 */
import { connect } from 'node:net';
import { parseSetCookie } from 'cookie';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLatchkey, type Latchkey } from 'latchkey';
import { memoryStore } from 'latchkey/stores/memory';
import { ADAPTERS, type MiniApp } from './support/adapters.js';
import { effectStore, type EffectLog } from './support/effects.js';
import { report, scale } from './support/soak.js';

/** Generous: a property's run count is fixed, its duration depends on the machine. */
const PROPERTY_TIMEOUT_MS = scale(60_000, 600_000);

const SECRET = 'http-fuzz-secret-0123456789abcdefghij';
const ISSUER = 'http://localhost';
const ACCESS = '__Host-lk_access';
const REFRESH = '__Secure-lk_refresh';
const FRONT = 'lk_front';

interface Jar {
  access: string;
  refresh: string;
  front: string;
}

function cookieHeader(jar: Jar, path: string): string {
  return [`${ACCESS}=${jar.access}`, `${FRONT}=${jar.front}`, ...(path.startsWith('/auth/refresh') ? [`${REFRESH}=${jar.refresh}`] : [])].join('; ');
}

/** Updates the jar from a response's Set-Cookie headers (a rotation). */
function absorb(jar: Jar, res: Response): void {
  for (const value of res.headers.getSetCookie()) {
    const c = parseSetCookie(value);
    if (!c.value || c.maxAge === 0) continue;
    if (c.name === ACCESS) jar.access = c.value;
    if (c.name === REFRESH) jar.refresh = c.value;
    if (c.name === FRONT) jar.front = c.value;
  }
}

async function json(res: Response): Promise<any> {
  const text = await res.text();
  try {
    return text ? JSON.parse(text) : undefined;
  } catch {
    return text;
  }
}

for (const [name, build] of ADAPTERS) {
  describe(`HTTP hardening properties: ${name}`, () => {
    let engine: Latchkey;
    let log: EffectLog;
    let app: MiniApp;
    let jar: Jar;
    let victimSession: string;
    let wrongKind: string[];

    beforeAll(async () => {
      log = effectStore(memoryStore());
      engine = await createLatchkey({ issuer: ISSUER, secret: SECRET, store: log.store, timers: false });
      app = await build(engine);
      const res = await app.fetch('/auth/login?user=victim', { method: 'POST', headers: { origin: app.origin, 'x-latchkey-csrf': '1' } });
      expect(res.status).toBe(200);
      victimSession = (await json(res)).session.id;
      jar = { access: '', refresh: '', front: '' };
      absorb(jar, res);
      expect(jar.access && jar.refresh && jar.front).toBeTruthy();
      const header = await json(await app.fetch('/auth/login?user=other', { method: 'POST', headers: { 'x-latchkey-mode': 'header' } }));
      const foreignEngine = await createLatchkey({ issuer: ISSUER, secret: 'another-installation-secret-0123456789', store: memoryStore(), timers: false });
      const foreign = await foreignEngine.createSession({ userId: 'victim' });
      await foreignEngine.close();
      const idToken = JSON.parse(Buffer.from(jar.front, 'base64url').toString()).idToken as string;
      wrongKind = [idToken, jar.refresh, jar.front, header.refreshToken, header.idToken, foreign.accessToken, foreign.idToken, `${jar.access}.`, `${jar.access}=`, jar.access.split('.').slice(0, 2).join('.') + '.', ` ${jar.access.slice(1)}`];
    });
    afterAll(async () => {
      await app?.close();
      await engine?.close();
    });

    it('CSRF: a state-changing cookie request is accepted exactly when the oracle says so; refusals write nothing', { timeout: PROPERTY_TIMEOUT_MS }, async () => {
      const own = app.origin;
      const url = new URL(own);
      const origins = fc.oneof(
        { weight: 4, arbitrary: fc.constant(own) },
        { weight: 3, arbitrary: fc.constantFrom('null', `${url.protocol}//${url.hostname}`, own.replace('http:', 'https:'), `${own}/`, own.toUpperCase(), `${own}.evil.example`, 'http://evil.example', `http://localhost:${url.port}`) },
        { weight: 1, arbitrary: fc.webUrl().map((u) => new URL(u).origin) },
      );
      let accepted = 0;
      let rejected = 0;
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom('POST', 'PUT', 'PATCH', 'DELETE'),
          fc.constantFrom('/api/me', '/api/me', '/auth/refresh', `/auth/sessions/not-${victimSession}`),
          fc.oneof({ weight: 4, arbitrary: fc.constant<string | undefined>('1') }, { weight: 2, arbitrary: fc.constantFrom<string | undefined>('0', 'true', '', 'yes', '11', undefined) }),
          fc.option(origins, { nil: undefined, freq: 3 }),
          fc.option(fc.constantFrom('same-origin', 'same-site', 'cross-site', 'none'), { nil: undefined, freq: 2 }),
          async (method, path, csrf, origin, fetchSite) => {
            const m = path === '/auth/refresh' ? 'POST' : path.startsWith('/auth/sessions/') ? 'DELETE' : method;
            const headers: Record<string, string> = { cookie: cookieHeader(jar, path) };
            if (csrf !== undefined) headers['x-latchkey-csrf'] = csrf;
            if (origin !== undefined) headers.origin = origin;
            if (fetchSite !== undefined) headers['sec-fetch-site'] = fetchSite;
            const before = log.totalEffects();
            const res = await app.fetch(path, { method: m, headers });
            const body = await json(res);
            const expectAccept = csrf === '1' && (origin === undefined ? fetchSite !== 'cross-site' : origin === own);
            const where = `${m} ${path} csrf=${csrf} origin=${origin} sec-fetch-site=${fetchSite} -> ${res.status} ${JSON.stringify(body)}`;
            expect(res.status, where).toBeLessThan(500);
            if (expectAccept) {
              accepted++;
              expect(body?.error?.code, where).not.toBe('CSRF_REJECTED');
              if (path === '/api/me') expect([res.status, body.userId], where).toEqual([200, 'victim']);
              if (path === '/auth/refresh') {
                expect(res.status, where).toBe(200);
                absorb(jar, res);
              }
            } else {
              rejected++;
              expect([res.status, body?.error?.code], where).toEqual([403, 'CSRF_REJECTED']);
              expect(log.totalEffects() - before, where).toBe(0);
            }
          },
        ),
        { numRuns: scale(120, 1500) },
      );
      report(`http csrf oracle ${name}`, { accepted, rejected });
      expect(accepted).toBeGreaterThan(0);
      expect(rejected).toBeGreaterThan(0);
    });

    it('token confusion: genuine tokens of the wrong kind never authenticate, in the cookie or as a bearer', { timeout: PROPERTY_TIMEOUT_MS }, async () => {
      await fc.assert(
        fc.asyncProperty(fc.constantFrom(...wrongKind), fc.constantFrom('cookie', 'bearer', 'both'), fc.constantFrom('GET', 'POST'), async (token, slot, method) => {
          const headers: Record<string, string> = { 'x-latchkey-csrf': '1' };
          if (slot !== 'bearer') headers.cookie = `${ACCESS}=${token}; ${FRONT}=${jar.front}`;
          if (slot !== 'cookie') headers.authorization = `Bearer ${token}`;
          if (slot === 'bearer') headers['x-latchkey-mode'] = 'header';
          const before = log.totalEffects();
          const res = await app.fetch('/api/me', { method, headers });
          const body = await json(res);
          const where = `${slot} ${method} ${token.slice(0, 24)}... -> ${res.status} ${JSON.stringify(body)}`;
          expect([400, 401], where).toContain(res.status);
          expect(body?.error?.code, where).toMatch(/^[A-Z_]+$/);
          expect(log.totalEffects() - before, where).toBe(0);
        }),
        { numRuns: scale(60, 600) },
      );
      // The genuine token in its own slot does authenticate: the refusals above were about the token.
      const res = await app.fetch('/api/me', { method: 'GET', headers: { cookie: cookieHeader(jar, '/api/me') } });
      expect((await json(res)).userId).toBe('victim');
    });

    it('raw bytes in the credential headers: no 5xx, no write, and the real session still works', { timeout: PROPERTY_TIMEOUT_MS }, async () => {
      const port = app.port!;
      const statuses = new Map<string, number>();
      const raw = fc.tuple(
        fc.constantFrom('GET /api/me', 'POST /api/me', 'POST /auth/refresh', 'POST /auth/signout', 'GET /auth/sessions'),
        fc.constantFrom('Cookie', 'Authorization', 'Origin', 'X-Latchkey-Mode', 'X-Latchkey-CSRF'),
        fc.uint8Array({ maxLength: 80 }),
        fc.boolean(),
      ).map(([line, header, bytes, withCookie]) => Buffer.concat([
        Buffer.from(`${line} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nX-Latchkey-CSRF: 1\r\n`),
        // A genuine session alongside the junk, or only the junk.
        withCookie && header !== 'Cookie' ? Buffer.from(`Cookie: ${ACCESS}=${jar.access}x\r\n`) : Buffer.alloc(0),
        Buffer.from(`${header}: `), Buffer.from(bytes.filter((b) => b !== 13 && b !== 10)), Buffer.from('\r\nContent-Length: 0\r\nConnection: close\r\n\r\n'),
      ]));
      const before = log.totalEffects();
      await fc.assert(
        fc.asyncProperty(raw, async (bytes) => {
          const status = await rawStatus(port, bytes);
          statuses.set(status, (statuses.get(status) ?? 0) + 1);
          expect(status, bytes.toString('latin1').slice(0, 300)).not.toMatch(/^5/);
        }),
        { numRuns: scale(40, 400) },
      );
      expect(log.totalEffects()).toBe(before);
      report(`http raw headers ${name}`, Object.fromEntries(statuses));
      const res = await app.fetch('/api/me', { method: 'GET', headers: { cookie: cookieHeader(jar, '/api/me') } });
      expect((await json(res)).userId).toBe('victim');
    });
  });
}

/** The status code of the response to `bytes`, or `closed` when the server hung up without one. */
function rawStatus(port: number, bytes: Buffer): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let data = '';
    const finish = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(/^HTTP\/1\.[01] (\d{3})/.exec(data)?.[1] ?? (data ? 'garbled' : 'closed'));
    };
    const timer = setTimeout(finish, 2000);
    socket.on('data', (chunk) => {
      data += chunk.toString('latin1');
      if (data.includes('\r\n\r\n')) finish();
    });
    socket.on('error', finish);
    socket.on('close', finish);
    socket.write(bytes);
  });
}
