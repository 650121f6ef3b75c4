/**
 * The wire format of bus messages, shared by every bus (Redis, PostgreSQL NOTIFY): versioned JSON.
 *
 * Whatever arrives on a channel is untrusted input (anyone with access to the broker can publish),
 * so it is parsed defensively: a malformed message, or a malformed entry in an otherwise valid one,
 * is dropped, never thrown. The worst a forged message can do is deny a session or trigger a key
 * reload from the store; nothing received can make a token acceptable.
 */
import type { BusMessage } from './bus.js';

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
  const m = value as { v?: unknown; type?: unknown; revocations?: unknown };
  if (m.v !== WIRE_VERSION) return null;
  if (m.type === 'keys-changed') return { type: 'keys-changed' };
  if (m.type !== 'revoked' || !Array.isArray(m.revocations)) return null;
  const revocations: Array<{ sessionId: string; revokedAt: number }> = [];
  for (const r of m.revocations as unknown[]) {
    const { sessionId, revokedAt } = (r ?? {}) as { sessionId?: unknown; revokedAt?: unknown };
    if (typeof sessionId === 'string' && typeof revokedAt === 'number' && Number.isFinite(revokedAt)) {
      revocations.push({ sessionId, revokedAt });
    }
  }
  return revocations.length > 0 ? { type: 'revoked', revocations } : null;
}
