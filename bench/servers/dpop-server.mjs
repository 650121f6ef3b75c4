/**
 * The DPoP bench's server, in its own process: node:http, latchkey's node adapter, `GET /me` behind
 * `requireSession` in header mode. At start it opens two sessions for the load generator: a Bearer one
 * and one bound to the key whose private JWK the parent passed (the engine checks the sign-in proof as a
 * sign-in route would). Sends `{ ready, port, bearer, bound }` (the two access tokens) over IPC; answers
 * 'cpu-start' / 'cpu-stop' with the process's CPU time and request count in between, as server.mjs does.
 *
 * The engine's clock tolerance is 300 s so that proofs signed before the timed rounds stay inside the
 * `iat` window, and its replay cache holds every proof of the run.
 */
import http from 'node:http';
import { answerCpuProbe } from '../lib/server-cpu.mjs';
import { importJWK, SignJWT } from 'jose';
import { createLatchkey, MemoryReplayCache } from 'latchkey';
import { latchkeyNode } from 'latchkey/adapters/node';
import { memoryStore } from 'latchkey/stores/memory';

const { privateJwk, publicJwk, maxProofs } = JSON.parse(process.argv[2]);
const HOST = '127.0.0.1';

try {
  const engine = await createLatchkey({
    issuer: 'https://bench.latchkey.test',
    store: memoryStore(),
    secret: 'bench-dpop-http-secret-0123456789abcdef',
    timers: false,
    clockTolerance: 300,
    dpop: { replayCache: new MemoryReplayCache({ maxEntries: maxProofs }) },
  });
  const auth = latchkeyNode(engine);
  const served = answerCpuProbe();
  const server = http.createServer(async (req, res) => {
    served();
    const session = await auth.requireSession(req, res);
    if (!session) return;
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ userId: session.userId }));
  });
  const port = await new Promise((resolve) => server.listen(0, HOST, () => resolve(server.address().port)));
  const signInUrl = `http://${HOST}:${port}/signin`;
  const key = await importJWK(privateJwk, 'ES256');
  const proof = await new SignJWT({ jti: 'bench-signin', htm: 'POST', htu: signInUrl, iat: Math.floor(Date.now() / 1000) })
    .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: publicJwk })
    .sign(key);
  const bound = await engine.createSession({ userId: 'bound', dpop: { proof, method: 'POST', url: signInUrl } });
  const bearer = await engine.createSession({ userId: 'bearer' });
  if (bound.tokenType !== 'DPoP' || bearer.tokenType !== 'Bearer') throw new Error('expected one DPoP and one Bearer session');
  process.send({ ready: true, port, bearer: bearer.accessToken, bound: bound.accessToken });
} catch (err) {
  process.send({ ready: false, error: err instanceof Error ? err.stack : String(err) });
  process.exit(1);
}
process.on('disconnect', () => setTimeout(() => process.exit(0), 200));
