/**
 * DPoP (RFC 9449) in the SDK's header mode, from Node against the real server (node:http adapter):
 * the session a sign-in through the SDK creates is bound to the SDK's key, every request and refresh
 * carries a proof the server accepts, a copy of the tokens without the key is refused, nonces are
 * learnt with one resend, the key goes with the session, and the SDK's proofs are refused in every
 * RFC 9449 failure case the interop tests check for the registry's clients. The same in Chromium:
 * browser-dpop.test.ts.
 */
import axios from 'axios';
import { decodeJwt } from 'jose';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { InvalidDpopProofError } from 'latchkey';
import { createLatchkeyClient, type LatchkeyClient, type StoredTokens, type TokenStorage } from '../src/index.js';
import { createDpop, memoryKeyStore, type DpopKeyStore } from '../src/dpop/index.js';
import { startServer, type TestServer, type TestServerOptions } from './helpers/server.js';

function inspectableStorage(): TokenStorage & { tokens: StoredTokens | null } {
  const s = {
    tokens: null as StoredTokens | null,
    get: async () => s.tokens,
    set: async (t: StoredTokens) => void (s.tokens = t),
    clear: async () => void (s.tokens = null),
  };
  return s;
}

/** A key store that shows which ids it holds. */
function countingKeyStore(): DpopKeyStore & { ids: () => string[] } {
  const inner = memoryKeyStore();
  const ids = new Set<string>();
  return {
    get: (id) => inner.get(id),
    set: async (id, keys) => (ids.add(id), inner.set(id, keys)),
    delete: async (id) => (ids.delete(id), inner.delete(id)),
    ids: () => [...ids],
  };
}

let server: TestServer;
let clients: LatchkeyClient[] = [];
afterEach(async () => {
  for (const c of clients) c.close();
  clients = [];
  vi.useRealTimers();
  await server?.close();
});

async function setup(options: TestServerOptions = {}) {
  // A DPoP iat window needs a clock tolerance; 5 s is plenty on one machine.
  server = await startServer({ clockTolerance: 5, ...options });
  const storage = inspectableStorage();
  const keyStore = countingKeyStore();
  const client = createLatchkeyClient({
    mode: 'header',
    apiBase: server.origin,
    tokenStorage: storage,
    autoRefresh: false,
    dpop: createDpop({ keyStore }),
  });
  clients.push(client);
  const signIn = async () => {
    const res = await client.fetch(`${server.origin}/app/signin`, { method: 'POST' });
    expect(res.status).toBe(200);
    return (await res.json()) as { accessToken: string; refreshToken: string; tokenType: string };
  };
  return { storage, keyStore, client, signIn };
}

const jktOf = (accessToken: string): unknown => (decodeJwt(accessToken).cnf as { jkt?: unknown } | undefined)?.jkt;

