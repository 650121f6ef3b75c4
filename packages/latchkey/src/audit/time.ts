/**
 * Reading the time bounds of an audit query as people and HTTP clients write them: an ISO 8601 instant
 * (`2026-12-01T10:00:00Z`, the service contract's time format) or a span back from now (`24h`, `7d`,
 * `30m`, `90s`), which is what an operator types during an incident. Anything else is an
 * {@link InvalidAuditQueryError} naming the parameter, never a silently open range.
 */
import { InvalidAuditQueryError } from './query.js';

const SPAN = /^(\d{1,9})(s|m|h|d)$/;
const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
/** A full date and time with an explicit zone: a zoneless time would be read in the server's zone. */
const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;

/** Epoch ms of `text`, relative spans counted back from `now`. */
export function parseAuditTime(field: string, text: string, now: number): number {
  const span = SPAN.exec(text);
  if (span) return Math.max(0, now - Number(span[1]) * UNIT_MS[span[2] as keyof typeof UNIT_MS]);
  const ms = ISO_INSTANT.test(text) ? Date.parse(text) : Number.NaN;
  if (!Number.isSafeInteger(ms) || ms < 0)
    throw new InvalidAuditQueryError(
      field,
      `${field} must be an ISO 8601 time with a zone (2026-12-01T10:00:00Z) or a span like 24h, 7d, 30m`,
    );
  return ms;
}
