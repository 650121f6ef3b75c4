/**
 * The AuditStore conformance suite: the same cases on every audit store (memory, SQLite, PostgreSQL)
 * on its real backend. A store is done when it passes this file unchanged.
 */
import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isLatchkeyError } from 'latchkey';
import type { AuditEvent, AuditStore } from 'latchkey/audit';

export interface AuditStoreHandle {
  store: AuditStore;
  dispose(): Promise<void>;
}

const T0 = 1_800_000_000_000;
let n = 0;

export function auditEvent(overrides: Partial<AuditEvent> = {}): AuditEvent {
  n += 1;
  const at = overrides.at ?? T0 + n;
  return {
    id: `${String(n).padStart(8, '0')}${randomBytes(4).toString('hex')}`,
    type: 'session.created',
    at,
    userId: 'u_1',
    sessionId: `s_${n}`,
    actor: 'user',
    reason: null,
    device: null,
    ip: null,
    count: 1,
    firstAt: at,
    details: {},
    ...overrides,
  };
}

export function auditStoreContract(name: string, open: () => Promise<AuditStoreHandle>): void {
  describe(`AuditStore contract: ${name}`, () => {
    let handle: AuditStoreHandle;
    let store: AuditStore;
    beforeEach(async () => {
      handle = await open();
      store = handle.store;
      await store.migrate();
      await store.migrate(); // idempotent
    });
    afterEach(async () => {
      await handle.dispose();
    });

    it('stores every field and gives it back unchanged', async () => {
      const event = auditEvent({
        type: 'session.theft_detected',
        actor: 'system',
        reason: 'rotated-out-replay',
        device: 'Firefox <script>',
        ip: '2001:db8::1',
        count: 3,
        firstAt: T0 - 5,
        details: { msSinceRotation: 1234, grace: false, kid: null, note: 'x' },
      });
      await store.append([event]);
      const page = await store.query({});
      expect(page.events).toEqual([event]);
      expect(page.nextCursor).toBeNull();
    });

    it('answers newest first, ties broken by id, and pages with a cursor without gaps or repeats', async () => {
      const events = Array.from({ length: 25 }, (_, i) => auditEvent({ at: T0 + Math.floor(i / 3) }));
      await store.append(events.slice(0, 10));
      await store.append(events.slice(10));
      const expected = [...events].sort((a, b) => b.at - a.at || (a.id < b.id ? 1 : -1)).map((e) => e.id);
      const seen: string[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const page = await store.query({ limit: 7, cursor });
        expect(page.events.length).toBeLessThanOrEqual(7);
        seen.push(...page.events.map((e) => e.id));
        cursor = page.nextCursor ?? undefined;
        pages += 1;
      } while (cursor !== undefined);
      expect(pages).toBe(4);
      expect(seen).toEqual(expected);
    });

    it('keeps a page boundary stable when newer events arrive between pages', async () => {
      await store.append(Array.from({ length: 6 }, (_, i) => auditEvent({ at: T0 + i })));
      const first = await store.query({ limit: 3 });
      await store.append([auditEvent({ at: T0 + 100 })]);
      const second = await store.query({ limit: 3, cursor: first.nextCursor ?? undefined });
      expect(second.events.map((e) => e.at)).toEqual([T0 + 2, T0 + 1, T0]);
      expect(second.nextCursor).toBeNull();
    });

    it('filters by user, session, type and time range (since inclusive, until exclusive)', async () => {
      await store.append([
        auditEvent({ userId: 'u_a', sessionId: 's_a', type: 'session.created', at: T0 + 10 }),
        auditEvent({ userId: 'u_a', sessionId: 's_a', type: 'session.revoked', actor: 'admin', reason: 'admin', at: T0 + 20 }),
        auditEvent({ userId: 'u_b', sessionId: 's_b', type: 'session.created', at: T0 + 30 }),
        auditEvent({ userId: null, sessionId: null, type: 'keys.rotated', actor: 'system', at: T0 + 40 }),
      ]);
      const ats = async (q: Parameters<AuditStore['query']>[0]) => (await store.query(q)).events.map((e) => e.at - T0);
      expect(await ats({ userId: 'u_a' })).toEqual([20, 10]);
      expect(await ats({ sessionId: 's_b' })).toEqual([30]);
      expect(await ats({ types: ['session.created'] })).toEqual([30, 10]);
      expect(await ats({ types: ['session.revoked', 'keys.rotated'] })).toEqual([40, 20]);
      expect(await ats({ since: T0 + 20, until: T0 + 40 })).toEqual([30, 20]);
      expect(await ats({ userId: 'u_a', types: ['session.created'], since: T0 + 11 })).toEqual([]);
      expect(await ats({ userId: "u_a' OR '1'='1" })).toEqual([]);
    });

    it('refuses a malformed query with a typed error and writes nothing', async () => {
      for (const bad of [
        { cursor: 'not-a-cursor' },
        { cursor: Buffer.from('[1,2]').toString('base64url') },
        { limit: 0 },
        { limit: 1001 },
        { since: -1 },
        { types: ['nope' as 'keys.rotated'] },
      ]) {
        const error: unknown = await store.query(bad).catch((e: unknown) => e);
        expect(isLatchkeyError(error) && error.code).toBe('INVALID_REQUEST');
      }
    });

    it('appends a batch all or nothing: a duplicate id fails the whole batch', async () => {
      const existing = auditEvent();
      await store.append([existing]);
      await expect(store.append([auditEvent(), { ...existing }])).rejects.toThrow();
      expect((await store.query({})).events.map((e) => e.id)).toEqual([existing.id]);
    });

    it('deletes only events before the retention bound', async () => {
      await store.append([auditEvent({ at: T0 - 2 }), auditEvent({ at: T0 - 1 }), auditEvent({ at: T0 }), auditEvent({ at: T0 + 1 })]);
      expect(await store.deleteBefore(T0)).toBe(2);
      expect((await store.query({})).events.map((e) => e.at)).toEqual([T0 + 1, T0]);
      expect(await store.deleteBefore(T0)).toBe(0);
    });
  });
}
