/**
 * Property-based fuzzing of the standalone service's input paths, on SQLite and on PostgreSQL:
 * random methods and paths (percent-encoding tricks included), random API keys, random headers, and
 * request bodies that are random JSON, valid bodies with wrong types, unknown fields and genuine
 * tokens in the wrong fields, huge bodies, invalid UTF-8 and raw bytes on the socket.
 *
 * The contract suite (test/service/contract.ts) has one example of each kind of bad input; this
 * file checks the properties over thousands of generated ones:
 * - never a 5xx, always the contract's error shape with a known code;
 * - never a store write on rejected input (effects counted on the real store, support/effects.ts):
 *   the one rejection that writes is TOKEN_THEFT_DETECTED, whose revocation is the point;
 * - a request without a valid API key reaches nothing but the API-key lookup;
 * - an error body never echoes a token or key;
 * - no token latchkey's current key set did not sign is ever accepted.
 */
import { rmSync } from 'node:fs';
import { connect } from 'node:net';
import { generateKeyPair, SignJWT } from 'jose';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLatchkey } from 'latchkey';
import { memoryStore } from 'latchkey/stores/memory';
import { sqliteStore } from 'latchkey/stores/sqlite';
import { postgresStore } from 'latchkey/stores/postgres';
import { jsonLogger, loadServiceConfig, schemas, startService } from 'latchkey/service';
import type { ServiceSessionStore } from 'latchkey';
import { postgresAvailable } from '../helpers/postgres.js';
import { API_KEY, tempDir, type Reply, type TestService } from '../service/helpers.js';
import { createTestDatabase, type TestDatabase } from '../service/pg-database.js';
import { effectStore, type EffectLog } from './support/effects.js';
import { findSecrets } from './support/load.js';
import { report, scale } from './support/soak.js';

/** Generous: a property's run count is fixed, its duration depends on the machine. */
const PROPERTY_TIMEOUT_MS = scale(60_000, 600_000);

const ISSUER = 'https://fuzz.latchkey.test';
const RUNS = scale(250, 3000);
const SOCKET_RUNS = scale(40, 400);
const ALLOWED_STATUS = new Set([200, 201, 204, 400, 401, 403, 404, 405, 413]);
const ERROR_CODES = new Set<string>(schemas.ERROR_CODES);

interface Pool {
  /** Genuine credentials of this service: they must never appear in an error body. */
  secrets: string[];
  sessionIds: string[];
  values: fc.Arbitrary<unknown>;
}

interface Backend {
  name: string;
  skip: boolean;
  open(): Promise<{ log: EffectLog; t: TestService; lines: string[]; close(): Promise<void> }>;
}

/**
 * As `startTestService` (test/service/helpers.ts), but keeping every log line the service writes,
 * at every level, for the secrets check.
 */
async function startCapturing(store: ServiceSessionStore): Promise<{ t: TestService; lines: string[] }> {
  const dir = tempDir('latchkey-fuzz-service-');
  const lines: string[] = [];
  const config = loadServiceConfig({ PORT: '0', LATCHKEY_STORE: `sqlite:${dir}/unused.db`, LATCHKEY_SECRET_FILE: `${dir}/secret.key`, LATCHKEY_API_KEYS: API_KEY, LATCHKEY_ISSUER: ISSUER });
  const service = await startService({ config, store, defaultMetrics: false, engineOptions: { timers: false }, logger: jsonLogger({ level: 'debug', write: (line) => void lines.push(line) }) });
  const call: TestService['call'] = async (method, path, opts = {}) => {
    const headers: Record<string, string> = { ...opts.headers };
    if (opts.auth !== null) headers.authorization = `Bearer ${opts.auth ?? API_KEY}`;
    const body = opts.body !== undefined ? JSON.stringify(opts.body) : opts.raw;
    if (opts.body !== undefined) headers['content-type'] ??= 'application/json';
    const res = await fetch(service.url + path, { method, headers, ...(body !== undefined ? { body } : {}) });
    const text = await res.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    return { status: res.status, headers: res.headers, text, json } satisfies Reply;
  };
  const t: TestService = { service, clock: undefined, url: service.url, dir, call, close: async () => { await service.close(); rmSync(dir, { recursive: true, force: true }); } };
  return { t, lines };
}

