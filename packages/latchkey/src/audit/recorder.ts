/**
 * Turns the engine's typed events into audit rows and writes them in batches.
 *
 * Why batches, not a write inside the refresh transaction: an event listener runs synchronously after
 * the change has committed, and a store write per event would put a second round trip (PostgreSQL) or a
 * second fsync'd transaction (SQLite) on every refresh. A buffer flushed every `flushIntervalMs` (or at
 * `maxBatch` events) costs the refresh an object push; the write is one multi-row INSERT off the
 * request path. Refreshes of one session inside one batch fold into one row (count, firstAt, at = last),
 * so a busy client does not multiply rows.
 *
 * The price, bounded: a process crash loses the events still in the
 * buffer, at most `flushIntervalMs` worth and never more than `maxBuffered` events. `close()` flushes
 * them on an orderly shutdown. A store outage keeps the buffer for the next flush; past `maxBuffered`
 * the oldest events are dropped and counted in `dropped`, so memory stays bounded.
 */
import { randomBytes } from 'node:crypto';
import { systemClock, type Clock } from '../clock.js';
import type { LatchkeyEventName, LatchkeyEvents, LatchkeyListener } from '../events.js';
import type { DeviceInfo, RevocationReason } from '../types.js';
import type { AuditActor, AuditEvent, AuditStore } from './types.js';

/** Anything with the engine's `on` (a `Latchkey`). */
export interface AuditEventSource {
  on<E extends LatchkeyEventName>(name: E, listener: LatchkeyListener<E>): () => void;
  /**
   * The engine's hourly cleanup job (`Latchkey.onCleanup`). When the source has it, retention runs as
   * a step of that job (and of `latchkey cleanup`) instead of on a timer of the recorder's own.
   */
  onCleanup?(task: () => Promise<unknown>): () => void;
}

export interface AuditRecorderOptions {
  store: AuditStore;
  source: AuditEventSource;
  /** How often the buffer is written, ms. Default 1000: the most a crash can lose, and a write a second at most. */
  flushIntervalMs?: number | undefined;
  /** A buffer this full is written at once. Default 500 (one INSERT, well under PostgreSQL's parameter limit). */
  maxBatch?: number | undefined;
  /** Events kept while the store is down; beyond it the oldest are dropped (counted). Default 10 000. */
  maxBuffered?: number | undefined;
  /** Events older than this are deleted, days. Default 90: a quarter, long enough for most incident reviews. */
  retentionDays?: number | undefined;
  /**
   * How often retention runs on a timer of the recorder's own, ms; 0 disables it. Default: no timer when
   * the source has `onCleanup` (retention runs with the engine's cleanup job, hourly by default),
   * 3 600 000 (hourly) otherwise.
   */
  cleanupIntervalMs?: number | undefined;
  /** Fold refreshes of one session within a batch into one row. Default true (see the bench's audit rows). */
  aggregateRefreshes?: boolean | undefined;
  clock?: Clock | undefined;
  /** Told about failed writes and retention runs. Default: printed with console.error (without event contents). */
  onError?: ((error: unknown, during: string) => void) | undefined;
}

const DAY_MS = 86_400_000;

function positive(name: string, value: number | undefined, fallback: number, allowZero = false): number {
  const v = value ?? fallback;
  if (!Number.isSafeInteger(v) || v < (allowZero ? 0 : 1))
    throw new TypeError(`audit option ${name} must be a ${allowZero ? 'non-negative' : 'positive'} integer`);
  return v;
}

function revocationActor(reason: RevocationReason): AuditActor {
  if (reason === 'admin') return 'admin';
  if (reason === 'theft') return 'system';
  return 'user';
}

/** Refreshes fold into one row only from the same session, device and IP, so a row never hides a new device. */
function refreshKey(e: AuditEvent): string {
  return JSON.stringify([e.sessionId, e.device, e.ip]);
}

let sequence = 0;
/** Unique; the process sequence first, so that events of one millisecond keep their order here. */
function newId(): string {
  sequence = (sequence + 1) % 36 ** 8;
  return `${sequence.toString(36).padStart(8, '0')}${randomBytes(8).toString('hex')}`;
}

