/**
 * A real latchkey server for the SDK tests: the engine (memory store, 2 s access tokens, no clock
 * tolerance so tokens really expire) behind the node:http adapter, plus a tiny app (sign-in route,
 * protected routes, one of which updates the session's claims), the SDK bundle and a test page. Every request is counted, and the refresh
 * tokens presented to `/auth/refresh` are remembered (by hash) so tests can prove none was spent twice.
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { parse } from 'cookie';
import { createLatchkey, EmailVerifiedClaim, type Latchkey, type LatchkeyOptions } from 'latchkey';
import { memoryStore } from 'latchkey/stores/memory';
import { latchkeyNode, type NodeLatchkey } from 'latchkey/adapters/node';

export interface TestServer {
  /** http://localhost:<port> (for a TLS server, use the port with the test's own host names). */
  origin: string;
  port: number;
  engine: Latchkey;
  /** Requests per "METHOD path". */
  counts: Map<string, number>;
  count(key: string): number;
  /** SHA-256 of each refresh cookie presented to POST /auth/refresh, in order. */
  presentedRefresh: string[];
  close(): Promise<void>;
}

const PAGE = `<!doctype html><meta charset="utf-8"><title>latchkey SDK test</title>
<script type="module">
  import * as sdk from '/sdk.js';
  const params = new URLSearchParams(location.search);
  const lk = sdk.createLatchkeyClient({ autoRefresh: params.get('auto') === '1', apiBase: params.get('api') ?? undefined });
  window.events = [];
  for (const name of ['refreshed', 'signedOut', 'unauthorised', 'theftDetected', 'cookieBlocked', 'claimsUpdated']) {
    lk.on(name, (payload) => window.events.push({ name, payload }));
  }
  window.sdk = sdk;
  window.lk = lk;
  window.call = async (path, init) => {
    try {
      const res = await lk.fetch(path, init);
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : null };
    } catch (error) {
      return { status: 0, error: error.code ?? String(error) };
    }
  };
  window.ready = true;
</script>`;

/**
 * Bundles the SDK from source into a temp dir, as an app's bundler would, and axios for the
 * interceptor test. Once per test file: the bundles do not change between tests.
 */
async function bundle(): Promise<{ sdk: string; axios: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'latchkey-sdk-'));
  try {
    const common = { bundle: true, format: 'esm', target: 'es2022', platform: 'browser', logLevel: 'silent' } as const;
    // The core and the DPoP entry in one module, as an app importing both would bundle them.
    const src = (path: string) => JSON.stringify(fileURLToPath(new URL(`../../src/${path}`, import.meta.url)));
    await build({
      ...common,
      stdin: { contents: `export * from ${src('index.ts')}; export * from ${src('dpop/index.ts')};`, resolveDir: fileURLToPath(new URL('.', import.meta.url)) },
      outfile: join(dir, 'sdk.js'),
    });
    await build({
      ...common,
      stdin: { contents: "export { default } from 'axios';", resolveDir: fileURLToPath(new URL('.', import.meta.url)) },
      outfile: join(dir, 'axios.js'),
    });
    return { sdk: await readFile(join(dir, 'sdk.js'), 'utf8'), axios: await readFile(join(dir, 'axios.js'), 'utf8') };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
let bundled: ReturnType<typeof bundle> | undefined;

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

const sha = (s: string): string => createHash('sha256').update(s).digest('hex');

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}

export interface TestServerOptions {
  refreshGrace?: number;
  /** Run the server in csrf mode `token`. */
  csrfToken?: boolean;
  /** Serve HTTPS with this key and certificate (PEM). */
  tls?: { key: string; cert: string };
  /**
   * Origins (given the port) of a front end on another host of the site: allowed by latchkey and
   * given CORS on the app routes.
   */
  appOrigins?: (port: number) => string[];
  /**
   * Send every `Date` header this many ms ahead of the real time. A real one is off by up to half a
   * second (it is truncated to the second); pinning a known error lets a test tell which clock
   * estimate a tab uses.
   */
  dateAheadMs?: number;
  /** The engine's clock tolerance, seconds (default 0, so tokens really expire); also the DPoP iat window. */
  clockTolerance?: number;
  /** The engine's DPoP options. */
  dpop?: LatchkeyOptions['dpop'];
}

