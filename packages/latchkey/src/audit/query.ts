/**
 * What every audit store shares about a query: validating it, and the opaque cursor. The cursor is the
 * (at, id) of the last event of a page, so a page boundary is stable while new events are appended
 * (keyset pagination: no OFFSET that shifts under concurrent writes).
 */
import { LatchkeyError } from '../errors.js';
import { AUDIT_EVENT_TYPES, type AuditQuery } from './types.js';

/** A malformed audit query (bad cursor, limit, time or type): code INVALID_REQUEST, `field` names the part. */
export class InvalidAuditQueryError extends LatchkeyError<'INVALID_REQUEST'> {
  readonly field: string;

  constructor(field: string, message: string) {
    super('INVALID_REQUEST', message);
    this.field = field;
  }
}

export const DEFAULT_AUDIT_LIMIT = 100;
export const MAX_AUDIT_LIMIT = 1000;

export interface AuditCursor {
  at: number;
  id: string;
}

export interface NormalisedAuditQuery {
  userId: string | undefined;
  sessionId: string | undefined;
  types: readonly string[] | undefined;
  since: number | undefined;
  until: number | undefined;
  limit: number;
  after: AuditCursor | undefined;
}

export function encodeAuditCursor(cursor: AuditCursor): string {
  return Buffer.from(JSON.stringify([cursor.at, cursor.id]), 'utf8').toString('base64url');
}

export function decodeAuditCursor(text: string): AuditCursor {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    throw new InvalidAuditQueryError('cursor', 'audit cursor is not one this server issued');
  }
  if (
    !Array.isArray(parsed) ||
    parsed.length !== 2 ||
    !Number.isSafeInteger(parsed[0]) ||
    typeof parsed[1] !== 'string' ||
    parsed[1].length > 64
  ) {
    throw new InvalidAuditQueryError('cursor', 'audit cursor is not one this server issued');
  }
  return { at: parsed[0] as number, id: parsed[1] };
}

function time(name: string, value: number | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!Number.isSafeInteger(value) || value < 0) throw new InvalidAuditQueryError(name, `audit ${name} must be epoch milliseconds`);
  return value;
}

export function normaliseAuditQuery(query: AuditQuery): NormalisedAuditQuery {
  const limit = query.limit ?? DEFAULT_AUDIT_LIMIT;
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_AUDIT_LIMIT)
    throw new InvalidAuditQueryError('limit', `audit limit must be 1..${MAX_AUDIT_LIMIT}`);
  for (const type of query.types ?? []) {
    if (!AUDIT_EVENT_TYPES.includes(type)) throw new InvalidAuditQueryError('type', 'unknown audit event type');
  }
  return {
    userId: query.userId,
    sessionId: query.sessionId,
    types: query.types && query.types.length > 0 ? query.types : undefined,
    since: time('since', query.since),
    until: time('until', query.until),
    limit,
    after: query.cursor === undefined ? undefined : decodeAuditCursor(query.cursor),
  };
}
