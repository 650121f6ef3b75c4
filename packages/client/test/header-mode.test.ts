/**
 * Header mode (React Native, CLIs) from Node, no browser: the same SDK against the same real server,
 * with tokens in a TokenStorage and `Authorization: Bearer`; the axios interceptor on the same path.
 */
import { createServer, type Server } from 'node:http';
import axios from 'axios';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLatchkeyClient, memoryTokenStorage, type LatchkeyClient, type LatchkeyEvents, type StoredTokens, type TokenStorage } from '../src/index.js';
import { startServer, type TestServer } from './helpers/server.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const EXPIRY_MS = 2_150;

/** A storage that shows what the SDK stored (async, as React Native stores are). */
function inspectableStorage(initial?: StoredTokens): TokenStorage & { tokens: StoredTokens | null } {
  const s = {
    tokens: initial ?? null,
    get: async () => s.tokens,
    set: async (t: StoredTokens) => void (s.tokens = t),
    clear: async () => void (s.tokens = null),
  };
  return s;
}

function record(client: LatchkeyClient) {
  const seen: { name: keyof LatchkeyEvents; payload: unknown }[] = [];
  for (const name of ['refreshed', 'signedOut', 'unauthorised', 'theftDetected', 'cookieBlocked', 'claimsUpdated'] as const) {
    client.on(name, (payload) => seen.push({ name, payload }));
  }
  return (name: keyof LatchkeyEvents) => seen.filter((e) => e.name === name).map((e) => e.payload);
}

