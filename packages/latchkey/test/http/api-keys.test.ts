/**
 * requireApiKey() and requireAuth() on all four adapters, over real sockets: where the key is read
 * from, every refusal with its status, code and RFC 6750 challenge, that cookies and CSRF never
 * play a part for an API key, the principal routes receive, and per-key rate limiting with 429,
 * Retry-After and the IETF RateLimit headers.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { getRequestListener } from '@hono/node-server';
import express from 'express';
import Fastify from 'fastify';
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Latchkey } from 'latchkey';
import { latchkeyExpress } from 'latchkey/adapters/express';
import { latchkeyFastify } from 'latchkey/adapters/fastify';
import { latchkeyHono, type ApiKeyEnv, type AuthEnv } from 'latchkey/adapters/hono';
import { latchkeyNode } from 'latchkey/adapters/node';
import type { LatchkeyHttpOptions, Principal, RequireApiKeyOptions, RequireAuthOptions } from 'latchkey/http';
import { testEngine } from '../helpers/engine.js';
import { Client } from './support/client.js';
import type { Served } from './support/harness.js';

/** What every route answers: the principal, without the live session object. */
function describePrincipal(p: Principal) {
  return p.kind === 'session'
    ? { kind: p.kind, subject: p.subject, userId: p.userId, scopes: p.scopes }
    : { kind: p.kind, subject: p.subject, ownerId: p.ownerId, keyId: p.keyId, scopes: p.scopes, name: p.apiKey.name };
}

const ROUTES: Array<{ path: string; kind: 'key' | 'auth'; options: RequireApiKeyOptions & RequireAuthOptions }> = [
  { path: '/keyed', kind: 'key', options: { scopes: ['read'] } },
  { path: '/keyed-any', kind: 'key', options: {} },
  { path: '/limited', kind: 'key', options: { rateLimit: { limit: 2, windowSeconds: 60 } } },
  { path: '/unlimited', kind: 'key', options: { rateLimit: null } },
  { path: '/either', kind: 'auth', options: { scopes: ['read'] } },
  { path: '/either-any', kind: 'auth', options: {} },
];

