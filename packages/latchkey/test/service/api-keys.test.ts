/**
 * The v1.1 API-key routes of the service contract, exactly as ../shared/service-api.md words them,
 * every response checked against the zod schema the OpenAPI document is generated from; the
 * service-key rename (LATCHKEY_SERVICE_KEYS beside LATCHKEY_API_KEYS); and hygiene: no key or hash
 * in a response body other than creation's, in a log line, or in a metric label; and a fuzz of the
 * verify route (no 500, no store write for any input).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { jsonLogger, loadServiceConfig, schemas, startService } from 'latchkey/service';
import { API_KEY_PATTERN } from 'latchkey';
import { startTestService, tempDir, testClock, type TestService } from './helpers.js';

const SERVICE_KEY = 'service-key-hygiene-0123456789abcdef';

let t: TestService;
const clock = testClock();

beforeAll(async () => {
  t = await startTestService({ clock });
});
afterAll(() => t.close());

async function create(body: Record<string, unknown> = {}) {
  const reply = await t.call('POST', '/v1/api-keys', { body: { ownerId: 'u_1', name: 'CI', scopes: ['deploy', 'read'], ...body } });
  expect(reply.status).toBe(201);
  return reply.json as { apiKey: { id: string }; key: string };
}

describe('POST /v1/api-keys', () => {
  it('answers 201 {apiKey, key}: the key starts lk_, the ApiKey holds neither key nor hash', async () => {
    const reply = await t.call('POST', '/v1/api-keys', { body: { ownerId: 'u_1', name: 'CI', scopes: ['deploy'], expiresIn: 3600, metadata: { team: 'ops' } } });
    expect(reply.status).toBe(201);
    schemas.CreatedApiKeyResponse.parse(reply.json);
    const { apiKey, key } = reply.json;
    expect(key).toMatch(API_KEY_PATTERN);
    expect(apiKey).toMatchObject({ ownerId: 'u_1', name: 'CI', scopes: ['deploy'], metadata: { team: 'ops' }, lastUsedAt: null });
    expect(Date.parse(apiKey.expiresAt) - Date.parse(apiKey.createdAt)).toBe(3_600_000);
    expect(key.startsWith(apiKey.prefix)).toBe(true);
    expect(JSON.stringify(apiKey)).not.toContain(key.slice(19, 62));
    expect(JSON.stringify(apiKey)).not.toMatch(/[0-9a-f]{64}/);
  });

  it.each([
    [{ name: 'x' }, 'ownerId'],
    [{ ownerId: 'u' }, 'name'],
    [{ ownerId: 'u', name: '  ' }, 'name'],
    [{ ownerId: 'u', name: 'n', scopes: ['two words'] }, 'scopes[0]'],
    [{ ownerId: 'u', name: 'n', expiresIn: 0 }, 'expiresIn'],
    [{ ownerId: 'u', name: 'n', expiresIn: 1.5 }, 'expiresIn'],
    [{ ownerId: 'u', name: 'n', metadata: { big: 'x'.repeat(9000) } }, 'metadata'],
    [{ ownerId: 'u', name: 'n', extra: 1 }, 'extra'],
  ])('refuses %j with 400 naming %s', async (body, field) => {
    const reply = await t.call('POST', '/v1/api-keys', { body });
    expect(reply.status).toBe(400);
    expect(reply.json.error).toMatchObject({ code: 'INVALID_REQUEST', field });
  });
});

describe('POST /v1/api-keys/verify', () => {
  it('200 {apiKey} for a valid key holding every requested scope', async () => {
    const { key, apiKey } = await create();
    const reply = await t.call('POST', '/v1/api-keys/verify', { body: { key, scopes: ['read'] } });
    expect(reply.status).toBe(200);
    schemas.VerifiedApiKeyResponse.parse(reply.json);
    expect(reply.json.apiKey.id).toBe(apiKey.id);
  });

  it('403 INSUFFICIENT_SCOPE with missingScopes', async () => {
    const { key } = await create();
    const reply = await t.call('POST', '/v1/api-keys/verify', { body: { key, scopes: ['read', 'admin', 'billing'] } });
    expect(reply.status).toBe(403);
    schemas.ErrorResponse.parse(reply.json);
    expect(reply.json.error).toMatchObject({ code: 'INSUFFICIENT_SCOPE', missingScopes: ['admin', 'billing'] });
  });

  it('401 UNAUTHORISED when unknown, malformed, revoked or expired', async () => {
    const revoked = await create();
    expect((await t.call('DELETE', `/v1/api-keys/${revoked.apiKey.id}`)).status).toBe(204);
    const expiring = await create({ expiresIn: 60 });
    clock.advance(61_000);
    const unknown = revoked.key.slice(0, 3) + 'A'.repeat(16) + revoked.key.slice(19);
    for (const key of ['nonsense', 'lk_' + 'a'.repeat(65), unknown, revoked.key, expiring.key]) {
      const reply = await t.call('POST', '/v1/api-keys/verify', { body: { key } });
      expect(reply.status).toBe(401);
      expect(reply.json.error.code).toBe('UNAUTHORISED');
    }
  });

  it('needs a service key like every /v1/ route', async () => {
    const { key } = await create();
    // A user API key is not a service key.
    const reply = await t.call('POST', '/v1/api-keys/verify', { auth: key, body: { key } });
    expect(reply.status).toBe(401);
    expect(reply.json.error.code).toBe('INVALID_API_KEY');
  });
});

describe('GET /v1/users/{ownerId}/api-keys', () => {
  it('lists usable keys only, never a key or a hash', async () => {
    const owner = `u_list_${Date.now()}`;
    const a = await create({ ownerId: owner, name: 'a' });
    const b = await create({ ownerId: owner, name: 'b' });
    await create({ ownerId: owner, name: 'expiring', expiresIn: 1 });
    await t.call('DELETE', `/v1/api-keys/${b.apiKey.id}`);
    clock.advance(2000);
    const reply = await t.call('GET', `/v1/users/${owner}/api-keys`);
    expect(reply.status).toBe(200);
    schemas.ApiKeyListResponse.parse(reply.json);
    expect(reply.json.apiKeys.map((k: { name: string }) => k.name)).toEqual(['a']);
    expect(reply.text).not.toContain(a.key.slice(19, 62));
    expect(reply.text).not.toMatch(/[0-9a-f]{64}/);
  });
});

describe('DELETE /v1/api-keys/{id}', () => {
  it('204, also when already revoked or unknown', async () => {
    const { apiKey } = await create();
    for (const id of [apiKey.id, apiKey.id, 'AAAAAAAAAAAAAAAA', 'not*an*id']) expect((await t.call('DELETE', `/v1/api-keys/${id}`)).status).toBe(204);
  });
});

describe('POST /v1/api-keys/{id}/rotate', () => {
  it('201 with a new key of the same owner, name, scopes and metadata; the old stops at once', async () => {
    const old = await create({ metadata: { a: 1 } });
    const reply = await t.call('POST', `/v1/api-keys/${old.apiKey.id}/rotate`);
    expect(reply.status).toBe(201);
    schemas.CreatedApiKeyResponse.parse(reply.json);
    expect(reply.json.apiKey).toMatchObject({ ownerId: 'u_1', name: 'CI', scopes: ['deploy', 'read'], metadata: { a: 1 } });
    expect((await t.call('POST', '/v1/api-keys/verify', { body: { key: reply.json.key } })).status).toBe(200);
    expect((await t.call('POST', '/v1/api-keys/verify', { body: { key: old.key } })).status).toBe(401);
  });

  it('with expiresPreviousIn the old key works until then', async () => {
    const old = await create();
    const reply = await t.call('POST', `/v1/api-keys/${old.apiKey.id}/rotate`, { body: { expiresPreviousIn: 120 } });
    expect(reply.status).toBe(201);
    expect((await t.call('POST', '/v1/api-keys/verify', { body: { key: old.key } })).status).toBe(200);
    clock.advance(121_000);
    expect((await t.call('POST', '/v1/api-keys/verify', { body: { key: old.key } })).status).toBe(401);
    expect((await t.call('POST', '/v1/api-keys/verify', { body: { key: reply.json.key } })).status).toBe(200);
  });

  it('404 NOT_FOUND for an unknown or revoked id', async () => {
    const revoked = await create();
    await t.call('DELETE', `/v1/api-keys/${revoked.apiKey.id}`);
    for (const id of [revoked.apiKey.id, 'AAAAAAAAAAAAAAAA', 'not*an*id']) {
      const reply = await t.call('POST', `/v1/api-keys/${id}/rotate`);
      expect(reply.status).toBe(404);
      expect(reply.json.error.code).toBe('NOT_FOUND');
    }
  });
});

describe('service keys', () => {
  it('LATCHKEY_SERVICE_KEYS and LATCHKEY_API_KEYS are both read', async () => {
    const service = await startTestService({ env: { LATCHKEY_SERVICE_KEYS: 'service-key-new-name-0123456789abcdef' } });
    try {
      for (const auth of ['service-key-new-name-0123456789abcdef', undefined]) {
        expect((await service.call('GET', '/v1/users/u/api-keys', auth ? { auth } : {})).status).toBe(200);
      }
      expect((await service.call('GET', '/v1/users/u/api-keys', { auth: 'wrong-key-0123456789abcdef0123456789' })).status).toBe(401);
    } finally {
      await service.close();
    }
  });
});

describe('hygiene and fuzzing of the verify route', () => {
  it('no key appears in a log line or a metric, whatever is presented', async () => {
    const lines: string[] = [];
    const dir = tempDir();
    const service = await startService({
      config: loadServiceConfig({ PORT: '0', LATCHKEY_STORE: `sqlite:${join(dir, 'db.sqlite')}`, LATCHKEY_SECRET_FILE: join(dir, 'secret.key'), LATCHKEY_SERVICE_KEYS: SERVICE_KEY }),
      logger: jsonLogger({ level: 'debug', write: (line) => void lines.push(line) }),
      defaultMetrics: false,
    });
    const call = async (method: string, path: string, body?: unknown, auth = SERVICE_KEY) => {
      const res = await fetch(service.url + path, { method, headers: { authorization: `Bearer ${auth}`, 'content-type': 'application/json' }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
      return { status: res.status, text: await res.text() };
    };
    try {
      const created = JSON.parse((await call('POST', '/v1/api-keys', { ownerId: 'u', name: 'n', scopes: ['a'] })).text) as { key: string; apiKey: { id: string } };
      const presented = [created.key, created.key.slice(0, -1) + 'x', 'lk_' + 'z'.repeat(65)];
      for (const key of presented) {
        await call('POST', '/v1/api-keys/verify', { key, scopes: ['b'] });
        await call('GET', '/v1/users/u/api-keys', undefined, key);
      }
      await call('DELETE', `/v1/api-keys/${created.apiKey.id}`);
      await call('POST', '/v1/api-keys/verify', { key: created.key });
      const metrics = (await call('GET', '/metrics')).text;
      expect(lines.length).toBeGreaterThan(8);
      expect(metrics).toContain('/v1/api-keys/verify');
      const everything = lines.join('') + metrics;
      for (const key of presented) expect(everything).not.toContain(key.slice(19, 62));
    } finally {
      await service.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('any body or key gives a 200 or a typed 4xx in the contract shape, never a 500', async () => {
    const { key } = await create();
    const samples: unknown[] = [
      null, [], 'text', 0, {}, { key: null }, { key: 1 }, { key: '' }, { key: 'x'.repeat(5000) }, { key: key + key },
      { key, scopes: 'read' }, { key, scopes: [1] }, { key, scopes: [''] }, { key, scopes: Array(200).fill('a') },
      { key: key.replace('lk_', 'LK_') }, { key: key.toLowerCase() }, { key: `${key}\u0000` }, { key: '\ud800' + key.slice(1) },
      { key, extra: true }, { key: ' ' + key }, { key: key.slice(0, 67) + '\u00e9' },
    ];
    for (let i = 0; i < 60; i++) {
      const chars = Array.from({ length: 65 }, () => String.fromCharCode(33 + Math.floor(Math.random() * 94))).join('');
      samples.push({ key: `lk_${chars}` });
    }
    for (const body of samples) {
      const reply = await t.call('POST', '/v1/api-keys/verify', { raw: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
      expect(reply.status, JSON.stringify(body).slice(0, 60)).toBeLessThan(500);
      expect([200, 400, 401, 403, 413]).toContain(reply.status);
      schemas.ErrorResponse.or(schemas.VerifiedApiKeyResponse).parse(reply.json);
    }
    for (const raw of ['{', '{"key":', '\u0000', '[[[[[[[[[[', '{"key": "lk_' + 'a'.repeat(70000) + '"}']) {
      const reply = await t.call('POST', '/v1/api-keys/verify', { raw, headers: { 'content-type': 'application/json' } });
      expect([400, 413]).toContain(reply.status);
    }
  });
});
