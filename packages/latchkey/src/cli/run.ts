/**
 * The `latchkey` command line: finds the command, parses its arguments with `node:util` parseArgs
 * (strict: an unknown flag is a usage error, not silently ignored), runs it, and turns what happened
 * into an exit code: 0 ok, 1 operation failed, 2 usage or configuration error, 69 store unavailable.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { LatchkeyError, StoreUnavailableError } from '../errors.js';
import { errorRow, type ErrorKind } from '../http/errors.js';
import { ConfigError } from '../service/config.js';
import type { Command, OptionsConfig } from './command.js';
import {
  apiKeysCreateCommand,
  apiKeysListCommand,
  apiKeysRevokeCommand,
  serviceKeysCreateCommand,
  serviceKeysListCommand,
  serviceKeysRevokeCommand,
} from './commands/api-keys.js';
import { adminLoginCommand } from './commands/admin.js';
import { auditCommand } from './commands/audit.js';
import { userKeysListCommand, userKeysRevokeCommand } from './commands/user-keys.js';
import { cleanupCommand } from './commands/cleanup.js';
import { keysListCommand, keysRotateCommand } from './commands/keys.js';
import { migrateCommand } from './commands/migrate.js';
import { openapiCommand } from './commands/openapi.js';
import { serveCommand } from './commands/serve.js';
import { sessionsListCommand, sessionsRevokeCommand, sessionsRevokeUserCommand } from './commands/sessions.js';
import { EXIT, UsageError, type CliIo, type ExitCode } from './io.js';

export const COMMANDS: readonly Command[] = [
  serveCommand,
  migrateCommand,
  keysListCommand,
  keysRotateCommand,
  sessionsListCommand,
  sessionsRevokeCommand,
  sessionsRevokeUserCommand,
  serviceKeysCreateCommand,
  serviceKeysListCommand,
  serviceKeysRevokeCommand,
  userKeysListCommand,
  userKeysRevokeCommand,
  apiKeysCreateCommand,
  apiKeysListCommand,
  apiKeysRevokeCommand,
  auditCommand,
  adminLoginCommand,
  cleanupCommand,
  openapiCommand,
];

const GROUPS = new Set(COMMANDS.filter((c) => c.name.includes(' ')).map((c) => c.name.split(' ')[0]!));

const COMMON_OPTIONS: OptionsConfig = {
  help: { type: 'boolean', short: 'h' },
  json: { type: 'boolean' },
};

/** Driver and network failures that mean "could not reach the store", whoever raised them. */
const UNAVAILABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'ETIMEDOUT', 'EHOSTUNREACH', 'EAI_AGAIN', 'SQLITE_CANTOPEN', 'SQLITE_BUSY', '57P03']);

function version(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

function mainHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    'latchkey: session service and administration',
    '',
    'Usage: latchkey <command> [options]',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Every command takes --help and --json, and reads the same environment as `serve`',
    '(LATCHKEY_STORE, LATCHKEY_SECRET, ...; see `latchkey serve --help`).',
    'Exit codes: 0 ok, 1 operation failed, 2 usage or configuration error, 69 store unavailable.',
    '',
  ].join('\n');
}

function commandHelp(command: Command): string {
  const lines = [`${command.summary}.`, '', `Usage: latchkey ${command.usage}`];
  if (command.details) lines.push('', command.details);
  lines.push('', 'Options: --json (machine-readable output), -h/--help', '');
  return lines.join('\n');
}

function groupHelp(group: string): string {
  const members = COMMANDS.filter((c) => c.name.startsWith(`${group} `));
  return [`Usage: latchkey ${group} <${members.map((c) => c.name.split(' ')[1]).join('|')}> [options]`, '', ...members.map((c) => `  latchkey ${c.usage}\n      ${c.summary}`), ''].join('\n');
}

/**
 * The exit code of each kind of error in the one error table (http/errors.ts), which also gives the
 * adapters and the service their HTTP status: the CLI maps a latchkey error through it like they do,
 * so that a code cannot mean "retry later" to one and "fix the setup" to another.
 */
