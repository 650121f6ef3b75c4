/**
 * Service contract v1.1, DPoP: a `dpop` object on create, refresh and verify, `tokenType`, `cnf` on
 * verify, `INVALID_DPOP_PROOF` and `USE_DPOP_NONCE` with `nonce`. The client's proofs come from
 * oauth4webapi (a widely used OAuth client nobody here wrote): its DPoP handle signs the proof and we
 * capture the `DPoP` header it would have sent to the backend; the backend then forwards it to the
 * service as the contract says. Across two service instances sharing Redis, a proof is accepted once.
 */
import * as oauth from 'oauth4webapi';
import { calculateThumbprint, generateKeyPair as dpopKeyPair, generateProof } from 'dpop';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REDIS_URL, redisAvailable, uniqueName } from '../helpers/postgres.js';
import { startTestService, type TestService } from './helpers.js';

const BACKEND = 'https://backend.example';
const redisUp = await redisAvailable();

/** A DPoP client: oauth4webapi signs the proof for a request; we take the header it would send. */
async function oauthClient() {
  const keyPair = await oauth.generateKeyPair('ES256');
  const handle = oauth.DPoP({}, keyPair);
  /** The proof for `method url`, bound to `accessToken` when given (`ath`). */
  async function proof(method: string, url: string, accessToken?: string): Promise<string> {
    let captured: string | null = null;
    const customFetch = async (_url: string, init: { headers: Record<string, string> }) => {
      captured = new Headers(init.headers).get('dpop');
      return new Response('{}', { status: 200, headers: { 'content-type': 'application/json' } });
    };
    await oauth.protectedResourceRequest(accessToken ?? 'unbound', method, new URL(url), new Headers(), null, {
      DPoP: handle,
      [oauth.customFetch]: customFetch,
      [oauth.allowInsecureRequests]: true,
    });
    expect(captured).toBeTruthy();
    // oauth4webapi always binds a resource request to its token (ath); for a token request the
    // contract's proofs carry none, so sign-in and refresh use its key through the dpop package below.
    return captured!;
  }
  return { keyPair, proof };
}

describe('service: DPoP (contract v1.1)', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService();
  });
  afterAll(async () => {
    await svc.close();
  });

  it('create with a proof: tokenType DPoP and cnf.jkt; verify needs the proof (oauth4webapi) and answers cnf; without dpop, Bearer', async () => {
    const client = await oauthClient();
    const createProof = await generateProof(client.keyPair, `${BACKEND}/login`, 'POST');
    const created = await svc.call('POST', '/v1/sessions', {
      body: { userId: 'alice', dpop: { proof: createProof, method: 'POST', url: `${BACKEND}/login` } },
    });
    expect(created.status).toBe(201);
    expect(created.json.tokenType).toBe('DPoP');
    const jkt = (decodeJwt(created.json.accessToken).cnf as { jkt: string }).jkt;
    expect(jkt).toBe(await calculateThumbprint(client.keyPair.publicKey));

    const at = created.json.accessToken as string;
    const proof = await client.proof('GET', `${BACKEND}/orders?x=1`, at);
    const ok = await svc.call('POST', '/v1/sessions/verify', {
      body: { accessToken: at, dpop: { proof, method: 'GET', url: `${BACKEND}/orders` } },
    });
    expect(ok.status).toBe(200);
    expect(ok.json.cnf).toEqual({ jkt });
    // The same proof again: a replay.
    const replay = await svc.call('POST', '/v1/sessions/verify', {
      body: { accessToken: at, dpop: { proof, method: 'GET', url: `${BACKEND}/orders` } },
    });
    expect(replay.status).toBe(401);
    expect(replay.json.error.code).toBe('INVALID_DPOP_PROOF');
    expect(replay.headers.get('www-authenticate')).toBe('DPoP error="invalid_dpop_proof"');
    // No proof at all, and a proof of another client's key.
    expect((await svc.call('POST', '/v1/sessions/verify', { body: { accessToken: at } })).json.error.code).toBe('INVALID_DPOP_PROOF');
    const other = await oauthClient();
    const foreign = await other.proof('GET', `${BACKEND}/orders`, at);
    expect(
      (
        await svc.call('POST', '/v1/sessions/verify', {
          body: { accessToken: at, dpop: { proof: foreign, method: 'GET', url: `${BACKEND}/orders` } },
        })
      ).json.error.code,
    ).toBe('INVALID_DPOP_PROOF');
    // Wrong method and URL.
    const wrongHtm = await client.proof('POST', `${BACKEND}/orders`, at);
    expect(
      (
        await svc.call('POST', '/v1/sessions/verify', {
          body: { accessToken: at, dpop: { proof: wrongHtm, method: 'GET', url: `${BACKEND}/orders` } },
        })
      ).status,
    ).toBe(401);

    const plain = await svc.call('POST', '/v1/sessions', { body: { userId: 'bob' } });
    expect(plain.json.tokenType).toBe('Bearer');
    const plainVerified = await svc.call('POST', '/v1/sessions/verify', { body: { accessToken: plain.json.accessToken } });
    expect(plainVerified.status).toBe(200);
    expect(plainVerified.json.cnf).toBeUndefined();
  });

  it('refresh of a bound session: another key gets INVALID_DPOP_PROOF, nothing rotated, not revoked; the right key rotates and keeps cnf.jkt', async () => {
    const keys = await dpopKeyPair('ES256');
    const url = `${BACKEND}/auth/refresh`;
    const created = await svc.call('POST', '/v1/sessions', {
      body: { userId: 'carol', dpop: { proof: await generateProof(keys, url, 'POST'), method: 'POST', url } },
    });
    const thief = await dpopKeyPair('ES256');
    const stolen = await svc.call('POST', '/v1/sessions/refresh', {
      body: { refreshToken: created.json.refreshToken, dpop: { proof: await generateProof(thief, url, 'POST'), method: 'POST', url } },
    });
    expect(stolen.status).toBe(401);
    expect(stolen.json.error.code).toBe('INVALID_DPOP_PROOF');
    const bare = await svc.call('POST', '/v1/sessions/refresh', { body: { refreshToken: created.json.refreshToken } });
    expect(bare.json.error.code).toBe('INVALID_DPOP_PROOF');
    const session = await svc.call('GET', `/v1/sessions/${created.json.session.id}`);
    expect(session.json.revokedAt).toBeNull();
    const refreshed = await svc.call('POST', '/v1/sessions/refresh', {
      body: { refreshToken: created.json.refreshToken, dpop: { proof: await generateProof(keys, url, 'POST'), method: 'POST', url } },
    });
    expect(refreshed.status).toBe(200);
    expect(refreshed.json.tokenType).toBe('DPoP');
    expect(decodeJwt(refreshed.json.accessToken).cnf).toEqual(decodeJwt(created.json.accessToken).cnf);
  });

  it('refuses a malformed dpop object with 400 naming the field, and an HMAC or alg:none proof with INVALID_DPOP_PROOF', async () => {
    const bad = await svc.call('POST', '/v1/sessions', {
      body: { userId: 'dave', dpop: { proof: 'x', method: 'POST', url: 'not a url' } },
    });
    expect(bad.status).toBe(400);
    expect(bad.json.error.field).toBe('dpop.url');
    const none =
      ['{"alg":"none","typ":"dpop+jwt"}', '{"jti":"1","htm":"POST","htu":"https://backend.example/login","iat":1}']
        .map((p) => Buffer.from(p).toString('base64url'))
        .join('.') + '.AAAA';
    const refused = await svc.call('POST', '/v1/sessions', {
      body: { userId: 'dave', dpop: { proof: none, method: 'POST', url: `${BACKEND}/login` } },
    });
    expect(refused.status).toBe(401);
    expect(refused.json.error.code).toBe('INVALID_DPOP_PROOF');
  });
});

