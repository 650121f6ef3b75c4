/**
 * The audit recorder on a real engine: which engine events become which rows, the refresh folding,
 * batching (nothing written until a flush), the bounded buffer during a store outage, and retention.
 */
import { calculateThumbprint, generateKeyPair, generateProof } from 'dpop';
import { exportJWK, generateKeyPair as joseKeyPair, SignJWT } from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import { AuditRecorder, MemoryAuditStore, type AuditEvent, type AuditStore } from 'latchkey/audit';
import { FakeClock, testEngine } from '../helpers/engine.js';

const recorders: AuditRecorder[] = [];
afterEach(async () => {
  for (const r of recorders.splice(0)) await r.close();
});

async function setup(options: { store?: AuditStore; maxBatch?: number; maxBuffered?: number; aggregateRefreshes?: boolean } = {}) {
  const { lk, clock } = await testEngine();
  const store = options.store ?? new MemoryAuditStore();
  // A long interval: the tests flush by hand, so that batching is visible.
  const recorder = new AuditRecorder({ store, source: lk, clock, flushIntervalMs: 3_600_000, cleanupIntervalMs: 0, ...options });
  recorders.push(recorder);
  return { lk, clock, store, recorder };
}

const all = async (store: AuditStore): Promise<AuditEvent[]> => (await store.query({ limit: 1000 })).events.reverse();

