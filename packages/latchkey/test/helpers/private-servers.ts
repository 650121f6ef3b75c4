/**
 * Throwaway PostgreSQL and Redis servers owned by one test file, for fault tests that stop, restart
 * or freeze the server. The machine's shared servers are never touched: other suites use them at
 * the same time.
 *
 * PostgreSQL: a fresh cluster from `initdb` in a temp dir, run as the `postgres` OS user (initdb
 * refuses root), on a random free port, with its unix socket inside the temp dir. Redis: a
 * `redis-server` child process without persistence. Both are killed when the test process exits,
 * even if it fails.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { join } from 'node:path';

/** A port nobody listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// ---------------------------------------------------------------------------------------------
// PostgreSQL

function postgresBinDir(): string {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).filter((v) => existsSync(join(root, v, 'bin', 'initdb'))) : [];
  const newest = versions.sort((a, b) => Number(b) - Number(a))[0];
  if (!newest) throw new Error(`no PostgreSQL server binaries under ${root}`);
  return join(root, newest, 'bin');
}

export interface PrivatePostgres {
  port: number;
  /** Connection string for the `postgres` database, over TCP. */
  url: string;
  /** The server's private directory (its unix socket, log and any files given at start). */
  dir: string;
  start(): Promise<void>;
  /** A replica becomes a primary (`pg_ctl promote`), and accepts writes from then on. */
  promote(): Promise<void>;
  /** `fast` ends sessions and checkpoints; `immediate` is a crash (recovery replays the WAL on start). */
  stop(mode?: 'fast' | 'immediate'): Promise<void>;
  /** Freezes every server process (SIGSTOP): connections stay open but nothing answers, like a hung host. */
  freeze(): void;
  thaw(): void;
  /** Stops the server and deletes its files. */
  destroy(): Promise<void>;
}

export interface PrivatePostgresOptions {
  /** Extra server settings, `-c name=value` each (`['ssl=on', ...]`). */
  settings?: string[];
  /** `listen_addresses`. Default `127.0.0.1`. */
  listen?: string;
  /**
   * Make this server a streaming replica of `primary` (pg_basebackup -R) instead of a fresh cluster.
   * It follows the primary until `promote()`.
   */
  replicaOf?: PrivatePostgres;
  /** Files copied into the server's directory before it starts (TLS certificate and key), owned by postgres, mode 0600. */
  files?: Record<string, string>;
}

