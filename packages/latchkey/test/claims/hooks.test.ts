/**
 * Lifecycle hooks: what each may change, and each one's failure. A hook that runs before a write
 * (beforeCreate, a claim fetch) leaves no session behind when it throws or refuses; one that runs
 * after a commit (afterRefresh, onRevoke, onTheft) is reported as an `error` event with a HookError
 * and the operation's own result stands.
 */
import { describe, expect, it } from 'vitest';
import { HookError, InvalidClaimsError, RolesClaim, SessionRefusedError, type LatchkeyEvents, type SessionHooks } from 'latchkey';
import { createLatchkeyHttp, HeaderList, normaliseRequest } from 'latchkey/http';
import { memoryStore } from 'latchkey/stores/memory';
import { countingStore, testEngine } from '../helpers/engine.js';

async function engineWith(hooks: SessionHooks, extra: Parameters<typeof testEngine>[0] = {}) {
  const counted = countingStore(memoryStore());
  const { lk, clock } = await testEngine({ store: counted.store, hooks, ...extra });
  const errors: LatchkeyEvents['error'][] = [];
  lk.on('error', (e) => errors.push(e));
  return { lk, clock, errors, writes: () => counted.calls.get('createSession') ?? 0 };
}

describe('beforeCreate', () => {
  it('enriches the new session’s claims and data, held to the app claims’ rules', async () => {
    const { lk } = await engineWith({
      beforeCreate: ({ userId }) => ({ accessClaims: { tenant: `t-${userId}` }, idClaims: { name: 'Ada' }, data: { plan: 'pro' } }),
    });
    const s = await lk.createSession({ userId: 'u1', accessClaims: { role: 'x' } });
    expect(s.session.accessClaims).toEqual({ role: 'x', tenant: 't-u1' });
    expect(s.session.idClaims).toEqual({ name: 'Ada' });
    expect(s.session.data).toEqual({ plan: 'pro' });
    const reserved = await engineWith({ beforeCreate: () => ({ accessClaims: { sub: 'someone-else' } }) });
    await expect(reserved.lk.createSession({ userId: 'u1' })).rejects.toBeInstanceOf(InvalidClaimsError);
    expect(reserved.writes()).toBe(0);
  });

  it('refuses with SessionRefusedError (a banned user): nothing written', async () => {
    const { lk, writes } = await engineWith({
      beforeCreate: ({ userId }) => {
        if (userId === 'banned') throw new SessionRefusedError('this account is suspended');
      },
    });
    await expect(lk.createSession({ userId: 'banned' })).rejects.toMatchObject({
      code: 'SESSION_REFUSED',
      message: 'this account is suspended',
    });
    expect(writes()).toBe(0);
    expect(await lk.listSessions('banned')).toEqual([]);
    await lk.createSession({ userId: 'fine' });
    expect(writes()).toBe(1);
  });

  it('a hook that throws gives HookError with the cause, and no session', async () => {
    const boom = new Error('directory down');
    const { lk, writes } = await engineWith({
      beforeCreate: async () => {
        throw boom;
      },
    });
    const error = await lk.createSession({ userId: 'u1' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HookError);
    expect(error).toMatchObject({ code: 'HOOK_FAILED', hook: 'beforeCreate', cause: boom });
    expect(writes()).toBe(0);
  });

  it('a claim fetch that throws at creation gives HookError (claimFetch), and no session', async () => {
    const { lk, writes } = await engineWith(
      {},
      {
        claims: [
          RolesClaim.with({
            fetch: () => {
              throw new Error('roles service down');
            },
          }),
        ],
      },
    );
    await expect(lk.createSession({ userId: 'u1' })).rejects.toMatchObject({ code: 'HOOK_FAILED', hook: 'claimFetch' });
    expect(writes()).toBe(0);
  });

  it('refuses an unknown hook name or a hook that is not a function at start', async () => {
    await expect(testEngine({ hooks: { beforeCreat: () => {} } as SessionHooks })).rejects.toThrow(/unknown hook beforeCreat/);
    await expect(testEngine({ hooks: { onTheft: 'mail' } as unknown as SessionHooks })).rejects.toThrow(TypeError);
  });
});

describe('hooks after a commit', () => {
  it('afterRefresh sees the refreshed session; when it throws, the refresh still succeeds and an error event carries a HookError', async () => {
    const seen: string[] = [];
    let fail = false;
    const { lk, errors } = await engineWith({
      afterRefresh: ({ session, grace }) => {
        seen.push(`${session.id}:${grace}`);
        if (fail) throw new Error('analytics down');
      },
    });
    const s = await lk.createSession({ userId: 'u1' });
    const r1 = await lk.refresh(s.refreshToken);
    expect(seen).toEqual([`${s.session.id}:false`]);
    fail = true;
    const r2 = await lk.refresh(r1.refreshToken);
    await expect(lk.verifyAccessToken(r2.accessToken)).resolves.toBeTruthy();
    expect(errors).toHaveLength(1);
    expect(errors[0]?.error).toBeInstanceOf(HookError);
    expect(errors[0]?.error).toMatchObject({ hook: 'afterRefresh' });
  });

  it('onRevoke sees each revoked session and reason; when it throws, the revocation stands', async () => {
    const calls: unknown[] = [];
    const { lk, errors } = await engineWith({
      onRevoke: (event) => {
        calls.push(event);
        throw new Error('webhook down');
      },
    });
    const a = await lk.createSession({ userId: 'u1' });
    const b = await lk.createSession({ userId: 'u1' });
    expect(await lk.revokeUserSessions('u1')).toBe(2);
    expect(calls).toEqual([
      {
        sessions: expect.arrayContaining([
          { sessionId: a.session.id, userId: 'u1' },
          { sessionId: b.session.id, userId: 'u1' },
        ]),
        reason: 'revoke-all',
        at: expect.any(Date),
      },
    ]);
    await expect(lk.verifyAccessToken(a.accessToken)).rejects.toMatchObject({ code: 'UNAUTHORISED' });
    expect(errors.map((e) => (e.error as HookError).hook)).toEqual(['onRevoke']);
  });

  it('onTheft is told of a replayed refresh token; when it throws, the thief still gets TOKEN_THEFT_DETECTED', async () => {
    const thefts: unknown[] = [];
    const { lk, clock, errors } = await engineWith({
      onTheft: (event) => {
        thefts.push(event);
        throw new Error('mailer down');
      },
    });
    const s = await lk.createSession({ userId: 'u1' });
    await lk.refresh(s.refreshToken);
    clock.advance(3600);
    await expect(lk.refresh(s.refreshToken)).rejects.toMatchObject({ code: 'TOKEN_THEFT_DETECTED' });
    expect(thefts).toEqual([{ sessionId: s.session.id, userId: 'u1', reason: expect.any(String), at: expect.any(Date) }]);
    expect(errors.map((e) => (e.error as HookError).hook)).toContain('onTheft');
  });
});

describe('hook failures over HTTP (signIn through the shared core, as every adapter)', () => {
  const signInRequest = () =>
    normaliseRequest({
      method: 'POST',
      target: '/login',
      protocol: 'https',
      host: 'app.example.com',
      headers: new Headers({ 'x-latchkey-mode': 'header', origin: 'https://app.example.com' }),
      body: async () => undefined,
    });

  it('a refusal is 403 SESSION_REFUSED with the hook’s message; any other throw is a bare 500 that names nothing of the cause; no cookie, no session', async () => {
    const { lk, writes } = await engineWith({
      beforeCreate: ({ userId }) => {
        if (userId === 'banned') throw new SessionRefusedError('this account is suspended');
        if (userId === 'broken') throw new Error('ECONNREFUSED 10.0.0.7:5432 secret-ish detail');
      },
    });
    const unexpected: unknown[] = [];
    const http = createLatchkeyHttp(lk, { onError: (error) => unexpected.push(error) });
    for (const [userId, status, code] of [
      ['banned', 403, 'SESSION_REFUSED'],
      ['broken', 500, 'INTERNAL_ERROR'],
    ] as const) {
      const sink = new HeaderList();
      const error = await http.signIn(signInRequest(), { userId }, sink).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(userId === 'banned' ? SessionRefusedError : HookError);
      const response = http.errorResponse(error, signInRequest());
      expect(response.status).toBe(status);
      const body = JSON.parse(response.body ?? '{}') as { error: { code: string; message: string } };
      expect(body.error.code).toBe(code);
      if (userId === 'banned') expect(body.error.message).toBe('this account is suspended');
      else expect(response.body).not.toContain('ECONNREFUSED');
      expect(sink.entries.filter(([name]) => name === 'set-cookie')).toEqual([]);
    }
    expect(writes()).toBe(0);
  });
});
