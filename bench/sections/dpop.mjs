/**
 * Section "dpop": what device binding costs per request, and what the proof replay cache costs in
 * memory.
 *
 * - HTTP: `GET /me` behind `requireSession` on node:http (servers/dpop-server.mjs), header mode, the
 *   same route and server for both cases: `Authorization: Bearer` of an unbound session against
 *   `Authorization: DPoP` plus a fresh proof per request of a bound one. The load generator
 *   (lib/dpop-load-child.mjs) runs in its own process with pre-signed proofs; rounds are interleaved,
 *   the median kept; the server's CPU time per request is measured inside it.
 * - Requests: `verifyAccessToken` of a DPoP-bound token with a fresh proof per call (the proof's
 *   signature check, the `ath` hash, the thumbprint and the replay cache: work no cache can skip, since
 *   every proof is new) against the same engine's Bearer verification of an unbound token, cache on.
 *   Proofs (ES256, the browser SDK's algorithm) are made before timing: signing them is the client's
 *   cost, not the server's. The engine's clock tolerance is raised to 300 s so that proofs made before
 *   the timed rounds are still inside the `iat` window.
 * - Memory: the in-memory replay cache holding 1 000 000 proofs, measured as heap growth after a
 *   forced collection.
 */
import { fork } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { MemoryReplayCache } from 'latchkey';
import { compare, runSection } from '../lib/section.mjs';
import { compareCases } from '../lib/measure.mjs';
import { medianLoadRows } from '../lib/load.mjs';
import { redisAvailable, REDIS_URL } from '../lib/services.mjs';
import { benchEngine, issueTokens } from '../lib/engine.mjs';

const URL_ = 'https://api.bench.test/v1/orders';
const here = dirname(fileURLToPath(import.meta.url));
const CONNECTIONS = 16;

/** Starts servers/dpop-server.mjs; resolves with its ports, tokens, `ask` (IPC round trip) and `stop`. */
function startServer(config) {
  return new Promise((resolve, reject) => {
    const child = fork(join(here, '..', 'servers', 'dpop-server.mjs'), [JSON.stringify(config)], {
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr = (stderr + d).slice(-2000)));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error('dpop server did not start'));
    }, 20_000);
    child.once('message', (m) => {
      clearTimeout(timer);
      if (!m.ready) {
        child.kill('SIGKILL');
        return reject(new Error(m.error));
      }
      const ask = (message) =>
        new Promise((answer) => {
          child.once('message', answer);
          child.send(message);
        });
      const stop = () =>
        new Promise((done) => {
          if (child.exitCode !== null) return done();
          const kill = setTimeout(() => child.kill('SIGKILL'), 3000);
          child.once('exit', () => {
            clearTimeout(kill);
            done();
          });
          child.disconnect();
        });
      resolve({ ...m, ask, stop });
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`dpop server exited (${code}) ${stderr}`));
    });
  });
}

