/**
 * A real non-Node client: Python with PyJWT fetches the JWKS over HTTP and verifies an access token
 * with iss, aud and typ checked, and refuses an ID token and tokens for another issuer or audience,
 * for each signing algorithm. This is the contract's promise that any JOSE library can verify
 * latchkey tokens.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serviceAvailable } from '../helpers/services.js';
import { startTestService, type TestService } from './helpers.js';

const PYTHON = '/usr/bin/python3';
const SCRIPT = fileURLToPath(new URL('./clients/verify_pyjwt.py', import.meta.url));
const run = promisify(execFile);

const available = await serviceAvailable('Python 3 with PyJWT', () => run(PYTHON, ['-c', 'import jwt, cryptography']));

async function pyVerify(t: TestService, tokens: string[], issuer: string, audience = 'latchkey'): Promise<Array<{ ok: boolean; sub?: string; sid?: string; role?: string; error?: string }>> {
  const child = execFile(PYTHON, [SCRIPT, t.url, issuer, audience], { timeout: 20_000 });
  const output = new Promise<string>((resolve, reject) => {
    let out = '';
    let err = '';
    child.stdout!.on('data', (d: Buffer) => (out += d));
    child.stderr!.on('data', (d: Buffer) => (err += d));
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`python exited ${code}: ${err}`))));
  });
  child.stdin!.end(tokens.join('\n') + '\n');
  return (await output).trim().split('\n').map((l) => JSON.parse(l));
}

describe.skipIf(!available)('a Python backend verifies through JWKS (PyJWT)', () => {
  for (const alg of ['EdDSA', 'ES256', 'RS256'] as const) {
    describe(alg, () => {
      let t: TestService;
      beforeAll(async () => {
        t = await startTestService({ env: { LATCHKEY_SIGNING_ALG: alg } });
      });
      afterAll(async () => {
        await t?.close();
      });

      it('accepts an access token with iss, aud and typ checked; refuses ID tokens and wrong iss/aud', async () => {
        const created = await t.call('POST', '/v1/sessions', { body: { userId: 'py-user', accessClaims: { role: 'admin' } } });
        expect(created.status).toBe(201);
        const issuer = (await t.call('GET', '/.well-known/openid-configuration', { auth: null })).json.issuer as string;
        const { accessToken, idToken } = created.json as { accessToken: string; idToken: string };

        const [access, id] = await pyVerify(t, [accessToken, idToken], issuer);
        expect(access).toEqual({ ok: true, sub: 'py-user', sid: created.json.session.id, role: 'admin' });
        expect(id).toEqual({ ok: false, error: 'InvalidTokenError' });

        const [wrongIssuer] = await pyVerify(t, [accessToken], 'https://evil.example');
        expect(wrongIssuer).toEqual({ ok: false, error: 'InvalidIssuerError' });
        const [wrongAudience] = await pyVerify(t, [accessToken], issuer, 'another-api');
        expect(wrongAudience).toEqual({ ok: false, error: 'InvalidAudienceError' });
      });
    });
  }
});
