/**
 * One HTTP server under test, in its own process: `GET /me` answers `{"userId": ...}`.
 *
 * Config (JSON in argv[2]): `{ framework: 'node'|'express'|'fastify'|'hono', auth: 'none'|'latchkey'|
 * 'apikey'|'express-session'|'iron-session' }` ('apikey': latchkey's requireApiKey guard, a user API key). On listening (127.0.0.1, an ephemeral port) it sends
 * `{ ready: true, port, headers }` over IPC, where `headers` are what an authenticated client sends
 * (a cookie obtained the way that library's login would set it). It exits when the parent disconnects.
 */
import http from 'node:http';
import { answerCpuProbe } from '../lib/server-cpu.mjs';
import { randomBytes } from 'node:crypto';

const config = JSON.parse(process.argv[2]);
const HOST = '127.0.0.1';
const body = (userId) => JSON.stringify({ userId });

function listenNode(server) {
  return new Promise((resolve) => server.listen(0, HOST, () => resolve(server.address().port)));
}

async function nodeServer(auth) {
  if (auth === 'none') {
    const server = http.createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' }).end(body('anonymous'));
    });
    return { port: await listenNode(server), headers: {}, server };
  }
  const { latchkeyNode } = await import('./latchkey-mounts.mjs');
  return latchkeyNode(listenNode, body, auth === 'apikey');
}

async function expressServer(auth) {
  const { default: express } = await import('express');
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  let server;
  const listen = () => new Promise((resolve) => { server = app.listen(0, HOST, () => resolve(server.address().port)); });
  if (auth === 'none') {
    app.get('/me', (req, res) => res.json({ userId: 'anonymous' }));
    return { port: await listen(), headers: {}, server };
  }
  if (auth === 'express-session') {
    const { default: session } = await import('express-session');
    const { RedisStore } = await import('connect-redis');
    const { createClient } = await import('redis');
    const { REDIS_URL } = await import('../lib/services.mjs');
    const client = createClient({ url: REDIS_URL });
    await client.connect();
    const prefix = `latchkey-bench:${process.pid}:`;
    process.on('disconnect', () => {
      // Remove our keys; the process exits right after.
      client.keys(`${prefix}*`).then((keys) => (keys.length ? client.del(keys) : 0)).finally(() => process.exit(0));
    });
    app.use(session({
      store: new RedisStore({ client, prefix }),
      secret: randomBytes(32).toString('hex'),
      resave: false,
      saveUninitialized: false,
      cookie: { httpOnly: true, sameSite: 'lax', secure: false, maxAge: 86_400_000 },
    }));
    app.post('/login', (req, res) => {
      req.session.userId = 'user-1';
      res.json({ ok: true });
    });
    app.get('/me', (req, res) => {
      if (!req.session.userId) return res.status(401).json({ error: 'unauthorised' });
      res.json({ userId: req.session.userId });
    });
    const port = await listen();
    const login = await fetch(`http://${HOST}:${port}/login`, { method: 'POST' });
    const cookie = login.headers.get('set-cookie').split(';')[0];
    return { port, headers: { cookie }, server };
  }
  if (auth === 'iron-session') {
    const { getIronSession, sealData } = await import('iron-session');
    const options = { password: randomBytes(32).toString('hex'), cookieName: 'bench_session', cookieOptions: { secure: false } };
    app.get('/me', async (req, res) => {
      const session = await getIronSession(req, res, options);
      if (!session.userId) return res.status(401).json({ error: 'unauthorised' });
      res.json({ userId: session.userId });
    });
    const sealed = await sealData({ userId: 'user-1' }, { password: options.password });
    return { port: await listen(), headers: { cookie: `${options.cookieName}=${sealed}` }, server };
  }
  const { latchkeyExpress } = await import('./latchkey-mounts.mjs');
  return { ...(await latchkeyExpress(app, listen, auth === 'apikey')), server };
}

async function fastifyServer(auth) {
  const { default: Fastify } = await import('fastify');
  const app = Fastify({ logger: false });
  const listen = async () => {
    await app.listen({ port: 0, host: HOST });
    return app.server.address().port;
  };
  if (auth === 'none') {
    app.get('/me', async () => ({ userId: 'anonymous' }));
    return { port: await listen(), headers: {}, server: app.server };
  }
  const { latchkeyFastify } = await import('./latchkey-mounts.mjs');
  return { ...(await latchkeyFastify(app, listen, auth === 'apikey')), server: app.server };
}

async function honoServer(auth) {
  const { Hono } = await import('hono');
  const { serve } = await import('@hono/node-server');
  const app = new Hono();
  let server;
  const listen = () => new Promise((resolve) => { server = serve({ fetch: app.fetch, port: 0, hostname: HOST }, (info) => resolve(info.port)); });
  if (auth === 'none') {
    app.get('/me', (c) => c.json({ userId: 'anonymous' }));
    return { port: await listen(), headers: {}, server };
  }
  const { latchkeyHono } = await import('./latchkey-mounts.mjs');
  return { ...(await latchkeyHono(app, listen, auth === 'apikey')), server };
}

const make = { node: nodeServer, express: expressServer, fastify: fastifyServer, hono: honoServer }[config.framework];
try {
  const { port, headers, server } = await make(config.auth);
  // CPU time per request, measured inside the server (bench/lib/server-cpu.mjs).
  server.on('request', answerCpuProbe());
  process.send({ ready: true, port, headers });
} catch (err) {
  process.send({ ready: false, error: err instanceof Error ? err.stack : String(err) });
  process.exit(1);
}
process.on('disconnect', () => setTimeout(() => process.exit(0), 200));
