/**
 * latchkey.apiKeys on the engine: the key format, every failure mode of verify (each with its typed
 * error and its rejected event, none reaching the store when the key is malformed or mistyped), the
 * cache (which must never change an answer), rotation with overlap, batched last use, and hygiene.
 */
import { describe, expect, it } from 'vitest';
import {
  API_KEY_PATTERN,
  API_KEY_SCAN_PATTERN,
  InsufficientScopeError,
  isApiKey,
  isLatchkeyError,
  UnauthorisedError,
  type LatchkeyEvents,
} from 'latchkey';
import { memoryStore } from 'latchkey/stores/memory';
import { countingStore, testEngine } from '../helpers/engine.js';

type Rejection = LatchkeyEvents['api_key.rejected'];

async function engineWithKey(options: Parameters<typeof testEngine>[0] = {}) {
  const { lk, clock } = await testEngine(options);
  const rejected: Rejection[] = [];
  lk.on('api_key.rejected', (e) => rejected.push(e));
  const created = await lk.apiKeys.create({ ownerId: 'u_1', name: 'CI', scopes: ['deploy', 'invoices:read'], metadata: { team: 'ops' } });
  return { lk, clock, rejected, ...created };
}

async function refusal(promise: Promise<unknown>): Promise<UnauthorisedError> {
  const error = await promise.then(() => null, (e: unknown) => e);
  expect(error).toBeInstanceOf(UnauthorisedError);
  return error as UnauthorisedError;
}

/** Changes one character of the secret part, keeping the shape. */
function flipSecretChar(key: string): string {
  const i = 30;
  return key.slice(0, i) + (key[i] === 'A' ? 'B' : 'A') + key.slice(i + 1);
}

describe('key format', () => {
  it('is lk_ + 65 base64url characters, matches the documented patterns, and carries a valid checksum', async () => {
    const { key, apiKey } = await engineWithKey();
    expect(key).toMatch(API_KEY_PATTERN);
    expect(key).toHaveLength(68);
    expect(isApiKey(key)).toBe(true);
    expect(key.slice(3, 19)).toBe(apiKey.id);
    expect(apiKey.prefix).toBe(key.slice(0, 11));
    const text = `deploy with token=${key}, then "${key}" again; not xlk_${key.slice(3)} nor ${key}A`;
    expect(text.match(API_KEY_SCAN_PATTERN)).toEqual([key, key]);
  });

  it('the checksum catches every single-character typo', async () => {
    const { key } = await engineWithKey();
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    for (let i = 3; i < key.length; i++) {
      const other = alphabet[(alphabet.indexOf(key[i]!) + 7) % 64]!;
      expect(isApiKey(key.slice(0, i) + other + key.slice(i + 1)), `position ${i}`).toBe(false);
    }
  });

  it('every new key and id is different', async () => {
    const { lk } = await testEngine();
    const keys = await Promise.all(Array.from({ length: 50 }, () => lk.apiKeys.create({ ownerId: 'u', name: 'n' })));
    expect(new Set(keys.map((k) => k.key)).size).toBe(50);
    expect(new Set(keys.map((k) => k.apiKey.id)).size).toBe(50);
  });
});

