/**
 * Revocation fan-out over PostgreSQL LISTEN/NOTIFY: the option for deployments that have PostgreSQL
 * and no Redis. Same contract as the Redis bus (see redis.ts): the store is the source of truth,
 * publishing is best effort, and every (re)connection is reported so the engine catches up.
 *
 * Listening needs one dedicated connection per instance, held open (a pooled connection would be
 * handed to someone else). It does not work through a transaction-mode pooler such as PgBouncer in
 * `pool_mode=transaction`: give `listenConnectionString` (the server, or a session-mode pool). A
 * heartbeat on that connection notices a silently dead server or network, which TCP alone might
 * only notice after minutes; the instance then reconnects and catches up.
 *
 * NOTIFY payloads are limited to 8000 bytes, so a large revocation (every session of a busy user) is
 * split over several notifications.
 *
 * @example
 * import { pgNotifyBus } from 'latchkey/revocation/pg-notify';
 * const bus = pgNotifyBus({ connectionString: process.env.LATCHKEY_STORE });
 */
import type pg from 'pg';
import { importPeer } from '../util/peer.js';
import type { BusHandlers, BusMessage, RevocationBus } from './bus.js';
import { encodeBusMessage, parseBusMessage } from './wire.js';

/** The `pg` driver, an optional peer dependency: a missing one is a typed error naming it. */
const { default: pgDriver } = await importPeer(() => import('pg'), 'pg', 'latchkey/revocation/pg-notify');

export interface PgNotifyBusOptions {
  /**
   * The database the store uses (notifications do not cross databases). Required. Publishing
   * (`pg_notify` in its own transaction) works through any pooler; listening does not (see below).
   */
  connectionString: string;
  /**
   * A direct (or session-mode pooled) connection to the same database, for the one long-lived
   * LISTEN connection. Default: `connectionString`. Required when `transactionPooler` is set.
   */
  listenConnectionString?: string;
  /**
   * Set when `connectionString` goes through a transaction-mode pooler (PgBouncer
   * `pool_mode=transaction`). Default false. LISTEN there registers on whichever server connection
   * the pooler lends for that one statement, which then goes back to the pool: notifications reach
   * some other client or nobody, and this bus would miss every revocation without an error. So the
   * bus refuses to start with this set unless `listenConnectionString` gives a direct connection.
   */
  transactionPooler?: boolean;
  /** Notification channel. Default `'latchkey_revocations'`. Every instance of one deployment must use the same. */
  channel?: string | undefined;
  /** How long a publish, a connection attempt or a heartbeat may take, ms. Default 1000 (see RedisBusOptions.timeoutMs). */
  timeoutMs?: number | undefined;
  /** Longest wait between reconnection attempts, ms. Default 1000: attempts back off from 50 ms up to this. */
  maxReconnectDelayMs?: number | undefined;
  /** How often the listening connection is checked, ms. Default 5000, the engine's default store poll. */
  heartbeatMs?: number | undefined;
  /** Told when the listener is lost or a publish is dropped, once per outage. Default: a warning on stderr. */
  onError?: ((error: Error) => void) | undefined;
}

/** Below PostgreSQL's 8000-byte NOTIFY payload limit, with room to spare. */
const MAX_PAYLOAD_BYTES = 7500;

/** Splits a message into payloads that each fit one notification. */
export function encodeNotifyPayloads(message: BusMessage): string[] {
  if (message.type !== 'revoked') return [encodeBusMessage(message)];
  const payloads: string[] = [];
  let batch: typeof message.revocations = [];
  for (const revocation of message.revocations) {
    const candidate = [...batch, revocation];
    if (batch.length > 0 && Buffer.byteLength(encodeBusMessage({ type: 'revoked', revocations: candidate })) > MAX_PAYLOAD_BYTES) {
      payloads.push(encodeBusMessage({ type: 'revoked', revocations: batch }));
      batch = [revocation];
    } else {
      batch = candidate;
    }
  }
  if (batch.length > 0) payloads.push(encodeBusMessage({ type: 'revoked', revocations: batch }));
  return payloads;
}

function defaultOnError(error: Error): void {
  console.warn(`latchkey: pg-notify bus: ${error.message}`);
}

export class PgNotifyBus implements RevocationBus {
  readonly #listenConnectionString: string;
  readonly #channel: string;
  readonly #timeoutMs: number;
  readonly #maxDelayMs: number;
  readonly #heartbeatMs: number;
  readonly #onError: (error: Error) => void;
  readonly #publisher: pg.Pool;
  #handlers: BusHandlers | undefined;
  #listener: pg.Client | undefined;
  #heartbeat: NodeJS.Timeout | undefined;
  #reconnect: NodeJS.Timeout | undefined;
  #attempt = 0;
  #reportedOutage = false;
  #closed = false;