describe('@latchkey/client DPoP (header mode, Node)', () => {
  it('a sign-in through the SDK binds the session to its key: requests and refresh carry proofs the server accepts; isDeviceBound() is true', async () => {
    const { storage, keyStore, client, signIn } = await setup();
    expect(await client.isDeviceBound()).toBe(false);
    const body = await signIn();
    expect(body.tokenType).toBe('DPoP');
    expect(jktOf(body.accessToken)).toEqual(expect.any(String));
    expect(storage.tokens?.dpopKey).toEqual(keyStore.ids()[0]);
    expect(await client.isDeviceBound()).toBe(true);
    const me = await client.fetch(`${server.origin}/api/me?x=1`);
    expect(me.status).toBe(200);
    const jkt = jktOf(body.accessToken);
    expect(await client.refresh()).toBe(true);
    expect(storage.tokens?.accessToken).not.toBe(body.accessToken);
    expect(jktOf(storage.tokens!.accessToken)).toBe(jkt); // the same key after the refresh
    expect(storage.tokens?.dpopKey).toBe(keyStore.ids()[0]);
    expect((await client.fetch(`${server.origin}/api/echo`, { method: 'POST', body: '{"a":1}' })).status).toBe(200);
    // The axios integration signs too.
    const instance = axios.create({ baseURL: server.origin });
    client.axiosInterceptor(instance);
    expect((await instance.get('/api/me')).data).toEqual({ userId: 'alice' });
  });

  it('stolen tokens without the key: requests and the refresh are refused, and the refresh rotates nothing', async () => {
    const { client, storage, signIn } = await setup();
    await signIn();
    const stolen = { ...storage.tokens! };
    delete stolen.dpopKey;
    const thiefStorage = inspectableStorage();
    thiefStorage.tokens = stolen;
    const thief = createLatchkeyClient({ mode: 'header', apiBase: server.origin, tokenStorage: thiefStorage, autoRefresh: false });
    clients.push(thief);
    expect((await thief.fetch(`${server.origin}/api/me`)).status).toBe(401);
    // The thief with a DPoP signer of its own (another key) fares no better.
    const thiefKeys = memoryKeyStore();
    await thiefKeys.set('k', await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify']));
    const thiefWithKey = createLatchkeyClient({
      mode: 'header',
      apiBase: server.origin,
      tokenStorage: { get: () => ({ ...stolen, dpopKey: 'k' }), set: () => {}, clear: () => {} },
      autoRefresh: false,
      dpop: createDpop({ keyStore: thiefKeys }),
    });
    clients.push(thiefWithKey);
    expect((await thiefWithKey.fetch(`${server.origin}/api/me`)).status).toBe(401);
    expect(await thief.refresh()).toBe(false);
    // The victim's refresh token still works: the thief's refresh rotated nothing and revoked nothing.
    expect(await client.refresh()).toBe(true);
    expect((await client.fetch(`${server.origin}/api/me`)).status).toBe(200);
  });

  it('nonces: the first request without the server nonce is resent once with it (sign-in, API request, refresh)', async () => {
    const { client, storage, signIn } = await setup({ dpop: { requireNonce: true } });
    await signIn();
    expect(server.count('POST /app/signin')).toBe(2);
    expect((await client.fetch(`${server.origin}/api/me`)).status).toBe(200);
    expect(await client.refresh()).toBe(true);
    expect(server.count('POST /auth/refresh')).toBe(1);
    expect(storage.tokens?.dpopKey).toEqual(expect.any(String));
  });

  it('one key per session: sign-out forgets it, and the next sign-in binds a new one', async () => {
    const { client, keyStore, signIn } = await setup();
    const first = await signIn();
    expect(keyStore.ids()).toHaveLength(1);
    await client.signOut();
    expect(keyStore.ids()).toHaveLength(0);
    expect(await client.isDeviceBound()).toBe(false);
    const second = await signIn();
    expect(keyStore.ids()).toHaveLength(1);
    expect(jktOf(second.accessToken)).not.toBe(jktOf(first.accessToken));
  });

  it("the SDK's proofs are refused in every RFC 9449 failure case: replay, wrong htu, wrong htm, old iat, wrong ath, another key", async () => {
    const { storage, keyStore: clientKeys, signIn } = await setup();
    const body = await signIn();
    const at = body.accessToken;
    const session = storage.tokens!.dpopKey!;
    const url = `${server.origin}/api/me`;
    const keyStore = memoryKeyStore();
    const dpop = createDpop({ keyStore });
    // The session's own key, reached the way the client reaches it: its id, in the client's store.
    const own = createDpop({ keyStore: clientKeys });
    const verify = (proof: string, method = 'GET', target = url) =>
      server.engine.verifyAccessToken(at, { scheme: 'DPoP', dpop: { proof, method, url: target } });
    const reason = async (promise: Promise<unknown>) => {
      const error = await promise.then(
        () => null,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(InvalidDpopProofError);
      return (error as InvalidDpopProofError).reason;
    };
    const good = await own.proof('GET', url, session, at);
    await expect(verify(good)).resolves.toMatchObject({ userId: 'alice' });
    expect(await reason(verify(good))).toBe('replay');
    expect(await reason(verify(await own.proof('GET', `${server.origin}/api/other`, session, at)))).toBe('htu');
    expect(await reason(verify(await own.proof('POST', url, session, at)))).toBe('htm');
    expect(await reason(verify(await own.proof('GET', url, session, 'another access token')))).toBe('ath');
    expect(await reason(verify(await own.proof('GET', url, session)))).toBe('ath'); // no ath at all
    expect(await reason(verify(await dpop.proof('GET', url, undefined, at)))).toBe('key_mismatch');
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.now() - 60_000);
    const old = await own.proof('GET', url, session, at);
    vi.useRealTimers();
    expect(await reason(verify(old))).toBe('iat');
  });
});
