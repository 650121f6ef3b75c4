/**
 * Starts the bundled edge app (worker.ts) in Bun, Deno or workerd: each runtime's binary from the
 * npm registry (the `runtimes` workspace), serving on 127.0.0.1. Returns its URL and a stop function.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export type RuntimeName = 'bun' | 'deno' | 'workerd';

const BIN = fileURLToPath(new URL('../../../../../node_modules/.bin/', import.meta.url));

export function runtimeBinary(name: RuntimeName): string {
  return join(BIN, name);
}

export function hasRuntime(name: RuntimeName): boolean {
  return existsSync(runtimeBinary(name));
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export interface RunningApp {
  url: string;
  stop(): Promise<void>;
}

function workerdConfig(port: number): string {
  return `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [
    (name = "main", worker = .app),
    # The issuer runs on this machine's loopback: workerd's default outbound reaches public addresses only.
    (name = "loopback", network = (allow = ["local"])),
  ],
  sockets = [ (name = "http", address = "127.0.0.1:${port}", http = (), service = "main") ],
);
const app :Workerd.Worker = (
  modules = [ (name = "worker.mjs", esModule = embed "worker.mjs") ],
  compatibilityDate = "2025-09-01",
  globalOutbound = "loopback",
);
`;
}

export async function startApp(name: RuntimeName, bundle: string): Promise<RunningApp> {
  const dir = mkdtempSync(join(tmpdir(), `latchkey-edge-${name}-`));
  writeFileSync(join(dir, 'worker.mjs'), bundle);
  const port = await freePort();
  let child: ChildProcess;
  if (name === 'bun') {
    writeFileSync(
      join(dir, 'server.mjs'),
      `import app from './worker.mjs';\nBun.serve({ hostname: '127.0.0.1', port: ${port}, fetch: (r) => app.fetch(r) });\n`,
    );
    child = spawn(runtimeBinary('bun'), ['run', join(dir, 'server.mjs')], {
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, BUN_INSTALL_CACHE_DIR: join(dir, 'cache') },
    });
  } else if (name === 'deno') {
    writeFileSync(
      join(dir, 'server.mjs'),
      `import app from './worker.mjs';\nDeno.serve({ hostname: '127.0.0.1', port: ${port}, onListen() {} }, (r) => app.fetch(r));\n`,
    );
    child = spawn(
      runtimeBinary('deno'),
      ['run', '--no-prompt', '--no-config', '--no-lock', '--allow-net=127.0.0.1', join(dir, 'server.mjs')],
      {
        cwd: dir,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, DENO_DIR: join(dir, 'deno'), DENO_NO_UPDATE_CHECK: '1', NO_COLOR: '1' },
      },
    );
  } else {
    writeFileSync(join(dir, 'config.capnp'), workerdConfig(port));
    child = spawn(runtimeBinary('workerd'), ['serve', join(dir, 'config.capnp')], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  }
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
      if (child.exitCode === null) child.kill('SIGKILL');
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) break;
    try {
      await fetch(url, { signal: AbortSignal.timeout(2000) });
      return { url, stop };
    } catch {
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  await stop();
  throw new Error(`${name} did not start serving: ${output.slice(-2000)}`);
}
