/**
 * latchkey on each framework, through its adapter, for bench/servers/server.mjs. Each mount serves
 * the auth routes and `GET /me` behind the adapter's "require a session" guard, exactly as an app
 * would, with default options (cookie and header modes, verified-token cache on).
 *
 * The authenticated client presents the access-token cookie a browser would hold after sign-in.
 */
import { benchEngine } from '../lib/engine.mjs';

async function engineAndCredentials() {
  const engine = await benchEngine();
  const issued = await engine.createSession({ userId: 'user-1' });
  return { engine, headers: { cookie: `__Host-lk_access=${issued.accessToken}` } };
}

export async function latchkeyNode(listen, body) {
  const http = await import('node:http');
  const { latchkeyNode: adapter } = await import('latchkey/adapters/node');
  const { engine, headers } = await engineAndCredentials();
  const auth = adapter(engine);
  const server = http.createServer(async (req, res) => {
    if (await auth.handle(req, res)) return;
    const session = await auth.requireSession(req, res);
    if (!session) return;
    res.writeHead(200, { 'content-type': 'application/json' }).end(body(session.userId));
  });
  return { port: await listen(server), headers, server };
}

export async function latchkeyExpress(app, listen) {
  const { latchkeyExpress: adapter } = await import('latchkey/adapters/express');
  const { engine, headers } = await engineAndCredentials();
  const auth = adapter(engine);
  app.use(auth.router);
  app.get('/me', auth.requireSession(), (req, res) => res.json({ userId: req.latchkey.userId }));
  app.use(auth.errorHandler());
  return { port: await listen(), headers };
}

export async function latchkeyFastify(app, listen) {
  const { latchkeyFastify: plugin } = await import('latchkey/adapters/fastify');
  const { engine, headers } = await engineAndCredentials();
  await app.register(plugin, { latchkey: engine });
  app.get('/me', { preHandler: app.latchkey.requireSession() }, async (request) => ({ userId: request.latchkey.userId }));
  return { port: await listen(), headers };
}

export async function latchkeyHono(app, listen) {
  const { latchkeyHono: adapter } = await import('latchkey/adapters/hono');
  const { engine, headers } = await engineAndCredentials();
  const auth = adapter(engine);
  app.route('/', auth.app);
  app.get('/me', auth.requireSession(), (c) => c.json({ userId: c.get('latchkey').userId }));
  return { port: await listen(), headers };
}