describe('service: DPoP nonces', () => {
  it('USE_DPOP_NONCE with nonce beside code and in DPoP-Nonce; oauth4webapi recognises it; the retry with the nonce passes', async () => {
    const svc = await startTestService({ engineOptions: { dpop: { requireNonce: true } } });
    try {
      const keys = await dpopKeyPair('ES256');
      const url = `${BACKEND}/login`;
      const first = await svc.call('POST', '/v1/sessions', {
        body: { userId: 'erin', dpop: { proof: await generateProof(keys, url, 'POST'), method: 'POST', url } },
      });
      expect(first.status).toBe(401);
      expect(first.json.error.code).toBe('USE_DPOP_NONCE');
      expect(first.json.error.nonce).toBe(first.headers.get('dpop-nonce'));
      expect(first.headers.get('www-authenticate')).toBe('DPoP error="use_dpop_nonce"');
      const second = await svc.call('POST', '/v1/sessions', {
        body: { userId: 'erin', dpop: { proof: await generateProof(keys, url, 'POST', first.json.error.nonce), method: 'POST', url } },
      });
      expect(second.status).toBe(201);
      // A backend relaying the challenge to an oauth4webapi client: the client sees use_dpop_nonce.
      const challenge = new Response('', {
        status: 401,
        headers: { 'www-authenticate': first.headers.get('www-authenticate')!, 'dpop-nonce': first.json.error.nonce },
      });
      const err = await oauth
        .processUserInfoResponse({ issuer: BACKEND }, { client_id: 'spa' }, oauth.skipSubjectCheck, challenge)
        .catch((e: unknown) => e);
      expect(oauth.isDPoPNonceError(err)).toBe(true);
    } finally {
      await svc.close();
    }
  });
});

describe.skipIf(!redisUp)('service: DPoP replay across two instances sharing Redis', () => {
  it('a proof accepted by one instance is refused by the other', async () => {
    const env = {
      LATCHKEY_REDIS_URL: REDIS_URL,
      LATCHKEY_REDIS_CHANNEL: uniqueName('dpop'),
      LATCHKEY_ISSUER: 'https://auth.fleet.example',
    };
    const a = await startTestService({ env });
    const b = await startTestService({
      env: { ...env, LATCHKEY_SECRET_FILE: `${a.dir}/secret.key`, LATCHKEY_STORE: `sqlite:${a.dir}/latchkey.db` },
    });
    try {
      const keys = await dpopKeyPair('ES256');
      const login = `${BACKEND}/login`;
      const created = await a.call('POST', '/v1/sessions', {
        body: { userId: 'fay', dpop: { proof: await generateProof(keys, login, 'POST'), method: 'POST', url: login } },
      });
      const at = created.json.accessToken as string;
      const dpop = { proof: await generateProof(keys, `${BACKEND}/me`, 'GET', undefined, at), method: 'GET', url: `${BACKEND}/me` };
      expect((await a.call('POST', '/v1/sessions/verify', { body: { accessToken: at, dpop } })).status).toBe(200);
      const replay = await b.call('POST', '/v1/sessions/verify', { body: { accessToken: at, dpop } });
      expect(replay.status).toBe(401);
      expect(replay.json.error.code).toBe('INVALID_DPOP_PROOF');
    } finally {
      await b.close();
      await a.close();
    }
  });
});
