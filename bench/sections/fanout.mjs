/**
 * Section "fanout": revoke-to-refusal delay across two instances (two processes over one PostgreSQL
 * schema). Instance A revokes a session; instance B, which has just accepted (and cached) that
 * session's access token, verifies it over and over until it is refused. Delay = refusal time on B −
 * start of the revoke call on A (so it includes A's commit to PostgreSQL). With the Redis bus
 * (`latchkey/revocation/redis`) and, for contrast, with the store poll alone (1 s interval).
 */
import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { percentile } from '../lib/measure.mjs';
import { runSection } from '../lib/section.mjs';
import { optionalImport, postgresAvailable, REDIS_URL, redisAvailable, scratchDatabase } from '../lib/services.mjs';

const here = dirname(fileURLToPath(import.meta.url));

function instance(cfg) {
  const child = fork(join(here, 'fanout-worker.mjs'), [JSON.stringify(cfg)], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr = (stderr + d).slice(-2000)));
  const queue = [];
  const waiting = [];
  child.on('message', (m) => (waiting.length ? waiting.shift().resolve(m) : queue.push(m)));
  child.on('exit', (code) => { for (const w of waiting.splice(0)) w.reject(new Error(`fan-out instance exited ${code}: ${stderr}`)); });
  child.on('error', () => {}); // a send after exit; the exit handler above reports it
  const next = () => (queue.length ? Promise.resolve(queue.shift()) : new Promise((resolve, reject) => waiting.push({ resolve, reject })));
  return {
    next,
    ask: (m) => { child.send(m); return next(); },
    send: (m) => child.send(m),
    close: () => new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null || !child.connected) { child.kill('SIGKILL'); return resolve(); }
      child.once('exit', resolve);
      child.send({ cmd: 'close' });
      setTimeout(() => child.kill('SIGKILL'), 3000).unref();
    }),
  };
}

async function measure(ctx, database, label, { bus, pollSeconds, count, jitterMs }) {
  const cfg = { url: database.url, schema: `latchkey_fanout_${bus ? 'bus' : 'poll'}`, secret: randomBytes(32).toString('hex'), redisUrl: REDIS_URL, channel: `latchkey-bench:${process.pid}:${label}`, bus, pollSeconds };
  // A first (it migrates the schema and creates the keys), then B.
  const a = instance(cfg);
  await a.next();
  const b = instance(cfg);
  await b.next();
  try {
    const { tokens } = await a.ask({ cmd: 'create', n: count });
    const delays = [];
    const commits = [];
    let missed = 0;
    for (const [i, t] of tokens.entries()) {
      ctx.progress(`${label}: revocation ${i + 1}/${count}`);
      await b.ask({ cmd: 'watch', token: t.accessToken, timeoutMs: (pollSeconds + 5) * 1000 });
      // A random pause first, so revocations do not fall in step with B's poll timer.
      await new Promise((resolve) => setTimeout(resolve, Math.random() * jitterMs));
      const refused = b.next();
      const revoked = await a.ask({ cmd: 'revoke', sessionId: t.sessionId });
      const { refusedAt } = await refused;
      if (refusedAt === null) { missed++; continue; }
      delays.push(refusedAt - revoked.startedAt);
      commits.push(revoked.returnedAt - revoked.startedAt);
    }
    delays.sort((x, y) => x - y);
    commits.sort((x, y) => x - y);
    return { delays, commits, missed };
  } finally {
    await Promise.all([a.close(), b.close()]);
  }
}

await runSection('fanout', async (ctx) => {
  const redisModule = await optionalImport('latchkey/revocation/redis');
  const pgModule = await optionalImport('latchkey/stores/postgres');
  if (!pgModule?.postgresStore) ctx.skip('not available: latchkey/stores/postgres is not built');
  if (!(await postgresAvailable())) ctx.skip('PostgreSQL not reachable on 127.0.0.1:5432');
  const database = await scratchDatabase('latchkey_bench_fanout');
  try {
    const count = ctx.count(100, 20);
    if (redisModule?.redisBus && (await redisAvailable())) {
      const r = await measure(ctx, database, 'redis bus', { bus: true, pollSeconds: 0, count, jitterMs: 20 });
      ctx.row({ case: 'revoke → refusal on the other instance, Redis bus (median)', metric: 'ms', value: percentile(r.delays, 50), p99Ms: percentile(r.delays, 99), samples: r.delays.length, missed: r.missed });
      ctx.row({ case: 'of which: revoke call on A (PostgreSQL commit + publish), median', metric: 'ms', value: percentile(r.commits, 50), p99Ms: percentile(r.commits, 99) });
      if (r.missed > 0) ctx.note(`Redis bus: ${r.missed} of ${count} revocations were not refused within the time limit.`);
    } else {
      ctx.row({ case: 'revoke → refusal, Redis bus', status: 'skipped', reason: redisModule?.redisBus ? 'Redis not reachable on 127.0.0.1:6379' : 'not available (latchkey/revocation/redis is not built)' });
    }
    const pollCount = Math.max(5, Math.round(count / 4));
    const p = await measure(ctx, database, 'store poll', { bus: false, pollSeconds: 1, count: pollCount, jitterMs: 1000 });
    ctx.row({ case: 'revoke → refusal, store poll only, 1 s interval (median)', metric: 'ms', value: percentile(p.delays, 50), p99Ms: percentile(p.delays, 99), samples: p.delays.length, missed: p.missed });
    ctx.note(`Fan-out: ${count} revocations with the bus (store poll off on both instances, so the bus alone is measured), ${pollCount} with the poll alone. B verifies the revoked session's cached token in a loop, yielding to I/O between tries.`);
  } finally {
    const leftover = await database.drop();
    if (leftover) ctx.note(`Connections still open at the end, forced out by DROP DATABASE: ${leftover}`);
  }
});
