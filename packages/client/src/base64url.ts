/**
 * base64url → text, for the two things the SDK must read: the front token and the ID token's payload.
 *
 * Why hand-written: the SDK has no runtime dependencies (it ships to every page), and browsers have no
 * base64url decoder except the new `Uint8Array.fromBase64` (not yet everywhere). `atob` decodes the
 * standard alphabet, so this maps the URL-safe alphabet onto it (RFC 4648 §5) and restores padding.
 * The bytes are then read as UTF-8 by percent-decoding them, which works where `TextDecoder` is
 * missing (older React Native) and throws on invalid UTF-8 (callers treat that as "no token").
 * Nothing here verifies anything: the server verifies tokens; the UI only displays claims.
 */
export function base64urlToText(input: string): string {
  const b64 = input.replace(/-/g, '+').replace(/_/g, '/');
  const binary = atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4));
  return decodeURIComponent(binary.replace(/[^]/g, (c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`));
}

/**
 * bytes → base64url without padding (RFC 4648 §5), for the DPoP proofs the SDK signs: the same
 * platform `btoa` and alphabet mapping as the decoder above, in the other direction.
 */
export function bytesToBase64url(bytes: Uint8Array): string {
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}
