/**
 * Child process: the DPoP bench's load generator. autocannon sends one fixed request, and a DPoP proof
 * is single-use, so this one sends its own: `connections` keep-alive connections, each sending the next
 * request as soon as the last is answered, for `seconds`. With `privateJwk`, every request carries a
 * fresh proof (`htm`, `htu`, `iat`, `jti`, `ath`), all signed before the clock starts: signing is the
 * client's cost, not the server's. Without it, the same loop sends the Bearer token. Replies over IPC with
 * `{ requestsPerSec, p50Ms, p99Ms, total, non2xx, errors, exhausted }` (the shape of lib/load.mjs; a run
 * that used every proof before its time was up stops there and is rated over its own length), then exits.
 */
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import { importJWK, SignJWT } from 'jose';
import { percentile } from './measure.mjs';

process.once('message', async ({ url, token, scheme, privateJwk, publicJwk, proofs: proofCount, connections, seconds }) => {
  try {
    const target = new URL(url);
    const proofs = [];
    if (privateJwk) {
      const key = await importJWK(privateJwk, 'ES256');
      const ath = createHash('sha256').update(token).digest('base64url');
      const iat = Math.floor(Date.now() / 1000);
      for (let i = 0; i < proofCount; i++) {
        proofs.push(
          await new SignJWT({ jti: randomBytes(16).toString('base64url'), htm: 'GET', htu: url, iat, ath })
            .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: publicJwk })
            .sign(key),
        );
      }
    }
    const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
    const base = { 'x-latchkey-mode': 'header', authorization: `${scheme} ${token}` };
    let next = 0;
    let non2xx = 0;
    let errors = 0;
    let exhausted = false;
    const latencies = [];
    const send = () =>
      new Promise((resolve) => {
        let headers = base;
        if (privateJwk) {
          if (next >= proofs.length) {
            exhausted = true;
            return resolve();
          }
          headers = { ...base, dpop: proofs[next++] };
        }
        const t0 = process.hrtime.bigint();
        const req = http.request(
          { host: target.hostname, port: target.port, path: target.pathname, method: 'GET', headers, agent },
          (res) => {
            res.resume();
            res.on('end', () => {
              latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
              if (res.statusCode < 200 || res.statusCode > 299) non2xx++;
              resolve();
            });
          },
        );
        req.on('error', () => {
          errors++;
          resolve();
        });
        req.end();
      });
    const started = Date.now();
    const end = started + seconds * 1000;
    await Promise.all(
      Array.from({ length: connections }, async () => {
        while (Date.now() < end && !exhausted) await send();
      }),
    );
    const elapsed = (Date.now() - started) / 1000;
    agent.destroy();
    latencies.sort((a, b) => a - b);
    process.send(
      {
        ok: true,
        result: {
          requestsPerSec: latencies.length / elapsed,
          p50Ms: percentile(latencies, 50),
          p99Ms: percentile(latencies, 99),
          total: latencies.length,
          non2xx,
          errors,
          // Ran out of pre-signed proofs before the time was up: the rate is over the shorter run.
          exhausted,
        },
      },
      () => process.exit(0),
    );
  } catch (err) {
    process.send({ ok: false, error: String(err?.message ?? err) }, () => process.exit(1));
  }
});
