/**
 * The admin console's security model over plain HTTP against a real service (SQLite): every route
 * refuses without a console session, login links work once (across instances) and expire, CSRF and
 * cross-origin posts are refused, an ordinary user's session (or a forged admin one) gets nothing,
 * the headers forbid framing, script injection and caching, and attacker-controlled values are
 * escaped on every page that shows them.
 */
import { afterEach, describe, expect, test } from 'vitest';
import type { AuditStore } from 'latchkey/audit';
import { testClock } from '../service/helpers.js';
import { ConsoleClient, startAdminService, startSecondInstance, ticketOf, type AdminService } from './helpers.js';

const open: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const s of open.splice(0).reverse()) await s.close();
});

async function setup(options: Parameters<typeof startAdminService>[0] = {}) {
  const svc = await startAdminService(options);
  open.push(svc);
  return svc;
}

async function signedIn(svc: AdminService, operator = 'alice'): Promise<ConsoleClient> {
  const client = new ConsoleClient(svc.url);
  const reply = await client.signIn(await svc.link(operator));
  expect(reply.status).toBe(303);
  expect(reply.location).toBe('/admin');
  return client;
}

const PAGES = [
  '/admin',
  '/admin/',
  '/admin/users',
  '/admin/users?user=bob',
  '/admin/audit',
  '/admin/audit?type=session.theft_detected',
  '/admin/keys',
  '/admin/keys/drop',
  '/admin/no-such-page',
];
const ACTIONS = [
  '/admin/users/revoke-session',
  '/admin/users/revoke-all',
  '/admin/users/revoke-api-key',
  '/admin/keys/rotate',
  '/admin/keys/drop',
  '/admin/logout',
];

describe('without a console session', () => {
  test('every page redirects to sign-in, the API and every action answer 401 and change nothing', async () => {
    const svc = await setup();
    const engine = svc.service.engine;
    const bob = await engine.createSession({ userId: 'bob' });
    const keysBefore = (await svc.service.store.listSigningKeys()).map((k) => k.kid).sort();
    const anonymous = new ConsoleClient(svc.url);
    for (const path of PAGES) {
      const reply = await anonymous.get(path);
      expect({ path, status: reply.status, location: reply.location }).toEqual({ path, status: 303, location: '/admin/login' });
    }
    const api = await anonymous.get('/admin/api/overview');
    expect(api.status).toBe(401);
    expect(JSON.parse(api.text)).toMatchObject({ error: { code: 'UNAUTHORISED' } });
    for (const path of ACTIONS) {
      const reply = await anonymous.post(path, { user: 'bob', session: bob.session.id, confirm: 'yes', _csrf: 'x' });
      expect({ path, status: reply.status }).toEqual({ path, status: 401 });
    }
    expect((await engine.getSession(bob.session.id))?.revokedAt).toBeNull();
    expect((await svc.service.store.listSigningKeys()).map((k) => k.kid).sort()).toEqual(keysBefore);
    // The sign-in page and its static files are the only public routes.
    expect((await anonymous.get('/admin/login')).status).toBe(200);
    expect((await anonymous.get('/admin/static/admin.css')).status).toBe(200);
    expect((await anonymous.get('/admin/static/login.js')).status).toBe(200);
  });

  test('garbage and forged cookies are refused like none', async () => {
    const svc = await setup();
    const client = new ConsoleClient(svc.url);
    client.jar.set('__Secure-lk_admin', 'eyJhbGciOiJub25lIn0.e30.');
    client.jar.set('__Secure-lk_admin_refresh', 'not-a-token');
    expect((await client.get('/admin')).location).toBe('/admin/login');
    expect((await client.get('/admin/api/overview')).status).toBe(401);
  });
});

