/**
 * Property-based fuzzing of the `latchkey` command line. Whatever the argv, in process and through
 * the real binary: the exit code is one of the documented four (0 ok, 1 failed, 2 usage or
 * configuration, 69 store unavailable), nothing is thrown, no stack trace is printed, a `--json`
 * run's stderr is JSON lines only (a failure's error line last), and the master secret and API keys are never printed.
 * The example-based tests of each command are in test/cli/cli.test.ts.
 */
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COMMANDS } from '../../src/cli/run.js';
import { bin, builtCliAvailable, cli, type CliResult } from '../cli/helpers.js';
import { tempDir } from '../service/helpers.js';
import { report, scale } from './support/soak.js';

/** Generous: a property's run count is fixed, its duration depends on the machine. */
const PROPERTY_TIMEOUT_MS = scale(60_000, 600_000);

const EXIT_CODES = new Set([0, 1, 2, 69]);
const SECRET = `cli-fuzz-secret-${randomBytes(24).toString('base64url')}`;
const ENV_API_KEY = `lksk_${randomBytes(32).toString('base64url')}`;
/** A stack frame as Node prints one. */
const STACK_FRAME = /^\s+at .+(:\d+:\d+\)?|\(native\)|\(<anonymous>\))$/m;

const words = COMMANDS.flatMap((c) => c.name.split(' '));
const flags = ['--json', '--help', '-h', '--name', '--user', '--port', '-p', '--host', '--force', '--version', '-v', '--', '-', '--name=', '--user=x', '--json=1', '--port=0', '--port=99999', '-pz'];
const arg = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...words) },
  { weight: 4, arbitrary: fc.constantFrom(...flags) },
  { weight: 3, arbitrary: fc.string({ maxLength: 12 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 8 }) },
  { weight: 1, arbitrary: fc.constantFrom('ak_missing', 'nobody', '\u0000', 'a'.repeat(300), 'x\ny', '$(id)', '../../etc/passwd') },
);
// Starts with a command word most of the time, so the arguments reach each command's own parsing.
const argv = fc.tuple(fc.option(fc.constantFrom(...COMMANDS.map((c) => c.name)), { nil: undefined, freq: 4 }), fc.array(arg, { maxLength: 5 }))
  .map(([command, rest]) => [...(command ? command.split(' ') : []), ...rest]);

function expectWellBehaved(args: string[], result: CliResult, env: Record<string, string>): void {
  const where = `latchkey ${JSON.stringify(args)} -> ${result.code}\n${result.stderr.slice(0, 400)}`;
  expect(EXIT_CODES.has(result.code), where).toBe(true);
  expect(STACK_FRAME.test(result.stderr), where).toBe(false);
  expect(STACK_FRAME.test(result.stdout), where).toBe(false);
  for (const secret of [SECRET, ENV_API_KEY]) {
    expect(result.stdout.includes(secret) || result.stderr.includes(secret), where).toBe(false);
  }
  if (args.includes('--json') && !args.slice(0, args.indexOf('--json')).includes('--') && result.stderr !== '') {
    // Every stderr line is JSON, an error, a warning or an info line (never prose), and a failure's
    // error line comes last.
    const lines = result.stderr.trim().split('\n').map((line) => {
      type Entry = { code?: unknown; message?: unknown };
      let parsed: { error?: Entry; warning?: Entry; info?: Entry } | undefined;
      expect(() => (parsed = JSON.parse(line) as typeof parsed), `${where}\nnot JSON: ${line}`).not.toThrow();
      const entry = parsed?.error ?? parsed?.warning ?? parsed?.info;
      expect(typeof entry?.code, where).toBe('string');
      expect(typeof entry?.message, where).toBe('string');
      return parsed!;
    });
    if (result.code !== 0 && lines.some((l) => l.error)) expect(lines.at(-1)!.error, where).toBeDefined();
  }
  void env;
}

/** `serve` gets a configuration that fails before it could listen, so no fuzz case starts a server. */
function envFor(args: string[], base: Record<string, string>): Record<string, string> {
  return args[0] === 'serve' ? { ...base, LATCHKEY_ACCESS_TTL: 'not-a-number' } : base;
}

