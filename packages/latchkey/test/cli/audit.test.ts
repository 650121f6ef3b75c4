/**
 * `latchkey audit` against a running service's SQLite store: the filters an operator types during an
 * incident, --json, paging with --cursor, usage errors (exit 2, JSON-only stderr under --json), and an
 * attacker's User-Agent that must not reach the operator's terminal as escape sequences.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestService, type TestService } from '../service/helpers.js';
import { cli } from './helpers.js';

describe('latchkey audit', () => {
  let t: TestService;
  let env: Record<string, string>;
  let sessionId: string;
  const hostile = 'Evil/1.0 \u001b]0;pwned\u0007\u001b[2J';

  beforeAll(async () => {
    t = await startTestService();
    env = { LATCHKEY_STORE: `sqlite:${join(t.dir, 'latchkey.db')}`, LATCHKEY_SECRET_FILE: join(t.dir, 'secret.key') };
    const created = await t.call('POST', '/v1/sessions', { body: { userId: 'dana', device: { userAgent: hostile, ip: '192.0.2.44' } } });
    sessionId = created.json.session.id;
    await t.call('POST', '/v1/sessions/refresh', { body: { refreshToken: created.json.refreshToken } });
    await t.call('DELETE', `/v1/sessions/${sessionId}`);
    await t.call('POST', '/v1/sessions', { body: { userId: 'erin' } });
    await t.service.audit.flush();
  });
  afterAll(async () => {
    await t?.close();
  });

  it("--user --since --json: the user's events newest first, with the store named", async () => {
    const result = await cli(['audit', '--user', 'dana', '--since', '24h', '--json'], env);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toBe('');
    expect(result.json.events.map((e: { type: string }) => e.type)).toEqual(['session.revoked', 'session.refreshed', 'session.created']);
    expect(result.json.events[2]).toMatchObject({ userId: 'dana', sessionId, device: hostile, ip: '192.0.2.44' });
    expect(result.json.store).toEqual({ kind: 'sqlite', location: join(t.dir, 'latchkey.db') });
    expect(result.json.nextCursor).toBeNull();
  });

  it('--type and --session filter; a window in the past is empty', async () => {
    const revoked = await cli(['audit', '--session', sessionId, '--type', 'session.revoked', '--json'], env);
    expect(revoked.json.events).toMatchObject([{ type: 'session.revoked', actor: 'user', reason: 'signout' }]);
    const old = await cli(['audit', '--until', '2020-01-01T00:00:00Z', '--json'], env);
    expect(old.json.events).toEqual([]);
  });

  it('pages with --limit and --cursor', async () => {
    const first = await cli(['audit', '--limit', '3', '--json'], env);
    expect(first.json.events).toHaveLength(3);
    expect(first.json.nextCursor).toEqual(expect.any(String));
    const second = await cli(['audit', '--limit', '3', '--cursor', first.json.nextCursor, '--json'], env);
    expect(second.json.events.map((e: { userId: string }) => e.userId)).toEqual(['dana']);
    expect(second.json.nextCursor).toBeNull();
    // In text, the next page is named on stderr; stdout stays the table.
    const text = await cli(['audit', '--limit', '3'], env);
    expect(text.stderr).toContain(`--cursor ${first.json.nextCursor}`);
  });

  it('prints a table in which control characters of attacker-sent text are neutralised', async () => {
    const result = await cli(['audit', '--user', 'dana'], env);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^TIME\s+TYPE\s+USER/);
    expect(result.stdout).toContain('Evil/1.0 ?]0;pwned??[2J');
    // eslint-disable-next-line no-control-regex -- no control character but the newlines may remain
    expect(result.stdout).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f]/);
  });

  it('bad filters are usage errors (exit 2); under --json, stderr is one JSON line', async () => {
    for (const args of [
      ['--since', 'yesterday'],
      ['--type', 'session.exploded'],
      ['--limit', '0'],
      ['--cursor', 'garbage'],
    ]) {
      const result = await cli(['audit', ...args, '--json'], env);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stdout).toBe('');
      const lines = result.stderr.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(JSON.parse(lines[0]!)).toMatchObject({ error: { code: 'USAGE', message: expect.stringContaining(`--${args[0]!.slice(2)}`) } });
    }
  });
});
