// The demo server: node:http, the latchkey engine on embedded SQLite, and the node adapter.
// No framework, so every line that touches a session is visible here.
import { readFile, readdir } from 'node:fs/promises';
import { createServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { isIP } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { getRequestListener } from '@hono/node-server';
import { getConnInfo } from '@hono/node-server/conninfo';
import { parse as parseCookies } from 'cookie';
import { createLatchkey } from 'latchkey';
import { latchkeyNode } from 'latchkey/adapters/node';
import { AuditRecorder } from 'latchkey/audit';
import { SqliteAuditStore } from 'latchkey/audit/sqlite';
import { createAdminConsole, createLoginLink } from 'latchkey/service';
import { sqliteStore } from 'latchkey/stores/sqlite';
import { apiKeyRoutes, SESSION_SCOPE } from './api-keys.mjs';
import { bindingLabRoutes } from './binding-lab.mjs';
import { emailClaimRoutes, emailVerifiedClaim } from './claims.mjs';
import { UserStore } from './users.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const MAX_BODY = 16 * 1024;
/**
 * The page's Content-Security-Policy: scripts, styles and requests from this origin only, no
 * framing. The API keys page shows a secret once, so an injected script must have nowhere to run
 * and nowhere to send it. (The favicon is a data: URL.)
 */
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";
const CONTENT_TYPES = { '.html': 'text/html; charset=utf-8', '.css': 'text/css; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.mjs': 'text/javascript; charset=utf-8' };

/** Every static file the demo serves, by URL: a fixed list, so no request path ever reaches the file system. */
async function staticFiles() {
  const files = new Map([
    ['/', join(here, '../public/index.html')],
    ['/app.css', join(here, '../public/app.css')],
    ['/app.js', join(here, '../public/app.js')],
    ['/claims.js', join(here, '../public/claims.js')],
    // bowser (MIT): turns User-Agent strings into "Chrome 156 on Linux" for "Your devices". Its
    // ES module build is one self-contained file.
    ['/vendor/bowser.mjs', fileURLToPath(import.meta.resolve('bowser'))],
  ]);
  const sdkDir = dirname(fileURLToPath(import.meta.resolve('@latchkey/client')));
  for (const name of await readdir(sdkDir)) if (name.endsWith('.js')) files.set(`/sdk/${name}`, join(sdkDir, name));
  for (const sub of ['tabs', 'dpop', 'claims']) {
    for (const name of await readdir(join(sdkDir, sub)).catch(() => [])) if (name.endsWith('.js')) files.set(`/sdk/${sub}/${name}`, join(sdkDir, sub, name));
  }
  // The security lab's device-binding half (binding-lab.mjs has the server side).
  files.set('/binding-lab.js', join(here, '../public/binding-lab.js'));
  return files;
}

function send(res, status, body, headers = {}) {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers });
  res.end(typeof body === 'string' ? body : JSON.stringify(body));
}

const error = (code, message) => ({ error: { code, message } });

async function readJson(req) {
  if (!String(req.headers['content-type'] ?? '').startsWith('application/json')) return null;
  let size = 0;
  const chunks = [];
  for await (const chunk of req) {
    size += chunk.length;
    if (size > MAX_BODY) return null;
    chunks.push(chunk);
  }
  try {
    const value = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    return value && typeof value === 'object' && !Array.isArray(value) ? value : null;
  } catch {
    return null;
  }
}

/** Where the admin console is mounted (its cookies are scoped to this path). */
const ADMIN_PATH = '/admin';

const text = (value, max) => (typeof value === 'string' && value.length > 0 && value.length <= max ? value : null);

/**
 * Starts the demo. Options: `port` (3000), `host` ('127.0.0.1'), `dataDir` ('.latchkey'),
 * `accessTokenTtl` (seconds, 30: short so that refreshes can be watched), `devRoutes` (the security
 * lab's routes, which hand out a refresh token on purpose: off unless asked for), `tls` (`{ key, cert }`
 * PEM: serve HTTPS, which DBSC needs), `dbsc` (bind cookie sessions to the browser's key with DBSC; off
 * by default, as in latchkey: only Chromium with DBSC enabled registers, over HTTPS).
 */
