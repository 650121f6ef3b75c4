/**
 * A tiny structured logger: one JSON object per line on stdout (errors on stderr), the format log
 * pipelines ingest without parsing rules. Callers pass fields, never raw tokens, keys or secrets;
 * the logger itself adds nothing from requests.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface Logger {
  log(level: LogLevel, msg: string, fields?: Record<string, unknown>): void;
}

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

function serialiseError(err: unknown): Record<string, unknown> {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return { name: err.name, message: err.message, ...(typeof code === 'string' ? { code } : {}), stack: err.stack };
  }
  return { value: String(err) };
}

/** A JSON-lines logger writing to `write` (default: stdout/stderr), dropping entries below `level`. */
export function jsonLogger(options: { level?: LogLevel; write?: (line: string, level: LogLevel) => void } = {}): Logger {
  const min = ORDER[options.level ?? 'info'];
  const write = options.write ?? ((line, level) => (level === 'error' ? process.stderr : process.stdout).write(line));
  return {
    log(level, msg, fields) {
      if (ORDER[level] < min) return;
      const entry: Record<string, unknown> = { time: new Date().toISOString(), level, msg };
      for (const [k, v] of Object.entries(fields ?? {})) entry[k] = k === 'err' ? serialiseError(v) : v;
      write(`${JSON.stringify(entry)}\n`, level);
    },
  };
}

/** Discards everything (for tests and embedding). */
export const silentLogger: Logger = { log() {} };