describe('@latchkey/client header mode (Node)', () => {
  let server: TestServer;
  let client: LatchkeyClient;
  let storage: ReturnType<typeof inspectableStorage>;
  let events: ReturnType<typeof record>;

  beforeEach(async () => {
    server = await startServer();
    storage = inspectableStorage();
    client = createLatchkeyClient({ mode: 'header', apiBase: server.origin, tokenStorage: storage, autoRefresh: false });
    events = record(client);
  });
  afterEach(async () => {
    client.close();
    await server.close();
  });

  const signIn = async () => {
    const res = await client.fetch(`${server.origin}/app/signin`, { method: 'POST' });
    expect(res.status).toBe(200);
    return (await res.json()) as { accessToken: string; refreshToken: string };
  };

  it('takes the tokens from the sign-in response and sends them as a bearer token', async () => {
    const body = await signIn();
    expect(storage.tokens).toMatchObject({ accessToken: body.accessToken, refreshToken: body.refreshToken });
    expect(storage.tokens?.front).toEqual(expect.any(String));
    const me = await client.fetch(`${server.origin}/api/me`);
    expect(me.status).toBe(200);
    expect(await me.json()).toEqual({ userId: 'alice' });
    expect(await client.getClaims()).toMatchObject({ sub: 'alice', name: 'Alice Ünicode' });
    expect(await client.doesSessionExist()).toBe(true);
  });

  it('refreshes once with the JSON body and retries the request once', async () => {
    const first = await signIn();
    await sleep(EXPIRY_MS);
    const me = await client.fetch(`${server.origin}/api/me`);
    expect(me.status).toBe(200);
    expect(server.count('POST /auth/refresh')).toBe(1);
    expect(server.count('GET /api/me')).toBe(2);
    expect(storage.tokens?.refreshToken).not.toBe(first.refreshToken);
    expect(events('refreshed')).toHaveLength(1);
  });

  it('axios: the interceptor refreshes once and retries with the body intact', async () => {
    await signIn();
    const api = axios.create({ baseURL: server.origin });
    const eject = client.axiosInterceptor(api);
    await sleep(EXPIRY_MS);
    const [a, b] = await Promise.all([api.post('/api/echo', { n: 1 }), api.get('/api/me')]);
    expect(a.data).toEqual({ userId: 'alice', echo: { n: 1 } });
    expect(b.data).toEqual({ userId: 'alice' });
    expect(server.count('POST /auth/refresh')).toBe(1); // both requests met the expiry; one refresh
    eject();
  });

  it('an invalid refresh token at start-up is "signed out", not an error', async () => {
    const stale = inspectableStorage({ accessToken: 'junk', refreshToken: 'junk' });
    const fresh = createLatchkeyClient({ mode: 'header', apiBase: server.origin, tokenStorage: stale, autoRefresh: false });
    const seen = record(fresh);
    expect(await fresh.doesSessionExist()).toBe(false);
    expect(stale.tokens).toBeNull();
    expect(seen('signedOut')).toEqual([{ reason: 'refreshFailed' }]);
    expect(await fresh.refresh()).toBe(false); // nothing left to refresh with: no request
    expect(server.count('POST /auth/refresh')).toBe(1);
    fresh.close();
  });

  it('a refused refresh is final: the 401 comes back, the session ends, nothing loops', async () => {
    await signIn();
    const sid = String((await client.getClaims())?.sid);
    await server.engine.revokeSession(sid, 'admin');
    const me = await client.fetch(`${server.origin}/api/me`);
    expect(me.status).toBe(401);
    expect(me.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect(events('signedOut')).toEqual([{ reason: 'refreshFailed' }]);
    expect(events('unauthorised')).toHaveLength(1);
    expect((await client.fetch(`${server.origin}/api/me`)).status).toBe(401);
    expect(server.count('POST /auth/refresh')).toBe(1);
    expect(server.count('GET /api/me')).toBe(2);
  });

  it('a replayed (stolen) refresh token is reported as theft', async () => {
    const { refreshToken: stolen } = await signIn();
    expect(await client.refresh()).toBe(true);
    expect(await client.refresh()).toBe(true);
    storage.tokens = { ...storage.tokens!, refreshToken: stolen };
    expect(await client.refresh()).toBe(false);
    expect(await server.engine.listSessions('alice')).toEqual([]); // the whole session was revoked
    expect(events('theftDetected')).toEqual([{ sessionId: expect.any(String), userId: 'alice', reason: 'rotated-out-replay' }]);
    expect(events('signedOut')).toEqual([{ reason: 'theft' }]);
    expect(storage.tokens).toBeNull();
  });

  it('sign-out with an expired access token refreshes first, so the server really ends the session', async () => {
    await signIn();
    const sid = String((await client.getClaims())?.sid);
    await sleep(EXPIRY_MS);
    await client.signOut();
    expect(server.count('POST /auth/refresh')).toBe(1);
    expect(server.count('POST /auth/signout')).toBe(2); // 401 TRY_REFRESH_TOKEN, then the retry
    expect((await server.engine.getSession(sid))?.revokedReason).toBe('signout');
    expect(storage.tokens).toBeNull();
    expect(events('signedOut')).toEqual([{ reason: 'signOut' }]);
  });

  it('sign-out whose refresh the server refuses (session already revoked) is reported as the sign-out asked for', async () => {
    await signIn();
    await server.engine.revokeSession(String((await client.getClaims())?.sid), 'admin');
    await sleep(EXPIRY_MS);
    await client.signOut();
    expect(server.count('POST /auth/refresh')).toBe(1);
    expect(storage.tokens).toBeNull();
    expect(events('signedOut')).toEqual([{ reason: 'signOut' }]);
    // The same refusal outside a sign-out is what it is: a failed refresh.
    await signIn();
    await server.engine.revokeSession(String((await client.getClaims())?.sid), 'admin');
    await sleep(EXPIRY_MS);
    expect((await client.fetch(`${server.origin}/api/me`)).status).toBe(401);
    expect(events('signedOut')).toEqual([{ reason: 'signOut' }, { reason: 'refreshFailed' }]);
  });

  it('a theft the server reports during sign-out is reported as theft, not as the sign-out', async () => {
    const { refreshToken: stolen } = await signIn();
    expect(await client.refresh()).toBe(true);
    expect(await client.refresh()).toBe(true);
    storage.tokens = { ...storage.tokens!, refreshToken: stolen };
    await sleep(EXPIRY_MS);
    await client.signOut(); // its refresh presents the replayed token
    expect(events('theftDetected')).toEqual([{ sessionId: expect.any(String), userId: 'alice', reason: 'rotated-out-replay' }]);
    expect(events('signedOut')).toEqual([{ reason: 'theft' }]);
    expect(storage.tokens).toBeNull();
  });

  it('sign-out without a server clears local state and says so', async () => {
    const offline = inspectableStorage({ accessToken: 'a', refreshToken: 'r' });
    const lonely = createLatchkeyClient({ mode: 'header', apiBase: 'http://127.0.0.1:9', tokenStorage: offline, autoRefresh: false });
    const seen = record(lonely);
    await expect(lonely.signOut()).rejects.toMatchObject({ name: 'LatchkeyClientError', code: 'SIGN_OUT_FAILED' });
    expect(offline.tokens).toBeNull();
    expect(seen('signedOut')).toEqual([{ reason: 'signOut' }]);
    lonely.close();
  });

  it('an unreachable refresh endpoint is an error, not a sign-out', async () => {
    const kept = inspectableStorage({ accessToken: 'a', refreshToken: 'r' });
    const lonely = createLatchkeyClient({ mode: 'header', apiBase: 'http://127.0.0.1:9', tokenStorage: kept, autoRefresh: false });
    await expect(lonely.refresh()).rejects.toMatchObject({ code: 'REFRESH_UNAVAILABLE' });
    expect(kept.tokens).not.toBeNull();
    expect(await lonely.doesSessionExist()).toBe(true); // not refused, so not ended
    lonely.close();
  });

  /**
   * A gateway in front of the real server, as the client's `fetch`: it can answer the refresh route
   * itself (a 502, a web firewall's HTML 403) or cut the connection, as real proxies and networks do.
   * Everything else reaches the latchkey server unchanged.
   */
  function gateway(refresh: (forward: () => Promise<Response>, init: RequestInit | undefined) => Promise<Response>): typeof fetch {
    return (input, init) => {
      const url = input instanceof Request ? input.url : String(input);
      return url.endsWith('/auth/refresh') ? refresh(() => fetch(input, init), init) : fetch(input, init);
    };
  }

  describe('a refresh that gets no verdict on the session', () => {
    const answers: [string, () => Promise<Response>][] = [
      ['a 502 from the gateway', async () => new Response('bad gateway', { status: 502 })],
      ['a 503 with a latchkey-looking body', async () => Response.json({ error: { code: 'STORE_UNAVAILABLE', message: 'm' } }, { status: 503 })],
      ['an HTML 403 from a web firewall', async () => new Response('<html>blocked</html>', { status: 403, headers: { 'content-type': 'text/html' } })],
      ['a 401 that is not latchkey\'s', async () => new Response('no', { status: 401, headers: { 'www-authenticate': 'Basic' } })],
      ['no network', async () => Promise.reject(new TypeError('fetch failed'))],
    ];
    for (const [what, answer] of answers) {
      it(`${what}: the request rejects with REFRESH_UNAVAILABLE; no unauthorised, no signedOut, the tokens stay`, async () => {
        await signIn();
        const kept = storage.tokens;
        const flaky = createLatchkeyClient({ mode: 'header', apiBase: server.origin, tokenStorage: storage, autoRefresh: false, fetch: gateway(answer) });
        const seen = record(flaky);
        await sleep(EXPIRY_MS);
        await expect(flaky.fetch(`${server.origin}/api/me`)).rejects.toMatchObject({ name: 'LatchkeyClientError', code: 'REFRESH_UNAVAILABLE' });
        expect(seen('unauthorised')).toEqual([]);
        expect(seen('signedOut')).toEqual([]);
        expect(storage.tokens).toBe(kept);
        expect(await flaky.doesSessionExist()).toBe(true); // the server never said no
        expect(seen('signedOut')).toEqual([]);
        // The same through axios: the interceptor rejects with the typed error.
        const api = axios.create({ baseURL: server.origin });
        flaky.axiosInterceptor(api);
        await expect(api.get('/api/me')).rejects.toMatchObject({ code: 'REFRESH_UNAVAILABLE' });
        expect(seen('unauthorised')).toEqual([]);
        // The session is intact: the real server still refreshes it.
        expect(await client.refresh()).toBe(true);
        expect((await client.fetch(`${server.origin}/api/me`)).status).toBe(200);
        flaky.close();
      });
    }
  });

  it('a refresh committed by the server whose answer is lost is retried at once, inside the grace window: no theft', async () => {
    await server.close();
    server = await startServer({ refreshGrace: 5 });
    let lost = 0;
    const lossy = createLatchkeyClient({
      mode: 'header',
      apiBase: server.origin,
      tokenStorage: storage,
      autoRefresh: false,
      // The first refresh reaches the server, which rotates; its answer never arrives.
      fetch: gateway(async (forward) => {
        const answer = await forward();
        if (lost++ > 0) return answer;
        await answer.arrayBuffer();
        throw new TypeError('connection reset');
      }),
    });
    const seen = record(lossy);
    const res = await lossy.fetch(`${server.origin}/app/signin`, { method: 'POST' });
    expect(res.status).toBe(200);
    await sleep(EXPIRY_MS);
    const me = await lossy.fetch(`${server.origin}/api/me`);
    expect(me.status).toBe(200);
    expect(server.count('POST /auth/refresh')).toBe(2); // the lost one and its one retry
    expect(seen('theftDetected')).toEqual([]);
    expect(seen('signedOut')).toEqual([]);
    expect(await server.engine.listSessions('alice')).toHaveLength(1);
    // The retry's tokens are the current ones: the next refresh rotates normally.
    expect(await lossy.refresh()).toBe(true);
    expect(await server.engine.listSessions('alice')).toHaveLength(1);
    lossy.close();
  });

  it('fits its refresh timeout into the window the server announces (X-Latchkey-Refresh-Grace)', async () => {
    await server.close();
    server = await startServer({ refreshGrace: 2 });
    let hang = false;
    const slow = createLatchkeyClient({
      mode: 'header',
      apiBase: server.origin,
      tokenStorage: storage,
      autoRefresh: false,
      // When armed, the refresh reaches the server (which rotates) but its answer hangs until the
      // client gives up: the server is slow to answer, or the answer is stuck in a dead connection.
      fetch: gateway(async (forward, init) => {
        const answer = await forward();
        if (!hang) return answer;
        hang = false;
        await answer.arrayBuffer();
        return new Promise((_, reject) => init?.signal?.addEventListener('abort', () => reject(init.signal!.reason)));
      }),
    });
    const seen = record(slow);
    expect((await slow.fetch(`${server.origin}/app/signin`, { method: 'POST' })).status).toBe(200);
    expect(await slow.refresh()).toBe(true); // learns the 2 s window from this answer
    hang = true;
    const started = Date.now();
    // A 7.5 s timeout (the default 30 s window's) would retry after the 2 s window: theft.
    expect(await slow.refresh()).toBe(true);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(seen('theftDetected')).toEqual([]);
    expect(await server.engine.listSessions('alice')).toHaveLength(1);
    slow.close();
  });

  it('learns the window from the sign-in answer: the first refresh after it already fits a short window', async () => {
    await server.close();
    server = await startServer({ refreshGrace: 2 });
    let hang = false;
    const fresh = createLatchkeyClient({
      mode: 'header',
      apiBase: server.origin,
      tokenStorage: storage,
      autoRefresh: false,
      // Armed right after sign-in: the very first refresh reaches the server (which rotates) and its
      // answer hangs until the client gives up.
      fetch: gateway(async (forward, init) => {
        const answer = await forward();
        if (!hang) return answer;
        hang = false;
        await answer.arrayBuffer();
        return new Promise((_, reject) => init?.signal?.addEventListener('abort', () => reject(init.signal!.reason)));
      }),
    });
    const seen = record(fresh);
    const signedIn = await fresh.fetch(`${server.origin}/app/signin`, { method: 'POST' });
    expect(signedIn.headers.get('x-latchkey-refresh-grace')).toBe('2');
    hang = true;
    const started = Date.now();
    // No refresh has announced the window yet; assuming the default 30 s would time out after 7.5 s
    // and retry long past the 2 s window: a theft alarm on the first refresh of the page.
    expect(await fresh.refresh()).toBe(true);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(server.count('POST /auth/refresh')).toBe(2); // the hung attempt and its one retry
    expect(seen('theftDetected')).toEqual([]);
    expect(await server.engine.listSessions('alice')).toHaveLength(1);
    fresh.close();
  });

  it('axios interceptor installed twice: unauthorised fires once per failed request', async () => {
    await signIn();
    const api = axios.create({ baseURL: server.origin });
    client.axiosInterceptor(api);
    client.axiosInterceptor(api);
    // A session ended on the server: the refresh is refused, one event, one refresh.
    await server.engine.revokeSession(String((await client.getClaims())?.sid), 'admin');
    await expect(api.get('/api/me')).rejects.toMatchObject({ response: { status: 401 } });
    expect(events('unauthorised')).toHaveLength(1);
    expect(events('signedOut')).toEqual([{ reason: 'refreshFailed' }]);
    expect(server.count('POST /auth/refresh')).toBe(1);
  });

  it('axios interceptor installed twice: a refresh and a retry whose answer is still 401 is one event', async () => {
    await signIn();
    const api = axios.create({ baseURL: server.origin });
    client.axiosInterceptor(api);
    client.axiosInterceptor(api);
    await sleep(EXPIRY_MS);
    // The app's own header (not a token of this client's) is kept: the refresh succeeds, the retry is refused.
    await expect(api.get('/api/me', { headers: { Authorization: 'Bearer e30.e30.e30' } })).rejects.toMatchObject({ response: { status: 401 } });
    expect(events('unauthorised')).toHaveLength(1);
  });

  it('an Authorization header the app set itself with the old token is replaced after the refresh', async () => {
    await signIn();
    const old = storage.tokens!.accessToken;
    await sleep(EXPIRY_MS);
    const me = await client.fetch(`${server.origin}/api/me`, { headers: { Authorization: `Bearer ${old}` } });
    expect(me.status).toBe(200);
    expect(server.count('POST /auth/refresh')).toBe(1);
    expect(server.count('GET /api/me')).toBe(2);

    const api = axios.create({ baseURL: server.origin });
    client.axiosInterceptor(api);
    const current = storage.tokens!.accessToken;
    expect(current).not.toBe(old);
    await sleep(EXPIRY_MS);
    const res = await api.get('/api/me', { headers: { Authorization: `Bearer ${current}` } });
    expect(res.data).toEqual({ userId: 'alice' });
    expect(server.count('POST /auth/refresh')).toBe(2);
    expect(events('unauthorised')).toEqual([]);
  });

  it('a sign-out that throws does not leave "signing out" set: a later ending is reported as what it is', async () => {
    let failClear = true;
    const fragile = {
      tokens: null as StoredTokens | null,
      get: () => fragile.tokens,
      set: (t: StoredTokens) => void (fragile.tokens = t),
      clear() {
        if (failClear) {
          failClear = false;
          throw new Error('keychain unavailable');
        }
        fragile.tokens = null;
      },
    };
    const app = createLatchkeyClient({ mode: 'header', apiBase: server.origin, tokenStorage: fragile, autoRefresh: false });
    const seen = record(app);
    expect((await app.fetch(`${server.origin}/app/signin`, { method: 'POST' })).status).toBe(200);
    await expect(app.signOut()).rejects.toThrow('keychain unavailable');
    expect((await app.fetch(`${server.origin}/app/signin`, { method: 'POST' })).status).toBe(200);
    await server.engine.revokeSession(String((await app.getClaims())?.sid), 'admin');
    await sleep(EXPIRY_MS);
    expect((await app.fetch(`${server.origin}/api/me`)).status).toBe(401);
    // (The failed sign-out reported no ending: its storage still holds the tokens.)
    expect(seen('signedOut')).toEqual([{ reason: 'refreshFailed' }]);
    app.close();
  });

  it('a claim update adopts the new access token from X-Latchkey-Access-Token and emits claimsUpdated', async () => {
    const first = await signIn();
    const res = await client.fetch(`${server.origin}/api/rename`, { method: 'POST', body: JSON.stringify({ name: 'Bob' }) });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-latchkey-access-token')).toEqual(expect.any(String));
    expect(storage.tokens?.accessToken).toBe(res.headers.get('x-latchkey-access-token'));
    expect(storage.tokens?.accessToken).not.toBe(first.accessToken);
    expect(storage.tokens?.refreshToken).toBe(first.refreshToken); // not rotated by an update
    expect(events('claimsUpdated')).toEqual([{ claims: expect.objectContaining({ sub: 'alice', name: 'Bob' }) }]);
    expect(await client.getClaims()).toMatchObject({ name: 'Bob' });
    expect(events('refreshed')).toEqual([]);
    expect((await client.fetch(`${server.origin}/api/me`)).status).toBe(200);
    expect(server.count('POST /auth/refresh')).toBe(0);
  });

  it('axios: a claim update adopts the new access token too', async () => {
    const first = await signIn();
    const api = axios.create({ baseURL: server.origin });
    client.axiosInterceptor(api);
    await api.post('/api/rename', { name: 'Carol' });
    expect(storage.tokens?.accessToken).not.toBe(first.accessToken);
    expect(storage.tokens?.refreshToken).toBe(first.refreshToken);
    expect(events('claimsUpdated')).toEqual([{ claims: expect.objectContaining({ name: 'Carol' }) }]);
    expect((await api.get('/api/me')).data).toEqual({ userId: 'alice' });
  });

  it('never sends the token to another origin', async () => {
    await signIn();
    let seen: Record<string, unknown> = {};
    const other: Server = createServer((req, res) => {
      seen = req.headers;
      res.end('{}');
    });
    await new Promise<void>((r) => other.listen(0, '127.0.0.1', r));
    try {
      const { port } = other.address() as { port: number };
      await client.fetch(`http://127.0.0.1:${port}/x`, { method: 'POST' });
      expect(seen).not.toHaveProperty('authorization');
      expect(seen).not.toHaveProperty('x-latchkey-mode');
      expect(seen).not.toHaveProperty('x-latchkey-csrf');
      // axios treats a protocol-relative URL as absolute, even with a baseURL: so must the interceptor.
      // (Node's axios cannot send to a scheme-less URL; the adapter records what a browser would send.)
      let sent: { url?: string; headers: Record<string, unknown> } | undefined;
      const api = axios.create({
        baseURL: `${server.origin}/api`,
        adapter: async (config) => {
          sent = { url: axios.getUri(config), headers: { ...config.headers } };
          return { data: {}, status: 200, statusText: 'OK', headers: {}, config };
        },
      });
      const eject = client.axiosInterceptor(api);
      await api.post(`//127.0.0.1:${port}/steal`, {});
      eject();
      expect(sent?.url).toBe(`//127.0.0.1:${port}/steal`);
      expect(Object.keys(sent!.headers).map((h) => h.toLowerCase())).not.toContain('authorization');
    } finally {
      await new Promise<void>((r) => other.close(() => r()));
    }
  });
});

describe('memoryTokenStorage', () => {
  it('copies what it is given', async () => {
    const initial = { accessToken: 'a', refreshToken: 'r' };
    const storage = memoryTokenStorage(initial);
    initial.accessToken = 'changed';
    expect(await storage.get()).toEqual({ accessToken: 'a', refreshToken: 'r' });
    await storage.clear();
    expect(await storage.get()).toBeNull();
  });
});