describe('create', () => {
  it('returns the key once and stores only its SHA-256', async () => {
    const store = memoryStore();
    const { lk } = await testEngine({ store });
    const { key, apiKey } = await lk.apiKeys.create({ ownerId: 'u_1', name: 'CI', scopes: ['a', 'b', 'a'], expiresIn: 3600 });
    expect(apiKey.scopes).toEqual(['a', 'b']);
    expect(apiKey.expiresAt?.getTime()).toBe(apiKey.createdAt.getTime() + 3_600_000);
    const record = await store.getApiKey(apiKey.id);
    const stored = JSON.stringify(record);
    expect(stored).not.toContain(key);
    expect(stored).not.toContain(key.slice(19, 62));
    expect(record?.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.stringify(apiKey)).not.toContain(key.slice(19, 62));
    expect(Object.keys(apiKey)).not.toContain('hash');
  });

  it('refuses bad input with a TypeError (or INVALID_CLAIMS for metadata), writing nothing', async () => {
    const counted = countingStore(memoryStore());
    const { lk } = await testEngine({ store: counted.store });
    const writesBefore = counted.calls.get('insertApiKey') ?? 0;
    const bad: Array<Record<string, unknown>> = [
      { ownerId: '', name: 'n' },
      { ownerId: 'u', name: '   ' },
      { ownerId: 'u', name: 'x'.repeat(201) },
      { ownerId: 'u\u0000', name: 'n' },
      { ownerId: 'u', name: 'n', scopes: 'deploy' },
      { ownerId: 'u', name: 'n', scopes: ['has space'] },
      { ownerId: 'u', name: 'n', scopes: ['quote"'] },
      { ownerId: 'u', name: 'n', scopes: [''] },
      { ownerId: 'u', name: 'n', expiresIn: 0 },
      { ownerId: 'u', name: 'n', expiresIn: 1.5 },
      { ownerId: 'u', name: 'n', expiresIn: Number.NaN },
      { ownerId: 'u', name: 'n', metadata: [] },
      { ownerId: 'u', name: 'n', metadata: { big: 'x'.repeat(9000) } },
    ];
    for (const input of bad) {
      const error = await lk.apiKeys.create(input as never).then(() => null, (e: unknown) => e);
      expect(error instanceof TypeError || isLatchkeyError(error, 'INVALID_CLAIMS'), JSON.stringify(input).slice(0, 80)).toBe(true);
    }
    expect(counted.calls.get('insertApiKey') ?? 0).toBe(writesBefore);
  });

  it('emits api_key.created without the key', async () => {
    const { lk } = await testEngine();
    const events: unknown[] = [];
    lk.on('api_key.created', (e) => events.push(e));
    const { key, apiKey } = await lk.apiKeys.create({ ownerId: 'u_1', name: 'n' });
    expect(events).toEqual([{ keyId: apiKey.id, ownerId: 'u_1', at: expect.any(Date) }]);
    expect(JSON.stringify(events)).not.toContain(key);
  });
});

