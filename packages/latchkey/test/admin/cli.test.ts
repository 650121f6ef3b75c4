/**
 * `latchkey admin login` against a running service's store: the printed link signs in once, its
 * options are checked before anything is opened, `--json` gives the link and its expiry, and the
 * service's LATCHKEY_ADMIN_CONSOLE switch is parsed strictly.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { ConfigError, loadServiceConfig } from 'latchkey/service';
import { cli } from '../cli/helpers.js';
import { ConsoleClient, startAdminService, type AdminService } from './helpers.js';

const open: AdminService[] = [];
afterEach(async () => {
  for (const s of open.splice(0)) await s.close();
});

async function setup() {
  const svc = await startAdminService();
  open.push(svc);
  const env = { LATCHKEY_STORE: `sqlite:${join(svc.dir, 'latchkey.db')}`, LATCHKEY_SECRET_FILE: join(svc.dir, 'secret.key') };
  return { svc, env };
}

describe('latchkey admin login', () => {
  test('prints a link on stdout (the notice on stderr) that signs the operator in once', async () => {
    const { svc, env } = await setup();
    const printed = await cli(['admin', 'login', '--operator', 'dana', '--url', `${svc.url}/admin`], env);
    expect(printed.code, printed.stderr).toBe(0);
    expect(printed.stderr).toMatch(/one-time sign-in link for dana, valid until .*; it is a credential/);
    const link = printed.stdout.trim();
    expect(link).toMatch(new RegExp(`^${svc.url}/admin/login#id=[^&]+&t=[A-Za-z0-9_-]{43}$`));
    const client = new ConsoleClient(svc.url);
    expect((await client.signIn(link)).status).toBe(303);
    expect((await client.get('/admin')).text).toContain('Signed in as dana');
    expect((await new ConsoleClient(svc.url).signIn(link)).status).toBe(401);
  });

  test('--json gives the link, the operator and the expiry; --ttl sets it', async () => {
    const { env } = await setup();
    const before = Date.now();
    const result = await cli(['admin', 'login', '--operator', 'dana', '--ttl', '60', '--json'], env);
    expect(result.code, result.stderr).toBe(0);
    expect(result.json).toMatchObject({ operator: 'dana', store: { kind: 'sqlite' } });
    // Without --url: http://HOST:PORT of the configuration, then /admin.
    expect(result.json.url).toMatch(/^http:\/\/127\.0\.0\.1:4100\/admin\/login#id=/);
    const expires = Date.parse(result.json.expiresAt);
    expect(expires - before).toBeGreaterThanOrEqual(59_000);
    expect(expires - before).toBeLessThanOrEqual(61_000);
  });

  test('bad options are usage errors (exit 2) and create no ticket', async () => {
    const { svc, env } = await setup();
    for (const args of [
      [],
      ['--operator', ''],
      ['--operator', 'a b'],
      ['--operator', '<script>'],
      ['--operator', 'x', '--ttl', '5'],
      ['--operator', 'x', '--ttl', 'ten'],
      ['--operator', 'x', '--url', 'ftp://h/admin'],
    ]) {
      const result = await cli(['admin', 'login', ...args], env);
      expect(result.code, `${args.join(' ')}: ${result.stderr}`).toBe(2);
      expect(result.stdout).toBe('');
    }
    expect(await svc.service.engine.countActiveSessions()).toBe(0);
  });

  test('--help describes the link', async () => {
    const result = await cli(['admin', 'login', '--help'], {});
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Usage: latchkey admin login --operator NAME');
    expect(result.stdout).toContain('It is a credential');
  });
});

describe('LATCHKEY_ADMIN_CONSOLE', () => {
  test('on by default, on/off accepted, anything else refused', () => {
    expect(loadServiceConfig({}).adminConsole).toBe(true);
    expect(loadServiceConfig({ LATCHKEY_ADMIN_CONSOLE: 'off' }).adminConsole).toBe(false);
    expect(loadServiceConfig({ LATCHKEY_ADMIN_CONSOLE: 'on' }).adminConsole).toBe(true);
    expect(() => loadServiceConfig({ LATCHKEY_ADMIN_CONSOLE: 'yes' })).toThrow(ConfigError);
  });
});