export async function startDemo(options = {}) {
  const port = options.port ?? 3000;
  const host = options.host ?? '127.0.0.1';
  const dataDir = options.dataDir ?? '.latchkey';
  const accessTokenTtl = options.accessTokenTtl ?? 30;
  const devRoutes = options.devRoutes === true;
  const dbsc = options.dbsc === true;
  if (dbsc && !options.tls) throw new TypeError('dbsc needs tls: browsers register DBSC keys over HTTPS only');

  const refreshCookie = '__Secure-lk_refresh';

  // Set up once the server listens: the issuer needs its port.
  let latchkey, users, auth, files, adminConsole;

  async function signIn(req, res, user) {
    // `scope`: what the person may do on routes that also take API keys (requireAuth, RFC 9068 §2.2.3).
    const result = await auth.signIn(req, res, { userId: user.id, accessClaims: { scope: SESSION_SCOPE }, idClaims: { name: user.name, email: user.email } });
    send(res, 201, result.body);
  }

  const keys = apiKeyRoutes(() => ({ latchkey, auth, send, error, readJson, text }));
  const cookieNames = { access: '__Host-lk_access', refresh: refreshCookie, front: 'lk_front' };
  const bindingLab = bindingLabRoutes(() => ({ latchkey, auth, users, send, error, readJson, scope: SESSION_SCOPE, cookieNames, dbsc }));
  const routes = {
    ...keys.routes,
    ...emailClaimRoutes(() => ({ latchkey, auth, users, send })),
    'GET /api/config': async (_req, res) => send(res, 200, { accessTokenTtl, devRoutes, dbsc }),
    'POST /api/signup': async (req, res) => {
      // Login CSRF, checked first: a cross-site form must not create an account and sign the victim into it.
      if (!auth.checkLoginCsrf(req, res)) return;
      const body = await readJson(req);
      const email = text(body?.email, 254);
      const name = text(body?.name, 80);
      const password = text(body?.password, 256);
      if (!email || !name || !password || password.length < 8 || !email.includes('@')) {
        return send(res, 400, error('INVALID_REQUEST', 'name, email and a password of at least 8 characters are required'));
      }
      const user = await users.create({ email, name, password });
      if (!user) return send(res, 409, error('EMAIL_TAKEN', 'an account with this email exists; sign in instead'));
      await signIn(req, res, user);
    },
    'POST /api/signin': async (req, res) => {
      if (!auth.checkLoginCsrf(req, res)) return;
      const body = await readJson(req);
      const email = text(body?.email, 254);
      const password = text(body?.password, 256);
      if (!email || !password) return send(res, 400, error('INVALID_REQUEST', 'email and password are required'));
      const user = await users.authenticate(email, password);
      if (!user) return send(res, 401, error('INVALID_CREDENTIALS', 'wrong email or password'));
      await signIn(req, res, user);
    },
    'GET /api/me': async (req, res) => {
      const session = await auth.requireSession(req, res);
      if (!session) return;
      send(res, 200, { userId: session.userId, sessionId: session.sessionId, claims: session.claims, at: new Date().toISOString() });
    },
  };

  const devOnly = {
    ...bindingLab,
    // Under the refresh cookie's path, so the browser sends it: the "attacker" copies it from here.
    'POST /auth/refresh/dev-copy': async (req, res) => {
      const session = await auth.requireSession(req, res);
      if (!session) return;
      const token = parseCookies(req.headers.cookie ?? '')[refreshCookie];
      if (!token) return send(res, 400, error('INVALID_REQUEST', 'no refresh cookie'));
      send(res, 200, { refreshToken: token });
    },
    // The attacker's replay, from "another device": no cookies, just the stolen token.
    'POST /dev/replay': async (req, res) => {
      const body = await readJson(req);
      try {
        await latchkey.refresh(body?.refreshToken);
        send(res, 200, { note: 'the stolen token was accepted (it had not been rotated out yet)' });
      } catch (err) {
        auth.sendError(res, err);
      }
    },
  };

  const onRequest = async (req, res) => {
    try {
      const url = new URL(req.url ?? '/', 'http://localhost');
      // The admin console (docs/admin.md) answers everything under /admin, path unchanged, and nothing else.
      if (url.pathname === ADMIN_PATH || url.pathname.startsWith(`${ADMIN_PATH}/`)) return await adminConsole(req, res);
      const file = req.method === 'GET' ? files.get(url.pathname) : undefined;
      if (file) {
        const ext = file.slice(file.lastIndexOf('.'));
        const headers = { 'content-type': CONTENT_TYPES[ext] ?? 'application/octet-stream', 'cache-control': 'no-cache', 'x-content-type-options': 'nosniff' };
        if (ext === '.html') Object.assign(headers, { 'content-security-policy': CSP, 'referrer-policy': 'no-referrer' });
        res.writeHead(200, headers);
        return res.end(await readFile(file));
      }
      const key = `${req.method} ${url.pathname}`;
      const handler = routes[key] ?? keys.match(req.method, url.pathname) ?? (devRoutes ? devOnly[key] : undefined);
      if (handler) return await handler(req, res);
      if (await auth.handle(req, res)) return;
      send(res, 404, error('NOT_FOUND', 'no such route'));
    } catch (err) {
      if (!res.headersSent) auth.sendError(res, err);
      else res.destroy();
    }
  };
  const server = options.tls ? createHttpsServer({ key: options.tls.key, cert: options.tls.cert }, onRequest) : createServer(onRequest);
  // Listen first: the issuer is the URL the browser uses, port included.
  await new Promise((resolve, reject) => {
    // A busy port is an error to report (main.mjs says what to do), not an uncaught 'error' event.
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  const url = `${options.tls ? 'https' : 'http'}://localhost:${address.port}`;
  // The demo opened the store, so it closes it (the engine closes only a store it opened itself).
  const store = sqliteStore({ path: join(dataDir, 'demo.db') });
  latchkey = await createLatchkey({
    issuer: options.issuer ?? url,
    store,
    secretFile: join(dataDir, 'secret.key'),
    accessTokenTtl,
    // "Verify your email" (claims.mjs): fetched from the user store at every sign-in.
    claims: [emailVerifiedClaim(() => users)],
    // Short tokens need a short leeway, or a 2-second token would live for 32.
    clockTolerance: Math.min(30, Math.max(1, Math.floor(accessTokenTtl / 4))),
  });
  users = new UserStore(join(dataDir, 'demo-users.db'));
  auth = latchkeyNode(latchkey, { ...(dbsc ? { dbsc: true } : {}), ...options.http });
  files = await staticFiles();

  // The admin console, on the demo's own engine and store, with the security audit log in the demo's
  // SQLite file (a table of its own). The recorder writes the engine's events in batches (once a
  // second) and runs retention with the engine's hourly cleanup, as in `latchkey serve`.
  // The engine has read or created the key file by now: the console derives its own key from the
  // same master secret (the file's contents, as `latchkey serve` and `latchkey admin login` read it).
  const secret = (await readFile(join(dataDir, 'secret.key'), 'utf8')).trim();
  const auditStore = await SqliteAuditStore.open({ path: join(dataDir, 'demo.db') });
  await auditStore.migrate();
  const recorder = new AuditRecorder({ store: auditStore, source: latchkey });
  const consoleApp = createAdminConsole({
    engine: latchkey,
    secret,
    store,
    audit: { store: auditStore, recorder },
    basePath: ADMIN_PATH,
    // The socket's address for the audit log, as `latchkey serve` records it (the demo trusts no proxy header).
    clientIp: (c) => {
      const address = getConnInfo(c).remote.address;
      return address !== undefined && isIP(address) !== 0 ? address : undefined;
    },
  });
  // @hono/node-server bridges node:http to the console's web-standard fetch (request, streaming, errors).
  adminConsole = getRequestListener(consoleApp.fetch);
  return {
    url,
    latchkey,
    /**
     * A one-time sign-in link to the admin console for `operator` (default `demo`): valid once, for
     * 10 minutes (`ttlMs`). It is a credential: main.mjs prints it to the terminal only.
     */
    adminLoginLink: (operator = 'demo', ttlMs) => createLoginLink({ engine: latchkey, secret, operator, consoleUrl: `${url}${ADMIN_PATH}`, ttlMs }),
    async close() {
      server.closeAllConnections?.();
      await new Promise((resolve) => server.close(resolve));
      // The buffered audit events are written before the engine and the stores go.
      await recorder.close();
      await latchkey.close();
      await auditStore.close();
      await store.close();
      users.close();
    },
  };
}
