/** The shared HTTP suite on the Hono 4 adapter, in process (`app.request`) and over a real socket (@hono/node-server). */
import { getRequestListener } from '@hono/node-server';
import { Hono } from 'hono';
import type { Latchkey } from 'latchkey';
import { latchkeyHono, type LatchkeyEnv } from 'latchkey/adapters/hono';
import type { LatchkeyHttpOptions } from 'latchkey/http';
import type { AdapterHarness, Served } from './support/harness.js';
import { listen, requirementsFor } from './support/listen.js';
import { runHttpSuite } from './suite.js';

function build(engine: Latchkey, options: LatchkeyHttpOptions): Hono {
  const auth = latchkeyHono(engine, options);
  const app = new Hono();
  app.route('/', auth.app);
  app.onError((error, c) => auth.errorResponse(error, c));
  app.post('/auth/login', async (c) => {
    const role = c.req.query('role');
    const result = await auth.signIn(c, { userId: c.req.query('user') ?? 'nobody', ...(role ? { accessClaims: { role } } : {}), data: { plan: 'pro' } });
    return c.json(result.body);
  });
  app.post('/app/logout', async (c) => c.json(await auth.signOut(c)));
  app.get('/api/optional', auth.session(), (c) => c.json({ userId: c.var.latchkey?.userId ?? null }));
  app.get('/api/optional-pre', async (c) => c.json({ userId: (await auth.getSession(c))?.userId ?? null }));
  const api = new Hono<LatchkeyEnv>();
  for (const path of ['/me', '/admin', '/fresh', '/checked', '/data', '/promote', '/promote-twice']) {
    api.on(['GET', 'POST', 'DELETE'], path, auth.requireSession(requirementsFor(`/api${path}`)), async (c) => {
      const session = c.var.latchkey;
      if (path === '/promote') {
        const updated = await session.update({ accessClaims: { role: 'admin' } });
        return c.json({ accessToken: session.mode === 'header' ? updated.accessToken : undefined });
      }
      if (path === '/promote-twice') {
        await session.update({ accessClaims: { role: 'editor' } });
        const updated = await session.update({ accessClaims: { role: 'admin' } });
        return c.json({ accessToken: session.mode === 'header' ? updated.accessToken : undefined });
      }
      if (path === '/data') return c.json({ data: await session.data() });
      return c.json({ userId: session.userId, sessionId: session.sessionId, mode: session.mode });
    });
  }
  app.route('/api', api);
  return app;
}

export const honoRequestHarness: AdapterHarness = {
  name: 'Hono 4 (app.request)',
  async start(engine, options): Promise<Served> {
    const app = build(engine, options);
    return {
      origin: 'http://localhost',
      fetch: async (path, init) => app.request(path, init),
      close: async () => undefined,
    };
  },
};

export const honoSocketHarness: AdapterHarness = {
  name: 'Hono 4 (socket, @hono/node-server)',
  start(engine, options) {
    // @hono/node-server answers its own errors (a 500); nothing is left for the caller to await.
    const handle = getRequestListener(build(engine, options).fetch);
    return listen((req, res) => void handle(req, res));
  },
};

runHttpSuite(honoRequestHarness);
runHttpSuite(honoSocketHarness);
