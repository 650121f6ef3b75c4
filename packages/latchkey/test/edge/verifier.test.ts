/**
 * latchkey/edge in Node: the same verdicts as the engine on the same tokens (one source of checks),
 * the JWKS fetched once and refetched at most once per cooldown on unknown kids, and revocations
 * picked up from the feed within one poll interval. Keys and the feed come from a real issuer (the
 * HTTP layer over an engine), reached through its web-standard `fetch` entry, on the engine's clock.
 */
import { RolesClaim } from 'latchkey';
import { createEdgeVerifier, type EdgeVerifier } from 'latchkey/edge';
import { createLatchkeyHttp } from 'latchkey/http';
import { afterEach, describe, expect, it } from 'vitest';
import { parseRevocationFeed } from '../../src/revocation/feed.js';
import { signWithStoreKey, testEngine, type FakeClock } from '../helpers/engine.js';

const CREDENTIAL = 'feed-credential-0123456789abcdefghijklmnopqrstuv';
const ORIGIN = 'https://auth.test.example';

async function issuer(options: { clock?: FakeClock; signingAlgorithm?: 'EdDSA' | 'ES256' | 'RS256' } = {}) {
  const { lk, clock, store } = await testEngine({
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.signingAlgorithm ? { signingAlgorithm: options.signingAlgorithm } : {}),
  });
  const http = createLatchkeyHttp(lk, { revocationFeed: { credentials: [CREDENTIAL] }, clock });
  const requests: string[] = [];
  const fetchImpl: typeof fetch = async (input, init) => {
    const request = new Request(input, init);
    requests.push(new URL(request.url).pathname);
    return (await http.fetch(request)) ?? new Response('not found', { status: 404 });
  };
  const edge = (
    extra: { pollInterval?: number; revocations?: false; jwksRefetchCooldown?: number; verifyCacheSize?: number } = {},
  ): EdgeVerifier =>
    createEdgeVerifier({
      jwksUrl: `${ORIGIN}/.well-known/jwks.json`,
      issuer: lk.settings.issuer,
      revocations: extra.revocations ?? {
        url: `${ORIGIN}/auth/revocations`,
        credential: CREDENTIAL,
        pollInterval: extra.pollInterval ?? 5,
      },
      fetch: fetchImpl,
      clock,
      ...(extra.jwksRefetchCooldown !== undefined ? { jwksRefetchCooldown: extra.jwksRefetchCooldown } : {}),
      ...(extra.verifyCacheSize !== undefined ? { verifyCacheSize: extra.verifyCacheSize } : {}),
    });
  return { lk, clock, store, http, requests, edge };
}

const outcome = (p: Promise<unknown>) =>
  p.then(
    () => 'ok',
    (e: { code?: string; reason?: string }) => `${e.code}${e.reason === undefined ? '' : `/${e.reason}`}`,
  );

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

