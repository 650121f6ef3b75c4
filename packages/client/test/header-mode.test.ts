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
  for (const name of ['refreshed', 'signedOut', 'unauthorised', 'theftDetected', 'cookieBlocked'] as const) {
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
    expect(events('theftDetected')).toEqual([{ sessionId: expect.any(String), userId: 'alice' }]);
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
