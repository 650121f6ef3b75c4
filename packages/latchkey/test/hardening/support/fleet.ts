/**
 * Real `latchkey serve` processes (the built binary, via test/cli/helpers.ts `serve`) that the load
 * test can SIGKILL and restart on the same port. Every process ever started is kept, so that the
 * secrets check can read every log line the service wrote, including those of killed processes.
 */
import { serve, type ServeProcess } from '../../cli/helpers.js';
import { freePort } from '../../helpers/private-servers.js';

export interface Instance {
  name: string;
  port: number;
  url: string;
  up: boolean;
  proc: ServeProcess | undefined;
  /** Times it was started (1 + restarts). */
  starts: number;
}

export class Fleet {
  readonly instances: Instance[] = [];
  /** Every process started, in order, with its instance name. */
  readonly processes: Array<{ name: string; proc: ServeProcess }> = [];
  /** Start attempts that exited 69 (store unavailable) and were retried by {@link restart}. */
  supervisorRestarts = 0;
  readonly #failedStarts: string[] = [];
  readonly #env: Record<string, string>;

  private constructor(env: Record<string, string>) {
    this.#env = env;
  }

  /** Starts `count` instances with one shared environment, one after the other (the first migrates). */
  static async start(env: Record<string, string>, count: number): Promise<Fleet> {
    const fleet = new Fleet(env);
    for (let i = 0; i < count; i++) {
      const port = await freePort();
      const instance: Instance = { name: String.fromCharCode(65 + i), port, url: `http://127.0.0.1:${port}`, up: false, proc: undefined, starts: 0 };
      fleet.instances.push(instance);
      await fleet.#launch(instance);
    }
    return fleet;
  }

  async #launch(instance: Instance): Promise<void> {
    const proc = await serve(this.#env, ['--port', String(instance.port), '--host', '127.0.0.1']);
    instance.proc = proc;
    instance.up = true;
    instance.starts++;
    this.processes.push({ name: instance.name, proc });
  }

  /** A random instance that is up. */
  pick(): Instance {
    const up = this.instances.filter((i) => i.up);
    const list = up.length > 0 ? up : this.instances;
    return list[Math.floor(Math.random() * list.length)]!;
  }

  up(): Instance[] {
    return this.instances.filter((i) => i.up);
  }

  /** SIGKILL: no shutdown, in-flight requests die with their connections. */
  async kill(instance: Instance): Promise<void> {
    instance.up = false;
    const proc = instance.proc;
    proc?.child.kill('SIGKILL');
    await proc?.exited;
  }

  /**
   * Starts a killed instance again, as its supervisor would (systemd `Restart=on-failure`, a
   * Kubernetes restart). `serve` exits 69 when the store is unavailable at start-up (the documented
   * contract, docs/service.md), e.g. when it comes up while PostgreSQL is still recovering from a
   * crash (SQLSTATE 57P03), and the supervisor starts it again a moment later. Bounded: exits of 69
   * for 30 s, or any other failure, are thrown.
   */
  async restart(instance: Instance): Promise<void> {
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        await this.#launch(instance);
        return;
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        // Kept for the secrets check: a process that never listened still wrote to stderr.
        this.#failedStarts.push(message);
        if (!message.startsWith('serve exited 69 ') || Date.now() > deadline) throw error;
        this.supervisorRestarts++;
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    }
  }

  /** Graceful stop (SIGTERM) of every running process; resolves with their exit codes. */
  async stopAll(): Promise<Array<number | null>> {
    const running = this.instances.filter((i) => i.proc && i.proc.child.exitCode === null && i.proc.child.signalCode === null);
    for (const i of running) {
      i.up = false;
      i.proc!.child.kill('SIGTERM');
    }
    return Promise.all(running.map((i) => i.proc!.exited));
  }

  /** Everything every process wrote: stdout log lines and stderr. */
  output(): string {
    return [...this.processes.map(({ proc }) => `${proc.lines().join('\n')}\n${proc.stderr()}`), ...this.#failedStarts].join('\n');
  }
}
