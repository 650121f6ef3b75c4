/**
 * The CLI's window on the world: output streams, environment and exit codes, passed in rather than
 * reached for, so commands run the same in-process (tests) and as the real binary.
 */

/** Exit codes, after sysexits(3) where one fits. */
export const EXIT = {
  ok: 0,
  /** The operation ran and failed (nothing to revoke, a refused value). */
  failed: 1,
  /** Bad command line or configuration: nothing was attempted. */
  usage: 2,
  /** EX_UNAVAILABLE: the store (or another service) could not be reached. */
  unavailable: 69,
} as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export interface CliIo {
  stdout(text: string): void;
  stderr(text: string): void;
  /** stderr is a terminal: progress display is wanted. */
  stderrIsTty: boolean;
  env: Readonly<Record<string, string | undefined>>;
  /** Where serve registers its shutdown; the binary passes `process`. */
  signals?: { once(signal: 'SIGTERM' | 'SIGINT', listener: () => void): unknown };
}

/** The real process. */
export function processIo(): CliIo {
  return {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    stderrIsTty: process.stderr.isTTY === true,
    env: process.env,
    signals: process,
  };
}

/** A command-line mistake: exit 2 with the message and a pointer to help. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** Prints `value` as one line of JSON. */
export function printJson(io: CliIo, value: unknown): void {
  io.stdout(`${JSON.stringify(value)}\n`);
}

/** Prints rows as an aligned text table (for people; scripts use --json). */
export function printTable(io: CliIo, columns: string[], rows: string[][]): void {
  if (rows.length === 0) {
    io.stdout('(none)\n');
    return;
  }
  const widths = columns.map((c, i) => Math.max(c.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join('  ').trimEnd();
  io.stdout(`${[line(columns), ...rows.map(line)].join('\n')}\n`);
}

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

/**
 * Runs `work` with a spinner and elapsed time on stderr when it is a terminal (never on stdout,
 * which scripts parse, and never when piped, which would fill logs with frames).
 */
export async function withProgress<T>(io: CliIo, label: string, work: () => Promise<T>): Promise<T> {
  if (!io.stderrIsTty) return work();
  const started = Date.now();
  let frame = 0;
  const draw = () => io.stderr(`\r${FRAMES[frame++ % FRAMES.length]} ${label} ${((Date.now() - started) / 1000).toFixed(1)}s`);
  draw();
  const timer = setInterval(draw, 100);
  try {
    return await work();
  } finally {
    clearInterval(timer);
    io.stderr(`\r\x1b[2K`);
  }
}
