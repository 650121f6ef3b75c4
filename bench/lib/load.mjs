/**
 * Load generation in its own process: autocannon runs in a forked child (bench/lib/autocannon-child.mjs)
 * so that the generator never shares an event loop or a core's time slice with the server under test.
 */
import { fork } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { median } from './measure.mjs';

const here = dirname(fileURLToPath(import.meta.url));

/**
 * Runs autocannon against `url` for `seconds` with `connections`; resolves with
 * `{ requestsPerSec, p50Ms, p99Ms, total, non2xx, errors }`.
 */
export function autocannon({ url, headers = {}, connections = 16, seconds = 5 }) {
  return new Promise((resolve, reject) => {
    const child = fork(join(here, 'autocannon-child.mjs'), [], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    const timer = setTimeout(() => child.kill('SIGKILL'), (seconds + 30) * 1000);
    let answer;
    child.on('message', (m) => (answer = m));
    child.on('exit', () => {
      clearTimeout(timer);
      if (answer?.ok) resolve(answer.result);
      else reject(new Error(`autocannon failed: ${answer?.error ?? 'no result'}`));
    });
    child.send({ url, headers, connections, seconds });
  });
}

/**
 * One row per load case from its rounds (`samples`: case name → results with `cpuMicrosPerRequest`),
 * the median of each figure; a case in `failed` (name → reason) gets an error row. Returns the rows by name.
 */
export function medianLoadRows(ctx, cases, samples, failed) {
  const rows = {};
  for (const c of cases) {
    if (failed.has(c.name)) {
      ctx.row({ case: c.name, status: 'error', reason: failed.get(c.name) });
      continue;
    }
    const s = samples.get(c.name);
    rows[c.name] = ctx.row({
      case: c.name,
      metric: 'req/s',
      value: median(s.map((r) => r.requestsPerSec)),
      p50Ms: median(s.map((r) => r.p50Ms)),
      p99Ms: median(s.map((r) => r.p99Ms)),
      cpuMicrosPerRequest: median(s.map((r) => r.cpuMicrosPerRequest)),
    });
  }
  return rows;
}
