/**
 * DPoP (RFC 9449) in the engine, with proofs made by a client nobody here wrote: the registry's `dpop`
 * package. Tokens bound through its proofs verify; every §4.3 failure is refused with
 * INVALID_DPOP_PROOF; a bound refresh token without its key rotates nothing and revokes nothing.
 */
import { calculateThumbprint, generateKeyPair, generateProof } from 'dpop';
import { base64url, decodeJwt, exportJWK, generateKeyPair as joseKeyPair, SignJWT, type JWTPayload } from 'jose';
import { describe, expect, it } from 'vitest';
import { InvalidDpopProofError, UnauthorisedError, UseDpopNonceError, type LatchkeyEvents } from 'latchkey';
import { memoryStore } from 'latchkey/stores/memory';
import { sqliteStore } from 'latchkey/stores/sqlite';
import { FakeClock, testEngine } from '../helpers/engine.js';

const TOKEN_URL = 'https://app.example/auth/session';
const API_URL = 'https://api.example/v1/orders';

const stores = {
  memory: () => memoryStore(),
  sqlite: () => sqliteStore({ path: ':memory:' }),
};

async function dpopFailure(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(InvalidDpopProofError);
  return (error as InvalidDpopProofError).reason;
}

/** A proof built by hand with jose, to make one that is wrong in exactly one way. */
async function handProof(options: {
  header?: Record<string, unknown>;
  payload?: JWTPayload;
  alg?: string;
  keyAlg?: 'ES256' | 'HS256';
}): Promise<string> {
  const { privateKey, publicKey } = await joseKeyPair('ES256', { extractable: true });
  const jwk = await exportJWK(publicKey);
  const payload = { jti: crypto.randomUUID(), htm: 'GET', htu: API_URL, iat: Math.floor(Date.now() / 1000), ...options.payload };
  const header = { alg: 'ES256', typ: 'dpop+jwt', jwk, ...options.header };
  return new SignJWT(payload).setProtectedHeader(header as never).sign(privateKey);
}

/** An unsigned (`alg: none`) or HMAC proof: header and payload encoded with jose's base64url. */
function unsignedProof(header: Record<string, unknown>, payload: Record<string, unknown>, signature = ''): string {
  const enc = (v: unknown) => base64url.encode(JSON.stringify(v));
  return `${enc(header)}.${enc(payload)}.${signature}`;
}

