/**
 * Requirements from ../shared/security-requirements.md that no other suite pins down on its own
 * (docs/security.md maps every line to its test):
 * - RFC 8725 §2.8/§3.11: a NESTED token (a JWS whose payload is itself a JWT, `cty: JWT`), even one
 *   signed by our own key around our own genuine access token, is never taken for an access token;
 * - OWASP JWT cheat sheet: revocation is keyed on the session id, not on a token's text: every
 *   access token the session ever had is refused at once, and the user's other sessions are not;
 * - ASVS V7 (no session token in a URL): a valid access token in the query string authenticates
 *   nothing, on any adapter;
 * - a leaked signing key stops working once it leaves the ring: a token forged with it, however far
 *   away its `exp`, is refused after a rotation plus the retention (access TTL + tolerance).
 */
import { CompactSign, importPKCS8, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLatchkey, UnauthorisedError, type Latchkey } from 'latchkey';
import { memoryStore } from 'latchkey/stores/memory';
import { deriveSubkey } from '../../src/keys/derive.js';
import { decryptPrivateKey } from '../../src/keys/encryption.js';
import { ISSUER, TEST_SECRET, testEngine } from '../helpers/engine.js';
import { ADAPTERS } from './support/adapters.js';

async function refused(lk: Latchkey, token: string): Promise<UnauthorisedError> {
  const err = await lk.verifyAccessToken(token).then(() => null, (e: unknown) => e);
  expect(err).toBeInstanceOf(UnauthorisedError);
  return err as UnauthorisedError;
}

