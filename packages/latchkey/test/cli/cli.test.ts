/**
 * The `latchkey` CLI: every command against a real SQLite store, its --json output, its exit codes
 * (0 ok, 1 failed, 2 usage/config, 69 store unavailable), and the real binary end to end.
 */
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COMMANDS } from '../../src/cli/run.js';
import { postgresAvailable } from '../helpers/postgres.js';
import { createTestDatabase } from '../service/pg-database.js';
import { startTestService, tempDir, type TestService } from '../service/helpers.js';
import { bin, builtCliAvailable, cli, serve } from './helpers.js';

describe('latchkey CLI (in-process)', () => {
  let dir: string;
  let env: Record<string, string>;
  let t: TestService;
  /** The `store` field every admin command's JSON carries. */
  let store: { kind: string; location: string };

  beforeAll(async () => {
    t = await startTestService();
    dir = t.dir;
    // The CLI works on the same store and secret as the running service, like an operator would.
    env = { LATCHKEY_STORE: `sqlite:${join(dir, 'latchkey.db')}`, LATCHKEY_SECRET_FILE: join(dir, 'secret.key') };
    store = { kind: 'sqlite', location: join(dir, 'latchkey.db') };
  });
  afterAll(async () => {
    await t?.close();
  });

  it('api-keys create/list/revoke: the key works on the service until revoked; only a hash is kept', async () => {
    const created = await cli(['api-keys', 'create', '--name', 'billing backend #1', '--json'], env);
    expect(created.code).toBe(0);
    expect(Object.keys(created.json).sort()).toEqual(['id', 'key']);
    expect(created.json.key).toMatch(/^lksk_[A-Za-z0-9_-]{43}$/);
    const { id, key } = created.json as { id: string; key: string };

    expect((await t.call('GET', '/v1/users/u/sessions', { auth: key })).status).toBe(200);

    const listed = await cli(['api-keys', 'list', '--json'], env);
    expect(listed.code).toBe(0);
    expect(listed.json.apiKeys).toContainEqual({ id, name: 'billing backend #1', createdAt: expect.any(String), revokedAt: null });
    expect(listed.stdout).not.toContain(key);

    const human = await cli(['api-keys', 'list'], env);
    expect(human.stdout).toMatch(/^ID\s+NAME\s+CREATED\s+REVOKED/);

    expect((await cli(['api-keys', 'revoke', id, '--json'], env)).json).toEqual({ revoked: true, store });
    // The CLI is another process and this service has no bus: it refuses the key once its service-key
    // cache entry (LATCHKEY_SERVICE_KEY_CACHE_MS, 1 s) has run out. Polled, with room for a loaded machine.
    const revokedAt = Date.now();
    let status = 200;
    while (status !== 401 && Date.now() - revokedAt < 5_000) {
      status = (await t.call('GET', '/v1/users/u/sessions', { auth: key })).status;
      if (status !== 401) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(status).toBe(401);
    const again = await cli(['api-keys', 'revoke', id, '--json'], env);
    expect([again.code, again.json]).toEqual([1, { revoked: false, store }]);
  });

  it('service-keys is the new name; api-keys prints the same stdout plus a deprecation notice on stderr', async () => {
    const created = await cli(['service-keys', 'create', '--name', 'new name', '--json'], env);
    expect(created.code).toBe(0);
    expect(created.json.key).toMatch(/^lksk_/);
    expect(created.stderr).not.toMatch(/deprecated/);
    // stdout is fixed by the contract to {"id","key"}, so the store it wrote to is a JSON info line on stderr.
    expect(JSON.parse(created.stderr)).toEqual({ info: { code: 'STORE', message: expect.stringMatching(/^sqlite store at /), store: { kind: 'sqlite', location: expect.any(String) } } });
    expect((await t.call('GET', '/v1/users/u/sessions', { auth: created.json.key })).status).toBe(200);
    const viaNew = await cli(['service-keys', 'list', '--json'], env);
    const viaOld = await cli(['api-keys', 'list', '--json'], env);
    expect(viaOld.code).toBe(0);
    expect(viaOld.stdout).toBe(viaNew.stdout);
    // Under --json the notice is a JSON warning line, so stderr stays machine-readable.
    expect(JSON.parse(viaOld.stderr)).toEqual({ warning: { code: 'DEPRECATED_COMMAND', message: expect.stringMatching(/`api-keys list` is deprecated; use `service-keys list`/) } });
    expect(viaNew.stderr).not.toMatch(/deprecated/);
    const human = await cli(['api-keys', 'list'], env);
    expect(human.stderr).toMatch(/^latchkey: `api-keys list` is deprecated; use `service-keys list`/m);
  });

  it('user-keys list/revoke: an operator revokes a leaked user API key at once; no key or hash is printed', async () => {
    const owner = `u_cli_${Date.now()}`;
    const created = (await t.call('POST', '/v1/api-keys', { body: { ownerId: owner, name: 'leaky', scopes: ['read'] } })).json as { key: string; apiKey: { id: string } };
    const listed = await cli(['user-keys', 'list', '--owner', owner, '--json'], env);
    expect(listed.code).toBe(0);
    expect(listed.json.apiKeys).toEqual([expect.objectContaining({ id: created.apiKey.id, name: 'leaky', scopes: ['read'] })]);
    expect(listed.stdout).not.toContain(created.key.slice(19, 62));
    expect(listed.stdout).not.toMatch(/[0-9a-f]{64}/);
    const table = await cli(['user-keys', 'list', '--owner', owner], env);
    expect(table.stdout).toContain(created.apiKey.id);

    const revoked = await cli(['user-keys', 'revoke', created.apiKey.id, '--json'], env);
    expect(revoked.code).toBe(0);
    expect(revoked.json.revoked).toBe(true);
    const again = await cli(['user-keys', 'revoke', created.apiKey.id, '--json'], env);
    expect(again.code).toBe(1);
    expect(again.json.revoked).toBe(false);
    // The running service refuses it once its poll (or the bus) has carried the revocation.
    const deadline = Date.now() + 10_000;
    let status = 200;
    while (status === 200 && Date.now() < deadline) {
      status = (await t.call('POST', '/v1/api-keys/verify', { body: { key: created.key } })).status;
      if (status === 200) await new Promise((r) => setTimeout(r, 200));
    }
    expect(status).toBe(401);
    expect((await cli(['user-keys', 'list', '--owner', owner, '--json'], env)).json.apiKeys).toEqual([]);
    expect((await cli(['user-keys', 'list'], env)).code).toBe(2);
  });

  it('sessions list/revoke/revoke-user act on the live service at once', async () => {
    const userId = 'cli-user';
    const a = (await t.call('POST', '/v1/sessions', { body: { userId, device: { userAgent: 'Firefox' } } })).json;
    const b = (await t.call('POST', '/v1/sessions', { body: { userId } })).json;
    const c = (await t.call('POST', '/v1/sessions', { body: { userId } })).json;

    const listed = await cli(['sessions', 'list', '--user', userId, '--json'], env);
    expect(listed.code).toBe(0);
    expect(listed.json.sessions.map((s: { id: string }) => s.id).sort()).toEqual([a.session.id, b.session.id, c.session.id].sort());
    expect(listed.stdout).not.toContain(a.refreshToken);

    const revoked = await cli(['sessions', 'revoke', a.session.id, '--json'], env);
    expect([revoked.code, revoked.json]).toEqual([0, { revoked: true, store }]);
    // The running service sees it through the store (its revocation poll) or on its next store read.
    expect((await t.call('POST', '/v1/sessions/refresh', { body: { refreshToken: a.refreshToken } })).status).toBe(401);
    expect((await t.call('POST', '/v1/sessions/verify', { body: { accessToken: a.accessToken, checkStore: true } })).status).toBe(401);
    const twice = await cli(['sessions', 'revoke', a.session.id, '--json'], env);
    expect([twice.code, twice.json]).toEqual([1, { revoked: false, store }]);

    // Ids are base64url: one in 64 begins with "-", which must still read as the id, not as an option.
    const dashed = await cli(['sessions', 'revoke', '-AbCdEfGhIjKlMnOpQrStUv', '--json'], env);
    expect([dashed.code, dashed.json]).toEqual([1, { revoked: false, store }]);
    const dashedUser = await cli(['sessions', 'list', '--user', '-dash-user', '--json'], env);
    expect([dashedUser.code, dashedUser.json]).toEqual([0, { sessions: [], store }]);

    const all = await cli(['sessions', 'revoke-user', userId, '--json'], env);
    expect([all.code, all.json]).toEqual([0, { revoked: 2, store }]);
    expect((await cli(['sessions', 'list', '--user', userId, '--json'], env)).json).toEqual({ sessions: [], store });
  });

  it('keys list and keys rotate', async () => {
    const before = await cli(['keys', 'list', '--json'], env);
    expect(before.code).toBe(0);
    expect(before.json.keys.filter((k: { state: string }) => k.state === 'signing')).toHaveLength(1);
    for (const key of before.json.keys) expect(Object.keys(key).sort()).toEqual(['activatesAt', 'alg', 'createdAt', 'generation', 'kid', 'state']);

    const rotated = await cli(['keys', 'rotate', '--json'], env);
    expect(rotated.code).toBe(0);
    expect(rotated.json).toEqual({ kid: expect.any(String), store });
    const after = await cli(['keys', 'list', '--json'], env);
    expect(after.json.keys.find((k: { state: string }) => k.state === 'signing').kid).toBe(rotated.json.kid);
    expect(after.json.keys.length).toBe(before.json.keys.length + 1);
  });

  it('migrate and cleanup report in JSON; progress goes to stderr only on a terminal', async () => {
    expect((await cli(['migrate', '--json'], env)).json).toEqual({ migrated: true, applied: [], version: expect.any(Number), store });
    const piped = await cli(['cleanup', '--json'], env);
    expect(piped.code).toBe(0);
    expect(piped.json).toEqual({ sessions: expect.any(Number), refreshTokens: expect.any(Number), store });
    expect(piped.stderr).toBe('');
    const tty = await cli(['cleanup', '--json'], env, { tty: true });
    expect(tty.json).toEqual({ sessions: expect.any(Number), refreshTokens: expect.any(Number), store });
    expect(tty.stderr).toContain('deleting expired sessions');
  });

  it('usage errors exit 2 with a message; --json errors are JSON on stderr', async () => {
    for (const args of [[], ['nope'], ['keys'], ['keys', 'spin'], ['sessions', 'list'], ['sessions', 'revoke'], ['sessions', 'revoke', 'a', 'b'], ['api-keys', 'create'], ['api-keys', 'create', '--name', ''], ['api-keys', 'create', '--name', 'tab\there'], ['cleanup', '--force']]) {
      const result = await cli(args, env);
      expect(result.code, args.join(' ')).toBe(2);
    }
    const json = await cli(['sessions', 'list', '--json'], env);
    expect(JSON.parse(json.stderr)).toEqual({ error: { code: 'USAGE', message: '--user ID is required' } });
  });

  it('a bad environment variable exits 2 naming it (and never echoing a secret value)', async () => {
    const cases: Array<[Record<string, string>, string]> = [
      [{ LATCHKEY_ACCESS_TTL: 'ten' }, 'LATCHKEY_ACCESS_TTL'],
      [{ LATCHKEY_STORE: 'mysql://root:hunter2@db/x' }, 'LATCHKEY_STORE'],
      [{ LATCHKEY_SIGNING_ALG: 'HS256' }, 'LATCHKEY_SIGNING_ALG'],
      [{ LATCHKEY_SECRET: 'short-secret' }, 'LATCHKEY_SECRET'],
      [{ LATCHKEY_REDIS_URL: 'http://redis' }, 'LATCHKEY_REDIS_URL'],
      [{ LATCHKEY_API_KEYS: 'too short' }, 'LATCHKEY_API_KEYS'],
      [{ PORT: '70000' }, 'PORT'],
    ];
    for (const [bad, variable] of cases) {
      const result = await cli(['keys', 'list'], { ...env, ...bad });
      expect(result.code, variable).toBe(2);
      expect(result.stderr).toContain(variable);
      expect(result.stderr).not.toMatch(/hunter2|short-secret|tooshort/);
    }
  });

  it('refuses a secret that did not make the stored keys, and never creates a stray key file', async () => {
    const { existsSync } = await import('node:fs');
    const elsewhere = join(dir, 'elsewhere', 'secret.key');
    const missing = await cli(['keys', 'rotate', '--json'], { ...env, LATCHKEY_SECRET_FILE: elsewhere });
    expect(missing.code).toBe(2);
    expect(JSON.parse(missing.stderr).error.message).toMatch(/^LATCHKEY_SECRET_FILE: no key file at/);
    expect(existsSync(elsewhere)).toBe(false);
    const wrong = await cli(['sessions', 'revoke-user', 'x', '--json'], { ...env, LATCHKEY_SECRET: 'w'.repeat(32) });
    expect(wrong.code).toBe(2);
    expect(JSON.parse(wrong.stderr).error.message).toMatch(/^LATCHKEY_SECRET: does not decrypt signing key/);
    expect(wrong.stderr).not.toContain('w'.repeat(32));
    const keys = await cli(['keys', 'list', '--json'], env);
    expect(keys.json.keys.length).toBeGreaterThan(0);
  });

  it('an unreachable store exits 69', async () => {
    const result = await cli(['service-keys', 'list', '--json'], { ...env, LATCHKEY_STORE: 'postgres://postgres@127.0.0.1:1/none' });
    expect(result.code).toBe(69);
    expect(JSON.parse(result.stderr).error.code).toBe('STORE_UNAVAILABLE');
  });

  it('every command has --help (exit 0)', async () => {
    for (const command of COMMANDS) {
      const result = await cli([...command.name.split(' '), '--help'], env);
      expect(result.code, command.name).toBe(0);
      expect(result.stdout).toContain(`Usage: latchkey ${command.usage}`);
    }
    expect((await cli(['--help'], env)).code).toBe(0);
    expect((await cli(['serve', '--help'], env)).stdout).toContain('LATCHKEY_REFRESH_GRACE');
  });
});

/** Every command that opens an existing store, with the arguments it needs. */
const ADMIN_COMMANDS: string[][] = [
  ['keys', 'list'],
  ['keys', 'rotate'],
  ['sessions', 'list', '--user', 'u'],
  ['sessions', 'revoke', 's'],
  ['sessions', 'revoke-user', 'u'],
  ['service-keys', 'list'],
  ['service-keys', 'revoke', 'k'],
  ['user-keys', 'list', '--owner', 'u'],
  ['user-keys', 'revoke', 'k'],
  ['cleanup'],
  ['audit'],
  ['admin', 'login', '--operator', 'alice'],
];

describe('latchkey CLI in the wrong folder', () => {
  let dir: string;
  let env: Record<string, string>;
  beforeAll(() => {
    dir = tempDir('latchkey-cli-empty-');
    env = { LATCHKEY_STORE: `sqlite:${join(dir, 'data', 'latchkey.db')}`, LATCHKEY_SECRET_FILE: join(dir, 'data', 'secret.key') };
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('every admin command refuses to create a store, naming the path it looked at, and creates nothing', async () => {
    for (const args of ADMIN_COMMANDS) {
      for (const json of [false, true]) {
        const result = await cli([...args, ...(json ? ['--json'] : [])], env);
        const where = `${args.join(' ')}${json ? ' --json' : ''}: ${result.stderr}`;
        expect(result.code, where).toBe(2);
        expect(result.stdout, where).toBe('');
        const message = json ? (JSON.parse(result.stderr) as { error: { message: string } }).error.message : result.stderr;
        expect(message, where).toContain(`no latchkey store at ${join(dir, 'data', 'latchkey.db')}`);
        expect(message, where).toContain('--init');
      }
    }
    expect(readdirSync(dir)).toEqual([]);
  });

  it('a store without the key file: commands that sign refuse to make one; --init makes it', async () => {
    const migrated = await cli(['migrate', '--json'], env);
    expect(migrated.code, migrated.stderr).toBe(0);
    const rotate = await cli(['keys', 'rotate', '--json'], env);
    expect(rotate.code).toBe(2);
    expect(JSON.parse(rotate.stderr).error.message).toMatch(/^LATCHKEY_SECRET_FILE: no key file at .*--init/);
    expect(existsSync(join(dir, 'data', 'secret.key'))).toBe(false);
    const init = await cli(['sessions', 'list', '--user', 'u', '--json', '--init'], env);
    expect([init.code, init.json]).toEqual([0, { sessions: [], store: { kind: 'sqlite', location: join(dir, 'data', 'latchkey.db') } }]);
    expect(existsSync(join(dir, 'data', 'secret.key'))).toBe(true);
    expect((await cli(['keys', 'rotate', '--json'], env)).code).toBe(0);
  });

  it('says which store it opened on stderr (stdout stays the answer)', async () => {
    const listed = await cli(['sessions', 'list', '--user', 'nobody'], env);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toBe('(none)\n');
    expect(listed.stderr).toBe(`latchkey: sqlite store at ${join(dir, 'data', 'latchkey.db')}\n`);
  });
});

const pgUp = await postgresAvailable();

describe('latchkey migrate reports what it applied', () => {
  it('on SQLite: an empty store gets every migration, a second run none', async () => {
    const dir = tempDir('latchkey-cli-migrate-');
    try {
      const env = { LATCHKEY_STORE: `sqlite:${join(dir, 'latchkey.db')}` };
      const first = await cli(['migrate'], env);
      expect(first.code, first.stderr).toBe(0);
      expect(first.stdout).toMatch(/^applied migrations? 1(, \d+)*; schema at version \d+\n$/);
      expect(first.stdout).not.toContain('up to date');
      const second = await cli(['migrate'], env);
      expect(second.stdout).toMatch(/^schema up to date \(version \d+\)\n$/);
      const again = await cli(['migrate', '--json'], env);
      expect(again.json).toEqual({ migrated: true, applied: [], version: expect.any(Number), store: { kind: 'sqlite', location: join(dir, 'latchkey.db') } });
      expect(first.stdout).toContain(`schema at version ${again.json.version}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it.skipIf(!pgUp)('on PostgreSQL: an empty database gets every migration, a second run none; other commands refuse it until then', async () => {
    const db = await createTestDatabase('lk_cli_migrate');
    try {
      const url = new URL(db.url);
      url.password = 'not-printed';
      const env = { LATCHKEY_STORE: url.toString(), LATCHKEY_SECRET: 's'.repeat(32) };
      const refused = await cli(['sessions', 'list', '--user', 'u', '--json'], env);
      expect(refused.code).toBe(2);
      expect(JSON.parse(refused.stderr).error.message).toContain('no latchkey schema in the store at postgres://postgres@127.0.0.1:5432/');
      expect(refused.stderr).not.toContain('not-printed');
      const first = await cli(['migrate', '--json'], env);
      expect(first.code, first.stderr).toBe(0);
      expect(first.json.applied[0]).toBe(1);
      expect(first.json.applied.at(-1)).toBe(first.json.version);
      expect(first.json.store).toEqual({ kind: 'postgres', location: `postgres://postgres@127.0.0.1:5432/${db.name}` });
      const second = await cli(['migrate'], env);
      expect(second.stdout).toBe(`schema up to date (version ${first.json.version})\n`);
      expect((await cli(['sessions', 'list', '--user', 'u', '--json'], env)).code).toBe(0);
    } finally {
      await db.drop();
    }
  });
});

const built = await builtCliAvailable();

describe.skipIf(!built)('latchkey binary', () => {
  // Seven process starts: slow on a loaded machine.
  it('api-keys create --json prints {"id","key"}; exit codes come through the process', { timeout: 90_000 }, async () => {
    const dir = tempDir('latchkey-bin-');
    try {
      const env = { LATCHKEY_STORE: `sqlite:${join(dir, 'db.sqlite')}`, LATCHKEY_SECRET_FILE: join(dir, 'secret.key') };
      // A fresh folder: the contract's first step (../shared/service-api.md) creates the store, with
      // the contract's exact JSON on stdout and the store named on stderr.
      expect(existsSync(join(dir, 'db.sqlite'))).toBe(false);
      const created = await bin(['api-keys', 'create', '--name', 'ci', '--json'], env);
      expect(created.stderr).toContain(join(dir, 'db.sqlite'));
      expect(created.code, created.stderr).toBe(0);
      expect(Object.keys(created.json).sort()).toEqual(['id', 'key']);
      expect((await bin(['api-keys', 'revoke', 'ak_missing'], env)).code).toBe(1);
      expect((await bin(['sessions', 'list'], env)).code).toBe(2);
      expect((await bin(['keys', 'list'], { ...env, LATCHKEY_STORE: 'postgres://postgres@127.0.0.1:1/none' })).code).toBe(69);
      expect((await bin(['--version'], env)).stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('serve: JSON log lines without secrets, the default key file at mode 0600, clean exit on SIGTERM', async () => {
    const dir = tempDir('latchkey-serve-');
    const apiKey = 'lksk_serve-test-key-0123456789abcdefghijklmnopqrstuv';
    try {
      const env = { LATCHKEY_STORE: `sqlite:${join(dir, 'db.sqlite')}`, LATCHKEY_SECRET_FILE: join(dir, 'keys', 'secret.key'), LATCHKEY_API_KEYS: apiKey };
      const server = await serve(env);
      const auth = { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' };
      const created = await fetch(`${server.url}/v1/sessions`, { method: 'POST', headers: auth, body: JSON.stringify({ userId: 'logged' }) });
      expect(created.status).toBe(201);
      const tokens = (await created.json()) as { accessToken: string; refreshToken: string; idToken: string };
      await fetch(`${server.url}/v1/sessions/refresh`, { method: 'POST', headers: auth, body: JSON.stringify({ refreshToken: tokens.refreshToken }) });
      const health = await fetch(`${server.url}/healthz`, { headers: { 'x-request-id': 'probe-1' } });
      expect([health.status, health.headers.get('x-request-id')]).toEqual([200, 'probe-1']);
      const { statSync, readFileSync } = await import('node:fs');
      expect(statSync(join(dir, 'keys', 'secret.key')).mode & 0o777).toBe(0o600);
      const secret = readFileSync(join(dir, 'keys', 'secret.key'), 'utf8').trim();

      server.child.kill('SIGTERM');
      expect(await server.exited).toBe(0);
      const lines = server.lines();
      const entries = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
      const requests = entries.filter((e) => e.msg === 'request');
      expect(requests).toContainEqual(expect.objectContaining({ method: 'POST', route: '/v1/sessions', status: 201, durationMs: expect.any(Number), requestId: expect.any(String) }));
      expect(requests).toContainEqual(expect.objectContaining({ route: '/healthz', requestId: 'probe-1' }));
      expect(requests).toContainEqual(expect.objectContaining({ method: 'POST', route: '/v1/sessions/refresh', status: 200 }));
      expect(entries.map((e) => e.msg)).toContain('stopped');
      const everything = lines.join('\n') + server.stderr();
      for (const secretValue of [apiKey, tokens.accessToken, tokens.refreshToken, tokens.idToken, secret]) expect(everything).not.toContain(secretValue);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('serve refuses to start on bad configuration (exit 2), an unreachable store (69) and a busy port (1)', { timeout: 90_000 }, async () => {
    const dir = tempDir('latchkey-serve-');
    try {
      const env = { LATCHKEY_STORE: `sqlite:${join(dir, 'db.sqlite')}`, LATCHKEY_SECRET_FILE: join(dir, 'secret.key') };
      const bad = await bin(['serve', '--port', 'eighty'], env);
      expect([bad.code, bad.stderr]).toEqual([2, expect.stringContaining('--port')]);
      const noStore = await bin(['serve', '--port', '0'], { ...env, LATCHKEY_STORE: 'postgres://postgres@127.0.0.1:1/none' });
      expect([noStore.code, noStore.stderr]).toEqual([69, expect.stringContaining('store is unavailable')]);
      const first = await serve(env);
      try {
        const port = new URL(first.url).port;
        const busy = await bin(['serve', '--port', port], env);
        expect(busy.code).toBe(1);
        // What happened and what to do, in one line: not Node's raw "listen EADDRINUSE" nor a stack.
        expect(busy.stderr).toBe(`latchkey: port ${port} on 127.0.0.1 is already in use (EADDRINUSE): stop the program using it, or choose another port with --port or PORT\n`);
        const busyJson = await bin(['serve', '--port', port, '--json'], env);
        expect(JSON.parse(busyJson.stderr)).toEqual({ error: { code: 'PORT_IN_USE', message: expect.stringContaining(`port ${port} on 127.0.0.1 is already in use`) } });
      } finally {
        first.child.kill('SIGTERM');
        await first.exited;
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