describe.each(Object.entries(stores))('DPoP binding on the %s store', (_name, makeStore) => {
  async function setup(options: Parameters<typeof testEngine>[0] = {}) {
    // The dpop package stamps proofs with the real time, so the engine runs on it too.
    const { lk, clock } = await testEngine({ store: makeStore(), clock: new FakeClock(Date.now()), ...options });
    const events: Array<[keyof LatchkeyEvents, unknown]> = [];
    for (const name of ['session.refreshed', 'session.revoked', 'session.theft_detected', 'session.binding_mismatch'] as const) {
      lk.on(name, (e) => events.push([name, e]));
    }
    const keys = await generateKeyPair('ES256');
    const issued = await lk.createSession({
      userId: 'alice',
      dpop: { proof: await generateProof(keys, TOKEN_URL, 'POST'), method: 'POST', url: TOKEN_URL },
    });
    return { lk, clock, events, keys, issued };
  }

  it('binds the session: cnf.jkt is the RFC 7638 thumbprint of the proof key, and each refresh keeps it', async () => {
    const { lk, keys, issued } = await setup();
    const jkt = await calculateThumbprint(keys.publicKey);
    expect(decodeJwt(issued.accessToken).cnf).toEqual({ jkt });
    const proof = await generateProof(keys, TOKEN_URL, 'POST');
    const refreshed = await lk.refresh(issued.refreshToken, { dpop: { proof, method: 'POST', url: TOKEN_URL } });
    expect(decodeJwt(refreshed.accessToken).cnf).toEqual({ jkt });
  });

  it('a bound access token verifies with a fresh proof of its key, the query and fragment of htu aside', async () => {
    const { lk, keys, issued } = await setup();
    const proof = await generateProof(keys, API_URL, 'GET', undefined, issued.accessToken);
    const verified = await lk.verifyAccessToken(issued.accessToken, {
      scheme: 'DPoP',
      dpop: { proof, method: 'GET', url: `${API_URL}?page=2#top` },
    });
    expect(verified.sessionId).toBe(issued.session.id);
    expect(verified.claims.cnf).toEqual({ jkt: await calculateThumbprint(keys.publicKey) });
  });

  it('refuses a bound token as Bearer, without a proof, and with a proof of another key', async () => {
    const { lk, keys, issued } = await setup();
    const good = await generateProof(keys, API_URL, 'GET', undefined, issued.accessToken);
    expect(
      await dpopFailure(lk.verifyAccessToken(issued.accessToken, { scheme: 'Bearer', dpop: { proof: good, method: 'GET', url: API_URL } })),
    ).toBe('bearer_scheme');
    expect(await dpopFailure(lk.verifyAccessToken(issued.accessToken))).toBe('missing');
    const other = await generateKeyPair('ES256');
    const foreign = await generateProof(other, API_URL, 'GET', undefined, issued.accessToken);
    expect(await dpopFailure(lk.verifyAccessToken(issued.accessToken, { dpop: { proof: foreign, method: 'GET', url: API_URL } }))).toBe(
      'key_mismatch',
    );
  });

  it('refuses every RFC 9449 §4.3 failure of the registry client’s proofs: replay, htm, htu, iat, ath', async () => {
    const { lk, clock, keys, issued } = await setup();
    const at = issued.accessToken;
    const verify = (proof: string, method = 'GET', url = API_URL) => lk.verifyAccessToken(at, { dpop: { proof, method, url } });
    const once = await generateProof(keys, API_URL, 'GET', undefined, at);
    await verify(once);
    expect(await dpopFailure(verify(once))).toBe('replay');
    expect(await dpopFailure(verify(await generateProof(keys, API_URL, 'POST', undefined, at)))).toBe('htm');
    expect(await dpopFailure(verify(await generateProof(keys, 'https://api.example/v1/other', 'GET', undefined, at)))).toBe('htu');
    expect(await dpopFailure(verify(await generateProof(keys, 'https://evil.example/v1/orders', 'GET', undefined, at)))).toBe('htu');
    expect(await dpopFailure(verify(await generateProof(keys, API_URL, 'GET')))).toBe('ath');
    expect(await dpopFailure(verify(await generateProof(keys, API_URL, 'GET', undefined, 'another-token')))).toBe('ath');
    // The client stamps iat from the real clock, which has moved on since setup() started the engine's
    // clock (by seconds on a loaded machine), so the engine's clock is set from each proof's own iat.
    const iatMs = (proof: string) => decodeJwt(proof).iat! * 1000;
    // Old iat: the clock is past the 30 s tolerance.
    const stale = await generateProof(keys, API_URL, 'GET', undefined, at);
    clock.ms = iatMs(stale) + 31_000;
    expect(await dpopFailure(verify(stale))).toBe('iat');
    // And an iat from the future.
    const early = await generateProof(keys, API_URL, 'GET', undefined, at);
    clock.ms = iatMs(early) - 31_000;
    expect(await dpopFailure(verify(early))).toBe('iat');
  });

  it('refuses proofs that are not DPoP proofs of a public key: alg none, HMAC, private jwk, wrong typ, bad signature, two proofs', async () => {
    const { lk, keys, issued } = await setup();
    const at = issued.accessToken;
    const ath = base64url.encode(new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(at))));
    const verify = (proof: string) => lk.verifyAccessToken(at, { dpop: { proof, method: 'GET', url: API_URL } });
    const claims = { jti: 'x1', htm: 'GET', htu: API_URL, iat: Math.floor(Date.now() / 1000), ath };
    const jwk = await exportJWK(keys.publicKey);
    expect(await dpopFailure(verify(unsignedProof({ alg: 'none', typ: 'dpop+jwt', jwk }, claims)))).toBe('malformed');
    expect(await dpopFailure(verify(unsignedProof({ alg: 'none', typ: 'dpop+jwt', jwk }, claims, 'AAAA')))).toBe('algorithm');
    expect(await dpopFailure(verify(unsignedProof({ alg: 'NONE', typ: 'dpop+jwt', jwk }, claims, 'AAAA')))).toBe('algorithm');
    const secret = new TextEncoder().encode('a-shared-secret-of-32-bytes-long!!');
    const hmac = await new SignJWT(claims)
      .setProtectedHeader({ alg: 'HS256', typ: 'dpop+jwt', jwk: { kty: 'oct', k: base64url.encode(secret) } } as never)
      .sign(secret);
    expect(await dpopFailure(verify(hmac))).toBe('algorithm');
    const { privateKey } = await joseKeyPair('ES256', { extractable: true });
    const privateJwk = await exportJWK(privateKey);
    expect(await dpopFailure(verify(await handProof({ header: { jwk: privateJwk }, payload: { ath } })))).toBe('private_key');
    expect(await dpopFailure(verify(await handProof({ header: { typ: 'JWT' }, payload: { ath } })))).toBe('wrong_type');
    expect(await dpopFailure(verify(await handProof({ header: { jwk: undefined }, payload: { ath } })))).toBe('key');
    // Signed by one key, naming another in jwk.
    const forged = await handProof({ header: { jwk }, payload: { ath } });
    expect(await dpopFailure(verify(forged))).toBe('signature');
    const good = await generateProof(keys, API_URL, 'GET', undefined, at);
    expect(await dpopFailure(verify(`${good},${good}`))).toBe('malformed');
    expect(await dpopFailure(verify(''))).toBe('missing');
  });

  it('refresh of a bound session: the right token with another key, or none, rotates nothing, revokes nothing, and is reported', async () => {
    const { lk, events, keys, issued } = await setup();
    const thief = await generateKeyPair('ES256');
    expect(
      await dpopFailure(
        lk.refresh(issued.refreshToken, { dpop: { proof: await generateProof(thief, TOKEN_URL, 'POST'), method: 'POST', url: TOKEN_URL } }),
      ),
    ).toBe('key_mismatch');
    expect(await dpopFailure(lk.refresh(issued.refreshToken))).toBe('missing');
    expect(events.filter(([n]) => n === 'session.binding_mismatch').map(([, e]) => (e as { reason: string }).reason)).toEqual([
      'key_mismatch',
      'missing',
    ]);
    expect(events.some(([n]) => n === 'session.revoked' || n === 'session.theft_detected')).toBe(false);
    // The victim is untouched: the same token still rotates with the device key.
    const refreshed = await lk.refresh(issued.refreshToken, {
      dpop: { proof: await generateProof(keys, TOKEN_URL, 'POST'), method: 'POST', url: TOKEN_URL },
    });
    expect(refreshed.session.id).toBe(issued.session.id);
    // A thief replaying the old token cannot set off the theft alarm that would sign the victim out.
    expect(
      await dpopFailure(
        lk.refresh(issued.refreshToken, { dpop: { proof: await generateProof(thief, TOKEN_URL, 'POST'), method: 'POST', url: TOKEN_URL } }),
      ),
    ).toBe('key_mismatch');
    expect((await lk.getSession(issued.session.id))?.revokedAt).toBeNull();
  });

  it('a lost refresh answer retried with the same key long after the grace window is benign: same successor, no theft', async () => {
    const { lk, clock, events, keys, issued } = await setup();
    const proof = () => generateProof(keys, TOKEN_URL, 'POST').then((p) => ({ proof: p, method: 'POST', url: TOKEN_URL }));
    const lost = await lk.refresh(issued.refreshToken, { dpop: await proof() });
    clock.advance(3600);
    // The dpop package stamps iat with the real time; move the engine back onto it for the proof.
    clock.ms = Date.now();
    const retried = await lk.refresh(issued.refreshToken, { dpop: await proof() });
    expect(retried.refreshToken).toBe(lost.refreshToken);
    expect(events.some(([n]) => n === 'session.theft_detected')).toBe(false);
  });

  it('an unbound session is unchanged: no cnf, Bearer works, DPoP scheme with an unbound token is refused', async () => {
    const { lk } = await setup();
    const plain = await lk.createSession({ userId: 'bob' });
    expect(decodeJwt(plain.accessToken).cnf).toBeUndefined();
    await lk.verifyAccessToken(plain.accessToken, { scheme: 'Bearer' });
    expect(await dpopFailure(lk.verifyAccessToken(plain.accessToken, { scheme: 'DPoP' }))).toBe('key_mismatch');
    await lk.refresh(plain.refreshToken);
  });

  it('a bad proof at sign-in creates no session', async () => {
    const { lk } = await setup();
    const before = await lk.listSessions('carol');
    const keys = await generateKeyPair('ES256');
    expect(
      await dpopFailure(
        lk.createSession({ userId: 'carol', dpop: { proof: await generateProof(keys, TOKEN_URL, 'GET'), method: 'POST', url: TOKEN_URL } }),
      ),
    ).toBe('htm');
    expect(await lk.listSessions('carol')).toEqual(before);
  });

  it('app claims cannot set cnf', async () => {
    const { lk } = await setup();
    await expect(lk.createSession({ userId: 'mallory', accessClaims: { cnf: { jkt: 'mine' } } })).rejects.toMatchObject({
      code: 'INVALID_CLAIMS',
    });
  });
});

