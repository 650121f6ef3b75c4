/**
 * Multi-host connection strings, as libpq reads them, for node-postgres, which connects to one host
 * only: `postgres://user@db1:5432,db2:5432/latchkey?target_session_attrs=read-write`.
 *
 * Why: a PostgreSQL primary with a streaming replica fails over by promoting the replica, which
 * lives at another address. With both addresses in the connection string, each new connection goes
 * to the host that last worked; when it refuses the connection, or (with
 * `target_session_attrs=read-write`) turns out to be read-only (a standby not promoted yet, or a
 * demoted old primary), that connection attempt fails and the next attempt tries the next host.
 * Calls during the failover fail with `STORE_UNAVAILABLE`, as with any outage, and succeed again as
 * soon as a writable host answers; nothing is retried behind the caller's back beyond the hosts of
 * one call's connection wait.
 *
 * Only the URL form is read (`host[:port]` items separated by commas). `target_session_attrs` takes
 * `any` (default: the first host that accepts the connection) or `read-write`; other libpq values
 * (`read-only`, `primary`, `standby`, `prefer-standby`) are refused, since latchkey must write.
 */
import type pg from 'pg';
import type { HostList } from './host-list.js';

/** The SQLSTATE of "read-only transaction": already mapped to `STORE_UNAVAILABLE` (a failover in progress). */
const READ_ONLY_SQLSTATE = '25006';

/**
 * A pg Client class (a subclass of the driver's `Base`, since pg is an optional peer loaded by the
 * store) for a pg Pool: each new connection goes to the host that last worked; a host
 * that refuses or is read-only (when `readWrite`) moves the choice to the next host in the list.
 * Shared by every connection of one pool, so one failed attempt spares the next from the dead host.
 */
export function hostSelectingClient(list: HostList, Base: typeof pg.Client): typeof pg.Client {
  let current = 0;
  const failed = (index: number) => {
    // Only advance from the host this attempt used: ten attempts failing on one dead host move once.
    if (current === index) current = (current + 1) % list.hosts.length;
  };

  class HostSelectingClient extends Base {
    readonly #index: number;

    constructor(config?: pg.ClientConfig) {
      const index = current;
      // The pool passes its options (connectionString included); this connection's host replaces it.
      super({ ...config, connectionString: list.urls[index] });
      this.#index = index;
    }

    // pg-pool calls connect(callback); applications call connect() for a promise.
    override connect(): Promise<pg.Client>;
    override connect(callback: ((err: Error) => void) | ((err: null, c: pg.Client) => void)): void;
    override connect(callback?: ((err: Error) => void) | ((err: null, c: pg.Client) => void)): Promise<pg.Client> | void {
      const done = this.#connectChecked().then(() => this);
      if (!callback) return done;
      const cb = callback as (err: Error | null, c?: pg.Client) => void;
      done.then((c) => cb(null, c), (err: Error) => cb(err));
    }

    async #connectChecked(): Promise<void> {
      try {
        await super.connect();
      } catch (error) {
        failed(this.#index);
        throw error;
      }
      if (!list.readWrite) return;
      let readOnly: boolean;
      try {
        const { rows } = await this.query<{ transaction_read_only: string }>('SHOW transaction_read_only');
        readOnly = rows[0]?.transaction_read_only !== 'off';
      } catch (error) {
        failed(this.#index);
        await this.end().catch(() => {});
        throw error;
      }
      if (readOnly) {
        failed(this.#index);
        await this.end().catch(() => {});
        throw Object.assign(new Error('the PostgreSQL server is read-only (a standby); trying the next host'), { code: READ_ONLY_SQLSTATE });
      }
    }
  }
  return HostSelectingClient;
}
