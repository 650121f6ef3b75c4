/**
 * Where header mode keeps its tokens. Cookie mode never uses this: there the browser holds the tokens
 * in HttpOnly cookies, out of reach of page scripts.
 *
 * Pluggable because the right place depends on the platform: memory (the default: gone on reload,
 * the safest), Keychain/Keystore through expo-secure-store or react-native-keychain in React Native,
 * a 0600 file or the OS keyring for a CLI. Methods may be async so such stores fit directly. Do not
 * back it with localStorage in a browser: use cookie mode there.
 */
export interface StoredTokens {
  accessToken: string;
  refreshToken: string;
  /** The front token of the last issue (ID token, expiry, server time), for claims and scheduling. */
  front?: string | undefined;
  /**
   * With DPoP on (`dpop` option): the id, in the DPoP key store, of the key this session is bound to.
   * Stored with the tokens so that every context sharing these tokens (tabs sharing a storage) signs
   * with the same key, and each session finds its own.
   */
  dpopKey?: string | undefined;
}

export interface TokenStorage {
  get(): StoredTokens | null | Promise<StoredTokens | null>;
  set(tokens: StoredTokens): void | Promise<void>;
  clear(): void | Promise<void>;
}

/** The default: tokens live only in this JS context's memory. */
export function memoryTokenStorage(initial?: StoredTokens): TokenStorage {
  let tokens: StoredTokens | null = initial ? { ...initial } : null;
  return {
    get: () => tokens,
    set: (t) => void (tokens = { ...t }),
    clear: () => void (tokens = null),
  };
}
