/**
 * Hono on the edge: `latchkey/adapters/hono-edge` guards a Hono app's routes with the edge verifier,
 * run in Cloudflare's workerd (from the npm registry) against a real latchkey service on 127.0.0.1.
 * Bearer and cookie credentials, the CSRF header on a cookie-borne POST, expiry and revocation.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serviceAvailable } from '../helpers/services.js';
import { API_KEY, startTestService, testClock, type TestService } from '../service/helpers.js';
import { bundleEdgeApp } from './runtimes/bundle.js';
import { hasRuntime, runtimeBinary, startApp, type RunningApp } from './runtimes/runners.js';

const WORKER = new URL('./runtimes/hono-worker.ts', import.meta.url).pathname;

const available = await serviceAvailable('workerd (npm package, runtimes workspace)', async () => {
  if (!hasRuntime('workerd')) throw new Error(`${runtimeBinary('workerd')} is missing: run npm install`);
});

describe.skipIf(!available)('Hono requireEdgeSession in workerd', () => {
  let svc: TestService;
  let app: RunningApp;
  const clock = testClock();

  beforeAll(async () => {
    svc = await startTestService({ clock });
    const issuer = (await svc.call('GET', '/.well-known/openid-configuration')).json.issuer as string;
    const bundle = await bundleEdgeApp(WORKER, {
      jwksUrl: `${svc.url}/.well-known/jwks.json`,
      issuer,
      revocations: { url: `${svc.url}/v1/revocations`, credential: API_KEY, pollInterval: 1 },
    });
    app = await startApp('workerd', bundle);
  }, 90_000);

  afterAll(async () => {
    await app?.stop();
    await svc?.close();
  });

  const session = async (userId: string) => {
    const created = await svc.call('POST', '/v1/sessions', { body: { userId } });
    return { token: created.json.accessToken as string, sid: created.json.session.id as string };
  };
  const call = async (path: string, init: RequestInit = {}) => {
    const res = await fetch(`${app.url}${path}`, init);
    const text = await res.text();
    return { status: res.status, body: text.startsWith('{') ? (JSON.parse(text) as Record<string, any>) : text };
  };

  it('passes unguarded routes, refuses a guarded one without a credential with the typed 401', async () => {
    expect(await call('/public')).toEqual({ status: 200, body: 'public' });
    const refused = await call('/api/me');
    expect(refused.status).toBe(401);
    expect(refused.body).toMatchObject({ error: { code: 'UNAUTHORISED' } });
  });

  it('accepts a bearer token and the access cookie; a cookie-borne POST needs the CSRF header', async () => {
    const { token } = await session('alice');
    const bearer = await call('/api/me', { headers: { authorization: `Bearer ${token}` } });
    expect(bearer).toMatchObject({ status: 200, body: { userId: 'alice' } });
    expect((bearer.body as Record<string, string>).runtime).toMatch(/^Cloudflare-Workers/);
    const cookie = { cookie: `__Host-lk_access=${token}` };
    expect(await call('/api/me', { headers: cookie })).toMatchObject({ status: 200, body: { userId: 'alice' } });
    const forged = await call('/api/notes', { method: 'POST', headers: cookie });
    expect(forged).toMatchObject({ status: 403, body: { error: { code: 'CSRF_REJECTED' } } });
    expect(await call('/api/notes', { method: 'POST', headers: { ...cookie, 'x-latchkey-csrf': '1' } })).toMatchObject({
      status: 200,
      body: { saved: true },
    });
  });

  it('refuses a forged and an expired token, and a revoked one within the poll interval', async () => {
    const { token, sid } = await session('bob');
    const [h, p, s] = token.split('.') as [string, string, string];
    const altered = `${h}.${Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(p, 'base64url').toString()), sub: 'mallory' })).toString('base64url')}.${s}`;
    expect(await call('/api/me', { headers: { authorization: `Bearer ${altered}` } })).toMatchObject({
      status: 401,
      body: { error: { code: 'UNAUTHORISED' } },
    });
    clock.advance(-2 * 3600_000);
    const old = await session('bob');
    clock.advance(2 * 3600_000);
    expect(await call('/api/me', { headers: { authorization: `Bearer ${old.token}` } })).toMatchObject({
      status: 401,
      body: { error: { code: 'TRY_REFRESH_TOKEN' } },
    });
    expect((await call('/api/me', { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
    await svc.call('DELETE', `/v1/sessions/${sid}`);
    const deadline = Date.now() + 1000 + 5000;
    let verdict = await call('/api/me', { headers: { authorization: `Bearer ${token}` } });
    while (verdict.status === 200 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      verdict = await call('/api/me', { headers: { authorization: `Bearer ${token}` } });
    }
    expect(verdict).toMatchObject({ status: 401, body: { error: { code: 'UNAUTHORISED' } } });
  });
});
