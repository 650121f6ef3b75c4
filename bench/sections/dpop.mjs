/**
 * Section "dpop": what device binding costs per request, and what the proof replay cache costs in
 * memory.
 *
 * - Requests: `verifyAccessToken` of a DPoP-bound token with a fresh proof per call (the proof's
 *   signature check, the `ath` hash, the thumbprint and the replay cache: work no cache can skip, since
 *   every proof is new) against the same engine's Bearer verification of an unbound token, cache on.
 *   Proofs (ES256, the browser SDK's algorithm) are made before timing: signing them is the client's
 *   cost, not the server's. The engine's clock tolerance is raised to 300 s so that proofs made before
 *   the timed rounds are still inside the `iat` window.
 * - Memory: the in-memory replay cache holding 1 000 000 proofs, measured as heap growth after a
 *   forced collection.
 */
import { createHash, randomBytes } from 'node:crypto';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { MemoryReplayCache } from 'latchkey';
import { compare, runSection } from '../lib/section.mjs';
import { compareCases } from '../lib/measure.mjs';
import { benchEngine, issueTokens } from '../lib/engine.mjs';

const URL_ = 'https://api.bench.test/v1/orders';

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

  ctx.progress('replay cache: 1 000 000 entries');
  const million = 1_000_000;
  gc();
  const before = process.memoryUsage().heapUsed;
  const cache = new MemoryReplayCache({ maxEntries: million });
  const now = Date.now();
  const jkt = createHash('sha256').update('bench').digest('base64url');
  for (let i = 0; i < million; i++) {
    // The key the engine stores: 128 bits of SHA-256(jkt, jti), base64url (dpop/replay.ts replayKey).
    const key = createHash('sha256').update(jkt).update('\0').update(`${i}-${now}`).digest('base64url').slice(0, 22);
    await cache.remember(key, now + 60_000, now);
  }
  gc();
  const bytes = process.memoryUsage().heapUsed - before;
  if (cache.size !== million) throw new Error(`expected ${million} entries, found ${cache.size}`);
  ctx.row({ case: 'replay cache, 1M proofs (heap)', metric: 'MB', value: Math.round(bytes / 1e5) / 10 });
  ctx.note(
    `The in-memory jti cache holds 1M proofs in ${(bytes / 1e6).toFixed(1)} MB (${Math.round(bytes / million)} bytes each). Entries live 2 x clock tolerance + 1 s (61 s by default), so 1M entries is about 16 000 proofs/s on one instance.`,
  );
});