export async function startPrivatePostgres(options: PrivatePostgresOptions = {}): Promise<PrivatePostgres> {
  const bin = postgresBinDir();
  const dir = mkdtempSync('/tmp/latchkey-pg-');
  const data = join(dir, 'data');
  const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
  chownSync(dir, uid, gid);
  chmodSync(dir, 0o700);
  const asPostgres = (cmd: string, args: string[]) => {
    const result = spawnSync('runuser', ['-u', 'postgres', '--', join(bin, cmd), ...args], { encoding: 'utf8', timeout: 60_000 });
    if (result.status !== 0) throw new Error(`${cmd} failed: ${result.stderr || result.stdout || result.error?.message}`);
  };
  if (options.replicaOf) {
    // -R writes standby.signal and primary_conninfo: the copy starts as a streaming replica.
    asPostgres('pg_basebackup', ['-h', '127.0.0.1', '-p', String(options.replicaOf.port), '-U', 'postgres', '-D', data, '-R', '-X', 'stream', '--no-sync']);
  } else {
    // --no-sync: a throwaway cluster need not be flushed to disk at creation.
    asPostgres('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--no-sync']);
  }
  for (const [name, content] of Object.entries(options.files ?? {})) {
    writeFileSync(join(dir, name), content, { mode: 0o600 });
    chownSync(join(dir, name), uid, gid);
  }
  const settings = (options.settings ?? []).map((s) => `-c "${s}"`).join(' ');
  const port = await freePort();
  let running = false;

  const start = async () => {
    asPostgres('pg_ctl', ['-D', data, '-l', join(dir, 'server.log'), '-w', '-t', '30', '-o',
      `-p ${port} -k ${dir} -c listen_addresses=${options.listen ?? '127.0.0.1'} -c max_connections=50 -c shared_buffers=16MB ${settings}`, 'start']);
    running = true;
  };
  const stop = async (mode: 'fast' | 'immediate' = 'fast') => {
    if (!running) return;
    asPostgres('pg_ctl', ['-D', data, '-w', '-t', '30', '-m', mode, 'stop']);
    running = false;
  };
  const serverPids = (): number[] => {
    const pidFile = join(data, 'postmaster.pid');
    if (!existsSync(pidFile)) return [];
    const postmaster = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
    const children = readdirSync('/proc').filter((p) => /^\d+$/.test(p)).map(Number).filter((pid) => {
      try {
        return /^PPid:\s+(\d+)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] === String(postmaster);
      } catch {
        return false;
      }
    });
    return [postmaster, ...children];
  };
  const signalAll = (signal: NodeJS.Signals) => {
    for (const pid of serverPids()) {
      try {
        process.kill(pid, signal);
      } catch {
        // Gone already.
      }
    }
  };
  // Last resort if the test process dies without cleaning up: never leave a cluster behind.
  const onExit = () => {
    signalAll('SIGCONT');
    if (running) spawnSync('runuser', ['-u', 'postgres', '--', join(bin, 'pg_ctl'), '-D', data, '-m', 'immediate', 'stop']);
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', onExit);

  await start();
  return {
    port,
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    dir,
    start,
    stop,
    promote: async () => asPostgres('pg_ctl', ['-D', data, '-w', '-t', '30', 'promote']),
    freeze: () => signalAll('SIGSTOP'),
    thaw: () => signalAll('SIGCONT'),
    destroy: async () => {
      signalAll('SIGCONT');
      await stop('immediate');
      rmSync(dir, { recursive: true, force: true });
      process.off('exit', onExit);
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Redis

export interface PrivateRedis {
  port: number;
  url: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** SIGKILL: the server dies at once, as on a crashed host. */
  kill(): Promise<void>;
  /** Freezes the server (SIGSTOP): connections stay open, nothing answers. */
  freeze(): void;
  thaw(): void;
  destroy(): Promise<void>;
}

/** Resolves when something on `port` answers PING with PONG (over TLS, without checking the certificate, when `tls`). */
async function redisAnswers(port: number, tls = false): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = tls ? tlsConnect({ port, host: '127.0.0.1', rejectUnauthorized: false }) : new Socket();
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once('error', () => done(false));
    socket.once('data', (chunk) => done(chunk.toString().startsWith('+PONG')));
    if (tls) socket.once('secureConnect', () => socket.write('PING\r\n'));
    else (socket as Socket).connect(port, '127.0.0.1', () => socket.write('PING\r\n'));
  });
}

export interface PrivateRedisOptions {
  /** Extra redis-server arguments (`['--replicaof', '127.0.0.1', '6379']`). */
  args?: string[];
  /** Serve TLS only (no plain port), with these PEM files. */
  tls?: { cert: string; key: string; ca: string };
  /** Run as a Sentinel with this configuration text (written to a file Sentinel may rewrite). */
  sentinelConfig?: (port: number) => string;
}

