/**
 * Revocation fan-out over Redis pub/sub: when one instance revokes a session or rotates keys, every
 * other instance hears of it within milliseconds, so a revoked session's access tokens stop working
 * everywhere without any per-request lookup.
 *
 * Redis is only a messenger. Every revocation is committed to the store before it is published, and
 * an instance that (re)subscribes first reloads recent revocations from the store (the engine does
 * that on `connected()`), so a message lost while Redis was down is never a revocation lost. Publish
 * is best effort and fails fast instead of queueing: the revoke call it belongs to has already
 * committed and must not wait for Redis.
 *
 * The catch-up on (re)subscription covers the receivers that were cut off. It cannot cover a
 * receiver that was already back when the sender's publish failed (the two connections of two
 * instances come back at different moments, as after a Sentinel failover): that receiver caught up
 * before the revocation existed, and with store polling off nothing else would tell it. So a publish
 * that fails is kept (up to `maxUnsent` messages) and sent again, in order, as soon as the publishing
 * connection is ready again. Every message is idempotent (deny a session, reload keys, drop a cached
 * key, raise a claims epoch), so a receiver that hears one twice is unharmed.
 *
 * Anyone who can publish on the channel can make instances deny sessions or reload keys, never accept
 * anything: keep Redis private (AUTH/ACL, TLS on untrusted networks).
 *
 * @example
 * import { redisBus } from 'latchkey/revocation/redis';
 * const latchkey = await createLatchkey({ issuer, store, bus: redisBus({ url: process.env.LATCHKEY_REDIS_URL }) });
 */
import type { Redis, RedisOptions } from 'ioredis';
import { importPeer } from '../util/peer.js';
import type { BusHandlers, BusMessage, RevocationBus } from './bus.js';
import { describeTlsFailure } from '../util/tls-failure.js';
import { guardSockets } from '../util/redis-sockets.js';
import { isSentinelUrl, parseSentinelUrl } from './redis-url.js';
import { encodeBusMessage, parseBusMessage } from './wire.js';

/** ioredis, an optional peer dependency: a missing one is a typed error naming it. */
const { Redis: RedisClient } = await importPeer(() => import('ioredis'), 'ioredis', 'latchkey/revocation/redis');

export { parseBusMessage };

export interface RedisBusOptions {
  /**
   * `redis://[:password@]host:6379[/db]`, `rediss://` for TLS, or
   * `redis+sentinel://[:password@]sentinel1:26379,sentinel2:26379/<primary-name>` to find the primary
   * through Sentinel and follow its failovers (see redis-url.ts). Default `redis://127.0.0.1:6379`.
   */
  url?: string | undefined;
  /**
   * Extra ioredis options for both connections (Sentinel: `sentinels` + `name`; TLS; ACL user).
   * latchkey's own settings below take precedence where they overlap.
   */
  redisOptions?: RedisOptions | undefined;
  /** Pub/sub channel. Default `'latchkey:revocations'`. Every instance of one deployment must use the same. */
  channel?: string | undefined;
  /**
   * How long a publish or the first subscription may take, ms. Default 1000: revocation fan-out is
   * promised within a second, so waiting longer buys nothing; the store poll covers the rest.
   */
  timeoutMs?: number | undefined;
  /**
   * Longest wait between reconnection attempts, ms. Default 1000: attempts back off from 50 ms up to
   * this, so a restarted Redis is rejoined (and the store caught up from) within about a second.
   */
  maxReconnectDelayMs?: number | undefined;
  /**
   * How often the subscribing connection is checked with a PING, ms. Default 5000, the engine's
   * default store poll. A server that hangs, or a network that drops packets silently, gives TCP
   * nothing to report for minutes; a missed PING makes the bus reconnect, and the reconnection
   * makes the engine catch up from the store.
   */
  heartbeatMs?: number | undefined;
  /**
   * How many messages that failed to publish are kept to be sent again once the publishing
   * connection is back. Default 10 000 (a revocation message is well under 1 kB, so at most a few
   * MB). Past it the oldest are dropped and reported: the instances that missed them learn of them
   * at their next store poll (`revocationPollInterval`) or reconnection.
   */
  maxUnsent?: number | undefined;
  /**
   * Told when a connection fails or a publish is dropped (once per outage, not per retry). Default:
   * a one-line warning on stderr. Messages never contain the URL (it may hold a password).
   */
  onError?: ((error: Error) => void) | undefined;
}