describe('CLI argument fuzz', () => {
  let dir: string;
  let env: Record<string, string>;
  beforeAll(async () => {
    dir = tempDir('latchkey-cli-fuzz-');
    env = { LATCHKEY_STORE: `sqlite:${join(dir, 'cli.db')}`, LATCHKEY_SECRET: SECRET, LATCHKEY_API_KEYS: ENV_API_KEY };
    expect((await cli(['migrate', '--json'], env)).code).toBe(0);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('in process: random argv exits with a documented code, no throw, no stack trace, no secret', { timeout: PROPERTY_TIMEOUT_MS }, async () => {
    const codes = new Map<number, number>();
    const runs = scale(300, 3000);
    await fc.assert(
      fc.asyncProperty(argv, async (args) => {
        const e = envFor(args, env);
        const result = await cli(args, e);
        codes.set(result.code, (codes.get(result.code) ?? 0) + 1);
        expectWellBehaved(args, result, e);
      }),
      // One argv per exit code checked below, run first through the same property: random argv alone
      // produced exit 1 in only 2-13 of 300 runs, so the check below failed on an unlucky seed.
      { numRuns: runs, examples: [[['api-keys', 'revoke', 'ak_missing']], [['--help']], [['no-such-command']]] },
    );
    report('cli fuzz (in process)', { runs, ...Object.fromEntries([...codes].map(([c, n]) => [`exit${c}`, n])) });
    for (const code of [0, 1, 2]) expect(codes.get(code) ?? 0, `exit ${code} never produced`).toBeGreaterThan(0);
  });

  it('in process: a broken environment exits 2 (or 69 for an unreachable store) whatever the command', { timeout: PROPERTY_TIMEOUT_MS }, async () => {
    const badEnv = fc.constantFrom<Record<string, string>>(
      { LATCHKEY_STORE: 'mysql://x' }, { LATCHKEY_STORE: 'sqlite:' }, { LATCHKEY_SECRET: 'short' }, { LATCHKEY_ACCESS_TTL: '-1' },
      { LATCHKEY_SIGNING_ALG: 'none' }, { LATCHKEY_REDIS_URL: 'http://x' }, { LATCHKEY_API_KEYS: 'a b' }, { LATCHKEY_STORE: 'postgres://postgres@127.0.0.1:1/none' },
    );
    const command = fc.constantFrom(...COMMANDS.filter((c) => c.name !== 'openapi' && c.name !== 'serve').map((c) => c.name));
    await fc.assert(
      fc.asyncProperty(command, badEnv, async (name, bad) => {
        const args = [...name.split(' '), ...(name.endsWith('revoke') || name.endsWith('revoke-user') ? ['x'] : []), ...(name === 'sessions list' ? ['--user', 'u'] : []), ...(name === 'api-keys create' ? ['--name', 'n'] : []), '--json'];
        const e = { ...env, ...bad };
        const result = await cli(args, e);
        expectWellBehaved(args, result, e);
        expect([2, 69], `${args.join(' ')} with ${JSON.stringify(bad)}`).toContain(result.code);
      }),
      { numRuns: scale(40, 300) },
    );
  });
});

const built = await builtCliAvailable();

describe.skipIf(!built)('CLI argument fuzz (real binary)', () => {
  let dir: string;
  let env: Record<string, string>;
  beforeAll(() => {
    dir = tempDir('latchkey-cli-fuzz-bin-');
    env = { LATCHKEY_STORE: `sqlite:${join(dir, 'cli.db')}`, LATCHKEY_SECRET: SECRET, LATCHKEY_API_KEYS: ENV_API_KEY };
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('random argv through the process: a documented exit code, never an uncaught exception', { timeout: scale(60_000, 600_000) }, async () => {
    const runs = scale(6, 80);
    await fc.assert(
      fc.asyncProperty(argv.filter((a) => a.every((x) => !x.includes('\u0000'))), async (args) => {
        const e = envFor(args, env);
        const result = await bin(args, e);
        expectWellBehaved(args, result, e);
        expect(result.stderr, 'an uncaught exception or rejection').not.toMatch(/Uncaught|UnhandledPromiseRejection|node:internal/);
      }),
      { numRuns: runs },
    );
    report('cli fuzz (binary)', { runs });
  });
});
