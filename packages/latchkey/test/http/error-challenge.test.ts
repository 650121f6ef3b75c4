/**
 * The same header-mode refusal, thrown by `getSession` or `signOut` in an app route and answered by
 * the adapter's error path in the form that has only the error (Hono's `auth.errorResponse(error)`,
 * node's `auth.sendError(res, error)`; Express's and Fastify's handlers have the request anyway),
 * carries the same RFC 6750 `WWW-Authenticate` challenge on all four adapters. The core remembers
 * the transport of the request an error was thrown for, so no adapter has to work it out again.
 */
import express from 'express';
import Fastify from 'fastify';
import { Hono } from 'hono';
import { getRequestListener } from '@hono/node-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Latchkey } from 'latchkey';
import { latchkeyExpress } from 'latchkey/adapters/express';
import { latchkeyFastify } from 'latchkey/adapters/fastify';
import { latchkeyHono } from 'latchkey/adapters/hono';
import { latchkeyNode } from 'latchkey/adapters/node';
import { testEngine } from '../helpers/engine.js';
import type { Served } from './support/harness.js';
import { listen } from './support/listen.js';

/** Each app: GET /me answers the session (getSession), POST /logout signs out; errors go to the adapter's handler. */
const BUILDS: Record<string, (engine: Latchkey) => Promise<Served>> = {
  async Express(engine) {
    const auth = latchkeyExpress(engine);
    const app = express();
    app.use(auth.router);
    app.get('/me', async (req, res) => void res.json({ userId: (await auth.getSession(req, res))?.userId ?? null }));
    app.post('/logout', async (req, res) => void res.json(await auth.signOut(req, res)));
    app.use(auth.errorHandler());
    return listen(app);
  },
  async Fastify(engine) {
    const app = Fastify();
    await app.register(latchkeyFastify, { latchkey: engine });
    app.setErrorHandler(app.latchkey.errorHandler);
    app.get('/me', async (request, reply) => ({ userId: (await app.latchkey.getSession(request, reply))?.userId ?? null }));
    app.post('/logout', async (request, reply) => app.latchkey.signOut(request, reply));
    const origin = await app.listen({ port: 0, host: '127.0.0.1' });
    return { origin, fetch: (path, init) => fetch(`${origin}${path}`, init), close: () => app.close() };
  },
  async Hono(engine) {
    const auth = latchkeyHono(engine);
    const app = new Hono();
    app.route('/', auth.app);
    // The Next.js form: a bare Request, no context.
    app.get('/me', async (c) => c.json({ userId: (await auth.getSession(c.req.raw))?.userId ?? null }));
    app.post('/logout', async (c) => c.json(await auth.signOut(c)));
    // The error alone, without the context.
    app.onError((error) => auth.errorResponse(error));
    const handle = getRequestListener(app.fetch);
    return listen((req, res) => void handle(req, res));
  },
  async 'node:http'(engine) {
    const auth = latchkeyNode(engine);
    return listen(
      auth.requestListener(async (req, res) => {
        try {
          if (req.url === '/me') return void res.end(JSON.stringify({ userId: (await auth.getSession(req, res))?.userId ?? null }));
          if (req.url === '/logout') return void res.end(JSON.stringify(await auth.signOut(req, res)));
          res.statusCode = 404;
          res.end();
        } catch (error) {
          // The error alone, without the request.
          auth.sendError(res, error);
        }
      }),
    );
  },
};

for (const [name, build] of Object.entries(BUILDS)) {
  describe(`${name}: a header-mode refusal answered from the error alone`, () => {
    let engine: Latchkey;
    let served: Served;
    beforeAll(async () => {
      engine = (await testEngine()).lk;
      served = await build(engine);
    });
    afterAll(async () => {
      await served?.close();
      await engine?.close();
    });

    it('getSession with a forged bearer token: 401 UNAUTHORISED with Bearer error="invalid_token"', async () => {
      const response = await served.fetch('/me', {
        method: 'GET',
        headers: { 'x-latchkey-mode': 'header', authorization: 'Bearer not.a.token' },
      });
      expect(response.status).toBe(401);
      expect(await response.json()).toMatchObject({ error: { code: 'UNAUTHORISED' } });
      expect(response.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"');
      expect(response.headers.get('cache-control')).toBe('no-store');
    });

    it('signOut without a token: 401 UNAUTHORISED with the bare Bearer challenge', async () => {
      const response = await served.fetch('/logout', { method: 'POST', headers: { 'x-latchkey-mode': 'header' } });
      expect(response.status).toBe(401);
      expect(await response.json()).toMatchObject({ error: { code: 'UNAUTHORISED' } });
      expect(response.headers.get('www-authenticate')).toBe('Bearer');
    });

    it('the same refusal in cookie mode carries no challenge (cookies are no bearer credential)', async () => {
      const response = await served.fetch('/me', { method: 'GET', headers: { cookie: '__Host-lk_access=not.a.token' } });
      expect(response.status).toBe(401);
      expect(await response.json()).toMatchObject({ error: { code: 'UNAUTHORISED' } });
      expect(response.headers.get('www-authenticate')).toBeNull();
    });
  });
}