describe('requirements pinned here', () => {
  it('RFC 8725: a nested JWT (cty JWT) signed by our own key around our own access token is refused', async () => {
    const { lk, store } = await testEngine();
    const { accessToken } = await lk.createSession({ userId: 'nested' });
    const [key] = await store.listSigningKeys();
    const pem = decryptPrivateKey(deriveSubkey(new TextEncoder().encode(TEST_SECRET), 'key-encryption'), key!.kid, key!.privateKeyEncrypted);
    const signingKey = await importPKCS8(pem, key!.alg);
    for (const header of [{ cty: 'JWT', typ: 'at+jwt' }, { cty: 'JWT' }, { typ: 'at+jwt' }]) {
      const nested = await new CompactSign(new TextEncoder().encode(accessToken)).setProtectedHeader({ alg: key!.alg, kid: key!.kid, ...header }).sign(signingKey);
      const err = await refused(lk, nested);
      expect(['malformed', 'wrong_type', 'claim_invalid']).toContain(err.reason);
    }
    // The inner token itself is fine: the refusals above were about the nesting.
    expect((await lk.verifyAccessToken(accessToken)).userId).toBe('nested');
  });

  it('a token forged with a leaked key: a far-off exp is refused at once; others die when the key leaves the ring', async () => {
    const { lk, clock, store } = await testEngine();
    const [old] = await store.listSigningKeys();
    const pem = decryptPrivateKey(deriveSubkey(new TextEncoder().encode(TEST_SECRET), 'key-encryption'), old!.kid, old!.privateKeyEncrypted);
    const leaked = await importPKCS8(pem, old!.alg);
    const { session } = await lk.createSession({ userId: 'leak' });
    const forge = (lifetime: number) => {
      const now = Math.floor(clock.now() / 1000);
      return new SignJWT({ iss: ISSUER, aud: 'latchkey', sub: 'leak', sid: session.id, jti: 'forged', iat: now, exp: now + lifetime, auth_time: now })
        .setProtectedHeader({ alg: old!.alg, typ: 'at+jwt', kid: old!.kid })
        .sign(leaked);
    };
    // A forger's favourite, a year-long token, claims more than the TTL latchkey ever mints: refused.
    expect((await refused(lk, await forge(365 * 86_400))).reason).toBe('claim_invalid');
    // One shaped like ours passes while the key is in the ring...
    expect((await lk.verifyAccessToken(await forge(900))).userId).toBe('leak');
    await lk.rotateKeys();
    const retainSeconds = lk.settings.accessTokenTtlSeconds + lk.settings.clockToleranceSeconds;
    clock.advance(retainSeconds + 1);
    await lk.maintainKeys();
    // ...and not once the key has left it.
    expect((await refused(lk, await forge(900))).reason).toBe('unknown_key');
    expect(lk.jwks().keys.map((k) => k.kid)).not.toContain(old!.kid);
  });

  it('after a leak, rotateKeys({ dropPrevious }) ends the leaked key at once', async () => {
    const { lk, clock, store } = await testEngine();
    const [old] = await store.listSigningKeys();
    const pem = decryptPrivateKey(deriveSubkey(new TextEncoder().encode(TEST_SECRET), 'key-encryption'), old!.kid, old!.privateKeyEncrypted);
    const leaked = await importPKCS8(pem, old!.alg);
    const { session } = await lk.createSession({ userId: 'leak' });
    const now = Math.floor(clock.now() / 1000);
    const forged = await new SignJWT({ iss: ISSUER, aud: 'latchkey', sub: 'leak', sid: session.id, jti: 'f', iat: now, exp: now + 900, auth_time: now })
      .setProtectedHeader({ alg: old!.alg, typ: 'at+jwt', kid: old!.kid })
      .sign(leaked);
    expect((await lk.verifyAccessToken(forged)).userId).toBe('leak');
    await lk.rotateKeys({ dropPrevious: true });
    expect((await refused(lk, forged)).reason).toBe('unknown_key');
  });

  it('revocation is keyed on the session: every token the session ever had is refused, other sessions are not', async () => {
    const { lk } = await testEngine();
    const first = await lk.createSession({ userId: 'keyed' });
    const other = await lk.createSession({ userId: 'keyed' });
    const tokens = [first.accessToken];
    let refresh = first.refreshToken;
    for (let i = 0; i < 3; i++) {
      const next = await lk.refresh(refresh);
      tokens.push(next.accessToken);
      refresh = next.refreshToken;
    }
    tokens.push((await lk.reissueTokens(first.session.id)).accessToken);
    expect(new Set(tokens).size).toBe(tokens.length);
    for (const t of tokens) expect((await lk.verifyAccessToken(t)).sessionId).toBe(first.session.id);
    expect(await lk.revokeSession(first.session.id)).toBe(true);
    for (const t of tokens) expect((await refused(lk, t)).reason).toBe('revoked');
    expect((await lk.verifyAccessToken(other.accessToken)).sessionId).toBe(other.session.id);
  });
});

for (const [name, build] of ADAPTERS) {
  describe(`no session token in a URL: ${name}`, () => {
    let engine: Latchkey;
    let app: Awaited<ReturnType<typeof build>>;
    let accessToken: string;
    beforeAll(async () => {
      engine = await createLatchkey({ issuer: 'http://localhost', secret: TEST_SECRET, store: memoryStore(), timers: false });
      app = await build(engine);
      accessToken = (await engine.createSession({ userId: 'url' })).accessToken;
    });
    afterAll(async () => {
      await app?.close();
      await engine?.close();
    });

    it('an access token in the query string authenticates nothing, in either mode', async () => {
      for (const query of [`access_token=${accessToken}`, `token=${accessToken}`, `${encodeURIComponent('__Host-lk_access')}=${accessToken}`]) {
        for (const headers of [{}, { 'x-latchkey-mode': 'header' }] as Array<Record<string, string>>) {
          const res = await app.fetch(`/api/me?${query}`, { method: 'GET', headers });
          expect(res.status, `${query} ${JSON.stringify(headers)}`).toBe(401);
        }
      }
      // The same token where the protocol puts it does work.
      const ok = await app.fetch('/api/me', { method: 'GET', headers: { 'x-latchkey-mode': 'header', authorization: `Bearer ${accessToken}` } });
      expect(ok.status).toBe(200);
    });
  });
}
