/** Multi-host `postgres://` strings (libpq's URL form), read without the driver. */
import { describe, expect, it } from 'vitest';
import { needsHostSelection, parseHostList } from 'latchkey/stores/postgres/host-list';
import { loadServiceConfig } from 'latchkey/service/config';

describe('parseHostList', () => {
  it('splits a host list into one single-host string per host, everything else unchanged', () => {
    const list = parseHostList('postgres://app:s3cret@db1:5432,db2:6543,[::1]/latchkey?sslmode=verify-full&target_session_attrs=read-write');
    expect(list.hosts).toEqual([{ host: 'db1', port: 5432 }, { host: 'db2', port: 6543 }, { host: '[::1]', port: 5432 }]);
    expect(list.readWrite).toBe(true);
    expect(list.urls).toEqual([
      'postgres://app:s3cret@db1:5432/latchkey?sslmode=verify-full&target_session_attrs=read-write',
      'postgres://app:s3cret@db2:6543/latchkey?sslmode=verify-full&target_session_attrs=read-write',
      'postgres://app:s3cret@[::1]:5432/latchkey?sslmode=verify-full&target_session_attrs=read-write',
    ]);
    expect(needsHostSelection(list)).toBe(true);
  });

  it('leaves a plain single-host string to the driver', () => {
    const list = parseHostList('postgresql://u@db/x');
    expect(list.hosts).toEqual([{ host: 'db', port: 5432 }]);
    expect(needsHostSelection(list)).toBe(false);
    expect(needsHostSelection(parseHostList('postgres://u@db/x?target_session_attrs=read-write'))).toBe(true);
  });

  it('refuses malformed lists and target_session_attrs latchkey cannot use, without echoing the string', () => {
    for (const bad of ['postgres://u:hunter2@db1:5432,,db2/x', 'postgres://u:hunter2@db1:99999/x', 'postgres://u:hunter2@[bad/x', 'mysql://u:hunter2@db/x']) {
      expect(() => parseHostList(bad)).toThrow(TypeError);
      try {
        parseHostList(bad);
      } catch (err) {
        expect((err as Error).message).not.toContain('hunter2');
      }
    }
    expect(() => parseHostList('postgres://u@db1,db2/x?target_session_attrs=read-only')).toThrow(/read-write/);
  });

  it('the service accepts a multi-host LATCHKEY_STORE', () => {
    const config = loadServiceConfig({ LATCHKEY_STORE: 'postgres://u@db1:5432,db2:5432/lk?target_session_attrs=read-write', LATCHKEY_SECRET: 'x'.repeat(43) }, {});
    expect(config.store).toEqual({ kind: 'postgres', connectionString: 'postgres://u@db1:5432,db2:5432/lk?target_session_attrs=read-write' });
  });
});
