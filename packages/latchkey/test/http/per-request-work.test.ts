/**
 * Work the HTTP layer must not repeat per request (issue 18): the request's headers are read through
 * a counting reader, so a check done twice, or a header read that no answer needs, shows up as a
 * count. Answers are asserted too: doing less must never change them.
 * - token-mode CSRF reads the CSRF header and the Origin once per state-changing request (it used to
 *   run the header and Origin check twice: before the token work and again with the token);
 * - `authenticate` works out the CORS expose list only when it issues tokens, never per request, and
 *   not at all (no Origin read) when no allowed origin is configured.
 */
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { createLatchkey, type Latchkey } from 'latchkey';
import {
  createLatchkeyHttp,
  HeaderList,
  normaliseRequest,
  type HeaderReader,
  type HttpRequest,
  type LatchkeyHttp,
  type LatchkeyHttpOptions,
} from 'latchkey/http';
import { memoryStore } from 'latchkey/stores/memory';

const OWN = 'https://app.example.com';
const SPA = 'https://spa.example.com';

/** Headers that count how often each name is read. */
function countingHeaders(values: Record<string, string>): HeaderReader & { reads: Map<string, number> } {
  const headers = new Headers(values);
  const reads = new Map<string, number>();
  return {
    reads,
    get(name: string) {
      const lower = name.toLowerCase();
      reads.set(lower, (reads.get(lower) ?? 0) + 1);
      return headers.get(lower);
    },
  };
}

function request(method: string, headers: HeaderReader): HttpRequest {
  return normaliseRequest({ method, target: '/me', protocol: 'https', host: 'app.example.com', headers, body: async () => undefined });
}

/** The cookies a browser would send back after sign-in, as one Cookie header. */
function cookieHeader(list: HeaderList): string {
  return list.entries
    .filter(([name]) => name === 'set-cookie')
    .map(([, value]) => value.split(';')[0]!)
    .join('; ');
}

describe('per-request work in authenticate', () => {
  let engine: Latchkey;
  beforeEach(async () => {
    engine = await createLatchkey({ issuer: OWN, store: memoryStore(), secret: 'per-request-test-secret-0123456789abcdef', timers: false });
  });
  afterEach(async () => {
    await engine.close();
  });

  async function signedIn(options: LatchkeyHttpOptions): Promise<{ http: LatchkeyHttp; cookie: string; csrf: string | undefined }> {
    const http = createLatchkeyHttp(engine, options);
    const sink = new HeaderList();
    await http.signIn(request('POST', new Headers({ 'x-latchkey-csrf': '1', origin: OWN })), { userId: 'u1' }, sink);
    const csrf = sink.entries.find(([name]) => name === 'x-latchkey-csrf-token')?.[1];
    return { http, cookie: cookieHeader(sink), csrf };
  }

  test('token-mode CSRF reads the CSRF header and the Origin once on a state-changing request', async () => {
    const { http, cookie, csrf } = await signedIn({ csrf: { mode: 'token', secret: 'csrf-secret-0123456789abcdef0123456789' } });
    expect(csrf).toBeDefined();
    const headers = countingHeaders({ cookie, origin: OWN, 'x-latchkey-csrf': csrf! });
    const result = await http.authenticate(request('POST', headers));
    expect(result.ok).toBe(true);
    expect(headers.reads.get('x-latchkey-csrf')).toBe(1);
    expect(headers.reads.get('origin')).toBe(1);

    // Still refused as before: a token bound to no session of ours, and a foreign Origin.
    const forged = await http.authenticate(request('POST', new Headers({ cookie, origin: OWN, 'x-latchkey-csrf': 'x.y' })));
    expect(forged.ok ? 200 : forged.response.status).toBe(403);
    const foreign = await http.authenticate(
      request('POST', new Headers({ cookie, origin: 'https://evil.example', 'x-latchkey-csrf': csrf! })),
    );
    expect(foreign.ok ? 200 : foreign.response.status).toBe(403);
  });

  test('an authenticated GET reads no Origin when no allowed origin is configured', async () => {
    const { http, cookie } = await signedIn({});
    const headers = countingHeaders({ cookie, origin: SPA });
    const result = await http.authenticate(request('GET', headers));
    expect(result.ok).toBe(true);
    expect(headers.reads.get('origin') ?? 0).toBe(0);
  });

  test('with allowed origins, the expose list is worked out only when tokens are reissued, and still sent then', async () => {
    const { http, cookie } = await signedIn({ allowedOrigins: [SPA] });
    const headers = countingHeaders({ cookie, origin: SPA });
    const sink = new HeaderList();
    const result = await http.authenticate(request('GET', headers), {}, sink);
    if (!result.ok) throw new Error(`refused: ${result.response.status}`);
    expect(headers.reads.get('origin') ?? 0).toBe(0);
    await result.session.update({ accessClaims: { role: 'admin' } });
    expect(headers.reads.get('origin')).toBe(1);
    expect(sink.entries.filter(([name]) => name === 'access-control-expose-headers')).toHaveLength(1);

    // A same-origin caller gets no expose list on its reissue.
    const own = new HeaderList();
    const same = await http.authenticate(request('GET', new Headers({ cookie, origin: OWN })), {}, own);
    if (!same.ok) throw new Error(`refused: ${same.response.status}`);
    await same.session.update({ accessClaims: { role: 'user' } });
    expect(own.entries.some(([name]) => name === 'access-control-expose-headers')).toBe(false);
  });
});