describe('DPoP nonces and algorithms', () => {
  it('with requireNonce: a proof without the nonce gets USE_DPOP_NONCE and the nonce; with it, it passes', async () => {
    const { lk } = await testEngine({ clock: new FakeClock(Date.now()), dpop: { requireNonce: true } });
    const keys = await generateKeyPair('ES256');
    const error = await lk
      .createSession({ userId: 'alice', dpop: { proof: await generateProof(keys, TOKEN_URL, 'POST'), method: 'POST', url: TOKEN_URL } })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UseDpopNonceError);
    const nonce = (error as UseDpopNonceError).nonce;
    expect(nonce).toBe(lk.dpopNonce());
    const issued = await lk.createSession({
      userId: 'alice',
      dpop: { proof: await generateProof(keys, TOKEN_URL, 'POST', nonce), method: 'POST', url: TOKEN_URL },
    });
    expect(decodeJwt(issued.accessToken).cnf).toBeDefined();
    await expect(
      lk.createSession({
        userId: 'alice',
        dpop: { proof: await generateProof(keys, TOKEN_URL, 'POST', 'not-a-nonce'), method: 'POST', url: TOKEN_URL },
      }),
    ).rejects.toBeInstanceOf(UseDpopNonceError);
  });

  it('accepts EdDSA proofs under both names, and refuses an algorithm left off the allow-list', async () => {
    const { lk } = await testEngine({ clock: new FakeClock(Date.now()), dpop: { algorithms: ['ES256', 'EdDSA', 'Ed25519'] } });
    for (const alg of ['EdDSA', 'Ed25519'] as const) {
      const { privateKey, publicKey } = await joseKeyPair(alg, { extractable: true });
      const proof = await new SignJWT({ jti: crypto.randomUUID(), htm: 'POST', htu: TOKEN_URL, iat: Math.floor(Date.now() / 1000) })
        .setProtectedHeader({ alg, typ: 'dpop+jwt', jwk: await exportJWK(publicKey) })
        .sign(privateKey);
      const issued = await lk.createSession({ userId: 'ed', dpop: { proof, method: 'POST', url: TOKEN_URL } });
      expect(decodeJwt(issued.accessToken).cnf).toBeDefined();
    }
    const rsa = await generateKeyPair('PS256');
    expect(
      await dpopFailure(
        lk.createSession({ userId: 'ps', dpop: { proof: await generateProof(rsa, TOKEN_URL, 'POST'), method: 'POST', url: TOKEN_URL } }),
      ),
    ).toBe('algorithm');
  });

  it('a token for a session revoked meanwhile is refused before any proof is looked at', async () => {
    const { lk } = await testEngine({ clock: new FakeClock(Date.now()) });
    const keys = await generateKeyPair('ES256');
    const issued = await lk.createSession({
      userId: 'alice',
      dpop: { proof: await generateProof(keys, TOKEN_URL, 'POST'), method: 'POST', url: TOKEN_URL },
    });
    await lk.revokeSession(issued.session.id);
    await expect(lk.verifyAccessToken(issued.accessToken)).rejects.toBeInstanceOf(UnauthorisedError);
  });
});