const pgUp = await postgresAvailable();

const backends: Backend[] = [
  {
    name: 'SQLite',
    skip: false,
    async open() {
      const dir = tempDir('latchkey-fuzz-');
      const log = effectStore(sqliteStore({ path: `${dir}/fuzz.db` }));
      const { t, lines } = await startCapturing(log.store);
      return { log, t, lines, close: async () => { await t.close(); await log.store.close(); rmSync(dir, { recursive: true, force: true }); } };
    },
  },
  {
    name: 'PostgreSQL',
    skip: !pgUp,
    async open() {
      const db: TestDatabase = await createTestDatabase('lk_fuzz');
      const log = effectStore(postgresStore({ connectionString: db.url, max: 4 }));
      const { t, lines } = await startCapturing(log.store);
      return { log, t, lines, close: async () => { await t.close(); await log.store.close(); await db.drop(); } };
    },
  },
];

const b64chars = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const b64 = (n: number) => fc.string({ unit: fc.constantFrom(...b64chars), minLength: n, maxLength: n });

/** Tokens minted by another installation (same issuer and audience, another secret) and forgeries with our kid. */
async function foreignTokens(ourKid: string): Promise<string[]> {
  const other = await createLatchkey({ issuer: ISSUER, secret: 'another-installation-secret-0123456789', store: memoryStore(), timers: false });
  const issued = await other.createSession({ userId: 'mallory' });
  await other.close();
  const { privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
  const now = Math.floor(Date.now() / 1000);
  const claims = { iss: ISSUER, aud: 'latchkey', sub: 'mallory', sid: 'x', jti: 'y', iat: now, exp: now + 600, auth_time: now };
  const forged = await new SignJWT(claims).setProtectedHeader({ alg: 'EdDSA', typ: 'at+jwt', kid: ourKid }).sign(privateKey);
  const [h, p] = forged.split('.');
  return [issued.accessToken, issued.idToken, issued.refreshToken, forged, `${h}.${p}.`, `${h}.${p}`];
}

async function buildPool(t: TestService): Promise<Pool> {
  const a = (await t.call('POST', '/v1/sessions', { body: { userId: 'fuzz-a', accessClaims: { role: 'reader' } } })).json;
  const b0 = (await t.call('POST', '/v1/sessions', { body: { userId: 'fuzz-b' } })).json;
  const b1 = (await t.call('POST', '/v1/sessions/refresh', { body: { refreshToken: b0.refreshToken } })).json;
  const b2 = (await t.call('POST', '/v1/sessions/refresh', { body: { refreshToken: b1.refreshToken } })).json;
  const kid = (await t.call('GET', '/.well-known/jwks.json')).json.keys[0].kid as string;
  const foreign = await foreignTokens(kid);
  const genuine = [a.accessToken, a.idToken, a.refreshToken, b0.refreshToken, b1.refreshToken, b2.refreshToken, b2.accessToken];
  const values = fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom<unknown>(...genuine, ...foreign, a.session.id, 'fuzz-a') },
    { weight: 1, arbitrary: b64(43).map((s) => `lkrt_${s}`) },
    { weight: 3, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
    // Lone surrogates and NUL: text no JSON parser objects to, but not every database can store.
    { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 12 }) },
    { weight: 1, arbitrary: fc.constantFrom<unknown>('\u0000', '\ud800', 'a\udc00b', 1e308, -0, '', ' ', '__proto__', { __proto__: null }) },
  );
  return { secrets: [...genuine, API_KEY], sessionIds: [a.session.id, b0.session.id], values };
}

