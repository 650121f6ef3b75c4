/**
 * Access-token verification against the attacks of RFC 8725 (JWT BCP) and the rules of RFC 9068.
 * Every refusal must be a typed error with a stable code; nothing may be accepted that latchkey's
 * own key set did not sign as an access token for this issuer and audience.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { base64url, exportJWK, exportSPKI, generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TryRefreshError, UnauthorisedError, type Latchkey } from 'latchkey';
import { memoryStore } from 'latchkey/stores/memory';
import { ISSUER, signWithStoreKey, testEngine, type FakeClock } from '../helpers/engine.js';

const enc = (value: unknown) => base64url.encode(JSON.stringify(value));

async function expectUnauthorised(promise: Promise<unknown>, reason?: string) {
  const err = await promise.then(
    () => {
      throw new Error('expected the token to be refused');
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(UnauthorisedError);
  expect((err as UnauthorisedError).code).toBe('UNAUTHORISED');
  if (reason) expect((err as UnauthorisedError).reason).toBe(reason);
}

describe.each(['EdDSA', 'ES256', 'RS256'] as const)('verify with %s keys', (alg) => {
  let lk: Latchkey;
  let clock: FakeClock;
  const store = memoryStore();
  let good: string;
  let claims: { sub: string; sid: string };
  let kid: string;

  beforeAll(async () => {
    ({ lk, clock } = await testEngine({ store, signingAlgorithm: alg }));
    const issued = await lk.createSession({ userId: 'user-1', accessClaims: { role: 'reader' } });
    good = issued.accessToken;
    claims = { sub: 'user-1', sid: issued.session.id };
    kid = lk.jwks().keys[0]!.kid!;
  });

  const base = () => {
    const now = Math.floor(clock.now() / 1000);
    return { iss: ISSUER, aud: 'latchkey', ...claims, jti: 'j1', iat: now, exp: now + 600, auth_time: now };
  };

  it('accepts its own token and reports its claims', async () => {
    const v = await lk.verifyAccessToken(good);
    expect(v.userId).toBe('user-1');
    expect(v.claims.role).toBe('reader');
    expect(v.claims.iss).toBe(ISSUER);
    expect(v.claims.aud).toBe('latchkey');
  });

  it('refuses alg "none" in any letter case', async () => {
    for (const none of ['none', 'None', 'NONE', 'nOnE']) {
      const token = `${enc({ alg: none, typ: 'at+jwt', kid })}.${enc(base())}.`;
      await expectUnauthorised(lk.verifyAccessToken(token), 'malformed');
      // With a junk signature segment it still fails: the key pins the algorithm.
      await expectUnauthorised(lk.verifyAccessToken(`${token}AAAA`), 'wrong_algorithm');
    }
  });

  it('refuses HS256 signed with the public key as the HMAC secret', async () => {
    const jwk = lk.jwks().keys[0]!;
    const { importJWK } = await import('jose');
    const spki = await exportSPKI((await importJWK(jwk, alg)) as CryptoKey);
    for (const secret of [spki, JSON.stringify(jwk)]) {
      const token = await new SignJWT(base())
        .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt', kid })
        .sign(new TextEncoder().encode(secret));
      await expectUnauthorised(lk.verifyAccessToken(token), 'wrong_algorithm');
    }
  });

  it('refuses unknown kids, including path and SQL characters, and a missing kid', async () => {
    const forged = await signWithStoreKey(store, base());
    const [, payload, sig] = forged.split('.');
    for (const bad of ['nope', '../../../../etc/passwd', "' OR 1=1 --", 'a"; DROP TABLE latchkey_sessions; --', '']) {
      await expectUnauthorised(lk.verifyAccessToken(`${enc({ alg, typ: 'at+jwt', kid: bad })}.${payload}.${sig}`), 'unknown_key');
    }
    await expectUnauthorised(lk.verifyAccessToken(`${enc({ alg, typ: 'at+jwt' })}.${payload}.${sig}`), 'unknown_key');
    // The store was not damaged by the SQL-looking kid.
    expect((await lk.verifyAccessToken(good)).userId).toBe('user-1');
  });

  it('ignores embedded jwk, jku, x5u and x5c headers and never fetches them', async () => {
    let hits = 0;
    const server: Server = createServer((_req, res) => {
      hits++;
      res.end('{}');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`;
    try {
      const attacker = await generateKeyPair(alg, { extractable: true });
      const attackerJwk = await exportJWK(attacker.publicKey);
      for (const extra of [{ jwk: attackerJwk }, { jku: url }, { x5u: url }, { x5c: ['MIIB'] }, { jwk: attackerJwk, jku: url }]) {
        // Attacker's own key, with our kid and without: refused either way.
        for (const kidHeader of [{ kid }, {}]) {
          const token = await new SignJWT(base()).setProtectedHeader({ alg, typ: 'at+jwt', ...kidHeader, ...extra }).sign(attacker.privateKey);
          await expectUnauthorised(lk.verifyAccessToken(token));
        }
      }
      expect(hits).toBe(0);
    } finally {
      server.close();
    }
  });

  it('refuses a stripped, truncated or altered signature', async () => {
    const [h, p, s] = good.split('.') as [string, string, string];
    await expectUnauthorised(lk.verifyAccessToken(`${h}.${p}.`), 'malformed');
    await expectUnauthorised(lk.verifyAccessToken(`${h}.${p}`), 'malformed');
    await expectUnauthorised(lk.verifyAccessToken(`${h}.${p}.${s.slice(0, -4)}`));
    const flipped = s[0] === 'A' ? `B${s.slice(1)}` : `A${s.slice(1)}`;
    // The same signature bytes spelled with other unused trailing bits: still refused (no malleability).
    const last = s.at(-1)!;
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const sibling = alphabet[alphabet.indexOf(last) ^ 1]!;
    expect(Buffer.from(`${s.slice(0, -1)}${sibling}`, 'base64url').equals(Buffer.from(s, 'base64url'))).toBe(true);
    await expectUnauthorised(lk.verifyAccessToken(`${h}.${p}.${s.slice(0, -1)}${sibling}`), 'malformed');
    await expectUnauthorised(lk.verifyAccessToken(`${h}.${p}.${flipped}`), 'bad_signature');
    // A payload changed under the original signature, while the original sits in the verified-token
    // cache (which is found by signature): the cache must not answer for it.
    await lk.verifyAccessToken(good);
    const tampered = enc({ ...JSON.parse(Buffer.from(p, 'base64url').toString()), sub: 'admin' });
    await expectUnauthorised(lk.verifyAccessToken(`${h}.${tampered}.${s}`), 'bad_signature');
  });

  it('refuses extra or missing segments, JWE and JSON serialisations, bad characters and bad base64url', async () => {
    const [h, p, s] = good.split('.') as [string, string, string];
    const cases = [
      `${h}.${p}.${s}.${s}`,
      `${h}.${p}.${s}.${s}.${s}`, // the JWE compact shape
      `${h}..${s}`,
      `.${p}.${s}`,
      `${h}.${p}.${s}=`,
      `${h}.${p}.${s.replace(/[-_]/g, '+')}+/`,
      ` ${good}`,
      `${good}\n`,
      JSON.stringify({ payload: p, signatures: [{ protected: h, signature: s }] }),
      'a.b.c',
      'x'.repeat(10),
    ];
    for (const token of cases) await expectUnauthorised(lk.verifyAccessToken(token));
    for (const notAString of [undefined, null, 42, {}, [good]]) await expectUnauthorised(lk.verifyAccessToken(notAString), 'missing');
  });

  it('caps the size before decoding', async () => {
    const huge = `${good.split('.')[0]}.${'A'.repeat(9000)}.${good.split('.')[2]}`;
    await expectUnauthorised(lk.verifyAccessToken(huge), 'too_large');
  });

  it('separates "expired, try refresh" from "invalid", with the clock tolerance', async () => {
    const token = await signWithStoreKey(store, { ...base(), exp: Math.floor(clock.now() / 1000) - 10 });
    // 10 s past exp is inside the 30 s tolerance.
    await expect(lk.verifyAccessToken(token)).resolves.toBeTruthy();
    const old = await signWithStoreKey(store, { ...base(), exp: Math.floor(clock.now() / 1000) - 31 });
    await expect(lk.verifyAccessToken(old)).rejects.toBeInstanceOf(TryRefreshError);
    await expect(lk.verifyAccessToken(old)).rejects.toMatchObject({ code: 'TRY_REFRESH_TOKEN' });
    // An expired token with a bad signature is invalid, not "try refresh".
    const [h, p] = old.split('.');
    await expectUnauthorised(lk.verifyAccessToken(`${h}.${p}.${good.split('.')[2]}`), 'bad_signature');
  });

  it('refuses tokens from the future (iat, nbf)', async () => {
    const now = Math.floor(clock.now() / 1000);
    await expectUnauthorised(lk.verifyAccessToken(await signWithStoreKey(store, { ...base(), iat: now + 120 })), 'not_yet_valid');
    await expectUnauthorised(lk.verifyAccessToken(await signWithStoreKey(store, { ...base(), nbf: now + 120 })), 'not_yet_valid');
    await expect(lk.verifyAccessToken(await signWithStoreKey(store, { ...base(), iat: now + 20 }))).resolves.toBeTruthy();
  });

  it('refuses a token that claims to live longer than the TTL (forged with a leaked key to outlive rotation)', async () => {
    const now = Math.floor(clock.now() / 1000);
    await expectUnauthorised(lk.verifyAccessToken(await signWithStoreKey(store, { ...base(), iat: now, exp: now + 901 })), 'claim_invalid');
    await expect(lk.verifyAccessToken(await signWithStoreKey(store, { ...base(), iat: now, exp: now + 900 }))).resolves.toBeTruthy();
  });

  it('checks aud and iss always', async () => {
    for (const wrong of [{ aud: 'other' }, { aud: ['other', 'x'] }, { iss: 'https://evil.example' }, { iss: `${ISSUER}/` }]) {
      await expectUnauthorised(lk.verifyAccessToken(await signWithStoreKey(store, { ...base(), ...wrong })), 'claim_invalid');
    }
    // An aud array that includes ours is fine (RFC 7519 §4.1.3).
    await expect(lk.verifyAccessToken(await signWithStoreKey(store, { ...base(), aud: ['x', 'latchkey'] }))).resolves.toBeTruthy();
  });

  it('requires every RFC 9068 claim', async () => {
    for (const missing of ['iss', 'aud', 'sub', 'sid', 'jti', 'iat', 'exp', 'auth_time']) {
      const payload: Record<string, unknown> = base();
      delete payload[missing];
      await expectUnauthorised(lk.verifyAccessToken(await signWithStoreKey(store, payload)), 'claim_invalid');
    }
    await expectUnauthorised(lk.verifyAccessToken(await signWithStoreKey(store, { ...base(), sub: 42 as unknown as string })), 'claim_invalid');
  });

  it('compares typ as a media type and refuses other types', async () => {
    for (const typ of ['at+jwt', 'AT+JWT', 'application/at+jwt', 'Application/AT+JWT']) {
      await expect(lk.verifyAccessToken(await signWithStoreKey(store, base(), { typ }))).resolves.toBeTruthy();
    }
    for (const typ of ['JWT', 'jwt', 'id+jwt', 'at+jwt2', 'application/jwt']) {
      await expectUnauthorised(lk.verifyAccessToken(await signWithStoreKey(store, base(), { typ })), 'wrong_type');
    }
    const noTyp = await signWithStoreKey(store, base(), { typ: undefined });
    await expectUnauthorised(lk.verifyAccessToken(noTyp), 'wrong_type');
  });

  it('never accepts an ID token as an access token', async () => {
    const { idToken } = await lk.createSession({ userId: 'user-2' });
    await expectUnauthorised(lk.verifyAccessToken(idToken), 'wrong_type');
  });

  it('refuses a token signed by another installation (another secret, same issuer)', async () => {
    const { lk: other } = await testEngine({ signingAlgorithm: alg, secret: 'a-different-secret-of-at-least-32-bytes!!' });
    const { accessToken } = await other.createSession({ userId: 'user-1' });
    await expectUnauthorised(lk.verifyAccessToken(accessToken), 'unknown_key');
  });

  afterAll(() => lk.close());
});

describe('ECDSA signature with r = s = 0 (CVE-2022-21449 "psychic signatures")', () => {
  it('is refused', async () => {
    const store = memoryStore();
    const { lk, clock } = await testEngine({ store, signingAlgorithm: 'ES256' });
    const { session } = await lk.createSession({ userId: 'u' });
    const now = Math.floor(clock.now() / 1000);
    const token = await signWithStoreKey(store, { iss: ISSUER, aud: 'latchkey', sub: 'u', sid: session.id, jti: 'j', iat: now, exp: now + 60, auth_time: now });
    const [h, p] = token.split('.');
    for (const sig of [new Uint8Array(64), new Uint8Array(0), new Uint8Array(8)]) {
      await expectUnauthorised(lk.verifyAccessToken(`${h}.${p}.${base64url.encode(sig) || 'AA'}`));
    }
    await lk.close();
  });
});