describe('verify', () => {
  it('returns the owner, name, scopes and metadata, frozen', async () => {
    const { lk, key, apiKey } = await engineWithKey();
    const verified = await lk.apiKeys.verify(key, { scopes: ['deploy'] });
    expect(verified).toMatchObject({ keyId: apiKey.id, ownerId: 'u_1', name: 'CI', scopes: ['deploy', 'invoices:read'], metadata: { team: 'ops' } });
    expect(Object.isFrozen(verified)).toBe(true);
    expect(Object.isFrozen(verified.scopes)).toBe(true);
    expect(Object.isFrozen(verified.metadata)).toBe(true);
  });

  it.each([
    ['not a string', 42],
    ['empty', ''],
    ['another prefix', 'gh_' + 'a'.repeat(65)],
    ['too short', 'lk_abc'],
    ['too long', 'lk_' + 'a'.repeat(66)],
    ['a character outside base64url', 'lk_' + 'a'.repeat(64) + '.'],
    ['a service key', 'lksk_' + 'a'.repeat(43)],
    ['a huge string', 'lk_' + 'a'.repeat(1_000_000)],
  ])('refuses %s as malformed, before any store access', async (_, value) => {
    const counted = countingStore(memoryStore());
    const { lk } = await testEngine({ store: counted.store });
    const rejected: Rejection[] = [];
    lk.on('api_key.rejected', (e) => rejected.push(e));
    const before = counted.total();
    const error = await refusal(lk.apiKeys.verify(value));
    expect(error.code).toBe('UNAUTHORISED');
    expect(error.reason).toBe('malformed');
    expect(counted.total()).toBe(before);
    expect(rejected).toEqual([{ keyId: null, reason: 'malformed', at: expect.any(Date) }]);
  });

  it('refuses a mistyped key (bad checksum) before any store access', async () => {
    const counted = countingStore(memoryStore());
    const { lk } = await testEngine({ store: counted.store });
    const { key } = await lk.apiKeys.create({ ownerId: 'u', name: 'n' });
    const before = counted.total();
    expect((await refusal(lk.apiKeys.verify(flipSecretChar(key)))).reason).toBe('malformed');
    expect(counted.total()).toBe(before);
  });

  it('refuses a mistyped key as malformed also when its id is cached (no store access, no keyId in the event)', async () => {
    const counted = countingStore(memoryStore());
    const { lk } = await testEngine({ store: counted.store });
    const rejected: Rejection[] = [];
    lk.on('api_key.rejected', (e) => rejected.push(e));
    const { key } = await lk.apiKeys.create({ ownerId: 'u', name: 'n' });
    await lk.apiKeys.verify(key);
    const before = counted.total();
    // The id part is intact: the cache holds this id, so only the hash comparison stands between.
    expect((await refusal(lk.apiKeys.verify(flipSecretChar(key)))).reason).toBe('malformed');
    expect(counted.total()).toBe(before);
    expect(rejected).toEqual([{ keyId: null, reason: 'malformed', at: expect.any(Date) }]);
    await lk.apiKeys.verify(key);
  });

  it('stores the SHA-256 of the whole key, whichever digest call the runtime offers', async () => {
    const { createHash } = await import('node:crypto');
    const counted = countingStore(memoryStore());
    const { lk } = await testEngine({ store: counted.store });
    const { key, apiKey } = await lk.apiKeys.create({ ownerId: 'u', name: 'n' });
    const record = await counted.store.getApiKey(apiKey.id);
    expect(record?.hash).toBe(createHash('sha256').update(key).digest('hex'));
  });

  it('refuses an unknown key, and a forged secret under a real id (checksum recomputed), as unknown', async () => {
    const { lk, key, rejected } = await engineWithKey();
    const { key: otherEngineKey } = await (await testEngine()).lk.apiKeys.create({ ownerId: 'u', name: 'n' });
    expect((await refusal(lk.apiKeys.verify(otherEngineKey))).reason).toBe('unknown_token');
    // Same id, a different secret, a correct checksum: anyone can compute a CRC.
    const { crc32 } = await import('node:zlib');
    const body = flipSecretChar(key).slice(0, 62);
    const sum = Buffer.alloc(4);
    sum.writeUInt32BE(crc32(body));
    const forged = body + sum.toString('base64url');
    expect(isApiKey(forged)).toBe(true);
    // Once uncached and once cached: the same answer.
    expect((await refusal(lk.apiKeys.verify(forged))).reason).toBe('unknown_token');
    await lk.apiKeys.verify(key);
    expect((await refusal(lk.apiKeys.verify(forged))).reason).toBe('unknown_token');
    expect(rejected.map((r) => r.reason)).toEqual(['unknown', 'unknown', 'unknown']);
  });

  it('refuses a revoked key at once, though it was cached', async () => {
    const { lk, key, apiKey, rejected } = await engineWithKey();
    await lk.apiKeys.verify(key);
    expect(await lk.apiKeys.revoke(apiKey.id)).toBe(true);
    expect(await lk.apiKeys.revoke(apiKey.id)).toBe(false);
    expect((await refusal(lk.apiKeys.verify(key))).reason).toBe('revoked');
    expect(rejected.at(-1)).toEqual({ keyId: apiKey.id, reason: 'revoked', at: expect.any(Date) });
  });

  it('refuses an expired key, checking expiry on every cache hit', async () => {
    const { lk, clock } = await testEngine();
    const { key } = await lk.apiKeys.create({ ownerId: 'u', name: 'n', expiresIn: 60 });
    await lk.apiKeys.verify(key);
    clock.advance(59);
    await lk.apiKeys.verify(key);
    clock.advance(1);
    expect((await refusal(lk.apiKeys.verify(key))).reason).toBe('expired');
  });

  it('refuses missing scopes with INSUFFICIENT_SCOPE naming each, in the order asked', async () => {
    const { lk, key, apiKey, rejected } = await engineWithKey();
    const error = await lk.apiKeys.verify(key, { scopes: ['admin', 'deploy', 'billing:write'] }).then(() => null, (e: unknown) => e);
    expect(error).toBeInstanceOf(InsufficientScopeError);
    expect((error as InsufficientScopeError).code).toBe('INSUFFICIENT_SCOPE');
    expect((error as InsufficientScopeError).missingScopes).toEqual(['admin', 'billing:write']);
    expect(rejected.at(-1)).toEqual({ keyId: apiKey.id, reason: 'insufficient_scope', missingScopes: ['admin', 'billing:write'], at: expect.any(Date) });
    await expect(lk.apiKeys.verify(key, { scopes: [] })).resolves.toBeTruthy();
  });

  it('reads the store once for many verifications (the cache), and again after an invalidation', async () => {
    const counted = countingStore(memoryStore());
    const { lk } = await testEngine({ store: counted.store });
    const { key, apiKey } = await lk.apiKeys.create({ ownerId: 'u', name: 'n' });
    for (let i = 0; i < 20; i++) await lk.apiKeys.verify(key);
    expect(counted.calls.get('getApiKey')).toBe(1);
    lk.apiKeys.invalidate([apiKey.id]);
    await lk.apiKeys.verify(key);
    expect(counted.calls.get('getApiKey')).toBe(2);
  });

  it('with the cache off, reads the store every time and still answers the same', async () => {
    const counted = countingStore(memoryStore());
    const { lk } = await testEngine({ store: counted.store, apiKeyCacheSize: 0 });
    const { key } = await lk.apiKeys.create({ ownerId: 'u', name: 'n' });
    for (let i = 0; i < 3; i++) await lk.apiKeys.verify(key);
    expect(counted.calls.get('getApiKey')).toBe(3);
    expect(lk.apiKeys.cachedKeys).toBe(0);
  });

  it('keeps the cache bounded', async () => {
    const { lk } = await testEngine({ apiKeyCacheSize: 3 });
    const keys = await Promise.all(Array.from({ length: 6 }, () => lk.apiKeys.create({ ownerId: 'u', name: 'n' })));
    for (const { key } of keys) await lk.apiKeys.verify(key);
    expect(lk.apiKeys.cachedKeys).toBe(3);
  });

  it('a store read that began before a revocation never puts the stale key back in the cache', async () => {
    const inner = memoryStore();
    const { lk } = await testEngine({ store: inner });
    const { key, apiKey } = await lk.apiKeys.create({ ownerId: 'u', name: 'n' });
    // Hold the first read until the revocation has happened.
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const original = inner.getApiKey.bind(inner);
    let first = true;
    inner.getApiKey = async (id: string) => {
      const record = await original(id);
      if (first) {
        first = false;
        await gate;
      }
      return record;
    };
    const inFlight = lk.apiKeys.verify(key);
    await new Promise((r) => setTimeout(r, 5));
    await lk.apiKeys.revoke(apiKey.id);
    release();
    await inFlight; // it began before the revocation: it may succeed
    expect((await refusal(lk.apiKeys.verify(key))).reason).toBe('revoked');
  });
});