export class AuditRecorder {
  readonly #store: AuditStore;
  readonly #clock: Clock;
  readonly #maxBatch: number;
  readonly #maxBuffered: number;
  readonly #retentionMs: number;
  readonly #aggregate: boolean;
  readonly #onError: (error: unknown, during: string) => void;
  readonly #unsubscribe: (() => void)[] = [];
  readonly #timers: NodeJS.Timeout[] = [];
  #buffer: AuditEvent[] = [];
  /** The open refresh row of each session (and device and IP: a change of either starts a new row) in the current buffer. */
  #refreshRows = new Map<string, AuditEvent>();
  #flushing: Promise<void> | null = null;
  #closed = false;
  /** Events dropped because the buffer was full while the store was failing. */
  dropped = 0;

  constructor(options: AuditRecorderOptions) {
    this.#store = options.store;
    this.#clock = options.clock ?? systemClock;
    const flushIntervalMs = positive('flushIntervalMs', options.flushIntervalMs, 1000);
    this.#maxBatch = positive('maxBatch', options.maxBatch, 500);
    this.#maxBuffered = Math.max(this.#maxBatch, positive('maxBuffered', options.maxBuffered, 10_000));
    this.#retentionMs = positive('retentionDays', options.retentionDays, 90) * DAY_MS;
    const withEngineJob = options.cleanupIntervalMs === undefined && options.source.onCleanup !== undefined;
    const cleanupIntervalMs = withEngineJob ? 0 : positive('cleanupIntervalMs', options.cleanupIntervalMs, 3_600_000, true);
    this.#aggregate = options.aggregateRefreshes ?? true;
    this.#onError =
      options.onError ?? ((error, during) => console.error('latchkey audit:', during, error instanceof Error ? error.message : 'failed'));
    this.#subscribe(options.source);
    if (withEngineJob && options.source.onCleanup) this.#unsubscribe.push(options.source.onCleanup(() => this.cleanup()));
    const flushTimer = setInterval(() => void this.flush(), flushIntervalMs);
    flushTimer.unref();
    this.#timers.push(flushTimer);
    if (cleanupIntervalMs > 0) {
      const cleanupTimer = setInterval(() => {
        this.cleanup().catch((error: unknown) => this.#onError(error, 'retention'));
      }, cleanupIntervalMs);
      cleanupTimer.unref();
      this.#timers.push(cleanupTimer);
    }
  }

  /** Events waiting for the next write. */
  get pending(): number {
    return this.#buffer.length;
  }

  #subscribe(source: AuditEventSource): void {
    const sub = <E extends LatchkeyEventName>(
      name: E,
      map: (event: LatchkeyEvents[E]) => Omit<AuditEvent, 'id' | 'type' | 'count' | 'firstAt' | 'device' | 'ip'> & { from?: DeviceInfo },
    ): void => {
      this.#unsubscribe.push(
        source.on(name, (event) => {
          const { from, ...row } = map(event);
          this.#add({
            id: newId(),
            type: name as AuditEvent['type'],
            count: 1,
            firstAt: row.at,
            device: from?.userAgent ?? null,
            ip: from?.ip ?? null,
            ...row,
          });
        }),
      );
    };
    sub('session.created', (e) => ({
      at: e.at.getTime(),
      userId: e.userId,
      sessionId: e.sessionId,
      actor: 'user',
      reason: null,
      details: {},
      from: e.device,
    }));
    sub('session.refreshed', (e) => ({
      at: e.at.getTime(),
      userId: e.userId,
      sessionId: e.sessionId,
      actor: 'user',
      reason: null,
      details: { grace: e.grace ? 1 : 0 },
      from: e.device,
    }));
    sub('session.revoked', (e) => ({
      at: e.at.getTime(),
      userId: e.userId,
      sessionId: e.sessionId,
      actor: revocationActor(e.reason),
      reason: e.reason,
      details: {},
    }));
    sub('session.theft_detected', (e) => ({
      at: e.at.getTime(),
      userId: e.userId,
      sessionId: e.sessionId,
      actor: 'system',
      reason: e.reason,
      // Both sides: the row's device and IP are the request that replayed the old token; the details
      // name the device the session last recorded, the holder of the current token.
      details: {
        msSinceRotation: e.msSinceRotation,
        sessionDevice: e.sessionDevice.userAgent ?? null,
        sessionIp: e.sessionDevice.ip ?? null,
      },
      from: e.device,
    }));
    sub('session.binding_mismatch', (e) => ({
      at: e.at.getTime(),
      userId: e.userId,
      sessionId: e.sessionId,
      actor: 'system',
      reason: e.reason,
      details: { method: e.method },
    }));
    // A key registered with a session is a security event: the moment a refresh starts to need it, and
    // the key an operator compares with a later binding_mismatch.
    sub('session.device_bound', (e) => ({
      at: e.at.getTime(),
      userId: e.userId,
      sessionId: e.sessionId,
      actor: 'user',
      reason: null,
      details: { method: e.method, jkt: e.jkt },
    }));
    sub('keys.rotated', (e) => ({
      at: e.at.getTime(),
      userId: null,
      sessionId: null,
      actor: 'system',
      reason: null,
      details: { kid: e.kid, activatesAt: e.activatesAt.getTime() },
    }));
    // An API key's owner acts on it; the row names the key, never its text.
    const byOwner = (e: { at: Date; ownerId: string }, details: Record<string, string>) =>
      ({ at: e.at.getTime(), userId: e.ownerId, sessionId: null, actor: 'user', reason: null, details }) as const;
    sub('api_key.created', (e) => byOwner(e, { keyId: e.keyId }));
    sub('api_key.revoked', (e) => byOwner(e, { keyId: e.keyId }));
    sub('api_key.rotated', (e) => byOwner(e, { keyId: e.keyId, previousKeyId: e.previousKeyId }));
    sub('api_key.rejected', (e) => ({
      at: e.at.getTime(),
      userId: null,
      sessionId: null,
      actor: 'system',
      reason: e.reason,
      details: { keyId: e.keyId },
    }));
  }

  /**
   * Records an event that is not an engine event: an operator's action in the admin console. It is
   * buffered like the others; call {@link AuditRecorder.flush} to write it at once.
   */
  record(
    event: Pick<AuditEvent, 'type' | 'actor'> & Partial<Pick<AuditEvent, 'userId' | 'sessionId' | 'reason' | 'device' | 'ip' | 'details'>>,
  ): void {
    const at = this.#clock.now();
    this.#add({
      id: newId(),
      type: event.type,
      at,
      firstAt: at,
      count: 1,
      actor: event.actor,
      userId: event.userId ?? null,
      sessionId: event.sessionId ?? null,
      reason: event.reason ?? null,
      device: event.device ?? null,
      ip: event.ip ?? null,
      details: { ...event.details },
    });
  }

  #add(event: AuditEvent): void {
    if (this.#closed) return;
    if (this.#aggregate && event.type === 'session.refreshed' && event.sessionId !== null) {
      const key = refreshKey(event);
      const open = this.#refreshRows.get(key);
      if (open) {
        open.count += 1;
        open.at = Math.max(open.at, event.at);
        open.details['grace'] = Number(open.details['grace'] ?? 0) + Number(event.details['grace'] ?? 0);
        return;
      }
      this.#refreshRows.set(key, event);
    }
    this.#buffer.push(event);
    if (this.#buffer.length > this.#maxBuffered) this.#dropOldest(this.#buffer.length - this.#maxBuffered);
    if (this.#buffer.length >= this.#maxBatch) void this.flush();
  }

  #dropOldest(n: number): void {
    const gone = this.#buffer.splice(0, n);
    for (const e of gone) {
      if (this.#refreshRows.get(refreshKey(e)) === e) this.#refreshRows.delete(refreshKey(e));
    }
    this.dropped += gone.reduce((sum, e) => sum + e.count, 0);
  }

  /** Writes what is buffered (in batches of `maxBatch`). Never rejects: failures go to `onError`, events stay buffered. */
  flush(): Promise<void> {
    if (this.#flushing) return this.#flushing.then(() => (this.#buffer.length > 0 ? this.flush() : undefined));
    if (this.#buffer.length === 0) return Promise.resolve();
    this.#flushing = this.#write().finally(() => {
      this.#flushing = null;
    });
    return this.#flushing;
  }

  async #write(): Promise<void> {
    while (this.#buffer.length > 0) {
      const batch = this.#buffer.slice(0, this.#maxBatch);
      // A refresh row leaves the aggregation once it is being written: later refreshes open a new row.
      for (const e of batch) if (this.#refreshRows.get(refreshKey(e)) === e) this.#refreshRows.delete(refreshKey(e));
      try {
        await this.#store.append(batch);
      } catch (error) {
        this.#onError(error, 'audit write');
        return;
      }
      this.#buffer.splice(0, batch.length);
    }
  }

  /** Deletes events past retention. Returns how many. */
  cleanup(): Promise<number> {
    return this.#store.deleteBefore(this.#clock.now() - this.#retentionMs);
  }

  /** Stops listening and timers, then writes what is buffered. */
  async close(): Promise<void> {
    for (const off of this.#unsubscribe.splice(0)) off();
    for (const timer of this.#timers.splice(0)) clearInterval(timer);
    await this.flush();
    this.#closed = true;
  }
}