/** One run of lib/dpop-load-child.mjs. */
function load(options) {
  return new Promise((resolve, reject) => {
    const child = fork(join(here, '..', 'lib', 'dpop-load-child.mjs'), [], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    const timer = setTimeout(() => child.kill('SIGKILL'), (options.seconds + 120) * 1000);
    let answer;
    child.on('message', (m) => (answer = m));
    child.on('exit', () => {
      clearTimeout(timer);
      if (answer?.ok) resolve(answer.result);
      else reject(new Error(`load generator failed: ${answer?.error ?? 'no result'}`));
    });
    child.send(options);
  });
}

/** Redis's own memory figure, bytes (INFO memory used_memory). */
async function redisUsedMemory(redis) {
  const info = await redis.info('memory');
  return Number(/used_memory:(\d+)/.exec(info)?.[1]);
}

function gc() {
  setFlagsFromString('--expose-gc');
  runInNewContext('gc')();
}

await runSection('dpop', async (ctx) => {
  const proofs = ctx.quick ? 20_000 : 60_000;
  const timing = { rounds: ctx.quick ? 3 : 5, roundMs: ctx.ms(600, 200), latencyMs: ctx.ms(400, 100) };
  ctx.note(
    `DPoP verify: one bound session, ${proofs} distinct ES256 proofs made before timing; ${timing.rounds} interleaved rounds of ${timing.roundMs} ms per case, median kept.`,
  );
  const engine = await benchEngine({ clockTolerance: 300, dpop: { replayCache: new MemoryReplayCache({ maxEntries: proofs * 2 }) } });
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  const jwk = await exportJWK(publicKey);
  const sign = (claims) => new SignJWT(claims).setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk }).sign(privateKey);
  const iat = () => Math.floor(Date.now() / 1000);
  const bound = await engine.createSession({
    userId: 'bound',
    dpop: { proof: await sign({ jti: 'create', htm: 'POST', htu: URL_, iat: iat() }), method: 'POST', url: URL_ },
  });
  const ath = createHash('sha256').update(bound.accessToken).digest('base64url');
  ctx.progress(`signing ${proofs} proofs`);
  const list = [];
  for (let i = 0; i < proofs; i++)
    list.push(await sign({ jti: randomBytes(16).toString('base64url'), htm: 'GET', htu: URL_, iat: iat(), ath }));
  const bearer = await issueTokens(engine, 1000);
  let p = 0;
  let b = 0;
  const cases = [
    { name: 'Bearer verify, cache on', async: true, fn: () => engine.verifyAccessToken(bearer[b++ % bearer.length]) },
    {
      name: 'DPoP verify (fresh proof per call)',
      async: true,
      fn: () => {
        if (p >= list.length) throw new Error('out of pre-made proofs: raise the count');
        return engine.verifyAccessToken(bound.accessToken, { scheme: 'DPoP', dpop: { proof: list[p++], method: 'GET', url: URL_ } });
      },
    },
  ];
  const results = await compareCases(cases, timing, (text) => ctx.progress(text));
  const rows = {};
  for (const c of cases) {
    const r = results[c.name];
    rows[c.name] = ctx.row({
      case: c.name,
      metric: 'ops/s',
      value: r.opsPerSec,
      p50Ms: r.p50Ms,
      p99Ms: r.p99Ms,
      cpuMicrosPerOp: r.cpuMicrosPerOp,
    });
  }
  compare(rows['DPoP verify (fresh proof per call)'], rows['Bearer verify, cache on'], undefined, 'Bearer verify, cache on');
  await engine.close();

  // --- The same route over HTTP: requests per second, Bearer against DPoP --------------------------
  const seconds = Math.max(1, Math.round(ctx.ms(5000, 2000) / 1000));
  const rounds = ctx.quick ? 1 : 3;
  // Enough proofs for the fastest DPoP rate seen here with room to spare; a run that uses them all stops early (noted).
  const httpProofs = ctx.quick ? 15_000 : 40_000;
  ctx.note(
    `HTTP: GET /me behind requireSession (node:http, header mode), ${CONNECTIONS} keep-alive connections from a separate process, ${seconds} s per case after a 1 s warm-up, ${rounds} interleaved round(s), median kept; DPoP requests each carry a fresh pre-signed ES256 proof (${httpProofs} per run).`,
  );
  const httpKeys = await generateKeyPair('ES256', { extractable: true });
  const privateJwk = await exportJWK(httpKeys.privateKey);
  const publicJwk = await exportJWK(httpKeys.publicKey);
  const httpCases = [
    { name: 'HTTP GET /me, Bearer (header mode)', dpop: false },
    { name: 'HTTP GET /me, DPoP (fresh proof per request)', dpop: true },
  ];
  const samples = new Map(httpCases.map((c) => [c.name, []]));
  const failed = new Map();
  let exhaustedRuns = 0;
  for (let round = 0; round < rounds; round++) {
    for (const c of httpCases) {
      if (failed.has(c.name)) continue;
      ctx.progress(`round ${round + 1}/${rounds}: ${c.name}`);
      let server;
      try {
        server = await startServer({ privateJwk, publicJwk, maxProofs: 2 * httpProofs + 10 });
        const url = `http://127.0.0.1:${server.port}/me`;
        const common = { url, connections: CONNECTIONS, publicJwk };
        const run = (secs) =>
          load(
            c.dpop
              ? { ...common, token: server.bound, scheme: 'DPoP', privateJwk, proofs: httpProofs, seconds: secs }
              : { ...common, token: server.bearer, scheme: 'Bearer', seconds: secs },
          );
        await run(1);
        await server.ask('cpu-start');
        const r = await run(seconds);
        const cpu = await server.ask('cpu-stop');
        if (r.non2xx > 0 || r.errors > 0 || r.total === 0)
          throw new Error(`${r.non2xx} non-2xx responses and ${r.errors} errors of ${r.total}`);
        if (r.exhausted) exhaustedRuns++;
        samples.get(c.name).push({ ...r, cpuMicrosPerRequest: cpu.cpuMicros / Math.max(1, cpu.requests) });
      } catch (err) {
        failed.set(c.name, err instanceof Error ? err.message : String(err));
      } finally {
        await server?.stop();
      }
    }
  }
  const httpRows = medianLoadRows(ctx, httpCases, samples, failed);
  const [bearerHttp, dpopHttp] = httpCases.map((c) => httpRows[c.name]);
  if (bearerHttp && dpopHttp) {
    compare(dpopHttp, bearerHttp, undefined, bearerHttp.case);
    // Server CPU per request: what load elsewhere on the machine disturbs least.
    const cpuRow = ctx.row({ case: 'HTTP DPoP: server CPU per request', metric: 'µs', value: dpopHttp.cpuMicrosPerRequest });
    compare(
      cpuRow,
      { value: bearerHttp.cpuMicrosPerRequest },
      undefined,
      `Bearer (${bearerHttp.cpuMicrosPerRequest.toFixed(0)} µs/request)`,
    );
  }
  if (exhaustedRuns > 0)
    ctx.note(`${exhaustedRuns} DPoP run(s) used every pre-signed proof before the time was up; they are rated over their own length.`);

  // --- The jti cache's memory: N proofs measured, scaled to 1M ------------------------------------
  const million = 1_000_000;
  const n = ctx.quick ? 200_000 : million;
  ctx.progress(`replay cache: ${n} entries`);
  const now = Date.now();
  const jkt = createHash('sha256').update('bench').digest('base64url');
  // The key the engine stores: 128 bits of SHA-256(jkt, jti), base64url (dpop/replay.ts replayKey).
  const replayKey = (i) => createHash('sha256').update(jkt).update('\0').update(`${i}-${now}`).digest('base64url').slice(0, 22);
  gc();
  const before = process.memoryUsage().heapUsed;
  const cache = new MemoryReplayCache({ maxEntries: n });
  for (let i = 0; i < n; i++) await cache.remember(replayKey(i), now + 60_000, now);
  gc();
  const bytes = process.memoryUsage().heapUsed - before;
  if (cache.size !== n) throw new Error(`expected ${n} entries, found ${cache.size}`);
  const perEntry = bytes / n;
  ctx.row({ case: 'replay cache in memory, per 1M proofs (heap)', metric: 'MB', value: Math.round((perEntry * million) / 1e5) / 10 });
  ctx.note(
    `Memory jti cache: V8 heap used after a forced GC, before and after ${n} entries (22-character keys, as the engine stores them), divided by ${n}${n === million ? '' : ' and scaled to 1M'}: ${Math.round(perEntry)} bytes per proof, ${((perEntry * million) / 1e6).toFixed(1)} MB per 1M. Entries live 2 x clock tolerance + 1 s (61 s by default), so 1M entries is about 16 000 proofs/s on one instance; the default bound is 100 000 entries.`,
  );

  // The Redis cache (a fleet's): one key per proof with a PX expiry. Redis is shared on this machine, so
  // besides INFO's used_memory (which other clients disturb) the per-key MEMORY USAGE of a sample.
  const redisUp = await redisAvailable();
  if (!redisUp) ctx.row({ case: 'replay cache in Redis, per 1M proofs', status: 'skipped', reason: 'Redis not reachable' });
  else {
    const { Redis } = await import('ioredis');
    const { redisDpopReplayCache } = await import('latchkey/dpop/redis');
    const redis = new Redis(REDIS_URL);
    const prefix = `latchkey-bench:dpop:${process.pid}:`;
    const redisCache = redisDpopReplayCache({ redis, prefix });
    const rn = ctx.quick ? 50_000 : 200_000;
    ctx.progress(`replay cache in Redis: ${rn} entries`);
    try {
      const usedBefore = await redisUsedMemory(redis);
      for (let i = 0; i < rn; i += 1000) {
        const batch = [];
        for (let j = i; j < Math.min(rn, i + 1000); j++) batch.push(redisCache.remember(replayKey(j), Date.now() + 120_000, Date.now()));
        if ((await Promise.all(batch)).some((ok) => !ok)) throw new Error('a fresh key was refused');
      }
      const usedAfter = await redisUsedMemory(redis);
      let sampled = 0;
      for (let i = 0; i < 200; i++)
        sampled += Number(await redis.call('MEMORY', 'USAGE', `${prefix}${replayKey(i * Math.floor(rn / 200))}`, 'SAMPLES', '0'));
      const perKeyUsage = sampled / 200;
      const perKeyInfo = (usedAfter - usedBefore) / rn;
      ctx.row({
        case: 'replay cache in Redis, per 1M proofs (used_memory)',
        metric: 'MB',
        value: Math.round((perKeyInfo * million) / 1e5) / 10,
      });
      ctx.row({
        case: 'replay cache in Redis, per 1M proofs (MEMORY USAGE)',
        metric: 'MB',
        value: Math.round((perKeyUsage * million) / 1e5) / 10,
      });
      ctx.note(
        `Redis jti cache: ${rn} proofs through redisDpopReplayCache (keys ${prefix.length + 22} bytes with this run's prefix; the default 'latchkey:dpop:' is 14), scaled to 1M: INFO used_memory grew ${Math.round(perKeyInfo)} bytes per proof (includes the expiry and hash-table entries; other clients of this shared Redis add noise), MEMORY USAGE of 200 sampled keys averages ${Math.round(perKeyUsage)} bytes (the key and value objects only). Redis drops each key when its proof could no longer pass the iat check.`,
      );
    } finally {
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 5000);
        cursor = next;
        if (keys.length > 0) await redis.unlink(...keys);
      } while (cursor !== '0');
      await redisCache.close?.();
      redis.disconnect();
    }
  }
});
