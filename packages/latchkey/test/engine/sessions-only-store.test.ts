/**
 * A store written for an app that embeds the engine implements `SessionStore` and nothing else: no
 * user API keys (`ApiKeyStore`), no service keys (`ServiceKeyStore`, which only the standalone service
 * and the CLI need). The literal below is type-checked against `SessionStore` alone, so the suite's
 * type check fails if the session contract ever requires those methods again; at run time the engine
 * does its whole session work over an object that has none of them.
 */
import { describe, expect, it } from 'vitest';
import type { SessionStore } from 'latchkey';
import { memoryStore } from 'latchkey/stores/memory';
import { testEngine } from '../helpers/engine.js';

/** Exactly the `SessionStore` methods of a memory store, and no other. */
function sessionsOnly(): SessionStore {
  const m = memoryStore();
  const store: SessionStore = {
    migrate: () => m.migrate(),
    createSession: (input) => m.createSession(input),
    getSession: (id) => m.getSession(id),
    listActiveSessions: (userId, now) => m.listActiveSessions(userId, now),
    countActiveSessions: (now) => m.countActiveSessions(now),
    updateSession: (id, patch, options) => m.updateSession(id, patch, options),
    rotateRefreshToken: (input) => m.rotateRefreshToken(input),
    bindSession: (id, binding, now) => m.bindSession(id, binding, now),
    revokeSession: (id, now, reason) => m.revokeSession(id, now, reason),
    revokeUserSessions: (userId, now, reason, except) => m.revokeUserSessions(userId, now, reason, except),
    listRevocationsSince: (since) => m.listRevocationsSince(since),
    listSigningKeys: () => m.listSigningKeys(),
    insertSigningKey: (key) => m.insertSigningKey(key),
    deleteSigningKeys: (kids) => m.deleteSigningKeys(kids),
    deleteExpired: (before) => m.deleteExpired(before),
    ping: () => m.ping(),
    close: () => m.close(),
  };
  return store;
}

describe('an engine on a store that keeps sessions only', () => {
  it('creates, verifies, refreshes and revokes sessions; API keys say they are off', async () => {
    const store = sessionsOnly();
    expect(Object.keys(store).filter((k) => /ServiceKey|ApiKey/.test(k))).toEqual([]);
    const { lk } = await testEngine({ store });
    const issued = await lk.createSession({ userId: 'u_only' });
    expect((await lk.verifyAccessToken(issued.accessToken)).userId).toBe('u_only');
    const refreshed = await lk.refresh(issued.refreshToken);
    expect(refreshed.session.id).toBe(issued.session.id);
    expect(await lk.revokeSession(issued.session.id)).toBe(true);
    await expect(lk.refresh(refreshed.refreshToken)).rejects.toMatchObject({ code: 'UNAUTHORISED' });
    expect(lk.apiKeys.enabled).toBe(false);
    await lk.close();
  });
});
