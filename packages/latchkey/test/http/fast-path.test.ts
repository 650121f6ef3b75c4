/**
 * The HTTP layer's per-request shortcuts must never change an answer:
 * - the raw-target pre-check may say "maybe" wrongly but never "no" for a target whose parsed path
 *   is an auth route (that request would fall through to the app, unauthenticated handling skipped);
 * - the per-request memo shares one normalised request per framework object and never across two;
 * - lazy protocol, host and ip are resolved only on use, once.
 */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { normaliseRequest, type HttpRequest } from 'latchkey/http';
import { oncePerRequest } from '../../src/http/request.js';
import { authTargetFilter } from '../../src/http/target-filter.js';

function parsedPath(target: string): string {
  return normaliseRequest({ method: 'GET', target, protocol: 'https', host: 'a.example', headers: new Headers(), body: async () => undefined }).path;
}

/** What the full route match (routes.ts) accepts: the JWKS path or anything under the base path. */
function isAuthPath(path: string, base: string, jwks: string | undefined): boolean {
  return path === jwks || path.startsWith(`${base}/`);
}

describe('raw-target pre-check', () => {
  const filter = authTargetFilter('/auth', '/.well-known/jwks.json');

  test.each([
    '/auth/refresh',
    '/auth/sessions?others=true',
    '/auth/sessions/abc',
    '/auth/x',
    '/.well-known/jwks.json',
    '/a/../auth/refresh',
    '/a/%2e%2e/auth/refresh',
    '/auth\\refresh',
    '/au\tth/refresh',
    '/./auth/refresh',
    'http://evil.example/auth/refresh',
    '*',
  ])('%s is passed on to the full match', (target) => {
    expect(filter(target)).toBe(true);
  });

  test.each(['/me', '/api/auth/refresh', '/authx/refresh', '/auth', '/me?next=/auth/refresh', '//auth/refresh', '/me#/auth/refresh'])('%s is ruled out', (target) => {
    expect(filter(target)).toBe(false);
    expect(isAuthPath(parsedPath(target), '/auth', '/.well-known/jwks.json')).toBe(false);
  });

  test('property: never rules out a target whose parsed path is an auth route', () => {
    const piece = fc.constantFrom('/', 'auth', 'a', '.', '..', '%2e', '%2E', '\\', '\t', ' ', '?', '#', '%', 'refresh', 'sessions', '.well-known', 'jwks.json', 'é', '%41', '//');
    const target = fc.array(piece, { maxLength: 10 }).map((parts) => `/${parts.join('')}`);
    const config = fc.constantFrom<[string, string | undefined]>(['/auth', '/.well-known/jwks.json'], ['/a/b', undefined], ['/x.y', '/keys']);
    fc.assert(
      fc.property(target, config, (t, [base, jwks]) => {
        const f = authTargetFilter(base, jwks);
        if (isAuthPath(parsedPath(t), base, jwks)) expect(f(t), t).toBe(true);
      }),
      { numRuns: 3000 },
    );
  });
});

describe('per-request memo', () => {
  test('one normalised request per object, built once; never shared between objects', () => {
    let builds = 0;
    const memo = oncePerRequest((key: { url: string }): HttpRequest => {
      builds++;
      return normaliseRequest({ method: 'GET', target: key.url, protocol: 'https', host: 'a.example', headers: new Headers(), body: async () => undefined });
    });
    const a = { url: '/a' };
    const b = { url: '/b' };
    expect(memo(a)).toBe(memo(a));
    expect(memo(b).path).toBe('/b');
    expect(memo(a).path).toBe('/a');
    expect(builds).toBe(2);
    // Nothing visible is added to the framework's object.
    expect(Object.keys(a)).toEqual(['url']);
    expect(JSON.stringify(a)).toBe('{"url":"/a"}');
    // A frozen object is not memoised, and not broken either.
    const frozen = Object.freeze({ url: '/f' });
    expect(memo(frozen).path).toBe('/f');
    expect(memo(frozen)).not.toBe(memo(frozen));
  });
});

describe('lazy request parts', () => {
  test('protocol, host and ip are resolved on first use only, once', () => {
    const calls: string[] = [];
    const request = normaliseRequest({
      method: 'post',
      target: '/x?y=1',
      protocol: () => (calls.push('protocol'), 'https'),
      host: () => (calls.push('host'), 'app.example:443'),
      ip: () => (calls.push('ip'), '192.0.2.1'),
      headers: new Headers(),
      body: async () => undefined,
    });
    expect(request.method).toBe('POST');
    expect(request.target).toBe('/x?y=1');
    expect(calls).toEqual([]);
    expect(request.ownOrigin).toBe('https://app.example');
    expect(request.ownOrigin).toBe('https://app.example');
    expect(request.ip).toBe('192.0.2.1');
    expect(request.ip).toBe('192.0.2.1');
    expect(calls).toEqual(['protocol', 'host', 'ip']);
    expect(request.path).toBe('/x');
    expect(request.query.get('y')).toBe('1');
  });
});
