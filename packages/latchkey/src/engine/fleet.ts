/**
 * Keeping a fleet of engine instances in step: the revocation denylist, the bus that carries news
 * between instances, the catch-up from the store after a bus outage, key reloads, and the timers.
 *
 * The store is the source of truth; everything here only makes news arrive sooner. An instance that
 * misses a bus message (the bus was down, the message was lost) still learns of it from its next
 * revocation poll or key check, and a reconnecting bus triggers a catch-up at once. Failures here are
 * reported as `error` events and never fail the operation that caused them: by then the change is
 * committed to the store.
 */
import type { Clock } from '../clock.js';
import type { TypedEmitter } from '../events.js';
import type { KeyRing } from '../keys/ring.js';
import type { BusMessage, BusRevocation, ClaimsEpoch, RevocationBus } from '../revocation/bus.js';
import { ClaimsEpochs } from '../revocation/claims-epochs.js';
import { RevocationDenylist } from '../revocation/denylist.js';
import type { SessionStore } from '../stores/types.js';

/** Unknown kids trigger at most one key reload per this many ms, so junk tokens cannot hammer the store. */
const KID_RELOAD_MIN_INTERVAL_MS = 5_000;
/**
 * How long a verification waits for that reload, ms. A store that does not answer must not hold a
 * verification (which otherwise never touches the store) beyond what the service promises (a reply
 * within 2 s): the reload goes on in the background, and the token is judged on the keys held, as
 * when the reload fails. Only armed when a reload actually starts, so a verification pays no timer.
 */
export const KID_RELOAD_WAIT_MS = 1_500;

export interface FleetSyncDeps {
  store: SessionStore;
  clock: Clock;
  ring: KeyRing;
  events: TypedEmitter;
  bus: RevocationBus | undefined;
  /** How long a revocation must be remembered: access-token lifetime plus clock tolerance, ms. */
  retainMs: number;
  /** Clock tolerance, ms: the catch-up looks back this far for revocations stamped by a lagging clock. */
  toleranceMs: number;
}

/** What the fleet tells the engine's API keys about (they keep their own cache). */
export interface ApiKeyCache {
  invalidate(keyIds: readonly string[]): void;
  invalidateAll(): void;
}

/** A task the engine runs on a timer. */
export interface PeriodicTask {
  /** Interval, ms; 0 or less: never. */
  everyMs: number;
  /** Named in the `error` event when a run fails. */
  during: string;
  run(): Promise<void>;
}

export class FleetSync {
  /** Revoked session ids, checked on every verification. */
  readonly denylist: RevocationDenylist;
  /** When users' and sessions' claims last changed, checked on every verification (claims-epochs.ts). */
  readonly epochs: ClaimsEpochs;
  readonly #deps: FleetSyncDeps;
  #timers: NodeJS.Timeout[] = [];
  #lastKidReload = 0;
  /** Newest revocation time seen, to catch up from after a bus outage. */
  #revocationCursor: number;

  constructor(deps: FleetSyncDeps) {
    this.#deps = deps;
    const now = deps.clock.now();
    this.denylist = new RevocationDenylist(deps.retainMs, now);
    this.epochs = new ClaimsEpochs(deps.retainMs);
    this.#revocationCursor = now - deps.retainMs;
  }

