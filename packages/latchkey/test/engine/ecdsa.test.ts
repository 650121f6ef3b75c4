/**
 * ES256 malleability: the low-s rule (tokens/ecdsa.ts). The curve order constant is checked against
 * node:crypto itself: the twin (r, n - s) of a real signature verifies only if n is the real order.
 */
import { generateKeyPairSync, sign, verify } from 'node:crypto';
import { decodeProtectedHeader } from 'jose';
import { describe, expect, it } from 'vitest';
import { UnauthorisedError } from 'latchkey';
import { memoryStore } from 'latchkey/stores/memory';
import { compactJwsHasHighS, isHighS, LOW_S_HEADER, lowSCompactJws, P256_ORDER, toLowS } from 'latchkey/tokens/ecdsa';
import { sOf, twin, twinToken } from '../helpers/ecdsa.js';
import { ISSUER, signWithStoreKey, testEngine } from '../helpers/engine.js';

const HALF = P256_ORDER >> 1n;

describe('low-s normalisation of P-256 signatures', () => {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const message = Buffer.from('latchkey');

  it('the twin verifies with node:crypto (so the order constant is right), and toLowS keeps it valid', () => {
    let sawHigh = false;
    let sawLow = false;
    for (let i = 0; i < 24; i++) {
      const sig = sign('sha256', message, { key: privateKey, dsaEncoding: 'ieee-p1363' });
      const other = twin(sig);
      expect(verify('sha256', message, { key: publicKey, dsaEncoding: 'ieee-p1363' }, other)).toBe(true);
      expect(isHighS(sig)).not.toBe(isHighS(other));
      if (isHighS(sig)) sawHigh = true;
      else sawLow = true;
      const low = toLowS(sig);
      expect(sOf(low) <= HALF).toBe(true);
      expect(verify('sha256', message, { key: publicKey, dsaEncoding: 'ieee-p1363' }, low)).toBe(true);
      expect(toLowS(low)).toEqual(low);
      expect(Buffer.from(toLowS(other))).toEqual(Buffer.from(low));
    }
    // 24 signatures: both halves seen, with probability 1 - 2^-23.
    expect([sawHigh, sawLow]).toEqual([true, true]);
  });

  it('the boundary: s = n/2 is low, s = n/2 + 1 is high; other lengths are not P-256 signatures', () => {
    const withS = (s: bigint) => {
      const sig = new Uint8Array(64).fill(1);
      sig.set(Buffer.from(s.toString(16).padStart(64, '0'), 'hex'), 32);
      return sig;
    };
    expect(isHighS(withS(HALF))).toBe(false);
    expect(isHighS(withS(HALF + 1n))).toBe(true);
    expect(sOf(toLowS(withS(HALF + 1n)))).toBe(HALF);
    expect(isHighS(new Uint8Array(63).fill(255))).toBe(false);
    expect(isHighS(new Uint8Array(256).fill(255))).toBe(false);
  });

  it('lowSCompactJws rewrites only the signature segment', () => {
    const token = 'aGVhZGVy.cGF5bG9hZA.' + Buffer.from(new Uint8Array(64).fill(255)).toString('base64url');
    const low = lowSCompactJws(token);
    expect(low.startsWith('aGVhZGVy.cGF5bG9hZA.')).toBe(true);
    expect(compactJwsHasHighS(token)).toBe(true);
    expect(compactJwsHasHighS(low)).toBe(false);
    expect(lowSCompactJws(low)).toBe(low);
  });
});

describe('ES256 tokens', () => {
  it('are issued marked and low-s; the high-s twin of a marked token is refused', async () => {
    const { lk } = await testEngine({ signingAlgorithm: 'ES256' });
    for (let i = 0; i < 16; i++) {
      const { accessToken, idToken } = await lk.createSession({ userId: `u${i}` });
      for (const token of [accessToken, idToken]) {
        expect(decodeProtectedHeader(token)[LOW_S_HEADER]).toBe(true);
        expect(compactJwsHasHighS(token)).toBe(false);
      }
      await expect(lk.verifyAccessToken(accessToken)).resolves.toBeTruthy();
      const err = await lk.verifyAccessToken(twinToken(accessToken)).then(() => null, (e: unknown) => e);
      expect(err).toBeInstanceOf(UnauthorisedError);
      expect((err as UnauthorisedError).reason).toBe('bad_signature');
    }
    await lk.close();
  });

  it('an unmarked token (minted before the rule) is still accepted with either s until it expires', async () => {
    const store = memoryStore();
    const { lk, clock } = await testEngine({ store, signingAlgorithm: 'ES256' });
    const { session } = await lk.createSession({ userId: 'u' });
    const now = Math.floor(clock.now() / 1000);
    const claims = { iss: ISSUER, aud: 'latchkey', sub: 'u', sid: session.id, jti: 'j', iat: now, exp: now + 900, auth_time: now };
    const legacy = await signWithStoreKey(store, claims);
    expect(decodeProtectedHeader(legacy)[LOW_S_HEADER]).toBeUndefined();
    const high = compactJwsHasHighS(legacy) ? legacy : twinToken(legacy);
    await expect(lk.verifyAccessToken(high)).resolves.toMatchObject({ userId: 'u' });
    await expect(lk.verifyAccessToken(twinToken(high))).resolves.toMatchObject({ userId: 'u' });
    // The mark cannot be added to an old token's signature: the header is signed. A marked token
    // signed high (what a forger with the key could make) is refused like any other high s.
    const marked = await signWithStoreKey(store, { ...claims, jti: 'k' }, { [LOW_S_HEADER]: true });
    const markedHigh = compactJwsHasHighS(marked) ? marked : twinToken(marked);
    await expect(lk.verifyAccessToken(markedHigh)).rejects.toMatchObject({ code: 'UNAUTHORISED', reason: 'bad_signature' });
    await expect(lk.verifyAccessToken(twinToken(markedHigh))).resolves.toMatchObject({ userId: 'u' });
    // And it expires like any token.
    clock.advance(901 + 60);
    await expect(lk.verifyAccessToken(high)).rejects.toMatchObject({ code: 'TRY_REFRESH_TOKEN' });
    await lk.close();
  });
});