describe('login links', () => {
  test('a link signs in once; reuse is refused on this and on another instance; a wrong secret is refused', async () => {
    const svc = await setup();
    const second = await startSecondInstance(svc);
    open.push(second);
    const link = await svc.link('alice');
    // The secret travels in the fragment, which browsers never send to a server.
    expect(new URL(link).search).toBe('');
    expect(new URL(link).pathname).toBe('/admin/login');
    const forged = new URLSearchParams(ticketOf(link));
    forged.set('t', 'A'.repeat(43));
    expect((await new ConsoleClient(svc.url).post('/admin/login', { link: forged.toString() })).status).toBe(401);

    const first = new ConsoleClient(svc.url);
    expect((await first.signIn(link)).status).toBe(303);
    const overview = await first.get('/admin');
    expect(overview.status).toBe(200);
    expect(overview.text).toContain('Signed in as alice');

    const again = await new ConsoleClient(svc.url).signIn(link);
    expect(again.status).toBe(401);
    expect(again.text).toContain('invalid, expired or already used');
    const elsewhere = await new ConsoleClient(second.url).signIn(link);
    expect(elsewhere.status).toBe(401);
  });

  test('two redemptions at once on two instances: exactly one wins', async () => {
    const svc = await setup();
    const second = await startSecondInstance(svc);
    open.push(second);
    const link = await svc.link('alice');
    const replies = await Promise.all([new ConsoleClient(svc.url).signIn(link), new ConsoleClient(second.url).signIn(link)]);
    expect(replies.map((r) => r.status).sort()).toEqual([303, 401]);
  });

  test('an expired link is refused', async () => {
    const clock = testClock();
    const svc = await setup({ clock });
    const link = await svc.link('alice', 60_000);
    clock.advance(61_000);
    const reply = await new ConsoleClient(svc.url).signIn(link);
    expect(reply.status).toBe(401);
    expect(reply.headers.getSetCookie()).toEqual([]);
  });

  test('the whole pasted link works as well as its fragment', async () => {
    const svc = await setup();
    const client = new ConsoleClient(svc.url);
    expect((await client.post('/admin/login', { link: await svc.link('carol') })).status).toBe(303);
    expect((await client.get('/admin')).text).toContain('Signed in as carol');
  });
});

describe('the console session', () => {
  test('cookies are __Secure-, httpOnly, SameSite=Strict and scoped to /admin', async () => {
    const svc = await setup();
    const reply = await new ConsoleClient(svc.url).signIn(await svc.link());
    const cookies = reply.headers.getSetCookie();
    expect(cookies).toHaveLength(2);
    for (const c of cookies) {
      expect(c).toMatch(/^__Secure-lk_admin(_refresh)?=/);
      expect(c).toMatch(/; HttpOnly/);
      expect(c).toMatch(/; Secure/);
      expect(c).toMatch(/; SameSite=Strict/);
      expect(c).toMatch(/; Path=\/admin(;|$)/);
    }
  });

  test("an ordinary user's session is refused, and so is a session forged for admin:<name> with a copied marker", async () => {
    const svc = await setup();
    const engine = svc.service.engine;
    const user = await engine.createSession({ userId: 'mallory', accessClaims: { latchkey_console: true } });
    const client = new ConsoleClient(svc.url);
    client.jar.set('__Secure-lk_admin', user.accessToken);
    client.jar.set('__Secure-lk_admin_refresh', user.refreshToken);
    expect((await client.get('/admin')).location).toBe('/admin/login');
    expect((await client.get('/admin/api/overview')).status).toBe(401);

    // A backend with a service key can create any session; copying a real console session's data
    // (its marker) into a session of its own must not make it a console session.
    const alice = await signedIn(svc);
    expect((await alice.get('/admin')).status).toBe(200);
    const real = (await engine.listSessions('admin:alice'))[0]!;
    const forged = await engine.createSession({ userId: 'admin:alice', data: real.data, accessClaims: real.accessClaims });
    const forger = new ConsoleClient(svc.url);
    forger.jar.set('__Secure-lk_admin', forged.accessToken);
    forger.jar.set('__Secure-lk_admin_refresh', forged.refreshToken);
    expect((await forger.get('/admin')).location).toBe('/admin/login');
  });

  test('signing out revokes the session; a copy of its cookies is refused afterwards', async () => {
    const svc = await setup();
    const client = await signedIn(svc);
    const copy = new ConsoleClient(svc.url);
    for (const [n, v] of client.jar) copy.jar.set(n, v);
    const out = await client.post('/admin/logout', { _csrf: await client.csrf() });
    expect(out.status).toBe(303);
    expect((await copy.get('/admin')).location).toBe('/admin/login');
    expect((await svc.service.engine.listSessions('admin:alice')).length).toBe(0);
  });

  test('an expired access token is refreshed server-side; an idle console is signed out', async () => {
    const clock = testClock();
    const svc = await setup({ clock });
    const client = await signedIn(svc);
    clock.advance(600_000);
    expect((await client.get('/admin/keys')).status).toBe(200);
    const accessBefore = client.jar.get('__Secure-lk_admin');
    clock.advance(400_000); // access token (900 s) expired, idle 400 s < 15 min
    const refreshed = await client.get('/admin/keys');
    expect(refreshed.status).toBe(200);
    expect(client.jar.get('__Secure-lk_admin')).not.toBe(accessBefore);
    clock.advance(16 * 60_000); // idle past 15 min
    expect((await client.get('/admin/keys')).location).toBe('/admin/login');
    expect((await svc.service.engine.listSessions('admin:alice')).length).toBe(0);
  });
});