describe('latchkey/edge verifier', () => {
  for (const alg of ['EdDSA', 'ES256', 'RS256'] as const) {
    it(`gives the engine's verdict on genuine, tampered, foreign, expired and malformed tokens (${alg})`, async () => {
      const { lk, clock, store, edge } = await issuer({ signingAlgorithm: alg });
      closers.push(() => lk.close());
      const { lk: other } = await testEngine({ secret: 'another-secret-that-is-at-least-32-bytes', signingAlgorithm: alg });
      closers.push(() => other.close());
      const verifier = edge({ verifyCacheSize: 0 });
      const { accessToken } = await lk.createSession({ userId: 'alice', accessClaims: { role: 'admin' } });
      const [h, p, s] = accessToken.split('.') as [string, string, string];
      const payload = JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>;
      const now = Math.floor(clock.now() / 1000);
      const tokens: Record<string, unknown> = {
        genuine: accessToken,
        tampered: `${h}.${Buffer.from(JSON.stringify({ ...payload, sub: 'mallory' })).toString('base64url')}.${s}`,
        foreign: (await other.createSession({ userId: 'alice' })).accessToken,
        expired: await signWithStoreKey(store, { ...payload, iat: now - 2000, exp: now - 1000 }),
        tooLong: await signWithStoreKey(store, { ...payload, exp: now + 10_000 }),
        wrongAudience: await signWithStoreKey(store, { ...payload, aud: 'someone-else' }),
        wrongType: await signWithStoreKey(store, payload, { typ: 'JWT' }),
        dpopBound: await signWithStoreKey(store, { ...payload, cnf: { jkt: 'x'.repeat(43) } }),
        unsigned: `${h}.${p}.`,
        garbage: 'not-a-token',
        number: 42,
      };
      const verdicts: Record<string, [string, string]> = {};
      for (const [name, token] of Object.entries(tokens))
        verdicts[name] = [await outcome(lk.verifyAccessToken(token)), await outcome(verifier.verify(token))];
      for (const [name, [engine, edgeVerdict]] of Object.entries(verdicts)) expect(edgeVerdict, name).toBe(engine);
      expect(verdicts.genuine![0]).toBe('ok');
      expect(verdicts.expired![0]).toBe('TRY_REFRESH_TOKEN');
      expect(verdicts.tampered![0]).toBe('UNAUTHORISED/bad_signature');
      expect(verdicts.foreign![0]).toBe('UNAUTHORISED/unknown_key');
      expect(verdicts.dpopBound![0]).toBe('INVALID_DPOP_PROOF/missing');
      const verified = await verifier.verify(accessToken);
      expect(verified.userId).toBe('alice');
      expect(verified.claims.role).toBe('admin');
      expect(verified.expiresAt.getTime()).toBe((await lk.verifyAccessToken(accessToken)).expiresAt.getTime());
    });
  }

  it('fetches the JWKS once, and refetches for an unknown kid at most once per cooldown', async () => {
    const { lk, clock, store, edge, requests } = await issuer();
    closers.push(() => lk.close());
    const jwksFetches = () => requests.filter((p) => p.endsWith('jwks.json')).length;
    // (jose's cooldown runs on the real clock: 0 here, so that the rotation below may refetch at once.)
    const verifier = edge({ revocations: false, verifyCacheSize: 0, jwksRefetchCooldown: 0 });
    for (let i = 0; i < 5; i++) await verifier.verify((await lk.createSession({ userId: `u${i}` })).accessToken);
    expect(jwksFetches()).toBe(1);
    // The issuer rotates: a token under the new kid makes the verifier refetch once.
    await lk.rotateKeys();
    const fresh = (await lk.createSession({ userId: 'after-rotation' })).accessToken;
    await expect(verifier.verify(fresh)).resolves.toMatchObject({ userId: 'after-rotation' });
    await expect(verifier.verify(fresh)).resolves.toMatchObject({ userId: 'after-rotation' });
    expect(jwksFetches()).toBe(2);
    // With the default cooldown, a flood of tokens naming unknown kids costs no fetch after the first.
    const guarded = edge({ revocations: false, verifyCacheSize: 0 });
    await guarded.verify(fresh);
    expect(jwksFetches()).toBe(3);
    const payload = {
      iss: lk.settings.issuer,
      aud: 'latchkey',
      sub: 'x',
      sid: 's',
      jti: 'j',
      iat: Math.floor(clock.now() / 1000),
      exp: Math.floor(clock.now() / 1000) + 60,
      auth_time: 0,
    };
    for (let i = 0; i < 10; i++) {
      const forged = await signWithStoreKey(store, payload, { kid: `made-up-${i}` });
      expect(await outcome(guarded.verify(forged))).toBe('UNAUTHORISED/unknown_key');
    }
    expect(jwksFetches()).toBe(3);
  });

  it('refuses a revoked session within one poll interval, and a theft-revoked one as theft', async () => {
    const { lk, clock, edge, requests } = await issuer();
    closers.push(() => lk.close());
    const verifier = edge({ pollInterval: 5 });
    const a = await lk.createSession({ userId: 'alice' });
    const b = await lk.createSession({ userId: 'bob' });
    await expect(verifier.verify(a.accessToken)).resolves.toBeTruthy();
    await lk.revokeSession(a.session.id);
    // Within the interval the verifier has not asked again: the bound is the interval, not zero.
    clock.advance(4);
    expect(await outcome(verifier.verify(a.accessToken))).toBe('ok');
    clock.advance(1);
    expect(await outcome(verifier.verify(a.accessToken))).toBe('UNAUTHORISED/revoked');
    expect(await outcome(verifier.verify(b.accessToken))).toBe('ok');
    // Theft: the engine revokes the whole session when a rotated-out refresh token is replayed.
    const rotated = await lk.refresh(b.refreshToken);
    clock.advance(60);
    await lk.refresh(b.refreshToken).catch(() => undefined);
    clock.advance(5);
    expect(await outcome(verifier.verify(rotated.accessToken))).toBe('TOKEN_THEFT_DETECTED/revoked-for-theft');
    // Polls are conditional: an unchanged feed is answered 304 (counted by the issuer, not the verifier).
    expect(requests.filter((p) => p.endsWith('/revocations')).length).toBeGreaterThanOrEqual(3);
  });

  it('a claim changed for all of a user’s sessions (setClaimValue) makes their older tokens refresh within one poll interval; the refreshed one passes', async () => {
    const { lk, clock, edge, http } = await issuer();
    closers.push(() => lk.close());
    const verifier = edge({ pollInterval: 5 });
    const a = await lk.createSession({ userId: 'alice' });
    const b = await lk.createSession({ userId: 'bob' });
    await expect(verifier.verify(a.accessToken)).resolves.toBeTruthy();
    clock.ms += 1;
    await lk.setClaimValue({ userId: 'alice' }, RolesClaim, ['viewer']);
    // The feed carries the epoch (the store keeps it).
    const feed = await http.fetch(new Request(`${ORIGIN}/auth/revocations`, { headers: { authorization: `Bearer ${CREDENTIAL}` } }));
    expect(((await feed!.json()) as { claimsEpochs?: unknown }).claimsEpochs).toEqual([{ kind: 'user', id: 'alice', at: clock.now() + 1 }]); // the millisecond after the change
    clock.advance(4);
    expect(await outcome(verifier.verify(a.accessToken))).toBe('ok'); // the bound is the interval
    clock.advance(1);
    expect(await outcome(verifier.verify(a.accessToken))).toBe('TRY_REFRESH_TOKEN');
    expect(await outcome(verifier.verify(b.accessToken))).toBe('ok');
    clock.ms += 1;
    const refreshed = await lk.refresh(a.refreshToken);
    expect((await verifier.verify(refreshed.accessToken)).claims['lk-roles']).toMatchObject({ v: ['viewer'] });
  });

  it('reads a feed’s claims epochs only whole: a malformed one refuses the feed, a feed without them reads as before', () => {
    const base = { revocations: [], cursor: 5, retainSeconds: 930 };
    expect(parseRevocationFeed(base)).toEqual(base);
    const epochs = [{ kind: 'user', id: 'alice', at: 3 }];
    expect(parseRevocationFeed({ ...base, claimsEpochs: epochs })).toEqual({ ...base, claimsEpochs: epochs });
    for (const bad of [
      {},
      [{ kind: 'team', id: 'x', at: 1 }],
      [{ kind: 'user', id: '', at: 1 }],
      [{ kind: 'user', id: 'x', at: 1.5 }],
      [null],
    ]) {
      expect(parseRevocationFeed({ ...base, claimsEpochs: bad })).toBeNull();
    }
  });

  it('fails closed (STORE_UNAVAILABLE) while the feed cannot be read', async () => {
    const { lk, clock } = await issuer();
    closers.push(() => lk.close());
    const http = createLatchkeyHttp(lk, { revocationFeed: { credentials: [CREDENTIAL] }, clock });
    let feedUp = true;
    const verifier = createEdgeVerifier({
      jwksUrl: `${ORIGIN}/.well-known/jwks.json`,
      issuer: lk.settings.issuer,
      revocations: { url: `${ORIGIN}/auth/revocations`, credential: CREDENTIAL, pollInterval: 5 },
      clock,
      fetch: async (input, init) => {
        const request = new Request(input, init);
        if (request.url.includes('/revocations') && !feedUp) throw new TypeError('fetch failed');
        return (await http.fetch(request))!;
      },
    });
    const { accessToken } = await lk.createSession({ userId: 'alice' });
    expect(await outcome(verifier.verify(accessToken))).toBe('ok');
    feedUp = false;
    clock.advance(6);
    expect(await outcome(verifier.verify(accessToken))).toBe('STORE_UNAVAILABLE');
    feedUp = true;
    clock.advance(2);
    expect(await outcome(verifier.verify(accessToken))).toBe('ok');
  });

  it('refuses options that would weaken it by omission', () => {
    const base = { jwksUrl: `${ORIGIN}/.well-known/jwks.json`, issuer: ORIGIN };
    expect(() => createEdgeVerifier(base as never)).toThrow(/revocations is required/);
    expect(() => createEdgeVerifier({ ...base, jwksUrl: 'file:///etc/passwd', revocations: false })).toThrow(TypeError);
    expect(() => createEdgeVerifier({ ...base, revocations: { url: `${ORIGIN}/auth/revocations`, credential: '' } })).toThrow(TypeError);
  });
});