describe('list, get and revoke', () => {
  it("lists an owner's usable keys, newest first, with metadata only", async () => {
    const { lk, clock } = await testEngine();
    const a = await lk.apiKeys.create({ ownerId: 'u_1', name: 'a' });
    clock.advance(1);
    const b = await lk.apiKeys.create({ ownerId: 'u_1', name: 'b', expiresIn: 10 });
    clock.advance(1);
    const c = await lk.apiKeys.create({ ownerId: 'u_1', name: 'c' });
    await lk.apiKeys.create({ ownerId: 'u_2', name: 'd' });
    await lk.apiKeys.revoke(c.apiKey.id);
    const listed = await lk.apiKeys.list('u_1');
    expect(listed.map((k) => k.name)).toEqual(['b', 'a']);
    const text = JSON.stringify(listed);
    for (const { key } of [a, b]) expect(text).not.toContain(key.slice(19, 62));
    expect(text).not.toMatch(/[0-9a-f]{64}/);
    clock.advance(10);
    expect((await lk.apiKeys.list('u_1')).map((k) => k.name)).toEqual(['a']);
    expect((await lk.apiKeys.get(c.apiKey.id))?.revokedAt).toBeInstanceOf(Date);
    expect(await lk.apiKeys.get('nope')).toBeNull();
  });

  it('emits api_key.revoked once', async () => {
    const { lk, apiKey } = await engineWithKey();
    const events: unknown[] = [];
    lk.on('api_key.revoked', (e) => events.push(e));
    await lk.apiKeys.revoke(apiKey.id);
    await lk.apiKeys.revoke(apiKey.id);
    await lk.apiKeys.revoke('unknown-id');
    expect(events).toEqual([{ keyId: apiKey.id, ownerId: 'u_1', at: expect.any(Date) }]);
  });
});

