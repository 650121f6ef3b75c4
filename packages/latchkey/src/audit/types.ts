/**
 * The security audit log's record and its store contract. Kept apart from `SessionStore` so that an
 * app opts in (an audit table is a retention and privacy decision) and so that the log can live in
 * another database than the sessions. Records carry ids, reasons and times: never a token or a secret.
 */

/** What happened. One type per engine event that matters to an operator. */
export type AuditEventType =
  | 'session.created'
  | 'session.refreshed'
  | 'session.revoked'
  | 'session.theft_detected'
  | 'session.binding_mismatch'
  | 'session.device_bound'
  | 'keys.rotated'
  | 'api_key.created'
  | 'api_key.revoked'
  | 'api_key.rotated'
  | 'api_key.rejected'
  /** An operator's action in the admin console (sign-in, revocation, key rotation); `reason` names it, actor `admin`. */
  | 'admin.action';

export const AUDIT_EVENT_TYPES: readonly AuditEventType[] = [
  'session.created',
  'session.refreshed',
  'session.revoked',
  'session.theft_detected',
  'session.binding_mismatch',
  'session.device_bound',
  'keys.rotated',
  'api_key.created',
  'api_key.revoked',
  'api_key.rotated',
  'api_key.rejected',
  'admin.action',
];

/** Who caused it: the user (sign-in, sign-out), an operator (admin revocation), or latchkey itself (theft, rotation). */
export type AuditActor = 'user' | 'admin' | 'system';

export interface AuditEvent {
  /** Unique, and the tie-breaker of the order (time, then id). */
  id: string;
  type: AuditEventType;
  /** Epoch ms of the event; for an aggregated refresh row, the LAST refresh. */
  at: number;
  userId: string | null;
  sessionId: string | null;
  actor: AuditActor;
  /** Why (a revocation or rejection reason, a theft reason), or null. */
  reason: string | null;
  /**
   * The User-Agent and IP the event came with, when the caller gave them (`device` of `createSession`
   * and `refresh`). For a theft, the request that replayed the old token; the session's own device is
   * in `details.sessionDevice` and `details.sessionIp`. Attacker-controlled text: escape it when shown.
   */
  device: string | null;
  ip: string | null;
  /**
   * How many events this row stands for: refreshes of one session inside one write batch are folded
   * into one row (count, firstAt, at = last). 1 for every other type.
   */
  count: number;
  /** Epoch ms of the first event folded into this row (equals `at` when count is 1). */
  firstAt: number;
  /** Small structured details (key ids, grace flag, ms since rotation). Never a secret. */
  details: Record<string, string | number | boolean | null>;
}

export interface AuditQuery {
  userId?: string | undefined;
  sessionId?: string | undefined;
  types?: readonly AuditEventType[] | undefined;
  /** Inclusive lower bound, epoch ms. */
  since?: number | undefined;
  /** Exclusive upper bound, epoch ms. */
  until?: number | undefined;
  /** Page size, 1..1000. Default 100. */
  limit?: number | undefined;
  /** The `nextCursor` of the previous page. */
  cursor?: string | undefined;
}

export interface AuditPage {
  /** Newest first. */
  events: AuditEvent[];
  /** Pass as `cursor` for the next (older) page; null on the last page. */
  nextCursor: string | null;
}

export interface AuditStore {
  /** Creates the table and indexes if missing. Idempotent. */
  migrate(): Promise<void>;
  /** Appends the events atomically (all or none). Append-only: nothing updates a stored event. */
  append(events: readonly AuditEvent[]): Promise<void>;
  query(query: AuditQuery): Promise<AuditPage>;
  /** Deletes events with `at` before `before` (retention). Returns how many. */
  deleteBefore(before: number): Promise<number>;
  close(): Promise<void>;
}