/** A body for `path`: mostly one shaped for its route, else anything. */
function bodyArbitrary(pool: Pool, path = ''): fc.Arbitrary<string | Uint8Array | undefined> {
  const v = pool.values;
  const claims = fc.oneof(fc.dictionary(fc.string({ maxLength: 8 }), v, { maxKeys: 3 }), v);
  const device = fc.oneof(fc.record({ userAgent: v, ip: v }, { requiredKeys: [] }), v);
  const shaped = fc.oneof(
    fc.record({ userId: v, accessClaims: claims, idClaims: claims, data: claims, device }, { requiredKeys: [] }),
    fc.record({ accessToken: v, checkStore: v, maxAuthAge: v }, { requiredKeys: [] }),
    fc.record({ refreshToken: v, device }, { requiredKeys: [] }),
  );
  // Valid in shape, odd in content: these reach the engine and the database.
  const text = fc.oneof(fc.string({ minLength: 1, maxLength: 12 }), fc.string({ unit: 'binary', minLength: 1, maxLength: 12 }));
  const odd = fc.dictionary(fc.string({ maxLength: 8 }), fc.oneof(text, fc.jsonValue({ maxDepth: 2 })), { maxKeys: 3 });
  const byRoute = {
    create: fc.record({ userId: text, accessClaims: odd, idClaims: odd, data: odd, device: fc.record({ userAgent: text, ip: text }, { requiredKeys: [] }) }, { requiredKeys: ['userId'] }),
    verify: fc.record({ accessToken: v, checkStore: fc.boolean(), maxAuthAge: fc.nat() }, { requiredKeys: ['accessToken'] }),
    refresh: fc.record({ refreshToken: v, device: fc.record({ userAgent: text, ip: text }, { requiredKeys: [] }) }, { requiredKeys: ['refreshToken'] }),
    patch: fc.record({ accessClaims: odd, idClaims: odd, data: odd }, { requiredKeys: [] }),
  };
  const route = path === '/v1/sessions' ? byRoute.create
    : path === '/v1/sessions/verify' ? byRoute.verify
    : path === '/v1/sessions/refresh' ? byRoute.refresh
    : path.startsWith('/v1/sessions/') ? byRoute.patch
    : undefined;
  const nearValid = fc.oneof(byRoute.create, byRoute.verify, byRoute.refresh, byRoute.patch);
  const withUnknown = fc.tuple(shaped, fc.string({ maxLength: 10 }), v).map(([body, key, value]) => ({ ...body, [key]: value }));
  return fc.oneof(
    { weight: route ? 12 : 0, arbitrary: (route ?? nearValid).map((b) => JSON.stringify(b)) },
    { weight: 6, arbitrary: fc.oneof(shaped, withUnknown).map((b) => JSON.stringify(b)) },
    { weight: 6, arbitrary: nearValid.map((b) => JSON.stringify(b)) },
    { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 4 }).map((j) => JSON.stringify(j)) },
    { weight: 1, arbitrary: fc.string({ maxLength: 40 }) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 40 }) },
    { weight: 1, arbitrary: fc.constantFrom('{"userId":"x"', '[', '{"a":1}{"b":2}', '{"userId":"x","userId":1}', '{"refreshToken":"\\ud800"}', `{"userId":"${'x'.repeat(70_000)}"}`, '\uFEFF{"userId":"bom"}') },
    { weight: 1, arbitrary: fc.constant(undefined) },
  );
}

function pathArbitrary(pool: Pool): fc.Arbitrary<string> {
  const segment = fc.oneof(
    fc.string({ maxLength: 16 }).map(encodeURIComponent),
    fc.constantFrom('..', '%2e%2e', '%00', '%ZZ', '%', '%E0%A4%A', 'a%2Fb', '', '%20', ...pool.sessionIds, 'fuzz-a'),
  );
  return fc.oneof(
    fc.constantFrom('/v1/sessions', '/v1/sessions/verify', '/v1/sessions/refresh', '/v1/keys/rotate', '/healthz', '/readyz', '/metrics', '/openapi.json', '/.well-known/jwks.json', '/.well-known/openid-configuration'),
    fc.tuple(fc.constantFrom('/v1/sessions/', '/v1/users/', '/v1/'), segment, fc.constantFrom('', '/sessions', '/x', '?others=true')).map(([a, s, c]) => `${a}${s}${c}`),
    fc.array(segment, { maxLength: 4 }).map((s) => `/${s.join('/')}`),
  );
}