describe('rotate', () => {
  it('issues a new key with the same owner, name, scopes and metadata; the old one stops at once', async () => {
    const { lk, key, apiKey } = await engineWithKey();
    await lk.apiKeys.verify(key);
    const events: unknown[] = [];
    lk.on('api_key.rotated', (e) => events.push(e));
    const next = await lk.apiKeys.rotate(apiKey.id);
    expect(next.key).not.toBe(key);
    expect(next.apiKey).toMatchObject({ ownerId: 'u_1', name: 'CI', scopes: ['deploy', 'invoices:read'], metadata: { team: 'ops' }, expiresAt: null });
    expect(next.apiKey.id).not.toBe(apiKey.id);
    await expect(lk.apiKeys.verify(next.key)).resolves.toMatchObject({ keyId: next.apiKey.id });
    expect((await refusal(lk.apiKeys.verify(key))).reason).toBe('revoked');
    expect(events).toEqual([{ keyId: next.apiKey.id, previousKeyId: apiKey.id, ownerId: 'u_1', previousExpiresAt: null, at: expect.any(Date) }]);
  });

  it('with expiresPreviousIn, both keys work during the overlap, then only the new one', async () => {
    const { lk, clock, key, apiKey } = await engineWithKey();
    await lk.apiKeys.verify(key);
    const next = await lk.apiKeys.rotate(apiKey.id, { expiresPreviousIn: 300 });
    clock.advance(299);
    await lk.apiKeys.verify(key);
    await lk.apiKeys.verify(next.key);
    clock.advance(1);
    expect((await refusal(lk.apiKeys.verify(key))).reason).toBe('expired');
    await lk.apiKeys.verify(next.key);
  });

  it("gives the new key the old one's lifetime, unless told otherwise", async () => {
    const { lk, clock } = await testEngine();
    const { apiKey } = await lk.apiKeys.create({ ownerId: 'u', name: 'n', expiresIn: 1000 });
    clock.advance(500);
    const same = await lk.apiKeys.rotate(apiKey.id);
    expect(same.apiKey.expiresAt!.getTime() - same.apiKey.createdAt.getTime()).toBe(1_000_000);
    const custom = await lk.apiKeys.rotate(same.apiKey.id, { expiresIn: 60 });
    expect(custom.apiKey.expiresAt!.getTime() - custom.apiKey.createdAt.getTime()).toBe(60_000);
  });

  it('refuses to rotate an unknown, revoked or expired key with NOT_FOUND, creating nothing', async () => {
    const { lk, clock } = await testEngine();
    const revoked = await lk.apiKeys.create({ ownerId: 'u', name: 'r' });
    await lk.apiKeys.revoke(revoked.apiKey.id);
    const expired = await lk.apiKeys.create({ ownerId: 'u', name: 'e', expiresIn: 1 });
    clock.advance(1);
    for (const id of ['nope', revoked.apiKey.id, expired.apiKey.id]) {
      await expect(lk.apiKeys.rotate(id)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    }
    expect(await lk.apiKeys.list('u')).toEqual([]);
  });
});

describe('last use', () => {
  it('is written in one batch when flushed, not on every verification', async () => {
    const counted = countingStore(memoryStore());
    const { lk, clock } = await testEngine({ store: counted.store });
    const a = await lk.apiKeys.create({ ownerId: 'u', name: 'a' });
    const b = await lk.apiKeys.create({ ownerId: 'u', name: 'b' });
    for (let i = 0; i < 10; i++) {
      await lk.apiKeys.verify(a.key);
      await lk.apiKeys.verify(b.key);
      clock.advance(1);
    }
    expect(counted.calls.get('touchApiKeys') ?? 0).toBe(0);
    // Listed with the pending use already.
    expect((await lk.apiKeys.list('u')).every((k) => k.lastUsedAt !== null)).toBe(true);
    await lk.apiKeys.flushLastUsed();
    expect(counted.calls.get('touchApiKeys')).toBe(1);
    expect((await counted.store.getApiKey(a.apiKey.id))?.lastUsedAt).toBe(clock.ms - 1000);
    await lk.apiKeys.flushLastUsed();
    expect(counted.calls.get('touchApiKeys')).toBe(1);
  });

  it('is flushed on close', async () => {
    const store = memoryStore();
    const { lk } = await testEngine({ store });
    const { key, apiKey } = await lk.apiKeys.create({ ownerId: 'u', name: 'a' });
    await lk.apiKeys.verify(key);
    await lk.close();
    expect((await store.getApiKey(apiKey.id))?.lastUsedAt).not.toBeNull();
  });

  it('runs on a timer about once a minute with timers on', async () => {
    const store = memoryStore();
    const { lk } = await testEngine({ store, timers: true, apiKeyLastUsedInterval: 1, clock: undefined });
    try {
      const { key, apiKey } = await lk.apiKeys.create({ ownerId: 'u', name: 'a' });
      await lk.apiKeys.verify(key);
      const deadline = Date.now() + 3000;
      while ((await store.getApiKey(apiKey.id))?.lastUsedAt === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect((await store.getApiKey(apiKey.id))?.lastUsedAt).not.toBeNull();
    } finally {
      await lk.close();
    }
  });
});

describe('two engines on one store (no bus)', () => {
  it('a revocation on one is honoured by the other after its poll', async () => {
    const store = memoryStore();
    const { lk: a, clock } = await testEngine({ store });
    const { lk: b } = await testEngine({ store, clock });
    const { key, apiKey } = await a.apiKeys.create({ ownerId: 'u', name: 'n' });
    await b.apiKeys.verify(key);
    await a.apiKeys.revoke(apiKey.id);
    clock.advance(1);
    await b.apiKeys.syncChanges();
    expect((await refusal(b.apiKeys.verify(key))).reason).toBe('revoked');
  });
});

describe('hygiene', () => {
  it('no error message or event ever contains the key or its secret', async () => {
    const { lk, key, apiKey } = await engineWithKey();
    const seen: unknown[] = [];
    for (const name of ['api_key.created', 'api_key.revoked', 'api_key.rotated', 'api_key.rejected', 'error'] as const) lk.on(name, (e) => seen.push(e));
    const messages: string[] = [];
    const attempts = [key, flipSecretChar(key), key + 'x', key.slice(0, -1)];
    for (const attempt of attempts) {
      for (const scopes of [undefined, ['nope']]) {
        await lk.apiKeys.verify(attempt, scopes ? { scopes } : {}).catch((e: Error) => messages.push(e.message, String(e.stack)));
      }
    }
    await lk.apiKeys.rotate(apiKey.id, { expiresPreviousIn: 10 });
    await lk.apiKeys.revoke(apiKey.id);
    await lk.apiKeys.verify(key).catch((e: Error) => messages.push(e.message, String(e.stack)));
    const text = JSON.stringify(seen) + messages.join('\n');
    expect(messages.length).toBeGreaterThan(4);
    for (const attempt of attempts) expect(text).not.toContain(attempt.slice(19, 62));
  });

  it('an engine whose store keeps no API keys says so with a TypeError', async () => {
    const base = memoryStore();
    const sessionsOnly = new Proxy(base, {
      get(target, prop, receiver) {
        if (typeof prop === 'string' && /ApiKey/.test(prop) && !/Service/.test(prop)) return undefined;
        const value = Reflect.get(target, prop, receiver);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const { lk } = await testEngine({ store: sessionsOnly });
    expect(lk.apiKeys.enabled).toBe(false);
    await expect(lk.apiKeys.create({ ownerId: 'u', name: 'n' })).rejects.toThrow(TypeError);
    const { lk: withSeparate } = await testEngine({ store: sessionsOnly, apiKeyStore: memoryStore() });
    const { key } = await withSeparate.apiKeys.create({ ownerId: 'u', name: 'n' });
    await expect(withSeparate.apiKeys.verify(key)).resolves.toMatchObject({ ownerId: 'u' });
  });
});
