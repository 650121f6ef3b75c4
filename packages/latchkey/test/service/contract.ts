/**
 * The service contract (shared/service-api.md), end to end over HTTP, as one suite run against each
 * store. Every response body is checked against the zod schemas the OpenAPI document is generated
 * from, so a response that drifts from the published document fails here.
 */
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsPlugin from 'ajv-formats';
import { buildOpenApiDocument, createServiceKey, openApiText, schemas } from 'latchkey/service';
import type { z } from 'zod';
import type { Reply, TestService } from './helpers.js';
import { KeepAliveClient } from '../http/support/keep-alive.js';

// ajv-formats is CommonJS: its default export arrives wrapped under ESM interop.
const addFormats = ((addFormatsPlugin as unknown as { default?: typeof addFormatsPlugin }).default ?? addFormatsPlugin) as unknown as (ajv: Ajv2020) => void;

/**
 * The published document's JSON Schemas, compiled by a JSON Schema 2020-12 validator that knows
 * nothing of zod: a response must satisfy both, so the generated document cannot drift from the
 * shapes the code produces.
 */
const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats(ajv);
ajv.addSchema({ $id: 'urn:latchkey:openapi', components: (buildOpenApiDocument() as { components: unknown }).components });
const componentOf = new Map<unknown, string>(Object.entries(schemas.NAMED_SCHEMAS).map(([name, schema]) => [schema, name]));

function expectShape<S extends z.ZodType>(schema: S, reply: Reply): z.output<S> {
  const parsed = schema.safeParse(reply.json);
  if (!parsed.success) throw new Error(`response does not match its schema: ${parsed.error.message}\n${reply.text}`);
  const name = componentOf.get(schema);
  if (!name) throw new Error('schema is not a named component of the OpenAPI document');
  const validate = ajv.getSchema(`urn:latchkey:openapi#/components/schemas/${name}`)!;
  if (!validate(reply.json)) throw new Error(`response does not match openapi.json ${name}: ${ajv.errorsText(validate.errors)}\n${reply.text}`);
  return parsed.data;
}

/** Asserts an error reply: status, code, the contract's shape, and a JSON content type. */
export function expectError(reply: Reply, status: number, code: string): z.output<typeof schemas.ErrorResponse> {
  expect({ status: reply.status, code: reply.json?.error?.code }).toEqual({ status, code });
  expect(reply.headers.get('content-type')).toMatch(/^application\/json/);
  return expectShape(schemas.ErrorResponse, reply);
}

