/**
 * Makes a new signing key record: a fresh key pair for one algorithm, its public JWK, the private
 * key sealed for storage, and an RFC 7638 thumbprint as `kid` (stable, and carries no meaning an
 * attacker could play with).
 */
import { calculateJwkThumbprint, exportJWK, exportPKCS8, generateKeyPair } from 'jose';
import type { SigningKeyRecord } from '../stores/types.js';
import type { SigningAlgorithm } from '../types.js';
import { encryptPrivateKey } from './encryption.js';

export async function generateSigningKey(
  alg: SigningAlgorithm,
  generation: number,
  createdAt: number,
  activatesAt: number,
  encryptionKey: Uint8Array,
): Promise<SigningKeyRecord> {
  const { publicKey, privateKey } = await generateKeyPair(alg, {
    extractable: true,
    ...(alg === 'EdDSA' ? { crv: 'Ed25519' } : {}),
    ...(alg === 'RS256' ? { modulusLength: 2048 } : {}),
  });
  const jwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(jwk, 'sha256');
  const publicJwk = { ...jwk, kid, alg, use: 'sig' };
  return {
    kid,
    alg,
    generation,
    publicJwk,
    privateKeyEncrypted: encryptPrivateKey(encryptionKey, kid, await exportPKCS8(privateKey)),
    createdAt,
    activatesAt,
  };
}
