/**
 * The in-memory audit store: for tests, the demo and single-process apps that accept losing the log on
 * restart. Same contract as the SQL stores (test/audit/contract.ts).
 */
import { encodeAuditCursor, normaliseAuditQuery } from './query.js';
import type { AuditEvent, AuditPage, AuditQuery, AuditStore } from './types.js';

/** Newest first: time descending, then id descending. */
function newerFirst(a: AuditEvent, b: AuditEvent): number {
  return b.at - a.at || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);
}

export class MemoryAuditStore implements AuditStore {
  #events: AuditEvent[] = [];

  async migrate(): Promise<void> {}

  async append(events: readonly AuditEvent[]): Promise<void> {
    // All or nothing, like the SQL stores' primary key: a duplicate id fails the whole batch.
    const ids = new Set(this.#events.map((e) => e.id));
    for (const event of events) {
      if (ids.has(event.id)) throw new Error('duplicate audit event id');
      ids.add(event.id);
    }
    // Copies, so that a caller mutating its objects cannot rewrite the log (append-only).
    for (const event of events) this.#events.push(structuredClone(event));
  }

  async query(query: AuditQuery): Promise<AuditPage> {
    const q = normaliseAuditQuery(query);
    const matches = this.#events
      .filter(
        (e) =>
          (q.userId === undefined || e.userId === q.userId) &&
          (q.sessionId === undefined || e.sessionId === q.sessionId) &&
          (q.types === undefined || q.types.includes(e.type)) &&
          (q.since === undefined || e.at >= q.since) &&
          (q.until === undefined || e.at < q.until) &&
          (q.after === undefined || e.at < q.after.at || (e.at === q.after.at && e.id < q.after.id)),
      )
      .sort(newerFirst);
    const page = matches.slice(0, q.limit).map((e) => structuredClone(e));
    const last = page.at(-1);
    return { events: page, nextCursor: matches.length > q.limit && last ? encodeAuditCursor(last) : null };
  }

  async deleteBefore(before: number): Promise<number> {
    const kept = this.#events.filter((e) => e.at >= before);
    const deleted = this.#events.length - kept.length;
    this.#events = kept;
    return deleted;
  }

  async close(): Promise<void> {}
}