/** Mostly a real route with its method (so bodies reach validation and the engine), sometimes anything. */
function targetArbitrary(pool: Pool): fc.Arbitrary<[string, string]> {
  const id = fc.oneof(fc.constantFrom(...pool.sessionIds, 'missing', 'fuzz-a', 'a\u0000b', '\u0000'), fc.string({ unit: 'binary', maxLength: 6 }));
  return fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom<[string, string]>(['POST', '/v1/sessions'], ['POST', '/v1/sessions/verify'], ['POST', '/v1/sessions/refresh'], ['POST', '/v1/keys/rotate']) },
    { weight: 1, arbitrary: id.map((i): [string, string] => ['PATCH', `/v1/sessions/${encodeURIComponent(i)}`]) },
    { weight: 1, arbitrary: fc.tuple(fc.constantFrom('GET', 'DELETE'), id, fc.constantFrom('/v1/sessions/', '/v1/users/'), fc.boolean())
      .map(([m, i, base, users]): [string, string] => [m, users ? `/v1/users/${encodeURIComponent(i)}/sessions` : `${base === '/v1/users/' ? '/v1/sessions/' : base}${encodeURIComponent(i)}`]) },
    { weight: 2, arbitrary: fc.tuple(fc.constantFrom('GET', 'POST', 'PATCH', 'DELETE', 'PUT', 'HEAD', 'OPTIONS'), pathArbitrary(pool)) },
  );
}

function authArbitrary(): fc.Arbitrary<string | undefined> {
  return fc.oneof(
    { weight: 12, arbitrary: fc.constant(`Bearer ${API_KEY}`) },
    { weight: 1, arbitrary: fc.constantFrom(`bearer ${API_KEY}`, `Bearer  ${API_KEY} `, `Basic ${API_KEY}`, `Bearer ${API_KEY}x`, `Bearer ${API_KEY.slice(0, -1)}`, 'Bearer', '') },
    { weight: 1, arbitrary: b64(43).map((s) => `Bearer lksk_${s}`) },
    { weight: 1, arbitrary: fc.string({ unit: 'grapheme-ascii', maxLength: 60 }).map((s) => `Bearer ${s}`) },
    { weight: 1, arbitrary: fc.constant(undefined) },
  );
}

