/**
 * The engine's store is private: a write straight to it would bypass the denylist, the events and the
 * revocation bus. What callers used it for (readiness, metrics, the revocation feed) are engine methods
 * that only read.
 */
import { describe, expect, it } from 'vitest';
import { memoryStore } from 'latchkey/stores/memory';
import { testEngine } from '../helpers/engine.js';

describe('the store behind the engine', () => {
  it('is not reachable from the engine object', async () => {
    const { lk } = await testEngine();
    expect('store' in lk).toBe(false);
    expect(Object.values(lk)).not.toContainEqual(expect.objectContaining({ createSession: expect.any(Function) }));
    await lk.close();
  });

  it('ping resolves while the store answers and rejects once it does not', async () => {
    const store = memoryStore();
    const { lk } = await testEngine({ store });
    await expect(lk.ping()).resolves.toBeUndefined();
    store.ping = () => Promise.reject(new Error('down'));
    await expect(lk.ping()).rejects.toThrow('down');
    await lk.close();
  });

  it('counts active sessions on the engine clock and names the signing key in use', async () => {
    const { lk, clock, store } = await testEngine({ idleTimeout: 60 });
    await lk.createSession({ userId: 'a' });
    const { session } = await lk.createSession({ userId: 'b' });
    expect(await lk.countActiveSessions()).toBe(2);
    await lk.revokeSession(session.id);
    expect(await lk.countActiveSessions()).toBe(1);
    clock.advance(61);
    expect(await lk.countActiveSessions()).toBe(0);
    const [record] = await store.listSigningKeys();
    expect(await lk.currentSigningKey()).toEqual({ kid: record!.kid, activatesAt: record!.activatesAt });
    expect(await lk.currentSigningKey(record!.activatesAt - 1)).toBeUndefined();
    await lk.close();
  });

  it('serves the revocation feed of the sessions it revoked', async () => {
    const { lk, clock } = await testEngine();
    const { session } = await lk.createSession({ userId: 'a' });
    await lk.revokeSession(session.id);
    const feed = await lk.revocationFeed(undefined);
    expect(feed.revocations).toEqual([{ sid: session.id, at: clock.now() }]);
    expect(feed.retainSeconds).toBe(lk.settings.accessTokenTtlSeconds + lk.settings.clockToleranceSeconds);
    expect((await lk.revocationFeed(feed.cursor + lk.settings.clockToleranceSeconds * 1000 + 1, clock.now() + 60_000)).revocations).toEqual(
      [],
    );
    await lk.close();
  });
});
