/**
 * DPoP in the HTTP layer (header mode): sign-in with a `DPoP` header binds the session, requests carry
 * `Authorization: DPoP <token>` and a proof, refresh needs a proof of the same key, refusals carry
 * `WWW-Authenticate: DPoP error="invalid_dpop_proof"`, and nonces travel in `DPoP-Nonce`. Proofs come
 * from the registry's `dpop` package.
 */
import { generateKeyPair, generateProof, type KeyPair } from 'dpop';
import { afterEach, describe, expect, test } from 'vitest';
import { createLatchkey, type Latchkey, type LatchkeyOptions } from 'latchkey';
import { createLatchkeyHttp, decodeFrontToken, HeaderList, normaliseRequest, type HttpRequest, type LatchkeyHttp } from 'latchkey/http';
import { memoryStore } from 'latchkey/stores/memory';

const ORIGIN = 'https://app.example.com';

/** A header-mode request (the SDK sends X-Latchkey-Mode: header). */
function request(method: string, path: string, headers: Record<string, string>): HttpRequest {
  return normaliseRequest({
    method,
    target: path,
    protocol: 'https',
    host: 'app.example.com',
    headers: new Headers({ 'x-latchkey-mode': 'header', ...headers }),
    body: async () => undefined,
  });
}

let engine: Latchkey | undefined;
afterEach(async () => {
  await engine?.close();
  engine = undefined;
});

async function setup(dpop?: LatchkeyOptions['dpop']): Promise<{ http: LatchkeyHttp; keys: KeyPair; body: Record<string, unknown> }> {
  engine = await createLatchkey({ issuer: ORIGIN, secret: 'x'.repeat(32), store: memoryStore(), timers: false, ...(dpop ? { dpop } : {}) });
  const http = createLatchkeyHttp(engine);
  const keys = await generateKeyPair('ES256');
  const sink = new HeaderList();
  let proofHeader = await generateProof(keys, `${ORIGIN}/login`, 'POST');
  if (dpop?.requireNonce) proofHeader = await generateProof(keys, `${ORIGIN}/login`, 'POST', engine.dpopNonce());
  const signIn = await http.signIn(
    request('POST', '/login', { 'x-latchkey-mode': 'header', dpop: proofHeader }),
    { userId: 'alice' },
    sink,
  );
  return { http, keys, body: signIn.body as unknown as Record<string, unknown> };
}

function refreshRequest(body: Record<string, unknown>, proof?: string): Request {
  return new Request(`${ORIGIN}/auth/refresh`, {
    method: 'POST',
    headers: { 'x-latchkey-mode': 'header', 'content-type': 'application/json', ...(proof ? { dpop: proof } : {}) },
    body: JSON.stringify({ refreshToken: body.refreshToken }),
  });
}

