/**
 * Signing keys: generated on first start, encrypted at rest, rotated on a schedule with overlap so
 * that no valid token is ever refused, published as a JWKS of public keys only.
 */
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeProtectedHeader } from 'jose';
import { describe, expect, it } from 'vitest';
import { createLatchkey, LatchkeyError, SecretMismatchError } from 'latchkey';
import { memoryStore } from 'latchkey/stores/memory';
import { sqliteStore } from 'latchkey/stores/sqlite';
import { decryptPrivateKey, encryptPrivateKey } from '../../src/keys/encryption.js';
import { generateSigningKey } from '../../src/keys/generate.js';
import { KeyRing } from '../../src/keys/ring.js';
import { planKeyMaintenance } from '../../src/keys/schedule.js';
import { FakeClock, ISSUER, TEST_SECRET, testEngine } from '../helpers/engine.js';

const DAY = 86_400;

describe('key rotation on a fake clock', () => {
  it('over several periods, tokens signed by the previous key verify until they expire; keys publish before they sign', async () => {
    const store = memoryStore();
    const { lk, clock } = await testEngine({ store, keyRotationInterval: 7 * DAY, keyPublishLead: DAY, accessTokenTtl: 900 });
    const kidOf = (token: string) => decodeProtectedHeader(token).kid!;
    const signingKids: string[] = [];
    let previous = await lk.createSession({ userId: 'u' });
    signingKids.push(kidOf(previous.accessToken));

    let activation = clock.now();
    for (let period = 0; period < 5; period++) {
      activation += 7 * DAY * 1000;
      // The maintenance timer runs (every minute by default) well before the key is due...
      clock.ms = activation - 36 * 3600_000;
      await lk.maintainKeys();
      // ...so just before the next key is due to sign, it is already in the JWKS.
      clock.ms = activation - 60_000;
      await lk.maintainKeys();
      const jwksKids = lk.jwks().keys.map((k) => k.kid);
      expect(jwksKids.length).toBeGreaterThanOrEqual(2);
      const beforeSwitch = await lk.createSession({ userId: 'u' });
      expect(kidOf(beforeSwitch.accessToken)).toBe(signingKids.at(-1)); // the old key still signs

      clock.advance(120); // the new key is now active
      await lk.maintainKeys();
      const after = await lk.createSession({ userId: 'u' });
      const newKid = kidOf(after.accessToken);
      expect(newKid).not.toBe(signingKids.at(-1));
      expect(jwksKids).toContain(newKid); // it was published before it signed
      signingKids.push(newKid);

      // The token minted by the old key 2 minutes ago still verifies, until it expires.
      await expect(lk.verifyAccessToken(beforeSwitch.accessToken)).resolves.toBeTruthy();
      // It was minted 60 s before the switch: it expires (with tolerance) at switch + 870 s.
      clock.ms = activation + 871_000;
      await lk.maintainKeys();
      await expect(lk.verifyAccessToken(beforeSwitch.accessToken)).rejects.toMatchObject({ code: 'TRY_REFRESH_TOKEN' });
      clock.ms = activation + 931_000;
      await lk.maintainKeys();
      // The old key has left the JWKS once no token it signed can be valid.
      expect(lk.jwks().keys.map((k) => k.kid)).not.toContain(signingKids.at(-2));
      previous = after;
    }
    expect(new Set(signingKids).size).toBe(6);
    await expect(lk.verifyAccessToken(previous.accessToken)).resolves.toBeTruthy();
  });

  it('a manual rotation signs at once and keeps the previous key published', async () => {
    const { lk } = await testEngine();
    const before = await lk.createSession({ userId: 'u' });
    const { kid } = await lk.rotateKeys();
    const after = await lk.createSession({ userId: 'u' });
    expect(decodeProtectedHeader(after.accessToken).kid).toBe(kid);
    await expect(lk.verifyAccessToken(before.accessToken)).resolves.toBeTruthy();
    expect(lk.jwks().keys).toHaveLength(2);
  });

  it('another instance picks up a rotated key without a restart (on an unknown kid)', async () => {
    const store = memoryStore();
    const clock = new FakeClock();
    const { lk: a } = await testEngine({ store, clock });
    const { lk: b } = await testEngine({ store, clock });
    await a.rotateKeys();
    const issued = await a.createSession({ userId: 'u' });
    await expect(b.verifyAccessToken(issued.accessToken)).resolves.toBeTruthy();
  });

  it('the plan creates one generation at a time and only when due', () => {
    const opts = { rotationIntervalMs: 7 * DAY * 1000, publishLeadMs: DAY * 1000, retainMs: 930_000 };
    expect(planKeyMaintenance([], 1000, opts)).toEqual({ create: { generation: 1, activatesAt: 1000 }, remove: [] });
    const k1 = { kid: 'k1', alg: 'EdDSA' as const, generation: 1, publicJwk: {}, privateKeyEncrypted: '', createdAt: 0, activatesAt: 0 };
    expect(planKeyMaintenance([k1], 4.9 * DAY * 1000, opts).create).toBeNull();
    expect(planKeyMaintenance([k1], 5 * DAY * 1000, opts).create).toEqual({ generation: 2, activatesAt: 7 * DAY * 1000 });
    expect(planKeyMaintenance([k1], 6 * DAY * 1000, opts).create).toEqual({ generation: 2, activatesAt: 7 * DAY * 1000 });
    // Late (the process was down): still published a full lead before it signs.
    expect(planKeyMaintenance([k1], 30 * DAY * 1000, opts).create).toEqual({ generation: 2, activatesAt: 31 * DAY * 1000 });
    const k2 = { ...k1, kid: 'k2', generation: 2, activatesAt: 7 * DAY * 1000 };
    expect(planKeyMaintenance([k1, k2], 6.5 * DAY * 1000, opts)).toEqual({ create: null, remove: [] });
    expect(planKeyMaintenance([k1, k2], 7 * DAY * 1000 + 930_000, opts).remove).toEqual(['k1']);
  });
});

