/**
 * The smallest app on each HTTP adapter that the hardening properties need: the auth routes, a
 * sign-in route, and `/api/me` behind `requireSession()`. (The shared conformance suite builds
 * richer apps in test/http/*.test.ts; importing those would run the whole suite here again.)
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import Fastify from 'fastify';
import { getRequestListener } from '@hono/node-server';
import { Hono } from 'hono';
import type { Latchkey } from 'latchkey';
import { latchkeyExpress } from 'latchkey/adapters/express';
import { latchkeyFastify } from 'latchkey/adapters/fastify';
import { latchkeyHono, type LatchkeyEnv } from 'latchkey/adapters/hono';
import { latchkeyNode } from 'latchkey/adapters/node';

export interface MiniApp {
  name: string;
  /** Own origin as the app sees requests. */
  origin: string;
  fetch(path: string, init: { method: string; headers: Record<string, string>; body?: string }): Promise<Response>;
  /** A port to write raw bytes to, for socket-served apps. */
  port?: number;
  close(): Promise<void>;
}

type Build = (engine: Latchkey) => Promise<MiniApp>;

async function listen(name: string, listener: (req: IncomingMessage, res: ServerResponse) => void): Promise<MiniApp> {
  const server = createServer(listener);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const origin = `http://127.0.0.1:${port}`;
  return {
    name,
    origin,
    port,
    fetch: (path, init) => fetch(origin + path, { ...init, redirect: 'manual' }),
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

const me = (s: { userId: string; sessionId: string }) => ({ userId: s.userId, sessionId: s.sessionId });

export const ADAPTERS: Array<[string, Build]> = [
  ['Express', async (engine) => {
    const auth = latchkeyExpress(engine);
    const app = express();
    app.use(auth.router);
    app.post('/auth/login', async (req, res) => res.json((await auth.signIn(req, res, { userId: String(req.query.user) })).body));
    app.all('/api/me', auth.requireSession(), (req, res) => void res.json(me(req.latchkey!)));
    app.use(auth.errorHandler());
    return listen('Express', app);
  }],
  ['Fastify', async (engine) => {
    const app = Fastify();
    await app.register(latchkeyFastify, { latchkey: engine });
    app.setErrorHandler(app.latchkey.errorHandler);
    app.post('/auth/login', async (request, reply) => (await app.latchkey.signIn(request, reply, { userId: String((request.query as { user?: string }).user) })).body);
    app.route({ method: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'], url: '/api/me', preHandler: app.latchkey.requireSession(), handler: async (request) => me(request.latchkey!) });
    const address = await app.listen({ port: 0, host: '127.0.0.1' });
    return { name: 'Fastify', origin: address, port: Number(new URL(address).port), fetch: (path, init) => fetch(address + path, { ...init, redirect: 'manual' }), close: () => app.close() };
  }],
  ['Hono', async (engine) => {
    const auth = latchkeyHono(engine);
    const app = new Hono();
    app.route('/', auth.app);
    app.onError((error) => auth.errorResponse(error));
    app.post('/auth/login', async (c) => c.json((await auth.signIn(c, { userId: c.req.query('user') ?? 'nobody' })).body));
    const api = new Hono<LatchkeyEnv>();
    api.on(['GET', 'POST', 'PUT', 'PATCH', 'DELETE'], '/me', auth.requireSession(), (c) => c.json(me(c.var.latchkey)));
    app.route('/api', api);
    // @hono/node-server answers its own errors (a 500); nothing is left for the caller to await.
    const handle = getRequestListener(app.fetch);
    return listen('Hono', (req, res) => void handle(req, res));
  }],
  ['node:http', async (engine) => {
    const auth = latchkeyNode(engine);
    return listen('node:http', (req, res) => {
      void (async () => {
        if (await auth.handle(req, res)) return;
        const url = new URL(req.url ?? '/', 'http://x');
        try {
          if (req.method === 'POST' && url.pathname === '/auth/login') {
            const result = await auth.signIn(req, res, { userId: url.searchParams.get('user') ?? 'nobody' });
            res.setHeader('content-type', 'application/json');
            return void res.end(JSON.stringify(result.body));
          }
          if (url.pathname !== '/api/me') {
            res.statusCode = 404;
            return void res.end();
          }
          const session = await auth.requireSession(req, res);
          if (!session) return;
          res.setHeader('content-type', 'application/json');
          res.end(JSON.stringify(me(session)));
        } catch (error) {
          auth.sendError(res, error);
        }
      })();
    });
  }],
];
