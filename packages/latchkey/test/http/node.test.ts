/** The shared HTTP suite on the node:http adapter, over a real socket. */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Latchkey } from 'latchkey';
import { latchkeyNode } from 'latchkey/adapters/node';
import type { LatchkeyHttpOptions } from 'latchkey/http';
import { socketFetch, type AdapterHarness, type Served } from './support/harness.js';
import { runHttpSuite } from './suite.js';

function json(res: ServerResponse, status: number, body: unknown): void {
  res.statusCode = status;
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify(body));
}

export const nodeHarness: AdapterHarness = {
  name: 'node:http (socket)',
  async start(engine: Latchkey, options: LatchkeyHttpOptions): Promise<Served> {
    const auth = latchkeyNode(engine, options);
    const handler = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
      if (await auth.handle(req, res)) return;
      const url = new URL(req.url ?? '/', 'http://x');
      const route = `${req.method} ${url.pathname}`;
      try {
        if (route === 'POST /auth/login') {
          const role = url.searchParams.get('role');
          const result = await auth.signIn(req, res, { userId: url.searchParams.get('user') ?? 'nobody', ...(role ? { accessClaims: { role } } : {}), data: { plan: 'pro' } });
          return json(res, 200, result.body);
        }
        if (route === 'POST /app/logout') {
          const result = await auth.signOut(req, res);
          return json(res, 200, result);
        }
        if (route === 'GET /api/optional') {
          const session = await auth.getSession(req, res);
          return json(res, 200, { userId: session?.userId ?? null });
        }
        if (route === 'GET /api/optional-pre') {
          const session = await auth.optionalSession(req, res);
          if (session === false) return;
          return json(res, 200, { userId: session?.userId ?? null });
        }
        const requirements =
          url.pathname === '/api/admin' ? { claims: { role: 'admin' } }
          : url.pathname === '/api/fresh' ? { maxAuthAge: 60 }
          : url.pathname === '/api/checked' ? { checkStore: true }
          : {};
        if (!url.pathname.startsWith('/api/')) return json(res, 404, { error: 'not found' });
        const session = await auth.requireSession(req, res, requirements);
        if (!session) return;
        if (route === 'POST /api/promote') {
          const updated = await session.update({ accessClaims: { role: 'admin' } });
          return json(res, 200, { accessToken: session.mode === 'header' ? updated.accessToken : undefined });
        }
        if (route === 'POST /api/promote-twice') {
          await session.update({ accessClaims: { role: 'editor' } });
          const updated = await session.update({ accessClaims: { role: 'admin' } });
          return json(res, 200, { accessToken: session.mode === 'header' ? updated.accessToken : undefined });
        }
        if (route === 'GET /api/data') return json(res, 200, { data: await session.data() });
        return json(res, 200, { userId: session.userId, sessionId: session.sessionId, mode: session.mode });
      } catch (error) {
        auth.sendError(res, error, req);
      }
    };
    const server = createServer((req, res) => void handler(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return {
      origin,
      fetch: socketFetch(origin),
      close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
    };
  },
};

runHttpSuite(nodeHarness);
