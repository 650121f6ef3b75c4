/**
 * The SQL both audit drivers share: the filter and keyset-pagination WHERE clause (placeholders differ:
 * `?` for SQLite, `$n` for PostgreSQL) and the row mapping. One place, so the two cannot drift apart.
 */
import { encodeAuditCursor, type NormalisedAuditQuery } from './query.js';
import type { AuditActor, AuditEvent, AuditEventType, AuditPage } from './types.js';

export const AUDIT_COLUMNS = 'id, type, at, user_id, session_id, actor, reason, device, ip, count, first_at, details';

export interface AuditWhere {
  sql: string;
  params: unknown[];
}

/** WHERE ... ORDER BY ... LIMIT for a normalised query; fetches limit + 1 rows to know whether a next page exists. */
export function auditSelect(table: string, q: NormalisedAuditQuery, placeholder: (index: number) => string): AuditWhere {
  const clauses: string[] = [];
  const params: unknown[] = [];
  const p = (value: unknown): string => {
    params.push(value);
    return placeholder(params.length);
  };
  if (q.userId !== undefined) clauses.push(`user_id = ${p(q.userId)}`);
  if (q.sessionId !== undefined) clauses.push(`session_id = ${p(q.sessionId)}`);
  if (q.types !== undefined) clauses.push(`type IN (${q.types.map((t) => p(t)).join(', ')})`);
  if (q.since !== undefined) clauses.push(`at >= ${p(q.since)}`);
  if (q.until !== undefined) clauses.push(`at < ${p(q.until)}`);
  if (q.after !== undefined) {
    const at = p(q.after.at);
    clauses.push(`(at < ${at} OR (at = ${p(q.after.at)} AND id < ${p(q.after.id)}))`);
  }
  const where = clauses.length > 0 ? ` WHERE ${clauses.join(' AND ')}` : '';
  return { sql: `SELECT ${AUDIT_COLUMNS} FROM ${table}${where} ORDER BY at DESC, id DESC LIMIT ${p(q.limit + 1)}`, params };
}

export type AuditRow = Record<string, unknown>;

export function auditValues(e: AuditEvent): unknown[] {
  return [e.id, e.type, e.at, e.userId, e.sessionId, e.actor, e.reason, e.device, e.ip, e.count, e.firstAt, JSON.stringify(e.details)];
}

export function auditFromRow(row: AuditRow): AuditEvent {
  return {
    id: String(row['id']),
    type: row['type'] as AuditEventType,
    at: Number(row['at']),
    userId: (row['user_id'] as string | null) ?? null,
    sessionId: (row['session_id'] as string | null) ?? null,
    actor: row['actor'] as AuditActor,
    reason: (row['reason'] as string | null) ?? null,
    device: (row['device'] as string | null) ?? null,
    ip: (row['ip'] as string | null) ?? null,
    count: Number(row['count']),
    firstAt: Number(row['first_at']),
    details: JSON.parse(String(row['details'])) as AuditEvent['details'],
  };
}

export function auditPage(rows: readonly AuditRow[], limit: number): AuditPage {
  const events = rows.slice(0, limit).map(auditFromRow);
  const last = events.at(-1);
  return { events, nextCursor: rows.length > limit && last ? encodeAuditCursor(last) : null };
}
