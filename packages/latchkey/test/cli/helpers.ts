/**
 * Running the CLI two ways: in-process through `runCli` (fast, most cases) and as the real binary
 * `node packages/latchkey/bin/latchkey.js` (exit codes, signals, the build), which needs the package
 * built (`npx tsc -b packages/latchkey`; CI's npm test builds first).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { runCli } from '../../src/cli/run.js';
import { serviceAvailable } from '../helpers/services.js';

export const BIN = fileURLToPath(new URL('../../bin/latchkey.js', import.meta.url));
const BUILT = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

export function builtCliAvailable(): Promise<boolean> {
  return serviceAvailable('built latchkey CLI (run npx tsc -b packages/latchkey)', async () => {
    if (!existsSync(BUILT)) throw new Error(`${BUILT} is missing`);
  });
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  json: any;
}

function parse(stdout: string): unknown {
  try {
    return JSON.parse(stdout);
  } catch {
    return undefined;
  }
}

/** Runs the CLI in-process with the given environment. */
export async function cli(args: string[], env: Record<string, string>, options: { tty?: boolean } = {}): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(args, {
    stdout: (t) => void (stdout += t),
    stderr: (t) => void (stderr += t),
    stderrIsTty: options.tty ?? false,
    env,
  });
  return { code, stdout, stderr, json: parse(stdout) };
}

/** Runs the real binary to completion. */
export function bin(args: string[], env: Record<string, string>, cwd?: string): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { PATH: process.env.PATH ?? '', ...env }, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr, json: parse(stdout) });
    });
  });
}

export interface ServeProcess {
  child: ChildProcess;
  url: string;
  /** Every stdout line so far. */
  lines(): string[];
  stderr(): string;
  /** Resolves with the exit code. */
  exited: Promise<number | null>;
}

/** Spawns `latchkey serve --port 0` and waits for its "listening" log line. */
export function serve(env: Record<string, string>, args: string[] = ['--port', '0']): Promise<ServeProcess> {
  const child = spawn(process.execPath, [BIN, 'serve', ...args], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  let stderr = '';
  let partial = '';
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`serve did not start: ${stderr}`));
    }, 20_000);
    child.stderr!.on('data', (d: Buffer) => (stderr += d));
    child.stdout!.on('data', (d: Buffer) => {
      partial += d;
      const parts = partial.split('\n');
      partial = parts.pop() ?? '';
      for (const line of parts) {
        lines.push(line);
        const entry = JSON.parse(line) as { msg?: string; url?: string };
        if (entry.msg === 'listening' && entry.url) {
          clearTimeout(timer);
          resolve({ child, url: entry.url, lines: () => [...lines], stderr: () => stderr, exited });
        }
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`serve exited ${code} before listening: ${stderr}`));
    });
  });
}
