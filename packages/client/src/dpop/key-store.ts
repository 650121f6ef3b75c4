/**
 * Where DPoP key pairs live between page loads, by id. A key pair is stored as the `CryptoKeyPair`
 * itself: its private key is non-extractable, so the store holds a handle the browser can sign with,
 * never the key's bytes, and no script (XSS included) can read them out.
 */
export interface DpopKeyStore {
  get(id: string): Promise<CryptoKeyPair | undefined>;
  set(id: string, keys: CryptoKeyPair): Promise<void>;
  delete(id: string): Promise<void>;
}

/** Keys in this JS context's memory only (Node.js, tests, or a page that wants no persistence). */
export function memoryKeyStore(): DpopKeyStore {
  const keys = new Map<string, CryptoKeyPair>();
  return {
    get: async (id) => keys.get(id),
    set: async (id, pair) => void keys.set(id, pair),
    delete: async (id) => void keys.delete(id),
  };
}

/**
 * Keys in IndexedDB (the browser default): structured clone keeps a non-extractable `CryptoKey` as it
 * is, and the database is shared by every tab of the origin, so tabs that share a session's tokens
 * sign with the same key. Why not a wrapper library: the SDK has no runtime dependencies, and this is
 * three single-request transactions on one object store.
 *
 * @param name Database name. Default `'latchkey-dpop'`.
 */
export function indexedDbKeyStore(name = 'latchkey-dpop'): DpopKeyStore {
  const STORE = 'keys';
  const request = <T>(r: IDBRequest<T>): Promise<T> =>
    new Promise((resolve, reject) => {
      r.onsuccess = () => resolve(r.result);
      r.onerror = () => reject(r.error);
    });
  let db: Promise<IDBDatabase> | undefined;
  const open = (): Promise<IDBDatabase> => {
    db ??= (() => {
      const opening = indexedDB.open(name, 1);
      opening.onupgradeneeded = () => opening.result.createObjectStore(STORE);
      return request(opening);
    })();
    return db;
  };
  const run = async <T>(mode: IDBTransactionMode, op: (store: IDBObjectStore) => IDBRequest<T>): Promise<T> => {
    const tx = (await open()).transaction(STORE, mode);
    // A write counts once its transaction committed, not when its request succeeded.
    const committed = new Promise<void>((resolve, reject) => {
      tx.oncomplete = () => resolve();
      tx.onerror = tx.onabort = () => reject(tx.error);
    });
    const result = await request(op(tx.objectStore(STORE)));
    await committed;
    return result;
  };
  return {
    get: async (id) => (await run('readonly', (s) => s.get(id) as IDBRequest<CryptoKeyPair | undefined>)) ?? undefined,
    set: async (id, pair) => void (await run('readwrite', (s) => s.put(pair, id))),
    delete: async (id) => void (await run('readwrite', (s) => s.delete(id))),
  };
}
