/**
 * latchkey on each framework, through its adapter, for bench/servers/server.mjs. Each mount serves
 * the auth routes and `GET /me` behind the adapter's "require a session" guard, exactly as an app
 * would, with default options (cookie and header modes, verified-token cache on).
 *
 * The authenticated client presents the access-token cookie a browser would hold after sign-in.
 *
 * With `apiKey` true, `GET /me` is behind the adapter's `requireApiKey()` guard instead, and the
 * client presents a user API key (`Authorization: Bearer lk_...`), as a script would.
 */
import { benchEngine } from '../lib/engine.mjs';

async function engineAndCredentials(apiKey) {
  const engine = await benchEngine();
  if (apiKey) {
    const { key } = await engine.apiKeys.create({ ownerId: 'user-1', name: 'bench', scopes: ['read'] });
    return { engine, headers: { authorization: `Bearer ${key}` } };
  }
  const issued = await engine.createSession({ userId: 'user-1' });
  return { engine, headers: { cookie: `__Host-lk_access=${issued.accessToken}` } };
}

/** The key route asks for a scope, as a real one would: the scope check is part of the cost. */
const KEY_SCOPES = { scopes: ['read'] };

export async function latchkeyNode(listen, body, apiKey = false) {
  const http = await import('node:http');
  const { latchkeyNode: adapter } = await import('latchkey/adapters/node');
  const { engine, headers } = await engineAndCredentials(apiKey);
  const auth = adapter(engine);
  const server = http.createServer(async (req, res) => {
    if (await auth.handle(req, res)) return;
    if (apiKey) {
      const principal = await auth.requireApiKey(req, res, KEY_SCOPES);
      if (!principal) return;
      return res.writeHead(200, { 'content-type': 'application/json' }).end(body(principal.ownerId));
    }
    const session = await auth.requireSession(req, res);
    if (!session) return;
    res.writeHead(200, { 'content-type': 'application/json' }).end(body(session.userId));
  });
  return { port: await listen(server), headers, server };
}

export async function latchkeyExpress(app, listen, apiKey = false) {
  const { latchkeyExpress: adapter } = await import('latchkey/adapters/express');
  const { engine, headers } = await engineAndCredentials(apiKey);
  const auth = adapter(engine);
  app.use(auth.router);
  if (apiKey) app.get('/me', auth.requireApiKey(KEY_SCOPES), (req, res) => res.json({ userId: req.latchkeyPrincipal.ownerId }));
  else app.get('/me', auth.requireSession(), (req, res) => res.json({ userId: req.latchkey.userId }));
  app.use(auth.errorHandler());
  return { port: await listen(), headers };
}

export async function latchkeyFastify(app, listen, apiKey = false) {
  const { latchkeyFastify: plugin } = await import('latchkey/adapters/fastify');
  const { engine, headers } = await engineAndCredentials(apiKey);
  await app.register(plugin, { latchkey: engine });
  if (apiKey)
    app.get('/me', { preHandler: app.latchkey.requireApiKey(KEY_SCOPES) }, async (request) => ({
      userId: request.latchkeyPrincipal.ownerId,
    }));
  else app.get('/me', { preHandler: app.latchkey.requireSession() }, async (request) => ({ userId: request.latchkey.userId }));
  return { port: await listen(), headers };
}

export async function latchkeyHono(app, listen, apiKey = false) {
  const { latchkeyHono: adapter } = await import('latchkey/adapters/hono');
  const { engine, headers } = await engineAndCredentials(apiKey);
  const auth = adapter(engine);
  app.route('/', auth.app);
  if (apiKey) app.get('/me', auth.requireApiKey(KEY_SCOPES), (c) => c.json({ userId: c.get('latchkeyPrincipal').ownerId }));
  else app.get('/me', auth.requireSession(), (c) => c.json({ userId: c.get('latchkey').userId }));
  return { port: await listen(), headers };
}
