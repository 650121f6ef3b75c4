/**
 * Timing primitives for in-process micro-benchmarks.
 *
 * Throughput and latency are measured in separate passes: timing every call with hrtime would add
 * tens of nanoseconds to each, which is noise for a 50 µs signature check but a large error for a
 * 1 µs cache hit. Cases are run in interleaved rounds (A B C A B C ...) and the median round is kept,
 * so a burst of load from another process on the shared machine hurts every case alike instead of
 * one case wholesale.
 */
import { performance } from 'node:perf_hooks';

/** Linear-interpolated percentile of an ascending numeric array. */
export function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  const rank = (p / 100) * (sorted.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo);
}

export function median(values) {
  return percentile([...values].sort((a, b) => a - b), 50);
}

/**
 * Calls `fn` repeatedly for `ms` milliseconds (checking the clock every `batch` calls) and returns
 * calls per second. `fn` may be sync or async; an async `fn` is awaited, as an app would.
 */
export async function throughput(fn, ms, isAsync) {
  let ops = 0;
  let batch = 16;
  const start = performance.now();
  const deadline = start + ms;
  let now = start;
  while (now < deadline) {
    if (isAsync) for (let i = 0; i < batch; i++) await fn(i);
    else for (let i = 0; i < batch; i++) fn(i);
    ops += batch;
    now = performance.now();
    // Grow the batch while calls are cheap, so clock reads stay a negligible share.
    if (batch < 4096 && now - start < ms / 50) batch *= 2;
  }
  return ops / ((now - start) / 1000);
}

/**
 * `concurrency` async loops calling `fn` for `ms`; returns total calls per second and the sorted
 * per-call latencies (ms). For async work that leaves the JS thread (WebCrypto runs on libuv's
 * thread pool), this is what a server with many requests in flight sees.
 */
export async function concurrentRun(fn, ms, concurrency) {
  let ops = 0;
  const samples = [];
  const start = performance.now();
  const deadline = start + ms;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (performance.now() < deadline) {
      const t0 = performance.now();
      await fn(ops++);
      if (samples.length < 50_000) samples.push(performance.now() - t0);
    }
  }));
  return { opsPerSec: ops / ((performance.now() - start) / 1000), latencies: samples.sort((a, b) => a - b) };
}

/** Per-call latencies (ms) for up to `ms` milliseconds or `maxSamples` calls. */
export async function latencies(fn, ms, isAsync, maxSamples = 20_000) {
  const samples = [];
  const deadline = performance.now() + ms;
  while (samples.length < maxSamples && performance.now() < deadline) {
    const t0 = performance.now();
    if (isAsync) await fn(samples.length);
    else fn(samples.length);
    samples.push(performance.now() - t0);
  }
  return samples.sort((a, b) => a - b);
}

/**
 * Runs every case for `rounds` interleaved rounds of `roundMs` each, after one warm-up round, then a
 * latency pass. Returns `{ name -> { opsPerSec, p50Ms, p99Ms, rounds, cpuMicrosPerOp } }`.
 *
 * @param cases Array of `{ name, fn, async, concurrency? }` (concurrency > 1: that many calls in flight).
 * @param onProgress called with a short text after each round.
 */
export async function compareCases(cases, { rounds, roundMs, latencyMs }, onProgress = () => {}) {
  const perCase = new Map(cases.map((c) => [c.name, []]));
  const cpu = new Map(cases.map((c) => [c.name, { micros: 0, ops: 0 }]));
  const once = async (c, ms) => (c.concurrency > 1 ? (await concurrentRun(c.fn, ms, c.concurrency)).opsPerSec : throughput(c.fn, ms, c.async));
  for (const c of cases) await once(c, Math.max(50, roundMs / 3)); // warm-up: JIT, caches
  for (let r = 0; r < rounds; r++) {
    for (const c of cases) {
      // CPU time of the whole process (every thread: WebCrypto's pool work counts too) per call.
      const before = process.cpuUsage();
      const t0 = performance.now();
      const opsPerSec = await once(c, roundMs);
      const used = process.cpuUsage(before);
      const acc = cpu.get(c.name);
      acc.micros += used.user + used.system;
      acc.ops += opsPerSec * ((performance.now() - t0) / 1000);
      perCase.get(c.name).push(opsPerSec);
    }
    onProgress(`round ${r + 1}/${rounds}`);
  }
  const out = {};
  for (const c of cases) {
    const lat = c.concurrency > 1 ? (await concurrentRun(c.fn, latencyMs, c.concurrency)).latencies : await latencies(c.fn, latencyMs, c.async);
    out[c.name] = {
      opsPerSec: median(perCase.get(c.name)),
      p50Ms: percentile(lat, 50),
      p99Ms: percentile(lat, 99),
      rounds: perCase.get(c.name),
      cpuMicrosPerOp: cpu.get(c.name).micros / Math.max(1, cpu.get(c.name).ops),
    };
  }
  return out;
}
