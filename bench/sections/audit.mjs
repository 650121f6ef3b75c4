/**
 * Section "audit": what the audit log costs a refresh (issue 17: "writes must not slow refresh
 * measurably"). Refresh rotations per second on one SQLite store file, 8 concurrent chains, with the
 * recorder off, on with refreshes folded per session (the default) and on with one row per refresh.
 * The audit table lives in the same file as the sessions, written through a second connection, as
 * the service does. Cases run in interleaved rounds (off, folded, per-row, off, ...) and the median
 * round of each is kept, so load from other processes hurts every case alike. A round's figure counts
 * the batches the recorder wrote during it (every second); the rest is written when the round ends,
 * outside the timing, as an orderly shutdown would.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { AuditRecorder } from 'latchkey/audit';
import { SqliteAuditStore } from 'latchkey/audit/sqlite';
import { sqliteStore } from 'latchkey/stores/sqlite';
import { benchEngine } from '../lib/engine.mjs';
import { median, percentile } from '../lib/measure.mjs';
import { compare, runSection } from '../lib/section.mjs';

const CLIENTS = 8;

/** `tokens.length` concurrent chains of refreshes for `ms`; updates `tokens` in place. */
async function refreshRound(engine, tokens, ms) {
  const samples = [];
  const start = performance.now();
  const deadline = start + ms;
  await Promise.all(
    tokens.map(async (_, i) => {
      while (performance.now() < deadline) {
        const t0 = performance.now();
        tokens[i] = (await engine.refresh(tokens[i], { device: { userAgent: 'bench/1.0', ip: '192.0.2.1' } })).refreshToken;
        samples.push(performance.now() - t0);
      }
    }),
  );
  const seconds = (performance.now() - start) / 1000;
  samples.sort((a, b) => a - b);
  return { opsPerSec: samples.length / seconds, p50Ms: percentile(samples, 50), p99Ms: percentile(samples, 99) };
}

await runSection('audit', async (ctx) => {
  const rounds = ctx.quick ? 3 : 5;
  const roundMs = ctx.ms(3_000, 1_500);
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-bench-audit-'));
  ctx.note(
    `SQLite, ${CLIENTS} concurrent refresh chains; ${rounds} interleaved rounds of ${roundMs} ms per case, median kept. Audit rows in the same file (second connection), flushed every 1 s.`,
  );
  try {
    const path = join(dir, 'latchkey.db');
    const store = sqliteStore({ path });
    const engine = await benchEngine({ store });
    const audit = await SqliteAuditStore.open({ path });
    await audit.migrate();
    const tokens = [];
    for (let c = 0; c < CLIENTS; c++) tokens.push((await engine.createSession({ userId: `bench-${c}` })).refreshToken);
    const cases = [
      { name: 'refresh, audit off', recorder: null },
      { name: 'refresh, audit on (folded per session)', recorder: { aggregateRefreshes: true } },
      { name: 'refresh, audit on (one row per refresh)', recorder: { aggregateRefreshes: false } },
    ];
    const results = Object.fromEntries(cases.map((c) => [c.name, []]));
    // One warm-up round of each, not kept.
    for (let round = -1; round < rounds; round++) {
      for (const c of cases) {
        ctx.progress(`round ${round + 1}/${rounds}: ${c.name}`);
        const recorder = c.recorder ? new AuditRecorder({ store: audit, source: engine, cleanupIntervalMs: 0, ...c.recorder }) : null;
        const r = await refreshRound(engine, tokens, roundMs);
        await recorder?.close();
        if (round >= 0) results[c.name].push(r);
      }
    }
    const rows = {};
    for (const c of cases) {
      const list = results[c.name];
      const ops = median(list.map((r) => r.opsPerSec));
      rows[c.name] = ctx.row({
        case: c.name,
        metric: 'ops/s',
        value: ops,
        p50Ms: median(list.map((r) => r.p50Ms)),
        p99Ms: median(list.map((r) => r.p99Ms)),
      });
    }
    compare(rows['refresh, audit on (folded per session)'], rows['refresh, audit off'], undefined, 'audit off');
    compare(rows['refresh, audit on (one row per refresh)'], rows['refresh, audit off'], undefined, 'audit off');
    const stored = await audit.query({ limit: 1000 });
    ctx.note(
      `The folded case wrote about one row per session per second; the per-row case one per refresh (newest page: ${stored.events.length} rows).`,
    );
    await engine.close();
    await store.close();
    await audit.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