describe('the revocation feed (HTTP layer)', () => {
  it('is not served unless configured, and only to a caller with a credential', async () => {
    const { lk } = await testEngine();
    closers.push(() => lk.close());
    const plain = createLatchkeyHttp(lk);
    expect((await plain.fetch(new Request(`${ORIGIN}/auth/revocations`)))?.status ?? 404).toBe(404);
    expect(() => createLatchkeyHttp(lk, { revocationFeed: { credentials: ['short'] } })).toThrow(TypeError);
    const http = createLatchkeyHttp(lk, { revocationFeed: { credentials: [CREDENTIAL] } });
    expect((await http.fetch(new Request(`${ORIGIN}/auth/revocations`)))!.status).toBe(401);
    const wrong = await http.fetch(new Request(`${ORIGIN}/auth/revocations`, { headers: { authorization: `Bearer ${CREDENTIAL}x` } }));
    expect(wrong!.status).toBe(401);
    expect(await wrong!.text()).not.toContain(CREDENTIAL);
    const bad = await http.fetch(
      new Request(`${ORIGIN}/auth/revocations?since=yesterday`, { headers: { authorization: `Bearer ${CREDENTIAL}` } }),
    );
    expect(bad!.status).toBe(400);
  });

  it('lists recent revocations with a cursor, and answers 304 to an unchanged ETag', async () => {
    const { lk, clock } = await testEngine();
    closers.push(() => lk.close());
    const http = createLatchkeyHttp(lk, { revocationFeed: { credentials: [CREDENTIAL] }, clock });
    const get = (query = '', etag?: string) =>
      http
        .fetch(
          new Request(`${ORIGIN}/auth/revocations${query}`, {
            headers: { authorization: `Bearer ${CREDENTIAL}`, ...(etag ? { 'if-none-match': etag } : {}) },
          }),
        )
        .then((r) => r!);
    const old = await lk.createSession({ userId: 'old' });
    await lk.revokeSession(old.session.id);
    clock.advance(lk.settings.accessTokenTtlSeconds + lk.settings.clockToleranceSeconds + 1);
    const a = await lk.createSession({ userId: 'alice' });
    await lk.revokeSession(a.session.id);
    const first = await get();
    expect(first.status).toBe(200);
    const body = (await first.json()) as { revocations: { sid: string; at: number }[]; cursor: number; retainSeconds: number };
    // The old revocation denies nothing any more (its tokens have expired): not listed.
    expect(body.revocations.map((r) => r.sid)).toEqual([a.session.id]);
    expect(body.retainSeconds).toBe(lk.settings.accessTokenTtlSeconds + lk.settings.clockToleranceSeconds);
    const etag = first.headers.get('etag')!;
    expect(etag).toMatch(/^"[A-Za-z0-9_-]{43}"$/);
    expect((await get('', etag)).status).toBe(304);
    const b = await lk.createSession({ userId: 'bob' });
    clock.advance(60);
    await lk.revokeSession(b.session.id);
    const changed = await get(`?since=${body.cursor}`, etag);
    expect(changed.status).toBe(200);
    const next = (await changed.json()) as typeof body;
    // New since the cursor: bob; alice may repeat (the look-back of one clock tolerance), the old one never.
    expect(next.revocations.map((r) => r.sid)).toContain(b.session.id);
    expect(next.revocations.map((r) => r.sid)).not.toContain(old.session.id);
    expect(next.cursor).toBeGreaterThan(body.cursor);
  });
});
