/** The other spelling of an ES256 signature, (r, n - s), for malleability tests. */
import { P256_ORDER } from 'latchkey/tokens/ecdsa';

export const sOf = (sig: Uint8Array): bigint => BigInt(`0x${Buffer.from(sig.subarray(32)).toString('hex')}`);

/** (r, n - s): verifies wherever (r, s) does. */
export function twin(sig: Uint8Array): Uint8Array {
  const out = new Uint8Array(64);
  out.set(sig.subarray(0, 32));
  out.set(Buffer.from((P256_ORDER - sOf(sig)).toString(16).padStart(64, '0'), 'hex'), 32);
  return out;
}

/** The token with its signature replaced by the twin. */
export function twinToken(token: string): string {
  const dot = token.lastIndexOf('.');
  return `${token.slice(0, dot + 1)}${Buffer.from(twin(Buffer.from(token.slice(dot + 1), 'base64url'))).toString('base64url')}`;
}
