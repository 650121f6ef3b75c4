/**
 * Section "verify": access-token verification on one core, in calls per second.
 *
 * Floor: `crypto.verify` of the token's signature with node:crypto (split, base64url-decode, verify:
 * nothing any JWT library can skip). Compared on the same latchkey-issued tokens: latchkey with its
 * verified-token cache off (`verifyCacheSize: 0`, many distinct tokens) and on, jose `jwtVerify`,
 * fast-jwt with and without its cache, and jsonwebtoken. Every library checks iss, aud and exp.
 *
 * The edge verifier (`latchkey/edge`: jose over WebCrypto, the engine's claim checks) is measured on
 * the same tokens with its cache off and on, against the engine's figures (issue 15). Its JWKS is
 * served in-process (fetched once, then cached) and its revocation feed is off, so the rows time
 * verification alone; a feed adds one request per poll interval, not per verification.
 *
 * Targets (issue 18): latchkey with the cache off at ≥ 90 % of node:crypto for every algorithm (it
 * signs and verifies with node:crypto itself, tokens/jws.ts, so what it adds is the JWT work); with
 * the cache on, at or above jose on the same tokens.
 */
import { createPublicKey, verify as cryptoVerify, webcrypto } from 'node:crypto';
import { importJWK, jwtVerify } from 'jose';
import { createVerifier } from 'fast-jwt';
import { createEdgeVerifier } from 'latchkey/edge';
import jsonwebtoken from 'jsonwebtoken';
import { compare, runSection } from '../lib/section.mjs';
import { compareCases } from '../lib/measure.mjs';
import { memoryStore } from 'latchkey/stores/memory';
import { AUDIENCE, benchEngine, ISSUER, issueTokens } from '../lib/engine.mjs';

const ALGORITHMS = ['EdDSA', 'ES256', 'RS256'];
const IN_FLIGHT = 16;
/** node:crypto arguments per JWS alg (RFC 7518 §3: ES256 signatures are raw r||s, not DER). */
const RAW = {
  EdDSA: { digest: null, dsaEncoding: undefined },
  ES256: { digest: 'sha256', dsaEncoding: 'ieee-p1363' },
  RS256: { digest: 'sha256', dsaEncoding: undefined },
};

