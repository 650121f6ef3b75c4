/**
 * The revocation feed: a compact list of the sessions revoked recently enough that access tokens of
 * theirs may still be alive, for verifiers that cannot subscribe to the revocation bus (an edge
 * function has no Redis connection and no store). The HTTP layer and the service serve it
 * (`GET <base>/revocations`, `GET /v1/revocations`); `latchkey/edge` polls it.
 *
 * Only revocations younger than the access-token TTL plus the clock tolerance are listed: an older
 * one denies nothing, since every token of that session has expired. So the feed's size is bounded
 * by the revocation rate over one TTL, whatever the history. `since=` (the `cursor` of the previous
 * answer) narrows it to what is new, looking back by the clock tolerance like an instance catching up
 * from the store, since another instance's clock may lag ours. An entry may so appear twice; adding
 * one twice to a denylist changes nothing.
 *
 * The answer carries a strong ETag (SHA-256 of the body, WebCrypto), so a poller with nothing new
 * gets `304 Not Modified` and no body.
 *
 * Web standards only: the edge verifier imports the wire types and the parser from here.
 */
import { base64url } from 'jose';
import type { SessionStore } from '../stores/types.js';

/** One revoked session: its id, when it was revoked (ms since the epoch), and whether for theft. */
export interface RevocationFeedEntry {
  sid: string;
  at: number;
  theft?: true;
}

/** A claims epoch (claims-epochs.ts): tokens of this user or session minted before `at` (ms) must refresh. */
export interface ClaimsEpochFeedEntry {
  kind: 'user' | 'session';
  id: string;
  at: number;
}

/** The feed's JSON body. */
export interface RevocationFeed {
  revocations: RevocationFeedEntry[];
  /**
   * Claims epochs (issue 16) of the same window, when the store keeps them and there are any: a
   * verifier answers a token minted before its user's or session's epoch `TRY_REFRESH_TOKEN`.
   */
  claimsEpochs?: ClaimsEpochFeedEntry[];
  /** Pass as `since=` on the next poll: the newest revocation time seen (ms since the epoch). */
  cursor: number;
  /** How long after its revocation an entry must still deny tokens (the issuer's access TTL plus tolerance), seconds. */
  retainSeconds: number;
}

export interface RevocationFeedSettings {
  accessTokenTtlSeconds: number;
  clockToleranceSeconds: number;
}

/** `since` must be a non-negative integer of milliseconds; anything else is refused before the store is asked. */
const SINCE = /^\d{1,16}$/;

/** Parses `since=`: undefined when absent, null when malformed (answer 400). */
export function parseFeedSince(value: string | null | undefined): number | undefined | null {
  if (value === null || value === undefined) return undefined;
  if (!SINCE.test(value)) return null;
  const since = Number(value);
  return Number.isSafeInteger(since) ? since : null;
}

export async function readRevocationFeed(
  store: Pick<SessionStore, 'listRevocationsSince' | 'listClaimsEpochsSince'>,
  settings: RevocationFeedSettings,
  since: number | undefined,
  now: number,
): Promise<RevocationFeed> {
  const retainMs = (settings.accessTokenTtlSeconds + settings.clockToleranceSeconds) * 1000;
  const oldestRelevant = now - retainMs;
  const from =
    since === undefined ? oldestRelevant : Math.max(oldestRelevant, Math.min(since, now) - settings.clockToleranceSeconds * 1000);
  const found = await store.listRevocationsSince(from);
  let cursor = since === undefined ? from : Math.min(since, now);
  const revocations: RevocationFeedEntry[] = [];
  for (const r of found) {
    if (r.revokedAt < from) continue;
    revocations.push(r.reason === 'theft' ? { sid: r.sessionId, at: r.revokedAt, theft: true } : { sid: r.sessionId, at: r.revokedAt });
    if (r.revokedAt > cursor) cursor = r.revokedAt;
  }
  // Oldest first, and a stable order, so that equal content is an equal body and an equal ETag.
  revocations.sort((a, b) => a.at - b.at || (a.sid < b.sid ? -1 : a.sid > b.sid ? 1 : 0));
  const claimsEpochs: ClaimsEpochFeedEntry[] = [];
  for (const e of (await store.listClaimsEpochsSince?.(from)) ?? []) {
    if (e.at < from) continue;
    claimsEpochs.push({ kind: e.kind, id: e.id, at: e.at });
    if (e.at > cursor) cursor = e.at;
  }
  claimsEpochs.sort((a, b) => a.at - b.at || (a.kind < b.kind ? -1 : a.kind > b.kind ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const retainSeconds = settings.accessTokenTtlSeconds + settings.clockToleranceSeconds;
  // Only when there are any: a feed without them reads exactly as before (older verifiers, ETags).
  return claimsEpochs.length === 0 ? { revocations, cursor, retainSeconds } : { revocations, claimsEpochs, cursor, retainSeconds };
}

/** A strong entity tag for a feed body: the SHA-256 of its text. */
export async function feedEtag(body: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(body));
  return `"${base64url.encode(new Uint8Array(digest))}"`;
}

/** RFC 9110 §13.1.2: If-None-Match matches with the weak comparison, `*` matching any current representation. */
export function ifNoneMatchMatches(header: string | null | undefined, etag: string): boolean {
  if (header === null || header === undefined) return false;
  const opaque = etag.replace(/^W\//, '');
  return header.split(',').some((candidate) => {
    const tag = candidate.trim();
    return tag === '*' || tag.replace(/^W\//, '') === opaque;
  });
}

/**
 * Checks a feed answer from the network before a verifier trusts it to update its denylist: an
 * unexpected shape is refused whole (null), never half applied.
 */
export function parseRevocationFeed(value: unknown): RevocationFeed | null {
  if (typeof value !== 'object' || value === null) return null;
  const { revocations, cursor, retainSeconds, claimsEpochs } = value as Record<string, unknown>;
  if (
    !Array.isArray(revocations) ||
    !Number.isSafeInteger(cursor) ||
    !Number.isSafeInteger(retainSeconds) ||
    (retainSeconds as number) <= 0
  )
    return null;
  const entries: RevocationFeedEntry[] = [];
  for (const item of revocations as unknown[]) {
    if (typeof item !== 'object' || item === null) return null;
    const { sid, at, theft } = item as Record<string, unknown>;
    if (typeof sid !== 'string' || sid.length === 0 || sid.length > 128 || !Number.isSafeInteger(at)) return null;
    entries.push(theft === true ? { sid, at: at as number, theft: true } : { sid, at: at as number });
  }
  if (claimsEpochs === undefined) return { revocations: entries, cursor: cursor as number, retainSeconds: retainSeconds as number };
  if (!Array.isArray(claimsEpochs)) return null;
  const epochs: ClaimsEpochFeedEntry[] = [];
  for (const item of claimsEpochs as unknown[]) {
    if (typeof item !== 'object' || item === null) return null;
    const { kind, id, at } = item as Record<string, unknown>;
    if (
      (kind !== 'user' && kind !== 'session') ||
      typeof id !== 'string' ||
      id.length === 0 ||
      id.length > 255 ||
      !Number.isSafeInteger(at)
    )
      return null;
    epochs.push({ kind, id, at: at as number });
  }
  return { revocations: entries, claimsEpochs: epochs, cursor: cursor as number, retainSeconds: retainSeconds as number };
}
