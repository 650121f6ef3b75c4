/** Service configuration for fleet topologies: `redis+sentinel://` URLs (LATCHKEY_REDIS_URL and redisBus `url`) and LATCHKEY_STORE_POOLER. */
import { describe, expect, it } from 'vitest';
import { isSentinelUrl, parseSentinelUrl } from 'latchkey/revocation/redis-url';
import { ConfigError, loadServiceConfig } from 'latchkey/service/config';

describe('redis+sentinel URLs', () => {
  it('reads the Sentinels, the primary name, the servers\' credentials and the database', () => {
    expect(parseSentinelUrl('redis+sentinel://app:p%40ss@s1:26379,s2:26380,[::1]/mymaster/2')).toEqual({
      sentinels: [{ host: 's1', port: 26379 }, { host: 's2', port: 26380 }, { host: '::1', port: 26379 }],
      name: 'mymaster', username: 'app', password: 'p@ss', db: 2,
    });
    expect(parseSentinelUrl('redis+sentinel://:secret@10.0.0.1:26379/latchkey')).toEqual({ sentinels: [{ host: '10.0.0.1', port: 26379 }], name: 'latchkey', password: 'secret' });
    expect(isSentinelUrl('redis+sentinel://s1/x')).toBe(true);
    expect(isSentinelUrl('redis://s1')).toBe(false);
  });

  it('refuses a URL without a primary name or with a bad host list, never echoing it', () => {
    for (const bad of ['redis+sentinel://:hunter2@s1:26379', 'redis+sentinel://:hunter2@s1:99999/m', 'redis+sentinel://:hunter2@s1,,s2/m']) {
      expect(() => parseSentinelUrl(bad)).toThrow(TypeError);
      expect(() => loadServiceConfig({ LATCHKEY_REDIS_URL: bad }, {})).toThrow(ConfigError);
      try {
        loadServiceConfig({ LATCHKEY_REDIS_URL: bad }, {});
      } catch (err) {
        expect((err as Error).message).not.toContain('hunter2');
      }
    }
  });

  it('the service accepts it as LATCHKEY_REDIS_URL', () => {
    expect(loadServiceConfig({ LATCHKEY_REDIS_URL: 'redis+sentinel://s1:26379,s2:26379/latchkey' }, {}).redisUrl).toBe('redis+sentinel://s1:26379,s2:26379/latchkey');
  });
});

describe('LATCHKEY_STORE_POOLER', () => {
  it('marks a postgres store as behind a transaction pooler; refuses other values and SQLite', () => {
    expect(loadServiceConfig({ LATCHKEY_STORE: 'postgres://u@bouncer:6432/lk', LATCHKEY_STORE_POOLER: 'transaction' }, {}).store)
      .toEqual({ kind: 'postgres', connectionString: 'postgres://u@bouncer:6432/lk', transactionPooler: true });
    expect(loadServiceConfig({ LATCHKEY_STORE: 'postgres://u@db/lk' }, {}).store).toEqual({ kind: 'postgres', connectionString: 'postgres://u@db/lk' });
    expect(() => loadServiceConfig({ LATCHKEY_STORE: 'postgres://u@db/lk', LATCHKEY_STORE_POOLER: 'session' }, {})).toThrow(ConfigError);
    expect(() => loadServiceConfig({ LATCHKEY_STORE: 'sqlite:./x.db', LATCHKEY_STORE_POOLER: 'transaction' }, {})).toThrow(/postgres/);
  });
});
