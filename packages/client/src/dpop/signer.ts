/**
 * DPoP proofs (RFC 9449 §4.2) signed with WebCrypto: ES256 keys generated non-extractable, one per
 * session, kept in a {@link DpopKeyStore} (IndexedDB in browsers).
 *
 * Key life: requests made without a session are signed with a fresh key held in memory; when a
 * response issues a DPoP-bound session, that key becomes the session's (`claim`: stored, and its id
 * kept with the tokens) and the next session-less request gets a new one. When the session ends
 * (sign-out, refused refresh, theft), the client `forget`s the key. So every sign-in after a sign-out
 * binds a new key, and a copied key id is worthless: the key is only a handle in this origin's storage.
 */
import { bytesToBase64url } from '../base64url.js';
import type { DpopSigner } from '../dpop-signer.js';
import { LatchkeyClientError } from '../errors.js';
import { indexedDbKeyStore, memoryKeyStore, type DpopKeyStore } from './key-store.js';

export interface DpopOptions {
  /**
   * Where key pairs are kept. Default: IndexedDB (`indexedDbKeyStore()`) where it exists, so that a
   * reload keeps the session's key and tabs sharing tokens share it; memory elsewhere (Node.js).
   * React Native: a store over the platform keystore, holding WebCrypto-compatible key pairs.
   */
  keyStore?: DpopKeyStore | undefined;
}

const ALG = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const SIGN = { name: 'ECDSA', hash: 'SHA-256' } as const;
const text = (value: unknown): Uint8Array<ArrayBuffer> =>
  new TextEncoder().encode(typeof value === 'string' ? value : JSON.stringify(value));

export function createDpop(options: DpopOptions = {}): DpopSigner {
  const store = options.keyStore ?? (typeof indexedDB === 'undefined' ? memoryKeyStore() : indexedDbKeyStore());
  const subtle = globalThis.crypto.subtle;
  /** Loaded keys with their public JWK, by id (the pending, session-less key under ''). */
  const loaded = new Map<string, Promise<{ keys: CryptoKeyPair; jwk: JsonWebKey } | undefined>>();
  let pending: string | undefined;
  let nonce: string | undefined;

  const withJwk = async (keys: CryptoKeyPair | undefined) => {
    if (!keys) return undefined;
    const { kty, crv, x, y } = await subtle.exportKey('jwk', keys.publicKey); // the public half only
    return { keys, jwk: { crv, kty, x, y } };
  };
  const load = (id: string) => {
    let entry = loaded.get(id);
    if (!entry) loaded.set(id, (entry = store.get(id).then(withJwk)));
    return entry;
  };
  const fresh = (): string => {
    pending = crypto.randomUUID();
    // Non-extractable: the private key can sign, but no script can export it.
    loaded.set(pending, subtle.generateKey(ALG, false, ['sign', 'verify']).then(withJwk));
    return pending;
  };

  return {
    async proof(method, url, key, accessToken) {
      const id = key ?? pending ?? fresh();
      const entry = await load(id);
      // The session's key is gone (signed out in another tab sharing it, or site data wiped): no
      // other key can stand in for it, so the request fails with a typed error rather than a 401.
      if (!entry) throw new LatchkeyClientError('DPOP_KEY_MISSING', 'the DPoP key of this session is gone');
      const target = new URL(url, globalThis.location?.href);
      const payload = {
        jti: crypto.randomUUID(),
        htm: method.toUpperCase(),
        htu: `${target.origin}${target.pathname}`, // without query and fragment (§4.2)
        iat: Math.floor(Date.now() / 1000),
        ...(accessToken && { ath: bytesToBase64url(new Uint8Array(await subtle.digest('SHA-256', text(accessToken)))) }),
        ...(nonce && { nonce }),
      };
      const input = `${bytesToBase64url(text({ typ: 'dpop+jwt', alg: 'ES256', jwk: entry.jwk }))}.${bytesToBase64url(text(payload))}`;
      // WebCrypto's ECDSA signature is r || s, exactly JWS's ES256 form (RFC 7518 §3.4).
      const signature = await subtle.sign(SIGN, entry.keys.privateKey, text(input));
      return `${input}.${bytesToBase64url(new Uint8Array(signature))}`;
    },
    async claim() {
      const id = pending ?? fresh();
      pending = undefined;
      const entry = await load(id);
      await store.set(id, entry!.keys);
      return id;
    },
    async forget(key) {
      loaded.delete(key);
      await store.delete(key);
    },
    nonce(value) {
      if (!value || value === nonce) return false;
      nonce = value;
      return true;
    },
  };
}
