/**
 * Configuration: the contract's defaults, flags over environment, and a refusal naming the variable
 * for every bad value (never echoing it).
 */
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { ConfigError, ENVIRONMENT_VARIABLES, loadServiceConfig, resolveIssuer, silentLogger, startService } from 'latchkey/service';
import { startTestService } from './helpers.js';

describe('service configuration', () => {
  it('defaults are the contract table', () => {
    const config = loadServiceConfig({});
    expect(config).toMatchObject({
      port: 4100,
      host: '127.0.0.1',
      store: { kind: 'sqlite', path: './.latchkey/latchkey.db' },
      redisUrl: undefined,
      secret: undefined,
      secretFile: '.latchkey/secret.key',
      apiKeys: [],
      audience: 'latchkey',
      signingAlgorithm: 'EdDSA',
      accessTokenTtl: 900,
      clockTolerance: 30,
      refreshGrace: 30,
      idleTimeout: 1_209_600,
      absoluteTimeout: 7_776_000,
      bodyLimit: 65_536,
    });
    expect(resolveIssuer(config, 4100)).toBe('http://127.0.0.1:4100');
    expect(resolveIssuer(loadServiceConfig({ HOST: '::1' }), 4100)).toBe('http://[::1]:4100');
  });

  it('reads every variable; flags win over PORT and HOST', () => {
    const config = loadServiceConfig(
      {
        PORT: '5000',
        HOST: '0.0.0.0',
        LATCHKEY_STORE: 'postgres://u:p@db:5432/lk',
        LATCHKEY_REDIS_URL: 'redis://cache:6379',
        LATCHKEY_REDIS_CHANNEL: 'acme:latchkey',
        LATCHKEY_SECRET: 's'.repeat(32),
        LATCHKEY_API_KEYS: ` ${'a'.repeat(32)} ,${'b'.repeat(40)},`,
        LATCHKEY_ISSUER: 'https://auth.example.com',
        LATCHKEY_AUDIENCE: 'api',
        LATCHKEY_SIGNING_ALG: 'RS256',
        LATCHKEY_ACCESS_TTL: '300',
        LATCHKEY_CLOCK_TOLERANCE: '0',
        LATCHKEY_REFRESH_GRACE: '0',
        LATCHKEY_IDLE_TIMEOUT: '3600',
        LATCHKEY_ABSOLUTE_TIMEOUT: '86400',
      },
      { port: '6000', host: '127.0.0.2' },
    );
    expect(config).toMatchObject({
      port: 6000,
      host: '127.0.0.2',
      store: { kind: 'postgres', connectionString: 'postgres://u:p@db:5432/lk' },
      redisUrl: 'redis://cache:6379',
      redisChannel: 'acme:latchkey',
      apiKeys: ['a'.repeat(32), 'b'.repeat(40)],
      issuer: 'https://auth.example.com',
      audience: 'api',
      signingAlgorithm: 'RS256',
      accessTokenTtl: 300,
      clockTolerance: 0,
      refreshGrace: 0,
      idleTimeout: 3600,
      absoluteTimeout: 86400,
    });
  });

  it('refuses bad values, naming the variable and never echoing it', () => {
    const cases: Array<[Record<string, string>, string]> = [
      [{ PORT: '-1' }, 'PORT'],
      [{ PORT: '65536' }, 'PORT'],
      [{ HOST: 'a b' }, 'HOST'],
      [{ LATCHKEY_STORE: 'sqlite:' }, 'LATCHKEY_STORE'],
      [{ LATCHKEY_STORE: 'mongodb://x:hunter2@y' }, 'LATCHKEY_STORE'],
      [{ LATCHKEY_STORE: 'postgres://x:hunter2@[bad' }, 'LATCHKEY_STORE'],
      [{ LATCHKEY_REDIS_URL: 'nonsense' }, 'LATCHKEY_REDIS_URL'],
      [{ LATCHKEY_REDIS_CHANNEL: 'two words' }, 'LATCHKEY_REDIS_CHANNEL'],
      [{ LATCHKEY_SECRET: 'hunter2' }, 'LATCHKEY_SECRET'],
      [{ LATCHKEY_API_KEYS: 'hunter2 x' }, 'LATCHKEY_API_KEYS'],
      [{ LATCHKEY_API_KEYS: `ok-key,${'h'.repeat(600)}` }, 'LATCHKEY_API_KEYS'],
      [{ LATCHKEY_ISSUER: 'auth.example.com' }, 'LATCHKEY_ISSUER'],
      [{ LATCHKEY_SIGNING_ALG: 'none' }, 'LATCHKEY_SIGNING_ALG'],
      [{ LATCHKEY_ACCESS_TTL: '0' }, 'LATCHKEY_ACCESS_TTL'],
      [{ LATCHKEY_ACCESS_TTL: '1.5' }, 'LATCHKEY_ACCESS_TTL'],
      [{ LATCHKEY_CLOCK_TOLERANCE: '301' }, 'LATCHKEY_CLOCK_TOLERANCE'],
      [{ LATCHKEY_REFRESH_GRACE: 'ten' }, 'LATCHKEY_REFRESH_GRACE'],
      [{ LATCHKEY_IDLE_TIMEOUT: '0' }, 'LATCHKEY_IDLE_TIMEOUT'],
      [{ LATCHKEY_ABSOLUTE_TIMEOUT: '1e9' }, 'LATCHKEY_ABSOLUTE_TIMEOUT'],
      [{ LATCHKEY_BODY_LIMIT: '10' }, 'LATCHKEY_BODY_LIMIT'],
    ];
    for (const [env, variable] of cases) {
      let caught: unknown;
      try {
        loadServiceConfig(env);
      } catch (err) {
        caught = err;
      }
      expect(caught, variable).toBeInstanceOf(ConfigError);
      expect((caught as ConfigError).variable).toBe(variable);
      expect((caught as ConfigError).message.startsWith(`${variable}: `)).toBe(true);
      expect((caught as ConfigError).message).not.toMatch(/hunter2|hhhh/);
    }
    expect(() => loadServiceConfig({}, { port: 'http' })).toThrow(/^--port: /);
  });

  it('accepts short API keys (the contract sets no minimum) with a warning that names no key', () => {
    const config = loadServiceConfig({ LATCHKEY_API_KEYS: `test-key,${'k'.repeat(40)}` });
    expect(config.apiKeys).toEqual(['test-key', 'k'.repeat(40)]);
    expect(config.warnings).toEqual([expect.stringMatching(/^LATCHKEY_API_KEYS: key #1 is shorter than 32 characters/)]);
    expect(config.warnings.join()).not.toContain('test-key');
    expect(loadServiceConfig({}).warnings).toEqual([]);
  });

  it('documents every variable it reads', () => {
    const names = ENVIRONMENT_VARIABLES.map((v) => v.name);
    for (const name of ['PORT', 'HOST', 'LATCHKEY_STORE', 'LATCHKEY_REDIS_URL', 'LATCHKEY_SECRET', 'LATCHKEY_API_KEYS', 'LATCHKEY_ISSUER', 'LATCHKEY_AUDIENCE', 'LATCHKEY_SIGNING_ALG', 'LATCHKEY_ACCESS_TTL', 'LATCHKEY_CLOCK_TOLERANCE', 'LATCHKEY_REFRESH_GRACE', 'LATCHKEY_IDLE_TIMEOUT', 'LATCHKEY_ABSOLUTE_TIMEOUT']) {
      expect(names).toContain(name);
    }
  });

  it('refuses to start with a secret that did not make the stored signing keys', async () => {
    const first = await startTestService();
    const env = { PORT: '0', LATCHKEY_STORE: `sqlite:${join(first.dir, 'latchkey.db')}` };
    await first.service.close();
    try {
      const wrong = startService({ config: loadServiceConfig({ ...env, LATCHKEY_SECRET: 'x'.repeat(40) }), logger: silentLogger, defaultMetrics: false });
      await expect(wrong).rejects.toMatchObject({ name: 'ConfigError', variable: 'LATCHKEY_SECRET' });
      // The right secret still works.
      const right = await startService({ config: loadServiceConfig({ ...env, LATCHKEY_SECRET_FILE: join(first.dir, 'secret.key') }), logger: silentLogger, defaultMetrics: false });
      await right.close();
    } finally {
      await first.close();
    }
  });
});
