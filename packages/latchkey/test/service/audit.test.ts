/**
 * GET /v1/audit on a real service over SQLite and PostgreSQL: what an operator asks during an incident
 * (a user's events since yesterday, one session's, only thefts), cursor pagination, the contract's
 * errors and authentication, retention through the engine's cleanup job, and the log surviving a restart.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { postgresAvailable } from '../helpers/postgres.js';
import { startTestService, testClock, type TestService } from './helpers.js';
import { createTestDatabase, type TestDatabase } from './pg-database.js';

const pgAvailable = await postgresAvailable();

const victim = { userAgent: 'Victim/1.0 <script>alert(1)</script>', ip: '203.0.113.7' };
const thief = { userAgent: 'Thief/6.6', ip: '198.51.100.66' };

/** A sign-in, two refreshes, a theft (the victim's first token replayed by the thief) and another user. */
async function incident(t: TestService): Promise<{ sessionId: string }> {
  const created = await t.call('POST', '/v1/sessions', { body: { userId: 'alice', device: victim } });
  const next = await t.call('POST', '/v1/sessions/refresh', { body: { refreshToken: created.json.refreshToken, device: victim } });
  await t.call('POST', '/v1/sessions/refresh', { body: { refreshToken: next.json.refreshToken, device: victim } });
  t.clock!.advance(60_000);
  const theft = await t.call('POST', '/v1/sessions/refresh', { body: { refreshToken: created.json.refreshToken, device: thief } });
  expect(theft.json.error.code).toBe('TOKEN_THEFT_DETECTED');
  await t.call('POST', '/v1/sessions', { body: { userId: 'bob' } });
  await t.service.audit.flush();
  return { sessionId: created.json.session.id };
}

