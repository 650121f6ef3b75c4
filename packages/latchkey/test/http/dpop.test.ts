/**
 * DPoP in the HTTP layer (header mode): sign-in with a `DPoP` header binds the session, requests carry
 * `Authorization: DPoP <token>` and a proof, refresh needs a proof of the same key, refusals carry
 * `WWW-Authenticate: DPoP error="invalid_dpop_proof"`, and nonces travel in `DPoP-Nonce`. Proofs come
 * from the registry's `dpop` package.
 */
import { generateKeyPair, generateProof, type KeyPair } from 'dpop';
import { afterEach, describe, expect, test } from 'vitest';
import { createLatchkey, type Latchkey, type LatchkeyOptions } from 'latchkey';
import { createLatchkeyHttp, HeaderList, normaliseRequest, type HttpRequest, type LatchkeyHttp } from 'latchkey/http';
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
});