function defaultOnError(error: Error): void {
  console.warn(`latchkey: redis bus: ${error.message}`);
}

export class RedisBus implements RevocationBus {
  readonly #publisher: Redis;
  readonly #subscriber: Redis;
  readonly #channel: string;
  readonly #timeoutMs: number;
  readonly #onError: (error: Error) => void;
  /** One report per outage: set on the first failure, cleared when a connection is ready again. */
  #reportedOutage = false;
  #closed = false;
  #heartbeat: NodeJS.Timeout | undefined;
  readonly #heartbeatMs: number;
  /** Messages whose publish failed, oldest first, sent again when the publisher is ready (module comment). */
  #unsent: BusMessage[] = [];
  readonly #maxUnsent: number;
  #flushing = false;

  constructor(options: RedisBusOptions = {}) {
    this.#channel = options.channel ?? 'latchkey:revocations';
    this.#timeoutMs = options.timeoutMs ?? 1000;
    this.#onError = options.onError ?? defaultOnError;
    const maxDelay = options.maxReconnectDelayMs ?? 1000;
    this.#heartbeatMs = options.heartbeatMs ?? 5000;
    this.#maxUnsent = options.maxUnsent ?? 10_000;
    const common: RedisOptions = {
      ...options.redisOptions,
      lazyConnect: true,
      connectTimeout: this.#timeoutMs,
      // Fail fast while disconnected instead of queueing: a queued publish would make a committed
      // revoke call wait for Redis, and the store catch-up delivers the news anyway.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: this.#timeoutMs,
      retryStrategy: (attempt) => Math.min(50 * attempt, maxDelay),
    };
    const url = options.url ?? 'redis://127.0.0.1:6379';
    // Through Sentinel: ioredis asks the Sentinels for the current primary on every (re)connection,
    // so after a failover both connections land on the promoted server; the subscriber's 'ready'
    // then resubscribes and reports connected(), and the engine catches up from the store.
    const connect = (extra: RedisOptions): Redis => (isSentinelUrl(url)
      ? new RedisClient({ ...parseSentinelUrl(url), ...common, ...extra })
      : new RedisClient(url, { ...common, ...extra }));
    this.#publisher = connect({ connectionName: 'latchkey-publisher' });
    // Subscribing resubscribes by hand on every 'ready' (below), so that `connected()` runs only once
    // the subscription is confirmed: catching up before that could miss a message sent in between.
    this.#subscriber = connect({ connectionName: 'latchkey-subscriber', autoResubscribe: false, commandTimeout: undefined });
    for (const connection of [this.#publisher, this.#subscriber]) {
      // ioredis emits 'error' on every failed attempt; unhandled, that event would crash the process.
      connection.on('error', (error: Error) => this.#report(error));
      guardSockets(connection, (error) => this.#report(error));
      connection.on('ready', () => (this.#reportedOutage = false));
    }
    this.#publisher.on('ready', () => void this.#flushUnsent());
    this.#publisher.connect().catch((error: Error) => this.#report(error));
  }

  async publish(message: BusMessage): Promise<void> {
    if (this.#closed) return;
    // Behind earlier failures: they go first, so that the order of the news is kept.
    if (this.#unsent.length > 0) {
      this.#keep(message);
      return this.#flushUnsent();
    }
    try {
      await this.#publisher.publish(this.#channel, encodeBusMessage(message));
    } catch (error) {
      // Best effort by design (see the module comment): report, keep it for the reconnection, never
      // fail the caller.
      this.#keep(message);
      this.#report(error instanceof Error ? error : new Error(String(error)));
    }
  }

  /** Messages waiting to be sent again (module comment); for tests and diagnostics. */
  get unsent(): number {
    return this.#unsent.length;
  }

  #keep(message: BusMessage): void {
    this.#unsent.push(message);
    if (this.#unsent.length > this.#maxUnsent) {
      const dropped = this.#unsent.splice(0, this.#unsent.length - this.#maxUnsent).length;
      this.#onError(new Error(`dropped ${dropped} bus message(s) that could not be published; other instances learn of them at their next store poll or reconnection`));
    }
  }

  /** Sends the kept messages in order; stops at the first failure (the next 'ready' or publish resumes). */
  async #flushUnsent(): Promise<void> {
    if (this.#flushing || this.#closed) return;
    this.#flushing = true;
    try {
      while (this.#unsent.length > 0 && !this.#closed) {
        try {
          await this.#publisher.publish(this.#channel, encodeBusMessage(this.#unsent[0]!));
        } catch (error) {
          this.#report(error instanceof Error ? error : new Error(String(error)));
          return;
        }
        this.#unsent.shift();
      }
    } finally {
      this.#flushing = false;
    }
  }

  /**
   * Starts listening. Resolves once subscribed, or after `timeoutMs` if Redis cannot be reached
   * (the instance then runs on store polling alone and joins the bus when Redis comes back).
   */
  async subscribe(handlers: BusHandlers): Promise<void> {
    this.#subscriber.on('message', (channel: string, raw: string) => {
      if (channel !== this.#channel) return;
      const message = parseBusMessage(raw);
      if (message) handlers.message(message);
    });
    let first: (() => void) | undefined;
    const subscribed = new Promise<void>((resolve) => (first = resolve));
    this.#subscriber.on('ready', () => {
      this.#subscriber
        .subscribe(this.#channel)
        .then(() => {
          handlers.connected();
          first?.();
        })
        // A failure here means the connection dropped again; the next 'ready' retries.
        .catch((error: Error) => this.#report(error));
    });
    this.#subscriber.connect().catch((error: Error) => this.#report(error));
    this.#heartbeat = setInterval(() => void this.#checkSubscriber(), this.#heartbeatMs);
    this.#heartbeat.unref();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([subscribed, new Promise<void>((resolve) => (timer = setTimeout(resolve, this.#timeoutMs)))]);
    clearTimeout(timer);
  }

  /**
   * Resolves when Redis answers a PING on the publishing connection within the command timeout, for a
   * health display (the admin console's Overview). Rejects otherwise; never reconnects or reports.
   */
  async ping(): Promise<void> {
    if (this.#publisher.status !== 'ready') throw new Error(`redis connection is ${this.#publisher.status}`);
    await this.#publisher.ping();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#heartbeat);
    // disconnect() rather than quit(): quit waits for a reply that a dead server never sends.
    this.#publisher.disconnect();
    this.#subscriber.disconnect();
  }

  /** PINGs the subscriber (allowed in subscribe mode); no answer in time means reconnect. */
  async #checkSubscriber(): Promise<void> {
    if (this.#subscriber.status !== 'ready') return;
    let timer: NodeJS.Timeout | undefined;
    const answered = await Promise.race([
      this.#subscriber.ping().then(() => true, () => false),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), this.#timeoutMs))),
    ]);
    clearTimeout(timer);
    if (answered || this.#closed) return;
    this.#report(new Error('Redis did not answer the subscriber heartbeat; reconnecting'));
    // Reconnects; the next 'ready' resubscribes and reports connected(), so the engine catches up.
    this.#subscriber.disconnect(true);
  }

  #report(error: Error): void {
    if (this.#closed || this.#reportedOutage) return;
    this.#reportedOutage = true;
    // A certificate that does not verify is retried like any outage (never without verification),
    // but said plainly: the raw OpenSSL code does not name the connection or the fix.
    const tls = describeTlsFailure(error, 'the Redis server');
    this.#onError(tls ? new Error(tls, { cause: error }) : error);
  }
}

/** A revocation bus over Redis pub/sub. */
export function redisBus(options?: RedisBusOptions): RedisBus {
  return new RedisBus(options);
}