const EXIT_BY_KIND: Readonly<Record<ErrorKind, ExitCode>> = {
  refused: EXIT.failed,
  internal: EXIT.failed,
  configuration: EXIT.usage,
  unavailable: EXIT.unavailable,
};

/** The exit code for an error, and what to say about it (never a token, key or secret). */
export function classifyError(err: unknown): { exit: ExitCode; code: string; message: string } {
  // The CLI's own: its arguments and the configuration it read. Not latchkey errors, not in the table.
  if (err instanceof UsageError) return { exit: EXIT.usage, code: 'USAGE', message: err.message };
  if (err instanceof ConfigError) return { exit: EXIT.usage, code: 'CONFIG', message: err.message };
  const nodeCode = (err as { code?: unknown } | null)?.code;
  if (typeof nodeCode === 'string' && nodeCode.startsWith('ERR_PARSE_ARGS')) {
    return { exit: EXIT.usage, code: 'USAGE', message: (err as Error).message };
  }
  // A driver's own error that escaped a store (ECONNREFUSED, 57P03, ...) is the store being unavailable.
  const row = err instanceof LatchkeyError ? errorRow(err.code) : typeof nodeCode === 'string' && UNAVAILABLE_CODES.has(nodeCode) ? errorRow('STORE_UNAVAILABLE') : undefined;
  if (row?.kind === 'unavailable') return { exit: EXIT_BY_KIND.unavailable, code: 'STORE_UNAVAILABLE', message: unavailableMessage(err) };
  if (err instanceof LatchkeyError && row !== undefined) return { exit: EXIT_BY_KIND[row.kind], code: err.code, message: err.message };
  const listen = listenFailure(err);
  if (listen) return { exit: EXIT.failed, ...listen };
  // A latchkey error outside the table (none today) is still a failure with its own code.
  if (err instanceof LatchkeyError) return { exit: EXIT.failed, code: err.code, message: err.message };
  if (err instanceof TypeError) return { exit: EXIT.failed, code: 'INVALID_ARGUMENT', message: err.message };
  return { exit: EXIT.failed, code: 'FAILED', message: err instanceof Error ? err.message : String(err) };
}

/** What to say when the store did not answer: what to check, and the driver's code, never its message. */
function unavailableMessage(err: unknown): string {
  if (err instanceof StoreUnavailableError && err.message.startsWith('TLS refused:')) {
    // Our own sentence (util/tls-failure.ts): names what to fix and quotes no URL.
    return `${err.message}; check LATCHKEY_STORE`;
  }
  // The driver's error code (ECONNREFUSED, 57P03, ...) helps; its message might quote a URL, so not that.
  let cause: unknown = err;
  let detail: string | undefined;
  for (let i = 0; i < 5 && cause && typeof cause === 'object'; i++, cause = (cause as { cause?: unknown }).cause) {
    const code = (cause as { code?: unknown }).code;
    if (typeof code === 'string' && code !== 'STORE_UNAVAILABLE') detail = code;
  }
  return `the store is unavailable${detail ? ` (${detail})` : ''}; check LATCHKEY_STORE and that it is running`;
}

/**
 * `serve` could not listen: say which port and what to do, rather than Node's raw "listen
 * EADDRINUSE: address already in use" (the code stays in the message, for searching).
 */
function listenFailure(err: unknown): { code: string; message: string } | undefined {
  const { syscall, code, port, address } = (err ?? {}) as { syscall?: unknown; code?: unknown; port?: unknown; address?: unknown };
  if (syscall !== 'listen' || typeof code !== 'string') return undefined;
  const where = `port ${String(port)}${typeof address === 'string' ? ` on ${address}` : ''}`;
  if (code === 'EADDRINUSE') {
    return { code: 'PORT_IN_USE', message: `${where} is already in use (EADDRINUSE): stop the program using it, or choose another port with --port or PORT` };
  }
  if (code === 'EACCES') {
    return { code: 'PORT_NOT_PERMITTED', message: `${where} needs privileges this process lacks (EACCES): choose a port above 1023 with --port or PORT` };
  }
  if (code === 'EADDRNOTAVAIL') {
    return { code: 'ADDRESS_NOT_AVAILABLE', message: `${where}: this machine has no such address (EADDRNOTAVAIL); check --host or HOST` };
  }
  return undefined;
}

