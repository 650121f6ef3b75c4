/**
 * Fleet start-up: instances sharing one PostgreSQL store must share one issuer, or each refuses the
 * others' tokens (`claim "iss" is invalid`). Without LATCHKEY_ISSUER the default `http://<host>:<port>`
 * differs per instance, so the first instance records its issuer in the store and a later one that
 * would default to another (or is set to another) refuses to start, naming LATCHKEY_ISSUER;
 * LATCHKEY_RESET_ISSUER=1 with LATCHKEY_ISSUER changes the recorded one deliberately. SQLite (one process) keeps the
 * default.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, loadServiceConfig, startService } from 'latchkey/service';
import { postgresStore } from 'latchkey/stores/postgres';
import { postgresAvailable } from '../helpers/postgres.js';
import { API_KEY, startTestService, tempDir, type TestService } from './helpers.js';
import { createTestDatabase, type TestDatabase } from './pg-database.js';

const available = await postgresAvailable();

describe.skipIf(!available)('service instances sharing one PostgreSQL store', () => {
  const running: TestService[] = [];
  const databases: TestDatabase[] = [];
  afterEach(async () => {
    await Promise.all(running.splice(0).map((t) => t.close()));
    await Promise.all(databases.splice(0).map((d) => d.drop()));
  });

  async function fleet(): Promise<Record<string, string>> {
    const db = await createTestDatabase('lk_issuer');
    databases.push(db);
    // One secret for the fleet, so that only the issuer can differ.
    return { LATCHKEY_STORE: db.url, LATCHKEY_SECRET: randomBytes(32).toString('base64url') };
  }

  async function start(env: Record<string, string>): Promise<TestService> {
    const t = await startTestService({ env });
    running.push(t);
    return t;
  }

  it('without LATCHKEY_ISSUER: the second instance (another port, so another default) refuses to start, saying why', async () => {
    const env = await fleet();
    const first = await start(env);
    const err = await startTestService({ env }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect(err).toMatchObject({ variable: 'LATCHKEY_ISSUER' });
    const message = (err as Error).message;
    expect(message).toContain(first.url); // the fleet's issuer, recorded by the first instance
    expect(message).toMatch(/claim "iss" is invalid/);
    expect(message).toMatch(/set LATCHKEY_ISSUER .* the same on every instance/);
    // The first instance is unharmed.
    expect((await first.call('POST', '/v1/sessions', { body: { userId: 'u' } })).status).toBe(201);
  });

  it('with one LATCHKEY_ISSUER: both start and accept each other\'s tokens', async () => {
    const env = { ...(await fleet()), LATCHKEY_ISSUER: 'https://auth.fleet.example' };
    const [a, b] = [await start(env), await start(env)];
    const created = await a.call('POST', '/v1/sessions', { body: { userId: 'u_fleet' } });
    expect(created.status).toBe(201);
    const verified = await b.call('POST', '/v1/sessions/verify', { body: { accessToken: created.json.accessToken } });
    expect(verified.status, verified.text).toBe(200);
    const refreshed = await b.call('POST', '/v1/sessions/refresh', { body: { refreshToken: created.json.refreshToken } });
    expect((await a.call('POST', '/v1/sessions/verify', { body: { accessToken: refreshed.json.accessToken } })).status).toBe(200);
  });

  it('an explicit issuer is recorded, and an instance that would default to another one is refused', async () => {
    const env = await fleet();
    await start({ ...env, LATCHKEY_ISSUER: 'https://auth.fleet.example' });
    await expect(startTestService({ env })).rejects.toMatchObject({ variable: 'LATCHKEY_ISSUER', message: expect.stringContaining('https://auth.fleet.example') });
  });

  it('a changed explicit issuer is refused, naming both; LATCHKEY_RESET_ISSUER=1 changes it deliberately', async () => {
    const env = await fleet();
    const first = await start({ ...env, LATCHKEY_ISSUER: 'https://old.fleet.example' });
    await first.close();
    running.splice(running.indexOf(first), 1);
    // A mismatch would make every token already issued fail: refused, with both values and the way out.
    const refused = await startTestService({ env: { ...env, LATCHKEY_ISSUER: 'https://new.fleet.example' } }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ConfigError);
    expect(refused).toMatchObject({ variable: 'LATCHKEY_ISSUER' });
    expect((refused as Error).message).toContain('https://old.fleet.example');
    expect((refused as Error).message).toContain('https://new.fleet.example');
    expect((refused as Error).message).toContain('LATCHKEY_RESET_ISSUER=1');
    // Resetting needs the new issuer spelled out: a per-instance default would only move the split.
    expect(() => loadServiceConfig({ ...env, LATCHKEY_RESET_ISSUER: '1' })).toThrow(ConfigError);
    const warnings: string[] = [];
    const config = loadServiceConfig({ PORT: '0', LATCHKEY_API_KEYS: API_KEY, ...env, LATCHKEY_ISSUER: 'https://new.fleet.example', LATCHKEY_RESET_ISSUER: '1' });
    const service = await startService({ config, defaultMetrics: false, logger: { log: (level, _msg, fields) => void (level === 'warn' && warnings.push(String(fields?.warning))) } });
    try {
      expect(warnings.some((w) => w.includes('changed from https://old.fleet.example to https://new.fleet.example'))).toBe(true);
      // The new one is the fleet's now: the old explicit value and any default are refused, naming it.
      await expect(startTestService({ env: { ...env, LATCHKEY_ISSUER: 'https://old.fleet.example' } })).rejects.toMatchObject({ message: expect.stringContaining('recorded issuer is https://new.fleet.example') });
      await expect(startTestService({ env })).rejects.toMatchObject({ message: expect.stringContaining('https://new.fleet.example') });
      running.push(await startTestService({ env: { ...env, LATCHKEY_ISSUER: 'https://new.fleet.example' } }));
    } finally {
      await service.close();
    }
  });

  it('instances racing on an empty store agree on one recorded issuer', async () => {
    const db = await createTestDatabase('lk_issuer_race');
    databases.push(db);
    const stores = Array.from({ length: 4 }, () => postgresStore({ connectionString: db.url }));
    try {
      await stores[0]!.migrate();
      const claims = await Promise.all(stores.map((s, i) => s.claimIssuer(`http://127.0.0.1:${4100 + i}`, { replace: false, now: Date.now() })));
      const recorded = new Set(claims.map((c) => c.recorded));
      expect(recorded.size).toBe(1);
      // Exactly one of them is the one whose issuer was recorded.
      expect(claims.filter((c, i) => c.recorded === `http://127.0.0.1:${4100 + i}`)).toHaveLength(1);
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  });
});

describe('service instances on one SQLite file', () => {
  it('keep the default issuer: one process needs no agreement, and nothing is recorded', async () => {
    const dir = tempDir('latchkey-issuer-sqlite-');
    const env = { LATCHKEY_STORE: `sqlite:${join(dir, 'shared.db')}`, LATCHKEY_SECRET_FILE: join(dir, 'secret.key') };
    const a = await startTestService({ env });
    try {
      const b = await startTestService({ env });
      expect(b.url).not.toBe(a.url);
      await b.close();
    } finally {
      await a.close();
    }
  });
});