  /** Joins the bus, if there is one: messages from other instances from now on, a catch-up on every (re)connection. */
  async join(apiKeys: ApiKeyCache): Promise<void> {
    await this.#deps.bus?.subscribe({
      message: (m) => this.#onMessage(m, apiKeys),
      connected: () => void this.#catchUp(apiKeys),
    });
  }

  /** Tells the other instances. Best effort: already committed to the store, they will find it by polling or on reconnect. */
  async publish(message: BusMessage): Promise<void> {
    if (!this.#deps.bus) return;
    try {
      await this.#deps.bus.publish(message);
    } catch (error) {
      this.#deps.events.emit('error', { error, during: 'bus publish' });
    }
  }

  /** Denies the sessions on this instance at once (the caller then publishes them to the others). */
  deny(revocations: readonly BusRevocation[]): void {
    const now = this.#deps.clock.now();
    for (const r of revocations) this.denylist.add(r.sessionId, r.revokedAt, now, r.reason === 'theft');
  }

  /** Records claims epochs on this instance (the caller then publishes them to the others). */
  claimsChanged(epochs: readonly ClaimsEpoch[]): void {
    const now = this.#deps.clock.now();
    for (const e of epochs) {
      if ('userId' in e) this.epochs.add('user', e.userId, e.at, now);
      else this.epochs.add('session', e.sessionId, e.at, now);
    }
  }

  /**
   * Keeps claims epochs in the store too, where it can (`recordClaimsEpoch`), so that an instance that
   * misses them on the bus (restarted, or its bus was down) learns them at its next catch-up. Best
   * effort, like the publish: the claims are already written; a failure is an `error` event.
   */
  async persistClaimsEpochs(epochs: readonly ClaimsEpoch[]): Promise<void> {
    const store = this.#deps.store;
    if (store.recordClaimsEpoch === undefined) return;
    // Past this an epoch outdates no valid token: the store drops it.
    const expireBefore = this.#deps.clock.now() - this.#deps.retainMs;
    try {
      for (const e of epochs) {
        await store.recordClaimsEpoch(
          'userId' in e ? { kind: 'user', id: e.userId, at: e.at } : { kind: 'session', id: e.sessionId, at: e.at },
          expireBefore,
        );
      }
    } catch (error) {
      this.#deps.events.emit('error', { error, during: 'claims epoch write' });
    }
  }

  /** Loads revocations made by other instances since the last sighting, and the claims epochs the store keeps. */
  async syncRevocations(): Promise<void> {
    const now = this.#deps.clock.now();
    // Look back a little past the cursor: other instances' clocks may lag ours by the tolerance.
    const since = Math.min(this.#revocationCursor, now) - this.#deps.toleranceMs;
    const revocations = await this.#deps.store.listRevocationsSince(since);
    for (const r of revocations) {
      this.denylist.add(r.sessionId, r.revokedAt, now, r.reason === 'theft');
      if (r.revokedAt > this.#revocationCursor) this.#revocationCursor = r.revokedAt;
    }
    // Every epoch that still matters: few (one per change, kept for an access-token lifetime), and
    // a missed one would let older tokens carry outdated claims until they expire.
    if (this.#deps.store.listClaimsEpochsSince !== undefined) {
      for (const e of await this.#deps.store.listClaimsEpochsSince(now - this.#deps.retainMs)) this.epochs.add(e.kind, e.id, e.at, now);
    }
    this.denylist.prune(now);
    this.epochs.prune(now);
  }

  /** A token names a key this instance does not know: another instance may have rotated. Reloads at most once per interval. */
  async reloadKeysForKid(_kid: string): Promise<void> {
    const now = this.#deps.clock.now();
    if (now - this.#lastKidReload < KID_RELOAD_MIN_INTERVAL_MS) return;
    this.#lastKidReload = now;
    let timer: NodeJS.Timeout | undefined;
    const gaveUp = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        this.#deps.events.emit('error', {
          error: new Error(`the key reload for an unknown kid took over ${KID_RELOAD_WAIT_MS} ms`),
          during: 'key reload',
        });
        resolve();
      }, KID_RELOAD_WAIT_MS);
      timer.unref();
    });
    try {
      await Promise.race([this.#reloadKeys(), gaveUp]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Runs each task on its interval; a run still going when the next is due is not started twice. */
  startTimers(tasks: readonly PeriodicTask[]): void {
    for (const { everyMs, during, run } of tasks) {
      if (everyMs <= 0) continue;
      let running = false;
      const timer = setInterval(() => {
        if (running) return;
        running = true;
        run()
          .catch((error: unknown) => this.#deps.events.emit('error', { error, during }))
          .finally(() => (running = false));
      }, everyMs);
      // Never what keeps a process alive.
      timer.unref();
      this.#timers.push(timer);
    }
  }

  stopTimers(): void {
    for (const t of this.#timers) clearInterval(t);
    this.#timers = [];
  }

  async leave(): Promise<void> {
    await this.#deps.bus?.close();
  }

  #onMessage(message: BusMessage, apiKeys: ApiKeyCache): void {
    if (message.type === 'revoked') {
      const now = this.#deps.clock.now();
      for (const r of message.revocations) {
        if (typeof r?.sessionId === 'string' && typeof r.revokedAt === 'number')
          this.denylist.add(r.sessionId, r.revokedAt, now, r.reason === 'theft');
      }
    } else if (message.type === 'keys-changed') {
      void this.#reloadKeys();
    } else if (message.type === 'api-keys-changed') {
      apiKeys.invalidate(message.keyIds);
    } else if (message.type === 'service-keys-changed') {
      this.#deps.events.emit('service_key.changed', { keyIds: message.keyIds, at: new Date(this.#deps.clock.now()) });
    } else if (message.type === 'claims-changed') {
      this.claimsChanged(message.epochs);
    }
  }

  async #catchUp(apiKeys: ApiKeyCache): Promise<void> {
    // Key changes announced while the bus was down are unknown: forget every cached key.
    apiKeys.invalidateAll();
    this.#deps.events.emit('service_key.changed', { keyIds: null, at: new Date(this.#deps.clock.now()) });
    try {
      await Promise.all([this.syncRevocations(), this.#reloadKeys()]);
    } catch (error) {
      this.#deps.events.emit('error', { error, during: 'catch-up after bus reconnect' });
    }
  }

  async #reloadKeys(): Promise<void> {
    try {
      await this.#deps.ring.load(await this.#deps.store.listSigningKeys());
    } catch (error) {
      this.#deps.events.emit('error', { error, during: 'key reload' });
    }
  }
}
