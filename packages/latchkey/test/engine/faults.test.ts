/**
 * A refresh never commits a rotation whose tokens it cannot issue, and a failure after the commit is
 * recoverable with the same parent token: either way the client's retry (on this instance or on a
 * healthy one) is served, never mistaken for theft.
 */
import { describe, expect, it } from 'vitest';
import { SecretMismatchError, type LatchkeyEvents, type RotateRefreshInput, type SessionStore } from 'latchkey';
import { memoryStore } from 'latchkey/stores/memory';
import { sqliteStore } from 'latchkey/stores/sqlite';
import { classifyError } from '../../src/cli/run.js';
import { mapError } from '../../src/http/errors.js';
import { deriveSubkey } from '../../src/keys/derive.js';
import { generateSigningKey } from '../../src/keys/generate.js';
import { toHttpError } from '../../src/service/errors.js';
import { testEngine } from '../helpers/engine.js';

const OTHER_SECRET = new TextEncoder().encode('a-secret-of-another-installation-0123456789');

const stores = {
  memory: () => memoryStore(),
  sqlite: () => sqliteStore({ path: ':memory:' }),
};

/** A store whose next `failures` rotations commit and then throw, as a crash or a lost answer would look. */
function failingAfterCommit(store: SessionStore, failures: number): SessionStore {
  return new Proxy(store, {
    get(target, prop, receiver) {
      if (prop !== 'rotateRefreshToken') {
        const value = Reflect.get(target, prop, receiver);
        return typeof value === 'function' ? value.bind(target) : value;
      }
      return async (input: RotateRefreshInput) => {
        const outcome = await target.rotateRefreshToken(input);
        if (failures-- > 0) throw new Error('connection reset after COMMIT');
        return outcome;
      };
    },
  });
}

describe.each(Object.entries(stores))('refresh faults on the %s store', (_name, makeStore) => {
  async function setup(store: SessionStore = makeStore()) {
    const { lk, clock } = await testEngine({ store });
    const thefts: Array<LatchkeyEvents['session.theft_detected']> = [];
    lk.on('session.theft_detected', (e) => thefts.push(e));
    const issued = await lk.createSession({ userId: 'alice' });
    return { lk, clock, store, thefts, issued };
  }

  /** Puts a key this instance cannot decrypt in charge of signing, as a wrong-secret instance racing at start-up would. */
  async function foreignSigningKey(store: SessionStore, now: number): Promise<string> {
    const generation = Math.max(...(await store.listSigningKeys()).map((k) => k.generation)) + 1;
    const key = await generateSigningKey('EdDSA', generation, now, now, deriveSubkey(OTHER_SECRET, 'key-encryption'));
    expect(await store.insertSigningKey(key)).toBe(true);
    return key.kid;
  }

  it('signing that would fail is found before the write: nothing commits, and a later retry rotates normally', async () => {
    const { lk, clock, store, thefts, issued } = await setup();
    const kid = await foreignSigningKey(store, clock.now());
    await lk.maintainKeys(); // the ring now signs with a key whose private half it cannot open

    const err = await lk.refresh(issued.refreshToken).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SecretMismatchError);
    expect(err).toMatchObject({ code: 'SECRET_MISMATCH', kid });
    // The token was not rotated: still current, generation 0.
    expect(await store.getSession(issued.session.id)).toMatchObject({ generation: 0, currentRefreshHash: expect.any(String), revokedAt: null });
    // Nor is a session stored for a sign-in whose tokens cannot be signed.
    await expect(lk.createSession({ userId: 'bob' })).rejects.toMatchObject({ code: 'SECRET_MISMATCH' });
    expect(await store.listActiveSessions('bob', clock.now())).toEqual([]);

    // The operator fixes it; the client retries long after any grace window. Its token is still current.
    await store.deleteSigningKeys([kid]);
    await lk.maintainKeys();
    clock.advance(120);
    const retried = await lk.refresh(issued.refreshToken);
    await expect(lk.verifyAccessToken(retried.accessToken)).resolves.toMatchObject({ sessionId: issued.session.id });
    expect((await store.getSession(issued.session.id))?.generation).toBe(1);
    expect(thefts).toEqual([]);
  });

  it('a failure after the commit is recovered by the same parent token, inside the window, with the same successor', async () => {
    const base = makeStore();
    const { lk, clock, thefts, issued } = await setup(failingAfterCommit(base, 1));
    await expect(lk.refresh(issued.refreshToken)).rejects.toThrow('connection reset after COMMIT');
    expect((await base.getSession(issued.session.id))?.generation).toBe(1); // it did commit
    // The SDK retries at once; even a retry 20 s later (past the old 10 s window) is served.
    clock.advance(20);
    const retried = await lk.refresh(issued.refreshToken);
    await expect(lk.verifyAccessToken(retried.accessToken)).resolves.toMatchObject({ sessionId: issued.session.id });
    // What it got is the current token: it rotates normally.
    const next = await lk.refresh(retried.refreshToken);
    expect(next.refreshToken).not.toBe(retried.refreshToken);
    expect((await base.getSession(issued.session.id))?.generation).toBe(2);
    expect(thefts).toEqual([]);
  });
});

describe('a key that cannot be decrypted is a typed error everywhere', () => {
  it('the HTTP layers answer 503 (retry elsewhere) and report it, never a bare 500', () => {
    const error = new SecretMismatchError('kid-1', 'signing key kid-1 cannot be decrypted with this master secret');
    const mapped = mapError(error, 'cookie');
    expect(mapped).toMatchObject({ status: 503, expected: false, body: { error: { code: 'STORE_UNAVAILABLE' } } });
    expect(mapped.headers).toContainEqual(['retry-after', '1']);
    const service = toHttpError(error);
    expect([service.status, service.code, service.headers['Retry-After']]).toEqual([503, 'STORE_UNAVAILABLE', '1']);
    // Neither tells the client about keys or secrets.
    expect(JSON.stringify(mapped.body) + service.message).not.toMatch(/kid-1|secret/i);
  });

  it('the CLI reports it as configuration (exit 2), with its stable code', () => {
    expect(classifyError(new SecretMismatchError('kid-1', 'signing key kid-1 cannot be decrypted'))).toMatchObject({ exit: 2, code: 'SECRET_MISMATCH' });
  });
});
