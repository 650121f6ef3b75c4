/**
 * Every adapter without its error handler installed, as an app copied from a snippet that left it
 * out would run: a latchkey error thrown in the app's own route (a sign-in without the CSRF header, a
 * sign-out without a token, a session update with a reserved claim) still answers its typed JSON,
 * never a framework's HTML page with a stack trace, a 500, or an unhandled rejection. Other errors
 * keep the framework's own treatment.
 */
import { getRequestListener } from '@hono/node-server';
import express from 'express';
import Fastify from 'fastify';
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Latchkey } from 'latchkey';
import { latchkeyExpress } from 'latchkey/adapters/express';
import { latchkeyFastify } from 'latchkey/adapters/fastify';
import { latchkeyHono, type LatchkeyEnv } from 'latchkey/adapters/hono';
import { latchkeyNode } from 'latchkey/adapters/node';
import { testEngine } from '../helpers/engine.js';
import type { Served } from './support/harness.js';
import { listen } from './support/listen.js';

interface Reply {
  status: number;
  headers: Headers;
  text: string;
}

/** Each app has: POST /login (signIn), POST /logout (signOut), POST /promote (a session update with a reserved claim), GET /boom (a plain Error). */
type Build = (engine: Latchkey) => Promise<Served>;

const BUILDS: Record<string, Build> = {
  async Express(engine) {
    const auth = latchkeyExpress(engine);
    const app = express();
    app.use(auth.router);
    app.post('/login', async (req, res) => void res.json((await auth.signIn(req, res, { userId: 'u' })).body));
    app.post('/logout', async (req, res) => void res.json(await auth.signOut(req, res)));
    app.post('/promote', auth.requireSession(), async (req, res) => void res.json(await req.latchkey!.update({ accessClaims: { sub: 'someone-else' } })));
    app.get('/boom', () => {
      throw new Error('app bug');
    });
    // No app.use(auth.errorHandler()).
    return listen(app);
  },
  async Fastify(engine) {
    const app = Fastify();
    await app.register(latchkeyFastify, { latchkey: engine });
    app.post('/login', async (request, reply) => (await app.latchkey.signIn(request, reply, { userId: 'u' })).body);
    app.post('/logout', async (request, reply) => app.latchkey.signOut(request, reply));
    app.post('/promote', { preHandler: app.latchkey.requireSession() }, async (request) => request.latchkey!.update({ accessClaims: { sub: 'someone-else' } }));
    app.get('/boom', async () => {
      throw new Error('app bug');
    });
    // No app.setErrorHandler(app.latchkey.errorHandler).
    const origin = await app.listen({ port: 0, host: '127.0.0.1' });
    return { origin, fetch: (path, init) => fetch(`${origin}${path}`, init), close: () => app.close() };
  },
  async Hono(engine) {
    const auth = latchkeyHono(engine);
    const app = new Hono();
    app.route('/', auth.app);
    app.post('/login', async (c) => c.json((await auth.signIn(c, { userId: 'u' })).body));
    app.post('/logout', async (c) => c.json(await auth.signOut(c)));
    const api = new Hono<LatchkeyEnv>();
    api.post('/promote', auth.requireSession(), async (c) => c.json(await c.var.latchkey.update({ accessClaims: { sub: 'someone-else' } })));
    app.route('/', api);
    app.get('/boom', () => {
      throw new Error('app bug');
    });
    // No app.onError(...): Hono's default would print the plain error; keep the test output clean.
    const quiet = console.error;
    console.error = () => {};
    // @hono/node-server answers its own errors (a 500); nothing is left for the caller to await.
    const handle = getRequestListener(app.fetch);
    const served = await listen((req, res) => void handle(req, res));
    return { ...served, close: async () => ((console.error = quiet), served.close()) };
  },
  async 'node:http'(engine) {
    const auth = latchkeyNode(engine, { onError: () => {} });
    return listen(
      // No try/catch in the handler: requestListener answers what it throws.
      auth.requestListener(async (req, res) => {
        if (req.url === '/login') return void res.end(JSON.stringify((await auth.signIn(req, res, { userId: 'u' })).body));
        if (req.url === '/logout') return void res.end(JSON.stringify(await auth.signOut(req, res)));
        if (req.url === '/promote') {
          const session = await auth.requireSession(req, res);
          if (session) res.end(JSON.stringify(await session.update({ accessClaims: { sub: 'someone-else' } })));
          return;
        }
        throw new Error('app bug');
      }),
    );
  },
};