describe('CSRF', () => {
  test("a post without the token, with a wrong one, with another session's, or from another origin is refused and changes nothing", async () => {
    const svc = await setup();
    const engine = svc.service.engine;
    const bob = await engine.createSession({ userId: 'bob' });
    const alice = await signedIn(svc, 'alice');
    const carol = await signedIn(svc, 'carol');
    const token = await alice.csrf();
    const attempts: [Record<string, string>, Record<string, string>?][] = [
      [{ user: 'bob' }],
      [{ user: 'bob', _csrf: 'AAAA' }],
      [{ user: 'bob', _csrf: await carol.csrf() }],
      [{ user: 'bob', _csrf: token }, { origin: 'http://evil.example' }],
      [{ user: 'bob', _csrf: token }, { origin: 'null' }],
      [{ user: 'bob', _csrf: token }, { 'sec-fetch-site': 'cross-site' }],
      [{ user: 'bob', _csrf: token }, { 'sec-fetch-site': 'same-site' }],
    ];
    for (const [form, headers] of attempts) {
      const reply = await alice.post('/admin/users/revoke-all', form, headers);
      expect(reply.status).toBe(403);
      expect(reply.text).toContain('CSRF');
    }
    expect((await engine.getSession(bob.session.id))?.revokedAt).toBeNull();
    // The same form with the token from this session and this origin works.
    const host = new URL(svc.url).host;
    const ok = await alice.post(
      '/admin/users/revoke-all',
      { user: 'bob', _csrf: token },
      { origin: `http://${host}`, 'sec-fetch-site': 'same-origin' },
    );
    expect(ok.status).toBe(303);
    expect((await engine.getSession(bob.session.id))?.revokedAt).not.toBeNull();
  });

  test('a login post from another origin is refused', async () => {
    const svc = await setup();
    const reply = await new ConsoleClient(svc.url).post(
      '/admin/login',
      { link: ticketOf(await svc.link()) },
      { origin: 'http://evil.example' },
    );
    expect(reply.status).toBe(403);
  });
});

describe('headers', () => {
  test('every console answer forbids framing, inline script, sniffing, cross-site referrers and caching', async () => {
    const svc = await setup();
    const client = await signedIn(svc);
    for (const path of ['/admin/login', '/admin', '/admin/users', '/admin/audit', '/admin/keys', '/admin/keys/drop']) {
      const reply = await client.get(path);
      expect(reply.status).toBe(200);
      const csp = reply.headers.get('content-security-policy') ?? '';
      expect(csp).toContain("frame-ancestors 'none'");
      expect(csp).toContain("default-src 'none'");
      expect(csp).toContain("script-src 'self'");
      expect(csp).not.toContain('unsafe-inline');
      expect(reply.headers.get('x-frame-options')).toBe('DENY');
      expect(reply.headers.get('x-content-type-options')).toBe('nosniff');
      expect(reply.headers.get('referrer-policy')).toBe('same-origin');
      expect(reply.headers.get('cache-control')).toBe('no-store');
      // No inline script anywhere: only the sign-in page loads one, from a file.
      expect(reply.text).not.toMatch(/<script(?![^>]*\ssrc=)/);
    }
  });

  test('LATCHKEY_ADMIN_CONSOLE=off serves no console', async () => {
    const svc = await setup({ env: { LATCHKEY_ADMIN_CONSOLE: 'off' } });
    expect((await new ConsoleClient(svc.url).get('/admin/login')).status).toBe(404);
  });
});

const SCRIPT = '<script>alert("xss")</script>';
const IMG = '"><img src=x onerror=alert(1)>';

describe('XSS', () => {
  test('User-Agent, claim values, API key names and user ids are shown escaped on the Users and Audit pages', async () => {
    const svc = await setup();
    const engine = svc.service.engine;
    const userId = `eve${IMG}`;
    const tokens = await engine.createSession({
      userId,
      device: { userAgent: `Mozilla ${SCRIPT}`, ip: '203.0.113.7' },
      accessClaims: { nickname: IMG, note: SCRIPT },
    });
    await engine.apiKeys.create({ ownerId: userId, name: `deploy ${SCRIPT}${IMG}` });
    // A theft whose replaying request carries a payload in its User-Agent.
    // Two rotations by the victim, then the first token again: a rotated-out replay, outside any grace.
    const once = await engine.refresh(tokens.refreshToken, { device: { userAgent: `victim ${IMG}`, ip: '198.51.100.1' } });
    const rotated = await engine.refresh(once.refreshToken, { device: { userAgent: `victim ${IMG}`, ip: '198.51.100.1' } });
    await expect(engine.refresh(tokens.refreshToken, { device: { userAgent: `thief ${SCRIPT}`, ip: '192.0.2.66' } })).rejects.toMatchObject(
      {
        code: 'TOKEN_THEFT_DETECTED',
      },
    );
    expect((await engine.getSession(rotated.session.id))?.revokedReason).toBe('theft');
    await svc.service.audit.flush();
    const client = await signedIn(svc);

    // The session was revoked by the theft; a second one keeps the Users page's tables filled.
    await engine.createSession({ userId, device: { userAgent: `Mozilla ${SCRIPT}` }, accessClaims: { nickname: IMG } });
    const users = await client.get(`/admin/users?user=${encodeURIComponent(userId)}`);
    const audit = await client.get(`/admin/audit?user=${encodeURIComponent(userId)}`);
    for (const page of [users, audit]) {
      expect(page.status).toBe(200);
      expect(page.text).not.toContain('<script>alert');
      expect(page.text).not.toContain('<img src=x');
      expect(page.text).toContain('&lt;script&gt;alert(&quot;xss&quot;)&lt;/script&gt;');
    }
    expect(users.text).toContain('&lt;img src=x onerror=alert(1)&gt;');
    expect(users.text).toContain('deploy &lt;script&gt;');
    expect(audit.text).toContain('thief &lt;script&gt;');
    expect(audit.text).toContain('victim &quot;&gt;&lt;img');
  });
});

