/**
 * The DPoP key cache (dpop/key-cache.ts): a key is imported once per identical proof header, but every
 * proof's signature is still checked, a header that differs in any byte is checked afresh, only keys of
 * proofs that passed are kept, and the cache stays within its bound (least recently used goes first).
 */
import { base64url, exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose';
import { describe, expect, it } from 'vitest';
import { InvalidDpopProofError } from 'latchkey';
import { ProofKeyCache } from '../../src/dpop/key-cache.js';
import { verifyDpopProof } from '../../src/dpop/proof.js';

const URL_ = 'https://api.example/v1/orders';

async function keyPair(): Promise<{ privateKey: CryptoKey; jwk: JWK }> {
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  return { privateKey, jwk: await exportJWK(publicKey) };
}

function proof(privateKey: CryptoKey, jwk: JWK, jti = crypto.randomUUID()): Promise<string> {
  return new SignJWT({ jti, htm: 'GET', htu: URL_, iat: Math.floor(Date.now() / 1000) })
    .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk })
    .sign(privateKey);
}

const verify = (text: string, keyCache: ProofKeyCache) =>
  verifyDpopProof({ proof: text, method: 'GET', url: URL_ }, { now: Date.now(), windowSeconds: 60, keyCache });

async function reason(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(InvalidDpopProofError);
  return (error as InvalidDpopProofError).reason;
}

describe('DPoP proof key cache', () => {
  it('keeps the key of a proof that passed, with its thumbprint, and still checks every later signature', async () => {
    const cache = new ProofKeyCache();
    const { privateKey, jwk } = await keyPair();
    const first = await verify(await proof(privateKey, jwk), cache);
    expect(cache.size).toBe(1);
    const second = await verify(await proof(privateKey, jwk), cache);
    expect(second.jkt).toBe(first.jkt);
    expect(cache.size).toBe(1);
    // Same header (a cache hit), signature by another key: refused.
    const other = await keyPair();
    expect(await reason(verify(await proof(other.privateKey, jwk), cache))).toBe('signature');
    // A signature byte flipped: refused too.
    const good = await proof(privateKey, jwk);
    const [h, p, sig] = good.split('.');
    const bytes = base64url.decode(sig!);
    bytes[5]! ^= 1;
    expect(await reason(verify(`${h}.${p}.${base64url.encode(bytes)}`, cache))).toBe('signature');
  });

  it('refuses a header that differs from a cached one (use: enc) although its thumbprint is the same, and caches nothing for it', async () => {
    const cache = new ProofKeyCache();
    const { privateKey, jwk } = await keyPair();
    await verify(await proof(privateKey, jwk), cache);
    expect(await reason(verify(await proof(privateKey, { ...jwk, use: 'enc' }), cache))).toBe('key');
    expect(cache.size).toBe(1);
  });

  it('never keeps the key of a refused proof', async () => {
    const cache = new ProofKeyCache();
    const { privateKey, jwk } = await keyPair();
    const stale = await new SignJWT({ jti: 'x', htm: 'GET', htu: URL_, iat: Math.floor(Date.now() / 1000) - 3600 })
      .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk })
      .sign(privateKey);
    expect(await reason(verify(stale, cache))).toBe('iat');
    expect(cache.size).toBe(0);
  });

  it('is bounded: the least recently used key goes first', async () => {
    const cache = new ProofKeyCache(2);
    const keys = await Promise.all([keyPair(), keyPair(), keyPair()]);
    const ids = keys.map(({ jwk }) => ProofKeyCache.id('ES256', jwk));
    await verify(await proof(keys[0]!.privateKey, keys[0]!.jwk), cache);
    await verify(await proof(keys[1]!.privateKey, keys[1]!.jwk), cache);
    expect(cache.get(ids[0]!)).toBeDefined(); // key 0 is now the most recently used
    await verify(await proof(keys[2]!.privateKey, keys[2]!.jwk), cache);
    expect(cache.size).toBe(2);
    expect(cache.get(ids[1]!)).toBeUndefined();
    expect(cache.get(ids[0]!)).toBeDefined();
    expect(cache.get(ids[2]!)).toBeDefined();
    expect(() => new ProofKeyCache(-1)).toThrow(TypeError);
  });
});