describe('AuditRecorder', () => {
  it('records sign-in, refreshes (folded per session), theft and revocation with actor and reason, never a token', async () => {
    const { lk, clock, store, recorder } = await setup();
    const first = await lk.createSession({ userId: 'u_1' });
    clock.advance(1);
    const second = await lk.refresh(first.refreshToken);
    clock.advance(1);
    const third = await lk.refresh(second.refreshToken);
    clock.advance(60);
    // The first refresh token, replayed after the grace window: theft, and the session is revoked.
    await expect(lk.refresh(first.refreshToken)).rejects.toMatchObject({ code: 'TOKEN_THEFT_DETECTED' });
    expect(await all(store)).toEqual([]); // batched: nothing written before a flush
    await recorder.flush();
    const rows = await all(store);
    expect(rows.map((r) => [r.type, r.actor, r.reason, r.count])).toEqual([
      ['session.created', 'user', null, 1],
      ['session.refreshed', 'user', null, 2],
      // The engine revokes, then reports the theft, in the same millisecond; the log keeps that order.
      ['session.revoked', 'system', 'theft', 1],
      ['session.theft_detected', 'system', 'rotated-out-replay', 1],
    ]);
    const refreshed = rows[1]!;
    expect(refreshed.at - refreshed.firstAt).toBe(1000);
    expect(rows.every((r) => r.userId === 'u_1' && r.sessionId === first.session.id)).toBe(true);
    const text = JSON.stringify(rows);
    for (const token of [first.refreshToken, second.refreshToken, third.refreshToken, first.accessToken]) expect(text).not.toContain(token);
  });

  it("records an action given to record() (the admin console's) with its actor, at the clock's time, on the next flush", async () => {
    const { clock, store, recorder } = await setup();
    recorder.record({
      type: 'admin.action',
      actor: 'admin',
      reason: 'revoke-session',
      userId: 'u_9',
      sessionId: 's_9',
      ip: '192.0.2.1',
      details: { operator: 'alice' },
    });
    expect(recorder.pending).toBe(1);
    expect(await all(store)).toEqual([]);
    await recorder.flush();
    const [row] = await all(store);
    expect(row).toMatchObject({
      type: 'admin.action',
      actor: 'admin',
      reason: 'revoke-session',
      userId: 'u_9',
      sessionId: 's_9',
      ip: '192.0.2.1',
      device: null,
      count: 1,
    });
    expect(row!.details).toEqual({ operator: 'alice' });
    expect(row!.at).toBe(clock.now());
    expect(row!.firstAt).toBe(row!.at);
  });

  it('writes one row per refresh when folding is off', async () => {
    const { lk, store, recorder } = await setup({ aggregateRefreshes: false });
    let tokens = await lk.createSession({ userId: 'u_2' });
    for (let i = 0; i < 3; i++) tokens = await lk.refresh(tokens.refreshToken);
    await recorder.flush();
    expect((await all(store)).filter((r) => r.type === 'session.refreshed').map((r) => r.count)).toEqual([1, 1, 1]);
  });

  it('records an admin revocation as the admin and a key rotation as the system', async () => {
    const { lk, store, recorder } = await setup();
    const s = await lk.createSession({ userId: 'u_3' });
    await lk.revokeSession(s.session.id, 'admin');
    await lk.rotateKeys();
    await recorder.close();
    const rows = await all(store);
    expect(rows.find((r) => r.type === 'session.revoked')).toMatchObject({ actor: 'admin', reason: 'admin', userId: 'u_3' });
    expect(rows.find((r) => r.type === 'keys.rotated')).toMatchObject({
      actor: 'system',
      userId: null,
      details: { kid: expect.any(String) },
    });
  });

  it('writes at once when a batch is full, in batches of maxBatch', async () => {
    const appended: number[] = [];
    const inner = new MemoryAuditStore();
    const store: AuditStore = Object.assign(Object.create(inner) as AuditStore, {
      append: (events: readonly AuditEvent[]) => {
        appended.push(events.length);
        return inner.append(events);
      },
    });
    const { lk, recorder } = await setup({ store, maxBatch: 2 });
    for (let i = 0; i < 5; i++) await lk.createSession({ userId: `u_${i}` });
    await recorder.flush();
    expect(appended.every((n) => n <= 2)).toBe(true);
    expect(appended.reduce((a, b) => a + b, 0)).toBe(5);
    expect(recorder.pending).toBe(0);
  });

  it('keeps events through a store outage, bounded by maxBuffered, and counts what it dropped', async () => {
    const inner = new MemoryAuditStore();
    let down = true;
    const errors: string[] = [];
    const store: AuditStore = Object.assign(Object.create(inner) as AuditStore, {
      append: (events: readonly AuditEvent[]) => (down ? Promise.reject(new Error('down')) : inner.append(events)),
    });
    const { lk } = await setup();
    const recorder = new AuditRecorder({
      store,
      source: lk,
      flushIntervalMs: 3_600_000,
      cleanupIntervalMs: 0,
      maxBatch: 2,
      maxBuffered: 3,
      onError: (_e, during) => errors.push(during),
    });
    recorders.push(recorder);
    for (let i = 0; i < 5; i++) await lk.createSession({ userId: `u_${i}` });
    await recorder.flush();
    expect(errors.length).toBeGreaterThan(0);
    expect(recorder.pending).toBe(3);
    expect(recorder.dropped).toBe(2);
    down = false;
    await recorder.flush();
    expect((await all(inner)).map((r) => r.userId)).toEqual(['u_2', 'u_3', 'u_4']);
  });

  it('deletes events past retention (default 90 days) and keeps the rest', async () => {
    const { lk, clock, store, recorder } = await setup();
    await lk.createSession({ userId: 'old' });
    await recorder.flush();
    clock.advance(89 * 86_400);
    await lk.createSession({ userId: 'new' });
    await recorder.flush();
    expect(await recorder.cleanup()).toBe(0);
    clock.advance(2 * 86_400);
    expect(await recorder.cleanup()).toBe(1);
    expect((await all(store)).map((r) => r.userId)).toEqual(['new']);
  });

  it('records device and IP where the event has them, and both sides of a theft', async () => {
    const { lk, clock, store, recorder } = await setup();
    const victim = { userAgent: 'Victim/1.0 (Mac)', ip: '203.0.113.7' };
    const thief = { userAgent: 'Thief/6.6 (Linux)', ip: '198.51.100.66' };
    const first = await lk.createSession({ userId: 'u_dev', device: victim });
    clock.advance(1);
    await lk.refresh(first.refreshToken, { device: victim });
    clock.advance(60);
    await expect(lk.refresh(first.refreshToken, { device: thief })).rejects.toMatchObject({ code: 'TOKEN_THEFT_DETECTED' });
    await lk.createSession({ userId: 'u_nodev' });
    await recorder.flush();
    const rows = await all(store);
    expect(rows.find((r) => r.type === 'session.created' && r.userId === 'u_dev')).toMatchObject({
      device: victim.userAgent,
      ip: victim.ip,
    });
    expect(rows.find((r) => r.type === 'session.created' && r.userId === 'u_nodev')).toMatchObject({ device: null, ip: null });
    expect(rows.find((r) => r.type === 'session.refreshed')).toMatchObject({ device: victim.userAgent, ip: victim.ip });
    expect(rows.find((r) => r.type === 'session.theft_detected')).toMatchObject({
      device: thief.userAgent,
      ip: thief.ip,
      details: { sessionDevice: victim.userAgent, sessionIp: victim.ip },
    });
  });

  it('records a device binding (DPoP at sign-in, a DBSC key registered) and a refresh without the key, once each', async () => {
    // The dpop package stamps proofs with the real time, so the engine runs on it.
    const { lk } = await testEngine({ clock: new FakeClock(Date.now()) });
    const store = new MemoryAuditStore();
    const recorder = new AuditRecorder({ store, source: lk, flushIntervalMs: 3_600_000, cleanupIntervalMs: 0 });
    recorders.push(recorder);
    try {
      const url = 'https://app.example/auth/session';
      const keys = await generateKeyPair('ES256');
      const dpopSession = await lk.createSession({
        userId: 'u_dpop',
        dpop: { proof: await generateProof(keys, url, 'POST'), method: 'POST', url },
      });
      const thief = await generateKeyPair('ES256');
      await expect(
        lk.refresh(dpopSession.refreshToken, { dpop: { proof: await generateProof(thief, url, 'POST'), method: 'POST', url } }),
      ).rejects.toMatchObject({
        code: 'INVALID_DPOP_PROOF',
      });

      // DBSC: a cookie session registers a browser key (the registration JWT as Chromium makes it), twice.
      const cookieSession = await lk.createSession({ userId: 'u_dbsc' });
      const { privateKey, publicKey } = await joseKeyPair('ES256', { extractable: true });
      const jwk = await exportJWK(publicKey);
      const register = async () =>
        lk.registerDbscKey(
          cookieSession.session.id,
          await new SignJWT({ jti: lk.dbscChallenge(cookieSession.session.id) })
            .setProtectedHeader({ alg: 'ES256', jwk, typ: 'dbsc+jwt' })
            .sign(privateKey),
        );
      await register();
      await register(); // the same key again: a no-op, not a second binding
      await expect(lk.refresh(cookieSession.refreshToken)).rejects.toMatchObject({ code: 'INVALID_DBSC_PROOF' });
      await recorder.flush();

      const rows = await all(store);
      const security = rows.filter((r) => r.type === 'session.device_bound' || r.type === 'session.binding_mismatch');
      expect(security.map((r) => [r.type, r.userId, r.sessionId, r.actor, r.reason, r.details])).toEqual([
        [
          'session.device_bound',
          'u_dpop',
          dpopSession.session.id,
          'user',
          null,
          { method: 'dpop', jkt: await calculateThumbprint(keys.publicKey) },
        ],
        ['session.binding_mismatch', 'u_dpop', dpopSession.session.id, 'system', 'key_mismatch', { method: 'dpop' }],
        ['session.device_bound', 'u_dbsc', cookieSession.session.id, 'user', null, { method: 'dbsc', jkt: expect.any(String) }],
        ['session.binding_mismatch', 'u_dbsc', cookieSession.session.id, 'system', 'missing', { method: 'dbsc' }],
      ]);
      // Neither event signed anyone out.
      expect(rows.filter((r) => r.type === 'session.revoked' || r.type === 'session.theft_detected')).toEqual([]);
      // Queryable by type, as an operator would look for them.
      expect((await store.query({ types: ['session.device_bound'] })).events).toHaveLength(2);
    } finally {
      await lk.close();
    }
  });

  it('starts a new refresh row when the device or IP changes inside a batch', async () => {
    const { lk, store, recorder } = await setup();
    let tokens = await lk.createSession({ userId: 'u_move', device: { ip: '192.0.2.1' } });
    tokens = await lk.refresh(tokens.refreshToken, { device: { ip: '192.0.2.1' } });
    tokens = await lk.refresh(tokens.refreshToken, { device: { ip: '192.0.2.1' } });
    await lk.refresh(tokens.refreshToken, { device: { ip: '192.0.2.2' } });
    await recorder.flush();
    const refreshes = (await all(store)).filter((r) => r.type === 'session.refreshed');
    expect(refreshes.map((r) => [r.ip, r.count])).toEqual([
      ['192.0.2.1', 2],
      ['192.0.2.2', 1],
    ]);
  });

  it("runs retention with the engine's cleanup job when the source has one, and stops when closed", async () => {
    const { lk, clock } = await testEngine();
    const store = new MemoryAuditStore();
    const recorder = new AuditRecorder({ store, source: lk, clock, flushIntervalMs: 3_600_000, retentionDays: 7 });
    await lk.createSession({ userId: 'old' });
    await recorder.flush();
    clock.advance(8 * 86_400);
    await lk.createSession({ userId: 'new' });
    await recorder.flush();
    await lk.cleanup();
    expect((await all(store)).map((r) => r.userId)).toEqual(['new']);
    await recorder.close();
    clock.advance(8 * 86_400);
    await lk.cleanup();
    expect((await all(store)).map((r) => r.userId)).toEqual(['new']);
  });

  it('reports a failing retention step as an engine error without failing the session cleanup', async () => {
    const { lk } = await testEngine();
    const errors: string[] = [];
    lk.on('error', (e) => errors.push(e.during));
    const off = lk.onCleanup(() => Promise.reject(new Error('audit store down')));
    await expect(lk.cleanup()).resolves.toBeDefined();
    expect(errors).toEqual(['cleanup task']);
    off();
    await lk.cleanup();
    expect(errors).toEqual(['cleanup task']);
  });

  it('refuses nonsense options', async () => {
    const { lk } = await testEngine();
    expect(() => new AuditRecorder({ store: new MemoryAuditStore(), source: lk, flushIntervalMs: 0 })).toThrow(TypeError);
    expect(() => new AuditRecorder({ store: new MemoryAuditStore(), source: lk, retentionDays: -1 })).toThrow(TypeError);
  });
});
