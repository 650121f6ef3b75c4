/**
 * The wire format of bus messages, shared by every bus (Redis, PostgreSQL NOTIFY): versioned JSON.
 *
 * Whatever arrives on a channel is untrusted input (anyone with access to the broker can publish),
 * so it is parsed defensively: a malformed message, or a malformed entry in an otherwise valid one,
 * is dropped, never thrown. The worst a forged message can do is deny a session (and, with
 * `reason: "theft"`, make its holders be told it was stolen) or trigger a key reload from the store;
 * nothing received can make a token acceptable.
 *
 * Compatibility: `reason` on a revocation was added within version 1. Older releases ignore it (they
 * read `sessionId` and `revokedAt` only), and a revocation without it is still honoured here, so
 * instances of both releases can share one channel during an upgrade.
 */
import { REVOCATION_REASONS, type RevocationReason } from '../types.js';
import type { BusMessage, BusRevocation, ClaimsEpoch } from './bus.js';

/** Wire format version; a message without it (or from a future version) is ignored. */
export const WIRE_VERSION = 1;
/** Largest message parsed, characters: a flood of junk must not cost more than a length check. */
const MAX_MESSAGE_LENGTH = 1_000_000;

export function encodeBusMessage(message: BusMessage): string {
  return JSON.stringify({ v: WIRE_VERSION, ...message });
}

/** Returns the message if `raw` is a well-formed bus message, else null. Never throws. */
export function parseBusMessage(raw: string): BusMessage | null {
  if (raw.length > MAX_MESSAGE_LENGTH) return null;
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null) return null;
  const m = value as { v?: unknown; type?: unknown; revocations?: unknown; keyIds?: unknown };
  if (m.v !== WIRE_VERSION) return null;
  if (m.type === 'keys-changed') return { type: 'keys-changed' };
  if (m.type === 'api-keys-changed' || m.type === 'service-keys-changed') {
    // At most a cache miss per id comes of a forged one: the store stays the source of truth.
    const keyIds = Array.isArray(m.keyIds) ? (m.keyIds as unknown[]).filter((id): id is string => typeof id === 'string' && id.length <= 64) : [];
    return keyIds.length > 0 ? { type: m.type, keyIds } : null;
  }
  if (m.type === 'claims-changed') return parseClaimsChanged((value as { epochs?: unknown }).epochs);
  if (m.type !== 'revoked' || !Array.isArray(m.revocations)) return null;
  const revocations: BusRevocation[] = [];
  for (const r of m.revocations as unknown[]) {
    const { sessionId, revokedAt, reason } = (r ?? {}) as { sessionId?: unknown; revokedAt?: unknown; reason?: unknown };
    if (typeof sessionId === 'string' && typeof revokedAt === 'number' && Number.isFinite(revokedAt)) {
      // An unknown reason (a newer release's) still revokes; it is just not claimed to be theft.
      const known = (REVOCATION_REASONS as readonly unknown[]).includes(reason);
      revocations.push(known ? { sessionId, revokedAt, reason: reason as RevocationReason } : { sessionId, revokedAt });
    }
  }
  return revocations.length > 0 ? { type: 'revoked', revocations } : null;
}

/** A forged epoch can only make clients refresh: ids are bounded in length, times must be finite. */
function parseClaimsChanged(raw: unknown): BusMessage | null {
  if (!Array.isArray(raw)) return null;
  const epochs: ClaimsEpoch[] = [];
  for (const e of raw as unknown[]) {
    const { userId, sessionId, at } = (e ?? {}) as { userId?: unknown; sessionId?: unknown; at?: unknown };
    if (typeof at !== 'number' || !Number.isFinite(at)) continue;
    if (typeof userId === 'string' && userId.length <= 255) epochs.push({ userId, at });
    else if (typeof sessionId === 'string' && sessionId.length <= 128) epochs.push({ sessionId, at });
  }
  return epochs.length > 0 ? { type: 'claims-changed', epochs } : null;
}
