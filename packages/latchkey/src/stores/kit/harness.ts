/**
 * How the store conformance kit plugs into a test runner and a store. The kit registers its cases
 * through the four functions every common runner has (vitest, node:test, mocha, jest), and gets a
 * fresh store for every case from the caller.
 */

/**
 * The test runner's registration functions, e.g. `import { describe, it, beforeEach, afterEach } from
 * 'node:test'` (or from 'vitest', or mocha's and jest's globals). Cases are async functions that take
 * no argument.
 */
export interface StoreContractTestApi {
  describe(name: string, fn: () => void): unknown;
  it(name: string, fn: () => Promise<void>): unknown;
  beforeEach(fn: () => Promise<void>): unknown;
  afterEach(fn: () => Promise<void>): unknown;
}

/** The store under test. */
export interface StoreContractTarget<S> {
  /** Shown in the suite's name, e.g. `MySQL`. */
  name: string;
  /**
   * A new store over empty data of its own (a fresh database, schema or table prefix), not yet
   * migrated: the kit calls `migrate()`. Called before every case, and again by the cases that check
   * a store's first migration.
   */
  create(): Promise<S>;
  /** Closes `store` and deletes its data. Called after every case, for every store `create` returned. */
  destroy(store: S): Promise<void>;
  /**
   * Optional: a second store over the same data as `store`, as another instance of a fleet would open
   * it (a second connection pool). With it, the race cases also race across handles, which is where
   * a compare-and-swap that only holds inside one process fails. The kit closes it (`close()`).
   */
  reopen?(store: S): Promise<S>;
}

/** The per-case state every suite of the kit keeps: the store, and the extra handles it opened. */
export interface ContractCase<S> {
  store: S;
  reopen: (() => Promise<S>) | undefined;
  dispose(): Promise<void>;
}

/** Opens a case's store through the target. */
export async function openCase<S>(target: StoreContractTarget<S>): Promise<ContractCase<S>> {
  const store = await target.create();
  const { reopen } = target;
  return {
    store,
    reopen: reopen ? () => reopen.call(target, store) : undefined,
    dispose: () => target.destroy(store),
  };
}

/** Closes an extra handle, when the store type has `close` (ApiKeyStore and ServiceKeyStore need not). */
export async function closeExtra(store: unknown): Promise<void> {
  const close = (store as { close?: unknown }).close;
  if (typeof close === 'function') await (close as () => Promise<void>).call(store);
}
