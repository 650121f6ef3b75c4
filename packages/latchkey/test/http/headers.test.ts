/**
 * How the adapters' response sinks combine latchkey's headers with the app's: the CORS expose list
 * is joined with the one the app's own CORS middleware set (never replaced), and two session updates
 * in one request leave one copy of each header. Real frameworks: Hono with its own cors() middleware,
 * Fastify with a hook, and a real node:http ServerResponse.
 */
import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import Fastify from 'fastify';
import { Hono } from 'hono';
import { cors } from 'hono/cors';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { createLatchkey, type Latchkey } from 'latchkey';
import { latchkeyFastify } from 'latchkey/adapters/fastify';
import { latchkeyHono } from 'latchkey/adapters/hono';
import { EXPOSED_HEADERS, nodeSink } from 'latchkey/http';
import { memoryStore } from 'latchkey/stores/memory';

const SPA = 'https://spa.example';
let engine: Latchkey;

beforeEach(async () => {
  engine = await createLatchkey({ issuer: 'http://localhost', store: memoryStore(), secret: 'headers-test-secret-0123456789abcdef', timers: false });
});
afterEach(() => engine.close());

const expose = (value: string | null) => (value ?? '').split(',').map((h) => h.trim().toLowerCase()).filter(Boolean);

describe("the CORS expose list is joined with the app's", () => {
  test("Hono with hono/cors: sign-in and two updates keep the app's exposed header and ours, once each", async () => {
    const auth = latchkeyHono(engine, { allowedOrigins: [SPA] });
    const app = new Hono();
    app.use(cors({ origin: SPA, credentials: true, exposeHeaders: ['X-App'] }));
    app.route('/', auth.app);
    app.post('/login', async (c) => c.json((await auth.signIn(c, { userId: 'u' })).body));
    app.post('/promote', auth.requireSession(), async (c) => {
      const session = c.get('latchkey');
      await session.update({ mergeAccessClaims: { role: 'editor' } });
      await session.update({ mergeAccessClaims: { role: 'admin' } });
      return c.json({});
    });
    const login = await app.request('/login', { method: 'POST', headers: { origin: SPA, 'x-latchkey-mode': 'header' } });
    expect(expose(login.headers.get('access-control-expose-headers'))).toEqual(['x-app', ...expose(EXPOSED_HEADERS)]);
    const { accessToken } = (await login.json()) as { accessToken: string };
    const promoted = await app.request('/promote', { method: 'POST', headers: { origin: SPA, 'x-latchkey-mode': 'header', authorization: `Bearer ${accessToken}` } });
    expect(promoted.status).toBe(200);
    expect(expose(promoted.headers.get('access-control-expose-headers'))).toEqual(['x-app', ...expose(EXPOSED_HEADERS)]);
    const adopted = promoted.headers.get('x-latchkey-access-token')!;
    expect(adopted).not.toContain(',');
    expect((await engine.verifyAccessToken(adopted)).claims.role).toBe('admin');
  });

  test('Fastify: an expose list set by the app before the handler is kept', async () => {
    const app = Fastify();
    await app.register(latchkeyFastify, { latchkey: engine, allowedOrigins: [SPA] });
    app.addHook('onRequest', async (_request, reply) => {
      reply.header('access-control-expose-headers', 'X-App');
    });
    app.post('/login', async (request, reply) => (await app.latchkey.signIn(request, reply, { userId: 'u' })).body);
    await app.ready();
    const res = await app.inject({ method: 'POST', url: '/login', headers: { origin: SPA, 'x-latchkey-mode': 'header', host: 'localhost' } });
    expect(res.statusCode).toBe(200);
    expect(expose(String(res.headers['access-control-expose-headers']))).toEqual(['x-app', ...expose(EXPOSED_HEADERS)]);
    await app.close();
  });

  test('node:http: the sink joins list headers and takes back exactly one earlier value', () => {
    const res = new ServerResponse(new IncomingMessage(new Socket()));
    res.setHeader('access-control-expose-headers', 'X-App');
    res.setHeader('set-cookie', ['app=1']);
    const sink = nodeSink(res);
    sink.append('access-control-expose-headers', EXPOSED_HEADERS);
    sink.append('set-cookie', 'a=1');
    sink.append('x-latchkey-front', 'f1');
    expect(expose(String(res.getHeader('access-control-expose-headers')))).toEqual(['x-app', ...expose(EXPOSED_HEADERS)]);
    sink.remove!('set-cookie', 'a=1');
    sink.remove!('x-latchkey-front', 'f1');
    sink.remove!('set-cookie', 'never-set=1');
    expect(res.getHeader('set-cookie')).toEqual(['app=1']);
    expect(res.getHeader('x-latchkey-front')).toBeUndefined();
  });
});