export async function startPrivateRedis(options: PrivateRedisOptions = {}): Promise<PrivateRedis> {
  const port = await freePort();
  let child: ChildProcess | undefined;
  // A working directory of its own: a replica writes the primary's snapshot there during its first
  // sync (even with --save ''), and Sentinel rewrites its configuration file.
  const dir = mkdtempSync('/tmp/latchkey-redis-');
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, ...(options.args ?? [])];
  if (options.tls) {
    args.splice(0, 2, '--port', '0', '--tls-port', String(port), '--tls-cert-file', options.tls.cert, '--tls-key-file', options.tls.key,
      '--tls-ca-cert-file', options.tls.ca, '--tls-auth-clients', 'no');
  }
  if (options.sentinelConfig) {
    // Sentinel rewrites its configuration file as it learns the topology: a file of its own.
    writeFileSync(join(dir, 'sentinel.conf'), options.sentinelConfig(port));
    args.splice(0, args.length, join(dir, 'sentinel.conf'), '--sentinel');
  }

  const start = async () => {
    child = spawn('redis-server', args, { stdio: 'ignore', cwd: dir });
    const spawned = child;
    for (let i = 0; i < 100; i++) {
      if (spawned.exitCode !== null) throw new Error(`redis-server exited with ${spawned.exitCode}`);
      if (await redisAnswers(port, options.tls !== undefined)) return;
      await sleep(50);
    }
    throw new Error('redis-server did not answer within 5 s');
  };
  const stop = async () => {
    const running = child;
    child = undefined;
    if (!running || running.exitCode !== null) return;
    running.kill('SIGCONT');
    const exited = new Promise((resolve) => running.once('exit', resolve));
    running.kill('SIGTERM');
    await exited;
  };
  const onExit = () => {
    child?.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', onExit);

  await start();
  return {
    port,
    url: `${options.tls ? 'rediss' : 'redis'}://127.0.0.1:${port}`,
    start,
    stop,
    kill: async () => {
      const running = child;
      child = undefined;
      if (!running || running.exitCode !== null) return;
      const exited = new Promise((resolve) => running.once('exit', resolve));
      running.kill('SIGKILL');
      await exited;
    },
    freeze: () => child?.kill('SIGSTOP'),
    thaw: () => child?.kill('SIGCONT'),
    destroy: async () => {
      await stop();
      rmSync(dir, { recursive: true, force: true });
      process.off('exit', onExit);
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Redis Sentinel: one primary, one replica, three sentinels

export interface PrivateSentinelGroup {
  primary: PrivateRedis;
  replica: PrivateRedis;
  sentinels: PrivateRedis[];
  /** The monitored primary's name. */
  name: string;
  /** `redis+sentinel://` URL naming the three sentinels and the primary. */
  url: string;
  destroy(): Promise<void>;
}

/**
 * Sentinels declare the primary down after 1 s without an answer (the default 30 s would make a
 * test wait for nothing) and need two of three to agree; a failover normally takes 2 to 4 s.
 */
export async function startPrivateSentinelGroup(name = 'latchkey'): Promise<PrivateSentinelGroup> {
  const primary = await startPrivateRedis();
  const replica = await startPrivateRedis({ args: ['--replicaof', '127.0.0.1', String(primary.port)] });
  const sentinels: PrivateRedis[] = [];
  try {
    for (let i = 0; i < 3; i++) {
      sentinels.push(await startPrivateRedis({
        sentinelConfig: (port) => [
          `port ${port}`, 'bind 127.0.0.1', 'daemonize no',
          `sentinel monitor ${name} 127.0.0.1 ${primary.port} 2`,
          `sentinel down-after-milliseconds ${name} 1000`,
          `sentinel failover-timeout ${name} 4000`,
          `sentinel parallel-syncs ${name} 1`,
          '',
        ].join('\n'),
      }));
    }
  } catch (err) {
    for (const s of [primary, replica, ...sentinels]) await s.destroy();
    throw err;
  }
  return {
    primary,
    replica,
    sentinels,
    name,
    url: `redis+sentinel://${sentinels.map((s) => `127.0.0.1:${s.port}`).join(',')}/${name}`,
    destroy: async () => {
      for (const s of [...sentinels, replica, primary]) await s.destroy();
    },
  };
}

// ---------------------------------------------------------------------------------------------
// PgBouncer

export interface PrivatePgBouncer {
  port: number;
  /** Connection string for the `postgres` database through the pooler. */
  url: string;
  destroy(): Promise<void>;
}

/**
 * PgBouncer in front of `server`, in transaction pooling mode unless told otherwise. Runs as the
 * postgres user (PgBouncer refuses root). `auth_type = any` with a fixed server user: loopback only.
 */
export async function startPrivatePgBouncer(server: PrivatePostgres, poolMode: 'transaction' | 'session' = 'transaction'): Promise<PrivatePgBouncer> {
  const dir = mkdtempSync('/tmp/latchkey-pgbouncer-');
  const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
  chownSync(dir, uid, gid);
  const port = await freePort();
  const ini = join(dir, 'pgbouncer.ini');
  writeFileSync(ini, [
    '[databases]',
    `* = host=127.0.0.1 port=${server.port} user=postgres`,
    '[pgbouncer]',
    'listen_addr = 127.0.0.1',
    `listen_port = ${port}`,
    "unix_socket_dir = ''",
    'auth_type = any',
    `pool_mode = ${poolMode}`,
    'default_pool_size = 20',
    'max_client_conn = 500',
    `logfile = ${join(dir, 'pgbouncer.log')}`,
    `pidfile = ${join(dir, 'pgbouncer.pid')}`,
    '',
  ].join('\n'));
  chownSync(ini, uid, gid);
  const child = spawn('runuser', ['-u', 'postgres', '--', 'pgbouncer', ini], { stdio: 'ignore' });
  const onExit = () => {
    child.kill('SIGKILL');
    spawnSync('pkill', ['-KILL', '-F', join(dir, 'pgbouncer.pid')]);
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', onExit);
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`pgbouncer exited with ${child.exitCode}: ${readFileSync(join(dir, 'pgbouncer.log'), 'utf8').slice(-500)}`);
    if (await portOpen(port)) break;
    if (i > 100) throw new Error('pgbouncer did not listen within 5 s');
    await sleep(50);
  }
  return {
    port,
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    destroy: async () => {
      const exited = new Promise((resolve) => (child.exitCode !== null ? resolve(null) : child.once('exit', resolve)));
      // runuser forwards SIGTERM to pgbouncer, which then exits at once (it has no state to save).
      child.kill('SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
      process.off('exit', onExit);
    },
  };
}

/** Whether something accepts TCP connections on `port`. */
function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket();
    socket.setTimeout(500, () => { socket.destroy(); resolve(false); });
    socket.once('error', () => { socket.destroy(); resolve(false); });
    socket.connect(port, '127.0.0.1', () => { socket.destroy(); resolve(true); });
  });
}