for (const backend of ['SQLite', 'PostgreSQL'] as const) {
  describe.skipIf(backend === 'PostgreSQL' && !pgAvailable)(`GET /v1/audit (${backend})`, () => {
    let t: TestService | undefined;
    let db: TestDatabase | undefined;
    afterEach(async () => {
      await t?.close();
      await db?.drop();
      t = undefined;
      db = undefined;
    });
    const start = async (env: Record<string, string> = {}) => {
      if (backend === 'PostgreSQL') db ??= await createTestDatabase('lk_audit');
      t = await startTestService({ clock: testClock(), env: { ...(db ? { LATCHKEY_STORE: db.url } : {}), ...env } });
      return t;
    };

    it("answers a user's events newest first, with device, IP and both sides of the theft", async () => {
      const s = await start();
      const { sessionId } = await incident(s);
      const reply = await s.call('GET', '/v1/audit?user=alice&since=24h');
      expect(reply.status).toBe(200);
      expect(reply.headers.get('cache-control')).toBe('no-store');
      const events = reply.json.events as Array<Record<string, any>>;
      expect(events.map((e) => [e.type, e.count])).toEqual([
        ['session.theft_detected', 1],
        ['session.revoked', 1],
        ['session.refreshed', 2],
        ['session.created', 1],
      ]);
      expect(events.every((e) => e.userId === 'alice' && e.sessionId === sessionId)).toBe(true);
      expect(events[3]).toMatchObject({ actor: 'user', device: victim.userAgent, ip: victim.ip, at: expect.stringMatching(/Z$/) });
      expect(events[0]).toMatchObject({
        actor: 'system',
        device: thief.userAgent,
        ip: thief.ip,
        details: { sessionDevice: victim.userAgent, sessionIp: victim.ip },
      });
      expect(reply.json.nextCursor).toBeNull();

      const thefts = await s.call('GET', '/v1/audit?type=session.theft_detected,session.revoked');
      expect(thefts.json.events.map((e: { type: string }) => e.type)).toEqual(['session.theft_detected', 'session.revoked']);
      const bySession = await s.call('GET', `/v1/audit?session=${sessionId}&type=session.created`);
      expect(bySession.json.events).toHaveLength(1);
      // A window that ends before anything happened.
      const before = await s.call('GET', `/v1/audit?until=${encodeURIComponent(new Date(Date.now() - 3_600_000).toISOString())}`);
      expect(before.json.events).toEqual([]);
    });

    it('pages through everything with the cursor, each event once', async () => {
      const s = await start();
      await incident(s);
      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const reply: Awaited<ReturnType<TestService['call']>> = await s.call(
          'GET',
          `/v1/audit?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
        );
        expect(reply.status).toBe(200);
        expect(reply.json.events.length).toBeLessThanOrEqual(2);
        seen.push(...reply.json.events.map((e: { id: string }) => e.id));
        cursor = reply.json.nextCursor;
        pages++;
      } while (cursor !== null && pages < 10);
      expect(seen).toHaveLength(5);
      expect(new Set(seen).size).toBe(5);
      expect(pages).toBe(3);
    });

    it('refuses bad parameters with 400 INVALID_REQUEST naming them, and callers without a service key with 401', async () => {
      const s = await start();
      for (const [query, field] of [
        ['type=session.exploded', 'type'],
        ['since=yesterday', 'since'],
        ['until=2026-12-01T10:00:00', 'until'],
        ['limit=0', 'limit'],
        ['limit=1001', 'limit'],
        ['limit=ten', 'limit'],
        ['cursor=not-a-cursor', 'cursor'],
        [`user=${'u'.repeat(300)}`, 'user'],
      ] as const) {
        const reply = await s.call('GET', `/v1/audit?${query}`);
        expect(reply.status, query).toBe(400);
        expect(reply.json.error, query).toMatchObject({ code: 'INVALID_REQUEST', field });
      }
      const anonymous = await s.call('GET', '/v1/audit', { auth: null });
      expect(anonymous.status).toBe(401);
      expect(anonymous.json.error.code).toBe('INVALID_API_KEY');
      expect((await s.call('GET', '/v1/audit', { auth: 'wrong-key-0123456789-abcdefghijklmnop' })).status).toBe(401);
      const post = await s.call('POST', '/v1/audit', { body: {} });
      expect(post.status).toBe(405);
      expect(post.headers.get('allow')).toBe('GET, HEAD');
    });

    it("deletes events past LATCHKEY_AUDIT_RETENTION_DAYS in the engine's cleanup", async () => {
      const s = await start({ LATCHKEY_AUDIT_RETENTION_DAYS: '1' });
      await s.call('POST', '/v1/sessions', { body: { userId: 'old' } });
      await s.service.audit.flush();
      s.clock!.advance(2 * 86_400_000);
      await s.call('POST', '/v1/sessions', { body: { userId: 'new' } });
      await s.service.audit.flush();
      await s.service.engine.cleanup();
      const events = (await s.call('GET', '/v1/audit')).json.events as Array<{ userId: string }>;
      expect(events.map((e) => e.userId)).toEqual(['new']);
    });
  });
}

describe('the audit log across a restart (SQLite)', () => {
  it('keeps what was buffered at shutdown: close() writes it', async () => {
    const first = await startTestService({ clock: testClock() });
    await first.call('POST', '/v1/sessions', { body: { userId: 'carol' } });
    // No flush: an orderly shutdown must write the buffer itself.
    await first.service.close();
    const { loadServiceConfig, silentLogger, startService } = await import('latchkey/service');
    const { join } = await import('node:path');
    const again = await startService({
      config: loadServiceConfig({
        PORT: '0',
        LATCHKEY_STORE: `sqlite:${join(first.dir, 'latchkey.db')}`,
        LATCHKEY_SECRET_FILE: join(first.dir, 'secret.key'),
        LATCHKEY_API_KEYS: 'test-api-key-0123456789-abcdefghijklmnop',
      }),
      logger: silentLogger,
      defaultMetrics: false,
    });
    try {
      const res = await fetch(`${again.url}/v1/audit?user=carol`, {
        headers: { authorization: 'Bearer test-api-key-0123456789-abcdefghijklmnop' },
      });
      const body = (await res.json()) as { events: Array<{ type: string }> };
      expect(body.events.map((e) => e.type)).toEqual(['session.created']);
    } finally {
      await again.close();
      await first.close();
    }
  });
});
