/** The shared HTTP suite on the Fastify 5 plugin, in process (`inject`) and over a real socket. */
import Fastify, { type FastifyInstance } from 'fastify';
import type { Latchkey } from 'latchkey';
import { latchkeyFastify } from 'latchkey/adapters/fastify';
import type { LatchkeyHttpOptions } from 'latchkey/http';
import { socketFetch, type AdapterHarness, type Served } from './support/harness.js';
import { requirementsFor } from './support/listen.js';
import { runHttpSuite } from './suite.js';

async function build(engine: Latchkey, options: LatchkeyHttpOptions): Promise<FastifyInstance> {
  const app = Fastify();
  await app.register(latchkeyFastify, { latchkey: engine, ...options });
  app.setErrorHandler(app.latchkey.errorHandler);
  app.post('/auth/login', async (request, reply) => {
    const query = request.query as { user?: string; role?: string };
    const result = await app.latchkey.signIn(request, reply, { userId: query.user ?? 'nobody', ...(query.role ? { accessClaims: { role: query.role } } : {}), data: { plan: 'pro' } });
    return result.body;
  });
  app.post('/app/logout', async (request, reply) => app.latchkey.signOut(request, reply));
  app.get('/api/optional', async (request) => ({ userId: (await app.latchkey.getSession(request))?.userId ?? null }));
  app.get('/api/optional-pre', { preHandler: app.latchkey.session() }, async (request) => ({ userId: request.latchkey?.userId ?? null }));
  for (const path of ['/api/me', '/api/admin', '/api/fresh', '/api/checked', '/api/data', '/api/promote', '/api/promote-twice']) {
    app.route({
      method: ['GET', 'POST', 'DELETE'],
      url: path,
      preHandler: app.latchkey.requireSession(requirementsFor(path)),
      handler: async (request) => {
        const session = request.latchkey!;
        if (path === '/api/promote') {
          const updated = await session.update({ accessClaims: { role: 'admin' } });
          return { accessToken: session.mode === 'header' ? updated.accessToken : undefined };
        }
        if (path === '/api/promote-twice') {
          await session.update({ accessClaims: { role: 'editor' } });
          const updated = await session.update({ accessClaims: { role: 'admin' } });
          return { accessToken: session.mode === 'header' ? updated.accessToken : undefined };
        }
        if (path === '/api/data') return { data: await session.data() };
        return { userId: session.userId, sessionId: session.sessionId, mode: session.mode };
      },
    });
  }
  await app.ready();
  return app;
}

export const fastifyInjectHarness: AdapterHarness = {
  name: 'Fastify 5 (inject)',
  async start(engine, options): Promise<Served> {
    const app = await build(engine, options);
    return {
      origin: 'http://localhost',
      async fetch(path, init) {
        const res = await app.inject({ method: init.method as 'GET', url: path, headers: { host: 'localhost:80', ...init.headers }, ...(init.body === undefined ? {} : { payload: init.body }) });
        const headers = new Headers();
        for (const [name, value] of Object.entries(res.headers)) {
          if (value === undefined) continue;
          for (const v of Array.isArray(value) ? value : [String(value)]) headers.append(name, v);
        }
        return new Response(res.statusCode === 204 || init.method === 'HEAD' ? null : res.body, { status: res.statusCode, headers });
      },
      close: () => app.close(),
    };
  },
};

export const fastifySocketHarness: AdapterHarness = {
  name: 'Fastify 5 (socket)',
  async start(engine, options): Promise<Served> {
    const app = await build(engine, options);
    const address = await app.listen({ port: 0, host: '127.0.0.1' });
    return { origin: address, fetch: socketFetch(address), close: () => app.close() };
  },
};

runHttpSuite(fastifyInjectHarness);
runHttpSuite(fastifySocketHarness);
