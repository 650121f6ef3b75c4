/**
 * Starts latchkey instances as separate Node processes (instance.mjs) and calls them over IPC, so
 * multi-instance tests exercise exactly what a fleet shares: PostgreSQL and Redis, nothing in memory.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { JsonWebKeySet } from 'latchkey';
import type { PostgresStoreOptions } from 'latchkey/stores/postgres';

const DIST = fileURLToPath(new URL('../../dist/', import.meta.url));
const SCRIPT = fileURLToPath(new URL('./instance.mjs', import.meta.url));

/**
 * Fails loudly when the build the child processes import is missing. (Staleness is not checked:
 * `tsc -b` skips rewriting outputs whose content did not change, so file times prove nothing.)
 */
export function assertBuilt(): void {
  for (const file of ['index', 'engine', 'stores/postgres', 'stores/postgres/runner', 'revocation/redis', 'revocation/pg-notify']) {
    if (!existsSync(`${DIST}${file}.js`)) {
      throw new Error(`packages/latchkey/dist has no ${file}.js: run \`npx tsc -b packages/latchkey\` first`);
    }
  }
}

export interface InstanceConfig {
  store: PostgresStoreOptions;
  /** Revocation bus over Redis at this URL... */
  redisUrl?: string;
  /** ...or over PostgreSQL LISTEN/NOTIFY on the store's database. */
  pgNotify?: boolean;
  channel?: string;
  /** JSON-serialisable engine options (issuer, secret, ttl, intervals...). */
  engine: Record<string, unknown>;
}

export interface RemoteTokens {
  sessionId: string;
  accessToken: string;
  refreshToken: string;
  kid: string;
}

export interface RemoteError {
  name?: string;
  code?: string;
  reason?: string;
  message: string;
}

/** The result of a call that may fail: the value, or the error the instance threw (serialised). */
export type Outcome<T> = { ok: true; value: T } | { ok: false; error: RemoteError };

export class RemoteInstance {
  readonly #child: ChildProcess;
  #next = 0;
  readonly #pending = new Map<number, (outcome: Outcome<unknown>) => void>();

  private constructor(child: ChildProcess) {
    this.#child = child;
    child.on('message', ({ id, ...outcome }: { id?: number } & Outcome<unknown>) => {
      if (id === undefined) return;
      this.#pending.get(id)?.(outcome);
      this.#pending.delete(id);
    });
    child.on('exit', (code) => {
      for (const settle of this.#pending.values()) settle({ ok: false, error: { message: `instance exited (${code})` } });
      this.#pending.clear();
    });
  }

  static async start(config: InstanceConfig): Promise<RemoteInstance> {
    const child = fork(SCRIPT, [], { env: { ...process.env, LATCHKEY_TEST_INSTANCE: JSON.stringify(config) }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    await new Promise<void>((resolve, reject) => {
      child.once('message', () => resolve());
      child.once('exit', (code) => reject(new Error(`instance exited during start (${code})`)));
    });
    return new RemoteInstance(child);
  }

  /** Calls `op`; the error an instance throws comes back as an outcome, never as a rejection. */
  try<T>(op: string, args?: Record<string, unknown>): Promise<Outcome<T>> {
    const id = this.#next++;
    return new Promise((resolve) => {
      this.#pending.set(id, resolve as (outcome: Outcome<unknown>) => void);
      this.#child.send({ id, op, args });
    });
  }

  /** Calls `op` and returns its value; rejects with the instance's error. */
  async call<T>(op: string, args?: Record<string, unknown>): Promise<T> {
    const outcome = await this.try<T>(op, args);
    if (!outcome.ok) throw Object.assign(new Error(outcome.error.message), outcome.error);
    return outcome.value;
  }

  createSession(userId: string): Promise<RemoteTokens> {
    return this.call('createSession', { userId });
  }

  refresh(refreshToken: string): Promise<Outcome<RemoteTokens>> {
    return this.try('refresh', { refreshToken });
  }

  verify(accessToken: string): Promise<Outcome<string>> {
    return this.try('verify', { accessToken });
  }

  /** Polls here until `accessToken` is refused; returns the error code or `'still-accepted'` at `deadline`. */
  waitRefused(accessToken: string, deadline: number): Promise<string> {
    return this.call('waitRefused', { accessToken, deadline });
  }

  jwks(): Promise<JsonWebKeySet> {
    return this.call('jwks');
  }

  counts(): Promise<{ keysRotated: number; theft: number; errors: number; busErrors: number }> {
    return this.call('counts');
  }

  /** Ends the process (it closes its engine and pool first). */
  async stop(): Promise<void> {
    if (this.#child.exitCode !== null || !this.#child.connected) return;
    const exited = new Promise((resolve) => this.#child.once('exit', resolve));
    this.#child.disconnect();
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }
}