await runSection('verify', async (ctx) => {
  const algs = process.env.LATCHKEY_BENCH_ALGS ? process.env.LATCHKEY_BENCH_ALGS.split(',') : ALGORITHMS;
  const tokenCount = ctx.count(2000, 500);
  const timing = { rounds: ctx.quick ? 3 : 7, roundMs: ctx.ms(700, 250), latencyMs: ctx.ms(500, 150) };
  ctx.note(`${tokenCount} distinct tokens per algorithm, cycled; ${timing.rounds} interleaved rounds of ${timing.roundMs} ms per case, median kept.`);

  for (const alg of algs) {
    ctx.progress(`${alg}: issuing ${tokenCount} tokens`);
    // One engine issues; the uncached engine shares its store (and so its keys) and secret.
    const secret = new Uint8Array(32).fill(7);
    const store = memoryStore();
    const cached = await benchEngine({ signingAlgorithm: alg, secret, store });
    const uncached = await benchEngine({ signingAlgorithm: alg, secret, store, verifyCacheSize: 0 });
    const tokens = await issueTokens(cached, tokenCount);
    const n = tokens.length;
    const jwk = cached.jwks().keys[0];
    const keyObject = createPublicKey({ key: jwk, format: 'jwk' });
    const joseKey = await importJWK(jwk, alg);
    const pem = keyObject.export({ type: 'spki', format: 'pem' });
    const { digest, dsaEncoding } = RAW[alg];
    const subtleParams = { EdDSA: { name: 'Ed25519' }, ES256: { name: 'ECDSA', hash: 'SHA-256' }, RS256: { name: 'RSASSA-PKCS1-v1_5' } }[alg];
    const subtleKey = await webcrypto.subtle.importKey('jwk', jwk, alg === 'ES256' ? { name: 'ECDSA', namedCurve: 'P-256' } : alg === 'RS256' ? { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' } : { name: 'Ed25519' }, false, ['verify']);
    const encoder = new TextEncoder();
    const subtleVerify = async (input, sig) => {
      if (!(await webcrypto.subtle.verify(subtleParams, subtleKey, Buffer.from(sig, 'base64url'), encoder.encode(input)))) throw new Error('bad signature');
    };
    const rawKey = dsaEncoding ? { key: keyObject, dsaEncoding } : keyObject;

    // The edge verifiers fetch the issuer's JWKS through this in-process fetch: once, then cached.
    const jwksText = JSON.stringify(cached.jwks());
    const edgeOptions = {
      jwksUrl: 'https://issuer.bench/.well-known/jwks.json',
      issuer: ISSUER,
      audience: AUDIENCE,
      revocations: false,
      fetch: async () => new Response(jwksText, { status: 200, headers: { 'content-type': 'application/json' } }),
    };
    const edgeUncached = createEdgeVerifier({ ...edgeOptions, verifyCacheSize: 0 });
    const edgeCached = createEdgeVerifier(edgeOptions);

    let i = 0;
    const next = () => tokens[i++ % n];
    const cases = [
      {
        name: 'node:crypto verify (floor)',
        async: false,
        fn: () => {
          const t = next();
          const dot = t.lastIndexOf('.');
          if (!cryptoVerify(digest, Buffer.from(t.slice(0, dot)), rawKey, Buffer.from(t.slice(dot + 1), 'base64url'))) throw new Error('bad signature');
        },
      },
      {
        // What jose does underneath: the same check through WebCrypto, async. jose's own floor.
        name: 'WebCrypto subtle.verify',
        async: true,
        fn: () => {
          const t = next();
          const dot = t.lastIndexOf('.');
          return subtleVerify(t.slice(0, dot), t.slice(dot + 1));
        },
      },
      { name: 'latchkey (cache off)', async: true, fn: () => uncached.verifyAccessToken(next()) },
      { name: 'latchkey (cache on)', async: true, fn: () => cached.verifyAccessToken(next()) },
      { name: 'latchkey/edge (cache off)', async: true, fn: () => edgeUncached.verify(next()) },
      { name: 'latchkey/edge (cache on)', async: true, fn: () => edgeCached.verify(next()) },
      // Not a one-core figure: WebCrypto work runs on libuv's thread pool, so with many calls in
      // flight (a busy server) the second core takes part. Informational.
      { name: `latchkey (cache off, ${IN_FLIGHT} in flight)`, async: true, concurrency: IN_FLIGHT, fn: () => uncached.verifyAccessToken(next()) },
      {
        name: 'jose jwtVerify',
        async: true,
        fn: () => jwtVerify(next(), joseKey, { issuer: ISSUER, audience: AUDIENCE, typ: 'at+jwt', algorithms: [alg] }),
      },
    ];
    const fastOpts = { key: pem, algorithms: [alg], allowedIss: ISSUER, allowedAud: AUDIENCE };
    try {
      const plain = createVerifier({ ...fastOpts, cache: false });
      const withCache = createVerifier({ ...fastOpts, cache: Math.max(1000, n) });
      plain(tokens[0]);
      cases.push({ name: 'fast-jwt', async: false, fn: () => plain(next()) });
      cases.push({ name: 'fast-jwt (cache on)', async: false, fn: () => withCache(next()) });
    } catch (err) {
      ctx.row({ case: `${alg} fast-jwt`, status: 'skipped', reason: String(err.message ?? err) });
    }
    try {
      jsonwebtoken.verify(tokens[0], pem, { algorithms: [alg], issuer: ISSUER, audience: AUDIENCE });
      cases.push({ name: 'jsonwebtoken', async: false, fn: () => jsonwebtoken.verify(next(), pem, { algorithms: [alg], issuer: ISSUER, audience: AUDIENCE }) });
    } catch (err) {
      ctx.row({ case: `${alg} jsonwebtoken`, status: 'skipped', reason: `jsonwebtoken cannot verify ${alg}: ${err.message}` });
    }

    // Every case must accept every token before it is timed: a fast failure is not a result.
    for (const c of cases) for (let k = 0; k < Math.min(n, 50); k++) await c.fn();

    const results = await compareCases(cases, timing, (text) => ctx.progress(`${alg}: ${text}`));
    const rows = {};
    for (const c of cases) {
      const r = results[c.name];
      rows[c.name] = ctx.row({ case: `${alg} ${c.name}`, metric: 'ops/s', value: r.opsPerSec, p50Ms: r.p50Ms, p99Ms: r.p99Ms, cpuMicrosPerOp: r.cpuMicrosPerOp, group: alg });
    }
    const floor = rows['node:crypto verify (floor)'];
    const jose = rows['jose jwtVerify'];
    for (const name of Object.keys(rows)) {
      if (name === 'node:crypto verify (floor)') continue;
      if (name === 'latchkey (cache off)' || name === 'latchkey (cache on)') compare(rows[name], floor, 0.9, 'node:crypto');
      else compare(rows[name], floor, undefined, 'node:crypto');
    }
    // The edge verifier against the engine, cache for cache (informational: no target).
    for (const mode of ['cache off', 'cache on']) {
      ctx.row(compare({ case: `${alg} latchkey/edge (${mode}) vs engine`, metric: 'ops/s', value: rows[`latchkey/edge (${mode})`].value, group: alg }, rows[`latchkey (${mode})`], undefined, `latchkey (${mode})`));
    }
    // The second target, as its own rows: latchkey against jose on the same tokens.
    for (const name of ['latchkey (cache off)', 'latchkey (cache on)']) {
      ctx.row(compare({ case: `${alg} ${name} vs jose`, metric: 'ops/s', value: rows[name].value, group: alg }, jose, 1, 'jose jwtVerify'));
    }
    await cached.close();
    await uncached.close();
  }
  ctx.note(`jose v6 verifies through WebCrypto (crypto.subtle.verify: async, dispatched to libuv's thread pool and back), so per call it pays a round trip on top of the signature check that node:crypto does synchronously. latchkey verifies and signs with node:crypto's synchronous verify/sign over KeyObjects built once per key (tokens/jws.ts), with jose's jwtVerify as its differential oracle in the tests; "latchkey (cache off)" therefore sits on the node:crypto floor plus the JWT work (split, header and claims parse, claim checks, denylist). "${IN_FLIGHT} in flight" is informational: with a synchronous verifier it measures the same single core.`);
});