export async function startServer(options: TestServerOptions = {}): Promise<TestServer> {
  const code = await (bundled ??= bundle());
  const engine = await createLatchkey({
    issuer: 'http://localhost',
    store: memoryStore(),
    secret: 'a test secret that is long enough for latchkey!!',
    accessTokenTtl: 2,
    clockTolerance: options.clockTolerance ?? 0,
    ...(options.dpop ? { dpop: options.dpop } : {}),
    timers: false,
    ...(options.refreshGrace === undefined ? {} : { refreshGrace: options.refreshGrace }),
  });
  // Made once the port is known (allowed origins include it); no request arrives before.
  let appOrigins: string[] = [];
  // eslint-disable-next-line prefer-const -- assigned once the port is known, after `handler` closes over it.
  let auth: NodeLatchkey;
  const counts = new Map<string, number>();
  const presentedRefresh: string[] = [];

  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      const key = `${req.method} ${url.pathname}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
      if (options.dateAheadMs) res.setHeader('date', new Date(Date.now() + options.dateAheadMs).toUTCString());
      // CORS for the app's own routes, as an app serving a front end on a sibling host would set it.
      const origin = req.headers.origin;
      if (origin && appOrigins.includes(origin) && !url.pathname.startsWith('/auth/')) {
        res.setHeader('access-control-allow-origin', origin);
        res.setHeader('access-control-allow-credentials', 'true');
        res.setHeader('access-control-expose-headers', 'x-latchkey-front');
        res.setHeader('vary', 'Origin');
        if (req.method === 'OPTIONS') {
          res.writeHead(204, { 'access-control-allow-methods': 'GET, POST', 'access-control-allow-headers': 'content-type, x-latchkey-csrf' });
          res.end();
          return;
        }
      }
      if (key === 'POST /auth/refresh') {
        const cookie = parse(req.headers.cookie ?? '')['__Secure-lk_refresh'];
        if (cookie) presentedRefresh.push(sha(cookie));
      }
      if (await auth.handle(req, res)) return;
      if (key === 'GET /') {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        res.end(PAGE);
      } else if (key === 'GET /sdk.js' || key === 'GET /axios.js') {
        res.writeHead(200, { 'content-type': 'text/javascript' });
        res.end(key === 'GET /sdk.js' ? code.sdk : code.axios);
      } else if (key === 'POST /app/signin') {
        // The app has checked a password here; latchkey starts the session.
        try {
          const result = await auth.signIn(req, res, { userId: 'alice', idClaims: { name: 'Alice Ünicode' } });
          json(res, 200, result.body);
        } catch (error) {
          auth.sendError(res, error);
        }
      } else if (key === 'GET /api/me') {
        const session = await auth.requireSession(req, res);
        if (session) json(res, 200, { userId: session.userId });
      } else if (key === 'POST /api/rename') {
        // A claim update in an app route: new tokens for the same session (cookies, or headers in header mode).
        const session = await auth.requireSession(req, res);
        if (session) {
          const { name } = JSON.parse((await readBody(req)) || '{}') as { name?: string };
          await session.update({ idClaims: { name: name ?? '' } });
          json(res, 200, { renamed: true });
        }
      } else if (key === 'GET /api/billing') {
        // Issue 16: a route gated on a claim; a failing check is 403 CLAIM_VALIDATION_FAILED.
        const session = await auth.requireSession(req, res, { validators: [EmailVerifiedClaim.isTrue()] });
        if (session) json(res, 200, { billing: true });
      } else if (key === 'POST /api/verify-email') {
        // The claim set server-side for the session: its older tokens are answered TRY_REFRESH_TOKEN.
        const session = await auth.requireSession(req, res);
        if (session) json(res, 200, { updated: await engine.setClaimValue({ sessionId: session.sessionId }, EmailVerifiedClaim, true) });
      } else if (key === 'POST /api/echo') {
        const session = await auth.requireSession(req, res);
        if (session) json(res, 200, { userId: session.userId, echo: JSON.parse((await readBody(req)) || 'null') });
      } else {
        json(res, 404, { error: { code: 'NOT_FOUND', message: 'no such route' } });
      }
    })().catch((error: unknown) => {
      if (!res.headersSent) json(res, 500, { error: { code: 'TEST_SERVER', message: String(error) } });
    });
  };
  const server: Server = options.tls ? createTlsServer(options.tls, handler) : createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, resolve));
  const { port } = server.address() as { port: number };
  appOrigins = options.appOrigins?.(port) ?? [];
  auth = latchkeyNode(engine, {
    allowedOrigins: appOrigins,
    ...(options.csrfToken ? { csrf: { mode: 'token', secret: 'another test secret, 32 bytes or more' } } : {}),
  });
  return {
    origin: `http://localhost:${port}`,
    port,
    engine,
    counts,
    count: (k) => counts.get(k) ?? 0,
    presentedRefresh,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await engine.close();
    },
  };
}
