/**
 * Runs queries against a pg Pool under one deadline per store call, so that no call can hang.
 *
 * A dead server usually fails fast (connection refused), but a hung server or a black-holed network
 * does not: without a deadline a refresh would wait for TCP to give up, minutes later, while
 * requests pile up. Here every store call gets `timeoutMs` in total, covering the wait for a pooled
 * connection and every query of its transaction; when it runs out, the call fails with
 * `StoreUnavailableError` and the connection is destroyed (the server then rolls back whatever the
 * transaction had done, so a timed-out call has written nothing unless its COMMIT had already landed,
 * and a refresh whose COMMIT landed is safe to retry inside the grace window).
 */
import type { Pool, PoolClient, QueryConfig, QueryResultRow } from 'pg';
import { StoreUnavailableError } from '../../errors.js';
import { isUnavailable, translateError } from './errors.js';

export type Params = readonly unknown[];

/** What a transaction body may do: run queries on the one connection that holds the transaction. */
export interface Tx {
  query<R extends QueryResultRow = QueryResultRow>(text: string, params?: Params): Promise<{ rows: R[]; rowCount: number }>;
}

/** pg honours a per-query `query_timeout` (lib/client.js), though @types/pg does not declare it. */
function timed(text: string, values: readonly unknown[], ms: number): QueryConfig {
  return { text, values: [...values], query_timeout: Math.max(1, ms) } as QueryConfig;
}

function timedOut(): StoreUnavailableError {
  return new StoreUnavailableError('the PostgreSQL store did not answer in time');
}

export class PgRunner {
  readonly #pool: Pool;
  readonly #timeoutMs: number;
  readonly #connectAttempts: number;

  /** @param connectAttempts connection attempts per call (one per host of a multi-host store), all inside the deadline. */
  constructor(pool: Pool, timeoutMs: number, connectAttempts = 1) {
    this.#pool = pool;
    this.#timeoutMs = timeoutMs;
    this.#connectAttempts = connectAttempts;
  }

  /** One statement, in its own implicit transaction (atomic by itself). */
  async query<R extends QueryResultRow = QueryResultRow>(text: string, params: Params = []): Promise<{ rows: R[]; rowCount: number }> {
    return this.#withClient((tx) => tx.query<R>(text, params));
  }

  /**
   * `fn` inside BEGIN ... COMMIT at READ COMMITTED. Callers that read-then-write lock the rows they
   * decide on (SELECT ... FOR UPDATE), which is cheaper than SERIALIZABLE and never needs a retry loop.
   */
  async transaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
    return this.#withClient(async (tx) => {
      await tx.query('BEGIN');
      const result = await fn(tx);
      await tx.query('COMMIT');
      return result;
    }, true);
  }

  async #withClient<T>(fn: (tx: Tx) => Promise<T>, inTransaction = false): Promise<T> {
    const deadline = Date.now() + this.#timeoutMs;
    let client: PoolClient;
    try {
      client = await this.#acquire(deadline);
    } catch (err) {
      throw translateError(err);
    }
    // A connection that breaks between two queries of a transaction emits 'error' on the client with
    // no query to fail; unhandled, that event would crash the process.
    const onError = (): void => {};
    client.on('error', onError);
    const tx: Tx = {
      query: async <R extends QueryResultRow>(text: string, params: Params = []) => {
        const remaining = deadline - Date.now();
        if (remaining <= 0) throw timedOut();
        // pg's per-query read timeout: fails the query locally even when the server never answers.
        const result = await client.query<R>(timed(text, params, remaining));
        return { rows: result.rows, rowCount: result.rowCount ?? 0 };
      },
    };
    let destroy = false;
    try {
      return await fn(tx);
    } catch (err) {
      destroy = isUnavailable(err);
      if (inTransaction && !destroy) {
        // A failed statement leaves the transaction aborted; roll back before the connection is reused.
        await client.query(timed('ROLLBACK', [], deadline - Date.now())).catch(() => (destroy = true));
      }
      throw translateError(err);
    } finally {
      client.off('error', onError);
      // Releasing with an error destroys the connection instead of returning it to the pool: after a
      // timeout it may still be running our statement, after a network error it is dead.
      client.release(destroy || undefined);
    }
  }

  /**
   * A pooled connection, or StoreUnavailableError when none comes before the deadline. With several
   * hosts, a connection attempt that fails fast (refused, read-only) is followed by one on the next
   * host while the deadline allows.
   */
  async #acquire(deadline: number): Promise<PoolClient> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.#acquireOnce(deadline);
      } catch (err) {
        if (attempt >= this.#connectAttempts || err instanceof StoreUnavailableError || !isUnavailable(err) || Date.now() >= deadline) throw err;
      }
    }
  }

  async #acquireOnce(deadline: number): Promise<PoolClient> {
    const pending = this.#pool.connect();
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(timedOut()), Math.max(1, deadline - Date.now()));
    });
    try {
      return await Promise.race([pending, expired]);
    } catch (err) {
      // If the connection arrives after we gave up, hand it straight back.
      pending.then((c) => c.release(), () => {});
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }
}