/** Runs the CLI on `argv` (without `node` and the script). Never throws; returns the exit code. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<ExitCode> {
  const wantsJson = argv.includes('--json');
  try {
    const [first, second] = argv;
    if (first === undefined || first === 'help' || first === '--help' || first === '-h') {
      io.stdout(mainHelp());
      return first === undefined ? EXIT.usage : EXIT.ok;
    }
    if (first === '--version' || first === '-v') {
      io.stdout(`${version()}\n`);
      return EXIT.ok;
    }
    let name = first;
    let rest = argv.slice(1);
    if (GROUPS.has(first)) {
      if (second === undefined || second.startsWith('-')) {
        io.stdout(groupHelp(first));
        return second === '--help' || second === '-h' ? EXIT.ok : EXIT.usage;
      }
      name = `${first} ${second}`;
      rest = argv.slice(2);
    }
    const command = COMMANDS.find((c) => c.name === name);
    if (!command) throw new UsageError(`unknown command "${name}"; see latchkey --help`);
    const options = { ...COMMON_OPTIONS, ...command.options };
    const { values, positionals } = parseArgs({
      args: separatePositionals(rest, options),
      options,
      allowPositionals: true,
      strict: true,
    });
    if (values.help) {
      io.stdout(commandHelp(command));
      return EXIT.ok;
    }
    const expected = command.positionals ?? { min: 0, max: 0, names: '' };
    if (positionals.length < expected.min) throw new UsageError(`missing ${expected.names}; usage: latchkey ${command.usage}`);
    if (positionals.length > expected.max) throw new UsageError(`unexpected argument #${expected.max + 1} (never echoed: it could be a pasted token); usage: latchkey ${command.usage}`);
    return await command.run(io, { values: values as Record<string, string | boolean | undefined>, positionals });
  } catch (err) {
    const { exit, code, message } = classifyError(err);
    if (wantsJson) io.stderr(`${JSON.stringify({ error: { code, message } })}\n`);
    else io.stderr(`latchkey: ${message}\n${exit === EXIT.usage && code === 'USAGE' ? 'Run `latchkey --help` for usage.\n' : ''}`);
    if (exit === EXIT.failed && code === 'FAILED' && err instanceof Error && io.env.LATCHKEY_DEBUG === '1') io.stderr(`${err.stack}\n`);
    return exit;
  }
}

/**
 * Session ids and user ids are base64url and may begin with `-`, which parseArgs would take for an
 * unknown option (1 id in 64). Anything that is not one of the command's own options goes after a
 * `--`, so it is a positional whatever it starts with; a string option's value is attached with `=`
 * for the same reason.
 */
function separatePositionals(args: readonly string[], options: OptionsConfig): string[] {
  const flags = new Map<string, string>();
  for (const [name, option] of Object.entries(options)) {
    flags.set(`--${name}`, name);
    if (option.short) flags.set(`-${option.short}`, name);
  }
  const known: string[] = [];
  const positional: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--') {
      positional.push(...args.slice(i + 1));
      break;
    }
    const name = flags.get(arg.split('=')[0]!);
    if (name === undefined) {
      // Not one of ours: an unknown `--flag` stays an option, so strict parsing still refuses it.
      (arg.startsWith('--') || (arg.startsWith('-') && arg.length === 2) ? known : positional).push(arg);
    } else if (options[name]!.type === 'string' && !arg.includes('=') && i + 1 < args.length) {
      known.push(`--${name}=${args[++i]!}`);
    } else {
      known.push(arg);
    }
  }
  return positional.length > 0 ? [...known, '--', ...positional] : known;
}
