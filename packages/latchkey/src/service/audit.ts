/**
 * The audit log as the service and the CLI show it: the query parameters of `GET /v1/audit` (and the
 * CLI's flags, which are the same words) turned into an {@link AuditQuery}, and an event turned into
 * the contract's JSON (ISO 8601 times, as every time in ../shared/service-api.md).
 */
import { parseAuditTime } from '../audit/time.js';
import { InvalidAuditQueryError } from '../audit/query.js';
import { AUDIT_EVENT_TYPES, type AuditEvent, type AuditEventType, type AuditQuery } from '../audit/types.js';

/** The filters as given (query string or flags); every one optional. */
export interface AuditFilterInput {
  user?: string | undefined;
  session?: string | undefined;
  /** One type or several, comma-separated (`session.revoked,session.theft_detected`). */
  type?: string | undefined;
  since?: string | undefined;
  until?: string | undefined;
  cursor?: string | undefined;
  limit?: string | undefined;
}

/** Ids are bounded like everywhere else: a megabyte of `user=` is refused, not sent to the store. */
const MAX_ID_LENGTH = 256;

function id(field: string, value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (value === '' || value.length > MAX_ID_LENGTH)
    throw new InvalidAuditQueryError(field, `${field} must be 1-${MAX_ID_LENGTH} characters`);
  return value;
}

/** The filters as an AuditQuery; a bad one is an InvalidAuditQueryError naming it. */
export function auditQueryFrom(input: AuditFilterInput, now: number): AuditQuery {
  const types = input.type === undefined ? undefined : input.type.split(',');
  for (const type of types ?? []) {
    if (!AUDIT_EVENT_TYPES.includes(type as AuditEventType))
      throw new InvalidAuditQueryError('type', `type must be one of ${AUDIT_EVENT_TYPES.join(', ')}`);
  }
  let limit: number | undefined;
  if (input.limit !== undefined) {
    if (!/^\d{1,6}$/.test(input.limit)) throw new InvalidAuditQueryError('limit', 'limit must be a whole number');
    limit = Number(input.limit);
  }
  if (input.cursor !== undefined && (input.cursor === '' || input.cursor.length > 512))
    throw new InvalidAuditQueryError('cursor', 'audit cursor is not one this server issued');
  return {
    userId: id('user', input.user),
    sessionId: id('session', input.session),
    types: types as AuditEventType[] | undefined,
    since: input.since === undefined ? undefined : parseAuditTime('since', input.since, now),
    until: input.until === undefined ? undefined : parseAuditTime('until', input.until, now),
    limit,
    cursor: input.cursor,
  };
}

/** The contract's AuditEvent: the stored row with ISO 8601 times. */
export interface AuditEventBody {
  id: string;
  type: AuditEventType;
  at: string;
  firstAt: string;
  count: number;
  userId: string | null;
  sessionId: string | null;
  actor: AuditEvent['actor'];
  reason: string | null;
  device: string | null;
  ip: string | null;
  details: AuditEvent['details'];
}

export function auditEventToJson(event: AuditEvent): AuditEventBody {
  return {
    id: event.id,
    type: event.type,
    at: new Date(event.at).toISOString(),
    firstAt: new Date(event.firstAt).toISOString(),
    count: event.count,
    userId: event.userId,
    sessionId: event.sessionId,
    actor: event.actor,
    reason: event.reason,
    device: event.device,
    ip: event.ip,
    details: event.details,
  };
}