async function call(served: Served, path: string, init: { method?: string; headers?: Record<string, string> } = {}): Promise<Reply> {
  const response = await served.fetch(path, { method: init.method ?? 'POST', headers: init.headers ?? {} });
  return { status: response.status, headers: response.headers, text: await response.text() };
}

/** The typed JSON error, and nothing a framework's error page would show. */
function expectTyped(reply: Reply, status: number, code: string): void {
  expect(reply.headers.get('content-type'), reply.text).toMatch(/^application\/json/);
  expect(reply.status, reply.text).toBe(status);
  expect(JSON.parse(reply.text)).toMatchObject({ error: { code, message: expect.any(String) } });
  expect(reply.text).not.toMatch(/<html|<pre>|\n\s+at /i);
}

for (const [name, build] of Object.entries(BUILDS)) {
  describe(`${name} without its error handler`, () => {
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

    it('a sign-in without the CSRF header answers 403 CSRF_REJECTED as JSON, and starts no session', async () => {
      expectTyped(await call(served, '/login'), 403, 'CSRF_REJECTED');
      expect(await engine.listSessions('u')).toEqual([]);
    });

    it('a header-mode sign-out without a token answers 401 with its Bearer challenge', async () => {
      const reply = await call(served, '/logout', { headers: { 'x-latchkey-mode': 'header' } });
      expectTyped(reply, 401, 'UNAUTHORISED');
      expect(reply.headers.get('www-authenticate')).toBe('Bearer');
    });

    it.skipIf(name === 'Hono')('a session method refusing the app\'s input answers its typed 400', async () => {
      const signedIn = await call(served, '/login', { headers: { 'x-latchkey-mode': 'header' } });
      expect(signedIn.status, signedIn.text).toBe(200);
      const { accessToken } = JSON.parse(signedIn.text) as { accessToken: string };
      expectTyped(await call(served, '/promote', { headers: { 'x-latchkey-mode': 'header', authorization: `Bearer ${accessToken}` } }), 400, 'INVALID_CLAIMS');
    });

    it('any other error keeps the framework\'s treatment (a 500), and the server keeps serving', async () => {
      const boom = await call(served, '/boom', { method: 'GET' });
      expect(boom.status).toBe(500);
      expect(boom.text).not.toContain('CSRF_REJECTED');
      expectTyped(await call(served, '/login'), 403, 'CSRF_REJECTED');
    });
  });
}

describe('Express: an error handler of the app still sees latchkey errors first', () => {
  it('answers with the app\'s handler; the safety net only catches what it passes on', async () => {
    const { lk } = await testEngine();
    const auth = latchkeyExpress(lk);
    const app = express();
    app.use(auth.router);
    app.post('/login', async (req, res) => void res.json((await auth.signIn(req, res, { userId: 'u' })).body));
    app.post('/passed-on', async (req, res) => void res.json((await auth.signIn(req, res, { userId: 'u' })).body));
    app.use((error: unknown, req: express.Request, res: express.Response, next: express.NextFunction) => {
      if (req.path === '/passed-on') return next(error);
      res.status(418).json({ mine: true });
    });
    const served = await listen(app);
    try {
      const own = await call(served, '/login');
      expect([own.status, JSON.parse(own.text)]).toEqual([418, { mine: true }]);
      expectTyped(await call(served, '/passed-on'), 403, 'CSRF_REJECTED');
    } finally {
      await served.close();
      await lk.close();
    }
  });
});

describe('Hono: a client address that is not an IP address', () => {
  it('is left out of the session rather than failing the sign-in', async () => {
    const { lk } = await testEngine();
    const auth = latchkeyHono(lk, { clientIp: () => '203.0.113.9, 10.0.0.1' });
    const app = new Hono();
    app.post('/login', async (c) => c.json((await auth.signIn(c, { userId: 'ip-user' })).body));
    const response = await app.request('/login', { method: 'POST', headers: { 'x-latchkey-csrf': '1', 'user-agent': 'test' } });
    expect(response.status, await response.clone().text()).toBe(200);
    const [session] = await lk.listSessions('ip-user');
    expect(session?.device).toEqual({ userAgent: 'test' });
    await lk.close();
  });
});