/** `storeClass` is the class the service must really be running on (no silent fallback to SQLite). */
export function describeServiceContract(name: string, start: () => Promise<TestService>, options: { skip?: boolean; storeClass: string }): void {
  describe.skipIf(options.skip ?? false)(`service contract on ${name}`, () => {
    let t: TestService;
    beforeAll(async () => {
      t = await start();
    });
    afterAll(async () => {
      await t?.close();
    });

    it(`runs on ${options.storeClass}`, () => {
      expect(t.service.store.constructor.name).toBe(options.storeClass);
    });

    const create = async (body: Record<string, unknown> = {}) => {
      const reply = await t.call('POST', '/v1/sessions', { body: { userId: `u_${Math.random().toString(36).slice(2)}`, ...body } });
      expect(reply.status, reply.text).toBe(201);
      return expectShape(schemas.IssuedTokensResponse, reply);
    };

    describe('POST /v1/sessions', () => {
      it('creates a session and returns tokens, claims in the right tokens', async () => {
        const issued = await create({
          userId: 'user-1',
          accessClaims: { role: 'admin', tenant: { id: 7 } },
          idClaims: { name: 'Ada' },
          data: { note: 'server only' },
          device: { userAgent: 'curl/8', ip: '203.0.113.9' },
        });
        expect(issued.session).toMatchObject({ userId: 'user-1', device: { userAgent: 'curl/8', ip: '203.0.113.9' }, data: { note: 'server only' }, revokedAt: null });
        const header = decodeProtectedHeader(issued.accessToken);
        expect(header).toMatchObject({ typ: 'at+jwt', alg: 'EdDSA' });
        expect(typeof header.kid).toBe('string');
        const access = decodeJwt(issued.accessToken);
        expect(access).toMatchObject({ sub: 'user-1', sid: issued.session.id, aud: 'latchkey', role: 'admin', tenant: { id: 7 } });
        for (const claim of ['iss', 'jti', 'iat', 'exp', 'auth_time']) expect(access).toHaveProperty(claim);
        expect(access).not.toHaveProperty('note');
        expect(access).not.toHaveProperty('name');
        const id = decodeJwt(issued.idToken);
        expect(id).toMatchObject({ sub: 'user-1', sid: issued.session.id, name: 'Ada' });
        expect(id.aud).not.toEqual(access.aud);
        expect(decodeProtectedHeader(issued.idToken).typ).not.toBe('at+jwt');
        expect(new Date(issued.accessTokenExpiresAt).getTime()).toBe((access.exp as number) * 1000);
        expect(issued.refreshToken).not.toContain('.');
      });

      it('refuses every reserved claim name with 400 naming it, and writes nothing', async () => {
        for (const claim of ['iss', 'aud', 'sub', 'sid', 'jti', 'iat', 'nbf', 'exp', 'auth_time', 'typ']) {
          for (const where of ['accessClaims', 'idClaims']) {
            const reply = await t.call('POST', '/v1/sessions', { body: { userId: 'reserved-user', [where]: { [claim]: 'x' } } });
            const body = expectError(reply, 400, 'INVALID_REQUEST');
            expect(body.error.field).toBe(`${where}.${claim}`);
          }
        }
        const list = await t.call('GET', '/v1/users/reserved-user/sessions');
        expect(list.json).toEqual({ sessions: [] });
      });

      it('names the offending field for wrong types, missing and unknown fields', async () => {
        const cases: Array<[unknown, string]> = [
          [{ userId: 42 }, 'userId'],
          [{}, 'userId'],
          [{ userId: '' }, 'userId'],
          [{ userId: 'u', device: { ip: 5 } }, 'device.ip'],
          // Documented as an IP address: anything else (a forwarded-for list, a host name) is refused.
          [{ userId: 'u', device: { ip: '203.0.113.9, 10.0.0.1' } }, 'device.ip'],
          [{ userId: 'u', device: { ip: 'not-an-ip' } }, 'device.ip'],
          [{ userId: 'u', device: { mac: 'x' } }, 'device.mac'],
          [{ userId: 'u', acessClaims: {} }, 'acessClaims'],
          [{ userId: 'u', accessClaims: [1] }, 'accessClaims'],
          [{ userId: 'u', data: 'text' }, 'data'],
          [[], 'body'],
          ['text', 'body'],
        ];
        for (const [body, field] of cases) {
          const reply = await t.call('POST', '/v1/sessions', { body });
          expect(expectError(reply, 400, 'INVALID_REQUEST').error.field, JSON.stringify(body)).toBe(field);
        }
      });

      it('answers invalid JSON, empty bodies, __proto__ keys and non-JSON types cleanly', async () => {
        expect(expectError(await t.call('POST', '/v1/sessions', { raw: '{"userId":', headers: { 'content-type': 'application/json' } }), 400, 'INVALID_REQUEST').error.field).toBe('body');
        expectError(await t.call('POST', '/v1/sessions', { raw: '', headers: { 'content-type': 'application/json' } }), 400, 'INVALID_REQUEST');
        expectError(await t.call('POST', '/v1/sessions'), 400, 'INVALID_REQUEST');
        const proto = await t.call('POST', '/v1/sessions', { raw: '{"userId":"p","data":{"__proto__":{"admin":true}}}', headers: { 'content-type': 'application/json' } });
        expect(expectError(proto, 400, 'INVALID_REQUEST').error.field).toBe('__proto__');
        expectError(await t.call('POST', '/v1/sessions', { raw: 'userId=u', headers: { 'content-type': 'application/x-www-form-urlencoded' } }), 400, 'INVALID_REQUEST');
        // A JSON body is accepted whatever the Content-Type says (curl -d sends form encoding).
        expect((await t.call('POST', '/v1/sessions', { raw: '{"userId":"curl"}', headers: { 'content-type': 'application/x-www-form-urlencoded' } })).status).toBe(201);
      });

      it('refuses deeply nested bodies with 400, never a stack overflow', async () => {
        for (const depth of [100, 3_000, 20_000]) {
          const raw = `{"userId":"deep","data":{"a":${'['.repeat(depth)}${']'.repeat(depth)}}}`;
          const reply = await t.call('POST', '/v1/sessions', { raw, headers: { 'content-type': 'application/json' } });
          expect(expectError(reply, 400, 'INVALID_REQUEST').error.message, String(depth)).toMatch(/nested/);
        }
      });

      it('refuses claims the engine finds too large with 400 naming the field', async () => {
        const reply = await t.call('POST', '/v1/sessions', { body: { userId: 'u', accessClaims: { blob: 'x'.repeat(4096) } } });
        expect(expectError(reply, 400, 'INVALID_REQUEST').error.field).toBe('accessClaims');
      });

      it('refuses bodies over 64 KiB with 413, with or without Content-Length', async () => {
        const big = JSON.stringify({ userId: 'big', data: { blob: 'x'.repeat(70 * 1024) } });
        expectError(await t.call('POST', '/v1/sessions', { raw: big, headers: { 'content-type': 'application/json' } }), 413, 'PAYLOAD_TOO_LARGE');
        const chunked = await fetch(`${t.url}/v1/sessions`, {
          method: 'POST',
          headers: { authorization: `Bearer ${(await import('./helpers.js')).API_KEY}`, 'content-type': 'application/json' },
          body: new ReadableStream({
            start(controller) {
              controller.enqueue(new TextEncoder().encode(big));
              controller.close();
            },
          }),
          duplex: 'half',
        } as RequestInit);
        expect(chunked.status).toBe(413);
        expect(((await chunked.json()) as { error: { code: string } }).error.code).toBe('PAYLOAD_TOO_LARGE');
      });

      it('answers an oversized body 413 with Connection: close, and the pooled connection serves the next request', async () => {
        const client = new KeepAliveClient(t.url);
        try {
          const headers = { authorization: `Bearer ${(await import('./helpers.js')).API_KEY}`, 'content-type': 'application/json' };
          const next = async () => {
            const reply = await client.send('POST', '/v1/sessions/verify', headers, JSON.stringify({ accessToken: 'not.a.token' }));
            expect(reply.status).toBe(401);
            expect(JSON.parse(reply.body).error.code).toBe('UNAUTHORISED');
          };
          // Refused on the declared length: the client sends the head and waits (see sendUntilRefused: a
          // client still writing when the server closes may lose the 413 to the reset).
          for (const size of [70 * 1024, 4_000_000]) {
            const body = JSON.stringify({ userId: 'big', data: { blob: 'x'.repeat(size) } });
            const big = await client.sendUntilRefused('POST', '/v1/sessions', { ...headers, 'content-length': String(Buffer.byteLength(body)) }, '');
            expect(big.status).toBe(413);
            expect(big.headers.connection).toBe('close');
            await next();
          }
          // Chunked, no length declared: 66 kB of a body that would go on, in one write, over the 64 KiB limit.
          const chunked = await client.sendUntilRefused('POST', '/v1/sessions', headers, `{"userId":"big","data":{"blob":"${'x'.repeat(66_000)}`);
          expect(chunked.status).toBe(413);
          expect(chunked.headers.connection).toBe('close');
          await next();
        } finally {
          client.close();
        }
      });
    });

    describe('POST /v1/sessions/verify', () => {
      it('accepts a valid access token and returns the session and claims', async () => {
        const issued = await create({ accessClaims: { role: 'viewer' } });
        const reply = await t.call('POST', '/v1/sessions/verify', { body: { accessToken: issued.accessToken } });
        expect(reply.status).toBe(200);
        const body = expectShape(schemas.VerifyResponse, reply);
        expect(body.session).toEqual({ id: issued.session.id, userId: issued.session.userId });
        expect(body.claims).toMatchObject({ role: 'viewer', sub: issued.session.userId, sid: issued.session.id });
        const checked = await t.call('POST', '/v1/sessions/verify', { body: { accessToken: issued.accessToken, checkStore: true } });
        expect(checked.status).toBe(200);
      });

      it('refuses an ID token, a tampered token and garbage with UNAUTHORISED', async () => {
        const issued = await create();
        const [h, p, s] = issued.accessToken.split('.');
        const tampered = `${h}.${p}.${s!.slice(0, -4)}${s!.slice(-4) === 'AAAA' ? 'BBBB' : 'AAAA'}`;
        for (const token of [issued.idToken, tampered, 'not-a-jwt', issued.refreshToken, 'a.b.c']) {
          expectError(await t.call('POST', '/v1/sessions/verify', { body: { accessToken: token } }), 401, 'UNAUTHORISED');
        }
        expect(expectError(await t.call('POST', '/v1/sessions/verify', { body: { accessToken: 5 } }), 400, 'INVALID_REQUEST').error.field).toBe('accessToken');
      });

      it('says TRY_REFRESH_TOKEN for an expired but genuine token', async () => {
        if (!t.clock) return expect.fail('suite needs a test clock');
        const issued = await create();
        t.clock.advance((900 + 31) * 1000);
        try {
          expectError(await t.call('POST', '/v1/sessions/verify', { body: { accessToken: issued.accessToken } }), 401, 'TRY_REFRESH_TOKEN');
        } finally {
          t.clock.advance(-(900 + 31) * 1000);
        }
      });

      it('refuses a token of a revoked session, with and without checkStore', async () => {
        const issued = await create();
        expect((await t.call('DELETE', `/v1/sessions/${issued.session.id}`)).status).toBe(204);
        expectError(await t.call('POST', '/v1/sessions/verify', { body: { accessToken: issued.accessToken } }), 401, 'UNAUTHORISED');
        expectError(await t.call('POST', '/v1/sessions/verify', { body: { accessToken: issued.accessToken, checkStore: true } }), 401, 'UNAUTHORISED');
      });
    });

    describe('POST /v1/sessions/refresh', () => {
      it('rotates: new refresh, access and ID tokens for the same session', async () => {
        const issued = await create();
        const reply = await t.call('POST', '/v1/sessions/refresh', { body: { refreshToken: issued.refreshToken, device: { userAgent: 'new-agent' } } });
        expect(reply.status, reply.text).toBe(200);
        const next = expectShape(schemas.IssuedTokensResponse, reply);
        expect(next.session.id).toBe(issued.session.id);
        expect(next.session.device.userAgent).toBe('new-agent');
        expect(next.refreshToken).not.toBe(issued.refreshToken);
        expect(next.accessToken).not.toBe(issued.accessToken);
        expect((await t.call('POST', '/v1/sessions/verify', { body: { accessToken: next.accessToken } })).status).toBe(200);
      });

      it('detects a replayed rotated-out token: 401 TOKEN_THEFT_DETECTED with ids, session revoked', async () => {
        if (!t.clock) return expect.fail('suite needs a test clock');
        const issued = await create({ userId: 'theft-victim' });
        const first = await t.call('POST', '/v1/sessions/refresh', { body: { refreshToken: issued.refreshToken } });
        expect(first.status).toBe(200);
        t.clock.advance(31_000); // past the 30 s grace
        const replay = await t.call('POST', '/v1/sessions/refresh', { body: { refreshToken: issued.refreshToken } });
        const body = expectError(replay, 401, 'TOKEN_THEFT_DETECTED');
        // The successor was never used: the parent came back just past the window (a very late retry, or a thief).
        expect(body.error).toMatchObject({ sessionId: issued.session.id, userId: 'theft-victim', reason: 'parent-after-grace' });
        expect(replay.headers.get('x-latchkey-refresh-grace')).toBe('30');
        // The whole session is gone: the thief's and the victim's tokens alike. The contract answers
        // UNAUTHORISED for a revoked session; `reason` beside the code says it was theft.
        const later = [
          await t.call('POST', '/v1/sessions/refresh', { body: { refreshToken: first.json.refreshToken } }),
          await t.call('POST', '/v1/sessions/verify', { body: { accessToken: first.json.accessToken } }),
          await t.call('POST', '/v1/sessions/verify', { body: { accessToken: first.json.accessToken, checkStore: true } }),
        ];
        for (const reply of later) expect(expectError(reply, 401, 'UNAUTHORISED').error.reason).toBe('revoked-for-theft');
        expect((await t.call('GET', `/v1/sessions/${issued.session.id}`)).json.revokedAt).not.toBeNull();
      });

      it('gives a retry inside the grace window the same successor, not a theft', async () => {
        const issued = await create();
        const a = await t.call('POST', '/v1/sessions/refresh', { body: { refreshToken: issued.refreshToken } });
        const b = await t.call('POST', '/v1/sessions/refresh', { body: { refreshToken: issued.refreshToken } });
        expect([a.status, b.status]).toEqual([200, 200]);
        expect(b.json.refreshToken).toBe(a.json.refreshToken);
      });

      it('the default window is 30 s, and every refresh answer says so', async () => {
        if (!t.clock) return expect.fail('suite needs a test clock');
        const issued = await create();
        const a = await t.call('POST', '/v1/sessions/refresh', { body: { refreshToken: issued.refreshToken } });
        t.clock.advance(25_000); // a lost answer, retried well after the SDK's 10 s deadline
        const b = await t.call('POST', '/v1/sessions/refresh', { body: { refreshToken: issued.refreshToken } });
        expect([a.status, b.status]).toEqual([200, 200]);
        expect(b.json.refreshToken).toBe(a.json.refreshToken);
        const refused = await t.call('POST', '/v1/sessions/refresh', { body: { refreshToken: 'junk' } });
        const invalid = await t.call('POST', '/v1/sessions/refresh', { body: {} });
        for (const reply of [a, b, refused, invalid]) expect(reply.headers.get('x-latchkey-refresh-grace')).toBe('30');
        expect([refused.status, invalid.status]).toEqual([401, 400]);
      });

      it('refuses unknown and malformed refresh tokens with UNAUTHORISED, and wrong types with 400', async () => {
        const issued = await create();
        const unknown = `${issued.refreshToken.slice(0, -6)}${issued.refreshToken.slice(-6) === 'AAAAAA' ? 'BBBBBB' : 'AAAAAA'}`;
        expectError(await t.call('POST', '/v1/sessions/refresh', { body: { refreshToken: unknown } }), 401, 'UNAUTHORISED');
        expectError(await t.call('POST', '/v1/sessions/refresh', { body: { refreshToken: 'junk' } }), 401, 'UNAUTHORISED');
        expect(expectError(await t.call('POST', '/v1/sessions/refresh', { body: { refreshToken: ['x'] } }), 400, 'INVALID_REQUEST').error.field).toBe('refreshToken');
      });

      it('refuses the refresh token of a revoked session', async () => {
        const issued = await create();
        await t.call('DELETE', `/v1/sessions/${issued.session.id}`);
        expectError(await t.call('POST', '/v1/sessions/refresh', { body: { refreshToken: issued.refreshToken } }), 401, 'UNAUTHORISED');
      });
    });

    describe('sessions by id and by user', () => {
      it('GET returns the session or 404', async () => {
        const issued = await create();
        const reply = await t.call('GET', `/v1/sessions/${issued.session.id}`);
        expect(reply.status).toBe(200);
        expect(expectShape(schemas.SessionSchema, reply)).toEqual(issued.session);
        expectError(await t.call('GET', '/v1/sessions/no-such-session'), 404, 'NOT_FOUND');
      });

      it('PATCH replaces claims and data; tokens minted from then on carry the new claims', async () => {
        const issued = await create({ accessClaims: { role: 'viewer' } });
        const reply = await t.call('PATCH', `/v1/sessions/${issued.session.id}`, { body: { accessClaims: { role: 'editor' }, data: { plan: 'pro' } } });
        expect(reply.status, reply.text).toBe(200);
        expect(expectShape(schemas.SessionSchema, reply)).toMatchObject({ accessClaims: { role: 'editor' }, data: { plan: 'pro' } });
        const refreshed = await t.call('POST', '/v1/sessions/refresh', { body: { refreshToken: issued.refreshToken } });
        expect(decodeJwt(refreshed.json.accessToken).role).toBe('editor');
        expect(expectError(await t.call('PATCH', `/v1/sessions/${issued.session.id}`, { body: { accessClaims: { exp: 1 } } }), 400, 'INVALID_REQUEST').error.field).toBe('accessClaims.exp');
        expect(expectError(await t.call('PATCH', `/v1/sessions/${issued.session.id}`, { body: { userId: 'other' } }), 400, 'INVALID_REQUEST').error.field).toBe('userId');
        expectError(await t.call('PATCH', '/v1/sessions/no-such-session', { body: { data: {} } }), 404, 'NOT_FOUND');
        // A refused PATCH changed nothing, not even the valid part of it.
        const mixed = await t.call('PATCH', `/v1/sessions/${issued.session.id}`, { body: { data: { plan: 'free' }, accessClaims: { iat: 1 } } });
        expectError(mixed, 400, 'INVALID_REQUEST');
        expect((await t.call('GET', `/v1/sessions/${issued.session.id}`)).json).toMatchObject({ accessClaims: { role: 'editor' }, data: { plan: 'pro' } });
      });

      it('PATCH merge form: keys are set, null deletes, the rest is kept; reserved names and replace+merge of one part are refused', async () => {
        const issued = await create({ accessClaims: { role: 'viewer', team: 't1' }, idClaims: { name: 'Ada' }, data: { plan: 'pro', seats: 3 } });
        const path = `/v1/sessions/${issued.session.id}`;
        const reply = await t.call('PATCH', path, { body: { mergeAccessClaims: { role: 'editor', team: null }, mergeIdClaims: { locale: 'en' }, mergeData: { seats: null, trial: false } } });
        expect(reply.status, reply.text).toBe(200);
        const merged = expectShape(schemas.SessionSchema, reply);
        expect(merged.accessClaims).toEqual({ role: 'editor' });
        expect(merged.idClaims).toEqual({ name: 'Ada', locale: 'en' });
        expect(merged.data).toEqual({ plan: 'pro', trial: false });
        const refreshed = await t.call('POST', '/v1/sessions/refresh', { body: { refreshToken: issued.refreshToken } });
        expect(decodeJwt(refreshed.json.accessToken)).toMatchObject({ role: 'editor' });
        expect(decodeJwt(refreshed.json.accessToken).team).toBeUndefined();
        expect(expectError(await t.call('PATCH', path, { body: { mergeAccessClaims: { sub: 'x' } } }), 400, 'INVALID_REQUEST').error.field).toBe('mergeAccessClaims.sub');
        const both = await t.call('PATCH', path, { body: { data: { plan: 'free' }, mergeData: { plan: 'team' } } });
        expect(both.status, both.text).toBe(400);
        // Refused requests changed nothing.
        expect((await t.call('GET', path)).json).toMatchObject({ accessClaims: { role: 'editor' }, data: { plan: 'pro', trial: false } });
      });

      it('PATCH idClaims, then POST /tokens: fresh access and ID tokens carry the new claims at once; the refresh token is untouched', async () => {
        const issued = await create({ accessClaims: { role: 'viewer' }, idClaims: { name: 'Ada' } });
        const patched = await t.call('PATCH', `/v1/sessions/${issued.session.id}`, { body: { accessClaims: { role: 'editor' }, idClaims: { name: 'Ada L.' } } });
        expect(expectShape(schemas.SessionSchema, patched)).toMatchObject({ accessClaims: { role: 'editor' }, idClaims: { name: 'Ada L.' } });
        expect(expectError(await t.call('PATCH', `/v1/sessions/${issued.session.id}`, { body: { idClaims: { sid: 'x' } } }), 400, 'INVALID_REQUEST').error.field).toBe('idClaims.sid');

        const reissued = await t.call('POST', `/v1/sessions/${issued.session.id}/tokens`);
        const tokens = expectShape(schemas.ReissuedTokensResponse, reissued);
        expect(decodeJwt(tokens.accessToken)).toMatchObject({ role: 'editor', sid: issued.session.id, sub: issued.session.userId });
        expect(decodeJwt(tokens.idToken)).toMatchObject({ name: 'Ada L.', sid: issued.session.id });
        expect(new Date(tokens.accessTokenExpiresAt).getTime()).toBe((decodeJwt(tokens.accessToken).exp ?? 0) * 1000);
        const verified = await t.call('POST', '/v1/sessions/verify', { body: { accessToken: tokens.accessToken } });
        expect(verified.json.claims.role).toBe('editor');
        // An empty JSON object is a body too; anything in it is refused.
        expect((await t.call('POST', `/v1/sessions/${issued.session.id}/tokens`, { body: {} })).status).toBe(200);
        expect(expectError(await t.call('POST', `/v1/sessions/${issued.session.id}/tokens`, { body: { rotate: true } }), 400, 'INVALID_REQUEST').error.field).toBe('rotate');

        // Not rotated: the client's refresh token still refreshes once, as usual, with no theft alarm.
        const refreshed = await t.call('POST', '/v1/sessions/refresh', { body: { refreshToken: issued.refreshToken } });
        expect(refreshed.status, refreshed.text).toBe(200);
        expect(decodeJwt(refreshed.json.idToken).name).toBe('Ada L.');

        expectError(await t.call('POST', '/v1/sessions/no-such-session/tokens'), 404, 'NOT_FOUND');
        await t.call('DELETE', `/v1/sessions/${issued.session.id}`);
        expectError(await t.call('POST', `/v1/sessions/${issued.session.id}/tokens`), 404, 'NOT_FOUND');
        const wrongMethod = await t.call('GET', `/v1/sessions/${issued.session.id}/tokens`);
        expect([wrongMethod.status, wrongMethod.headers.get('allow')]).toEqual([405, 'POST']);
      });

      it('DELETE revokes at once and is idempotent', async () => {
        const issued = await create();
        const first = await t.call('DELETE', `/v1/sessions/${issued.session.id}`);
        expect([first.status, first.text]).toEqual([204, '']);
        expect((await t.call('DELETE', `/v1/sessions/${issued.session.id}`)).status).toBe(204);
        expect((await t.call('DELETE', '/v1/sessions/never-existed')).status).toBe(204);
      });

      it("lists a user's active sessions only, and revokes them all", async () => {
        const userId = `list-${Math.random().toString(36).slice(2)}`;
        const a = await create({ userId });
        const b = await create({ userId });
        const c = await create({ userId });
        await create({ userId: `${userId}-other` });
        await t.call('DELETE', `/v1/sessions/${c.session.id}`);
        const list = await t.call('GET', `/v1/users/${encodeURIComponent(userId)}/sessions`);
        const body = expectShape(schemas.SessionListResponse, list);
        expect(body.sessions.map((s) => s.id).sort()).toEqual([a.session.id, b.session.id].sort());
        const revoked = await t.call('DELETE', `/v1/users/${encodeURIComponent(userId)}/sessions`);
        expect(expectShape(schemas.RevokedCountResponse, revoked)).toEqual({ revoked: 2 });
        expect((await t.call('GET', `/v1/users/${encodeURIComponent(userId)}/sessions`)).json).toEqual({ sessions: [] });
        expectError(await t.call('POST', '/v1/sessions/verify', { body: { accessToken: a.accessToken } }), 401, 'UNAUTHORISED');
        expect((await t.call('GET', `/v1/users/${encodeURIComponent(`${userId}-other`)}/sessions`)).json.sessions).toHaveLength(1);
      });

      it('takes user ids with reserved URL characters through percent-encoding', async () => {
        const userId = 'auth0|abc/def?x=1';
        await create({ userId });
        const list = await t.call('GET', `/v1/users/${encodeURIComponent(userId)}/sessions`);
        expect(list.json.sessions[0].userId).toBe(userId);
      });
    });

    describe('claims by key (v1.1)', () => {
      const verify = (accessToken: string) => t.call('POST', '/v1/sessions/verify', { body: { accessToken } });
      // The claims epoch is kept to the millisecond: move past the token's mint time first.
      const tick = () => t.clock?.advance(5);

      it('PATCH /v1/users/{userId}/sessions/claims sets a claim in every active session; their older tokens must refresh, and null removes it', async () => {
        const userId = `u_claims_${Math.random().toString(36).slice(2)}`;
        const a = await create({ userId });
        const b = await create({ userId });
        const gone = await create({ userId });
        await t.call('DELETE', `/v1/sessions/${gone.session.id}`);
        const other = await create();
        tick();
        const reply = await t.call('PATCH', `/v1/users/${userId}/sessions/claims`, { body: { claims: { 'lk-roles': ['admin'], plan: 'pro' } } });
        expect(reply.status, reply.text).toBe(200);
        expect(expectShape(schemas.UpdatedCountResponse, reply)).toEqual({ updated: 2 });
        // Every older token of the user is sent to refresh; another user's is untouched.
        for (const s of [a, b]) expectError(await verify(s.accessToken), 401, 'TRY_REFRESH_TOKEN');
        expect((await verify(other.accessToken)).status).toBe(200);
        tick();
        const refreshed = await t.call('POST', '/v1/sessions/refresh', { body: { refreshToken: a.refreshToken } });
        const tokens = expectShape(schemas.IssuedTokensResponse, refreshed);
        const claims = (await verify(tokens.accessToken)).json.claims;
        // Kept as { v, t }: the form the validators read, on the server and in the browser SDK.
        expect(claims['lk-roles']).toMatchObject({ v: ['admin'] });
        expect(typeof claims['lk-roles'].t).toBe('number');
        expect(claims.plan).toMatchObject({ v: 'pro' });
        expect(decodeJwt(tokens.idToken)['lk-roles']).toMatchObject({ v: ['admin'] });
        expect((await t.call('GET', `/v1/sessions/${b.session.id}`)).json.accessClaims['lk-roles']).toMatchObject({ v: ['admin'] });

        tick();
        const removed = await t.call('PATCH', `/v1/users/${userId}/sessions/claims`, { body: { claims: { 'lk-roles': null } } });
        expect(removed.json).toEqual({ updated: 2 });
        expectError(await verify(tokens.accessToken), 401, 'TRY_REFRESH_TOKEN');
        const session = expectShape(schemas.SessionSchema, await t.call('GET', `/v1/sessions/${a.session.id}`));
        expect(session.accessClaims['lk-roles']).toBeUndefined();
        expect(session.idClaims['lk-roles']).toBeUndefined();
        expect(session.accessClaims.plan).toMatchObject({ v: 'pro' });
        // A user without sessions: nothing to update, not an error.
        expect((await t.call('PATCH', '/v1/users/nobody-at-all/sessions/claims', { body: { claims: { plan: 'x' } } })).json).toEqual({ updated: 0 });
      });

      it('PATCH /v1/sessions/{id}/claims changes one session only; where: session keeps the value out of the tokens', async () => {
        const userId = `u_claims_${Math.random().toString(36).slice(2)}`;
        const a = await create({ userId });
        const b = await create({ userId });
        tick();
        const reply = await t.call('PATCH', `/v1/sessions/${a.session.id}/claims`, { body: { claims: { 'lk-ev': true } } });
        expect(reply.status, reply.text).toBe(200);
        const session = expectShape(schemas.SessionSchema, reply);
        expect(session.accessClaims['lk-ev']).toMatchObject({ v: true });
        expect(session.idClaims['lk-ev']).toMatchObject({ v: true });
        expectError(await verify(a.accessToken), 401, 'TRY_REFRESH_TOKEN');
        expect((await verify(b.accessToken)).status).toBe(200);

        tick();
        const inData = await t.call('PATCH', `/v1/sessions/${b.session.id}/claims`, { body: { claims: { risk: 'low' }, where: 'session' } });
        const stored = expectShape(schemas.SessionSchema, inData);
        expect(stored.data.risk).toMatchObject({ v: 'low' });
        expect(stored.accessClaims.risk).toBeUndefined();
        // Nothing in the tokens changed, so they are not sent to refresh.
        expect((await verify(b.accessToken)).status).toBe(200);
      });

      it('refuses reserved and malformed keys, an empty or unknown body, and an unknown session, changing nothing', async () => {
        const issued = await create();
        const path = `/v1/sessions/${issued.session.id}/claims`;
        expect(expectError(await t.call('PATCH', path, { body: { claims: { sub: 'x' } } }), 400, 'INVALID_REQUEST').error.field).toBe('claims.sub');
        expect(expectError(await t.call('PATCH', path, { body: { claims: { lk_iat_ms: 1 } } }), 400, 'INVALID_REQUEST').error.field).toBe('claims.lk_iat_ms');
        expect(expectError(await t.call('PATCH', path, { body: { claims: { 'a b': 1 } } }), 400, 'INVALID_REQUEST').error.field).toBe('claims.a b');
        expect(expectError(await t.call('PATCH', path, { body: { claims: {} } }), 400, 'INVALID_REQUEST').error.field).toBe('claims');
        expect(expectError(await t.call('PATCH', path, { body: {} }), 400, 'INVALID_REQUEST').error.field).toBe('claims');
        expect(expectError(await t.call('PATCH', path, { body: { claims: { x: 1 }, where: 'cookie' } }), 400, 'INVALID_REQUEST').error.field).toBe('where');
        expect(expectError(await t.call('PATCH', path, { body: { claims: { x: 1 }, mode: 'y' } }), 400, 'INVALID_REQUEST').error.field).toBe('mode');
        // Too large for a token: the engine's limit, named like the others.
        expectError(await t.call('PATCH', path, { body: { claims: { big: 'x'.repeat(5000) } } }), 400, 'INVALID_REQUEST');
        expectError(await t.call('PATCH', '/v1/sessions/no-such-session/claims', { body: { claims: { x: 1 } } }), 404, 'NOT_FOUND');
        expectError(await t.call('PATCH', `/v1/users/${'x'.repeat(300)}/sessions/claims`, { body: { claims: { x: 1 } } }), 400, 'INVALID_REQUEST');
        expectError(await t.call('PATCH', '/v1/users/u/sessions/claims', { body: { claims: { x: 1 } }, auth: null }), 401, 'INVALID_API_KEY');
        expect((await t.call('POST', path, { body: { claims: { x: 1 } } })).headers.get('allow')).toBe('PATCH');
        // Nothing was written, and the token was not outdated.
        expect((await t.call('GET', `/v1/sessions/${issued.session.id}`)).json.accessClaims).toEqual({});
        expect((await verify(issued.accessToken)).status).toBe(200);
      });
    });

    describe('keys', () => {
      it('POST /v1/keys/rotate makes a new signing key, published in the JWKS, signing new tokens', async () => {
        const before = await create();
        const reply = await t.call('POST', '/v1/keys/rotate');
        expect(reply.status, reply.text).toBe(200);
        const { kid } = expectShape(schemas.RotateKeysResponse, reply);
        const jwks = expectShape(schemas.JwksResponse, await t.call('GET', '/.well-known/jwks.json', { auth: null }));
        expect(jwks.keys.map((k) => k.kid)).toContain(kid);
        const after = await create();
        expect(decodeProtectedHeader(after.accessToken).kid).toBe(kid);
        // Tokens signed by the previous key still verify.
        expect((await t.call('POST', '/v1/sessions/verify', { body: { accessToken: before.accessToken } })).status).toBe(200);
        expect(expectError(await t.call('POST', '/v1/keys/rotate', { body: { force: true } }), 400, 'INVALID_REQUEST').error.field).toBe('force');
      });

      it('JWKS holds public keys only, each with kid, alg and use "sig"', async () => {
        const reply = await t.call('GET', '/.well-known/jwks.json', { auth: null });
        expect(reply.status).toBe(200);
        const jwks = expectShape(schemas.JwksResponse, reply);
        expect(jwks.keys.length).toBeGreaterThan(0);
        for (const key of jwks.keys) {
          expect(key).toMatchObject({ use: 'sig', alg: 'EdDSA' });
          for (const secret of ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k']) expect(key).not.toHaveProperty(secret);
        }
      });

      it('discovery names the issuer, the JWKS and the algorithms', async () => {
        const reply = await t.call('GET', '/.well-known/openid-configuration', { auth: null });
        const doc = expectShape(schemas.DiscoveryResponse, reply);
        expect(doc.jwks_uri).toBe(`${doc.issuer}/.well-known/jwks.json`);
        expect(doc.id_token_signing_alg_values_supported).toContain('EdDSA');
      });
    });

    describe('conventions', () => {
      it('every /v1/ route needs a valid API key', async () => {
        const routes: Array<[string, string]> = [
          ['POST', '/v1/sessions'], ['POST', '/v1/sessions/verify'], ['POST', '/v1/sessions/refresh'], ['GET', '/v1/sessions/x'],
          ['PATCH', '/v1/sessions/x'], ['DELETE', '/v1/sessions/x'], ['GET', '/v1/users/u/sessions'], ['DELETE', '/v1/users/u/sessions'],
          ['POST', '/v1/keys/rotate'], ['GET', '/v1/unknown'],
        ];
        for (const [method, path] of routes) {
          const body = method === 'GET' ? {} : { body: {} };
          const none = await t.call(method, path, { auth: null, ...body });
          expectError(none, 401, 'INVALID_API_KEY');
          expect(none.headers.get('www-authenticate')).toMatch(/^Bearer/);
          expectError(await t.call(method, path, { auth: 'lksk_wrongwrongwrongwrongwrongwrongwrongwrongwro', ...body }), 401, 'INVALID_API_KEY');
        }
        expectError(await t.call('GET', '/v1/users/u/sessions', { auth: null, headers: { authorization: 'Basic dXNlcjpwYXNz' } }), 401, 'INVALID_API_KEY');
      });

      it('accepts stored service keys until they are revoked', async () => {
        const store = t.service.store;
        const { id, key } = await createServiceKey(store, 'contract-test');
        expect(key.startsWith('lksk_')).toBe(true);
        expect((await t.call('GET', '/v1/users/u/sessions', { auth: key })).status).toBe(200);
        expect((await store.listServiceKeys()).find((k) => k.id === id)?.hash).not.toContain(key);
        // Revoked through the instance: refused from the very next request, though it is cached now
        // (a revocation in the store by another process is bounded by the cache TTL instead:
        // service-key-cache.test.ts).
        expect(await t.service.serviceKeys.revoke(id)).toBe(true);
        expect((await store.listServiceKeys()).find((k) => k.id === id)?.revokedAt).not.toBeNull();
        expectError(await t.call('GET', '/v1/users/u/sessions', { auth: key }), 401, 'INVALID_API_KEY');
      });

      it('unknown routes are 404 NOT_FOUND, wrong methods 405 with Allow', async () => {
        expectError(await t.call('GET', '/v1/nope'), 404, 'NOT_FOUND');
        expectError(await t.call('GET', '/nope', { auth: null }), 404, 'NOT_FOUND');
        const wrong = await t.call('PUT', '/v1/sessions', { body: {} });
        expectError(wrong, 405, 'METHOD_NOT_ALLOWED');
        expect(wrong.headers.get('allow')).toBe('POST');
        expect((await t.call('GET', '/v1/sessions/verify')).status).toBe(405);
        expect((await t.call('POST', '/.well-known/jwks.json', { auth: null })).status).toBe(405);
        expect((await t.call('PUT', '/v1/sessions/abc', { body: {} })).headers.get('allow')).toBe('GET, HEAD, PATCH, DELETE');
      });

      it('/v1/ responses are not cacheable; times are ISO 8601 UTC', async () => {
        const issued = await t.call('POST', '/v1/sessions', { body: { userId: 'cache' } });
        expect(issued.headers.get('cache-control')).toBe('no-store');
        expect(issued.headers.get('x-content-type-options')).toBe('nosniff');
        const refused = await t.call('GET', '/v1/sessions/x', { auth: null });
        expect([refused.headers.get('cache-control'), refused.headers.get('x-content-type-options')]).toEqual(['no-store', 'nosniff']);
        for (const field of ['createdAt', 'lastActiveAt', 'expiresAt']) expect(issued.json.session[field]).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      });

      it('healthz, readyz, metrics and openapi.json answer without an API key', async () => {
        expect((await t.call('GET', '/healthz', { auth: null })).json).toEqual({ status: 'ok' });
        const injected = await t.call('GET', '/healthz', { auth: null, headers: { 'x-request-id': 'a\tb{"x":1}' } });
        expect(injected.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
        const head = await t.call('HEAD', '/healthz', { auth: null });
        expect([head.status, head.text]).toEqual([200, '']);
        expect((await t.call('GET', '/readyz', { auth: null })).json).toEqual({ status: 'ok' });
        const metrics = await t.call('GET', '/metrics', { auth: null });
        expect(metrics.headers.get('content-type')).toMatch(/^text\/plain/);
        for (const name of ['latchkey_http_requests_total', 'latchkey_http_request_duration_seconds_bucket', 'latchkey_refreshes_total', 'latchkey_theft_detections_total', 'latchkey_revocations_total', 'latchkey_signing_key_age_seconds']) {
          expect(metrics.text).toContain(name);
        }
        expect(metrics.text).toMatch(/latchkey_http_requests_total\{method="POST",route="\/v1\/sessions",status="201"\} \d+/);
        // The theft and revocations earlier in this suite were counted.
        expect(metrics.text).toMatch(/latchkey_theft_detections_total [1-9]\d*\n/);
        expect(metrics.text).toMatch(/latchkey_revocations_total\{reason="theft"\} [1-9]/);
        expect(metrics.text).toMatch(/latchkey_revocations_total\{reason="signout"\} [1-9]/);
        expect(metrics.text).toMatch(/latchkey_revocations_total\{reason="revoke-all"\} [1-9]/);
        expect(metrics.text).toMatch(/latchkey_refreshes_total\{outcome="grace"\} [1-9]/);
        expect(metrics.text).toMatch(/latchkey_signing_key_age_seconds \d/);
        expect(metrics.text).toMatch(/latchkey_sessions_created_total [1-9]/);
        expect(metrics.text).not.toMatch(/route="\/v1\/sessions\/[A-Za-z0-9_-]{10,}"/);
        const doc = await t.call('GET', '/openapi.json', { auth: null });
        expect(doc.text).toBe(openApiText());
        expect(doc.json.openapi).toBe('3.1.0');
      });
    });
  });
}