for (const backend of backends) {
  describe.skipIf(backend.skip)(`service input fuzz on ${backend.name}`, () => {
    let opened: Awaited<ReturnType<Backend['open']>>;
    let pool: Pool;
    beforeAll(async () => {
      opened = await backend.open();
      pool = await buildPool(opened.t);
    });
    afterAll(async () => {
      await opened?.close();
    });

    it('random methods, paths, API keys, headers and bodies: never a 5xx, typed errors, no write on rejection, nothing echoed', { timeout: PROPERTY_TIMEOUT_MS }, async () => {
      const { t, log } = opened;
      const statuses = new Map<number, number>();
      await fc.assert(
        fc.asyncProperty(
          targetArbitrary(pool).chain((target) => fc.tuple(fc.constant(target), bodyArbitrary(pool, target[1]))),
          authArbitrary(),
          fc.option(fc.constantFrom('application/json', 'text/plain', 'application/json; charset=latin1', 'multipart/form-data', ''), { nil: undefined }),
          fc.option(fc.oneof(fc.string({ unit: 'grapheme-ascii', maxLength: 80 }), fc.constant('a\u2028b')), { nil: undefined }),
          fc.boolean(),
          async ([[method, path], body], authorization, contentType, requestId, overSocket) => {
            const headers: Record<string, string> = {};
            if (authorization !== undefined) headers.authorization = authorization;
            if (contentType !== undefined) headers['content-type'] = contentType;
            if (requestId !== undefined && /^[\x20-\x7e]*$/.test(requestId)) headers['x-request-id'] = requestId;
            const init: RequestInit = { method, headers, ...(body !== undefined && method !== 'GET' && method !== 'HEAD' ? { body: typeof body === 'string' ? body : Buffer.from(body) } : {}) };
            const callsBefore = new Map(log.calls);
            const effectsBefore = log.totalEffects();
            const res = overSocket ? await fetch(t.url + path, init) : await t.service.app.request(path, init);
            const text = await res.text();
            statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
            const where = `${method} ${path} -> ${res.status} ${text.slice(0, 300)}`;
            expect(ALLOWED_STATUS.has(res.status), where).toBe(true);

            let code: string | undefined;
            if (res.status >= 400 && method !== 'HEAD') {
              const parsed = schemas.ErrorResponse.safeParse(JSON.parse(text));
              expect(parsed.success, where).toBe(true);
              code = parsed.data!.error.code;
              expect(ERROR_CODES.has(code), where).toBe(true);
              // An error never echoes a credential (nor the one presented).
              for (const secret of pool.secrets) expect(text.includes(secret), where).toBe(false);
              if (authorization && authorization.length > 16) expect(text.includes(authorization.slice(7)), where).toBe(false);
            }
            // Rejected input writes nothing; a replayed rotated-out refresh token revokes its session on purpose.
            if ((res.status < 200 || res.status >= 300) && code !== 'TOKEN_THEFT_DETECTED') {
              expect(log.totalEffects() - effectsBefore, where).toBe(0);
            }
            // Without a valid API key nothing but the key lookup is reached.
            if (code === 'INVALID_API_KEY') {
              for (const [m, n] of log.calls) if (m !== 'findServiceKeyByHash') expect(n, `${where} reached ${m}`).toBe(callsBefore.get(m) ?? 0);
            }
          },
        ),
        { numRuns: RUNS },
      );
      report(`service fuzz ${backend.name}`, { requests: RUNS, ...Object.fromEntries([...statuses].map(([s, n]) => [`s${s}`, n])) });
      // The generator reached the interesting outcomes (or the property proved little).
      for (const status of [200, 400, 401, 404]) expect(statuses.get(status) ?? 0, `status ${status} never produced`).toBeGreaterThan(0);
    });

    it('text any JSON parser accepts (lone surrogates, NUL) in every stored field: stored, or refused with 400, never a 500', { timeout: PROPERTY_TIMEOUT_MS }, async () => {
      const { t, log } = opened;
      // A session of this test's own: the fuzz before it may have revoked any of the pool's.
      const own = await t.call('POST', '/v1/sessions', { raw: '{"userId":"odd-owner"}', headers: { 'content-type': 'application/json' } });
      expect(own.status).toBe(201);
      const ownId = (JSON.parse(own.text) as { session: { id: string } }).session.id;
      for (const odd of ['\\ud800', 'a\\udc00', '\\u0000', '\\udbff\\udfff']) {
        const bodies: Array<[string, string, string]> = [
          ['POST', '/v1/sessions', `{"userId":"odd${odd}"}`],
          ['POST', '/v1/sessions', `{"userId":"odd","data":{"note":"${odd}"}}`],
          ['POST', '/v1/sessions', `{"userId":"odd","data":{"k${odd}":1}}`],
          ['POST', '/v1/sessions', `{"userId":"odd","accessClaims":{"n":"${odd}"}}`],
          ['POST', '/v1/sessions', `{"userId":"odd","device":{"userAgent":"${odd}"}}`],
          ['PATCH', `/v1/sessions/${ownId}`, `{"data":{"note":"${odd}"}}`],
        ];
        for (const [method, path, raw] of bodies) {
          const before = log.totalEffects();
          const reply = await t.call(method, path, { raw, headers: { 'content-type': 'application/json' } });
          expect([201, 200, 400], `${method} ${path} ${raw} -> ${reply.status} ${reply.text}`).toContain(reply.status);
          if (reply.status === 400) expect(log.totalEffects(), raw).toBe(before);
        }
      }
    });

    it('verify accepts exactly the tokens this service minted with its current keys', { timeout: PROPERTY_TIMEOUT_MS }, async () => {
      const { t } = opened;
      const own = (await t.call('POST', '/v1/sessions', { body: { userId: 'verify-own' } })).json;
      const kid = (await t.call('GET', '/.well-known/jwks.json')).json.keys[0].kid as string;
      const foreign = await foreignTokens(kid);
      const { privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
      await fc.assert(
        fc.asyncProperty(
          fc.record({ sub: fc.string({ maxLength: 10 }), sid: fc.constantFrom(own.session.id, 'x'), extra: fc.jsonValue({ maxDepth: 2 }) }),
          fc.constantFrom('at+jwt', 'application/at+jwt', 'AT+JWT', 'JWT'),
          fc.constantFrom(kid, 'other', ''),
          async ({ sub, sid, extra }, typ, k) => {
            const now = Math.floor(Date.now() / 1000);
            const token = await new SignJWT({ iss: ISSUER, aud: 'latchkey', sub, sid, jti: 'j', iat: now, exp: now + 300, auth_time: now, extra })
              .setProtectedHeader({ alg: 'EdDSA', typ, kid: k })
              .sign(privateKey);
            for (const candidate of [token, ...foreign]) {
              const reply = await t.call('POST', '/v1/sessions/verify', { body: { accessToken: candidate } });
              expect([reply.status, reply.json?.error?.code]).toEqual([401, 'UNAUTHORISED']);
            }
          },
        ),
        { numRuns: scale(20, 200) },
      );
      expect((await t.call('POST', '/v1/sessions/verify', { body: { accessToken: own.accessToken } })).status).toBe(200);
    });

    it('every log line the service wrote during the fuzz is one JSON object and holds no credential; nor does /metrics', { timeout: PROPERTY_TIMEOUT_MS }, async () => {
      const { t, lines } = opened;
      const metrics = await (await fetch(`${t.url}/metrics`)).text();
      expect(metrics).toContain('# TYPE');
      expect(lines.length).toBeGreaterThan(0);
      for (const line of lines) expect(() => JSON.parse(line), line).not.toThrow();
      // By value (the genuine pool and the API key) and by shape (any refresh token, JWT or lksk_ key,
      // including the random ones the fuzz presented as API keys).
      const leaks = findSecrets([...lines, metrics].join('\n'), [], [...pool.secrets, API_KEY]);
      expect(leaks).toEqual([]);
      report(`service logs ${backend.name}`, { lines: lines.length, leaks: leaks.length });
    });

    it('raw bytes on the socket: malformed request lines and headers never get a 5xx, and the service stays up', { timeout: PROPERTY_TIMEOUT_MS }, async () => {
      const { t } = opened;
      const port = Number(new URL(t.url).port);
      const statuses = new Map<string, number>();
      const raw = fc.oneof(
        fc.tuple(fc.constantFrom('GET', 'POST', 'G\u00e9T', 'PO ST', 'DELETE'), fc.string({ unit: 'binary-ascii', maxLength: 30 }), fc.uint8Array({ maxLength: 60 }))
          .map(([m, p, h]) => Buffer.concat([Buffer.from(`${m} /v1/sessions${p} HTTP/1.1\r\nHost: x\r\n`, 'latin1'), Buffer.from('X-Junk: '), Buffer.from(h), Buffer.from('\r\n\r\n')])),
        fc.uint8Array({ minLength: 1, maxLength: 120 }).map((b) => Buffer.from(b)),
        fc.tuple(fc.uint8Array({ maxLength: 40 }), fc.oneof(fc.nat({ max: 60 }), fc.nat({ max: 100_000 }))).map(([b, len]) =>
          Buffer.concat([Buffer.from(`POST /v1/sessions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${API_KEY}\r\nContent-Length: ${len}\r\n\r\n`), Buffer.from(b)])),
        fc.uint8Array({ maxLength: 40 }).map((b) =>
          Buffer.concat([Buffer.from(`POST /v1/sessions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${API_KEY}\r\nTransfer-Encoding: chunked\r\n\r\n`), Buffer.from(b), Buffer.from('\r\n0\r\n\r\n')])),
      );
      await fc.assert(
        fc.asyncProperty(raw, async (bytes) => {
          const status = await rawExchange(port, bytes);
          statuses.set(status, (statuses.get(status) ?? 0) + 1);
          expect(status, bytes.toString('latin1').slice(0, 200)).not.toMatch(/^5/);
        }),
        { numRuns: SOCKET_RUNS },
      );
      report(`service raw socket ${backend.name}`, { requests: SOCKET_RUNS, ...Object.fromEntries(statuses) });
      expect((await t.call('GET', '/healthz', { auth: null })).status).toBe(200);
    });
  });
}

/** Writes `bytes`, half-closes, and returns the status code of the first response (or `closed`/`timeout`). */
function rawExchange(port: number, bytes: Buffer): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let data = '';
    const done = (result: string) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    // A request that declares more body than it sends waits for it; the server's request timeout is
    // 30 s, far too long to wait here, and waiting is not a failure.
    const timer = setTimeout(() => done(data ? status(data) : 'timeout'), 500);
    const status = (text: string) => /^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1] ?? 'closed';
    socket.on('data', (chunk) => {
      data += chunk.toString('latin1');
      if (/\r\n\r\n/.test(data)) done(status(data));
    });
    socket.on('error', () => done(data ? status(data) : 'closed'));
    socket.on('close', () => done(data ? status(data) : 'closed'));
    socket.write(bytes);
  });
}
