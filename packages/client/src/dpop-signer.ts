/**
 * The slot through which header mode signs DPoP proofs (RFC 9449). Only the interface lives in the
 * core: the implementation is the separate entry `@latchkey/client/dpop`, so apps without DPoP do not
 * ship it (see the README for what it costs).
 */
export interface DpopSigner {
  /**
   * The `DPoP` header for one request. `key`: the id of the session's key; `undefined` when there is
   * no bound session yet, which signs with the key a session issued now would be bound to. With
   * `accessToken`, the proof carries its hash (`ath`).
   */
  proof(method: string, url: string, key: string | undefined, accessToken?: string): Promise<string>;
  /** The id of the key the keyless proofs used; from now on the new session's (kept in the key store). */
  claim(): Promise<string>;
  /** Forgets a session's key (the session ended). */
  forget(key: string): Promise<void>;
  /** Takes a `DPoP-Nonce` the server sent; true when it is new, so that a refused request is worth one retry. */
  nonce(value: string | null): boolean;
}
