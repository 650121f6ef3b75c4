/**
 * One error vocabulary and one table. The engine's code union holds the engine's codes only (the
 * HTTP layer's are a union of their own); the HTTP layer and the service answer through the same
 * table, so a code means the same on both (the service in its contract's wording); and no two
 * exported classes of the package share a name.
 */
import { describe, expect, it } from 'vitest';
import {
  InvalidClaimsError,
  InvalidDpopProofError,
  isLatchkeyError,
  LatchkeyError,
  NotFoundError,
  RateLimitedError,
  StoreUnavailableError,
  TokenTheftError,
  TryRefreshError,
  UnauthorisedError,
  UseDpopNonceError,
  SessionRefusedError,
  type LatchkeyErrorCode,
} from 'latchkey';
import { HttpError, RateLimitedError as HttpRateLimitedError, type HttpErrorCode } from 'latchkey/http';
import { mapError } from '../../src/http/errors.js';
import { toServiceError } from '../../src/service/errors.js';

describe('the error vocabulary', () => {
  it("keeps the HTTP layer's codes out of the engine's union, and still one catch handles both", () => {
    // @ts-expect-error CSRF_REJECTED is the HTTP layer's code, not the engine's.
    const csrf: LatchkeyErrorCode = 'CSRF_REJECTED';
    // @ts-expect-error INVALID_REQUEST is the HTTP layer's code, not the engine's.
    const invalid: LatchkeyErrorCode = 'INVALID_REQUEST';
    // @ts-expect-error INVALID_API_KEY is the service's code, not the engine's.
    const apiKey: LatchkeyErrorCode = 'INVALID_API_KEY';
    // @ts-expect-error UNAUTHORISED is the engine's code, not the HTTP layer's.
    const engine: HttpErrorCode = 'UNAUTHORISED';
    expect([csrf, invalid, apiKey, engine]).toHaveLength(4);

    const refusal = new HttpError(403, 'CSRF_REJECTED', 'forged');
    expect(refusal).toBeInstanceOf(LatchkeyError);
    expect(isLatchkeyError(refusal, 'CSRF_REJECTED')).toBe(true);
    expect(isLatchkeyError(new TryRefreshError(), 'CSRF_REJECTED')).toBe(false);
  });
  it("RATE_LIMITED is the HTTP layer's (its API-key check owns the rate limiter), with the same class from both entries", () => {
    // @ts-expect-error RATE_LIMITED is the HTTP layer's code, not the engine's: the engine never rate-limits.
    const engine: LatchkeyErrorCode = 'RATE_LIMITED';
    const http: HttpErrorCode = 'RATE_LIMITED';
    expect([engine, http]).toEqual(['RATE_LIMITED', 'RATE_LIMITED']);
    expect(RateLimitedError).toBe(HttpRateLimitedError);
    const error = new RateLimitedError(7);
    expect(error).toBeInstanceOf(HttpError);
    expect([error.status, error.code, error.retryAfterSeconds]).toEqual([429, 'RATE_LIMITED', 7]);
    expect(isLatchkeyError(error, 'RATE_LIMITED')).toBe(true);
    expect(mapError(error, 'header')).toMatchObject({
      status: 429,
      body: { error: { code: 'RATE_LIMITED' } },
      headers: [['retry-after', '7']],
    });
  });
});

describe('one table for the HTTP layer and the service', () => {
  it('INVALID_CLAIMS is a 400 refusal of supplied claims on both; the service names the field as its contract words it', () => {
    const error = new InvalidClaimsError('accessClaims exceeds 4096 bytes', 'accessClaims');
    expect(mapError(error, 'header')).toMatchObject({ status: 400, body: { error: { code: 'INVALID_CLAIMS', message: error.message } } });
    const service = toServiceError(error);
    expect([service.status, service.body()]).toEqual([
      400,
      { error: { code: 'INVALID_REQUEST', message: error.message, field: 'accessClaims' } },
    ]);
  });

  it("gives the service the table's status for every engine error, and its body except where the contract words it otherwise", () => {
    const errors: LatchkeyError[] = [
      new TryRefreshError(),
      new UnauthorisedError('bad_signature', 'bad signature'),
      new NotFoundError('no such session'),
      new TokenTheftError('s1', 'u1', 'rotated-out-replay'),
      new TokenTheftError('s1', 'u1', 'revoked-for-theft'),
      new StoreUnavailableError(),
      // Issue 16: a beforeCreate refusal, from an engine the service embeds with hooks.
      new SessionRefusedError('this account is suspended'),
    ];
    for (const error of errors) {
      const http = mapError(error, undefined);
      const service = toServiceError(error);
      expect(service.status, error.code).toBe(http.status);
      if (error instanceof TokenTheftError && error.reason === 'revoked-for-theft') {
        expect(service.body()).toEqual({ error: { code: 'UNAUTHORISED', message: error.message, reason: 'revoked-for-theft' } });
      } else if (error instanceof StoreUnavailableError) {
        expect([service.code, service.headers['Retry-After']]).toEqual(['STORE_UNAVAILABLE', '1']);
      } else {
        expect(service.body(), error.code).toEqual(http.body);
      }
    }
  });

  it('gives the service the DPoP refusals of contract v1.1 with their challenge and nonce headers', () => {
    const nonce = toServiceError(new UseDpopNonceError('n-1'));
    expect([nonce.status, nonce.body()]).toEqual([401, { error: { code: 'USE_DPOP_NONCE', message: expect.any(String), nonce: 'n-1' } }]);
    expect(new Headers(nonce.headers).get('dpop-nonce')).toBe('n-1');
    expect(new Headers(nonce.headers).get('www-authenticate')).toBe('DPoP error="use_dpop_nonce"');
    const proof = toServiceError(new InvalidDpopProofError('signature', 'bad proof'));
    expect([proof.status, proof.code, new Headers(proof.headers).get('www-authenticate')]).toEqual([
      401,
      'INVALID_DPOP_PROOF',
      'DPoP error="invalid_dpop_proof"',
    ]);
  });

  it("answers a code the service contract does not name (the HTTP layer's CSRF refusal) with a bare 500", () => {
    const service = toServiceError(new HttpError(403, 'CSRF_REJECTED', 'forged'));
    expect([service.status, service.body()]).toEqual([500, { error: { code: 'INTERNAL_ERROR', message: 'internal error' } }]);
  });
});

describe('exported classes', () => {
  it('no two classes exported by the entry points share a name', async () => {
    const entries = await Promise.all([
      import('latchkey'),
      import('latchkey/http'),
      import('latchkey/service'),
      import('latchkey/adapters/express'),
      import('latchkey/adapters/fastify'),
      import('latchkey/adapters/hono'),
      import('latchkey/adapters/node'),
      import('latchkey/stores/memory'),
      import('latchkey/stores/sqlite'),
      import('latchkey/stores/postgres'),
      import('latchkey/revocation/redis'),
      import('latchkey/revocation/pg-notify'),
      import('latchkey/rate-limit/redis'),
    ]);
    const byName = new Map<string, Set<unknown>>();
    for (const entry of entries) {
      for (const value of Object.values(entry)) {
        if (typeof value !== 'function' || !Function.prototype.toString.call(value).startsWith('class ')) continue;
        const { name } = value as { name: string };
        byName.set(name, (byName.get(name) ?? new Set()).add(value));
      }
    }
    expect(byName.size).toBeGreaterThan(10);
    const shared = [...byName].filter(([, classes]) => classes.size > 1).map(([name]) => name);
    expect(shared).toEqual([]);
  });
});