describe('JWKS and discovery', () => {
  it('publishes public keys only, each with kid, alg and use', async () => {
    for (const alg of ['EdDSA', 'ES256', 'RS256'] as const) {
      const { lk } = await testEngine({ signingAlgorithm: alg });
      const { keys } = lk.jwks();
      expect(keys).toHaveLength(1);
      for (const key of keys) {
        expect(key).toMatchObject({ alg, use: 'sig' });
        expect(typeof key.kid).toBe('string');
        for (const secret of ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k']) expect(key).not.toHaveProperty(secret);
      }
    }
  });

  it('serves an OpenID-style discovery document', async () => {
    const { lk } = await testEngine();
    expect(lk.discovery()).toMatchObject({
      issuer: ISSUER,
      jwks_uri: `${ISSUER}/.well-known/jwks.json`,
      id_token_signing_alg_values_supported: ['EdDSA'],
    });
  });
});

describe('keys at rest', () => {
  it('private keys are stored encrypted (AES-256-GCM) and need the right secret', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'latchkey-keys-'));
    const path = join(dir, 'db.sqlite');
    const store = sqliteStore({ path });
    const lk = await createLatchkey({ issuer: ISSUER, secret: TEST_SECRET, store, timers: false });
    const issued = await lk.createSession({ userId: 'u' });
    const [record] = await store.listSigningKeys();
    expect(record!.privateKeyEncrypted).toMatch(/^v1\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]+$/);
    const raw = readFileSync(path).toString('latin1') + readFileSync(`${path}-wal`).toString('latin1');
    expect(raw).not.toContain('PRIVATE KEY');
    expect(raw).not.toContain(issued.refreshToken); // and only hashes of refresh tokens
    await lk.close();
    await store.close();

    // The wrong secret is refused at start-up, with a typed error naming the likely cause, rather
    // than an instance that verifies (public keys suffice) but fails every sign-in and refresh.
    const wrongStore = sqliteStore({ path });
    const err = await createLatchkey({ issuer: ISSUER, secret: 'another-secret-another-secret-another', store: wrongStore, timers: false }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SecretMismatchError);
    expect(err).toMatchObject({ code: 'SECRET_MISMATCH', kid: record!.kid });
    expect((err as Error).message).toMatch(/cannot be decrypted with this master secret.*LATCHKEY_SECRET/);
    expect((err as Error).message).not.toContain('another-secret');
    // Nothing was written: still one key, and the session is untouched.
    expect(await wrongStore.listSigningKeys()).toHaveLength(1);
    await wrongStore.close();
  });

  it('an instance with the wrong secret inserts no key, even when one is due', async () => {
    const store = memoryStore();
    const clock = new FakeClock();
    await createLatchkey({ issuer: ISSUER, secret: TEST_SECRET, store, clock, timers: false });
    clock.advance(8 * 24 * 3600); // past the 7-day rotation: the next start would create a key
    await expect(createLatchkey({ issuer: ISSUER, secret: 'another-secret-another-secret-another', store, clock, timers: false }))
      .rejects.toMatchObject({ code: 'SECRET_MISMATCH' });
    expect(await store.listSigningKeys()).toHaveLength(1);
  });

  it('creates the key file with mode 0600 on first run and reuses it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'latchkey-secret-'));
    const secretFile = join(dir, 'nested', 'secret.key');
    const store = memoryStore();
    const a = await createLatchkey({ issuer: ISSUER, store, secretFile, timers: false });
    expect(statSync(secretFile).mode & 0o777).toBe(0o600);
    const issued = await a.createSession({ userId: 'u' });
    const b = await createLatchkey({ issuer: ISSUER, store, secretFile, timers: false });
    await expect(b.refresh(issued.refreshToken)).resolves.toBeTruthy(); // same secret: same successor derivation
    expect(readFileSync(secretFile, 'utf8').trim()).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it('refuses a short secret', async () => {
    await expect(createLatchkey({ issuer: ISSUER, secret: 'short', store: memoryStore(), timers: false })).rejects.toThrow(TypeError);
  });
});

