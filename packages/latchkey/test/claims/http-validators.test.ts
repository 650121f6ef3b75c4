/**
 * Claim validators on a route, through the shared HTTP core (every adapter calls `authenticate`):
 * the 403 body with `claimValidationErrors`, the refetch of a stale or missing value before failing
 * (with the new token sent back to the client), and claims kept in the session data.
 */
import { describe, expect, it } from 'vitest';
import { defineClaim, EmailVerifiedClaim, RolesClaim, type Latchkey, type LatchkeyOptions } from 'latchkey';
import {
  ACCESS_TOKEN_HEADER,
  createLatchkeyHttp,
  HeaderList,
  normaliseRequest,
  type HttpRequest,
  type RequireSessionOptions,
} from 'latchkey/http';
import { testEngine, type FakeClock } from '../helpers/engine.js';

function bearer(token: string): HttpRequest {
  return normaliseRequest({
    method: 'GET',
    target: '/billing',
    protocol: 'https',
    host: 'app.example.com',
    headers: new Headers({ authorization: `Bearer ${token}`, 'x-latchkey-mode': 'header' }),
    body: async () => undefined,
  });
}

async function setup(options: Partial<LatchkeyOptions> = {}): Promise<{
  lk: Latchkey;
  clock: FakeClock;
  call: (token: string, require: RequireSessionOptions) => Promise<{ status: number; body: unknown; headers: HeaderList }>;
}> {
  const { lk, clock } = await testEngine(options);
  const http = createLatchkeyHttp(lk);
  const call = async (token: string, require: RequireSessionOptions) => {
    const sink = new HeaderList();
    const result = await http.authenticate(bearer(token), require, sink);
    if (result.ok) return { status: 200, body: null, headers: sink };
    return {
      status: result.response.status,
      body: result.response.body === undefined ? null : (JSON.parse(result.response.body) as unknown),
      headers: sink,
    };
  };
  return { lk, clock, call };
}

describe('requireSession({ validators })', () => {
  it('answers 403 CLAIM_VALIDATION_FAILED with every failed validator, and passes a session that has the claims', async () => {
    const { lk, call } = await setup();
    const s = await lk.createSession({ userId: 'u1', accessClaims: { 'lk-roles': { v: ['viewer'], t: Date.UTC(2026, 0, 1) } } });
    const refused = await call(s.accessToken, { validators: [RolesClaim.includes('admin'), EmailVerifiedClaim.isTrue()] });
    expect(refused.status).toBe(403);
    expect(refused.body).toEqual({
      error: { code: 'CLAIM_VALIDATION_FAILED', message: expect.any(String) },
      claimValidationErrors: [
        { id: 'lk-roles.includes:admin', reason: 'does not include admin' },
        { id: 'lk-ev.isTrue', reason: 'missing' },
      ],
    });
    const ok = await lk.createSession({ userId: 'u1', accessClaims: { 'lk-roles': { v: ['admin'], t: 0 } } });
    expect((await call(ok.accessToken, { validators: [RolesClaim.includes('admin')] })).status).toBe(200);
  });

  it('refetches a stale value before failing, and sends the client a token that carries it', async () => {
    let verified = false;
    let fetches = 0;
    const fetch = (): boolean => {
      fetches++;
      return verified;
    };
    const { lk, clock, call } = await setup({ claims: [EmailVerifiedClaim.with({ maxAgeSeconds: 300, fetch })] });
    const s = await lk.createSession({ userId: 'u1' });
    expect(fetches).toBe(1);
    verified = true;
    // Fresh and false: the verdict stands, nothing is refetched.
    const refused = await call(s.accessToken, { validators: [EmailVerifiedClaim.isTrue()] });
    expect(refused.body).toMatchObject({ claimValidationErrors: [{ id: 'lk-ev.isTrue', reason: 'is not true' }] });
    expect(fetches).toBe(1);
    // Past the claim's maxAgeSeconds: refetched (now true), written, and the new token sent back.
    clock.advance(301);
    const passed = await call(s.accessToken, { validators: [EmailVerifiedClaim.isTrue()] });
    expect(passed.status).toBe(200);
    expect(fetches).toBe(2);
    const reissued = passed.headers.entries.find(([name]) => name === ACCESS_TOKEN_HEADER)?.[1];
    expect((await lk.verifyAccessToken(reissued)).claims['lk-ev']).toEqual({ v: true, t: clock.now() });
    // A validator's own maxAgeSeconds also triggers the refetch.
    verified = false;
    clock.advance(2);
    const strict = await call(reissued!, { validators: [EmailVerifiedClaim.isTrue(1)] });
    expect(fetches).toBe(3);
    expect(strict.body).toMatchObject({ claimValidationErrors: [{ reason: 'is not true' }] });
  });

  it('refetches a missing value before failing, and the refetched value passes', async () => {
    const user: { verified?: boolean } = {};
    const { lk, call } = await setup({ claims: [EmailVerifiedClaim.with({ fetch: () => user.verified })] });
    const s = await lk.createSession({ userId: 'u1' });
    const missing = await call(s.accessToken, { validators: [EmailVerifiedClaim.isTrue()] });
    expect(missing.body).toMatchObject({ claimValidationErrors: [{ id: 'lk-ev.isTrue', reason: 'missing' }] });
    user.verified = true;
    const passed = await call(s.accessToken, { validators: [EmailVerifiedClaim.isTrue()] });
    expect(passed.status).toBe(200);
    const reissued = passed.headers.entries.find(([name]) => name === ACCESS_TOKEN_HEADER)?.[1];
    expect(reissued).toBeTypeOf('string');
    expect((await lk.verifyAccessToken(reissued)).claims['lk-ev']).toMatchObject({ v: true });
    expect((await lk.getSession(s.session.id))?.accessClaims['lk-ev']).toMatchObject({ v: true });
  });

  it('a claim kept in the session is read from the store and refetched there when stale', async () => {
    let plan = 'free';
    const Plan = defineClaim<string>({ key: 'plan', where: 'session', maxAgeSeconds: 60, fetch: () => plan });
    const { lk, call } = await setup({ claims: [Plan] });
    const s = await lk.createSession({ userId: 'u1' });
    const isPro = { id: 'plan.isPro', key: 'plan', maxAgeSeconds: undefined, check: (v: unknown) => (v === 'pro' ? undefined : 'not pro') };
    expect((await call(s.accessToken, { validators: [isPro] })).body).toMatchObject({
      claimValidationErrors: [{ id: 'plan.isPro', reason: 'not pro' }],
    });
    plan = 'pro';
    await lk.updateSession(s.session.id, { mergeData: { plan: { v: 'free', t: 0 } } });
    expect((await call(s.accessToken, { validators: [isPro] })).status).toBe(200);
    expect((await lk.getSession(s.session.id))?.data.plan).toMatchObject({ v: 'pro' });
  });
});