describe('API keys on the Users page', () => {
  test("revoking a user's API key works; a form edited to name another user's key does nothing", async () => {
    const svc = await setup();
    const engine = svc.service.engine;
    const bobs = await engine.apiKeys.create({ ownerId: 'bob', name: 'bob ci' });
    const carols = await engine.apiKeys.create({ ownerId: 'carol', name: 'carol ci' });
    const client = await signedIn(svc);
    const page = await client.get('/admin/users?user=bob');
    expect(page.text).toContain('bob ci');
    expect(page.text).toContain(`value="${bobs.apiKey.id}"`);
    const csrf = await client.csrf();
    // Carol's key through Bob's page: refused, the key still verifies.
    const edited = await client.post('/admin/users/revoke-api-key', { user: 'bob', key: carols.apiKey.id, _csrf: csrf });
    expect(edited.location).toBe('/admin/users?user=bob&done=api-key-not-active');
    await expect(engine.apiKeys.verify(carols.key)).resolves.toBeDefined();
    const revoked = await client.post('/admin/users/revoke-api-key', { user: 'bob', key: bobs.apiKey.id, _csrf: csrf });
    expect(revoked.location).toBe('/admin/users?user=bob&done=api-key-revoked');
    await expect(engine.apiKeys.verify(bobs.key)).rejects.toMatchObject({ code: 'UNAUTHORISED' });
    expect((await client.get('/admin/users?user=bob&done=api-key-revoked')).text).toContain('The API key was revoked.');
    await svc.service.audit.flush();
    const rows = await svcAudit(svc).query({ types: ['admin.action'] });
    expect(rows.events[0]).toMatchObject({
      reason: 'revoke-api-key',
      actor: 'admin',
      userId: 'bob',
      details: { operator: 'alice', keyId: bobs.apiKey.id },
    });
  });
});

describe('audit of admin actions', () => {
  test('sign-in, revocations and key rotation are written with actor admin and the operator', async () => {
    const svc = await setup();
    const engine = svc.service.engine;
    const bob = await engine.createSession({ userId: 'bob' });
    const client = await signedIn(svc, 'alice');
    const csrf = await client.csrf();
    expect((await client.post('/admin/users/revoke-session', { user: 'bob', session: bob.session.id, _csrf: csrf })).location).toBe(
      '/admin/users?user=bob&done=session-revoked',
    );
    expect((await client.post('/admin/keys/rotate', { _csrf: csrf })).location).toBe('/admin/keys?done=rotated');
    await svc.service.audit.flush();
    const auditStore = svcAudit(svc);
    const page = await auditStore.query({ types: ['admin.action'] });
    const actions = page.events.map((e) => ({ reason: e.reason, actor: e.actor, operator: e.details['operator'] })).reverse();
    expect(actions).toEqual([
      { reason: 'sign-in', actor: 'admin', operator: 'alice' },
      { reason: 'revoke-session', actor: 'admin', operator: 'alice' },
      { reason: 'rotate-keys', actor: 'admin', operator: 'alice' },
    ]);
    const revoked = await auditStore.query({ types: ['session.revoked'], sessionId: bob.session.id });
    expect(revoked.events[0]).toMatchObject({ actor: 'admin', reason: 'admin' });
  });
});

/** The service's audit store, read through GET /v1/audit's own store. */
function svcAudit(svc: AdminService): AuditStore {
  return {
    query: async (q: { types?: readonly string[]; sessionId?: string }) => {
      const params = new URLSearchParams();
      if (q.types) params.set('type', q.types.join(','));
      if (q.sessionId) params.set('session', q.sessionId);
      const reply = await svc.call('GET', `/v1/audit?${params.toString()}`);
      return {
        events: (reply.json.events as any[]).map((e) => ({ ...e, at: Date.parse(e.at) })),
        nextCursor: reply.json.nextCursor,
      };
    },
  } as unknown as AuditStore;
}