describe('a leaked signing key', () => {
  it('rotateKeys({ dropPrevious }) ends every token the old key signed, forged ones included; refresh carries on', async () => {
    const store = memoryStore();
    const clock = new FakeClock();
    const { lk } = await testEngine({ store, clock });
    const { lk: other } = await testEngine({ store, clock });
    const issued = await lk.createSession({ userId: 'u' });
    await other.verifyAccessToken(issued.accessToken); // cached on the other instance too
    const { kid } = await lk.rotateKeys({ dropPrevious: true });
    expect(lk.jwks().keys.map((k) => k.kid)).toEqual([kid]);
    await expect(lk.verifyAccessToken(issued.accessToken)).rejects.toMatchObject({ code: 'UNAUTHORISED', reason: 'unknown_key' });
    // Another instance drops it when it reloads its keys (the bus or its key timer does this).
    await other.maintainKeys();
    await expect(other.verifyAccessToken(issued.accessToken)).rejects.toMatchObject({ code: 'UNAUTHORISED', reason: 'unknown_key' });
    // The session itself is fine: its refresh token does not depend on any signing key.
    const next = await lk.refresh(issued.refreshToken);
    expect(decodeProtectedHeader(next.accessToken).kid).toBe(kid);
    await expect(other.verifyAccessToken(next.accessToken)).resolves.toBeTruthy();
  });
});

describe('key ring and sealed keys: corrupt input gets a typed error', () => {
  const encryptionKey = new Uint8Array(32).fill(7);

  it('a sealed key with a malformed IV or a truncated tag is SECRET_MISMATCH, not a TypeError', async () => {
    const record = await generateSigningKey('ES256', 1, 0, 0, encryptionKey);
    const [, iv, body] = record.privateKeyEncrypted.split('.');
    const shortIv = `v1.${Buffer.alloc(4).toString('base64url')}.${body}`;
    const shortTag = `v1.${iv}.${Buffer.alloc(5).toString('base64url')}`;
    for (const sealed of [shortIv, shortTag]) {
      let caught: unknown;
      try {
        decryptPrivateKey(encryptionKey, record.kid, sealed);
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(SecretMismatchError);
      expect(caught).toMatchObject({ code: 'SECRET_MISMATCH', kid: record.kid });
    }
    // The intact one still decrypts: the check refuses only malformed input.
    expect(decryptPrivateKey(encryptionKey, record.kid, record.privateKeyEncrypted)).toContain('PRIVATE KEY');
  });

  it('an empty ring answers a typed STORE_UNAVAILABLE rather than a plain Error', () => {
    const ring = new KeyRing(encryptionKey);
    let caught: unknown;
    try {
      ring.signing(Date.now());
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(LatchkeyError);
    expect(caught).toMatchObject({ code: 'STORE_UNAVAILABLE' });
  });

  it('a failed private-key import is not cached: the next call imports again', async () => {
    const good = await generateSigningKey('ES256', 1, 0, 0, encryptionKey);
    // Sealed correctly but not a PKCS#8 key: decryption succeeds and the import rejects.
    const bad = { ...good, privateKeyEncrypted: encryptPrivateKey(encryptionKey, good.kid, 'not a key') };
    const ring = new KeyRing(encryptionKey);
    await ring.load([bad]);
    const key = ring.get(good.kid)!;
    await expect(ring.signingKey(key)).rejects.toBeTruthy();
    // The cause goes away (here: the record is repaired); a cached rejection would fail forever.
    key.record = good;
    await expect(ring.signingKey(key)).resolves.toBeTruthy();
  });
});
