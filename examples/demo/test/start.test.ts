/**
 * `npm start` as a newcomer runs it (`node src/main.mjs`, which imports the built packages): it
 * listens on PORT, and a port already in use gets a short explanation and exit 1 rather than Node's
 * uncaught EADDRINUSE stack trace. With DEMO_TLS_CERT and DEMO_TLS_KEY it serves HTTPS with DBSC on.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serviceAvailable } from '../../../packages/latchkey/test/helpers/services.js';
import { makeTestCa } from '../../../packages/latchkey/test/helpers/test-ca.js';
import { startDemo } from '../src/app.mjs';

const MAIN = fileURLToPath(new URL('../src/main.mjs', import.meta.url));
const BUILT = fileURLToPath(new URL('../../../packages/latchkey/dist/index.js', import.meta.url));

const built = await serviceAvailable('built latchkey package (run npm run build)', async () => {
  if (!existsSync(BUILT)) throw new Error(`${BUILT} is missing`);
});

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the demo's entry point in `cwd` until it exits, or until `until` matches its stdout (then stops it). */
function runDemo(env: Record<string, string>, cwd: string, until?: RegExp): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN], { cwd, env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.stdout.on('data', (d: Buffer) => {
      stdout += d;
      if (until?.test(stdout)) child.kill('SIGTERM');
    });
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe.skipIf(!built)('npm start (the demo entry point)', () => {
  let busy: Server;
  let busyPort: number;
  let cwd: string;
  beforeAll(async () => {
    cwd = mkdtempSync(join(tmpdir(), 'latchkey-demo-start-'));
    busy = createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    busyPort = (busy.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => busy?.close(() => resolve()));
    rmSync(cwd, { recursive: true, force: true });
  });

  it('a port in use: one clear message naming the port and the fix, exit 1, no stack trace', async () => {
    const run = await runDemo({ PORT: String(busyPort) }, cwd);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`port ${busyPort} is already in use (EADDRINUSE)`);
    expect(run.stderr).toContain('PORT=3000 npm start');
    expect(run.stderr).not.toMatch(/\n\s+at |Unhandled 'error' event/);
    expect(run.stdout).toBe('');
  });

  it('a PORT that is not a port number is refused before starting', async () => {
    const run = await runDemo({ PORT: 'eighty' }, cwd);
    expect([run.code, run.stderr]).toEqual([2, 'PORT must be a whole number from 0 to 65535 (0 picks a free port)\n']);
  });

  it('listens on PORT', { timeout: 60_000 }, async () => {
    const free = createServer();
    await new Promise<void>((resolve) => free.listen(0, '127.0.0.1', resolve));
    const port = (free.address() as AddressInfo).port;
    await new Promise<void>((resolve) => free.close(() => resolve()));
    const run = await runDemo({ PORT: String(port), DEMO_ACCESS_TTL: '30' }, cwd, /latchkey demo: http:\/\/localhost:\d+/);
    expect(run.stdout).toContain(`latchkey demo: http://localhost:${port}`);
    expect(run.stderr).toBe('');
  });

  it('DEMO_TLS_CERT without DEMO_TLS_KEY is refused before starting', async () => {
    const run = await runDemo({ DEMO_TLS_CERT: '/nonexistent.pem' }, cwd);
    expect([run.code, run.stderr]).toEqual([2, 'DEMO_TLS_CERT and DEMO_TLS_KEY go together (PEM files): both for HTTPS with DBSC, neither for plain HTTP\n']);
  });

  it('with DEMO_TLS_CERT and DEMO_TLS_KEY: HTTPS, DBSC on, access tokens 300 s by default', { timeout: 60_000 }, async () => {
    const ca = makeTestCa();
    const run = await runDemo({ PORT: '0', DEMO_TLS_CERT: ca.certFile, DEMO_TLS_KEY: ca.keyFile }, cwd, /access tokens live/);
    expect(run.stdout).toMatch(/latchkey demo: https:\/\/localhost:\d+/);
    expect(run.stdout).toContain("DBSC for this page's cookies ON (HTTPS)");
    expect(run.stdout).toContain('access tokens live 300 s');
    expect(run.stderr).toBe('');
  });

  it('DBSC without TLS is a programming error: browsers register keys over HTTPS only', async () => {
    await expect(startDemo({ port: 0, dataDir: cwd, dbsc: true })).rejects.toThrow(/dbsc needs tls/);
  });
});