// ---------------------------------------------------------------------------------------------
// Redis Cluster: three primaries, no replicas

export interface PrivateRedisCluster {
  nodes: PrivateRedis[];
  destroy(): Promise<void>;
}

/** Three cluster-enabled redis-servers joined with `redis-cli --cluster create`, waited on until `cluster_state:ok`. */
export async function startPrivateRedisCluster(): Promise<PrivateRedisCluster> {
  const dir = mkdtempSync('/tmp/latchkey-cluster-');
  const nodes: PrivateRedis[] = [];
  const destroy = async () => {
    for (const n of nodes) await n.destroy();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < 3; i++) {
      nodes.push(await startPrivateRedis({ args: ['--cluster-enabled', 'yes', '--cluster-config-file', join(dir, `nodes-${i}.conf`), '--dir', dir] }));
    }
    const created = spawnSync('redis-cli', ['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-yes'], { encoding: 'utf8', timeout: 30_000 });
    if (created.status !== 0) throw new Error(`redis-cli --cluster create failed: ${created.stderr || created.stdout}`);
    for (let i = 0; ; i++) {
      const states = nodes.map((n) => spawnSync('redis-cli', ['-p', String(n.port), 'cluster', 'info'], { encoding: 'utf8', timeout: 5_000 }).stdout);
      if (states.every((s) => s.includes('cluster_state:ok'))) break;
      if (i > 100) throw new Error('the cluster did not reach cluster_state:ok within 10 s');
      await sleep(100);
    }
  } catch (err) {
    await destroy();
    throw err;
  }
  return { nodes, destroy };
}