async function listenNode(listener: (req: IncomingMessage, res: ServerResponse) => void): Promise<Served> {
  const server = createServer(listener);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    origin,
    fetch: (path, init) => fetch(origin + path, { ...init, redirect: 'manual' }),
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

const loginInput = (user: string, scope: string | null) => ({ userId: user, ...(scope ? { accessClaims: { scope } } : {}) });

type Build = (engine: Latchkey, options: LatchkeyHttpOptions) => Promise<Served>;

const ADAPTERS: Array<[string, Build]> = [
  ['Express', async (engine, options) => {
    const auth = latchkeyExpress(engine, options);
    const app = express();
    app.use(auth.router);
    app.post('/auth/login', async (req, res) => res.json((await auth.signIn(req, res, loginInput(String(req.query.user), (req.query.scope as string) ?? null))).body));
    for (const r of ROUTES) {
      app.all(r.path, r.kind === 'key' ? auth.requireApiKey(r.options) : auth.requireAuth(r.options), (req, res) => void res.json(describePrincipal(req.latchkeyPrincipal!)));
    }
    app.use(auth.errorHandler());
    return listenNode(app);
  }],
  ['Fastify', async (engine, options) => {
    const app = Fastify();
    await app.register(latchkeyFastify, { latchkey: engine, ...options });
    app.setErrorHandler(app.latchkey.errorHandler);
    app.post('/auth/login', async (request, reply) => {
      const q = request.query as { user?: string; scope?: string };
      return (await app.latchkey.signIn(request, reply, loginInput(String(q.user), q.scope ?? null))).body;
    });
    for (const r of ROUTES) {
      const preHandler = r.kind === 'key' ? app.latchkey.requireApiKey(r.options) : app.latchkey.requireAuth(r.options);
      app.route({ method: ['GET', 'POST'], url: r.path, preHandler, handler: async (request) => describePrincipal(request.latchkeyPrincipal!) });
    }
    const address = await app.listen({ port: 0, host: '127.0.0.1' });
    return { origin: address, fetch: (path, init) => fetch(address + path, { ...init, redirect: 'manual' }), close: () => app.close() };
  }],
  ['Hono', async (engine, options) => {
    const auth = latchkeyHono(engine, options);
    const app = new Hono();
    app.route('/', auth.app);
    app.onError((error) => auth.errorResponse(error));
    app.post('/auth/login', async (c) => c.json((await auth.signIn(c, loginInput(c.req.query('user') ?? 'nobody', c.req.query('scope') ?? null))).body));
    for (const r of ROUTES) {
      if (r.kind === 'key') {
        const sub = new Hono<ApiKeyEnv>();
        sub.on(['GET', 'POST'], '/', auth.requireApiKey(r.options), (c) => c.json(describePrincipal(c.var.latchkeyPrincipal)));
        app.route(r.path, sub);
      } else {
        const sub = new Hono<AuthEnv>();
        sub.on(['GET', 'POST'], '/', auth.requireAuth(r.options), (c) => c.json(describePrincipal(c.var.latchkeyPrincipal)));
        app.route(r.path, sub);
      }
    }
    // @hono/node-server answers its own errors (a 500); nothing is left for the caller to await.
    const handle = getRequestListener(app.fetch);
    return listenNode((req, res) => void handle(req, res));
  }],
  ['node:http', async (engine, options) => {
    const auth = latchkeyNode(engine, options);
    return listenNode((req, res) => {
      void (async () => {
        if (await auth.handle(req, res)) return;
        const url = new URL(req.url ?? '/', 'http://x');
        const json = (value: unknown) => {
          res.setHeader('content-type', 'application/json');
          res.end(JSON.stringify(value));
        };
        try {
          if (url.pathname === '/auth/login') {
            return json((await auth.signIn(req, res, loginInput(url.searchParams.get('user') ?? 'nobody', url.searchParams.get('scope')))).body);
          }
          const route = ROUTES.find((r) => r.path === url.pathname);
          if (!route) {
            res.statusCode = 404;
            return void res.end();
          }
          const principal = route.kind === 'key' ? await auth.requireApiKey(req, res, route.options) : await auth.requireAuth(req, res, route.options);
          if (principal) json(describePrincipal(principal));
        } catch (error) {
          auth.sendError(res, error, req);
        }
      })();
    });
  }],
];

for (const [name, build] of ADAPTERS) {
  describe(`API keys over HTTP: ${name}`, () => {
    let lk: Latchkey;
    let served: Served;
    let key: string;
    let keyId: string;
    let readOnly: string;

    beforeAll(async () => {
      ({ lk } = await testEngine());
      served = await build(lk, { allowedOrigins: ['https://app.example'] });
      const created = await lk.apiKeys.create({ ownerId: 'u_owner', name: 'CI', scopes: ['read', 'write'] });
      key = created.key;
      keyId = created.apiKey.id;
      readOnly = (await lk.apiKeys.create({ ownerId: 'u_owner', name: 'ro', scopes: ['write'] })).key;
    });
    afterAll(async () => {
      await served.close();
      await lk.close();
    });

    const call = (path: string, headers: Record<string, string> = {}, method = 'GET') => new Client(served).send(method, path, { headers, csrf: false });

    it('takes the key from Authorization: Bearer or X-API-Key, and gives the route its principal', async () => {
      const expected = { kind: 'apiKey', subject: 'u_owner', ownerId: 'u_owner', keyId, scopes: ['read', 'write'], name: 'CI' };
      const variants: Array<Record<string, string>> = [{ authorization: `Bearer ${key}` }, { 'x-api-key': key }, { authorization: `Bearer ${key}`, 'x-api-key': key }];
      for (const headers of variants) {
        const reply = await call('/keyed', headers);
        expect(reply.status, JSON.stringify(headers).slice(0, 40)).toBe(200);
        expect(reply.body).toEqual(expected);
      }
    });

    it('without a key: 401 with a bare Bearer challenge', async () => {
      const reply = await call('/keyed');
      expect(reply.status).toBe(401);
      expect(reply.body.error.code).toBe('UNAUTHORISED');
      expect(reply.headers.get('www-authenticate')).toBe('Bearer');
    });

    it('a malformed, mistyped, unknown or revoked key: 401 UNAUTHORISED with invalid_token, the same message for all', async () => {
      const other = await lk.apiKeys.create({ ownerId: 'u', name: 'gone' });
      await lk.apiKeys.revoke(other.apiKey.id);
      const { key: unknown } = await (await testEngine()).lk.apiKeys.create({ ownerId: 'u', name: 'elsewhere' });
      const messages = new Set<string>();
      for (const bad of ['lk_short', key.slice(0, 40) + (key[40] === 'A' ? 'B' : 'A') + key.slice(41), unknown, other.key, 'eyJhbGciOiJFZERTQSJ9.e30.sig']) {
        const reply = await call('/keyed', { authorization: `Bearer ${bad}` });
        expect(reply.status).toBe(401);
        expect(reply.body.error.code).toBe('UNAUTHORISED');
        expect(reply.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"');
        if (bad.length > 20) expect(JSON.stringify(reply.body)).not.toContain(bad.slice(10));
        messages.add(reply.body.error.message);
      }
      expect(messages.size).toBe(1);
    });

    it('missing scopes: 403 INSUFFICIENT_SCOPE naming them, with the RFC 6750 challenge', async () => {
      const reply = await call('/keyed', { 'x-api-key': readOnly });
      expect(reply.status).toBe(403);
      expect(reply.body.error).toMatchObject({ code: 'INSUFFICIENT_SCOPE', missingScopes: ['read'] });
      expect(reply.headers.get('www-authenticate')).toBe('Bearer error="insufficient_scope", scope="read"');
      expect((await call('/keyed-any', { 'x-api-key': readOnly })).status).toBe(200);
    });

    it('two different keys in one request: 400', async () => {
      const reply = await call('/keyed', { authorization: `Bearer ${key}`, 'x-api-key': readOnly });
      expect(reply.status).toBe(400);
      expect(reply.body.error.code).toBe('INVALID_REQUEST');
    });

    it('never applies CSRF to an API-key request, and never reads its cookies', async () => {
      const browser = new Client(served);
      await browser.send('POST', '/auth/login?user=u_cookie&scope=read');
      expect(browser.cookieFor('/keyed')).not.toBe('');
      // A state-changing, cross-site request with no CSRF header: fine for a key.
      const crossSite = await browser.send('POST', '/keyed', { csrf: false, headers: { 'x-api-key': key, origin: 'https://evil.example' } });
      expect(crossSite.status).toBe(200);
      expect(crossSite.body.kind).toBe('apiKey');
      // Valid session cookies do not rescue a bad key, on either guard.
      for (const path of ['/keyed', '/either']) {
        const bad = await browser.send('GET', path, { headers: { 'x-api-key': 'lk_' + 'x'.repeat(65) } });
        expect(bad.status, path).toBe(401);
      }
      // And a key-only route ignores cookies without any key.
      expect((await browser.send('GET', '/keyed')).status).toBe(401);
    });

    it('requireAuth: a session (cookie mode) or a key, one principal; scopes from the session scope claim', async () => {
      const withScope = new Client(served);
      await withScope.send('POST', '/auth/login?user=u_web&scope=read%20profile');
      const bySession = await withScope.send('GET', '/either');
      expect(bySession.status).toBe(200);
      expect(bySession.body).toEqual({ kind: 'session', subject: 'u_web', userId: 'u_web', scopes: ['read', 'profile'] });
      const byKey = await call('/either', { authorization: `Bearer ${key}` });
      expect(byKey.body).toMatchObject({ kind: 'apiKey', ownerId: 'u_owner' });

      const noScope = new Client(served);
      await noScope.send('POST', '/auth/login?user=u_plain');
      const refused = await noScope.send('GET', '/either');
      expect(refused.status).toBe(403);
      expect(refused.body.error).toMatchObject({ code: 'INSUFFICIENT_SCOPE', missingScopes: ['read'] });
      expect((await noScope.send('GET', '/either-any')).body).toMatchObject({ kind: 'session', scopes: [] });
    });

    it('requireAuth still applies CSRF to cookie sessions', async () => {
      const browser = new Client(served);
      await browser.send('POST', '/auth/login?user=u_csrf&scope=read');
      const forged = await browser.send('POST', '/either', { csrf: false, headers: { origin: 'https://evil.example' } });
      expect(forged.status).toBe(403);
      expect(forged.body.error.code).toBe('CSRF_REJECTED');
    });

    it('requireAuth without any credential: 401', async () => {
      expect((await call('/either')).status).toBe(401);
    });

    it('rate limits per key: RateLimit headers on each answer, then 429 with Retry-After', async () => {
      const { key: limited } = await lk.apiKeys.create({ ownerId: 'u', name: 'limited' });
      const first = await call('/limited', { 'x-api-key': limited });
      expect(first.status).toBe(200);
      expect(first.headers.get('ratelimit-policy')).toBe('"apikey";q=2;w=60');
      expect(first.headers.get('ratelimit')).toMatch(/^"apikey";r=1;t=\d+$/);
      expect((await call('/limited', { 'x-api-key': limited })).headers.get('ratelimit')).toMatch(/^"apikey";r=0;t=\d+$/);
      const third = await call('/limited', { 'x-api-key': limited });
      expect(third.status).toBe(429);
      expect(third.body.error.code).toBe('RATE_LIMITED');
      expect(Number(third.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(third.headers.get('ratelimit')).toMatch(/^"apikey";r=0;t=\d+$/);
      // Another key has its own bucket; an invalid key spends nothing.
      expect((await call('/limited', { 'x-api-key': key })).status).toBe(200);
      expect((await call('/unlimited', { 'x-api-key': limited })).headers.get('ratelimit')).toBeNull();
    });
  });
}

describe('adapter-wide rate limit', () => {
  it('applies apiKeyRateLimit (fixed or per key) to every key route unless a route overrides it', async () => {
    const { lk } = await testEngine();
    const served = await ADAPTERS[0]![1](lk, { apiKeyRateLimit: (k) => (k.metadata.tier === 'free' ? { limit: 1, windowSeconds: 3600 } : null) });
    try {
      const free = (await lk.apiKeys.create({ ownerId: 'u', name: 'free', metadata: { tier: 'free' } })).key;
      const paid = (await lk.apiKeys.create({ ownerId: 'u', name: 'paid', metadata: { tier: 'paid' } })).key;
      const get = (k: string, path = '/keyed-any') => new Client(served).send('GET', path, { headers: { 'x-api-key': k } });
      expect((await get(free)).status).toBe(200);
      expect((await get(free)).status).toBe(429);
      for (let i = 0; i < 3; i++) expect((await get(paid)).status).toBe(200);
      // The route's own policy wins over the adapter-wide one.
      expect((await get(free, '/unlimited')).status).toBe(200);
    } finally {
      await served.close();
      await lk.close();
    }
  });
});
