/**
 * A real latchkey server for the React bindings' tests: the engine (memory store, 2 s access tokens,
 * no clock tolerance unless asked) behind the node:http adapter, with the app routes the tests call: sign-in
 * (`POST /app/signin`, user `alice`), a claim update (`POST /api/rename`), the email-verified claim
 * set on the server (`POST /api/verify-email`), and, when given, a page
 * and its script (the browser test's app). No bundler runs here: jsdom's realm breaks esbuild's.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createLatchkey, EmailVerifiedClaim, type Latchkey } from 'latchkey';
import { memoryStore } from 'latchkey/stores/memory';
import { latchkeyNode } from 'latchkey/adapters/node';

export interface AppServer {
  origin: string;
  engine: Latchkey;
  close(): Promise<void>;
}

export interface AppServerOptions {
  /** Served at `GET /` (HTML) and `GET /app.js` (JavaScript). */
  page?: { html: string; script: string };
  /** The engine's clock tolerance, seconds. Default 0 (tokens really expire); also DPoP's proof `iat` window. */
  clockTolerance?: number;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
  res.end(body);
}

export async function startAppServer(options: AppServerOptions = {}): Promise<AppServer> {
  const engine = await createLatchkey({
    issuer: 'http://localhost',
    store: memoryStore(),
    secret: 'a test secret that is long enough for latchkey!!',
    accessTokenTtl: 2,
    clockTolerance: options.clockTolerance ?? 0,
    timers: false,
  });
  const auth = latchkeyNode(engine);
  const server = createServer((req, res) => {
    void (async () => {
      const key = `${req.method} ${new URL(req.url ?? '/', 'http://localhost').pathname}`;
      if (await auth.handle(req, res)) return;
      if (key === 'GET /' && options.page) return send(res, 200, 'text/html; charset=utf-8', options.page.html);
      if (key === 'GET /app.js' && options.page) return send(res, 200, 'text/javascript', options.page.script);
      if (key === 'POST /app/signin') {
        const result = await auth.signIn(req, res, { userId: 'alice', idClaims: { name: 'Alice Ünicode' } });
        return send(res, 200, 'application/json', JSON.stringify(result.body));
      }
      if (key === 'POST /api/verify-email') {
        // A claim set on the server for the session (issue 16): the client learns it at its next refresh.
        const session = await auth.requireSession(req, res);
        if (!session) return;
        await engine.setClaimValue({ sessionId: session.sessionId }, EmailVerifiedClaim, true);
        return send(res, 200, 'application/json', '{"verified":true}');
      }
      if (key === 'POST /api/rename') {
        const session = await auth.requireSession(req, res);
        if (!session) return;
        const { name } = JSON.parse((await readBody(req)) || '{}') as { name?: string };
        await session.update({ idClaims: { name: name ?? '' } });
        return send(res, 200, 'application/json', '{"renamed":true}');
      }
      send(res, 404, 'application/json', '{"error":{"code":"NOT_FOUND","message":"no such route"}}');
    })().catch((error: unknown) => {
      if (!res.headersSent) send(res, 500, 'application/json', JSON.stringify({ error: { code: 'TEST_SERVER', message: String(error) } }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, resolve));
  const { port } = server.address() as { port: number };
  return {
    origin: `http://localhost:${port}`,
    engine,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await engine.close();
    },
  };
}
