/**
 * Any JOSE library verifies latchkey's access tokens from the published JWKS alone. Here the
 * independent verifier is jose's local JWKS set, built from latchkey's JWKS document, checking iss,
 * aud and typ, as a backend in another language would.
 */
import { createLocalJWKSet, jwtVerify } from 'jose';
import { describe, expect, it } from 'vitest';
import { ISSUER, testEngine } from '../helpers/engine.js';

describe.each(['EdDSA', 'ES256', 'RS256'] as const)('an independent verifier with %s', (alg) => {
  it('accepts access tokens through the JWKS and refuses ID tokens', async () => {
    const { lk, clock } = await testEngine({ signingAlgorithm: alg });
    const { accessToken, idToken } = await lk.createSession({ userId: 'u-1', accessClaims: { scope: 'read' } });
    // Round-trip through JSON, as it would arrive over HTTP.
    const jwks = createLocalJWKSet(JSON.parse(JSON.stringify(lk.jwks())));
    const expected = { issuer: ISSUER, audience: 'latchkey', typ: 'at+jwt', algorithms: [alg], currentDate: new Date(clock.now()) };
    const { payload, protectedHeader } = await jwtVerify(accessToken, jwks, expected);
    expect(payload).toMatchObject({ sub: 'u-1', scope: 'read' });
    expect(protectedHeader.typ).toBe('at+jwt');
    await expect(jwtVerify(idToken, jwks, expected)).rejects.toMatchObject({ code: 'ERR_JWT_CLAIM_VALIDATION_FAILED' });
    // Tokens keep verifying across a rotation, from the JWKS of the moment.
    await lk.rotateKeys();
    const rotated = createLocalJWKSet(JSON.parse(JSON.stringify(lk.jwks())));
    await expect(jwtVerify(accessToken, rotated, expected)).resolves.toBeTruthy();
  });
});
