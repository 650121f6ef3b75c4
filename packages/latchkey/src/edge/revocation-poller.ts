/**
 * Keeps an edge verifier's denylist current from the issuer's revocation feed (revocation/feed.ts).
 * An edge function cannot hold a Redis subscription, and in most edge runtimes a timer outlives no
 * request, so the feed is polled on demand: a verification that finds the last successful poll older
 * than the interval waits for a new one (concurrent verifications share it). That is what makes the
 * documented bound hold: a session revoked at the issuer is refused within one poll interval (plus
 * the feed's own response time), never later.
 *
 * A feed that cannot be read leaves the verifier unable to keep that promise, so verification fails
 * closed (`STORE_UNAVAILABLE`, answered 503) until a poll succeeds again; failed polls are retried at
 * most once a second, so an outage does not turn every request into a fetch.
 */
import { StoreUnavailableError } from '../errors.js';
import { ClaimsEpochs } from '../revocation/claims-epochs.js';
import { RevocationDenylist } from '../revocation/denylist.js';
import { parseRevocationFeed } from '../revocation/feed.js';

export interface RevocationPollerSettings {
  url: URL;
  credential: string;
  intervalMs: number;
  /** The verifier's own retention: access TTL plus tolerance, ms. The feed's own, when longer, wins. */
  retainMs: number;
  timeoutMs: number;
  fetch: typeof fetch;
}

const RETRY_AFTER_FAILURE_MS = 1000;

export class RevocationPoller {
  readonly #settings: RevocationPollerSettings;
  #denylist: RevocationDenylist | undefined;
  /** Claims epochs from the feed (issue 16): tokens minted before their user's or session's must refresh. */
  #epochs: ClaimsEpochs | undefined;
  #cursor: number | undefined;
  #etag: string | undefined;
  #lastSuccess = Number.NEGATIVE_INFINITY;
  #lastFailure = Number.NEGATIVE_INFINITY;
  #inflight: Promise<void> | undefined;

  constructor(settings: RevocationPollerSettings) {
    this.#settings = settings;
  }

  /** Resolves once the denylist is at most one interval old; throws STORE_UNAVAILABLE when it cannot be made so. */
  async ensureFresh(now: number): Promise<void> {
    if (now - this.#lastSuccess < this.#settings.intervalMs) return;
    if (this.#inflight === undefined && now - this.#lastFailure < RETRY_AFTER_FAILURE_MS) {
      throw new StoreUnavailableError('the revocation feed could not be read');
    }
    this.#inflight ??= this.#poll(now).finally(() => {
      this.#inflight = undefined;
    });
    await this.#inflight;
  }

  denied(sessionId: string): 'theft' | 'revoked' | undefined {
    return this.#denylist?.denied(sessionId);
  }

  /** True when the session's claims changed after a token of it minted at `mintedAt` (ms). */
  claimsStale(userId: string, sessionId: string, mintedAt: number): boolean {
    return this.#epochs?.stale(userId, sessionId, mintedAt) ?? false;
  }

  /** Entries held (for tests and metrics). */
  get size(): number {
    return this.#denylist?.size ?? 0;
  }

  async #poll(now: number): Promise<void> {
    const { url, credential, timeoutMs } = this.#settings;
    const target = new URL(url);
    if (this.#cursor !== undefined) target.searchParams.set('since', String(this.#cursor));
    const headers: Record<string, string> = { authorization: `Bearer ${credential}`, accept: 'application/json' };
    if (this.#etag !== undefined) headers['if-none-match'] = this.#etag;
    try {
      const response = await this.#settings.fetch(target.href, { headers, redirect: 'manual', signal: AbortSignal.timeout(timeoutMs) });
      if (response.status === 304) {
        await response.body?.cancel();
        this.#lastSuccess = now;
        return;
      }
      if (response.status !== 200) {
        await response.body?.cancel();
        throw new Error(`revocation feed answered ${response.status}`);
      }
      const feed = parseRevocationFeed(await response.json());
      if (feed === null) throw new Error('revocation feed answered an unexpected shape');
      const retainMs = Math.max(this.#settings.retainMs, feed.retainSeconds * 1000);
      this.#denylist ??= new RevocationDenylist(retainMs, now);
      for (const entry of feed.revocations) this.#denylist.add(entry.sid, entry.at, now, entry.theft === true);
      this.#denylist.prune(now);
      this.#epochs ??= new ClaimsEpochs(retainMs);
      for (const e of feed.claimsEpochs ?? []) this.#epochs.add(e.kind, e.id, e.at, now);
      this.#epochs.prune(now);
      this.#cursor = feed.cursor;
      this.#etag = response.headers.get('etag') ?? undefined;
      this.#lastSuccess = now;
    } catch (cause) {
      this.#lastFailure = now;
      throw new StoreUnavailableError('the revocation feed could not be read', { cause });
    }
  }
}