  constructor(options: PgNotifyBusOptions) {
    if (!options?.connectionString) throw new TypeError('pgNotifyBus needs connectionString');
    if (options.transactionPooler && !options.listenConnectionString) {
      throw new TypeError(
        'pgNotifyBus cannot LISTEN through a transaction-mode pooler (notifications would be lost silently); '
        + 'give listenConnectionString, a direct or session-mode connection to the same database',
      );
    }
    this.#listenConnectionString = options.listenConnectionString ?? options.connectionString;
    this.#channel = options.channel ?? 'latchkey_revocations';
    this.#timeoutMs = options.timeoutMs ?? 1000;
    this.#maxDelayMs = options.maxReconnectDelayMs ?? 1000;
    this.#heartbeatMs = options.heartbeatMs ?? 5000;
    this.#onError = options.onError ?? defaultOnError;
    this.#publisher = new pgDriver.Pool({
      connectionString: options.connectionString,
      max: 1,
      connectionTimeoutMillis: this.#timeoutMs,
      query_timeout: this.#timeoutMs,
      application_name: 'latchkey-bus',
    });
    // Idle connections dropped by a server restart: the pool replaces them; unhandled, this would crash.
    this.#publisher.on('error', (error) => this.#report(error));
  }

  async publish(message: BusMessage): Promise<void> {
    if (this.#closed) return;
    try {
      for (const payload of encodeNotifyPayloads(message)) {
        await this.#publisher.query('SELECT pg_notify($1, $2)', [this.#channel, payload]);
      }
    } catch (error) {
      // Best effort: the revocation is committed; other instances catch up from the store.
      this.#report(error instanceof Error ? error : new Error(String(error)));
    }
  }

  /** Starts listening. Resolves once listening, or after `timeoutMs` if the server cannot be reached. */
  async subscribe(handlers: BusHandlers): Promise<void> {
    this.#handlers = handlers;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.#listen(), new Promise<void>((resolve) => (timer = setTimeout(resolve, this.#timeoutMs)))]);
    clearTimeout(timer);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#reconnect);
    clearInterval(this.#heartbeat);
    const listener = this.#listener;
    this.#listener = undefined;
    await Promise.all([listener?.end().catch(() => {}), this.#publisher.end().catch(() => {})]);
  }

  /** Opens the listening connection; on failure, schedules the next attempt. Never rejects. */
  async #listen(): Promise<void> {
    if (this.#closed) return;
    const client = new pgDriver.Client({ connectionString: this.#listenConnectionString, connectionTimeoutMillis: this.#timeoutMs, application_name: 'latchkey-bus' });
    this.#listener = client;
    client.on('error', (error) => this.#lost(client, error));
    client.on('end', () => this.#lost(client, new Error('listening connection closed')));
    client.on('notification', ({ channel, payload }) => {
      if (channel !== this.#channel || payload === undefined) return;
      const message = parseBusMessage(payload);
      if (message) this.#handlers?.message(message);
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${pgDriver.escapeIdentifier(this.#channel)}`);
    } catch (error) {
      this.#lost(client, error instanceof Error ? error : new Error(String(error)));
      return;
    }
    if (this.#listener !== client) return;
    this.#attempt = 0;
    this.#reportedOutage = false;
    this.#heartbeat = setInterval(() => {
      client.query({ text: 'SELECT 1', query_timeout: this.#timeoutMs } as pg.QueryConfig).catch((error: Error) => this.#lost(client, error));
    }, this.#heartbeatMs);
    this.#heartbeat.unref();
    // Only now, with LISTEN in effect: a catch-up started earlier could miss a notification sent in between.
    this.#handlers?.connected();
  }

  /** The listening connection failed: drop it and try again after a backoff. */
  #lost(client: pg.Client, error: Error): void {
    if (this.#closed || this.#listener !== client) return;
    this.#listener = undefined;
    clearInterval(this.#heartbeat);
    this.#report(error);
    client.end().catch(() => {});
    this.#attempt++;
    this.#reconnect = setTimeout(() => void this.#listen(), Math.min(50 * this.#attempt, this.#maxDelayMs));
    this.#reconnect.unref();
  }

  #report(error: Error): void {
    if (this.#closed || this.#reportedOutage) return;
    this.#reportedOutage = true;
    this.#onError(error);
  }
}

/** A revocation bus over PostgreSQL LISTEN/NOTIFY. */
export function pgNotifyBus(options: PgNotifyBusOptions): PgNotifyBus {
  return new PgNotifyBus(options);
}