describe('DPoP over HTTP (header mode)', () => {
  test('sign-in with a DPoP header answers tokenType DPoP; the token works as DPoP with a proof, and is refused as Bearer with a DPoP challenge', async () => {
    const { http, keys, body } = await setup();
    expect(body.tokenType).toBe('DPoP');
    const at = body.accessToken as string;
    const proof = await generateProof(keys, `${ORIGIN}/api/me`, 'GET', undefined, at);
    const ok = await http.authenticate(request('GET', '/api/me?x=1', { authorization: `DPoP ${at}`, dpop: proof }));
    expect(ok.ok).toBe(true);
    const asBearer = await http.authenticate(
      request('GET', '/api/me', {
        authorization: `Bearer ${at}`,
        dpop: await generateProof(keys, `${ORIGIN}/api/me`, 'GET', undefined, at),
      }),
    );
    expect(asBearer.ok).toBe(false);
    if (asBearer.ok) return;
    expect(asBearer.response.status).toBe(401);
    expect(new Map(asBearer.response.headers).get('www-authenticate')).toBe('DPoP error="invalid_dpop_proof"');
    const noProof = await http.authenticate(request('GET', '/api/me', { authorization: `DPoP ${at}` }));
    expect(noProof.ok).toBe(false);
    // A proof for another path of the same origin.
    const otherPath = await http.authenticate(
      request('GET', '/api/admin', {
        authorization: `DPoP ${at}`,
        dpop: await generateProof(keys, `${ORIGIN}/api/me`, 'GET', undefined, at),
      }),
    );
    expect(otherPath.ok).toBe(false);
  });

  test('refresh: the device key rotates (tokenType DPoP); another key, or none, gets 401 INVALID_DPOP_PROOF and rotates nothing', async () => {
    const { http, keys, body } = await setup();
    const thief = await generateKeyPair('ES256');
    const stolen = (await http.fetch(refreshRequest(body, await generateProof(thief, `${ORIGIN}/auth/refresh`, 'POST'))))!;
    expect(stolen.status).toBe(401);
    expect(((await stolen.json()) as { error: { code: string } }).error.code).toBe('INVALID_DPOP_PROOF');
    expect(stolen.headers.get('www-authenticate')).toBe('DPoP error="invalid_dpop_proof"');
    const bare = (await http.fetch(refreshRequest(body)))!;
    expect(bare.status).toBe(401);
    const ok = (await http.fetch(refreshRequest(body, await generateProof(keys, `${ORIGIN}/auth/refresh`, 'POST'))))!;
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as { tokenType: string }).tokenType).toBe('DPoP');
  });

  test('a sign-in without a DPoP header stays Bearer, and the Bearer token works as before', async () => {
    engine = await createLatchkey({ issuer: ORIGIN, secret: 'x'.repeat(32), store: memoryStore(), timers: false });
    const http = createLatchkeyHttp(engine);
    const signIn = await http.signIn(request('POST', '/login', { 'x-latchkey-mode': 'header' }), { userId: 'bob' }, new HeaderList());
    const body = signIn.body as unknown as { tokenType: string; accessToken: string };
    expect(body.tokenType).toBe('Bearer');
    expect((await http.authenticate(request('GET', '/api/me', { authorization: `Bearer ${body.accessToken}` }))).ok).toBe(true);
    expect((await http.authenticate(request('GET', '/api/me', { authorization: `DPoP ${body.accessToken}` }))).ok).toBe(false);
  });

  test('nonces: token answers carry DPoP-Nonce; a proof without it gets USE_DPOP_NONCE with the nonce in DPoP-Nonce', async () => {
    const { http, keys, body } = await setup({ requireNonce: true });
    const refused = (await http.fetch(refreshRequest(body, await generateProof(keys, `${ORIGIN}/auth/refresh`, 'POST'))))!;
    expect(refused.status).toBe(401);
    const nonce = refused.headers.get('dpop-nonce');
    expect(nonce).toBeTruthy();
    expect(refused.headers.get('www-authenticate')).toBe('DPoP error="use_dpop_nonce"');
    const ok = (await http.fetch(refreshRequest(body, await generateProof(keys, `${ORIGIN}/auth/refresh`, 'POST', nonce!))))!;
    expect(ok.status).toBe(200);
    expect(ok.headers.get('dpop-nonce')).toBe(nonce);
  });

  test('the front token says bound: dpop for a bound session (the SDK isDeviceBound), on sign-in and refresh; a bearer session has no bound', async () => {
    const { http, keys, body } = await setup();
    const signInFront = decodeFrontToken(new Map((await signInHeaders(keys)).entries).get('x-latchkey-front')!);
    expect(signInFront?.bound).toBe('dpop');
    const ok = (await http.fetch(refreshRequest(body, await generateProof(keys, `${ORIGIN}/auth/refresh`, 'POST'))))!;
    expect(decodeFrontToken(ok.headers.get('x-latchkey-front')!)?.bound).toBe('dpop');
    const sink = new HeaderList();
    await http.signIn(request('POST', '/login', {}), { userId: 'bob' }, sink);
    const bearerFront = decodeFrontToken(sink.entries.find(([name]) => name === 'x-latchkey-front')![1]);
    expect(bearerFront).not.toBeNull();
    expect(bearerFront).not.toHaveProperty('bound');
  });

  test('publicOrigin: behind a TLS-terminating proxy the server sees http://internal, and htu is compared with the configured public origin', async () => {
    engine = await createLatchkey({ issuer: ORIGIN, secret: 'x'.repeat(32), store: memoryStore(), timers: false });
    const keys = await generateKeyPair('ES256');
    // What the server behind the proxy sees: plain HTTP to an internal host name.
    const internal = (method: string, path: string, headers: Record<string, string>): HttpRequest =>
      normaliseRequest({
        method,
        target: path,
        protocol: 'http',
        host: 'internal:3000',
        headers: new Headers({ 'x-latchkey-mode': 'header', ...headers }),
        body: async () => undefined,
      });
    // Without the option, a proof for the public URL fails the htu check (the server's view differs).
    const plain = createLatchkeyHttp(engine);
    await expect(
      plain.signIn(
        internal('POST', '/login', { dpop: await generateProof(keys, `${ORIGIN}/login`, 'POST') }),
        { userId: 'alice' },
        new HeaderList(),
      ),
    ).rejects.toMatchObject({ code: 'INVALID_DPOP_PROOF' });

    const proxied = createLatchkeyHttp(engine, { publicOrigin: ORIGIN });
    const signIn = await proxied.signIn(
      internal('POST', '/login', { dpop: await generateProof(keys, `${ORIGIN}/login`, 'POST') }),
      { userId: 'alice' },
      new HeaderList(),
    );
    const body = signIn.body as unknown as { tokenType: string; accessToken: string };
    expect(body.tokenType).toBe('DPoP');
    const at = body.accessToken;
    const publicProof = await generateProof(keys, `${ORIGIN}/api/me`, 'GET', undefined, at);
    expect((await proxied.authenticate(internal('GET', '/api/me', { authorization: `DPoP ${at}`, dpop: publicProof }))).ok).toBe(true);
    // A proof naming the internal URL is refused: clients never address it, so only a replay from inside would.
    const internalProof = await generateProof(keys, 'http://internal:3000/api/me', 'GET', undefined, at);
    expect((await proxied.authenticate(internal('GET', '/api/me', { authorization: `DPoP ${at}`, dpop: internalProof }))).ok).toBe(false);
    expect(() => createLatchkeyHttp(engine!, { publicOrigin: 'https://app.example.com/' })).toThrow(/publicOrigin/);
    expect(() => createLatchkeyHttp(engine!, { publicOrigin: 'app.example.com' })).toThrow(/publicOrigin/);
  });
});

/** The headers of a fresh DPoP sign-in with `keys` on the current engine. */
async function signInHeaders(keys: KeyPair): Promise<HeaderList> {
  const http = createLatchkeyHttp(engine!);
  const sink = new HeaderList();
  await http.signIn(request('POST', '/login', { dpop: await generateProof(keys, `${ORIGIN}/login`, 'POST') }), { userId: 'carol' }, sink);
  return sink;
}
