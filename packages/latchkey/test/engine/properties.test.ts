/**
 * Property-based tests on the engine's input paths: whatever arrives, the answer is a typed error
 * (never another kind of exception), rejected input never reaches the store, and nothing is accepted
 * that latchkey's own keys did not sign.
 */
import fc from 'fast-check';
import { base64url } from 'jose';
import { describe, expect, it } from 'vitest';
import { InvalidClaimsError, LatchkeyError, UnauthorisedError, type IssuedTokens } from 'latchkey';
import { memoryStore } from 'latchkey/stores/memory';
import { twinToken } from '../helpers/ecdsa.js';
import { countingStore, testEngine } from '../helpers/engine.js';

const segment = fc.oneof(
  fc.base64String().map((s) => s.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')),
  fc.string(),
  fc.json().map((j) => base64url.encode(j)),
  fc.dictionary(fc.constantFrom('alg', 'typ', 'kid', 'jwk', 'jku', 'crit', 'b64', 'enc', 'zip'), fc.jsonValue()).map((h) => base64url.encode(JSON.stringify(h))),
);
const tokenLike = fc.oneof(
  fc.string(),
  fc.array(segment, { minLength: 1, maxLength: 6 }).map((parts) => parts.join('.')),
  fc.anything(),
);

describe('properties of the engine', () => {
  it('verify: arbitrary input is refused with a typed UNAUTHORISED error and never touches the store', async () => {
    const counted = countingStore(memoryStore());
    const { lk } = await testEngine({ store: counted.store });
    const before = new Map(counted.calls);
    await fc.assert(
      fc.asyncProperty(tokenLike, async (input) => {
        const err = await lk.verifyAccessToken(input).then(() => null, (e: unknown) => e);
        expect(err).toBeInstanceOf(UnauthorisedError);
      }),
      { numRuns: 400 },
    );
    // An unknown kid may trigger a rate-limited key reload; nothing else reaches the store.
    for (const [method, count] of counted.calls) {
      if (method !== 'listSigningKeys') expect(count).toBe(before.get(method));
    }
  });

  it.each(['EdDSA', 'ES256', 'RS256'] as const)('verify (%s): any change to a valid token is refused, even one that decodes to the same bytes or spells the same signature', async (alg) => {
    const { lk } = await testEngine({ signingAlgorithm: alg });
    const { accessToken } = await lk.createSession({ userId: 'u', accessClaims: { role: 'reader' } });
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.';
    const charChange = fc.tuple(fc.nat({ max: accessToken.length - 1 }), fc.nat({ max: alphabet.length - 1 }))
      .map(([at, c]) => accessToken.slice(0, at) + alphabet[c] + accessToken.slice(at + 1));
    // ES256: the signature's twin (r, n - s) verifies for any ECDSA verifier; ours must refuse it too.
    const change = alg === 'ES256' ? fc.oneof(charChange, fc.constant(twinToken(accessToken))) : charChange;
    await fc.assert(
      fc.asyncProperty(change, async (mutated) => {
        if (mutated === accessToken) return;
        const result = await lk.verifyAccessToken(mutated).then(() => 'accepted', (e: unknown) => e);
        // Even a different spelling of the very same bytes (base64url's unused trailing bits) is refused.
        expect(result).toBeInstanceOf(LatchkeyError);
      }),
      { numRuns: 300 },
    );
    if (alg === 'ES256') await expect(lk.verifyAccessToken(twinToken(accessToken))).rejects.toBeInstanceOf(LatchkeyError);
    await expect(lk.verifyAccessToken(accessToken)).resolves.toBeTruthy();
    await lk.close();
  });

  it('refresh: arbitrary input is refused with a typed error and writes nothing', async () => {
    const counted = countingStore(memoryStore());
    const { lk } = await testEngine({ store: counted.store });
    const { refreshToken } = await lk.createSession({ userId: 'u' });
    const writes = () => (counted.calls.get('rotateRefreshToken') ?? 0) + (counted.calls.get('createSession') ?? 0) + (counted.calls.get('revokeSession') ?? 0);
    const before = writes();
    await fc.assert(
      fc.asyncProperty(fc.oneof(tokenLike, fc.string().map((s) => `lkrt_${s}`)), async (input) => {
        if (input === refreshToken) return;
        const err = await lk.refresh(input).then(() => null, (e: unknown) => e);
        expect(err).toBeInstanceOf(UnauthorisedError);
      }),
      { numRuns: 300 },
    );
    expect(writes()).toBe(before);
    // The real token was not disturbed by any of it.
    await expect(lk.refresh(refreshToken)).resolves.toBeTruthy();
  });

  it('createSession: arbitrary claims are either accepted as JSON or refused with INVALID_CLAIMS', async () => {
    const { lk } = await testEngine();
    await fc.assert(
      fc.asyncProperty(fc.anything(), fc.dictionary(fc.string(), fc.jsonValue()), async (weird, dict) => {
        for (const claims of [weird, dict]) {
          const result: IssuedTokens | Error = await lk.createSession({ userId: 'u', accessClaims: claims as never }).then(
            (r) => r,
            (e: unknown) => e as Error,
          );
          if (result instanceof Error) {
            expect(result).toBeInstanceOf(InvalidClaimsError);
          } else {
            const verified = await lk.verifyAccessToken(result.accessToken);
            for (const [k, v] of Object.entries((claims ?? {}) as object)) expect(verified.claims[k]).toEqual(JSON.parse(JSON.stringify(v)));
          }
        }
      }),
      { numRuns: 150 },
    );
  });
});
